//! A hostile instance user, over real ssh, against the host that runs keyfleet: the uid it
//! really has, the kernel settings and namespaces it can reach, links and FIFOs planted in
//! its home for the root server to follow, and a volume broken on purpose. Each test here
//! failed against keyfleet before the fixes it names.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::instances::{TOOLS, create_key, launch, ssh, ssh_ok, ssh_options};
use crate::reset_access;
use crate::support::{Options, TestServer, json, require, run_ok};

/// The one volume of a server with one instance, as the server sees it (with `home/` mounted).
fn only_volume(server: &TestServer) -> PathBuf {
    let volumes: Vec<PathBuf> = std::fs::read_dir(server.seen_by_server(&server.data_dir().join("volumes")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    volumes[0].clone()
}

/// ssh with a bound on how long it may take, so that a server that hangs fails the test
/// instead of hanging it: the exit code, 124 when the bound ran out.
fn bounded_ssh(server: &TestServer, key: &Path, ip: &str, command: &str) -> i32 {
    let status = Command::new("timeout")
        .arg("60")
        .arg("ssh")
        .args(ssh_options(server))
        .args(["-p", &server.ssh_port.to_string(), "-i"])
        .arg(key)
        .arg(format!("ec2-user@{ip}"))
        .arg(command)
        .status()
        .unwrap();
    status.code().unwrap_or(-1)
}

/// The API answers (bounded, as above).
fn api_answers(server: &TestServer) -> bool {
    let mut command = Command::new("timeout");
    command.args(["60", "aws", "--endpoint-url", &server.url, "ec2", "describe-key-pairs"]);
    server.aws_env(&mut command);
    command.output().unwrap().status.success()
}

#[test]
fn the_instance_user_is_not_host_root_and_cannot_reach_the_kernel() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    // Writing core_pattern its own value back proves write access without changing the host.
    let script = r#"touch ~/mine; cp /usr/bin/dash ~/suid && chmod 4755 ~/suid
        touch /tmp/t /var/tmp/t && echo TMP-$((6 * 7))
        (cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern) 2>&1 | grep -c 'Read-only'
        unshare -U true 2>/dev/null && echo NESTED-$((6 * 7))
        python3 -c 'import ctypes, os; nr = {"x86_64": 248, "aarch64": 217}[os.uname().machine]; l = ctypes.CDLL(None, use_errno=True); l.syscall(nr, 0, 0, 0, 0, 0); print("add_key errno", ctypes.get_errno())'
        tr '\0' ' ' < /proc/1/cmdline"#;
    let out = ssh_ok(&server, &key, &ip, script);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("TMP-42"), "/tmp and /var/tmp must be the instance's: {out}");
    assert_eq!(lines.next(), Some("1"), "/proc/sys must be read-only: {out}");
    assert!(!out.contains("NESTED-42"), "nested user namespaces must be off: {out}");
    assert!(out.contains("add_key errno 1\n"), "seccomp must refuse add_key with EPERM: {out}");
    let data_dir = server.data_dir().display().to_string();
    assert!(!out.contains(&data_dir) && !out.contains("/volumes/"), "/proc/1/cmdline shows host paths: {out}");

    let home = only_volume(&server).join("home/ec2-user");
    for name in ["mine", "suid"] {
        let meta = std::fs::metadata(home.join(name)).unwrap();
        assert_ne!(meta.uid(), 0, "{name} is owned by host root");
        assert_ne!(meta.gid(), 0, "{name} is in host root's group");
    }
    let uid = std::fs::metadata(home.join("mine")).unwrap().uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(
        !passwd.lines().any(|l| l.split(':').nth(2) == Some(uid.to_string().as_str())),
        "uid {uid} belongs to a host user"
    );
}

#[test]
fn sudo_is_root_of_the_instance_and_nothing_of_the_host() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    let data_dir = server.data_dir().display().to_string();
    let script = format!(
        r#"sudo sh -c 'id -u; touch ~ec2-user/by-root; cat /proc/self/uid_map'
        sudo ls {data_dir} 2>/dev/null && echo DATA-VISIBLE
        sudo touch /usr/x 2>/dev/null && echo USR-WRITABLE
        sudo mount -t tmpfs none /mnt 2>/dev/null && echo MOUNTED
        sudo unshare -U true 2>/dev/null && echo NESTED
        sudo cat /proc/1/cmdline | tr '\0' ' '; echo
        test -e /run/keyfleet/sudo.sock -o -e /run/keyfleet/imds.sock && echo SOCKET; true"#
    );
    let out = ssh_ok(&server, &key, &ip, &script);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "sudo makes uid 0 inside: {out}");
    let map: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(map, ["0", "0", "1"], "one uid mapped, and only it: {out}");
    assert!(lines.next().is_none_or(|l| l.split_whitespace().count() != 3), "a second uid is mapped: {out}");
    for marker in ["DATA-VISIBLE", "USR-WRITABLE", "MOUNTED", "NESTED"] {
        assert!(!out.contains(marker), "{marker}: {out}");
    }
    assert!(!out.contains(&data_dir) && !out.contains("/volumes/"), "a root sandbox shows host paths: {out}");
    // Only bytes reach the server from an instance in its own network: no Unix socket that
    // could carry descriptors (a passed socket's close can hold a server thread).
    if crate::support::is_root() {
        assert!(!out.contains("SOCKET"), "an instance can pass descriptors to the server: {out}");
    }
    // The namespace's own view of its map says nothing of the host (bwrap nests one more
    // namespace); what root made, as the host sees it, does.
    let made = std::fs::metadata(only_volume(&server).join("home/ec2-user/by-root")).unwrap();
    let theirs = std::fs::metadata(only_volume(&server).join("home/ec2-user")).unwrap();
    assert_ne!(made.uid(), 0, "a file root made inside is host root's");
    assert_eq!((made.uid(), made.gid()), (theirs.uid(), theirs.gid()), "root inside is the instance's own uid");
}

#[test]
fn links_planted_in_a_home_never_lead_the_server_to_host_files() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (id, ip) = launch(&server, "demo");
    // A host file the instance cannot see, holding a key that logs in: following the link
    // would let the instance user read it (a login) and the server append to it (ResetAccess).
    let victim = server.dir.path().join("victim_authorized_keys");
    let public = run_ok("ssh-keygen", &["-y", "-f", key.to_str().unwrap()]);
    std::fs::write(&victim, &public).unwrap();
    ssh_ok(&server, &key, &ip, &format!("ln -sf {} ~/.ssh/authorized_keys", victim.display()));

    assert_eq!(ssh(&server, &key, &ip, "true").status.code(), Some(255), "the link was followed at login");
    let execution = reset_access::start(&server, &id);
    reset_access::wait_for_end(&server, &execution);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), public, "ResetAccess wrote through the link");
}

#[test]
fn a_fifo_or_a_huge_authorized_keys_neither_stalls_nor_floods_the_server() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, fifo_ip) = launch(&server, "demo");
    let (_, sparse_ip) = launch(&server, "demo");
    ssh_ok(&server, &key, &fifo_ip, "cd ~/.ssh && mv authorized_keys keys && mkfifo -m 600 authorized_keys");
    ssh_ok(&server, &key, &sparse_ip, "truncate -s 1G ~/.ssh/authorized_keys");

    assert_eq!(bounded_ssh(&server, &key, &fifo_ip, "true"), 255, "a FIFO must be refused, not waited on");
    assert!(api_answers(&server), "the API hangs behind a FIFO");
    assert_eq!(bounded_ssh(&server, &key, &sparse_ip, "true"), 255, "a 1 GiB file must be refused");
    assert!(server.rss_kib() < 512 * 1024, "the server grew to {} KiB", server.rss_kib());
    assert!(api_answers(&server));
}

#[test]
fn a_forced_command_also_replaces_sftp() {
    if !require(&["sftp"]) || !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    ssh_ok(&server, &key, &ip, r#"sed -i 's/^/command="echo forced" /' ~/.ssh/authorized_keys"#);
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "forced\n");

    let batch = server.dir.path().join("batch");
    std::fs::write(&batch, "put /etc/hostname uploaded\n").unwrap();
    let out = Command::new("sftp")
        .args(ssh_options(&server))
        .args(["-P", &server.ssh_port.to_string(), "-i"])
        .arg(&key)
        .arg("-b")
        .arg(&batch)
        .arg(format!("ec2-user@{ip}"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "sftp ran despite command=");
    assert!(!only_volume(&server).join("home/ec2-user/uploaded").exists());
}

#[test]
fn a_volume_broken_from_inside_fails_no_other_instance_and_not_start_up() {
    if !require(&TOOLS) {
        return;
    }
    let mut server = TestServer::start();
    let key = create_key(&server, "demo");
    let (broken, broken_ip) = launch(&server, "demo");
    let (_, ok_ip) = launch(&server, "demo");
    let out = ssh_ok(
        &server,
        &key,
        &broken_ip,
        "rm -rf ~/.ssh && echo x > ~/.ssh; rm -f /run/keyfleet/imds.sock 2>/dev/null; \
         mkdir /run/keyfleet/imds.sock 2>/dev/null && echo IMDS-DIR-$((6 * 7)); true",
    );
    assert!(!out.contains("IMDS-DIR-42"), "the instance can write where the metadata socket goes");

    server.crash_and_restart();
    assert_eq!(ssh_ok(&server, &key, &ok_ip, "whoami"), "ec2-user\n", "the other instance is served again");
    let state = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {broken}")));
    let name = &state["Reservations"][0]["Instances"][0]["State"]["Name"];
    assert!(name == "running" || name == "stopped", "{state}");
}

/// Names and tags with control characters are refused at the edge: a newline in a key pair
/// name would add a line to the authorized_keys of instances launched with it, and a
/// character XML cannot carry would break every later DescribeKeyPairs of the region.
#[test]
fn control_characters_never_reach_a_name_or_a_tag() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let aws = |args: &[&str]| server.aws_argv_as(&server.admin(), args);
    for name in ["two\nlines", "bell\u{7}", "start\u{1}"] {
        let out = aws(&["ec2", "create-key-pair", "--key-name", name, "--key-type", "ed25519"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("InvalidParameterValue"), "{name:?}: {stderr}");
    }
    let id = json(&server.aws_ok("ec2 create-key-pair --key-name ok --key-type ed25519"))["KeyPairId"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = aws(&["ec2", "create-tags", "--resources", &id, "--tags", r#"[{"Key": "k", "Value": "\u0001"}]"#]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidParameterValue"), "{out:?}");
    let listed = json(&server.aws_ok("ec2 describe-key-pairs"));
    assert_eq!(listed["KeyPairs"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["KeyPairs"][0]["Tags"], serde_json::json!([]), "{listed}");
}

/// An instance's SSH server keeps at most ten unauthenticated connections (sshd's
/// MaxStartups) and closes one that has not authenticated within the login grace time, so
/// silent connections cannot pile up; logins work again once they are gone.
#[test]
fn silent_ssh_connections_are_capped_and_timed_out() {
    use std::io::Read;
    use std::net::TcpStream;
    if !require(&TOOLS) {
        return;
    }
    let options =
        crate::support::Options { args: vec!["--ssh-login-grace-seconds".into(), "2".into()], ..Default::default() };
    let server = TestServer::start_with(options);
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    ssh_ok(&server, &key, &ip, "true");
    let connect = || {
        let stream = TcpStream::connect((ip.as_str(), server.ssh_port)).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        stream
    };
    // Reads until the server closes the connection: its banner, then EOF or a reset (bounded
    // by the read timeout, which fails the test).
    // A signal to the test process (another test's child ending) interrupts a read; that
    // says nothing about the connection, so the read is made again.
    let read = |mut stream: &TcpStream, buf: &mut [u8]| loop {
        match stream.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    };
    let closed = |stream: TcpStream| {
        let mut buf = [0u8; 256];
        loop {
            match read(&stream, &mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    };
    let mut silent: Vec<TcpStream> = (0..10).map(|_| connect()).collect();
    for stream in &mut silent {
        let mut banner = [0u8; 8];
        stream.read_exact(&mut banner).unwrap();
        assert_eq!(&banner, b"SSH-2.0-");
    }
    let eleventh = connect();
    let mut first = [0u8; 8];
    assert!(matches!(read(&eleventh, &mut first), Ok(0)), "an eleventh unauthenticated connection was served");
    for stream in silent {
        if let Err(e) = closed(stream) {
            panic!("a silent connection outlived the login grace time: {e}");
        }
    }
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n");
}

/// The root volume has its size: an instance that fills it gets ENOSPC, as on a full EBS
/// volume, and the host's disk keeps its space. Failed before the fix: `home/` was a host
/// directory and both 5 GiB files fitted on the host.
#[test]
fn a_full_root_volume_fills_itself_and_not_the_host() {
    if !require(&TOOLS) || !require(&["fallocate", "losetup"]) {
        return;
    }
    let mut server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    let fill =
        "df -B1G --output=size /home | tail -1 | tr -d ' '; fallocate -l 5G a && fallocate -l 5G b 2>&1; echo rc=$?";
    let out = ssh_ok(&server, &key, &ip, fill);
    assert!(out.starts_with("8\n"), "the default root volume is 8 GiB: {out}");
    assert!(out.contains("No space left on device") && out.ends_with("rc=1\n"), "an 8 GiB volume took 10 GiB: {out}");

    let run = "ec2 run-instances --image-id ami-keyfleet-linux --key-name demo \
               --block-device-mappings DeviceName=/dev/xvda,Ebs={VolumeSize=20,VolumeType=gp3}";
    let big = json(&server.aws_ok(run));
    let (big_id, big_ip) = (
        big["Instances"][0]["InstanceId"].as_str().unwrap(),
        big["Instances"][0]["PrivateIpAddress"].as_str().unwrap(),
    );
    server.aws_ok(&format!("ec2 wait instance-running --instance-ids {big_id}"));
    let out = ssh_ok(&server, &key, big_ip, fill);
    assert_eq!(out, "20\nrc=0\n", "a 20 GiB volume holds 10 GiB");
    let volume = big["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].as_str().unwrap();
    let by_id = json(&server.aws_ok(&format!("ec2 describe-volumes --volume-ids {volume}")));
    assert_eq!(by_id["Volumes"][0]["Size"], 20, "{by_id}");
    // What boto3's Instance.volumes asks.
    let by_instance = format!("ec2 describe-volumes --filters Name=attachment.instance-id,Values={big_id}");
    let by_instance = json(&server.aws_ok(&by_instance));
    assert_eq!(by_instance["Volumes"].as_array().unwrap().len(), 1, "{by_instance}");
    assert_eq!(by_instance["Volumes"][0]["VolumeId"], volume);

    server.aws_ok(&format!("ec2 stop-instances --instance-ids {big_id}"));
    server.aws_ok(&format!("ec2 wait instance-stopped --instance-ids {big_id}"));
    server.aws_ok(&format!("ec2 start-instances --instance-ids {big_id}"));
    server.aws_ok(&format!("ec2 wait instance-running --instance-ids {big_id}"));
    assert_eq!(ssh_ok(&server, &key, big_ip, "ls"), "a\nb\n", "the volume keeps its files across stop and start");

    // The mounts are the server's alone, and go with it however it ends.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&server.data_dir().display().to_string()), "volumes are mounted on the host: {mounts}");
    let images: Vec<PathBuf> = std::fs::read_dir(server.data_dir().join("volumes"))
        .unwrap()
        .map(|e| e.unwrap().path().join("home.img"))
        .collect();
    let attached = |image: &Path| !run_ok("losetup", &["-j", image.to_str().unwrap()]).trim().is_empty();
    assert!(images.iter().all(|image| attached(image)), "every running instance's volume is attached");
    server.kill();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while images.iter().any(|image| attached(image)) {
        assert!(std::time::Instant::now() < deadline, "loop devices outlived the killed server");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Volumes are thin, so what they may take together is bounded by what the server may
/// promise (`--volume-capacity-gib`): a launch beyond it is refused, a range launches what
/// fits, and a terminated instance gives its volume's share back.
#[test]
fn the_server_promises_no_more_volume_than_its_capacity() {
    if !require(&TOOLS) {
        return;
    }
    let capacity = vec!["--volume-capacity-gib".to_owned(), "20".to_owned()];
    let server = TestServer::start_with(Options { args: capacity, ..Options::default() });
    let run = |count: &str| format!("ec2 run-instances --image-id ami-keyfleet-linux --count {count}");
    server.aws_err(&run("3"), "VolumeLimitExceeded");
    let two = json(&server.aws_ok(&run("1:3")));
    let launched = two["Instances"].as_array().unwrap();
    assert_eq!(launched.len(), 2, "two 8 GiB volumes fit in 20 GiB: {two}");
    server.aws_err(&run("1"), "VolumeLimitExceeded");
    let first = launched[0]["InstanceId"].as_str().unwrap();
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {first}"));
    server.aws_ok(&format!("ec2 wait instance-terminated --instance-ids {first}"));
    server.aws_ok(&run("1"));
}

/// A fork bomb in one instance stops at its own process limit (each instance has a uid of
/// its own, and RLIMIT_NPROC counts per uid): the server and the other instances answer.
#[test]
fn a_fork_bomb_is_held_to_its_own_instance() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, bomb_ip) = launch(&server, "demo");
    let (_, other_ip) = launch(&server, "demo");
    let limits = ssh_ok(&server, &key, &bomb_ip, "ulimit -u; ulimit -v");
    assert_eq!(limits, format!("512\n{}\n", 4u64 << 20), "{limits}");
    // 600 children at once: past the limit fork fails (EAGAIN); then all are killed.
    let bomb = "import os, signal, time\npids, refused = [], 0\nfor _ in range(600):\n    try:\n        pid = os.fork()\n    except OSError:\n        refused += 1\n        continue\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    pids.append(pid)\nprint(refused)\nfor pid in pids:\n    os.kill(pid, signal.SIGKILL)\n";
    let out = ssh(&server, &key, &bomb_ip, &format!("python3 -c '{bomb}'"));
    let refused: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    assert!(refused > 0, "no fork was refused: {}", String::from_utf8_lossy(&out.stdout));
    assert!(api_answers(&server));
    assert_eq!(ssh_ok(&server, &key, &other_ip, "whoami"), "ec2-user\n");
}

/// A session whose command ignores hang-ups and whose client floods its stdin (so the
/// server's write to it blocks), and a root command of it that ignores them too, still end
/// when the instance stops: nothing of the instance's uid runs on the host afterwards.
#[test]
fn stopping_an_instance_ends_every_process_of_it() {
    use std::io::Write;
    if !require(&TOOLS) || !require(&["pgrep"]) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (id, ip) = launch(&server, "demo");
    let mut session = Command::new("ssh")
        .args(ssh_options(&server))
        .args(["-p", &server.ssh_port.to_string(), "-i"])
        .arg(&key)
        .arg(format!("ec2-user@{ip}"))
        .arg("trap '' HUP TERM; sudo sh -c 'trap \"\" HUP TERM; echo root; sleep 600' & echo started; sleep 600")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = std::io::BufReader::new(session.stdout.take().unwrap());
    let mut started = [String::new(), String::new()];
    for line in &mut started {
        std::io::BufRead::read_line(&mut output, line).unwrap();
    }
    started.sort();
    assert_eq!(started, ["root\n", "started\n"], "a root command runs beside the session's");
    let mut stdin = session.stdin.take().unwrap();
    std::thread::spawn(move || while stdin.write_all(&[0u8; 65536]).is_ok() {});
    let uid = std::fs::metadata(only_volume(&server).join("home/ec2-user")).unwrap().uid().to_string();
    let running = || Command::new("pgrep").args(["-u", &uid]).output().unwrap().status.success();
    assert!(running(), "the session's processes run as the instance's uid {uid}");

    server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while running() {
        let tree = Command::new("ps").args(["-eo", "pid,ppid,uid,stat,args", "--forest"]).output().unwrap().stdout;
        let tree = String::from_utf8_lossy(&tree);
        assert!(std::time::Instant::now() < deadline, "processes of uid {uid} outlived the stop:\n{tree}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = session.kill();
    let _ = session.wait();
}

/// The host-side directory of an instance's group for `controller` (cgroup v1), or its one
/// group (cgroup v2): beneath the group the server (this test's child) started in.
fn instance_cgroup(controller: &str, instance_id: &str) -> PathBuf {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let root = Path::new("/sys/fs/cgroup");
    let (mount, path) = if root.join("cgroup.controllers").exists() {
        (root.to_owned(), own.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_owned())
    } else {
        let path = own.lines().find_map(|l| {
            let mut fields = l.splitn(3, ':').skip(1);
            let names = fields.next()?;
            names.split(',').any(|n| n == controller).then(|| fields.next().unwrap().to_owned())
        });
        (root.join(controller), path.unwrap())
    };
    mount.join(path.trim_start_matches('/')).join("keyfleet").join(instance_id)
}

/// A t3.micro has 2 vCPUs and 1 GiB: a process writing 1.5 GiB is killed in its own
/// instance, which stays usable, while the server and the other instances carry on; and the
/// instance's CPU time is two CPUs' worth. The group goes with the instance.
#[test]
fn an_instance_gets_the_memory_and_cpus_of_its_type_and_no_more() {
    if !require(&TOOLS) {
        return;
    }
    if !crate::support::is_root() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root, where instances get cgroups");
        eprintln!("SKIPPED: not root, so instances have no control groups");
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (hog_id, hog_ip) = launch(&server, "demo");
    let (_, other_ip) = launch(&server, "demo");
    let hog = ssh(&server, &key, &hog_ip, r#"python3 -c 'data = b"x" * (1536 << 20); print("ALLOCATED")'"#);
    assert!(!String::from_utf8_lossy(&hog.stdout).contains("ALLOCATED"), "1.5 GiB fit in a t3.micro");
    assert!(!hog.status.success());
    assert!(api_answers(&server));
    assert_eq!(ssh_ok(&server, &key, &other_ip, "whoami"), "ec2-user\n");
    assert_eq!(ssh_ok(&server, &key, &hog_ip, "whoami"), "ec2-user\n");

    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let read = |controller: &str, file: &str| {
        std::fs::read_to_string(instance_cgroup(controller, &hog_id).join(file)).unwrap().trim().to_owned()
    };
    if v2 {
        assert_eq!(read("", "cpu.max"), "200000 100000");
        assert_eq!(read("", "memory.max"), (1u64 << 30).to_string());
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "200000");
        assert_eq!(read("memory", "memory.limit_in_bytes"), (1u64 << 30).to_string());
        assert_eq!(read("pids", "pids.max"), "512");
    }
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {hog_id}"));
    crate::instances::wait_for_state(&server, &hog_id, "terminated");
    let controller = if v2 { "" } else { "memory" };
    assert!(!instance_cgroup(controller, &hog_id).exists(), "the terminated instance's group is left behind");
}

/// A loop asking the metadata service for tokens costs its own oldest token past 1,000, not
/// the server's memory: the first of 1,001 tokens is refused, the last accepted.
#[test]
fn metadata_tokens_are_capped_per_instance() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    let script = "C='curl -s'; U=http://169.254.169.254/latest; \
        TTL='X-aws-ec2-metadata-token-ttl-seconds: 600'; \
        FIRST=$($C -X PUT -H \"$TTL\" $U/api/token); \
        LAST=$($C -X PUT -H \"$TTL\" -w '\\n' $(yes $U/api/token | head -1000) | tail -1); \
        for T in $FIRST $LAST; do $C -o /dev/null -w '%{http_code} ' -H \"X-aws-ec2-metadata-token: $T\" $U/meta-data/instance-id; done";
    let script = script.replace("C='curl -s'", &format!("C='{}'", crate::instances::metadata_curl()));
    assert_eq!(ssh_ok(&server, &key, &ip, &script), "401 200 ");
}

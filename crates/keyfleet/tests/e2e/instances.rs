//! Built-in instances with the real OpenSSH client (`ssh`, `scp`, `sftp`) and the aws CLI:
//! the tutorials' launch-and-login flow, key rotation from inside the shell, EC2's state
//! machine, and the sandbox's walls.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{Options, TestServer, json, require, run_ok};

pub(crate) const TOOLS: [&str; 5] = ["aws", "ssh", "scp", "ssh-keygen", "bwrap"];

/// Options that make `ssh`/`scp`/`sftp` non-interactive and keep host keys per test:
/// `accept-new` records a host key once and then insists on it.
pub(crate) fn ssh_options(server: &TestServer) -> Vec<String> {
    let known_hosts = server.dir.path().join("known_hosts");
    [
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        "ConnectTimeout=10",
        "-o",
        &format!("UserKnownHostsFile={}", known_hosts.display()),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

pub(crate) fn ssh(server: &TestServer, key: &Path, ip: &str, command: &str) -> Output {
    ssh_with_input(server, key, ip, command, None)
}

pub(crate) fn ssh_with_input(server: &TestServer, key: &Path, ip: &str, command: &str, input: Option<&Path>) -> Output {
    let stdin = match input {
        Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
        None => Stdio::null(),
    };
    Command::new("ssh")
        .args(ssh_options(server))
        .args(["-p", &server.ssh_port.to_string(), "-i"])
        .arg(key)
        .arg(format!("ec2-user@{ip}"))
        .arg(command)
        .stdin(stdin)
        .output()
        .unwrap()
}

pub(crate) fn ssh_ok(server: &TestServer, key: &Path, ip: &str, command: &str) -> String {
    let out = ssh(server, key, ip, command);
    assert!(out.status.success(), "ssh {command:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn ssh_refused(server: &TestServer, key: &Path, ip: &str) -> String {
    let out = ssh(server, key, ip, "true");
    assert_eq!(out.status.code(), Some(255), "expected ssh to fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// curl for the metadata service inside an instance: at its address where the instance has a
/// network of its own (keyfleet as root), else on its socket.
pub(crate) fn metadata_curl() -> &'static str {
    if crate::support::is_root() { "curl -s" } else { "curl -s --unix-socket /run/keyfleet/imds.sock" }
}

/// Creates a key pair and saves its private key mode 0400, as the tutorials do.
pub(crate) fn create_key(server: &TestServer, name: &str) -> PathBuf {
    let material = server.aws_ok(&format!("ec2 create-key-pair --key-name {name} --query KeyMaterial --output text"));
    let path = server.dir.path().join(format!("{name}.pem"));
    std::fs::write(&path, material).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    path
}

/// Launches one instance and returns its id and address.
pub(crate) fn launch(server: &TestServer, key_name: &str) -> (String, String) {
    let out = json(&server.aws_ok(&format!(
        "ec2 run-instances --image-id ami-keyfleet-linux --instance-type t3.micro --key-name {key_name}"
    )));
    let instance = &out["Instances"][0];
    assert_eq!(instance["State"], serde_json::json!({"Code": 0, "Name": "pending"}));
    let id = instance["InstanceId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("i-") && id.len() == 19, "{id}");
    (id, instance["PublicIpAddress"].as_str().unwrap().to_owned())
}

/// Polls `describe-instances` on `server` until the instance is in `state` (30 s at most).
pub(crate) fn wait_for_state(server: &TestServer, id: &str, state: &str) {
    for _ in 0..300 {
        if describe(server, id)["State"]["Name"] == state {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{id} never became {state}: {}", describe(server, id));
}

pub(crate) fn describe(server: &TestServer, id: &str) -> serde_json::Value {
    let out = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {id}")));
    out["Reservations"][0]["Instances"][0].clone()
}

#[test]
fn launch_login_delete_key_pair_and_relaunch_as_in_the_tutorials() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (id, ip) = launch(&server, "demo");
    let described = describe(&server, &id);
    assert_eq!(described["State"]["Name"], "running");
    assert_eq!(described["KeyName"], "demo");
    assert_eq!(described["PublicIpAddress"], ip.as_str());
    assert_eq!(described["PrivateIpAddress"], ip.as_str());
    assert!(ip.starts_with("127."), "{ip}");

    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n");
    let public = json(&server.aws_ok("ec2 describe-key-pairs --key-names demo --include-public-key"))["KeyPairs"][0]
        ["PublicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ssh_ok(&server, &key, &ip, "cat ~/.ssh/authorized_keys").trim(), public, "cloud-init's line");
    assert_eq!(ssh_ok(&server, &key, &ip, "stat -c %a ~/.ssh ~/.ssh/authorized_keys"), "700\n600\n");
    assert_eq!(ssh(&server, &key, &ip, "echo out; echo err >&2; exit 7").status.code(), Some(7));

    server.aws_ok("ec2 delete-key-pair --key-name demo");
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n", "deleting a key pair changes no instance");
    assert_eq!(describe(&server, &id)["KeyName"], "demo");
    let stderr = server.aws_err(
        "ec2 run-instances --image-id ami-keyfleet-linux --instance-type t3.micro --key-name demo",
        "InvalidKeyPair.NotFound",
    );
    assert!(stderr.contains("The key pair 'demo' does not exist"), "{stderr}");

    let filtered =
        json(&server.aws_ok(
            "ec2 describe-instances --filters Name=key-name,Values=demo Name=instance-state-name,Values=running",
        ));
    assert_eq!(filtered["Reservations"].as_array().unwrap().len(), 1);
    server.aws_err("ec2 describe-instances --instance-ids i-0123456789abcdef0", "InvalidInstanceID.NotFound");
    server.aws_err("ec2 run-instances --image-id ami-nope --key-name demo", "InvalidAMIID.NotFound");
}

#[test]
fn rotating_keys_from_inside_the_shell_takes_effect_at_the_next_login() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let old = create_key(&server, "old");
    let (_, ip) = launch(&server, "old");
    let new = server.dir.path().join("new");
    run_ok("ssh-keygen", &["-t", "ed25519", "-N", "", "-q", "-f", new.to_str().unwrap()]);

    let appended =
        ssh_with_input(&server, &old, &ip, "cat >> ~/.ssh/authorized_keys", Some(&new.with_extension("pub")));
    assert!(appended.status.success());
    assert_eq!(ssh_ok(&server, &new, &ip, "whoami"), "ec2-user\n");
    ssh_ok(&server, &new, &ip, "sed -i '/ old$/d' ~/.ssh/authorized_keys");
    let refused = ssh_refused(&server, &old, &ip);
    assert!(refused.contains("Permission denied (publickey)"), "{refused}");
    assert_eq!(ssh_ok(&server, &new, &ip, "whoami"), "ec2-user\n");

    // StrictModes: a world-writable authorized_keys is not trusted.
    ssh_ok(&server, &new, &ip, "chmod 666 ~/.ssh/authorized_keys");
    ssh_refused(&server, &new, &ip);
    assert!(server.log().contains("authorized_keys has unsafe permissions"));
    assert!(server.log().contains("result=\"refused\""));
}

#[test]
fn stop_start_terminate_follow_ec2_states() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let (id, ip) = launch(&server, "k");
    ssh_ok(&server, &key, &ip, "echo kept > ~/file");
    let volume = describe(&server, &id)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].as_str().unwrap().to_owned();
    let volumes = json(&server.aws_ok("ec2 describe-volumes"));
    assert_eq!(volumes["Volumes"][0]["Attachments"][0]["InstanceId"], id.as_str());
    assert_eq!(volumes["Volumes"][0]["Attachments"][0]["State"], "attached");

    let stopped = json(&server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}")));
    assert_eq!(
        stopped["StoppingInstances"][0],
        serde_json::json!({"InstanceId": id, "CurrentState": {"Code": 64, "Name": "stopping"}, "PreviousState": {"Code": 16, "Name": "running"}})
    );
    let described = describe(&server, &id);
    assert_eq!(described["State"]["Name"], "stopped");
    assert!(described.get("PublicIpAddress").is_none(), "a stopped instance has no public address");
    ssh_refused(&server, &key, &ip);

    let started = json(&server.aws_ok(&format!("ec2 start-instances --instance-ids {id}")));
    assert_eq!(started["StartingInstances"][0]["CurrentState"], serde_json::json!({"Code": 0, "Name": "pending"}));
    assert_eq!(started["StartingInstances"][0]["PreviousState"], serde_json::json!({"Code": 80, "Name": "stopped"}));
    // Same volume and the same host key: known_hosts (StrictHostKeyChecking) still matches.
    assert_eq!(ssh_ok(&server, &key, &ip, "cat ~/file"), "kept\n");
    server.aws_ok(&format!("ec2 reboot-instances --instance-ids {id}"));
    assert_eq!(ssh_ok(&server, &key, &ip, "cat ~/file"), "kept\n");

    let terminated = json(&server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}")));
    assert_eq!(terminated["TerminatingInstances"][0]["CurrentState"]["Name"], "shutting-down");
    assert_eq!(describe(&server, &id)["State"], serde_json::json!({"Code": 48, "Name": "terminated"}));
    let volume_dir = server.data_dir().join("volumes").join(&volume);
    assert!(!server.seen_by_server(&volume_dir).exists(), "terminate deletes the volume");
    ssh_refused(&server, &key, &ip);
    let again = json(&server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}")));
    assert_eq!(again["TerminatingInstances"][0]["CurrentState"]["Name"], "terminated", "terminate is idempotent");
    let stderr = server.aws_err(&format!("ec2 start-instances --instance-ids {id}"), "IncorrectInstanceState");
    assert!(stderr.contains(&format!("The instance '{id}' is not in a state from which it can be started.")));
}

/// `DeleteOnTermination=false` (at launch, or changed by ModifyInstanceAttribute) keeps the
/// root volume, available and with its tags and data, after the instance is terminated, until
/// DeleteVolume; an attached volume cannot be deleted.
#[test]
fn a_volume_kept_after_termination_stays_until_deleted() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let keep = r#"[{"DeviceName":"/dev/xvda","Ebs":{"DeleteOnTermination":false}}]"#;
    let out = json(&server.aws_ok(&format!(
        "ec2 run-instances --image-id ami-keyfleet-linux --key-name k --block-device-mappings {keep} \
         --tag-specifications ResourceType=volume,Tags=[{{Key=Name,Value=data}}]"
    )));
    let id = out["Instances"][0]["InstanceId"].as_str().unwrap().to_owned();
    let ip = out["Instances"][0]["PublicIpAddress"].as_str().unwrap().to_owned();
    let volume = out["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].as_str().unwrap().to_owned();
    assert_eq!(out["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["DeleteOnTermination"], false);
    wait_for_state(&server, &id, "running");
    ssh_ok(&server, &key, &ip, "echo kept > ~/file");
    let attached = json(&server.aws_ok(&format!("ec2 describe-volumes --volume-ids {volume}")));
    assert_eq!(attached["Volumes"][0]["State"], "in-use");
    assert_eq!(attached["Volumes"][0]["Attachments"][0]["DeleteOnTermination"], false);
    let stderr = server.aws_err(&format!("ec2 delete-volume --volume-id {volume}"), "VolumeInUse");
    assert!(stderr.contains(&format!("Volume {volume} is currently attached to {id}")), "{stderr}");

    // Another instance, switched to keep its volume after launch, then back.
    let (other, _) = launch(&server, "k");
    let other_volume =
        describe(&server, &other)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].as_str().unwrap().to_owned();
    let modify = |delete: bool| {
        server.aws_ok(&format!(
            "ec2 modify-instance-attribute --instance-id {other} --block-device-mappings \
             [{{\"DeviceName\":\"/dev/xvda\",\"Ebs\":{{\"DeleteOnTermination\":{delete}}}}}]"
        ))
    };
    modify(false);
    let mapping = json(
        &server
            .aws_ok(&format!("ec2 describe-instance-attribute --instance-id {other} --attribute blockDeviceMapping")),
    );
    assert_eq!(mapping["BlockDeviceMappings"][0]["Ebs"]["DeleteOnTermination"], false, "{mapping}");
    modify(true);
    server.aws_err(
        &format!(
            "ec2 modify-instance-attribute --instance-id {other} --block-device-mappings \
             [{{\"DeviceName\":\"/dev/sdf\",\"Ebs\":{{\"DeleteOnTermination\":false}}}}]"
        ),
        "InvalidBlockDeviceMapping",
    );

    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id} {other}"));
    wait_for_state(&server, &id, "terminated");
    wait_for_state(&server, &other, "terminated");
    let volume_dir = server.seen_by_server(&server.data_dir().join("volumes").join(&volume));
    // Its data: in its ext4 image (unmounted now) or, without images, in its plain home/.
    let data = volume_dir.join("home.img").exists() || volume_dir.join("home/ec2-user/file").exists();
    assert!(data, "the kept volume keeps its data");
    let kept = json(&server.aws_ok("ec2 describe-volumes"));
    assert_eq!(kept["Volumes"].as_array().map(Vec::len), Some(1), "only the kept volume is left: {kept}");
    assert_eq!(kept["Volumes"][0]["VolumeId"], volume.as_str());
    assert_eq!(kept["Volumes"][0]["State"], "available");
    assert_eq!(kept["Volumes"][0]["Attachments"], serde_json::json!([]));
    assert_eq!(kept["Volumes"][0]["Tags"], serde_json::json!([{"Key": "Name", "Value": "data"}]));
    let available = json(&server.aws_ok("ec2 describe-volumes --filters Name=status,Values=available"));
    assert_eq!(available["Volumes"][0]["VolumeId"], volume.as_str());
    let by_instance =
        json(&server.aws_ok(&format!("ec2 describe-volumes --filters Name=attachment.instance-id,Values={id}")));
    assert_eq!(by_instance["Volumes"], serde_json::json!([]), "a kept volume has no attachment");
    server.aws_err(&format!("ec2 describe-volumes --volume-ids {other_volume}"), "InvalidVolume.NotFound");

    server.aws_ok(&format!("ec2 create-tags --resources {volume} --tags Key=kept,Value=yes"));
    let mapping = json(
        &server.aws_ok(&format!("ec2 describe-instance-attribute --instance-id {id} --attribute blockDeviceMapping")),
    );
    assert_eq!(mapping["BlockDeviceMappings"], serde_json::json!([]), "a terminated instance has no volume attached");
    let late = format!(
        "ec2 modify-instance-attribute --instance-id {id} --block-device-mappings \
         [{{\"DeviceName\":\"/dev/xvda\",\"Ebs\":{{\"DeleteOnTermination\":true}}}}]"
    );
    server.aws_err(&late, "IncorrectInstanceState");
    server.aws_ok(&format!("ec2 delete-volume --volume-id {volume}"));
    assert!(!volume_dir.exists(), "DeleteVolume removes the volume");
    server.aws_err(&format!("ec2 describe-volumes --volume-ids {volume}"), "InvalidVolume.NotFound");
    server.aws_err(&format!("ec2 delete-volume --volume-id {volume}"), "InvalidVolume.NotFound");
    let tags = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=volume"));
    assert_eq!(tags["Tags"], serde_json::json!([]), "a deleted volume's tags go with it");
}

/// A retried RunInstances (same `ClientToken`, as SDKs send on a timeout) answers the first
/// launch instead of launching again; the token with other parameters is refused.
#[test]
fn a_retried_launch_with_its_client_token_launches_once() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.aws_ok("ec2 create-key-pair --key-name k");
    let run = "ec2 run-instances --image-id ami-keyfleet-linux --key-name k --client-token retry-1";
    let first = json(&server.aws_ok(run));
    let again = json(&server.aws_ok(run));
    assert_eq!(first["ReservationId"], again["ReservationId"]);
    assert_eq!(first["Instances"][0]["InstanceId"], again["Instances"][0]["InstanceId"]);
    assert_eq!(again["Instances"][0]["ClientToken"], "retry-1");
    let all = json(&server.aws_ok("ec2 describe-instances"));
    assert_eq!(all["Reservations"].as_array().unwrap().len(), 1, "the retry launched again: {all}");
    server.aws_ok("ec2 create-key-pair --key-name other");
    let other = "ec2 run-instances --image-id ami-keyfleet-linux --key-name other --client-token retry-1";
    server.aws_err(other, "IdempotentParameterMismatch");
}

#[test]
fn scp_sftp_and_pty_sessions_work() {
    if !require(&["aws", "ssh", "scp", "sftp", "sftp-server", "bwrap"]) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let (_, ip) = launch(&server, "k");
    let dir = server.dir.path();
    std::fs::write(dir.join("up.txt"), "payload\n").unwrap();
    let port = server.ssh_port.to_string();
    let scp = |from: &str, to: &str| {
        let out = Command::new("scp")
            .args(ssh_options(&server))
            .args(["-P", &port, "-i", key.to_str().unwrap(), from, to])
            .output()
            .unwrap();
        assert!(out.status.success(), "scp {from} {to}: {}", String::from_utf8_lossy(&out.stderr));
    };
    scp(dir.join("up.txt").to_str().unwrap(), &format!("ec2-user@{ip}:uploaded.txt"));
    assert_eq!(ssh_ok(&server, &key, &ip, "cat ~/uploaded.txt"), "payload\n");
    scp(&format!("ec2-user@{ip}:uploaded.txt"), dir.join("down.txt").to_str().unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("down.txt")).unwrap(), "payload\n");

    std::fs::write(dir.join("batch"), "ls\npwd\n").unwrap();
    let sftp = Command::new("sftp")
        .args(ssh_options(&server))
        .args(["-P", &port, "-i", key.to_str().unwrap(), "-b", dir.join("batch").to_str().unwrap()])
        .arg(format!("ec2-user@{ip}"))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&sftp.stdout);
    assert!(
        sftp.status.success() && listing.contains("uploaded.txt") && listing.contains("/home/ec2-user"),
        "{listing}"
    );

    let tty = Command::new("ssh")
        .args(ssh_options(&server))
        .args(["-tt", "-p", &port, "-i", key.to_str().unwrap()])
        .arg(format!("ec2-user@{ip}"))
        .arg("test -t 0 && test -t 1 && echo TTY; stty size; echo TERM=$TERM")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tty.stdout);
    // bwrap's private /dev shows the session's terminal as /dev/console.
    assert!(text.contains("TTY") && text.contains("24 80"), "a pty was allocated: {text}");
}

#[test]
fn the_sandbox_hides_the_host() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let (_, ip) = launch(&server, "k");
    let data_dir = server.data_dir();
    let probe = format!(
        "ls {} 2>/dev/null && echo DATA-VISIBLE; ls /root 2>/dev/null && echo ROOT-VISIBLE; \
         touch /usr/x 2>/dev/null && echo USR-WRITABLE; cat /proc/net/dev | grep -c : ; id -u; echo done",
        data_dir.display()
    );
    let out = ssh_ok(&server, &key, &ip, &probe);
    assert_eq!(out, "1\n1000\ndone\n", "only lo, ec2-user, no host paths: {out}");
}

#[test]
fn ssh_itself_refuses_a_key_file_others_can_read() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let (_, ip) = launch(&server, "k");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = ssh_refused(&server, &key, &ip);
    assert!(stderr.contains("UNPROTECTED PRIVATE KEY FILE"), "{stderr}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n");
}

#[test]
fn metadata_service_serves_the_launch_key_with_and_without_tokens() {
    if !require(&["aws", "ssh", "bwrap", "curl"]) {
        return;
    }
    let server = TestServer::start_with(Options { args: vec!["--imds-on-host".into()], ..Options::default() });
    let key = create_key(&server, "demo");
    let public = json(&server.aws_ok("ec2 describe-key-pairs --key-names demo --include-public-key"))["KeyPairs"][0]
        ["PublicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let (id, ip) = launch(&server, "demo");
    server.aws_ok("ec2 delete-key-pair --key-name demo");

    // From inside the instance: IMDSv1 and IMDSv2.
    let inside = ssh_ok(
        &server,
        &key,
        &ip,
        &format!(
            "C='{}'; U=http://169.254.169.254/latest; \
             $C $U/meta-data/public-keys/; echo; \
             T=$($C -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' $U/api/token); \
             $C -H \"X-aws-ec2-metadata-token: $T\" $U/meta-data/public-keys/0/openssh-key; echo; \
             $C -o /dev/null -w '%{{http_code}}' -H 'X-aws-ec2-metadata-token: wrong' $U/meta-data/instance-id",
            metadata_curl()
        ),
    );
    assert_eq!(inside, format!("0=demo\n{public}\n401"), "metadata is frozen at launch");
    // Amazon Linux's `ec2-metadata`, which asks with an IMDSv2 token.
    let utils = ssh_ok(&server, &key, &ip, "ec2-metadata -i -u; ec2-metadata --quiet --local-ipv4 -k");
    let keys =
        format!("public-keys: \nkeyname:demo\nindex:0\nformat:openssh-key\nkey:(begins from next line)\n{public}");
    assert_eq!(utils, format!("instance-id: {id}\n{keys}\n{ip}\nnot available\n"));

    // From the host, on the instance's address (port 80 needs root).
    if crate::support::is_root() {
        let get = |path: &str| run_ok("curl", &["-s", &format!("http://{ip}/latest/meta-data/{path}")]);
        assert_eq!(get("instance-id"), id);
        assert_eq!(get("local-ipv4"), ip);
        let missing = run_ok("curl", &["-s", "-w", "%{http_code}", &format!("http://{ip}/latest/meta-data/nope")]);
        assert!(missing.contains("<title>404 - Not Found</title>") && missing.ends_with("404"), "{missing}");
        let no_ttl = run_ok(
            "curl",
            &["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", &format!("http://{ip}/latest/api/token")],
        );
        assert_eq!(no_ttl, "400");
    }

    // HttpTokens=required: no token, no metadata.
    let k2 = create_key(&server, "k2");
    let out = json(&server.aws_ok(
        "ec2 run-instances --image-id ami-keyfleet-linux --key-name k2 --metadata-options HttpTokens=required",
    ));
    assert_eq!(out["Instances"][0]["MetadataOptions"]["HttpTokens"], "required");
    let required_ip = out["Instances"][0]["PublicIpAddress"].as_str().unwrap().to_owned();
    let script = format!(
        "C='{} -o /dev/null -w %{{http_code}}\\n'; U=http://169.254.169.254/latest; \
         $C $U/meta-data/public-keys/; \
         T=$({} -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' $U/api/token); \
         {} -H \"X-aws-ec2-metadata-token: $T\" $U/meta-data/public-keys/; echo; \
         $C -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21601' $U/api/token",
        metadata_curl(),
        metadata_curl(),
        metadata_curl()
    );
    assert_eq!(ssh_ok(&server, &k2, &required_ip, &script), "401\n0=k2\n400\n");
    let all = ssh_ok(&server, &k2, &required_ip, "ec2-metadata");
    assert!(all.contains(&format!("local-ipv4: {required_ip}\n")) && all.contains("placement: us-east-1"), "{all}");
}

#[test]
fn ec2_user_has_passwordless_sudo_as_ansible_calls_it() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (_, ip) = launch(&server, "demo");
    let out = ssh_ok(
        &server,
        &key,
        &ip,
        "sudo -H -S -n -u root /bin/sh -c 'echo BECOME-SUCCESS-x; id -un; echo $HOME $SUDO_USER; pwd'; \
         cd ~ && echo from-root | sudo tee by-root >/dev/null && cat by-root && stat -c %U by-root; \
         sudo sh -c 'exit 7'; echo status=$?; sudo -l | tail -1; \
         sudo -u nobody id 2>&1; echo status=$?; sudo -i pwd; echo hi | sudo -u ec2-user cat",
    );
    assert_eq!(
        out,
        "BECOME-SUCCESS-x\nroot\n/root ec2-user\n/home/ec2-user\nfrom-root\nec2-user\nstatus=7\n    (ALL) NOPASSWD: ALL\n\
         sudo: unknown user nobody\nstatus=1\n/root\nhi\n"
    );
}

#[test]
fn metadata_answers_at_its_link_local_address_inside_the_instance() {
    if !require(&["aws", "ssh", "bwrap", "curl"]) {
        return;
    }
    if !crate::support::is_root() {
        eprintln!("SKIPPED: an instance's own network (169.254.169.254) needs keyfleet to run as root");
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (id, ip) = launch(&server, "demo");
    let out = ssh_ok(
        &server,
        &key,
        &ip,
        "U=http://169.254.169.254/latest; curl -s $U/meta-data/instance-id; echo; \
         T=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' $U/api/token); \
         curl -s -H \"X-aws-ec2-metadata-token: $T\" $U/meta-data/local-ipv4; echo; \
         sudo curl -s $U/meta-data/public-keys/",
    );
    assert_eq!(out, format!("{id}\n{ip}\n0=demo"));
}

#[test]
fn keyfleet_ssh_finds_address_user_and_key_and_insists_on_chmod_400() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (id, _) = launch(&server, "demo");
    let home = server.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // OpenSSH takes known_hosts from the passwd home, not $HOME: point it at the test dir.
    let known_hosts = format!("UserKnownHostsFile={}", server.dir.path().join("known_hosts").display());
    let keyfleet = |args: &[&str]| {
        let mut args = args.to_vec();
        if let Some(dashes) = args.iter().position(|a| *a == "--") {
            args.splice(dashes..dashes, ["-o", known_hosts.as_str()]);
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyfleet"));
        command
            .args(&args)
            .env("AWS_ENDPOINT_URL", &server.url)
            .env("HOME", &home)
            .env("KEYFLEET_KEY_DIR", server.dir.path());
        command.env("KEYFLEET_SSH_PORT", server.ssh_port.to_string()).env("TMPDIR", &home);
        server.aws_env(&mut command);
        command.stdin(Stdio::null()).output().unwrap()
    };
    let listed = keyfleet(&["instances", "ls"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));

    let out = keyfleet(&["ssh", &id, "--", "whoami; exit 5"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ec2-user\n", "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(5), "the remote exit code comes back");

    // `keyfleet connect`: a one-time key through Instance Connect, deleted afterwards.
    let connected = keyfleet(&["connect", &id, "--", "whoami"]);
    assert_eq!(
        String::from_utf8_lossy(&connected.stdout),
        "ec2-user\n",
        "{}",
        String::from_utf8_lossy(&connected.stderr)
    );
    let leftovers = std::fs::read_dir(&home)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("keyfleet-connect-"))
        .count();
    assert_eq!(leftovers, 0, "the one-time key is deleted");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = keyfleet(&["ssh", &id, "--", "true"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains(&format!("chmod 400 {}", key.display())), "{stderr}");

    server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
    let stopped = keyfleet(&["ssh", &id, "--", "true"]);
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("is stopped"));
}

/// Seed 002's `ssh -i demo.pem ec2-user@ec2-….compute-1.amazonaws.com`, and `ssh i-…`, with
/// plain OpenSSH: `keyfleet ssh-config` writes the snippet, its ProxyCommand finds the instance.
#[test]
fn ssh_reaches_instances_by_dns_name_and_id_through_the_ssh_config_snippet() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "demo");
    let (id, _) = launch(&server, "demo");
    let public_dns = describe(&server, &id)["PublicDnsName"].as_str().unwrap().to_owned();
    assert!(public_dns.starts_with("ec2-") && public_dns.ends_with(".compute-1.amazonaws.com"), "{public_dns}");
    let mut config = Command::new(env!("CARGO_BIN_EXE_keyfleet"));
    config.args(["ssh-config", "--endpoint-url", &server.url, "--port", &server.ssh_port.to_string()]);
    server.aws_env(&mut config);
    let snippet = config.output().unwrap();
    assert!(snippet.status.success(), "{}", String::from_utf8_lossy(&snippet.stderr));
    let snippet = String::from_utf8(snippet.stdout).unwrap();
    assert!(snippet.contains("ProxyCommand ") && snippet.contains(" proxy --profile"), "{snippet}");
    let file = server.dir.path().join("ssh_config");
    std::fs::write(&file, &snippet).unwrap();
    let known_hosts = format!("UserKnownHostsFile={}", server.dir.path().join("known_hosts").display());
    let ssh = |destination: &str| {
        let mut command = Command::new("ssh");
        command.arg("-F").arg(&file).args(["-o", &known_hosts, "-o", "BatchMode=yes", "-i"]).arg(&key);
        command.args([destination, "hostname; whoami"]);
        server.aws_env(&mut command);
        command.stdin(Stdio::null()).output().unwrap()
    };
    for destination in [format!("ec2-user@{public_dns}"), id.clone()] {
        let out = ssh(&destination);
        assert!(out.status.success(), "{destination}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.ends_with("ec2-user\n") && text.starts_with("ip-"), "{destination}: {text}");
    }
    let unknown = ssh("i-0123456789abcdef0");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("InvalidInstanceID.NotFound"), "{unknown:?}");
}

#[test]
fn fifty_instances_run_at_once() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "fleet");
    let idle = server.rss_kib();
    let out =
        json(&server.aws_ok(
            "ec2 run-instances --image-id ami-keyfleet-linux --key-name fleet --count 50 --instance-type t3.nano",
        ));
    let instances = out["Instances"].as_array().unwrap();
    assert_eq!(instances.len(), 50);
    let running = json(&server.aws_ok(
        "ec2 describe-instances --filters Name=instance-state-name,Values=running --query Reservations[].Instances[].PublicIpAddress",
    ));
    let addresses: std::collections::HashSet<&str> =
        running.as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(addresses.len(), 50, "fifty distinct addresses");
    for instance in [&instances[0], &instances[49]] {
        let ip = instance["PublicIpAddress"].as_str().unwrap();
        let private_dns = instance["PrivateDnsName"].as_str().unwrap();
        assert!(private_dns.ends_with(".ec2.internal"), "{private_dns}");
        let short = format!("ip-{}", ip.replace('.', "-"));
        assert_eq!(ssh_ok(&server, &key, ip, "hostname; hostname -s"), format!("{private_dns}\n{short}\n"));
    }
    // Reported, not asserted: memory depends on the allocator and the machine.
    let per_instance = server.rss_kib().saturating_sub(idle) / 50;
    eprintln!("server RSS: {idle} KiB idle, +{per_instance} KiB per running instance");
}

#[test]
fn only_public_keys_authenticate() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let (_, ip) = launch(&server, "k");
    let out = Command::new("ssh")
        .args(ssh_options(&server))
        .args(["-p", &server.ssh_port.to_string(), "-o", "PreferredAuthentications=password,keyboard-interactive"])
        .arg(format!("ec2-user@{ip}"))
        .arg("true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied (publickey)"));
    // Options on the key line are honoured: a from= that excludes us locks us out.
    ssh_ok(&server, &key, &ip, "sed -i 's/^/from=\"10.9.9.9\" /' ~/.ssh/authorized_keys");
    ssh_refused(&server, &key, &ip);
}

#[test]
fn without_a_sandbox_shells_are_refused_not_run_on_the_host() {
    if !require(&["aws", "ssh"]) {
        return;
    }
    let env = vec![("KEYFLEET_BWRAP", "/nonexistent/bwrap".to_owned())];
    let server = TestServer::start_with(crate::support::Options { env, ..Default::default() });
    let key = create_key(&server, "k");
    let (_, ip) = launch(&server, "k");
    let out = ssh(&server, &key, &ip, "touch /tmp/escaped");
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot sandbox instance shells"));
    assert!(!Path::new("/tmp/escaped").exists());
}

#[test]
fn pty_follows_window_changes() {
    if !require(&["aws", "ssh", "bwrap", "python3"]) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "k");
    let (_, ip) = launch(&server, "k");
    // Record the host key first: the pty run must not stop at a prompt.
    ssh_ok(&server, &key, &ip, "true");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/pty_resize.py");
    let mut args: Vec<String> = vec![script.display().to_string()];
    args.extend(ssh_options(&server));
    args.extend([
        "-p".into(),
        server.ssh_port.to_string(),
        "-i".into(),
        key.display().to_string(),
        format!("ec2-user@{ip}"),
    ]);
    let out = Command::new("python3").args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("30 100") && text.contains("40 120"), "stty size before and after the resize: {text}");
}

#[test]
fn instance_connect_keys_work_for_their_window_and_sessions_outlive_it() {
    if !require(&TOOLS) {
        return;
    }
    const TTL_SECONDS: u64 = 8;
    let args = vec!["--instance-connect-ttl".to_owned(), TTL_SECONDS.to_string()];
    let server = TestServer::start_with(crate::support::Options { args, ..Default::default() });
    create_key(&server, "launch");
    let (id, ip) = launch(&server, "launch");
    let eph = server.dir.path().join("eph");
    run_ok("ssh-keygen", &["-t", "ed25519", "-f", eph.to_str().unwrap(), "-N", "", "-q"]);
    ssh_refused(&server, &eph, &ip);

    let pushed = json(&server.aws_ok(&format!(
        "ec2-instance-connect send-ssh-public-key --instance-id {id} --instance-os-user ec2-user --ssh-public-key file://{}.pub",
        eph.display()
    )));
    // The server started the window before the CLI returned, so the window has surely
    // closed TTL + 1 s after this point.
    let pushed_at = std::time::Instant::now();
    assert_eq!(pushed["Success"], true);
    assert_eq!(ssh_ok(&server, &eph, &ip, "whoami"), "ec2-user\n");
    // A session opened inside the window outlives it.
    let long = {
        let (port, ip, eph) = (server.ssh_port.to_string(), ip.clone(), eph.clone());
        let options = ssh_options(&server);
        let wait = TTL_SECONDS + 2;
        std::thread::spawn(move || {
            Command::new("ssh")
                .args(options)
                .args(["-p", &port, "-i"])
                .arg(&eph)
                .arg(format!("ec2-user@{ip}"))
                .arg(format!("sleep {wait}; echo still-here"))
                .stdin(Stdio::null())
                .output()
                .unwrap()
        })
    };
    let remaining = std::time::Duration::from_secs(TTL_SECONDS + 1).saturating_sub(pushed_at.elapsed());
    std::thread::sleep(remaining);
    ssh_refused(&server, &eph, &ip);
    assert_eq!(String::from_utf8_lossy(&long.join().unwrap().stdout), "still-here\n");

    let stderr = server.aws_err(
        &format!("ec2-instance-connect send-ssh-public-key --instance-id i-0123456789abcdef0 --instance-os-user ec2-user --ssh-public-key file://{}.pub", eph.display()),
        "EC2InstanceNotFoundException",
    );
    assert!(stderr.contains("The specified instance was not found."));
    server.aws_err(
        &format!("ec2-instance-connect send-ssh-public-key --instance-id mi-0123456789abcdef0 --instance-os-user ec2-user --ssh-public-key file://{}.pub", eph.display()),
        "InvalidArgsException",
    );
    let small = server.dir.path().join("small");
    run_ok("ssh-keygen", &["-t", "rsa", "-b", "1024", "-f", small.to_str().unwrap(), "-N", "", "-q"]);
    let stderr = server.aws_err(
        &format!("ec2-instance-connect send-ssh-public-key --instance-id {id} --instance-os-user ec2-user --ssh-public-key file://{}.pub", small.display()),
        "InvalidArgsException",
    );
    assert!(stderr.contains("RSA - SSH Public key is invalid"), "{stderr}");
    server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
    server.aws_err(
        &format!("ec2-instance-connect send-ssh-public-key --instance-id {id} --instance-os-user ec2-user --ssh-public-key file://{}.pub", eph.display()),
        "EC2InstanceStateInvalidException",
    );
}

#[test]
fn ssh_logins_accepted_and_refused_are_audited_with_fingerprints() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "audited");
    let (id, ip) = launch(&server, "audited");
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n");
    let stranger = server.dir.path().join("stranger");
    run_ok("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", stranger.to_str().unwrap()]);
    ssh_refused(&server, &stranger, &ip);
    let fingerprint = |path: &Path| {
        let out = run_ok("ssh-keygen", &["-l", "-E", "sha256", "-f", path.to_str().unwrap()]);
        out.split_whitespace().nth(1).unwrap().to_owned()
    };
    let (good, bad) = (fingerprint(&key), fingerprint(&stranger));

    // SSH records are written behind the login; wait until both are there.
    let lookup = format!("cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue={id}");
    let mut logins = Vec::new();
    for _ in 0..100 {
        let events = json(&server.aws_ok(&lookup));
        logins = events["Events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["EventName"] == "SSHAuthentication")
            .map(|e| json(e["CloudTrailEvent"].as_str().unwrap())["additionalEventData"].clone())
            .collect::<Vec<_>>();
        if logins.iter().any(|l| l["fingerprint"] == bad.as_str()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let accepted = logins.iter().find(|l| l["result"] == "Accepted").expect("the accepted login is recorded");
    assert_eq!(accepted["fingerprint"], good.as_str());
    assert_eq!(accepted["keyPairName"], "audited", "{accepted}");
    assert_eq!(accepted["osUser"], "ec2-user");
    let refused = logins.iter().find(|l| l["fingerprint"] == bad.as_str()).expect("the refused login is recorded");
    assert_eq!(refused["result"], "Refused");
    assert_eq!(refused["keyPairName"], serde_json::Value::Null);

    // keyfleet audit shows the same, by instance and by key pair.
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyfleet"));
    command.args(["audit", "--instance", &id, "--endpoint-url", &server.url]);
    server.aws_env(&mut command);
    let out = command.output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains(&good) && table.contains(&bad), "{table}");
    assert!(table.contains("AuthenticationRefused") && table.contains("RunInstances"), "{table}");
}

/// Instances take tags after launch as key pairs do, and DescribeInstances pages as EC2's
/// does (MaxResults 5–1000 and NextToken, not with InstanceIds).
#[test]
fn instances_take_tags_and_describe_pages() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let out = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --count 7"));
    let ids: Vec<String> =
        out["Instances"].as_array().unwrap().iter().map(|i| i["InstanceId"].as_str().unwrap().to_owned()).collect();
    server.aws_ok(&format!("ec2 create-tags --resources {} --tags Key=team,Value=blue", ids[0]));
    assert_eq!(describe(&server, &ids[0])["Tags"], serde_json::json!([{"Key": "team", "Value": "blue"}]));
    let tags = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=instance"));
    assert_eq!(tags["Tags"][0]["ResourceId"], ids[0].as_str(), "{tags}");
    server.aws_ok(&format!("ec2 delete-tags --resources {} --tags Key=team", ids[0]));
    assert_eq!(describe(&server, &ids[0])["Tags"], serde_json::Value::Null);
    server
        .aws_err("ec2 create-tags --resources i-0123456789abcdef0 --tags Key=a,Value=b", "InvalidInstanceID.NotFound");

    let count = |page: &serde_json::Value| {
        page["Reservations"].as_array().unwrap().iter().map(|r| r["Instances"].as_array().unwrap().len()).sum::<usize>()
    };
    let first = json(&server.aws_ok("ec2 describe-instances --no-paginate --max-results 5"));
    assert_eq!(count(&first), 5, "{first}");
    let token = first["NextToken"].as_str().unwrap();
    let second =
        json(&server.aws_ok(&format!("ec2 describe-instances --no-paginate --max-results 5 --next-token {token}")));
    assert_eq!(count(&second), 2, "{second}");
    assert!(second.get("NextToken").is_none(), "{second}");
    server.aws_err("ec2 describe-instances --no-paginate --max-results 3", "InvalidParameterValue");
    server.aws_err(
        &format!("ec2 describe-instances --no-paginate --max-results 5 --instance-ids {}", ids[0]),
        "InvalidParameterCombination",
    );
}

/// `--dev`'s reset takes the instances with it: their SSH servers let go of their addresses,
/// so the next RunInstances, which gets the same address, launches as usual.
#[test]
fn a_dev_reset_frees_the_instances_addresses() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::dev();
    let before = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux"));
    let reset = ureq::post(format!("{}/moto-api/reset", server.url)).send("").unwrap();
    assert_eq!(reset.status().as_u16(), 200);
    assert_eq!(json(&server.aws_ok("ec2 describe-instances"))["Reservations"], serde_json::json!([]));
    let after = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux"));
    assert_eq!(after["Instances"][0]["PrivateIpAddress"], before["Instances"][0]["PrivateIpAddress"]);
    let id = after["Instances"][0]["InstanceId"].as_str().unwrap();
    assert_eq!(describe(&server, id)["State"]["Name"], "running");
}

/// Without `--imds-on-host` an instance's metadata (user data included) is not served on
/// its address to the host's users: only inside the instance.
#[test]
fn metadata_is_not_served_to_the_host_unless_asked_for() {
    if !require(&["aws", "curl"]) {
        return;
    }
    let server = TestServer::start();
    let out = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --user-data secret"));
    let ip = out["Instances"][0]["PrivateIpAddress"].as_str().unwrap().to_owned();
    let id = out["Instances"][0]["InstanceId"].as_str().unwrap().to_owned();
    assert_eq!(describe(&server, &id)["State"]["Name"], "running");
    let status = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10", &format!("http://{ip}/latest/user-data")])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7), "curl must fail to connect (exit 7)");
}

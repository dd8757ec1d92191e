//! The sandbox every instance shell and command runs in: bubblewrap (a child process)
//! with new user, pid, ipc, uts and network namespaces. Inside, the instance's volume is
//! `/home`, the host's `/usr` is read-only, the user is `ec2-user` (uid 1000), and no other
//! host path is visible. Without a working bwrap, keyfleet refuses shells instead of
//! running anything on the host.
//!
//! The walls, and why each is there:
//! - When keyfleet runs as root, bwrap does not: it runs as the instance's own host uid
//!   ([`host_uid`]), so uid 1000 inside is that unprivileged uid outside. Nothing inside maps
//!   to host root; files an instance creates belong to its uid, and a setuid bit on them
//!   is worth nothing on the host.
//! - `/proc/sys` is read-only and nested user namespaces are off (`--disable-userns`), so
//!   the instance cannot regain capabilities in a namespace of its own.
//! - A seccomp filter ([`SYSCALLS_REFUSED`]) refuses with EPERM the system calls an instance
//!   has no use for: mounts, namespaces, kernel modules, keyrings, BPF, ptrace, io_uring and
//!   the terminal-injecting `ioctl(TIOCSTI)`.
//! - bwrap takes its options from a memfd (`--args`), and when keyfleet is root the bwrap
//!   with host paths runs outside the instance's pid namespace: `/proc/1/cmdline` inside
//!   shows no host path.

use std::io::{Seek, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The uid and gid of `ec2-user` inside the sandbox.
pub const EC2_USER_UID: u32 = 1000;

/// The first host uid instances run as when keyfleet is root: one per instance address,
/// `HOST_UID_BASE + the address's low 16 bits`, a block no distribution hands out.
pub const HOST_UID_BASE: u32 = 0x6b66_0000;

/// The host uid an instance's user runs as: its own unprivileged uid when keyfleet is root,
/// otherwise keyfleet's own uid (which is not root either).
pub fn host_uid(address: Ipv4Addr) -> u32 {
    match rustix::process::geteuid() {
        uid if uid.is_root() => HOST_UID_BASE + (u32::from(address) & 0xffff),
        uid => uid.as_raw(),
    }
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nec2-user:x:1000:1000:EC2 Default User:/home/ec2-user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nec2-user:x:1000:\nnogroup:x:65534:\n";

/// Host `/etc` entries a login shell needs; each is bound read-only if it exists.
const HOST_ETC: [&str; 11] = [
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "bash.bashrc",
    "profile",
    "profile.d",
    "inputrc",
    "terminfo",
    "localtime",
    "nsswitch.conf",
];

/// A usable bubblewrap, found and tried once at start-up.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    /// The compiled seccomp filter, as bwrap's `--seccomp` reads it.
    seccomp: std::sync::Arc<Vec<u8>>,
    /// keyfleet's own executable, the instance's `sudo` ([`super::sudo`]) and
    /// `ec2-metadata` ([`super::ec2_metadata`]); without it an instance has neither.
    sudo: Option<PathBuf>,
}

/// Who a sandbox's processes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxUser {
    /// `ec2-user` (uid 1000): logins and commands.
    Ec2User,
    /// uid 0, through `sudo`: the same host uid as ec2-user, in a sandbox of its own.
    Root,
}

impl SandboxUser {
    fn uid(self) -> u32 {
        match self {
            SandboxUser::Ec2User => EC2_USER_UID,
            SandboxUser::Root => 0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SandboxUser::Ec2User => "ec2-user",
            SandboxUser::Root => "root",
        }
    }

    fn home(self) -> &'static str {
        match self {
            SandboxUser::Ec2User => "/home/ec2-user",
            SandboxUser::Root => "/root",
        }
    }
}

/// Why there is no sandbox.
#[derive(Debug, thiserror::Error)]
#[error("no usable sandbox: {0} (install bubblewrap: apt-get install bubblewrap)")]
pub struct Unavailable(pub String);

/// What to run inside.
pub struct Launch<'a> {
    /// The volume's root: its `home/` becomes `/home` and its `imds/` `/run/keyfleet`.
    pub volume: &'a Path,
    /// The hostname (`ip-127-77-0-2.ec2.internal`).
    pub hostname: &'a str,
    /// The host uid to run as (see [`host_uid`]).
    pub uid: u32,
    /// Who runs inside.
    pub user: SandboxUser,
    /// `None`: a login shell; `Some(c)`: `bash -c c`.
    pub command: Option<&'a str>,
    /// `TERM` when a pty was requested.
    pub term: Option<&'a str>,
    /// The instance's control group, joined before anything else runs (root only).
    pub cgroup: Option<&'a super::cgroup::Group>,
    /// The instance's network namespace (root only); without one, each launch has a
    /// loopback of its own.
    pub network: Option<&'a super::netns::NetworkNamespace>,
}

impl Sandbox {
    /// Finds bwrap (`$KEYFLEET_BWRAP`, else the system's) and checks that it can make the
    /// namespaces here, as an unprivileged uid when keyfleet is root.
    pub async fn probe() -> Result<Self, Unavailable> {
        let configured = std::env::var_os("KEYFLEET_BWRAP").map(PathBuf::from);
        let bwrap = match configured {
            Some(path) => path,
            None => ["/usr/bin/bwrap", "/bin/bwrap"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .ok_or_else(|| Unavailable("bwrap not found".into()))?,
        };
        let seccomp = std::sync::Arc::new(seccomp_filter().map_err(Unavailable)?);
        if rustix::process::geteuid().is_root() {
            if let Some(missing) = [SETPRIV, PRLIMIT, NICE].into_iter().find(|p| !Path::new(p).exists()) {
                return Err(Unavailable(format!("{missing} not found (apt-get install util-linux coreutils)")));
            }
        } else {
            tracing::warn!("not root: instances share keyfleet's uid, so no per-instance process or memory limits");
        }
        let uid = host_uid(Ipv4Addr::UNSPECIFIED);
        let output = tokio::process::Command::new(&bwrap)
            .args(["--unshare-all", "--unshare-user", "--disable-userns", "--ro-bind", "/usr", "/usr"])
            .args(["--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"])
            .args(["--symlink", "usr/lib64", "/lib64", "--die-with-parent", "/bin/true"])
            .uid(uid)
            .gid(uid)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| Unavailable(e.to_string()))?;
        if !output.status.success() {
            let why = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(Unavailable(format!("{why} (unprivileged user namespaces must be enabled)")));
        }
        Ok(Sandbox { bwrap, seccomp, sudo: None })
    }

    /// Gives instances `sudo`: `program` is keyfleet's own executable.
    pub fn with_sudo(self, program: PathBuf) -> Self {
        Sandbox { sudo: Some(program), ..self }
    }

    /// Whether instances have `sudo`.
    pub fn has_sudo(&self) -> bool {
        self.sudo.is_some()
    }

    /// Starts a launch with piped standard streams.
    pub fn spawn_piped(&self, launch: &Launch<'_>) -> std::io::Result<tokio::process::Child> {
        self.spawn(launch, true, |program, args| {
            tokio::process::Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
        })
    }

    /// Starts a launch on a new terminal of `size`. The terminal is opened under the spawn
    /// lock too: its master is inheritable for a moment, and no other sandbox may get it.
    pub fn spawn_pty(
        &self,
        launch: &Launch<'_>,
        size: pty_process::Size,
    ) -> std::io::Result<(pty_process::Pty, tokio::process::Child)> {
        self.spawn(launch, false, |program, args| {
            let (pty, pts) = pty_process::open().map_err(std::io::Error::other)?;
            pty.resize(size).map_err(std::io::Error::other)?;
            let child = pty_process::Command::new(program)
                .args(args)
                .kill_on_drop(true)
                .spawn(pts)
                .map_err(std::io::Error::other)?;
            Ok((pty, child))
        })
    }

    /// Builds the command line and spawns it. The seccomp filter, passwd, group and the first
    /// bwrap's options travel in memfds that the child inherits: a lock keeps any other
    /// sandbox from being spawned (and inheriting them) until they are closed here.
    ///
    /// As root there are two bwraps. The first runs as root in a mount namespace of its own
    /// and only assembles the instance's view: root can reach the volume through the
    /// (0700) data dir, where an unprivileged uid cannot. It then runs `setpriv`, which drops
    /// to the instance's uid with no capabilities, and a second bwrap, which makes the user
    /// (1000 = that uid), pid, network, ipc and uts namespaces and loads the filter. Not as
    /// root, one unprivileged bwrap does both.
    fn spawn<T>(
        &self,
        launch: &Launch<'_>,
        new_session: bool,
        start: impl FnOnce(&Path, Vec<String>) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _spawning = SPAWNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let filter = inheritable_memfd("keyfleet-seccomp", &self.seccomp)?;
        let passwd = inheritable_memfd("keyfleet-passwd", PASSWD.as_bytes())?;
        let group = inheritable_memfd("keyfleet-group", GROUP.as_bytes())?;
        let view = view(launch.volume, passwd.as_raw_fd(), group.as_raw_fd(), self.sudo.as_deref());
        let isolation = isolation(launch, new_session, filter.as_raw_fd());
        let (first, mut rest) = if rustix::process::geteuid().is_root() {
            let mut outer = view;
            // The inner bwrap may mount a proc of its own only where a full one is visible
            // with the same mount flags: the host's, bound here and gone after its pivot.
            outer.extend(["--bind", "/proc", "/proc", "--dev", "/dev", "--die-with-parent"].map(String::from));
            // The inner bwrap's parent-death signal does not survive setpriv's change of uid;
            // a pid namespace does: when the outer bwrap goes, the kernel ends all inside it.
            outer.push("--unshare-pid".into());
            let uid = launch.uid.to_string();
            let mut inner: Vec<String> = ["--", SETPRIV, "--reuid", &uid, "--regid", &uid, "--clear-groups"]
                .into_iter()
                .chain(["--no-new-privs", "--"])
                .map(str::to_owned)
                .collect();
            inner.extend(resource_limits());
            inner.extend([self.bwrap.display().to_string(), "--bind".into(), "/".into(), "/".into()]);
            inner.extend(isolation);
            (outer, inner)
        } else {
            let mut single = view;
            single.extend(isolation);
            (single, Vec::new())
        };
        let mut packed = Vec::new();
        for option in &first {
            packed.extend_from_slice(option.as_bytes());
            packed.push(0);
        }
        let options = inheritable_memfd("keyfleet-args", &packed)?;
        // bwrap reads only options from `--args`; what it runs follows on its command line.
        let mut args = vec!["--args".to_owned(), options.as_raw_fd().to_string()];
        args.append(&mut rest);
        args.extend(["--".into(), "/bin/bash".into()]);
        match launch.command {
            Some(command) => args.extend(["-c".into(), command.to_owned()]),
            None => args.push("-l".into()),
        }
        let (program, mut args) = match launch.cgroup {
            Some(group) => {
                let mut joined: Vec<String> = ["-c", JOIN_CGROUP, "keyfleet-cgroup"].map(String::from).into();
                joined.extend(group.procs_files().map(|f| f.display().to_string()));
                joined.extend(["--".to_owned(), self.bwrap.display().to_string()]);
                joined.append(&mut args);
                (Path::new("/bin/sh"), joined)
            }
            None => (self.bwrap.as_path(), args),
        };
        let started = match launch.network {
            Some(namespace) => {
                let (enter, mut entered) = namespace.enter();
                entered.push(program.display().to_string());
                entered.append(&mut args);
                start(enter, entered)
            }
            None => start(program, args),
        };
        drop((filter, passwd, group, options));
        started
    }
}

/// Writes its own pid into each file up to `--`, then becomes the rest: the sandbox is in the
/// instance's groups before its first fork, so no process of it is ever outside them.
const JOIN_CGROUP: &str = r#"while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@""#;

/// Every shell's `PATH`: Amazon Linux's, after keyfleet's own `sudo`.
const PATH: &str = "/opt/keyfleet/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// The size of each of an instance's `/tmp` and `/var/tmp` (memory-backed).
const TMP_BYTES: &str = "268435456";

/// `setpriv` (util-linux) drops from root to the instance's uid between the two bwraps.
const SETPRIV: &str = "/usr/bin/setpriv";
/// `prlimit` and `nice` (util-linux, coreutils) set an instance's limits after the drop.
const PRLIMIT: &str = "/usr/bin/prlimit";
const NICE: &str = "/usr/bin/nice";

/// Processes of one instance at once. The kernel counts RLIMIT_NPROC per real uid, and each
/// instance has a uid of its own: a fork bomb stops at this, in its own instance.
pub const MAX_PROCESSES: u32 = 512;
/// Address space of one process of an instance.
pub const MAX_PROCESS_BYTES: u64 = 4 << 30;
/// Open files of one process of an instance.
pub const MAX_OPEN_FILES: u32 = 4096;
/// The largest file an instance's process may write (the default root volume's 8 GiB).
pub const MAX_FILE_BYTES: u64 = 8 << 30;

/// The command prefix that gives an instance's shells their limits and a lower CPU priority
/// than the server's. It runs as the instance's uid, so the process limit is that uid's.
fn resource_limits() -> Vec<String> {
    let both = |v: u64| format!("{v}:{v}");
    vec![
        NICE.into(),
        "-n".into(),
        "10".into(),
        PRLIMIT.into(),
        format!("--nproc={}", both(u64::from(MAX_PROCESSES))),
        format!("--as={}", both(MAX_PROCESS_BYTES)),
        format!("--nofile={}", both(u64::from(MAX_OPEN_FILES))),
        format!("--fsize={}", both(MAX_FILE_BYTES)),
        "--".into(),
    ]
}

/// The mounts that make an instance's file system: the host's `/usr` and a few `/etc`
/// entries read-only, the volume's `home/` as `/home`, its `imds/` as `/run/keyfleet`.
fn view(volume: &Path, passwd_fd: i32, group_fd: i32, sudo: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--dir",
        "/tmp",
        "--dir",
        "/var/tmp",
        // Directories bwrap makes on the way to a bind are 0700: root's, to the instance.
        "--dir",
        "/etc",
        "--dir",
        "/run",
        // Root's home: unreadable to ec2-user, and a memory-backed one for root (isolation).
        "--perms",
        "0700",
        "--dir",
        "/root",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for entry in HOST_ETC {
        let host = Path::new("/etc").join(entry);
        if host.exists() {
            args.extend(["--ro-bind".into(), host.display().to_string(), host.display().to_string()]);
        }
    }
    let volume = volume.display();
    args.extend([
        // bwrap makes data files 0600, and root's when the outer bwrap writes them.
        "--perms".into(),
        "0644".into(),
        "--ro-bind-data".into(),
        passwd_fd.to_string(),
        "/etc/passwd".into(),
        "--perms".into(),
        "0644".into(),
        "--ro-bind-data".into(),
        group_fd.to_string(),
        "/etc/group".into(),
        "--bind".into(),
        format!("{volume}/home"),
        "/home".into(),
        "--bind".into(),
        format!("{volume}/imds"),
        "/run/keyfleet".into(),
    ]);
    // Gone since start-up (an upgrade moved it): shells go on, without sudo.
    if let Some(program) = sudo.filter(|p| p.exists()) {
        for dir in ["/opt", "/opt/keyfleet", "/opt/keyfleet/bin"] {
            args.extend(["--perms", "0755", "--dir", dir].map(str::to_owned));
        }
        for path in [super::sudo::SUDO_PATH, super::ec2_metadata::PATH] {
            args.extend(["--ro-bind".into(), program.display().to_string(), path.into()]);
        }
    }
    args
}

/// The namespaces, identity, `/proc`, `/dev`, filter and environment of the shell.
fn isolation(launch: &Launch<'_>, new_session: bool, seccomp_fd: i32) -> Vec<String> {
    let uid = launch.user.uid().to_string();
    let home = launch.user.home();
    let mut args: Vec<String> = [
        "--unshare-user",
        "--disable-userns",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--uid",
        &uid,
        "--gid",
        &uid,
        "--hostname",
        launch.hostname,
        "--proc",
        "/proc",
        "--ro-bind",
        "/proc/sys",
        "/proc/sys",
        "--dev",
        "/dev",
        // Made here, inside the user namespace, so that they are the instance's to write.
        "--size",
        TMP_BYTES,
        "--tmpfs",
        "/tmp",
        "--size",
        TMP_BYTES,
        "--tmpfs",
        "/var/tmp",
        "--seccomp",
        &seccomp_fd.to_string(),
        "--chdir",
        home,
        "--clearenv",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    if launch.network.is_none() {
        args.push("--unshare-net".into());
    }
    if launch.user == SandboxUser::Root {
        args.extend(["--size", TMP_BYTES, "--tmpfs", "/root"].map(str::to_owned));
    }
    let env = [
        ("HOME", home),
        ("USER", launch.user.name()),
        ("LOGNAME", launch.user.name()),
        ("SHELL", "/bin/bash"),
        ("PATH", PATH),
        ("LANG", "C.UTF-8"),
        ("TERM", launch.term.unwrap_or("dumb")),
    ];
    for (k, v) in env {
        args.extend(["--setenv".into(), k.into(), v.into()]);
    }
    if new_session {
        args.push("--new-session".into());
    }
    args
}

/// A memfd without close-on-exec holding `bytes`, positioned at its start.
fn inheritable_memfd(name: &str, bytes: &[u8]) -> std::io::Result<std::fs::File> {
    let fd: OwnedFd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::empty())?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

/// System calls refused inside every instance (EPERM), by name for the docs and the tests.
pub const SYSCALLS_REFUSED: &[(&str, libc::c_long)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kcmp", libc::SYS_kcmp),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("acct", libc::SYS_acct),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("quotactl", libc::SYS_quotactl),
    ("syslog", libc::SYS_syslog),
    ("vhangup", libc::SYS_vhangup),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
];

/// The filter in the classic-BPF form bwrap's `--seccomp` takes: an array of `sock_filter`.
fn seccomp_filter() -> Result<Vec<u8>, String> {
    use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let mut rules: std::collections::BTreeMap<i64, Vec<SeccompRule>> =
        SYSCALLS_REFUSED.iter().map(|(_, nr)| (*nr, Vec::new())).collect();
    // TIOCSTI pushes input into the terminal: into keyfleet's pty, or a caller's.
    let tiocsti = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, libc::TIOCSTI)
        .and_then(|c| SeccompRule::new(vec![c]))
        .map_err(|e| e.to_string())?;
    rules.insert(libc::SYS_ioctl, vec![tiocsti]);
    let eperm = SeccompAction::Errno(libc::EPERM.unsigned_abs());
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, eperm, arch).map_err(|e| e.to_string())?;
    let program: seccompiler::BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
    Ok(program
        .iter()
        .flat_map(|i| {
            let mut bytes = [0u8; 8];
            bytes[..2].copy_from_slice(&i.code.to_ne_bytes());
            bytes[2] = i.jt;
            bytes[3] = i.jf;
            bytes[4..].copy_from_slice(&i.k.to_ne_bytes());
            bytes
        })
        .collect())
}

//! The sandbox every instance shell and command runs in: bubblewrap (a child process)
//! with new user, pid, ipc, uts and network namespaces. Inside, the instance's volume is
//! `/home`, the host's `/usr` is read-only, the user is `ec2-user` (uid 1000), and no other
//! host path is visible. Without a working bwrap, keyfleet refuses shells instead of
//! running anything on the host.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The uid and gid of `ec2-user` inside the sandbox.
pub const EC2_USER_UID: u32 = 1000;

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
}

/// Why there is no sandbox.
#[derive(Debug, thiserror::Error)]
#[error("no usable sandbox: {0} (install bubblewrap: apt-get install bubblewrap)")]
pub struct Unavailable(pub String);

/// What to run inside.
pub struct Launch<'a> {
    /// The volume's root: its `home/` becomes `/home`, its `etc/passwd` and `etc/group` the sandbox's.
    pub volume: &'a Path,
    /// The hostname (`ip-127-77-0-2`).
    pub hostname: &'a str,
    /// `None`: a login shell; `Some(c)`: `bash -c c`.
    pub command: Option<&'a str>,
    /// `TERM` when a pty was requested.
    pub term: Option<&'a str>,
}

impl Sandbox {
    /// Finds bwrap (`$KEYFLEET_BWRAP`, else the system's) and checks that it can make the
    /// namespaces here.
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
        let output = tokio::process::Command::new(&bwrap)
            .args([
                "--unshare-all",
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/bin",
                "/bin",
                "--symlink",
                "usr/lib",
                "/lib",
            ])
            .args(["--symlink", "usr/lib64", "/lib64", "--die-with-parent", "/bin/true"])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| Unavailable(e.to_string()))?;
        if !output.status.success() {
            return Err(Unavailable(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        Ok(Sandbox { bwrap })
    }

    /// The bwrap program and its arguments for a launch.
    pub fn argv(&self, launch: &Launch<'_>, new_session: bool) -> (PathBuf, Vec<String>) {
        let uid = EC2_USER_UID.to_string();
        let mut args: Vec<String> = [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-net",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--uid",
            &uid,
            "--gid",
            &uid,
            "--hostname",
            launch.hostname,
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
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--dir",
            "/var/tmp",
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
        let volume = launch.volume.display();
        args.extend([
            "--ro-bind".into(),
            format!("{volume}/etc/passwd"),
            "/etc/passwd".into(),
            "--ro-bind".into(),
            format!("{volume}/etc/group"),
            "/etc/group".into(),
            "--bind".into(),
            format!("{volume}/home"),
            "/home".into(),
            "--bind".into(),
            format!("{volume}/imds"),
            "/run/keyfleet".into(),
            "--chdir".into(),
            "/home/ec2-user".into(),
            "--clearenv".into(),
        ]);
        let env = [
            ("HOME", "/home/ec2-user"),
            ("USER", "ec2-user"),
            ("LOGNAME", "ec2-user"),
            ("SHELL", "/bin/bash"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
            ("LANG", "C.UTF-8"),
            ("TERM", launch.term.unwrap_or("dumb")),
        ];
        for (k, v) in env {
            args.extend(["--setenv".into(), k.into(), v.into()]);
        }
        if new_session {
            args.push("--new-session".into());
        }
        args.push("/bin/bash".into());
        match launch.command {
            Some(command) => args.extend(["-c".into(), command.to_owned()]),
            None => args.push("-l".into()),
        }
        (self.bwrap.clone(), args)
    }
}

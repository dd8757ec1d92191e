//! An instance's network namespace (keyfleet as root only): loopback, plus the link-local
//! address `169.254.169.254` on it, where keyfleet serves the instance's metadata over TCP as
//! EC2 does, so that curl, `ec2-metadata`, cloud-init and the SDKs find it unchanged. Every
//! shell and command of the instance joins it, as processes of one machine share its network:
//! a server one session starts on localhost, another session reaches. There is no route out.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Where EC2's metadata service answers.
pub const METADATA_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// util-linux and iproute2 programs that make and enter the namespace.
const UNSHARE: &str = "/usr/bin/unshare";
const NSENTER: &str = "/usr/bin/nsenter";
const IP: [&str; 2] = ["/usr/sbin/ip", "/usr/bin/ip"];

/// One instance's namespace, alive while this is (and while any process is in it).
#[derive(Debug)]
pub struct NetworkNamespace {
    fd: OwnedFd,
}

/// Why an instance has no namespace of its own.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// Not root, or a program is missing.
    #[error("{0}")]
    Unsupported(String),
    /// Making it failed.
    #[error("could not make the instance's network namespace: {0}")]
    Io(#[from] std::io::Error),
}

impl NetworkNamespace {
    /// Whether keyfleet, as root, can make them: `Ok` when not root (instances then have a
    /// loopback per session and reach the server over sockets).
    pub fn needed_and_possible() -> Result<(), NamespaceError> {
        match Self::supported() {
            Err(NamespaceError::Unsupported(_)) if !rustix::process::geteuid().is_root() => Ok(()),
            other => other,
        }
    }

    /// Whether this host can make them, and if not why.
    pub fn supported() -> Result<(), NamespaceError> {
        if !rustix::process::geteuid().is_root() {
            return Err(NamespaceError::Unsupported("keyfleet is not root".into()));
        }
        if ip().is_none() {
            return Err(NamespaceError::Unsupported("ip not found (apt-get install iproute2)".into()));
        }
        match [UNSHARE, NSENTER].into_iter().find(|p| !Path::new(p).exists()) {
            Some(missing) => {
                Err(NamespaceError::Unsupported(format!("{missing} not found (apt-get install util-linux)")))
            }
            None => Ok(()),
        }
    }

    /// Makes a namespace with loopback up and the metadata address on it. A short-lived
    /// `unshare` makes and configures it; this keeps it by opening it before that exits.
    pub async fn create() -> Result<Self, NamespaceError> {
        Self::supported()?;
        let ip = ip().ok_or_else(|| NamespaceError::Unsupported("ip not found".into()))?;
        let script = format!(
            "{ip} link set lo up && {ip} addr add {METADATA_ADDRESS}/32 dev lo && echo ready && read _",
            ip = ip.display()
        );
        let mut holder = tokio::process::Command::new(UNSHARE)
            .args(["--net", "--", "/bin/sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = holder.id().ok_or_else(|| std::io::Error::other("unshare ended at once"))?;
        let stdout = holder.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut ready = String::new();
        let mut stdout = tokio::io::BufReader::new(stdout);
        let said = stdout.read_line(&mut ready);
        tokio::time::timeout(std::time::Duration::from_secs(10), said)
            .await
            .map_err(|_| std::io::Error::other("ip did not finish in 10 s"))??;
        if ready.trim() != "ready" {
            let output = holder.wait_with_output().await?;
            let why = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(std::io::Error::other(why).into());
        }
        // `unshare` execs the shell: its pid is the shell's, inside the namespace.
        let fd = OwnedFd::from(std::fs::File::open(format!("/proc/{pid}/ns/net"))?);
        if let Some(mut stdin) = holder.stdin.take() {
            let _ = stdin.write_all(b"\n").await;
        }
        holder.wait().await?;
        Ok(NetworkNamespace { fd })
    }

    /// A listener on `169.254.169.254:port` inside. A socket stays in the namespace it was
    /// made in: a thread of its own enters the namespace, binds, and ends there.
    pub async fn listen(&self, port: u16) -> Result<tokio::net::TcpListener, NamespaceError> {
        let fd = self.fd.try_clone()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("keyfleet-netns".into()).spawn(move || {
            let bound = rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&fd),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(std::io::Error::from)
            .and_then(|()| std::net::TcpListener::bind(SocketAddr::from((METADATA_ADDRESS, port))));
            let _ = tx.send(bound);
        })?;
        let listener = rx.await.map_err(std::io::Error::other)??;
        listener.set_nonblocking(true)?;
        Ok(tokio::net::TcpListener::from_std(listener)?)
    }

    /// The program and first arguments that run a command in the namespace: `nsenter`
    /// opens it through this process's descriptor, which no child inherits.
    pub fn enter(&self) -> (&'static Path, Vec<String>) {
        let net = format!("--net=/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd());
        (Path::new(NSENTER), vec![net, "--".into()])
    }
}

fn ip() -> Option<PathBuf> {
    IP.into_iter().map(PathBuf::from).find(|p| p.exists())
}

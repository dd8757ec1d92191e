//! Built-in instances: a root volume directory, an SSH server on the instance's own
//! loopback address, and a sandboxed shell. The service layer drives it through
//! [`Runtime`]; nothing here knows about the EC2 API.

pub mod authorized_keys;
pub mod beneath;
mod capped;
pub mod cgroup;
pub mod console;
pub mod disk;
pub mod ec2_metadata;
pub mod imds;
pub mod netns;
pub mod sandbox;
pub mod ssh;
pub mod sudo;
pub mod volumes;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sandbox::Sandbox;
use volumes::Volumes;

/// What the runtime needs to boot an instance.
#[derive(Debug, Clone)]
pub struct BootSpec {
    /// `i-…`.
    pub instance_id: String,
    /// `vol-…`.
    pub volume_id: String,
    /// Its loopback address.
    pub address: Ipv4Addr,
    /// The launch key pair's `authorized_keys` line, installed at first boot only.
    pub launch_key: Option<String>,
    /// What the instance's metadata service answers.
    pub metadata: imds::Metadata,
    /// What the instance's type gives it, enforced where the host has control groups.
    pub resources: cgroup::Resources,
    /// The root volume's size, GiB: its image is made at this size if it has none yet.
    pub volume_gib: u32,
}

/// One SSH public-key authentication attempt, for the audit log.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    /// The instance's account.
    pub account: String,
    /// The instance's region.
    pub region: String,
    /// `i-…`.
    pub instance_id: String,
    /// The OS user asked for.
    pub user: String,
    /// `SHA256:…` of the offered key.
    pub fingerprint: String,
    /// The launch key pair's name, when the key is its public key.
    pub key_name: Option<String>,
    /// How the key was accepted: `authorized_keys` or `instance-connect`.
    pub method: Option<&'static str>,
    /// The client's address.
    pub source: std::net::IpAddr,
    /// Why it was refused; `None` when accepted.
    pub refusal: Option<&'static str>,
}

/// Where login attempts are reported.
pub type LoginObserver = Arc<dyn Fn(LoginAttempt) + Send + Sync>;

/// The servers of one running instance.
struct Running {
    ssh: ssh::SshServer,
    imds: Vec<tokio::task::JoinHandle<()>>,
    cgroup: Option<cgroup::Group>,
    home: Option<disk::HomeMount>,
}

impl Running {
    async fn shutdown(self) {
        for task in self.imds {
            task.abort();
        }
        self.ssh.shutdown().await;
        let (cgroup, home) = (self.cgroup, self.home);
        // The group's processes go first, so that nothing holds the volume's mount open.
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(group) = cgroup {
                group.remove();
            }
            drop(home);
        })
        .await;
    }
}

/// Why an instance could not boot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The volume could not be prepared or read.
    #[error("volume {volume}: {source}")]
    Volume {
        /// The volume.
        volume: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The instance's control group could not be made.
    #[error("cgroup of {instance}: {source}")]
    Cgroup {
        /// The instance.
        instance: String,
        /// The cause.
        source: std::io::Error,
    },
    /// As root, the instance's network could not be made: it does not boot rather than
    /// reach the server over Unix sockets.
    #[error("network of {instance}: {source}")]
    Network {
        /// The instance.
        instance: String,
        /// The cause.
        source: netns::NamespaceError,
    },
    /// The SSH port could not be bound.
    #[error("ssh listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Asks whether a source may connect to an instance's SSH port: (account, region, instance
/// id, source address). The security groups live in the store; the runtime only asks.
pub type ConnectionCheck = Arc<
    dyn Fn(
            String,
            String,
            String,
            std::net::IpAddr,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        + Send
        + Sync,
>;

/// Finds the keys pushed with EC2 Instance Connect for (instance, OS user) that are still
/// valid. They live in the store, so that the replica serving the instance sees a key
/// whichever replica received it; the runtime only asks.
pub type PushedKeyLookup = Arc<
    dyn Fn(String, String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<ssh_key::public::KeyData>> + Send>>
        + Send
        + Sync,
>;

/// Running instances of this process.
pub struct Runtime {
    pushed_keys: PushedKeyLookup,
    admit: ConnectionCheck,
    volumes: Volumes,
    ssh_port: u16,
    network: Ipv4Addr,
    sandbox: Option<Sandbox>,
    cgroups: Option<cgroup::Cgroups>,
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    observer: Option<LoginObserver>,
    login_grace: std::time::Duration,
    host_metadata: bool,
}

/// Connections one metadata listener serves at once.
pub const MAX_METADATA_CONNECTIONS: usize = 64;

/// Serves `router` on `listener`, at most [`MAX_METADATA_CONNECTIONS`] connections at once.
async fn serve_capped<L: axum::serve::Listener>(listener: L, router: axum::Router)
where
    L::Addr: std::fmt::Debug,
{
    let capped = capped::Capped::new(listener, MAX_METADATA_CONNECTIONS);
    let _ = axum::serve(capped, router).await;
}

/// The default block instance addresses come from (`--instance-network`).
pub const DEFAULT_NETWORK: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 0);

impl Runtime {
    /// A runtime keeping volumes under `data_dir/volumes`, serving SSH on `ssh_port`, with
    /// instance addresses from the loopback /16 at `network`.
    /// `login_grace` is sshd's LoginGraceTime for every instance.
    pub async fn new(
        data_dir: &Path,
        ssh_port: u16,
        network: Ipv4Addr,
        observer: Option<LoginObserver>,
        (pushed_keys, admit): (PushedKeyLookup, ConnectionCheck),
        login_grace: std::time::Duration,
        private_mounts: Option<disk::PrivateMounts>,
    ) -> Self {
        let sandbox = match Sandbox::probe().await {
            // As root an instance reaches the server only over its own network (netns.rs).
            Ok(s) => match netns::NetworkNamespace::needed_and_possible() {
                Ok(()) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "instance shells are disabled: instances cannot have networks of their own");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "instance shells are disabled");
                None
            }
        };
        let cgroups = sandbox.as_ref().and_then(|_| detect_cgroups());
        let disks = match private_mounts.ok_or_else(|| "mounts are not private to this process".to_owned()) {
            Ok(mounts) => disk::Disks::detect(mounts),
            Err(why) => Err(why),
        };
        // Said at every start, as the README says it: what holds an instance in and what not.
        match &disks {
            Ok(_) => tracing::info!(
                "instances are held to their root volume size, process count, per-process memory, open files and \
                 file size{}",
                if cgroups.is_some() { ", and to their type's total memory and CPU (cgroups)" } else { "" }
            ),
            Err(why) => tracing::warn!(
                reason = %why,
                "instances' root volume size is NOT enforced: an instance can fill the host's disk"
            ),
        }
        Runtime {
            volumes: Volumes::new(data_dir.join("volumes"), disks.ok()),
            ssh_port,
            network,
            sandbox,
            cgroups,
            running: Default::default(),
            pushed_keys,
            admit,
            observer,
            login_grace,
            host_metadata: false,
        }
    }

    /// Gives instances `sudo` ([`sudo`]): `program` is keyfleet's own executable.
    pub fn with_sudo(mut self, program: Option<PathBuf>) -> Self {
        if let Some(program) = program {
            self.sandbox = self.sandbox.map(|s| s.with_sudo(program));
        }
        self
    }

    /// Also serves each instance's metadata on its address, port 80, to the host. Every local
    /// user could read it there (user data included), so it is off unless asked for.
    pub fn with_host_metadata(mut self, on: bool) -> Self {
        self.host_metadata = on;
        self
    }

    /// The /16 block instance addresses come from.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The port every instance's SSH server listens on.
    pub fn ssh_port(&self) -> u16 {
        self.ssh_port
    }

    /// Prepares the volume and starts the SSH server.
    pub async fn boot(&self, spec: &BootSpec) -> Result<(), RuntimeError> {
        let volume_error = |source| RuntimeError::Volume { volume: spec.volume_id.clone(), source };
        let uid = sandbox::host_uid(spec.address);
        let home = {
            let (volumes, volume_id, launch_key, gib) =
                (self.volumes.clone(), spec.volume_id.clone(), spec.launch_key.clone(), spec.volume_gib);
            tokio::task::spawn_blocking(move || volumes.prepare(&volume_id, launch_key.as_deref(), uid, gib))
                .await
                .map_err(|e| volume_error(std::io::Error::other(e)))?
                .map_err(volume_error)?
        };
        match self.serve(spec, uid).await {
            Ok(running) => {
                let running = Running { home, ..running };
                if let Some(previous) = self.running.lock().await.insert(spec.instance_id.clone(), running) {
                    previous.shutdown().await;
                }
                Ok(())
            }
            Err(e) => {
                // Unmounting waits for the disk: not on an async thread.
                let _ = tokio::task::spawn_blocking(move || drop(home)).await;
                Err(e)
            }
        }
    }

    /// The instance's servers, on its prepared volume.
    async fn serve(&self, spec: &BootSpec, uid: u32) -> Result<Running, RuntimeError> {
        let volume_error = |source| RuntimeError::Volume { volume: spec.volume_id.clone(), source };
        // An RSA key takes a while to make: off the async threads.
        let (volumes, volume_id) = (self.volumes.clone(), spec.volume_id.clone());
        let host_keys = tokio::task::spawn_blocking(move || volumes.host_keys(&volume_id))
            .await
            .map_err(|e| volume_error(std::io::Error::other(e.to_string())))?
            .map_err(volume_error)?;
        let network = self.network_namespace(&spec.instance_id).await?;
        let cgroup = match &self.cgroups {
            Some(cgroups) => Some(
                cgroups
                    .create(&spec.instance_id, spec.resources, sandbox::MAX_PROCESSES)
                    .map_err(|source| RuntimeError::Cgroup { instance: spec.instance_id.clone(), source })?,
            ),
            None => None,
        };
        let instance = Arc::new(ssh::InstanceSsh {
            instance_id: spec.instance_id.clone(),
            volume: self.volumes.path(&spec.volume_id),
            homes: self.volumes.homes(&spec.volume_id),
            uid,
            // EC2's Amazon Linux names itself by its full private DNS name (`hostname -s` is
            // the short `ip-A-B-C-D`).
            hostname: spec.metadata.private_dns.clone(),
            sandbox: self.sandbox.clone(),
            pushed_keys: self.pushed_keys.clone(),
            admit: self.admit.clone(),
            refusals: ssh::RefusalLog::default(),
            account: spec.metadata.account.clone(),
            region: spec.metadata.region.clone(),
            launch_key: spec.metadata.launch_key.as_ref().and_then(|(name, line)| {
                ssh_key::PublicKey::from_openssh(line).ok().map(|k| (name.clone(), k.key_data().clone()))
            }),
            observer: self.observer.clone(),
            login_grace: self.login_grace,
            cgroup: cgroup.clone(),
            network: network.clone(),
        });
        let addr = SocketAddr::from((spec.address, self.ssh_port));
        let ssh = ssh::start(instance.clone(), host_keys, addr)
            .await
            .map_err(|source| RuntimeError::Bind { addr, source })?;
        let mut imds = self.serve_metadata(spec, network.as_deref()).await.map_err(volume_error)?;
        match self.serve_sudo(spec, instance, network.as_deref()).await {
            Ok(broker) => imds.extend(broker),
            Err(e) => {
                imds.iter().for_each(tokio::task::JoinHandle::abort);
                return Err(volume_error(e));
            }
        }
        Ok(Running { ssh, imds, cgroup, home: None })
    }

    /// The instance's network namespace: as root always (an instance that cannot have one
    /// does not boot); without root none, and the metadata service and `sudo` use sockets.
    async fn network_namespace(&self, instance_id: &str) -> Result<Option<Arc<netns::NetworkNamespace>>, RuntimeError> {
        if self.sandbox.is_none() || !rustix::process::geteuid().is_root() {
            return Ok(None);
        }
        match netns::NetworkNamespace::create().await {
            Ok(namespace) => Ok(Some(Arc::new(namespace))),
            Err(source) => Err(RuntimeError::Network { instance: instance_id.to_owned(), source }),
        }
    }

    /// The metadata service: at `169.254.169.254:80` in the instance's own network, else on the
    /// volume's socket (seen inside as `/run/keyfleet/imds.sock`); and, with `--imds-on-host`
    /// and where this process may bind it, on the instance's address, port 80. Each holds
    /// [`MAX_METADATA_CONNECTIONS`] connections at once: an instance that opens more waits on
    /// its own metadata, and costs the server no more.
    async fn serve_metadata(
        &self,
        spec: &BootSpec,
        network: Option<&netns::NetworkNamespace>,
    ) -> std::io::Result<Vec<tokio::task::JoinHandle<()>>> {
        let router = imds::router(spec.metadata.clone());
        let mut tasks = Vec::new();
        match network {
            Some(namespace) => {
                let tcp = namespace.listen(80).await.map_err(std::io::Error::other)?;
                tasks.push(tokio::spawn(serve_capped(tcp, router.clone())));
            }
            None => {
                let unix = self.instance_socket(&self.volumes.imds_socket(&spec.volume_id))?;
                tasks.push(tokio::spawn(serve_capped(unix, router.clone())));
            }
        }
        if !self.host_metadata {
            return Ok(tasks);
        }
        match tokio::net::TcpListener::bind((spec.address, 80)).await {
            Ok(tcp) => tasks.push(tokio::spawn(serve_capped(tcp, router))),
            Err(e) => tracing::debug!(instance = %spec.instance_id, error = %e, "metadata service not on port 80"),
        }
        Ok(tasks)
    }

    /// The broker of `sudo` ([`sudo`]), when instances have it: on the metadata address in the
    /// instance's own network, else on the volume's socket (`/run/keyfleet/sudo.sock` inside).
    async fn serve_sudo(
        &self,
        spec: &BootSpec,
        instance: Arc<ssh::InstanceSsh>,
        network: Option<&netns::NetworkNamespace>,
    ) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
        if !self.sandbox.as_ref().is_some_and(Sandbox::has_sudo) {
            return Ok(None);
        }
        Ok(Some(match network {
            Some(namespace) => {
                let tcp = namespace.listen(sudo::BROKER_PORT).await.map_err(std::io::Error::other)?;
                tokio::spawn(sudo::serve(tcp, instance))
            }
            None => {
                let unix = self.instance_socket(&self.volumes.sudo_socket(&spec.volume_id))?;
                tokio::spawn(sudo::serve(unix, instance))
            }
        }))
    }

    /// A socket in the volume's `imds/`, which only the instance's user reaches (through its
    /// mount); used only where keyfleet is not root, where that user is keyfleet's own uid.
    fn instance_socket(&self, path: &Path) -> std::io::Result<tokio::net::UnixListener> {
        use std::os::unix::fs::PermissionsExt;
        let listener = tokio::net::UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        Ok(listener)
    }

    /// Stops the SSH server and ends every session. The volume stays.
    pub async fn halt(&self, instance_id: &str) {
        let running = self.running.lock().await.remove(instance_id);
        if let Some(running) = running {
            running.shutdown().await;
        }
    }

    /// True if this process serves the instance now.
    pub async fn is_running(&self, instance_id: &str) -> bool {
        self.running.lock().await.contains_key(instance_id)
    }

    /// The console output of the instance whose volume is `volume_id`, or `None` when the
    /// volume is not on this host or has not booted yet (it has no host keys).
    pub fn console_output(&self, volume_id: &str, hostname: &str, launch_ms: i64) -> Option<String> {
        let keys = self.volumes.host_public_keys(volume_id);
        (!keys.is_empty()).then(|| console::boot_log(&keys, hostname, launch_ms))
    }

    /// True if the volume is on this machine's data dir (shared storage makes it so for
    /// every replica), so that this process could serve the instance.
    pub fn has_volume(&self, volume_id: &str) -> bool {
        self.volumes.path(volume_id).is_dir()
    }

    /// Makes a new instance's volume of `gib` GiB. Blocks on disk I/O.
    pub fn create_volume(&self, volume_id: &str, gib: u32) -> Result<(), RuntimeError> {
        self.volumes
            .create(volume_id, gib)
            .map_err(|source| RuntimeError::Volume { volume: volume_id.to_owned(), source })
    }

    /// Deletes a volume.
    pub fn destroy_volume(&self, volume_id: &str) -> Result<(), RuntimeError> {
        self.volumes.destroy(volume_id).map_err(|source| RuntimeError::Volume { volume: volume_id.to_owned(), source })
    }

    /// Appends `line` to every `authorized_keys` under the volume's `/home/*/.ssh/` that
    /// lacks it; how many files changed. Blocks on disk I/O.
    pub fn add_authorized_key(&self, volume_id: &str, line: &str) -> std::io::Result<usize> {
        self.volumes.add_authorized_key(volume_id, line)
    }
}

/// Control groups as root, where the host has them; said once at start either way.
fn detect_cgroups() -> Option<cgroup::Cgroups> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    match cgroup::Cgroups::detect() {
        Ok(cgroups) => Some(cgroups),
        Err(why) => {
            tracing::warn!(reason = %why, "no control groups: instances' total memory and CPU are not limited");
            None
        }
    }
}

/// `n` addresses of the block `first/prefix` that are not in `taken`, lowest first,
/// skipping each /24's network, `.1` and broadcast addresses.
pub fn free_addresses(first: Ipv4Addr, prefix: u8, taken: &HashSet<Ipv4Addr>, n: usize) -> Vec<Ipv4Addr> {
    let size = 1u64 << (32 - u32::from(prefix.clamp(8, 32)));
    let mask = u32::try_from(u64::from(u32::MAX) + 1 - size).unwrap_or(u32::MAX);
    let base = u64::from(u32::from(first) & mask);
    (base..base + size)
        .filter_map(|a| u32::try_from(a).ok())
        .map(Ipv4Addr::from)
        .filter(|a| !matches!(a.octets(), [_, _, _, 0 | 1 | 255]) && !taken.contains(a))
        .take(n)
        .collect()
}

/// Port 22 where this process may bind it (as root), else 2222.
pub fn default_ssh_port() -> u16 {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(meta) if meta.uid() == 0 => 22,
        _ => 2222,
    }
}

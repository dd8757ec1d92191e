//! keyfleet's service as a library: the EC2 key pair API (and the IAM, STS, SSM, CloudTrail and
//! CloudFormation around it) over HTTP, on an embedded store.
//!
//! ```text
//! socket ─▶ api/http.rs (limits) ─▶ api/auth (SigV4) ─▶ api/protocol (Query, JSON 1.1)
//!        ─▶ the service's table (api/ec2, api/iam, api/ssm, …) ─▶ api/operation.rs:
//!           decode ─▶ authorization ─▶ api/authorize (policies, DryRun) ─▶ call ─▶ encode
//!        ─▶ service/ (AWS semantics) ─▶ store/ (SQL)        runtime/ (instances) beside it
//! ```
//!
//! Layers import one way: `api/` → `service/` → `store/`; `service/` also drives `runtime/`;
//! `common/` (globs, CIDR ranges, AWS time formats, ids) is under all of them. The test in
//! `layering.rs` holds that.
//!
//! Where to change what:
//!
//! | change | touch |
//! |---|---|
//! | a new action | one `Operation` impl in `api/<service>/<resource>.rs` and its row in the service's table (`ACTIONS` / `OPERATIONS`), a fn in `service/<resource>.rs` |
//! | a new AWS error | a `service::Error` variant and its arm in `api/error.rs` |
//! | new stored data | the aggregate's trait in `store/mod.rs` (`KeyPairStore`, `InstanceStore`, …), its impl in `store/sql/<aggregate>.rs`, a migration in both `migrations/sqlite` and `migrations/postgres` (the schema test holds them equal), a case in `store/tests.rs` |
//! | a key format | the `keyfleet-keys` crate |
//! | what a group's reconciler does each pass | `service/auto_scaling/reconcile.rs` (plan, remove, launch); activities' texts in `service/auto_scaling/activities.rs` |
//! | a CloudFormation resource type | its name in `service/cloudformation/mod.rs` (`RESOURCE_TYPES`, and `IAM_TYPES` if it needs a capability), its create, update and delete arms in `api/cloudformation/resources.rs` (each calling the API's own operations), a case in `tests/e2e/cloudformation.rs` |

pub mod api;
pub mod common;
pub mod credentials_file;
#[cfg(test)]
mod layering;
pub mod runtime;
pub mod service;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use service::instances::Instances;
use service::key_pairs::{DEFAULT_QUOTA, KeyPairs};
use service::tags::Tags;
use store::prelude::*;
use store::sql::SqlStore;

/// Requests per second per access key by default: far above any interactive use, low enough
/// to stop a runaway script from starving everyone else.
pub const DEFAULT_RATE_LIMIT: u32 = 2_000;
/// RSA keys kept ready by default: a burst of this many CreateKeyPair calls skips key
/// generation (about 1.2 KiB of memory each).
pub const DEFAULT_RSA_POOL_SIZE: usize = 64;
/// The default burst.
pub const DEFAULT_RATE_BURST: u32 = 4_000;

/// Everything `keyfleet serve` can be told.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The data dir: database and admin credentials.
    pub data_dir: PathBuf,
    /// `postgres://…` to share one PostgreSQL database between replicas; SQLite in the data
    /// dir when `None`.
    pub database_url: Option<String>,
    /// Accept any credentials (tests only), and enable `POST /moto-api/reset`.
    pub dev: bool,
    /// Key pairs per (account, region).
    pub key_pair_quota: u32,
    /// The port every instance's SSH server listens on (its own address, this port).
    pub ssh_port: u16,
    /// The loopback /16 block instance addresses come from (127.77.0.0 by default).
    pub instance_network: std::net::Ipv4Addr,
    /// The master key for secrets at rest (default `<data dir>/master.key`, created 0600).
    pub master_key_file: Option<PathBuf>,
    /// How long an Instance Connect key is accepted (AWS: 60 s).
    pub instance_connect_ttl: std::time::Duration,
    /// A pause before every automation step (tests use it to stop the server mid-run).
    pub automation_step_delay: std::time::Duration,
    /// A pause before each resource of a stack (tests that stop the server mid-stack).
    pub stack_step_delay: std::time::Duration,
    /// This replica's id; by default one made at the first start and kept in the data dir.
    /// Replicas that share a data dir (for instance takeover) each need their own.
    pub replica_id: Option<String>,
    /// How long a replica's claim on its instances lasts without renewal.
    pub instance_lease: std::time::Duration,
    /// Instances that are not terminated, per (account, region).
    pub instance_quota: u32,
    /// sshd's LoginGraceTime for every instance's SSH server.
    pub ssh_login_grace: std::time::Duration,
    /// Serve instance metadata to the host on each instance's address, port 80.
    pub imds_on_host: bool,
    /// keyfleet's own executable, which instances run as `sudo`; `None`: no `sudo`.
    pub sudo_program: Option<PathBuf>,
    /// RSA keys kept ready for CreateKeyPair (0: no pool).
    pub rsa_pool_size: usize,
    /// Threads refilling the RSA pool (at low priority).
    pub rsa_pool_workers: usize,
    /// Also append every audit record to this file, as JSON lines.
    pub audit_log: Option<PathBuf>,
    /// Requests per second per access key (0: unlimited).
    pub rate_limit: u32,
    /// The burst the rate limit allows.
    pub rate_burst: u32,
    /// Serve HTTPS with this PEM certificate chain and PEM private key instead of HTTP.
    pub tls: Option<TlsFiles>,
    /// Open API connections in all.
    pub max_connections: usize,
    /// Open API connections per source address.
    pub max_connections_per_source: usize,
    /// GiB of root volumes the server may promise in all; `None`: the size of the data dir's
    /// file system.
    pub volume_capacity_gib: Option<u64>,
    /// Set when the process entered a mount namespace of its own at start
    /// ([`runtime::disk::isolate_mounts`]): only then are root volumes sized.
    pub private_mounts: Option<runtime::disk::PrivateMounts>,
}

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl ServerConfig {
    /// The defaults: 127.0.0.1:8773, AWS's quota, SigV4 enforced.
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8773)),
            data_dir,
            database_url: None,
            dev: false,
            key_pair_quota: DEFAULT_QUOTA,
            ssh_port: runtime::default_ssh_port(),
            instance_network: runtime::DEFAULT_NETWORK,
            master_key_file: None,
            instance_connect_ttl: service::instance_connect::DEFAULT_TTL,
            automation_step_delay: std::time::Duration::ZERO,
            stack_step_delay: std::time::Duration::ZERO,
            replica_id: None,
            instance_lease: service::instances::DEFAULT_LEASE,
            instance_quota: service::instances::DEFAULT_INSTANCE_QUOTA,
            ssh_login_grace: runtime::ssh::DEFAULT_LOGIN_GRACE,
            imds_on_host: false,
            sudo_program: None,
            rsa_pool_size: DEFAULT_RSA_POOL_SIZE,
            rsa_pool_workers: 1,
            audit_log: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            rate_burst: DEFAULT_RATE_BURST,
            tls: None,
            max_connections: api::listener::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: api::listener::DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
            private_mounts: None,
            volume_capacity_gib: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data dir could not be created.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store would not open.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The admin credentials file is unusable.
    #[error(transparent)]
    Credentials(#[from] credentials_file::CredentialsFileError),
    /// The master key file is unusable.
    #[error(transparent)]
    MasterKey(#[from] service::envelope::EnvelopeError),
    /// A new account could not be stored.
    #[error("creating the account: {0}")]
    Account(service::Error),
    /// The audit log file could not be opened.
    #[error("audit log: {0}")]
    AuditLog(std::io::Error),
    /// Instances that were running could not be brought back.
    #[error("resuming instances: {0}")]
    Resume(#[from] service::Error),
    /// The TLS certificate or key is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] api::listener::TlsError),
    /// The address could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A started server: its address, and what a newcomer needs to know.
pub struct Started {
    /// The bound address.
    pub addr: SocketAddr,
    /// The admin key, when SigV4 is enforced.
    pub admin: Option<api::auth::AccessKey>,
    /// True if the admin key was created by this start.
    pub admin_created: bool,
    /// True if the API is served over HTTPS.
    pub tls: bool,
    listener: tokio::net::TcpListener,
    listener_config: api::listener::ListenerConfig,
    router: axum::Router,
}

/// The size of the file system that holds `dir`, GiB: what thin volumes there can promise.
fn file_system_gib(dir: &Path) -> Result<u64, StartError> {
    let stats = rustix::fs::statvfs(dir).map_err(|e| StartError::DataDir { path: dir.to_owned(), source: e.into() })?;
    Ok(stats.f_blocks.saturating_mul(stats.f_frsize) >> 30)
}

/// Opens the data dir and store and binds the listener.
pub async fn start(config: &ServerConfig) -> Result<Started, StartError> {
    // The admin secret and the master key are in this process's memory: keep them out of
    // core dumps and away from ptrace by other processes of the same uid.
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!(error = %e, "the process could not be made non-dumpable");
    }
    raise_descriptor_limit();
    // Before any state is touched: a wrong path should not leave a half-started server.
    let tls = match &config.tls {
        Some(files) => Some(api::listener::tls_config(&files.cert, &files.key)?),
        None => None,
    };
    create_private_dir(&config.data_dir)?;
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(config.database_url.as_deref(), &config.data_dir).await?);
    private_database_files(&config.data_dir)?;
    let master_key_path = config.master_key_file.clone().unwrap_or_else(|| config.data_dir.join("master.key"));
    let master_key = Arc::new(service::envelope::MasterKey::load_or_create(&master_key_path)?);
    let iam = Arc::new(service::iam::Iam::new(store.clone(), master_key.clone()));
    let (auth, admin, admin_created) = if config.dev {
        (api::auth::Authenticator::Dev, None, false)
    } else {
        let (key, created) = credentials_file::load_or_create(&config.data_dir)?;
        (api::auth::Authenticator::enforce(key.clone(), iam.clone()), Some(key), created)
    };
    let audit = Arc::new(
        service::audit::Audit::start(store.clone(), config.audit_log.as_deref()).map_err(StartError::AuditLog)?,
    );
    let security_groups = Arc::new(service::security_groups::SecurityGroups::new(store.clone()));
    let runtime = Arc::new(
        runtime::Runtime::new(
            &config.data_dir,
            config.ssh_port,
            config.instance_network,
            Some(login_observer(&audit)),
            (
                service::instance_connect::key_lookup(store.clone()),
                service::security_groups::ssh_admission(security_groups.clone()),
            ),
            config.ssh_login_grace,
            config.private_mounts,
        )
        .await
        .with_host_metadata(config.imds_on_host)
        .with_sudo(config.sudo_program.clone()),
    );
    let instance_connect = service::instance_connect::InstanceConnect::new(store.clone(), config.instance_connect_ttl);
    let replica = match &config.replica_id {
        Some(id) => id.clone(),
        None => replica_id(&config.data_dir)?,
    };
    tracing::info!(replica = %replica, "replica");
    let volume_capacity_gib = match config.volume_capacity_gib {
        Some(gib) => gib,
        None => file_system_gib(&config.data_dir)?,
    };
    tracing::info!(gib = volume_capacity_gib, "root volumes may be promised up to this many GiB in all");
    let network =
        Arc::new(service::network::Network::new(store.clone(), config.instance_network, config.instance_quota));
    let instances = Arc::new(
        Instances::new(
            store.clone(),
            runtime,
            replica.clone(),
            config.instance_lease,
            config.instance_quota,
            (network.clone(), security_groups.clone()),
        )
        .with_volume_capacity(volume_capacity_gib),
    );
    instances.resume().await?;
    instances.spawn_reconciler();
    let parameters = Arc::new(service::parameters::Parameters::new(store.clone(), master_key));
    parameters.spawn_expiry();
    let describe: service::automation::Describe = Arc::new(|e| {
        let api_error = api::error::ApiError::from(e);
        (api_error.code.to_string(), api_error.message)
    });
    let automation = Arc::new(service::automation::Automation::new(
        store.clone(),
        instances.clone(),
        parameters.clone(),
        describe.clone(),
        api::ssm::automation::step_guard(iam.clone(), instances.clone(), audit.clone()),
        config.automation_step_delay,
    ));
    automation.resume().await?;
    automation.spawn_poller();
    let launch_templates = Arc::new(service::launch_templates::LaunchTemplates::new(store.clone()));
    let auto_scaling = Arc::new(service::auto_scaling::AutoScaling::new(
        store.clone(),
        (launch_templates.clone(), instances.clone(), audit.clone()),
        replica.clone(),
        config.instance_lease,
        describe.clone(),
    ));
    auto_scaling.spawn_reconciler();
    let stacks = Arc::new(service::cloudformation::Stacks::new(
        store.clone(),
        replica,
        config.instance_lease,
        config.stack_step_delay,
    ));
    let state = Arc::new(api::AppState {
        parameters,
        automation,
        stacks: stacks.clone(),
        instance_connect,
        key_pairs: KeyPairs::new(
            store.clone(),
            config.key_pair_quota,
            service::key_pool::KeyPool::start(config.rsa_pool_size, config.rsa_pool_workers),
        ),
        tags: Tags::new(store.clone()),
        launch_templates,
        auto_scaling,
        instances,
        network,
        security_groups,
        sessions: service::console::Sessions::new(store.clone()),
        health: service::Health::new(store),
        iam,
        audit,
        auth,
        limits: api::Limits::new(config.rate_limit, config.rate_burst),
        dev: config.dev,
    });
    // Stacks make their resources with the API's own operations, so they start once it exists.
    stacks.start(Arc::new(api::cloudformation::resources::Handlers::new(Arc::downgrade(&state))));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let listener_config = api::listener::ListenerConfig {
        tls: tls.clone(),
        max_connections: config.max_connections,
        max_connections_per_source: config.max_connections_per_source,
    };
    Ok(Started {
        addr,
        admin,
        admin_created,
        tls: tls.is_some(),
        listener,
        listener_config,
        router: api::router(state),
    })
}

/// Creates another account in the server's store and returns its root access key: the
/// account id, the key id and the secret (shown once). The server may be running.
pub async fn create_account(config: &ServerConfig) -> Result<(String, String, zeroize::Zeroizing<String>), StartError> {
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(config.database_url.as_deref(), &config.data_dir).await?);
    private_database_files(&config.data_dir)?;
    let master_key_path = config.master_key_file.clone().unwrap_or_else(|| config.data_dir.join("master.key"));
    let master_key = Arc::new(service::envelope::MasterKey::load_or_create(&master_key_path)?);
    let created = service::iam::Iam::new(store, master_key).create_account().await.map_err(StartError::Account)?;
    Ok((created.row.account, created.row.id, created.secret))
}

/// Opens the configured store, which applies any pending migrations, and names its backend.
pub async fn migrate(config: &ServerConfig) -> Result<&'static str, StartError> {
    create_private_dir(&config.data_dir)?;
    let store = SqlStore::open(config.database_url.as_deref(), &config.data_dir).await?;
    Ok(store.ping().await?)
}

/// Sends the runtime's SSH authentication attempts to the audit log.
fn login_observer(audit: &Arc<service::audit::Audit>) -> runtime::LoginObserver {
    let audit = audit.clone();
    Arc::new(move |attempt: runtime::LoginAttempt| {
        audit.ssh_attempt(service::audit::SshAttempt {
            scope: store::Scope { account: attempt.account, region: attempt.region },
            instance_id: attempt.instance_id,
            os_user: attempt.user,
            fingerprint: attempt.fingerprint,
            key_name: attempt.key_name,
            method: attempt.method,
            source_ip: attempt.source.to_string(),
            refusal: attempt.refusal,
        });
    })
}

impl Started {
    /// The request handler itself, to drive the whole pipeline in-process (tests).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        api::listener::serve(self.listener, self.router, self.listener_config, shutdown).await
    }
}

/// This replica's id: made at the first start and kept in the data dir, so that a restarted
/// replica finds the instances it owns.
fn replica_id(data_dir: &std::path::Path) -> Result<String, StartError> {
    let path = data_dir.join("replica-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let id = common::ids::new_id("replica");
    std::fs::write(&path, format!("{id}\n")).map_err(|source| StartError::DataDir { path: path.clone(), source })?;
    Ok(id)
}

fn create_private_dir(path: &std::path::Path) -> Result<(), StartError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let data_dir_error = |source| StartError::DataDir { path: path.to_owned(), source };
    builder.create(path).map_err(data_dir_error)?;
    // An existing dir keeps its mode, whatever the umask made it: make it private. (SQLite
    // gives its -wal and -shm files the database's mode; see `private_database_files`.)
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(data_dir_error)
}

/// Every connection and instance listener is a descriptor: take the hard limit, not the
/// (often 1024) soft one, so that the connection caps bind before the descriptors run out.
fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "the descriptor limit could not be raised");
        }
    }
}

/// The SQLite files 0600, whatever the umask made them (run once the store has opened them).
fn private_database_files(data_dir: &std::path::Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    for name in ["keyfleet.db", "keyfleet.db-wal", "keyfleet.db-shm"] {
        let path = data_dir.join(name);
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StartError::DataDir { path, source: e }),
            _ => {}
        }
    }
    Ok(())
}

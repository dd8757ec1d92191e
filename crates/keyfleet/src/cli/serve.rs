//! `keyfleet serve`: start the server and tell a newcomer how to reach it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use keyfleet_server::{ServerConfig, credentials_file};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8773", env = "KEYFLEET_LISTEN")]
    listen: SocketAddr,
    /// Where the database and admin credentials live.
    #[arg(long, env = "KEYFLEET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Share a PostgreSQL database with other replicas (postgres://user@host/db); default:
    /// SQLite in the data dir.
    #[arg(long, env = "KEYFLEET_DATABASE_URL")]
    database_url: Option<String>,
    /// This replica's id (default: made at the first start, kept in the data dir). Replicas
    /// that share one data dir must each be given their own.
    #[arg(long, env = "KEYFLEET_REPLICA_ID")]
    replica_id: Option<String>,
    /// Seconds a replica's claim on its instances and on the stacks it is running lasts
    /// without renewal; after that another replica (with access to the volumes, for
    /// instances) takes them over.
    #[arg(long, default_value_t = 30)]
    instance_lease_seconds: u64,
    /// Accept any credentials and enable POST /moto-api/reset. For tests only.
    #[arg(long)]
    dev: bool,
    /// Also serve each instance's metadata on its address, port 80, to every local user.
    #[arg(long)]
    imds_on_host: bool,
    /// Seconds an SSH connection to an instance may take to authenticate (sshd's LoginGraceTime).
    #[arg(long, default_value_t = 120)]
    ssh_login_grace_seconds: u64,
    /// Instances that are not terminated, per account and region (beyond: VcpuLimitExceeded).
    #[arg(long, default_value_t = keyfleet_server::service::instances::DEFAULT_INSTANCE_QUOTA)]
    instance_quota: u32,
    /// Key pairs allowed per account and region (AWS: 5000).
    #[arg(long, default_value_t = keyfleet_server::service::key_pairs::DEFAULT_QUOTA)]
    key_pair_quota: u32,
    /// Port of every instance's SSH server (default: 22 when running as root, else 2222).
    #[arg(long, env = "KEYFLEET_SSH_PORT")]
    ssh_port: Option<u16>,
    /// The loopback /16 that instance addresses come from.
    #[arg(long, default_value_t = keyfleet_server::runtime::DEFAULT_NETWORK, value_parser = loopback_network)]
    instance_network: std::net::Ipv4Addr,
    /// The master key for secrets at rest (default: <data dir>/master.key, created 0600).
    #[arg(long, env = "KEYFLEET_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Seconds an EC2 Instance Connect key is accepted (AWS: 60).
    #[arg(long, default_value_t = 60)]
    instance_connect_ttl: u64,
    /// RSA-2048 keys generated ahead for CreateKeyPair, held in memory only (0 turns the pool off).
    #[arg(long, default_value_t = keyfleet_server::DEFAULT_RSA_POOL_SIZE)]
    rsa_pool_size: usize,
    /// Threads refilling the RSA pool, at low priority.
    #[arg(long, default_value_t = 1)]
    rsa_pool_workers: usize,
    /// Also append every audit record (API calls, SSH logins) to this file as JSON lines.
    #[arg(long, env = "KEYFLEET_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Requests per second allowed per access key; 0 turns the limit off.
    #[arg(long, default_value_t = keyfleet_server::DEFAULT_RATE_LIMIT)]
    rate_limit: u32,
    /// Requests an access key may burst above its rate.
    #[arg(long, default_value_t = keyfleet_server::DEFAULT_RATE_BURST)]
    rate_burst: u32,
    /// Serve the API over HTTPS with this PEM certificate chain (with --tls-key). Clients
    /// that do not trust its issuer take it with the aws CLI's --ca-bundle or AWS_CA_BUNDLE.
    #[arg(long, env = "KEYFLEET_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "KEYFLEET_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Open API connections allowed in all; beyond, new connections are closed at once.
    #[arg(long, default_value_t = keyfleet_server::api::listener::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Open API connections allowed from one source address.
    #[arg(long, default_value_t = keyfleet_server::api::listener::DEFAULT_MAX_CONNECTIONS_PER_SOURCE)]
    max_connections_per_source: usize,
    /// GiB of root volumes the server may promise in all (the sum of its live instances'
    /// volume sizes; volumes are thin, so this bounds the disk they can take together).
    /// Default: the size of the data dir's file system.
    #[arg(long)]
    volume_capacity_gib: Option<u64>,
    /// Milliseconds to pause before each automation step (for tests that stop the server mid-run).
    #[arg(long, default_value_t = 0, hide = true)]
    automation_step_delay_ms: u64,
    /// Milliseconds to pause before each resource of a stack (for tests that stop the server
    /// mid-stack).
    #[arg(long, default_value_t = 0, hide = true)]
    stack_step_delay_ms: u64,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database (postgres://user@host/db); default: SQLite in the data dir.
    #[arg(long, env = "KEYFLEET_DATABASE_URL")]
    database_url: Option<String>,
    /// The data dir (for SQLite).
    #[arg(long, env = "KEYFLEET_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

pub fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::new(args.data_dir.unwrap_or_else(super::default_data_dir));
    config.database_url = args.database_url;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let backend = runtime.block_on(keyfleet_server::migrate(&config))?;
    println!("{backend}: schema up to date");
    Ok(())
}

fn loopback_network(text: &str) -> Result<std::net::Ipv4Addr, String> {
    let address: std::net::Ipv4Addr = text.trim_end_matches("/16").parse().map_err(|e| format!("{e}"))?;
    if address.is_loopback() { Ok(address) } else { Err("instance addresses must be loopback (127.x.0.0)".into()) }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KEYFLEET_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let data_dir = args.data_dir.unwrap_or_else(super::default_data_dir);
    let config = ServerConfig {
        listen: args.listen,
        data_dir: data_dir.clone(),
        database_url: args.database_url,
        dev: args.dev,
        key_pair_quota: args.key_pair_quota,
        ssh_port: args.ssh_port.unwrap_or_else(keyfleet_server::runtime::default_ssh_port),
        instance_network: args.instance_network,
        master_key_file: args.master_key_file,
        instance_connect_ttl: std::time::Duration::from_secs(args.instance_connect_ttl),
        automation_step_delay: std::time::Duration::from_millis(args.automation_step_delay_ms),
        stack_step_delay: std::time::Duration::from_millis(args.stack_step_delay_ms),
        replica_id: args.replica_id,
        instance_lease: std::time::Duration::from_secs(args.instance_lease_seconds),
        instance_quota: args.instance_quota,
        ssh_login_grace: std::time::Duration::from_secs(args.ssh_login_grace_seconds),
        imds_on_host: args.imds_on_host,
        sudo_program: std::env::current_exe().ok(),
        rsa_pool_size: args.rsa_pool_size,
        rsa_pool_workers: args.rsa_pool_workers,
        audit_log: args.audit_log,
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        tls: args.tls_cert.zip(args.tls_key).map(|(cert, key)| keyfleet_server::TlsFiles { cert, key }),
        max_connections: args.max_connections,
        max_connections_per_source: args.max_connections_per_source,
        private_mounts: private_mounts(),
        volume_capacity_gib: args.volume_capacity_gib,
    };
    let runtime = runtime().context("starting the runtime")?;
    runtime.block_on(async {
        let started = keyfleet_server::start(&config).await?;
        print_banner(&started, &data_dir, args.dev);
        started.serve(shutdown_signal()).await.context("serving")
    })
}

/// A mount namespace of the server's own, for the volumes it mounts; before the async
/// runtime starts its threads. Without it (not root, or no namespaces) volumes are unsized,
/// which the server says at start.
fn private_mounts() -> Option<keyfleet_server::runtime::disk::PrivateMounts> {
    keyfleet_server::runtime::disk::isolate_mounts()
        .inspect_err(|e| tracing::debug!(error = %e, "no mount namespace of its own"))
        .ok()
}

/// The async runtime, on half the cores (at least one) unless `TOKIO_WORKER_THREADS` says
/// otherwise: the rest are for the threads that do the store's work beside it (SQLite's
/// writer, its WAL sync and its readers, the RSA pool). On 2 cores, one worker measured 4–14%
/// more key pair writes per second at concurrency 8 than two (fewer wake-ups across threads),
/// and about 12% fewer 5000-key listings.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        builder.worker_threads((cores / 2).max(1));
    }
    builder.enable_all().build()
}

/// Written with errors ignored: a closed stdout (a supervisor that stopped reading) must
/// not take the server down.
fn print_banner(started: &keyfleet_server::Started, data_dir: &std::path::Path, dev: bool) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let scheme = if started.tls { "https" } else { "http" };
    // Tests read this first line to find the port.
    let _ = writeln!(out, "keyfleet listening on {scheme}://{} (data dir {})", started.addr, data_dir.display());
    if dev {
        let _ = writeln!(
            out,
            "--dev: any credentials are accepted; POST /moto-api/reset clears all state. Never expose this."
        );
    } else if started.admin_created {
        let path = data_dir.join(credentials_file::FILE_NAME);
        let _ = writeln!(out, "Created the admin access key and saved it to {} (mode 0600).", path.display());
        let _ = writeln!(out, "Set up the aws CLI:  keyfleet configure --endpoint-url {scheme}://{}", started.addr);
        let _ = writeln!(out, "Then try:            aws --profile keyfleet ec2 describe-key-pairs");
    }
    let _ = out.flush();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

//! The SSH server of a built-in instance, on its own loopback address. The only file
//! that knows russh.
//!
//! Authentication is public-key only (no password, no keyboard-interactive), for
//! `ec2-user`, against the volume's `authorized_keys` read at every attempt. Rejections
//! take a constant time (russh's `auth_rejection_time`). Each session channel runs one
//! shell, command or `sftp` subsystem inside the sandbox.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelMsg, MethodKind, MethodSet};
use ssh_key::HashAlg;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::authorized_keys::{self, Grant};
use super::sandbox::{Launch, Sandbox};

/// The only login user of built-in instances.
pub const LOGIN_USER: &str = "ec2-user";
/// sshd's `MaxStartups` (its first number): connections not yet authenticated at once per
/// instance; more are closed as they arrive.
const MAX_STARTUPS: usize = 10;
/// Connections at once per instance, authenticated or not.
const MAX_CONNECTIONS: usize = 100;
/// sshd's `LoginGraceTime` default: a connection not authenticated by then is closed.
pub const DEFAULT_LOGIN_GRACE: Duration = Duration::from_secs(120);
/// How long the accept loop waits after an error (out of descriptors): never a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long reading `authorized_keys` may take before the attempt is refused.
const AUTHORIZED_KEYS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the store may take to name an instance's pushed keys before the attempt goes on
/// without them: a slow store must not let unauthenticated clients hold connections open.
const PUSHED_KEYS_TIMEOUT: Duration = Duration::from_millis(500);
/// Host and user key algorithms: the defaults without `ssh-rsa`, whose SHA-1 signatures
/// OpenSSH refuses since 8.8; RSA keys sign with SHA-2.
const KEY_ALGORITHMS: &[ssh_key::Algorithm] = &[
    ssh_key::Algorithm::Ed25519,
    ssh_key::Algorithm::Ecdsa { curve: ssh_key::EcdsaCurve::NistP256 },
    ssh_key::Algorithm::Ecdsa { curve: ssh_key::EcdsaCurve::NistP384 },
    ssh_key::Algorithm::Ecdsa { curve: ssh_key::EcdsaCurve::NistP521 },
    ssh_key::Algorithm::Rsa { hash: Some(HashAlg::Sha512) },
    ssh_key::Algorithm::Rsa { hash: Some(HashAlg::Sha256) },
];
/// How long the security group check may take before the connection is refused.
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(5);
/// OpenSSH's sftp server, run inside the sandbox for `sftp` and `scp`.
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

/// What an instance's SSH server needs to know about it.
pub struct InstanceSsh {
    /// `i-…`, for the log.
    pub instance_id: String,
    /// The volume directory.
    pub volume: PathBuf,
    /// The volume's `home/`, the sandbox's `/home`.
    pub homes: PathBuf,
    /// The host uid the instance's user runs as (see `sandbox::host_uid`).
    pub uid: u32,
    /// The hostname inside the sandbox.
    pub hostname: String,
    /// `None` when no sandbox works here: logins succeed, commands are refused.
    pub sandbox: Option<Sandbox>,
    /// Instance Connect keys, checked after `authorized_keys`, as sshd's
    /// `AuthorizedKeysCommand` is.
    pub pushed_keys: super::PushedKeyLookup,
    /// The instance's account, for the audit log.
    pub account: String,
    /// The instance's region, for the audit log.
    pub region: String,
    /// The launch key pair's name and public key, to name the key pair a login used.
    pub launch_key: Option<(String, ssh_key::public::KeyData)>,
    /// Where every authentication attempt is reported.
    pub observer: Option<super::LoginObserver>,
    /// sshd's `LoginGraceTime`.
    pub login_grace: Duration,
    /// The instance's control group, when the host has them.
    pub cgroup: Option<super::cgroup::Group>,
    /// The instance's network namespace, when keyfleet can make them.
    pub network: Option<Arc<super::netns::NetworkNamespace>>,
    /// Its security groups' verdict on a connection's source.
    pub admit: super::ConnectionCheck,
    /// Which refused connections are audited.
    pub refusals: RefusalLog,
}

/// Refused connections are audited at most once a second per source: a client that
/// reconnects in a loop leaves a trace, not a flood of records that would slow the audit
/// log every API call writes to. The table of sources is capped; when full it starts over.
#[derive(Debug, Default)]
pub struct RefusalLog {
    last: Mutex<HashMap<IpAddr, std::time::Instant>>,
}

/// Sources [`RefusalLog`] remembers at once.
const MAX_REFUSED_SOURCES: usize = 4096;

impl RefusalLog {
    /// True if this refusal is to be audited (none from the same source in the last second).
    pub fn should_record(&self, source: IpAddr) -> bool {
        let now = std::time::Instant::now();
        let mut last = lock(&self.last);
        if last.get(&source).is_some_and(|at| now.duration_since(*at) < Duration::from_secs(1)) {
            return false;
        }
        if last.len() >= MAX_REFUSED_SOURCES {
            last.clear();
        }
        last.insert(source, now);
        true
    }
}

impl InstanceSsh {
    /// Whether the instance's security groups let `source` reach its SSH port; a refusal is
    /// reported. A check that fails or takes too long refuses: the gate fails closed.
    async fn admits(&self, source: IpAddr) -> bool {
        let asked = (self.admit)(self.account.clone(), self.region.clone(), self.instance_id.clone(), source);
        if tokio::time::timeout(ADMISSION_TIMEOUT, asked).await.unwrap_or(false) {
            return true;
        }
        if !self.refusals.should_record(source) {
            return false;
        }
        if let Some(observer) = &self.observer {
            observer(super::LoginAttempt {
                account: self.account.clone(),
                region: self.region.clone(),
                instance_id: self.instance_id.clone(),
                user: String::new(),
                fingerprint: String::new(),
                key_name: None,
                method: None,
                source,
                refusal: Some("no security group rule allows TCP port 22 from the source"),
            });
        }
        false
    }
}

/// The connections of one instance's server: how many, and how many still unauthenticated.
#[derive(Debug, Default)]
struct Admission {
    connections: AtomicUsize,
    startups: AtomicUsize,
}

/// One admitted connection's place; given back when the connection ends.
struct Slot {
    admission: Arc<Admission>,
    /// Still unauthenticated: holds one of the `MaxStartups` places.
    pending: Arc<AtomicBool>,
}

impl Slot {
    /// A place for a new connection, unless the instance has no room.
    fn take(admission: &Arc<Admission>) -> Option<Slot> {
        if admission.startups.load(Ordering::Relaxed) >= MAX_STARTUPS
            || admission.connections.load(Ordering::Relaxed) >= MAX_CONNECTIONS
        {
            return None;
        }
        admission.connections.fetch_add(1, Ordering::Relaxed);
        admission.startups.fetch_add(1, Ordering::Relaxed);
        Some(Slot { admission: admission.clone(), pending: Arc::new(AtomicBool::new(true)) })
    }

    /// The connection authenticated: its `MaxStartups` place is free again.
    fn authenticated(admission: &Admission, pending: &AtomicBool) {
        if pending.swap(false, Ordering::Relaxed) {
            admission.startups.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        Slot::authenticated(&self.admission, &self.pending);
        self.admission.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A listening SSH server; dropping it leaves it running, [`SshServer::shutdown`] ends it
/// and every session.
pub struct SshServer {
    stop: watch::Sender<bool>,
    /// Every session's command: aborting one drops its child, which kills the sandbox.
    commands: Commands,
    sessions: Arc<Mutex<HashMap<u64, russh::server::Handle>>>,
    accept_loop: tokio::task::JoinHandle<()>,
}

/// Binds `addr` and serves SSH for one instance.
pub async fn start(
    instance: Arc<InstanceSsh>,
    host_keys: Vec<ssh_key::PrivateKey>,
    addr: SocketAddr,
) -> std::io::Result<SshServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let config = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-keyfleet".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(300),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: host_keys,
        preferred: russh::Preferred { key: std::borrow::Cow::Borrowed(KEY_ALGORITHMS), ..Default::default() },
        inactivity_timeout: Some(Duration::from_secs(3600)),
        nodelay: true,
        ..Default::default()
    });
    let (stop, mut stopped) = watch::channel(false);
    let sessions: Arc<Mutex<HashMap<u64, russh::server::Handle>>> = Arc::default();
    let commands = Commands::default();
    let session_commands = commands.clone();
    let registry = sessions.clone();
    let accept_loop = tokio::spawn(async move {
        let next_id = AtomicU64::new(0);
        let admission = Arc::new(Admission::default());
        loop {
            let accepted = tokio::select! {
                _ = stopped.changed() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(instance = %instance.instance_id, error = %e, "ssh accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let Some(slot) = Slot::take(&admission) else { continue };
            let handler = Connection {
                commands: session_commands.clone(),
                instance: instance.clone(),
                peer: peer.ip(),
                grant: None,
                admission: admission.clone(),
                pending: slot.pending.clone(),
            };
            let (config, registry, grace) = (config.clone(), registry.clone(), instance.login_grace);
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let gate = instance.clone();
            tokio::spawn(async move {
                // The firewall comes first, as on EC2: a source no rule admits never sees the
                // server's banner, and its connection is closed unanswered.
                if !gate.admits(peer.ip()).await {
                    return;
                }
                let started = tokio::time::timeout(grace, russh::server::run_stream(config, stream, handler));
                let Ok(Ok(running)) = started.await else { return };
                let handle = running.handle();
                lock(&registry).insert(id, handle.clone());
                let pending = slot.pending.clone();
                let grace_timer = tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    if pending.load(Ordering::Relaxed) {
                        let reason = "login grace time exceeded".to_owned();
                        let _ = handle.disconnect(russh::Disconnect::ByApplication, reason, "en".into()).await;
                    }
                });
                let _ = running.await;
                grace_timer.abort();
                lock(&registry).remove(&id);
                drop(slot);
            });
        }
    });
    Ok(SshServer { stop, commands, sessions, accept_loop })
}

impl SshServer {
    /// Stops listening and disconnects every session (their processes are killed).
    pub async fn shutdown(self) {
        // A session whose client stopped reading may never see the disconnect: its command
        // is ended here whatever it is doing.
        lock(&self.commands).abort_all();
        let _ = self.stop.send(true);
        let _ = self.accept_loop.await;
        let handles: Vec<russh::server::Handle> = lock(&self.sessions).drain().map(|(_, h)| h).collect();
        for handle in handles {
            let _ = handle.disconnect(russh::Disconnect::ByApplication, "instance stopping".into(), "en".into()).await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One client connection.
/// The running commands of an instance's sessions.
type Commands = Arc<Mutex<tokio::task::JoinSet<()>>>;

struct Connection {
    commands: Commands,
    instance: Arc<InstanceSsh>,
    peer: IpAddr,
    grant: Option<Grant>,
    admission: Arc<Admission>,
    pending: Arc<AtomicBool>,
}

impl Connection {
    /// Reads `authorized_keys` now, as sshd does at every attempt; then the keys pushed with
    /// Instance Connect, as sshd's `AuthorizedKeysCommand` would. Also says which admitted it.
    async fn authorize(&self, user: &str, key: &ssh_key::PublicKey) -> Result<(Grant, &'static str), &'static str> {
        if user != LOGIN_USER {
            return Err("unknown user");
        }
        let text = self.read_authorized_keys().await;
        let listed = text
            .as_deref()
            .ok()
            .and_then(|text| authorized_keys::find(text, key.key_data(), self.peer, OffsetDateTime::now_utc()));
        if let Some(grant) = listed {
            return Ok((grant, "authorized_keys"));
        }
        if self.pushed_key_valid(user, key.key_data()).await {
            return Ok((Grant { pty: true, forced_command: None }, "instance-connect"));
        }
        Err(text.err().unwrap_or("key not authorized"))
    }

    /// The file is the instance user's: read it on a blocking thread, within a time limit,
    /// so that no file (a FIFO, a slow disk) can hold up the server.
    async fn read_authorized_keys(&self) -> Result<String, &'static str> {
        let (homes, uid) = (self.instance.homes.clone(), self.instance.uid);
        let read = tokio::task::spawn_blocking(move || authorized_keys::read(&homes, LOGIN_USER, uid));
        match tokio::time::timeout(AUTHORIZED_KEYS_TIMEOUT, read).await {
            Ok(Ok(read)) => read.map_err(|e| e.reason()),
            Ok(Err(_)) | Err(_) => Err("authorized_keys could not be read in time"),
        }
    }

    async fn pushed_key_valid(&self, user: &str, key: &ssh_key::public::KeyData) -> bool {
        let lookup = (self.instance.pushed_keys)(self.instance.instance_id.clone(), user.to_owned());
        match tokio::time::timeout(PUSHED_KEYS_TIMEOUT, lookup).await {
            Ok(keys) => keys.iter().any(|k| k == key),
            Err(_) => false,
        }
    }

    /// `result` is the method that admitted the key, or why it was refused.
    fn log(&self, user: &str, key: &ssh_key::PublicKey, result: Result<&'static str, &'static str>) {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let instance = self.instance.instance_id.as_str();
        if let Some(observer) = &self.instance.observer {
            let method = result.ok();
            let launch = self.instance.launch_key.as_ref();
            observer(super::LoginAttempt {
                account: self.instance.account.clone(),
                region: self.instance.region.clone(),
                instance_id: instance.to_owned(),
                user: user.to_owned(),
                fingerprint: fingerprint.clone(),
                key_name: launch.filter(|(_, k)| k == key.key_data()).map(|(name, _)| name.clone()),
                method,
                source: self.peer,
                refusal: result.err(),
            });
        }
        match result {
            Ok(_) => {
                tracing::info!(target: "keyfleet::ssh", instance, user, fingerprint, source = %self.peer, result = "accepted", "ssh authentication")
            }
            Err(reason) => {
                tracing::info!(target: "keyfleet::ssh", instance, user, fingerprint, source = %self.peer, result = "refused", reason, "ssh authentication")
            }
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        match self.authorize(user, offer.public_key).await {
            Ok(_) => Ok(Auth::Accept),
            Err(reason) => {
                self.log(user, offer.public_key, Err(reason));
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        let result = self.authorize(user, key.public_key).await;
        self.log(user, key.public_key, result.as_ref().map(|(_, method)| *method).map_err(|e: &&'static str| *e));
        match result {
            Ok((grant, _)) => {
                self.grant = Some(grant);
                Slot::authenticated(&self.admission, &self.pending);
                Ok(Auth::Accept)
            }
            Err(_) => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        let grant = self.grant.clone().unwrap_or_default();
        let mut commands = lock(&self.commands);
        while commands.try_join_next().is_some() {}
        commands.spawn(drive(channel, self.instance.clone(), grant));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.grant.as_ref().is_some_and(|g| g.pty) {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" { session.channel_success(channel) } else { session.channel_failure(channel) }
    }
}

/// What a session channel asked for before it started something.
struct PtyRequest {
    term: String,
    cols: u16,
    rows: u16,
}

/// Waits for the channel's request (shell, exec or sftp), then runs it to completion.
async fn drive(mut channel: Channel<Msg>, instance: Arc<InstanceSsh>, grant: Grant) {
    let mut pty: Option<PtyRequest> = None;
    let command: Option<String> = loop {
        match channel.wait().await {
            Some(ChannelMsg::RequestPty { term, col_width, row_height, .. }) if grant.pty => {
                pty = Some(PtyRequest { term, cols: or_default(col_width, 80), rows: or_default(row_height, 24) });
            }
            Some(ChannelMsg::RequestShell { .. }) => break grant.forced_command.clone(),
            Some(ChannelMsg::Exec { command, .. }) => {
                break Some(
                    grant.forced_command.clone().unwrap_or_else(|| String::from_utf8_lossy(&command).into_owned()),
                );
            }
            // As in sshd, a forced command replaces a subsystem too: `command=` keys get no sftp.
            Some(ChannelMsg::RequestSubsystem { name, .. }) if name == "sftp" => {
                pty = None;
                break Some(grant.forced_command.clone().unwrap_or_else(|| SFTP_SERVER.to_owned()));
            }
            None | Some(ChannelMsg::Close) => return,
            Some(_) => {}
        }
    };
    let Some(sandbox) = instance.sandbox.clone() else {
        let message =
            "keyfleet: this host cannot sandbox instance shells (install bubblewrap); refusing to run commands\r\n";
        let _ = channel.extended_data(1, message.as_bytes()).await;
        let _ = channel.exit_status(126).await;
        let _ = channel.eof().await;
        let _ = channel.close().await;
        return;
    };
    let term = pty.as_ref().map(|p| p.term.clone());
    let launch = Launch {
        volume: &instance.volume,
        hostname: &instance.hostname,
        uid: instance.uid,
        user: super::sandbox::SandboxUser::Ec2User,
        command: command.as_deref(),
        term: term.as_deref(),
        cgroup: instance.cgroup.as_ref(),
        network: instance.network.as_deref(),
    };
    let status = match &pty {
        Some(size) => run_with_pty(channel, &sandbox, &launch, size).await,
        None => run_piped(channel, &sandbox, &launch).await,
    };
    if let Err(e) = status {
        tracing::warn!(instance = %instance.instance_id, error = %e, "session command failed to start");
    }
}

/// A terminal dimension; clients without a terminal of their own (`ssh -tt` from a
/// script) send 0, which means "the usual".
fn or_default(v: u32, default: u16) -> u16 {
    if v == 0 { default } else { u16::try_from(v).unwrap_or(u16::MAX) }
}

/// The exit status SSH reports: the code, or 128 + signal as shells do.
fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> u32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => s.code().map_or_else(|| 128 + s.signal().unwrap_or(0).unsigned_abs(), |c| c.unsigned_abs()),
        Err(_) => 255,
    }
}

/// Ends a session channel the way sshd does: exit status, EOF, close.
async fn report_exit(writer: &russh::ChannelWriteHalf<Msg>, status: std::io::Result<std::process::ExitStatus>) {
    let _ = writer.exit_status(exit_code(status)).await;
    let _ = writer.eof().await;
    let _ = writer.close().await;
}

async fn run_piped(channel: Channel<Msg>, sandbox: &Sandbox, launch: &Launch<'_>) -> std::io::Result<()> {
    let mut child = sandbox.spawn_piped(launch)?;
    let (mut stdin, mut stdout, mut stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (mut reader, writer) = channel.split();
    let (mut out, mut err) = (writer.make_writer(), writer.make_writer_ext(Some(1)));
    let finished = async {
        let copy_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = tokio::io::copy(s, &mut out).await;
                let _ = out.flush().await;
            }
        };
        let copy_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = tokio::io::copy(s, &mut err).await;
                let _ = err.flush().await;
            }
        };
        tokio::join!(copy_out, copy_err);
        child.wait().await
    };
    tokio::pin!(finished);
    let status = loop {
        tokio::select! {
            status = &mut finished => break status,
            message = reader.wait() => match message {
                Some(ChannelMsg::Data { data }) => {
                    if let Some(input) = stdin.as_mut()
                        && input.write_all(&data).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Some(ChannelMsg::Eof) => stdin = None,
                None | Some(ChannelMsg::Close) => return Ok(()),
                Some(_) => {}
            },
        }
    };
    report_exit(&writer, status).await;
    Ok(())
}

async fn run_with_pty(
    channel: Channel<Msg>,
    sandbox: &Sandbox,
    launch: &Launch<'_>,
    size: &PtyRequest,
) -> std::io::Result<()> {
    let (pty, mut child) = sandbox.spawn_pty(launch, pty_process::Size::new(size.rows, size.cols))?;
    let (mut pty_out, mut pty_in) = pty.into_split();
    let (mut reader, writer) = channel.split();
    let mut out = writer.make_writer();
    let finished = async {
        // Reading the pty fails with EIO once every process holding it has exited.
        let _ = tokio::io::copy(&mut pty_out, &mut out).await;
        let _ = out.flush().await;
        child.wait().await
    };
    tokio::pin!(finished);
    let status = loop {
        tokio::select! {
            status = &mut finished => break status,
            message = reader.wait() => match message {
                Some(ChannelMsg::Data { data }) => {
                    let _ = pty_in.write_all(&data).await;
                }
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    let _ = pty_in.resize(pty_process::Size::new(or_default(row_height, 24), or_default(col_width, 80)));
                }
                None | Some(ChannelMsg::Close) => return Ok(()),
                Some(_) => {}
            },
        }
    };
    report_exit(&writer, status).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RefusalLog;

    #[test]
    fn refusals_are_recorded_once_a_second_per_source() {
        let log = RefusalLog::default();
        let (a, b) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        assert!(log.should_record(a));
        assert!(!log.should_record(a), "the same source again within the second");
        assert!(log.should_record(b));
    }
}

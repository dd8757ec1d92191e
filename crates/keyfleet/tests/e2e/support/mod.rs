//! The test harness: a started server, the tools, and small helpers.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Options for starting a server.
#[derive(Default, Clone)]
pub struct Options {
    /// `--dev`: no SigV4.
    pub dev: bool,
    /// `--key-pair-quota`.
    pub quota: Option<u32>,
    /// Extra environment for the server.
    pub env: Vec<(&'static str, String)>,
    /// Extra `serve` arguments.
    pub args: Vec<String>,
    /// `--database-url`: a PostgreSQL database (see [`postgres_database`]).
    pub database_url: Option<String>,
    /// Another server's data dir to use instead of a new one (replicas sharing volumes).
    pub data_dir: Option<PathBuf>,
    /// The CA bundle AWS clients trust (`AWS_CA_BUNDLE`), for a server given `--tls-cert`.
    pub ca_bundle: Option<PathBuf>,
    /// Leave the default security group as AWS makes it (SSH from its members only). By
    /// default a test server opens SSH to everyone, as the README's first launch does.
    pub firewalled: bool,
}

/// An access key to sign with.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub secret: String,
    /// The session token of temporary (STS) credentials.
    pub token: Option<String>,
}

impl Identity {
    /// Long-term credentials: a key and its secret.
    pub fn key(id: String, secret: String) -> Self {
        Identity { id, secret, token: None }
    }

    /// Temporary credentials as STS answers them (`Credentials` of AssumeRole's JSON).
    pub fn from_credentials(credentials: &serde_json::Value) -> Self {
        let field = |name: &str| credentials[name].as_str().expect("a credentials field").to_owned();
        Identity { id: field("AccessKeyId"), secret: field("SecretAccessKey"), token: Some(field("SessionToken")) }
    }
}

/// A running `keyfleet serve` with its own data dir; killed on drop.
pub struct TestServer {
    pub url: String,
    /// The port instances serve SSH on: a free one, never a fixed 22 or 2222 that a host
    /// sshd listening on every address would hold.
    pub ssh_port: u16,
    pub dir: tempfile::TempDir,
    pub access_key_id: String,
    pub secret_access_key: String,
    child: Child,
    options: Options,
    network: String,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    pub fn dev() -> Self {
        Self::start_with(Options { dev: true, ..Options::default() })
    }

    pub fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // Each server of this process gets its own loopback /16, so instances of servers
        // running in parallel never want the same address and port.
        static NEXT_NETWORK: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(100);
        let network = format!("127.{}.0.0", NEXT_NETWORK.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let ssh_port = free_port();
        let (child, url) = spawn(dir.path(), &options, &network, ssh_port);
        let (access_key_id, secret_access_key) = if options.dev {
            ("AKIDEXAMPLE".to_owned(), "dev-secret".to_owned())
        } else {
            let data_dir = options.data_dir.clone().unwrap_or_else(|| dir.path().join("data"));
            let text = std::fs::read_to_string(data_dir.join("admin-credentials")).expect("admin credentials");
            let field = |n: &str| {
                text.lines()
                    .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == n).map(|(_, v)| v.trim().to_owned()))
                    .expect(n)
            };
            (field("aws_access_key_id"), field("aws_secret_access_key"))
        };
        let server = TestServer { url, ssh_port, dir, access_key_id, secret_access_key, child, options, network };
        if !server.options.firewalled && tool_available("aws") {
            server.open_ssh();
        }
        server
    }

    /// Another replica on the same database: its own data dir holding copies of this one's
    /// admin credentials and master key, as a second machine would.
    pub fn replica(&self) -> Self {
        self.replica_with(self.options.clone())
    }

    /// Another replica with other options: with `data_dir` set it shares that data dir (and
    /// so the volumes); otherwise it gets copies of the shared secrets only.
    pub fn replica_with(&self, options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        if options.data_dir.is_none() {
            let data = dir.path().join("data");
            std::fs::create_dir(&data).expect("data dir");
            for file in ["admin-credentials", "master.key"] {
                std::fs::copy(self.data_dir().join(file), data.join(file)).expect("copy shared secrets");
            }
        }
        let (child, url) = spawn(dir.path(), &options, &self.network, self.ssh_port);
        TestServer {
            url,
            ssh_port: self.ssh_port,
            dir,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            child,
            options,
            network: self.network.clone(),
        }
    }

    /// The server's resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Kills the server with SIGKILL, as a crash would, and starts it again on the same
    /// data dir. The API port changes; instance addresses and the SSH port do not.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, url) = spawn(self.dir.path(), &self.options, &self.network, self.ssh_port);
        self.child = child;
        self.url = url;
    }

    /// `path` as the server sees it: volumes are mounted in the server's own mount namespace,
    /// which the test reaches through the server's `/proc/PID/root`.
    pub fn seen_by_server(&self, path: &Path) -> PathBuf {
        let relative = path.strip_prefix("/").unwrap_or(path);
        PathBuf::from(format!("/proc/{}/root", self.child.id())).join(relative)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.options.data_dir.clone().unwrap_or_else(|| self.dir.path().join("data"))
    }

    /// `keyfleet admin account create` beside the running server, on its data dir and
    /// database: the new account's id and root key.
    pub fn create_account(&self) -> (String, Identity) {
        let data_dir = self.data_dir();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keyfleet"));
        command.args(["admin", "account", "create", "--data-dir", data_dir.to_str().expect("utf-8 path")]);
        if let Some(url) = &self.options.database_url {
            command.args(["--database-url", url]);
        }
        let out = command.output().expect("keyfleet admin account create");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let created = String::from_utf8(out.stdout).expect("utf-8");
        let value = |name: &str| {
            let prefix = format!("{name} = ");
            created.lines().find_map(|l| l.strip_prefix(&prefix)).expect(name).trim().to_owned()
        };
        let root = Identity::key(value("aws_access_key_id"), value("aws_secret_access_key"));
        (value("account_id"), root)
    }

    /// Kills the server with SIGKILL, as a crash would, and leaves it dead.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Environment for AWS clients: this server's admin credentials and nothing from the host.
    pub fn aws_env(&self, command: &mut Command) {
        self.aws_env_as(command, &self.admin());
    }

    /// The admin (root) key.
    pub fn admin(&self) -> Identity {
        Identity::key(self.access_key_id.clone(), self.secret_access_key.clone())
    }

    /// Creates an IAM user with one access key and, if given, an inline policy (JSON).
    pub fn create_user(&self, name: &str, policy: Option<&str>) -> Identity {
        self.aws_ok(&format!("iam create-user --user-name {name}"));
        let key = json(&self.aws_ok(&format!("iam create-access-key --user-name {name}")))["AccessKey"].clone();
        if let Some(policy) = policy {
            let file = self.dir.path().join(format!("{name}-policy.json"));
            std::fs::write(&file, policy).expect("write policy");
            self.aws_ok(&format!(
                "iam put-user-policy --user-name {name} --policy-name main --policy-document file://{}",
                file.display()
            ));
        }
        Identity::key(
            key["AccessKeyId"].as_str().expect("key id").to_owned(),
            key["SecretAccessKey"].as_str().expect("secret").to_owned(),
        )
    }

    /// Environment for AWS clients signing as `who`.
    pub fn aws_env_as(&self, command: &mut Command, who: &Identity) {
        command
            .env("AWS_ACCESS_KEY_ID", &who.id)
            .env("AWS_SECRET_ACCESS_KEY", &who.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("no-aws-credentials"))
            .env("AWS_MAX_ATTEMPTS", "1")
            .env_remove("AWS_PROFILE");
        match &who.token {
            Some(token) => command.env("AWS_SESSION_TOKEN", token),
            None => command.env_remove("AWS_SESSION_TOKEN"),
        };
        match &self.options.ca_bundle {
            Some(bundle) => command.env("AWS_CA_BUNDLE", bundle),
            None => command.env_remove("AWS_CA_BUNDLE"),
        };
    }

    /// `aws --endpoint-url URL <command line>`, the command line split at whitespace as a
    /// shell would (no quoting needed in these tests); returns the output whatever the exit code.
    pub fn aws(&self, command_line: &str) -> Output {
        self.aws_as(&self.admin(), command_line)
    }

    /// `aws --endpoint-url URL ARGS…` signed as `who`, the arguments as given (for values
    /// with spaces or control characters); returns the output whatever the exit code.
    pub fn aws_argv_as(&self, who: &Identity, args: &[&str]) -> Output {
        let mut command = Command::new("aws");
        command.arg("--endpoint-url").arg(&self.url).args(args);
        self.aws_env_as(&mut command, who);
        command.output().expect("run aws")
    }

    /// `aws …` signed as `who`.
    pub fn aws_as(&self, who: &Identity, command_line: &str) -> Output {
        let mut command = Command::new("aws");
        command.arg("--endpoint-url").arg(&self.url).args(command_line.split_whitespace());
        self.aws_env_as(&mut command, who);
        command.output().expect("run aws")
    }

    /// `aws …` as `who` that must succeed; returns stdout.
    pub fn aws_ok_as(&self, who: &Identity, args: &str) -> String {
        let out = self.aws_as(who, args);
        assert!(out.status.success(), "aws {args} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// `aws …` as `who` that must fail with this error code; returns stderr.
    pub fn aws_err_as(&self, who: &Identity, args: &str, code: &str) -> String {
        let out = self.aws_as(who, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "aws {args} unexpectedly succeeded");
        assert!(stderr.contains(&format!("({code})")), "aws {args}: expected {code}, got {stderr}");
        stderr
    }

    /// Lets SSH in from anywhere through the default security group of `region`, as the
    /// README's first launch does; a second call finds the rule there and changes nothing.
    pub fn open_ssh_in(&self, region: &str) {
        let out = self.aws(&format!(
            "ec2 authorize-security-group-ingress --region {region} --group-name default --protocol tcp --port 22 \
             --cidr 0.0.0.0/0"
        ));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || stderr.contains("(InvalidPermission.Duplicate)"), "{stderr}");
    }

    /// [`TestServer::open_ssh_in`] us-east-1.
    pub fn open_ssh(&self) {
        self.open_ssh_in("us-east-1");
    }

    /// `aws …` that must succeed; returns stdout.
    pub fn aws_ok(&self, args: &str) -> String {
        self.aws_ok_as(&self.admin(), args)
    }

    /// `aws …` that must fail with this error code; returns stderr.
    pub fn aws_err(&self, args: &str, code: &str) -> String {
        self.aws_err_as(&self.admin(), args, code)
    }

    /// Runs a boto3 script from `tests/e2e/clients/` with this server's URL first.
    pub fn boto3(&self, script: &str, args: &[&str]) -> String {
        self.boto3_across(&[], script, args)
    }

    /// Runs a boto3 script whose clients alternate between this server and `others`.
    pub fn boto3_across(&self, others: &[&TestServer], script: &str, args: &[&str]) -> String {
        let out = self.boto3_command(others, script, args).output().expect("run python3");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{script} {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    /// Starts a boto3 script against this server, its output piped, without waiting for it.
    pub fn boto3_spawn(&self, script: &str, args: &[&str]) -> Child {
        let mut command = self.boto3_command(&[], script, args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command.spawn().expect("run python3")
    }

    fn boto3_command(&self, others: &[&TestServer], script: &str, args: &[&str]) -> Command {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients").join(script);
        let urls: Vec<&str> = std::iter::once(self.url.as_str()).chain(others.iter().map(|o| o.url.as_str())).collect();
        let mut command = Command::new("python3");
        command.arg(path).arg(urls.join(",")).args(args);
        self.aws_env(&mut command);
        command
    }

    /// Stops the server (SIGTERM, then wait) so its files are quiescent.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `keyfleet serve` on port 0 and reads its address from the first line it prints.
fn spawn(dir: &Path, options: &Options, network: &str, ssh_port: u16) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("serve.log")).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyfleet"));
    let data_dir = options.data_dir.clone().unwrap_or_else(|| dir.join("data"));
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
    if options.dev {
        command.arg("--dev");
    }
    if let Some(url) = &options.database_url {
        command.args(["--database-url", url]);
    }
    if let Some(q) = options.quota {
        command.args(["--key-pair-quota", &q.to_string()]);
    }
    command.args(["--instance-network", network, "--ssh-port", &ssh_port.to_string()]);
    // Tests launch up to fifty 8 GiB volumes whatever the machine's disk; the capacity
    // test sets its own.
    if !options.args.iter().any(|a| a == "--volume-capacity-gib") {
        command.args(["--volume-capacity-gib", "4096"]);
    }
    command.envs(options.env.iter().map(|(k, v)| (k, v))).args(&options.args);
    command.env("KEYFLEET_LOG", "debug").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
    let mut child = command.spawn().expect("start keyfleet");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("read banner");
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no address in banner {first:?}"))
        .to_owned();
    (child, url)
}

/// A TCP port nothing on this host listens on now (the kernel's pick for port 0): free on
/// every loopback address, since a listener on all addresses would hold it on 127.0.0.1 too.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address").port()
}

/// True if every tool is available. Otherwise: under `CI=true` the test fails, on a
/// laptop it prints why and the caller returns early.
pub fn require(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !tool_available(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!("missing {}: install them (see .ci/run)", missing.join(", "));
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must run this test, but {reason}");
    eprintln!("SKIPPED: {reason}");
    false
}

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn tool_available(tool: &str) -> bool {
    // Debian's openssh-sftp-server, which instances run for scp and sftp.
    if tool == "sftp-server" {
        return Path::new("/usr/lib/openssh/sftp-server").exists();
    }
    if tool == "boto3" {
        return Command::new("python3").args(["-c", "import boto3"]).output().is_ok_and(|o| o.status.success());
    }
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// A fresh PostgreSQL database for one test, at `KEYFLEET_TEST_POSTGRES` (default the local
/// server). `None` (and a printed reason) when there is none; under `CI=true` the test fails.
pub fn postgres_database() -> Option<String> {
    let server = std::env::var("KEYFLEET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    if !require(&["psql"]) {
        return None;
    }
    // Databases of earlier runs go first (one still in use refuses to be dropped, and stays).
    static CLEANED: std::sync::Once = std::sync::Once::new();
    CLEANED.call_once(|| {
        let query = format!(
            "SELECT datname FROM pg_database WHERE datname LIKE 'keyfleet_e2e_%' AND datname NOT LIKE 'keyfleet_e2e_{}_%'",
            std::process::id()
        );
        let listed = Command::new("psql").args([&server, "-Atc", &query]).output();
        for old in listed.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default().lines() {
            let _ = Command::new("psql").args([&server, "-qc", &format!("DROP DATABASE IF EXISTS {old}")]).output();
        }
    });
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name =
        format!("keyfleet_e2e_{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let created = Command::new("psql").args([&server, "-qc", &format!("CREATE DATABASE {name}")]).output();
    match created {
        Ok(out) if out.status.success() => {
            let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
            Some(format!("{base}/{name}"))
        }
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must reach PostgreSQL at {server}: {why}");
            eprintln!("SKIPPED: no PostgreSQL at {server}: {why}");
            None
        }
    }
}

/// Runs a command that must succeed; returns stdout.
/// Runs one SQL statement on a server's own SQLite database, beside the running server (as
/// another process would: SQLite's locking makes that safe).
pub fn sql_on_data_dir(server: &TestServer, statement: &str) {
    let database = server.data_dir().join("keyfleet.db");
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nassert c.execute(sys.argv[2]).rowcount == 1\nc.commit()";
    run_ok("python3", &["-c", script, &database.display().to_string(), statement]);
}

pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The CSRF token of a console page's forms.
pub fn csrf_token(page: &str) -> String {
    page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a CSRF token").to_owned()
}

/// Runs a shell pipeline that must succeed; returns stdout.
pub fn sh(script: &str) -> String {
    run_ok("sh", &["-c", script])
}

/// Parses JSON printed by a client.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `keyfleet-keys` fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keyfleet-keys/tests/data").join(name)
}

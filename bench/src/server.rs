//! The servers a run compares: keyfleet (`--dev`, a temporary data dir, the durable settings
//! as shipped, the rate limit off) and moto's server, both on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub url: String,
    /// From spawning the process to its first successful DescribeKeyPairs.
    pub first_answer: Duration,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Which keyfleet to run: a binary other than the default, and environment for it.
#[derive(Debug, Clone, Default)]
pub struct Build {
    /// Default: `$KEYFLEET_BIN`, else `target/release/keyfleet`.
    pub bin: Option<String>,
    /// Extra environment (`KEY=VALUE`).
    pub env: Vec<(String, String)>,
}

impl Server {
    /// Starts `target/release/keyfleet` (or `$KEYFLEET_BIN`) on a free port with `extra` arguments.
    pub fn keyfleet(database_url: Option<&str>, extra: &[&str]) -> Server {
        Server::keyfleet_build(&Build::default(), database_url, extra)
    }

    /// The same with a chosen binary and environment.
    pub fn keyfleet_build(build: &Build, database_url: Option<&str>, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut server = Server::start_keyfleet(&data, database_url, extra, DESCRIBE_ALL, build);
        server._dir = dir;
        server
    }

    /// The same on a given data dir (kept after the server stops).
    pub fn keyfleet_in(data_dir: &std::path::Path, extra: &[&str]) -> Server {
        Server::start_keyfleet(data_dir, None, extra, DESCRIBE_ALL, &Build::default())
    }

    /// The same on a data dir where the key pair `s0` exists. The first answer is a lookup of
    /// it, whose cost does not grow with the store, so that it times the start-up alone.
    pub fn keyfleet_with_s0(data_dir: &std::path::Path) -> Server {
        let probe = "Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=s0";
        Server::start_keyfleet(data_dir, None, &[], probe, &Build::default())
    }

    fn start_keyfleet(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        extra: &[&str],
        probe: &str,
        build: &Build,
    ) -> Server {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let bin = build.bin.clone().or_else(|| std::env::var("KEYFLEET_BIN").ok());
        let bin = bin.unwrap_or_else(|| root.join("target/release/keyfleet").display().to_string());
        assert!(std::path::Path::new(&bin).exists(), "{bin} is missing: cargo build --release -p keyfleet");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(&bin);
        command.args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
            "--instance-network",
            "127.251.0.0",
        ]);
        command.arg("--data-dir").arg(data_dir).args(extra);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command.envs(build.env.iter().map(|(k, v)| (k, v)));
        command.env("KEYFLEET_LOG", "warn").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn().expect("start keyfleet");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        reader.read_line(&mut banner).expect("banner");
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = banner.split_whitespace().find(|w| w.starts_with("http://")).expect("address in banner").to_owned();
        let first_answer = wait_for_first_answer(&url, started, probe);
        wait_for_full_rsa_pool(&url);
        Server { url, first_answer, child, _dir: dir }
    }

    /// Starts `moto_server` on a free port.
    pub fn moto() -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let dir = tempfile::tempdir().expect("temp dir");
        let started = Instant::now();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        let url = format!("http://127.0.0.1:{port}");
        let first_answer = wait_for_first_answer(&url, started, DESCRIBE_ALL);
        Server { url, first_answer, child, _dir: dir }
    }

    /// Clears every key pair (both servers have `POST /moto-api/reset`).
    pub fn reset(&self) {
        ureq::post(format!("{}/moto-api/reset", self.url)).send_empty().expect("reset");
    }

    /// CPU time the server process has used so far, user and system (`/proc/<pid>/stat`).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces:
        // state is the first, utime the 12th and stime the 13th.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        let per_second = rustix::param::clock_ticks_per_second().max(1);
        Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / per_second as f64)
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first request of a fresh server (both servers start empty).
const DESCRIBE_ALL: &str = "Action=DescribeKeyPairs&Version=2016-11-15";

fn wait_for_first_answer(url: &str, started: Instant, probe: &str) -> Duration {
    let agent = crate::workload::agent();
    while started.elapsed() < Duration::from_secs(60) {
        if crate::workload::try_post(&agent, url, probe).is_ok() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{url} did not answer within 60 s");
}

/// Waits (up to a minute) until the RSA pool is full, so that filling it does not compete
/// with the first workload: a server between bursts looks like this.
fn wait_for_full_rsa_pool(url: &str) {
    let metric = |text: &str, name: &str| -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let text = ureq::get(format!("{url}/metrics")).call().ok().and_then(|r| r.into_body().read_to_string().ok());
        let text = text.unwrap_or_default();
        match (metric(&text, "keyfleet_rsa_pool_ready "), metric(&text, "keyfleet_rsa_pool_capacity ")) {
            (Some(ready), Some(capacity)) if ready < capacity => std::thread::sleep(Duration::from_millis(100)),
            _ => return,
        }
    }
}

/// A new database on the local PostgreSQL (`$KEYFLEET_TEST_POSTGRES`, default postgres@127.0.0.1).
pub fn fresh_postgres_database() -> String {
    let server = std::env::var("KEYFLEET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("keyfleet_bench_{}", std::process::id());
    let psql = |sql: String| {
        Command::new("psql").env("PGOPTIONS", "--client-min-messages=warning").args([&server, "-qc", &sql]).status()
    };
    let _ = psql(format!("DROP DATABASE IF EXISTS {name}"));
    assert!(psql(format!("CREATE DATABASE {name}")).is_ok_and(|s| s.success()), "cannot create a database at {server}");
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

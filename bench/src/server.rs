//! A keyfleet server started for a run: `--dev`, a temporary data dir, the durable settings
//! as shipped, the rate limit off.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `target/release/keyfleet` (or `$KEYFLEET_BIN`) on a free port.
    pub fn start(database_url: Option<&str>) -> Server {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let bin = std::env::var("KEYFLEET_BIN")
            .unwrap_or_else(|_| root.join("target/release/keyfleet").display().to_string());
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
        command.arg("--data-dir").arg(dir.path().join("data"));
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command.env("KEYFLEET_LOG", "warn").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().expect("start keyfleet");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        reader.read_line(&mut banner).expect("banner");
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = banner.split_whitespace().find(|w| w.starts_with("http://")).expect("address in banner").to_owned();
        Server { url, child, _dir: dir }
    }

    /// Clears every key pair (the `--dev` reset endpoint).
    pub fn reset(&self) {
        ureq::post(format!("{}/moto-api/reset", self.url)).send_empty().expect("reset");
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

/// A new database on the local PostgreSQL (`$KEYFLEET_TEST_POSTGRES`, default postgres@127.0.0.1).
pub fn fresh_postgres_database() -> String {
    let server = std::env::var("KEYFLEET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("keyfleet_bench_{}", std::process::id());
    let _ = Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .args([&server, "-qc", &format!("DROP DATABASE IF EXISTS {name}")])
        .status();
    let created = Command::new("psql").args([&server, "-qc", &format!("CREATE DATABASE {name}")]).status();
    assert!(created.is_ok_and(|s| s.success()), "cannot create a database at {server} (psql)");
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

//! keyfleet's load harness: starts the servers to compare, runs the same bounded workloads
//! against each in one run, and prints latency percentiles, throughput and the ratio.
//!
//! `keyfleet-bench backends`: SQLite against PostgreSQL (issue 6). Requests are unsigned
//! against `--dev` servers, so the numbers are the server's, not SigV4's; the load generator
//! is plain threads with keep-alive connections. Loopback only; every loop is bounded by a
//! request count and a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a tool: fail loudly

mod server;
mod workload;

use std::time::Duration;

use server::Server;
use workload::{Stats, Workload};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("backends") => backends(&args[1..]),
        _ => {
            eprintln!("usage: keyfleet-bench backends [--requests N] [--database-url postgres://…]");
            std::process::exit(2);
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// CreateKeyPair (ed25519) and DescribeKeyPairs (one name) on SQLite and on PostgreSQL.
fn backends(args: &[String]) {
    let requests: usize = flag(args, "--requests").map_or(2000, |n| n.parse().expect("--requests N"));
    let postgres = flag(args, "--database-url").unwrap_or_else(server::fresh_postgres_database);
    let servers = [("sqlite", Server::start(None)), ("postgres", Server::start(Some(&postgres)))];
    let workloads = [
        Workload::create_ed25519(1, requests / 4),
        Workload::create_ed25519(8, requests),
        Workload::describe_one(1, requests / 2, 1000),
        Workload::describe_one(8, requests * 2, 1000),
    ];
    println!(
        "{:<26} {:>30} {:>30} {:>10}",
        "workload", "sqlite p50/p99 ms, req/s", "postgres p50/p99 ms, req/s", "pg/sqlite"
    );
    for workload in &workloads {
        let results: Vec<Stats> = servers.iter().map(|(_, s)| workload.run(s, Duration::from_secs(60))).collect();
        println!(
            "{:<26} {:>30} {:>30} {:>9.2}x",
            workload.name,
            results[0].summary(),
            results[1].summary(),
            results[1].throughput() / results[0].throughput()
        );
    }
    for (name, server) in &servers {
        println!("{name}: idle RSS {} MiB after the run", server.rss_kib() / 1024);
    }
}

//! keyfleet's load harness: starts the servers to compare, runs the same bounded workloads
//! against each in one run, and prints latency percentiles, throughput and the ratios.
//!
//! - `keyfleet-bench moto`: keyfleet against moto's server, with PASS/FAIL per target.
//! - `keyfleet-bench backends`: keyfleet on SQLite against keyfleet on PostgreSQL.
//!
//! Requests go to `--dev` servers (moto verifies nothing either), so the figures are the
//! servers', not SigV4's. The load generator is plain threads with keep-alive connections.
//! Loopback only; every loop is bounded by a request count and a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a tool: fail loudly

mod server;
mod workload;

use server::{Build, Server};
use workload::{Seed, Stats, Workload, seed};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("moto") => against_moto(),
        Some("backends") => backends(&args[1..]),
        Some("scale") => scale(&args[1..]),
        Some("writes") => writes(&args[1..]),
        Some("reads") => reads(&args[1..]),
        Some("console") => console(&args[1..]),
        _ => {
            eprintln!(
                "usage: keyfleet-bench moto | backends [--requests N] [--database-url postgres://…] | scale [--key-pairs N] | writes [--requests N] [--env K=V] [--baseline BIN] [--baseline-env K=V] | reads [--requests N] | console [--requests N]"
            );
            std::process::exit(2);
        }
    }
}

/// Runs every workload on every server; a server is seeded once per seed, and again after
/// a workload that changed it.
fn run_all(servers: &[&Server], workloads: &[Workload]) -> Vec<Vec<Stats>> {
    let mut current: Vec<Option<Seed>> = vec![None; servers.len()];
    workloads
        .iter()
        .map(|w| {
            let results: Vec<Stats> = servers
                .iter()
                .enumerate()
                .map(|(i, server)| {
                    if w.mutates || current[i] != Some(w.seed) {
                        seed(server, w.seed);
                        current[i] = (!w.mutates).then_some(w.seed);
                    }
                    w.run(server)
                })
                .collect();
            let line: Vec<String> = results.iter().map(Stats::summary).collect();
            println!("{:<34} {}", w.name, line.join("   "));
            results
        })
        .collect()
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// CreateKeyPair (ed25519) and DescribeKeyPairs (one name) on SQLite and on PostgreSQL.
fn backends(args: &[String]) {
    let requests: usize = flag(args, "--requests").map_or(2000, |n| n.parse().expect("--requests N"));
    let postgres = flag(args, "--database-url").unwrap_or_else(server::fresh_postgres_database);
    let sqlite = Server::keyfleet(None, &[]);
    let pg = Server::keyfleet(Some(&postgres), &[]);
    let workloads = [
        Workload::create("ed25519", 1, requests / 4),
        Workload::create("ed25519", 8, requests),
        Workload::describe_one(1000, 1, requests / 2),
        Workload::describe_one(1000, 8, requests * 2),
    ];
    println!("{:<34} {:<32}   {:<32}", "workload", "sqlite: p50/p99, throughput", "postgres: p50/p99, throughput");
    let results = run_all(&[&sqlite, &pg], &workloads);
    println!();
    for (w, r) in workloads.iter().zip(&results) {
        println!("{:<34} postgres/sqlite throughput {:.2}x", w.name, r[1].throughput() / r[0].throughput());
    }
}

/// keyfleet alone on the write paths at concurrency 8: a quick loop while tuning them.
/// The write paths at concurrency 8; with `--baseline BIN` (and `--baseline-env K=V`, or
/// `--env K=V` for this build) also against another build, with this one's ratios to it.
fn writes(args: &[String]) {
    let requests: usize = flag(args, "--requests").map_or(4000, |n| n.parse().expect("--requests N"));
    let env_of = |name: &str| -> Vec<(String, String)> {
        flag(args, name)
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("K=V");
                vec![(k.to_owned(), v.to_owned())]
            })
            .unwrap_or_default()
    };
    let keyfleet = Server::keyfleet_build(&Build { bin: None, env: env_of("--env") }, None, &[]);
    let workloads =
        [Workload::create("ed25519", 8, requests), Workload::import(8, requests), Workload::delete(8, requests)];
    let Some(baseline) = flag(args, "--baseline") else {
        println!("{:<34} {:<32}", "workload", "keyfleet: p50/p99, throughput");
        run_all(&[&keyfleet], &workloads);
        return;
    };
    let baseline =
        Server::keyfleet_build(&Build { bin: Some(baseline.to_owned()), env: env_of("--baseline-env") }, None, &[]);
    println!("{:<34} {:<32}   {:<32}", "workload", "this build: p50/p99, throughput", "baseline");
    let results = run_all(&[&keyfleet, &baseline], &workloads);
    println!();
    for (w, r) in workloads.iter().zip(&results) {
        let cpu = r[0].cpu_per_request().as_secs_f64() / r[1].cpu_per_request().as_secs_f64().max(f64::MIN_POSITIVE);
        println!(
            "{:<34} this/baseline: throughput {:.2}x, cpu per request {:.2}x",
            w.name,
            r[0].throughput() / r[1].throughput(),
            cpu
        );
    }
}

/// keyfleet alone on the listing paths at 5000 key pairs, concurrency 8: a quick loop while
/// tuning them.
fn reads(args: &[String]) {
    let requests: usize = flag(args, "--requests").map_or(64, |n| n.parse().expect("--requests N"));
    let keyfleet = Server::keyfleet(None, &[]);
    let workloads = [
        Workload::describe_all(5000, 8, requests),
        Workload::tag_filter(5000, 8, requests),
        Workload::describe_one(5000, 8, requests * 100),
    ];
    println!("{:<34} {:<32}", "workload", "keyfleet: p50/p99, throughput");
    run_all(&[&keyfleet], &workloads);
}

/// The console's Key Pairs page at 5000 key pairs against the API's DescribeKeyPairs of the
/// same 5000 (the reference, in the same run), one request at a time; the page's p50 target
/// is 30 ms.
fn console(args: &[String]) {
    let requests: usize = flag(args, "--requests").map_or(200, |n| n.parse().expect("--requests N"));
    let keyfleet = Server::keyfleet(None, &[]);
    let workloads = [Workload::describe_all(5000, 1, requests), Workload::console_key_pairs(5000, 1, requests)];
    println!("{:<34} {:<32}", "workload", "keyfleet: p50/p99, throughput");
    let results = run_all(&[&keyfleet], &workloads);
    let (api, page) = (&results[0][0], &results[1][0]);
    let p50 = page.percentile(0.5);
    println!();
    println!("console page / API describe-all p50: {:.2}x", p50.as_secs_f64() / api.percentile(0.5).as_secs_f64());
    let verdict = if p50.as_millis() <= 30 { "PASS" } else { "FAIL" };
    println!("console page p50 {:.1} ms (target 30 ms): {verdict}", p50.as_secs_f64() * 1000.0);
}

/// An empty store against one with a million key pairs over 200 (account, region) scopes:
/// time to first answer, idle RSS and describe-one latency must stay within 2x.
fn scale(args: &[String]) {
    let total: usize = flag(args, "--key-pairs").map_or(1_000_000, |n| n.parse().expect("--key-pairs N"));
    let big_dir = tempfile::tempdir().expect("temp dir");
    let data = big_dir.path().join("data");
    drop(Server::keyfleet_in(&data, &[])); // makes the schema
    let seeded = std::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seed_million.py"))
        .arg(data.join("keyfleet.db"))
        .args([total.to_string(), "200".to_owned()])
        .status()
        .expect("python3");
    assert!(seeded.success(), "seeding failed");
    let empty_dir = tempfile::tempdir().expect("temp dir");
    let empty_data = empty_dir.path().join("data");
    workload::seed(&Server::keyfleet_in(&empty_data, &[]), Seed::KeyPairs(1));
    // Start-up time: the median of three starts of each, the first one after a cold open.
    let median_start = |dir: &std::path::Path| {
        let mut times: Vec<_> = (0..3).map(|_| Server::keyfleet_with_s0(dir).first_answer).collect();
        times.sort();
        times[1]
    };
    let ttfa = [median_start(&empty_data), median_start(&data)];
    let empty = Server::keyfleet_in(&empty_data, &[]);
    let big = Server::keyfleet_in(&data, &[]);
    let describe = Workload::describe_one(1, 1, 2000);
    let stats = [describe.run(&empty), describe.run(&big)];
    let rss = [empty.rss_kib(), big.rss_kib()];
    println!("{:<28} {:>16} {:>16} {:>8}", "", "empty store", format!("{total} key pairs"), "ratio");
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        println!("{name:<28} {a:>13.2} {unit:<2} {b:>13.2} {unit:<2} {:>7.2}x", b / a);
        b / a
    };
    let ratios = [
        row("time to first answer", ttfa[0].as_secs_f64() * 1000.0, ttfa[1].as_secs_f64() * 1000.0, "ms"),
        row("idle RSS", rss[0] as f64 / 1024.0, rss[1] as f64 / 1024.0, "MB"),
        row(
            "describe-one p50",
            stats[0].percentile(0.5).as_secs_f64() * 1000.0,
            stats[1].percentile(0.5).as_secs_f64() * 1000.0,
            "ms",
        ),
    ];
    let names = ["time to first answer", "idle RSS", "describe-one p50"];
    for (name, ratio) in names.iter().zip(ratios) {
        println!("{} {name} within 2x of an empty store", if ratio <= 2.0 { "PASS" } else { "FAIL" });
    }
}

/// Keys per second generating RSA-2048 on one thread, for about `seconds`.
fn rsa_rate_one_core(seconds: f64) -> f64 {
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed().as_secs_f64() < seconds {
        std::hint::black_box(keyfleet_keys::generate::generate(keyfleet_keys::KeyType::Rsa).expect("keygen"));
        n += 1;
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

/// Latency through boto3 at concurrency 1, what a user's script sees (client overhead
/// included), on each server emptied first: `boto3_latency.py`'s lines side by side.
fn boto3_latency(servers: &[&Server; 2]) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("boto3_latency.py");
    let measured: Vec<Vec<(String, f64, f64)>> = servers
        .iter()
        .map(|server| {
            server.reset();
            let out = std::process::Command::new("python3").arg(&script).arg(&server.url).arg("200").output();
            let out = out.expect("python3");
            assert!(out.status.success(), "boto3_latency.py: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|line| {
                    let mut fields = line.split_whitespace();
                    let name = fields.next()?.to_owned();
                    Some((name, fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
                })
                .collect()
        })
        .collect();
    println!();
    println!("{:<34} {:<20} {:<20} p50 ratio", "boto3, c=1 (what users see)", "keyfleet p50/p99", "moto p50/p99");
    for ((name, k50, k99), (_, m50, m99)) in measured[0].iter().zip(&measured[1]) {
        let (keyfleet, moto) = (format!("{k50:.2}/{k99:.2} ms"), format!("{m50:.2}/{m99:.2} ms"));
        println!("{name:<34} {keyfleet:<20} {moto:<20} {:.3}x", k50 / m50);
    }
}

/// keyfleet against moto, with the targets of issue 7.
fn against_moto() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let floor = rsa_rate_one_core(3.0) * cores as f64;
    println!("machine: {cores} cores; RSA-2048 keygen floor {floor:.1}/s (one core's rate x cores, measured now)");
    let keyfleet = Server::keyfleet(None, &[]);
    let moto = Server::moto();
    let idle = [keyfleet.rss_kib(), moto.rss_kib()];
    let mut workloads = vec![];
    for c in [1, 8] {
        workloads.push(Workload::create("rsa", c, if c == 1 { 40 } else { 160 }));
    }
    workloads.push(Workload::create_rsa_drained(8, 200, 300));
    for c in [1, 8] {
        let n = if c == 1 { 400 } else { 2000 };
        workloads.push(Workload::create("ed25519", c, n));
        workloads.push(Workload::import(c, n));
        workloads.push(Workload::delete(c, n));
    }
    for c in [1, 8] {
        workloads.push(Workload::describe_one(1000, c, if c == 1 { 500 } else { 3000 }));
    }
    for c in [1, 8] {
        workloads.push(Workload::describe_one(5000, c, if c == 1 { 500 } else { 3000 }));
        workloads.push(Workload::describe_all(5000, c, if c == 1 { 6 } else { 16 }));
        workloads.push(Workload::tag_filter(5000, c, if c == 1 { 6 } else { 16 }));
    }
    println!("{:<34} {:<32}   {:<32}", "workload", "keyfleet: p50/p99, throughput", "moto: p50/p99, throughput");
    let results = run_all(&[&keyfleet, &moto], &workloads);
    let find = |name: &str| {
        let i = workloads.iter().position(|w| w.name == name).unwrap_or_else(|| panic!("no workload {name}"));
        &results[i]
    };
    println!();
    for (w, r) in workloads.iter().zip(&results) {
        let p50 = r[0].percentile(0.5).as_secs_f64() / r[1].percentile(0.5).as_secs_f64();
        println!(
            "{:<34} keyfleet/moto: throughput {:>8.1}x, p50 latency {:.3}x",
            w.name,
            r[0].throughput() / r[1].throughput(),
            p50
        );
    }
    boto3_latency(&[&keyfleet, &moto]);
    let ttfa = [keyfleet.first_answer, moto.first_answer];
    println!();
    println!("idle RSS: keyfleet {} MiB, moto {} MiB", idle[0] / 1024, idle[1] / 1024);
    println!("time to first answer: keyfleet {:?}, moto {:?}", ttfa[0], ttfa[1]);
    println!();
    let drained = &find("create rsa, pool drained c=8")[0];
    let throughput_ratio = |name: &str| {
        let r = find(name);
        r[0].throughput() / r[1].throughput()
    };
    let mut targets = vec![
        ("CreateKeyPair rsa c=1: p50 <= 1/10 of moto's", {
            let r = find("create rsa c=1");
            r[0].percentile(0.5).as_secs_f64() * 10.0 <= r[1].percentile(0.5).as_secs_f64()
        }),
        (
            "rsa, pool drained: >= 2x moto's rsa c=8 throughput",
            drained.throughput() >= 2.0 * find("create rsa c=8")[1].throughput(),
        ),
        ("rsa, pool drained: >= 80% of the keygen floor", drained.throughput() >= 0.8 * floor),
    ];
    for name in ["create ed25519 c=8", "import c=8", "delete c=8"] {
        targets.push((name, throughput_ratio(name) >= 20.0));
    }
    targets.push(("describe-one@5000 c=8: >= 30x", throughput_ratio("describe-one@5000 c=8") >= 30.0));
    targets.push(("describe-all@5000 c=8: >= 300x", throughput_ratio("describe-all@5000 c=8") >= 300.0));
    targets.push(("tag filter@5000 c=8: >= 300x", throughput_ratio("tag filter@5000 c=8") >= 300.0));
    targets.push(("idle RSS <= 1/5 of moto's", idle[0] * 5 <= idle[1]));
    targets.push(("time to first answer <= 1/10 of moto's", ttfa[0] * 10 <= ttfa[1]));
    println!(
        "rsa once the pool is drained: {:.1}/s = {:.0}% of the floor",
        drained.throughput(),
        100.0 * drained.throughput() / floor
    );
    for (name, passed) in targets {
        println!("{} {name}", if passed { "PASS" } else { "FAIL" });
    }
}

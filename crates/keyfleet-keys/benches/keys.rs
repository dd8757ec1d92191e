//! The key-material hot paths: generation, the encodings CreateKeyPair returns, import
//! parsing and fingerprints. `cargo bench -p keyfleet-keys`.
//!
//! After the criterion groups, RSA keygen throughput with every core busy is reported against
//! the machine's floor: the single-thread rate measured in the same run times the cores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use keyfleet_keys::{KeyFormat, KeyType, fingerprint, generate, import};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

fn keygen(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.bench_function("rsa-2048", |b| b.iter(|| generate::generate(KeyType::Rsa).unwrap()));
    group.bench_function("ed25519", |b| b.iter(|| generate::generate(KeyType::Ed25519).unwrap()));
    group.finish();
}

fn encode(c: &mut Criterion) {
    let rsa = generate::generate(KeyType::Rsa).unwrap();
    let ed = generate::generate(KeyType::Ed25519).unwrap();
    let mut group = c.benchmark_group("encode");
    group.bench_function("rsa-pem", |b| b.iter(|| rsa.to_material(KeyFormat::Pem, black_box("k")).unwrap()));
    group.bench_function("rsa-ppk", |b| b.iter(|| rsa.to_material(KeyFormat::Ppk, black_box("k")).unwrap()));
    group.bench_function("ed25519-openssh", |b| b.iter(|| ed.to_material(KeyFormat::Pem, black_box("k")).unwrap()));
    group.bench_function("ed25519-ppk", |b| b.iter(|| ed.to_material(KeyFormat::Ppk, black_box("k")).unwrap()));
    group.finish();
}

fn parse_and_fingerprint(c: &mut Criterion) {
    let openssh = fixture("aws_rsa.pub");
    let rfc4716 = fixture("aws_rsa.rfc4716");
    let spki = fixture("aws_rsa.spki.b64");
    let ed_line = fixture("ed25519.pub");
    let mut group = c.benchmark_group("import");
    group.bench_function("rsa-openssh", |b| b.iter(|| import::parse_public_key_material(black_box(&openssh)).unwrap()));
    group.bench_function("rsa-rfc4716", |b| b.iter(|| import::parse_public_key_material(black_box(&rfc4716)).unwrap()));
    group
        .bench_function("rsa-spki-base64", |b| b.iter(|| import::parse_public_key_material(black_box(&spki)).unwrap()));
    group.bench_function("ed25519-openssh", |b| {
        b.iter(|| import::parse_public_key_material(black_box(&ed_line)).unwrap())
    });
    group.finish();

    let rsa = generate::generate(KeyType::Rsa).unwrap();
    let ed = generate::generate(KeyType::Ed25519).unwrap();
    let imported = import::parse_public_key_material(&openssh).unwrap();
    let mut group = c.benchmark_group("fingerprint");
    group.bench_function("rsa-created-sha1-pkcs8", |b| b.iter(|| fingerprint::of_created(black_box(&rsa)).unwrap()));
    group.bench_function("rsa-imported-md5-spki", |b| {
        b.iter(|| fingerprint::of_imported(black_box(&imported)).unwrap())
    });
    group.bench_function("ed25519-sha256", |b| b.iter(|| fingerprint::of_created(black_box(&ed)).unwrap()));
    group.finish();
}

/// Keys per second on `threads` threads for about `seconds`.
fn rsa_rate(threads: usize, seconds: f64) -> f64 {
    let started = Instant::now();
    let made: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0;
                    while started.elapsed().as_secs_f64() < seconds {
                        black_box(generate::generate(KeyType::Rsa).unwrap());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    made as f64 / started.elapsed().as_secs_f64()
}

fn rsa_floor() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let single = rsa_rate(1, 5.0);
    let all = rsa_rate(cores, 5.0);
    let floor = single * cores as f64;
    println!(
        "rsa-2048 keygen: {single:.1}/s on one core; {all:.1}/s on {cores} cores = {:.0}% of the floor ({floor:.1}/s)",
        100.0 * all / floor
    );
}

criterion_group!(benches, keygen, encode, parse_and_fingerprint);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    rsa_floor();
}

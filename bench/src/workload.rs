//! Workloads: a request body per index, run by N threads until the count or the deadline.
//! Every request carries a SigV4-shaped `Authorization` header (unsigned servers read the
//! region and service from it; neither verifies it), so both servers parse the same request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::server::Server;

/// An Ed25519 public key, base64-encoded as the SDKs send `PublicKeyMaterial`.
const IMPORT_MATERIAL: &str = "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUxSK3pOUWJZWTVPUnVoWVhHTVRTbmpSTHpTOUM1ZFVkV1JLZGxxaTIwcTIgc29tZW9uZUBob3N0Cg%3D%3D";

/// What must be in the store before the timed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Nothing.
    Empty,
    /// `n` Ed25519 key pairs `s0…`, tagged `team=<i % 10>`.
    KeyPairs(usize),
}

pub struct Workload {
    pub name: String,
    pub concurrency: usize,
    requests: usize,
    deadline: Duration,
    pub seed: Seed,
    /// Changes the store, so it cannot share a seeded store with the next workload.
    pub mutates: bool,
    /// Unmeasured requests first (to drain the RSA pool).
    warmup: usize,
    body: Box<dyn Fn(usize) -> String + Sync>,
    /// A console page to GET (signed in once per run) instead of the API request `body`.
    page: Option<&'static str>,
}

impl Workload {
    fn new(
        name: &str,
        concurrency: usize,
        requests: usize,
        seed: Seed,
        body: impl Fn(usize) -> String + Sync + 'static,
    ) -> Workload {
        Workload {
            name: format!("{name} c={concurrency}"),
            concurrency,
            requests,
            deadline: Duration::from_secs(30),
            seed,
            mutates: false,
            warmup: 0,
            body: Box::new(body),
            page: None,
        }
    }

    /// The console's Key Pairs page (its first 50 rows, sorted by name) over `n` key pairs.
    pub fn console_key_pairs(n: usize, concurrency: usize, requests: usize) -> Workload {
        let mut workload =
            Workload::new(&format!("console key pairs@{n}"), concurrency, requests, Seed::KeyPairs(n), |_| {
                String::new()
            });
        workload.page = Some("/console/ec2/key-pairs?region=us-east-1");
        workload
    }

    fn mutating(mut self) -> Workload {
        self.mutates = true;
        self
    }

    /// CreateKeyPair of a key type, a new name per request.
    pub fn create(key_type: &'static str, concurrency: usize, requests: usize) -> Workload {
        Workload::new(&format!("create {key_type}"), concurrency, requests, Seed::Empty, move |i| {
            format!("Action=CreateKeyPair&Version=2016-11-15&KeyType={key_type}&KeyName=k{i}")
        })
        .mutating()
    }

    /// CreateKeyPair (rsa) after `warmup` unmeasured calls: the rate once the pool is drained.
    pub fn create_rsa_drained(concurrency: usize, warmup: usize, requests: usize) -> Workload {
        let mut w = Workload::create("rsa", concurrency, requests);
        w.name = format!("create rsa, pool drained c={concurrency}");
        w.warmup = warmup;
        w
    }

    /// ImportKeyPair of one Ed25519 public key under new names.
    pub fn import(concurrency: usize, requests: usize) -> Workload {
        Workload::new("import", concurrency, requests, Seed::Empty, |i| {
            format!("Action=ImportKeyPair&Version=2016-11-15&KeyName=k{i}&PublicKeyMaterial={IMPORT_MATERIAL}")
        })
        .mutating()
    }

    /// DescribeKeyPairs of one name among `n` key pairs.
    pub fn describe_one(n: usize, concurrency: usize, requests: usize) -> Workload {
        Workload::new(&format!("describe-one@{n}"), concurrency, requests, Seed::KeyPairs(n), move |i| {
            format!("Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=s{}", (i * 7919) % n)
        })
    }

    /// DescribeKeyPairs of every key pair among `n`.
    pub fn describe_all(n: usize, concurrency: usize, requests: usize) -> Workload {
        Workload::new(&format!("describe-all@{n}"), concurrency, requests, Seed::KeyPairs(n), |_| {
            "Action=DescribeKeyPairs&Version=2016-11-15".to_owned()
        })
    }

    /// DescribeKeyPairs with a tag filter matching a tenth of `n`.
    pub fn tag_filter(n: usize, concurrency: usize, requests: usize) -> Workload {
        Workload::new(&format!("tag filter@{n}"), concurrency, requests, Seed::KeyPairs(n), |i| {
            format!("Action=DescribeKeyPairs&Version=2016-11-15&Filter.1.Name=tag%3Ateam&Filter.1.Value.1={}", i % 10)
        })
    }

    /// DeleteKeyPair of the seeded key pairs, one each.
    pub fn delete(concurrency: usize, requests: usize) -> Workload {
        Workload::new("delete", concurrency, requests, Seed::KeyPairs(requests), |i| {
            format!("Action=DeleteKeyPair&Version=2016-11-15&KeyName=s{i}")
        })
        .mutating()
    }

    /// Runs the timed part (the caller has seeded the store).
    pub fn run(&self, server: &Server) -> Stats {
        let warmup_agent = agent();
        for i in 0..self.warmup {
            post(&warmup_agent, &server.url, &(self.body)(1_000_000 + i));
        }
        let cookie = self.page.map(|_| console_session(server));
        let request = |agent: &ureq::Agent, i: usize| match (self.page, &cookie) {
            (Some(page), Some(cookie)) => get(agent, &format!("{}{page}", server.url), cookie),
            _ => post(agent, &server.url, &(self.body)(i)),
        };
        let next = AtomicUsize::new(0);
        let cpu_before = server.cpu_time();
        let started = Instant::now();
        let latencies: Vec<Duration> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.concurrency)
                .map(|_| {
                    scope.spawn(|| {
                        let agent = agent();
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= self.requests || started.elapsed() > self.deadline {
                                return mine;
                            }
                            let t = Instant::now();
                            request(&agent, i);
                            mine.push(t.elapsed());
                        }
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
        });
        let wall = started.elapsed();
        Stats::new(latencies, wall, server.cpu_time().saturating_sub(cpu_before))
    }
}

/// Empties the server and creates the seed, 8 requests at a time.
pub fn seed(server: &Server, seed: Seed) {
    server.reset();
    let Seed::KeyPairs(n) = seed else { return };
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let team = i % 10;
                    post(
                        &agent,
                        &server.url,
                        &format!(
                            "Action=CreateKeyPair&Version=2016-11-15&KeyType=ed25519&KeyName=s{i}&TagSpecification.1.ResourceType=key-pair&TagSpecification.1.Tag.1.Key=team&TagSpecification.1.Tag.1.Value={team}"
                        ),
                    );
                }
            });
        }
    });
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// One request; `Err` with the status and body unless it succeeded.
pub fn try_post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(), String> {
    let response = agent
        .post(format!("{url}/"))
        .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("X-Amz-Date", "20260101T000000Z")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
        )
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.into_body().read_to_string().unwrap_or_default();
    if status.is_success() { Ok(()) } else { Err(format!("HTTP {status}: {text}")) }
}

/// Signs in to the console of a `--dev` server (any access key is accepted there) and returns
/// the session cookie.
fn console_session(server: &Server) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let response = agent
        .post(format!("{}/console/signin", server.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("AccessKeyId=AKIDEXAMPLE&SecretAccessKey=bench")
        .expect("console sign-in");
    let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie");
    cookie.split(';').next().unwrap_or_default().to_owned()
}

fn get(agent: &ureq::Agent, url: &str, cookie: &str) {
    let response = agent.get(url).header("Cookie", cookie).call().expect("GET");
    let status = response.status();
    let text = response.into_body().read_to_string().unwrap_or_default();
    assert!(status.is_success() && text.contains("id=\"key-pairs\""), "{url}: HTTP {status}");
}

fn post(agent: &ureq::Agent, url: &str, body: &str) {
    if let Err(e) = try_post(agent, url, body) {
        panic!("{url} {body}: {e}");
    }
}

/// Latencies and wall time of one run.
pub struct Stats {
    sorted: Vec<Duration>,
    wall: Duration,
    /// The server's CPU time over the run (user and system, all its threads).
    cpu: Duration,
}

impl Stats {
    fn new(mut latencies: Vec<Duration>, wall: Duration, cpu: Duration) -> Stats {
        latencies.sort_unstable();
        Stats { sorted: latencies, wall, cpu }
    }

    /// The server's CPU time per completed request (clock-tick resolution: 10 ms on most
    /// kernels, so runs are sized to take seconds).
    pub fn cpu_per_request(&self) -> Duration {
        self.cpu.checked_div(u32::try_from(self.sorted.len()).unwrap_or(u32::MAX).max(1)).unwrap_or_default()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let index = ((self.sorted.len() as f64 - 1.0) * p).round() as usize;
        self.sorted.get(index).copied().unwrap_or_default()
    }

    /// Completed requests per second.
    pub fn throughput(&self) -> f64 {
        self.sorted.len() as f64 / self.wall.as_secs_f64()
    }

    /// `p50 / p99 ms, req/s`.
    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let cpu_us = self.cpu_per_request().as_secs_f64() * 1e6;
        format!(
            "{:.2}/{:.2} ms {:>7.0}/s {:>6.0} µs cpu/req",
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            self.throughput(),
            cpu_us
        )
    }
}

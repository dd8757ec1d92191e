//! Workloads: a request body per index, run by N threads until the count or the deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::server::Server;

pub struct Workload {
    pub name: String,
    concurrency: usize,
    requests: usize,
    /// Key pairs created before the timed part (described by `body`).
    seed: usize,
    body: fn(usize) -> String,
}

impl Workload {
    /// CreateKeyPair, ed25519, a new name per request.
    pub fn create_ed25519(concurrency: usize, requests: usize) -> Workload {
        Workload {
            name: format!("create ed25519 c={concurrency}"),
            concurrency,
            requests,
            seed: 0,
            body: |i| format!("Action=CreateKeyPair&Version=2016-11-15&KeyType=ed25519&KeyName=k{i}"),
        }
    }

    /// DescribeKeyPairs of one name among `seed` key pairs.
    pub fn describe_one(concurrency: usize, requests: usize, seed: usize) -> Workload {
        Workload {
            name: format!("describe-one@{seed} c={concurrency}"),
            concurrency,
            requests,
            seed,
            body: |i| format!("Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=s{}", i % 1000),
        }
    }

    /// Resets the server, seeds it, then runs the timed part.
    pub fn run(&self, server: &Server, deadline: Duration) -> Stats {
        server.reset();
        seed(server, self.seed);
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        let latencies: Vec<Duration> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.concurrency)
                .map(|_| {
                    scope.spawn(|| {
                        let agent = agent();
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= self.requests || started.elapsed() > deadline {
                                return mine;
                            }
                            let t = Instant::now();
                            post(&agent, server, &(self.body)(i));
                            mine.push(t.elapsed());
                        }
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
        });
        Stats::new(latencies, started.elapsed())
    }
}

fn seed(server: &Server, n: usize) {
    let agent = agent();
    for i in 0..n {
        post(&agent, server, &format!("Action=CreateKeyPair&Version=2016-11-15&KeyType=ed25519&KeyName=s{i}"));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn post(agent: &ureq::Agent, server: &Server, body: &str) {
    let response = agent
        .post(format!("{}/", server.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .expect("request");
    let status = response.status();
    let text = response.into_body().read_to_string().unwrap_or_default();
    assert!(status.is_success(), "{body}: HTTP {status}: {text}");
}

/// Latencies and wall time of one run.
pub struct Stats {
    sorted: Vec<Duration>,
    wall: Duration,
}

impl Stats {
    fn new(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
        latencies.sort_unstable();
        Stats { sorted: latencies, wall }
    }

    fn percentile(&self, p: f64) -> Duration {
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
        format!("{:.2} / {:.2} ms, {:>7.0}/s", ms(self.percentile(0.5)), ms(self.percentile(0.99)), self.throughput())
    }
}

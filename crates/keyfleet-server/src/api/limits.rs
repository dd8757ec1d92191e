//! Per-access-key request rate limiting: a token bucket per key, refilled continuously.
//! Over the limit, EC2 answers `RequestLimitExceeded` and the JSON services `ThrottlingException`;
//! the SDKs retry both with backoff.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets idle this long are dropped, so the map stays as small as the set of active keys.
const IDLE_SECONDS: f64 = 300.0;

/// The limiter: `rate` requests per second, bursts of up to `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `None` when `rate` is 0 (no limit).
    pub fn new(rate: u32, burst: u32) -> Option<Self> {
        (rate > 0).then(|| RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        })
    }

    /// Takes one token for `key`; false if the bucket is empty.
    pub fn admit(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < IDLE_SECONDS);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn a_burst_is_admitted_then_refused_per_key() {
        let limiter = RateLimiter::new(1, 3).unwrap();
        assert_eq!((0..5).filter(|_| limiter.admit("AKIA1")).count(), 3);
        assert!(limiter.admit("AKIA2"), "another key has its own bucket");
        assert!(RateLimiter::new(0, 10).is_none());
    }
}

//! A bounded pool of pre-generated RSA-2048 keys, so that a burst of `CreateKeyPair` answers
//! in about a millisecond instead of paying ~35 ms of key generation each.
//!
//! Keys live only in this process's memory: never written, never logged, and wiped when
//! dropped (the `rsa` crate zeroizes private keys on drop). A key leaves the pool once, to one
//! caller. Refill threads run at a lower scheduling priority (nice 10), so generating keys
//! ahead of time yields the CPU to requests. An empty pool is not an error: the caller
//! generates inline, exactly as without a pool.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use keyfleet_keys::PrivateKey;

/// What `/metrics` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Keys ready now.
    pub ready: usize,
    /// The most the pool holds.
    pub capacity: usize,
    /// Keys handed out from the pool.
    pub hits: u64,
    /// Requests that found it empty and generated inline.
    pub misses: u64,
}

/// The pool; dropping the last handle stops the refill threads.
#[derive(Clone)]
pub struct KeyPool {
    shared: Arc<Shared>,
}

struct Shared {
    keys: Mutex<VecDeque<PrivateKey>>,
    /// Signalled when a key is taken (refill) or on shutdown.
    taken: Condvar,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    stop: AtomicBool,
}

impl KeyPool {
    /// Starts `workers` refill threads for a pool of `capacity` keys; `None` when either is 0.
    pub fn start(capacity: usize, workers: usize) -> Option<KeyPool> {
        if capacity == 0 || workers == 0 {
            return None;
        }
        let shared = Arc::new(Shared {
            keys: Mutex::new(VecDeque::with_capacity(capacity)),
            taken: Condvar::new(),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        for n in 0..workers {
            let weak = Arc::downgrade(&shared);
            let spawned = std::thread::Builder::new().name(format!("rsa-pool-{n}")).spawn(move || refill(&weak));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "RSA pool refill thread not started");
            }
        }
        Some(KeyPool { shared })
    }

    /// A ready key, if there is one (the caller generates inline otherwise).
    pub fn take(&self) -> Option<PrivateKey> {
        let key = self.shared.keys.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
        self.shared.taken.notify_one();
        let counter = if key.is_some() { &self.shared.hits } else { &self.shared.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        key
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            ready: self.shared.keys.lock().unwrap_or_else(PoisonError::into_inner).len(),
            capacity: self.shared.capacity,
            hits: self.shared.hits.load(Ordering::Relaxed),
            misses: self.shared.misses.load(Ordering::Relaxed),
        }
    }
}

impl Drop for KeyPool {
    fn drop(&mut self) {
        // The refill threads hold only weak references; wake them so they notice.
        if Arc::strong_count(&self.shared) == 1 {
            self.shared.stop.store(true, Ordering::Relaxed);
            self.shared.taken.notify_all();
        }
    }
}

fn refill(weak: &std::sync::Weak<Shared>) {
    // Linux keeps the nice value per thread: this lowers only the refill thread.
    let _ = rustix::process::setpriority_process(None, 10);
    loop {
        let Some(shared) = weak.upgrade() else { return };
        {
            let keys = shared.keys.lock().unwrap_or_else(PoisonError::into_inner);
            let keys = shared
                .taken
                .wait_while(keys, |k| k.len() >= shared.capacity && !shared.stop.load(Ordering::Relaxed))
                .unwrap_or_else(PoisonError::into_inner);
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            drop(keys);
        }
        // Generated outside the lock; a failure (never expected) just leaves the slot empty.
        match keyfleet_keys::generate::rsa(keyfleet_keys::generate::RSA_BITS) {
            Ok(key) => {
                let mut keys = shared.keys.lock().unwrap_or_else(PoisonError::into_inner);
                if keys.len() < shared.capacity {
                    keys.push_back(key);
                }
            }
            Err(e) => tracing::warn!(error = %e, "RSA pool key generation failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeyPool;

    #[test]
    fn the_pool_fills_hands_out_each_key_once_and_refills() {
        let pool = KeyPool::start(3, 2).unwrap();
        while pool.stats().ready < 3 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        let line = |k: &keyfleet_keys::PrivateKey| k.public_key().unwrap().to_openssh_line("").unwrap();
        assert_ne!(line(&a), line(&b), "each key goes to one caller");
        while pool.stats().ready < 3 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(pool.stats().hits, 2);
        assert!(KeyPool::start(0, 2).is_none());
    }
}

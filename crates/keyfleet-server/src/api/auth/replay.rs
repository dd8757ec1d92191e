//! Refuses a header-signed request that has been seen before, within the 15 minutes in which
//! its timestamp is accepted: SigV4 alone (and AWS) would accept a captured request again
//! for that long. A request is identified by its signature (which covers the body) and the
//! SDKs' unsigned invocation headers, which are all that tells two identical calls in one
//! second apart (see `replay_key`). Presigned URLs are meant to be reused until they
//! expire, and are not checked.
//!
//! Memory is bounded: past `capacity` signatures the oldest is forgotten and the accepted
//! window shrinks to start after it, so a forgotten signature is refused as expired rather
//! than accepted again. The cache is per process: with several replicas a replay sent to
//! another replica inside the window is not caught (see the README).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How long a signature is remembered: the accepted clock skew either way.
const WINDOW_SECONDS: i64 = 15 * 60;

/// The signatures seen recently.
#[derive(Debug)]
pub struct ReplayGuard {
    inner: Mutex<Seen>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Seen {
    signatures: HashSet<String>,
    /// In insertion order, with the request time they were signed at.
    order: VecDeque<(i64, String)>,
    /// Requests signed at or before this time are refused: their signatures may be forgotten.
    horizon: Option<i64>,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// This exact signature was accepted before.
    Repeated,
    /// The request is older than what the guard still remembers.
    BeyondHorizon,
}

impl ReplayGuard {
    /// Remembers at most `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        ReplayGuard { inner: Mutex::default(), capacity: capacity.max(1) }
    }

    /// Accepts a signature made at `signed_at` (Unix seconds) once; `now` is the server time.
    pub fn check(&self, signature: &str, signed_at: i64, now: i64) -> Result<(), Replay> {
        let mut seen = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some((at, _)) = seen.order.front() {
            if *at + WINDOW_SECONDS >= now {
                break;
            }
            if let Some((_, old)) = seen.order.pop_front() {
                seen.signatures.remove(&old);
            }
        }
        if seen.horizon.is_some_and(|h| signed_at <= h) {
            return Err(Replay::BeyondHorizon);
        }
        if !seen.signatures.insert(signature.to_owned()) {
            return Err(Replay::Repeated);
        }
        seen.order.push_back((signed_at, signature.to_owned()));
        if seen.order.len() > self.capacity
            && let Some((at, old)) = seen.order.pop_front()
        {
            seen.signatures.remove(&old);
            seen.horizon = Some(seen.horizon.map_or(at, |h| h.max(at)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Replay, ReplayGuard};

    #[test]
    fn a_signature_is_accepted_once() {
        let guard = ReplayGuard::new(10);
        assert_eq!(guard.check("a", 100, 100), Ok(()));
        assert_eq!(guard.check("b", 100, 100), Ok(()));
        assert_eq!(guard.check("a", 100, 101), Err(Replay::Repeated));
    }

    #[test]
    fn forgotten_signatures_are_refused_by_the_horizon() {
        let guard = ReplayGuard::new(2);
        for (sig, at) in [("a", 100), ("b", 101), ("c", 102)] {
            assert_eq!(guard.check(sig, at, 102), Ok(()));
        }
        // "a" was forgotten to make room; its time is now beyond the horizon.
        assert_eq!(guard.check("a", 100, 103), Err(Replay::BeyondHorizon));
        assert_eq!(guard.check("d", 103, 103), Ok(()));
    }

    #[test]
    fn signatures_expire_with_their_window() {
        let guard = ReplayGuard::new(10);
        assert_eq!(guard.check("a", 0, 0), Ok(()));
        // Past the window the request itself is refused as expired by SigV4; the guard
        // just forgets it.
        assert_eq!(guard.check("a", 0, 901), Ok(()));
    }
}

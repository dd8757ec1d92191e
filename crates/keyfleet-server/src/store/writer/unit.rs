//! A request's unit of work: its first write, held open so that its audit record shares the
//! commit.

use super::*;

/// The writes of one request, owned by the pipeline that runs it. The request's first group
/// write may answer as soon as it has run while its batch stays open for the request's audit
/// record ([`UnitOfWork::finish`]), or until a short wait runs out. A change and its record
/// then cost one sync between them, and neither is acknowledged before both are durable.
///
/// Writes outside a request (start-up, background tasks, tests) pass [`UnitOfWork::alone`],
/// which holds nothing.
#[derive(Default)]
pub struct UnitOfWork {
    /// None for a unit that never holds a write.
    first: Option<std::sync::Mutex<FirstWrite>>,
}

#[derive(Default)]
struct FirstWrite {
    claimed: bool,
    held: Option<Held>,
}

impl UnitOfWork {
    /// A request's unit: its first write may be held for the audit record.
    pub fn for_request() -> Self {
        UnitOfWork { first: Some(std::sync::Mutex::default()) }
    }

    /// A unit whose writes all commit on their own.
    pub fn alone() -> Self {
        UnitOfWork::default()
    }

    /// True once, for the first write of a request's unit: that write may be held.
    pub(super) fn claim_first(&self) -> bool {
        self.first.as_ref().is_some_and(|first| !std::mem::replace(&mut lock(first).claimed, true))
    }

    /// Records that the first write answered before its commit.
    pub(super) fn hold(&self, held: Held) {
        if let Some(first) = &self.first {
            lock(first).held = Some(held);
        }
    }

    /// Ends the unit: the first write, if it is still waiting for the request's audit record.
    pub fn finish(self) -> Option<Held> {
        self.first.and_then(|first| first.into_inner().unwrap_or_else(|p| p.into_inner()).held)
    }
}

/// The lock is never held across an await or a panic site, so poisoning carries no meaning.
fn lock(first: &std::sync::Mutex<FirstWrite>) -> std::sync::MutexGuard<'_, FirstWrite> {
    first.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A write answered before its commit, waiting for the request's audit record.
pub struct Held {
    pub(super) follow_up: oneshot::Sender<Vec<AuditRow>>,
    pub(super) committed: oneshot::Receiver<Result<(), StoreError>>,
}

impl Held {
    /// Adds `rows` to the held transaction and waits for its commit. The rows come back if the
    /// batch stopped waiting for them (it committed the write without them).
    pub async fn commit_with(self, rows: Vec<AuditRow>) -> Result<Result<(), StoreError>, Vec<AuditRow>> {
        self.follow_up.send(rows)?;
        Ok(self.committed.await.unwrap_or(Err(StoreError::WriteAbandoned)))
    }
}

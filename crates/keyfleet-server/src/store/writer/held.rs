//! A request's first write, held open so that its audit record shares the commit.

use super::*;

tokio::task_local! {
    /// The request being handled: its first write may be held open for its audit record.
    pub(super) static REQUEST: RefCell<Request>;
}

#[derive(Default)]
pub(super) struct Request {
    pub(super) wrote: bool,
    pub(super) held: Option<Held>,
}

/// Runs a request's `handler` so that its first SQLite write can share one commit with the
/// request's audit record: the write answers as soon as it has run, and its batch stays open
/// until the record arrives through the returned [`Held`] (or a short wait runs out). A change
/// and its record then cost one sync between them, and neither is acknowledged before both
/// are durable.
pub async fn hold_first_write<F: Future>(handler: F) -> (F::Output, Option<Held>) {
    REQUEST
        .scope(RefCell::new(Request::default()), async move {
            let output = handler.await;
            (output, REQUEST.with(|r| r.borrow_mut().held.take()))
        })
        .await
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

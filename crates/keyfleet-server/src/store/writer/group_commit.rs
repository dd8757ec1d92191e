//! Group commit on SQLite: queued writes run one after another in one transaction, each in a
//! savepoint, and share its commit and its WAL sync.

use super::*;

/// The most writes one SQLite transaction commits together.
const BATCH: usize = 64;

/// How long a batch waits for the audit records of the writes it answered early before it
/// commits without them (their records then take the ordinary path).
const FOLLOW_UP_WAIT: Duration = Duration::from_millis(20);

/// Group commit on SQLite: writes queued while the connection is busy run one after another
/// in one transaction and share its `BEGIN` and `COMMIT`, and the WAL sync after it. Each
/// write is answered only after that sync, except a request's held write (see
/// [`UnitOfWork`]), whose request waits for it instead.
///
/// The batches run on a thread of their own, with a connection of their own, where every
/// statement is a direct call into SQLite (see `sqlite.rs`); the thread's own runtime only
/// waits for writes and audit records to arrive.
///
/// A write's work must not depend on being alone: it runs against the effects of the writes
/// before it in the batch, as it would in serial order. It must report every failure as an
/// error: each write runs in a savepoint, which its failure rolls back, so a failure (a
/// duplicate name, a full quota) is never another write's failure.
#[derive(Clone)]
pub(in crate::store) struct GroupCommit {
    queue: mpsc::UnboundedSender<Box<dyn Queued>>,
}

impl GroupCommit {
    /// Starts the thread that runs the batches on `conn`, taking `lock` for each. The thread
    /// ends once every sender of the queue is gone.
    pub(super) fn start(
        lock: Arc<Mutex<AnyConnection>>,
        conn: rusqlite::Connection,
        append: AppendAudit,
        wal: Option<Arc<WalSync>>,
    ) -> Result<Self, StoreError> {
        let (queue, receiver) = mpsc::unbounded_channel();
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(StoreError::Thread)?;
        std::thread::Builder::new()
            .name("keyfleet-sqlite-writer".into())
            .spawn(move || runtime.block_on(run_batches(lock, conn, receiver, append, wal)))
            .map_err(StoreError::Thread)?;
        Ok(GroupCommit { queue })
    }

    /// Queues `write`; its result once committed and synced (or, held, once run).
    pub(super) async fn write<W: GroupWrite>(&self, work: &UnitOfWork, write: W) -> Result<W::Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        let (hold, held) = if work.claim_first() {
            let (follow_up, follow_up_receiver) = oneshot::channel();
            let (commit, committed) = oneshot::channel();
            (Some(Hold { follow_up: Some(follow_up_receiver), commit }), Some(Held { follow_up, committed }))
        } else {
            (None, None)
        };
        let pending = Box::new(Pending { write, result: None, reply: Some(reply), hold });
        self.queue.send(pending).map_err(|_| StoreError::WriteAbandoned)?;
        let (result, was_held) = answer.await.map_err(|_| StoreError::WriteAbandoned)?;
        if let (true, Some(held)) = (was_held, held) {
            work.hold(held);
        }
        result
    }
}

/// A queued write, with its result type erased.
pub(super) trait Queued: Send {
    /// Runs the work in the open transaction; false if it failed.
    fn run(&mut self, conn: &rusqlite::Connection) -> bool;
    /// For a held write, answers now (before the commit) and hands back where its audit
    /// records will come from.
    fn answer_early(&mut self) -> Option<oneshot::Receiver<Vec<AuditRow>>>;
    /// Answers the caller, or a held write's request: the work's result if `committed`, else
    /// the commit's error.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

/// The batch's side of a held write.
struct Hold {
    follow_up: Option<oneshot::Receiver<Vec<AuditRow>>>,
    commit: oneshot::Sender<Result<(), StoreError>>,
}

/// A write's result, and whether it was answered before its commit (held).
type Answer<T> = (Result<T, StoreError>, bool);

struct Pending<W: GroupWrite> {
    write: W,
    result: Option<Result<W::Output, StoreError>>,
    reply: Option<oneshot::Sender<Answer<W::Output>>>,
    hold: Option<Hold>,
}

impl<W: GroupWrite> Queued for Pending<W> {
    fn run(&mut self, conn: &rusqlite::Connection) -> bool {
        let result = self.write.on_sqlite(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer_early(&mut self) -> Option<oneshot::Receiver<Vec<AuditRow>>> {
        let follow_up = self.hold.as_mut()?.follow_up.take()?;
        let (reply, result) = (self.reply.take()?, self.result.take()?);
        // The caller may have gone away (its request was cancelled); the write stands.
        let _ = reply.send((result, true));
        Some(follow_up)
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        if let Some(reply) = self.reply {
            let result = match (self.result, committed) {
                (Some(Err(failed)), _) => Err(failed),
                (_, Err(commit)) => Err(commit),
                (Some(done), Ok(())) => done,
                (None, Ok(())) => Err(StoreError::WriteAbandoned),
            };
            let _ = reply.send((result, false));
        } else if let Some(hold) = self.hold {
            let _ = hold.commit.send(committed);
        }
    }
}

async fn run_batches(
    lock: Arc<Mutex<AnyConnection>>,
    mut conn: rusqlite::Connection,
    mut receiver: mpsc::UnboundedReceiver<Box<dyn Queued>>,
    append: AppendAudit,
    wal: Option<Arc<WalSync>>,
) {
    let mut batch: Vec<Box<dyn Queued>> = Vec::with_capacity(BATCH);
    loop {
        if let Some(write) = spin(|| receiver.try_recv().ok()) {
            batch.push(write);
        } else if receiver.recv_many(&mut batch, BATCH).await == 0 {
            break;
        }
        let writes = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        let turn = lock.lock().await;
        // A panic in one write's work fails that batch's callers (their replies are dropped
        // with the batch, and its transaction rolls back), not every write after it.
        let ran = CatchPanic(Box::pin(run_batch(&mut conn, writes, &mut receiver, append))).await;
        drop(turn);
        match ran {
            Some(settled) => settle(settled, wal.as_deref()),
            None => tracing::error!("a batch of writes panicked and was abandoned"),
        }
    }
}

/// Writes whose transactions have ended, each with how its transaction ended.
pub(super) type Settled = Vec<(Box<dyn Queued>, Result<(), StoreError>)>;

/// Answers settled writes: at once, or after the WAL sync when any of them committed unsynced.
fn settle(settled: Settled, wal: Option<&WalSync>) {
    match wal {
        Some(wal) if settled.iter().any(|(_, committed)| committed.is_ok()) => wal.sync_then_finish(settled),
        _ => settled.into_iter().for_each(|(write, committed)| write.finish(committed)),
    }
}

/// Runs every write in one transaction, each in a savepoint of its own, and the writes that
/// queue meanwhile. A held write is answered as soon as it has run, and its audit record is
/// waited for before the commit; writes that arrive during that wait run too, up to
/// [`BATCH`] writes and [`FOLLOW_UP_WAIT`].
async fn run_batch(
    conn: &mut rusqlite::Connection,
    mut batch: Vec<Box<dyn Queued>>,
    queue: &mut mpsc::UnboundedReceiver<Box<dyn Queued>>,
    append: AppendAudit,
) -> Settled {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "a batch of writes could not start");
            return abandoned(batch);
        }
    };
    let deadline = tokio::time::Instant::now() + FOLLOW_UP_WAIT;
    let (mut ran, mut follow_ups, mut rows, mut collected) = (0, Vec::new(), Vec::new(), 0);
    loop {
        while ran < batch.len() || absorb(queue, &mut batch) {
            let Some(write) = batch.get_mut(ran) else { break };
            if let Err(e) = run_isolated(&tx, write.as_mut()) {
                tracing::error!(error = %e, writes = batch.len(), "a batch of writes failed");
                return abandoned(batch);
            }
            follow_ups.extend(write.answer_early());
            ran += 1;
        }
        let Some(follow_up) = follow_ups.get_mut(collected) else { break };
        if let Some(got) = spin_for(follow_up) {
            rows.extend(got);
            collected += 1;
            continue;
        }
        let admit = batch.len() < BATCH && tokio::time::Instant::now() < deadline;
        tokio::select! {
            biased;
            got = tokio::time::timeout_at(deadline, &mut *follow_up) => {
                rows.extend(follow_up_rows(got, follow_up));
                collected += 1;
            }
            Some(write) = queue.recv(), if admit => batch.push(write),
        }
    }
    let committed = if rows.is_empty() { Ok(()) } else { append(&tx, &rows) };
    match committed.and_then(|()| Ok(tx.commit()?)) {
        Ok(()) => batch.into_iter().map(|write| (write, Ok(()))).collect(),
        Err(e) => {
            tracing::error!(error = %e, writes = batch.len(), "a batch of writes did not commit");
            abandoned(batch)
        }
    }
}

/// Runs `write` in a savepoint, so that its failure (a duplicate name, a full quota) undoes
/// its own changes and is its own answer, never another write's. An error here is the
/// savepoint's own, which fails the batch.
fn run_isolated(tx: &rusqlite::Connection, write: &mut dyn Queued) -> Result<(), rusqlite::Error> {
    tx.prepare_cached("SAVEPOINT write")?.execute([])?;
    if !write.run(tx) {
        tx.prepare_cached("ROLLBACK TO write")?.execute([])?;
    }
    tx.prepare_cached("RELEASE write")?.execute([])?;
    Ok(())
}

/// How long the writer's threads poll for what they wait for before they sleep
/// (`KEYFLEET_WRITER_SPIN_US`; bench/README.md). Off by default: polling for 150 µs cost
/// 1.03–1.35x the server CPU per write (mean 1.13x over create, import and delete at
/// concurrency 8, three runs) for 0.90–1.17x the throughput, within the runs' noise.
fn spin_limit() -> Duration {
    static LIMIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        let micros = std::env::var("KEYFLEET_WRITER_SPIN_US").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        Duration::from_micros(micros)
    })
}

/// Polls `ready` for up to [`spin_limit`], giving the CPU away between polls.
pub(super) fn spin<T>(mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let (start, limit) = (std::time::Instant::now(), spin_limit());
    loop {
        if let Some(got) = ready() {
            return Some(got);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::yield_now();
    }
}

/// A held write's audit records if they come within [`spin_limit`] (none if its request went away).
fn spin_for(follow_up: &mut oneshot::Receiver<Vec<AuditRow>>) -> Option<Vec<AuditRow>> {
    spin(|| match follow_up.try_recv() {
        Ok(rows) => Some(rows),
        Err(oneshot::error::TryRecvError::Closed) => Some(Vec::new()),
        Err(oneshot::error::TryRecvError::Empty) => None,
    })
}

/// Moves writes that queued while the batch ran into it (up to [`BATCH`]), so they share its
/// commit rather than wait for it; false if there were none.
fn absorb(queue: &mut mpsc::UnboundedReceiver<Box<dyn Queued>>, batch: &mut Vec<Box<dyn Queued>>) -> bool {
    let before = batch.len();
    while batch.len() < BATCH {
        match queue.try_recv() {
            Ok(write) => batch.push(write),
            Err(_) => break,
        }
    }
    batch.len() > before
}

fn abandoned(batch: Vec<Box<dyn Queued>>) -> Settled {
    batch.into_iter().map(|write| (write, Err(StoreError::WriteAbandoned))).collect()
}

/// A held write's audit records, as waited for until the batch's deadline. A record sent after
/// the wait ran out is refused to its sender, which stores it the ordinary way.
fn follow_up_rows(
    got: Result<Result<Vec<AuditRow>, oneshot::error::RecvError>, tokio::time::error::Elapsed>,
    follow_up: &mut oneshot::Receiver<Vec<AuditRow>>,
) -> Vec<AuditRow> {
    match got {
        Ok(Ok(rows)) => rows,
        Ok(Err(_)) => Vec::new(), // the request went away without a record
        Err(_) => {
            // Closing first makes the race with a late send explicit: a record sent just
            // before the close is still taken here.
            follow_up.close();
            follow_up.try_recv().unwrap_or_default()
        }
    }
}

/// A future whose panic becomes `None`.
struct CatchPanic<F>(F);

impl<F: Future + Unpin> Future for CatchPanic<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx))) {
            Ok(Poll::Ready(done)) => Poll::Ready(Some(done)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    }
}

//! The connections writes go through.
//!
//! On SQLite, writes that take a connection themselves ([`Writer::acquire`]) share one behind
//! a FIFO lock: writers queue in order instead of contending for the database lock and
//! sleeping in SQLite's busy handler, and, unlike a pool of one, nothing pings the connection
//! on every hand-over (sqlx's pool does, on acquire and on release, each a round trip to the
//! connection's worker thread that every queued writer would wait behind). The hot writes
//! ([`Writer::transaction`]) go to the group commit instead, which runs them on a connection
//! and a thread of its own, taking the same lock for each batch. On PostgreSQL, writes share
//! the pool.
//!
//! A group commit on a SQLite file does not sync inside SQLite: its connection commits with
//! `synchronous = NORMAL` and a thread of its own syncs the WAL file before the batch's callers
//! are answered. While one batch's sync is under way the connection already runs the next, so
//! the disk's sync time no longer stops every writer. An acknowledged write is as durable as
//! under `synchronous = FULL`; what changes is that a reader may see a change up to one sync
//! before its caller is told of it. The other writing connection keeps `FULL`, so its writes
//! sync in their own commits.

use std::cell::RefCell;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rusqlite::TransactionBehavior;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

use super::{AuditRow, StoreError, sqlite};

/// Where writes go.
#[derive(Clone)]
pub(super) enum Writer {
    /// PostgreSQL: any pooled connection.
    Pool(AnyPool),
    /// SQLite: the writing connection, and the group commit, whose own connection takes the
    /// same lock for each batch.
    Single(Arc<Mutex<AnyConnection>>, GroupCommit),
}

/// A connection held for writing.
pub(super) enum WriteConn {
    Pooled(PoolConnection<Any>),
    Single(OwnedMutexGuard<AnyConnection>),
}

/// One of the hot writes, which run in group commits on SQLite: see [`GroupCommit`] for what
/// it must allow for. On SQLite it runs on the group commit's connection and thread, without
/// an await; on PostgreSQL in a pooled transaction of its own.
pub(super) trait GroupWrite: Send + 'static {
    type Output: Send + 'static;
    fn on_sqlite(&self, conn: &rusqlite::Connection) -> Result<Self::Output, StoreError>;
    fn on_postgres<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<Self::Output, StoreError>>;
}

impl Writer {
    /// SQLite's writers: `conn` for the writes that take a connection, and a group commit on a
    /// connection of its own to `database`. With the database's `wal` file, group commits
    /// sync it off the connection.
    pub(super) fn single(
        conn: AnyConnection,
        database: &Path,
        append: AppendAudit,
        wal: Option<PathBuf>,
    ) -> Result<Self, StoreError> {
        let conn = Arc::new(Mutex::new(conn));
        let wal = wal.and_then(WalSync::start);
        let group_conn = sqlite::open_group_connection(database, wal.is_some())?;
        Ok(Writer::Single(conn.clone(), GroupCommit::start(conn, group_conn, append, wal)?))
    }

    /// Waits for the writing connection (in arrival order on SQLite).
    pub(super) async fn acquire(&self) -> Result<WriteConn, sqlx::Error> {
        Ok(match self {
            Writer::Pool(pool) => WriteConn::Pooled(pool.acquire().await?),
            Writer::Single(conn, _) => WriteConn::Single(conn.clone().lock_owned().await),
        })
    }

    /// Runs `write` in a write transaction and commits it; on SQLite, maybe together with
    /// other writes (see [`GroupCommit`]).
    pub(super) async fn transaction<W: GroupWrite>(&self, write: W) -> Result<W::Output, StoreError> {
        match self {
            Writer::Pool(pool) => {
                let mut tx = pool.begin().await?;
                let done = write.on_postgres(&mut tx).await?;
                tx.commit().await?;
                Ok(done)
            }
            Writer::Single(_, group) => group.write(write).await,
        }
    }
}

impl WriteConn {
    /// Starts a write transaction. SQLite's takes the database lock up front
    /// (`BEGIN IMMEDIATE`): a deferred one that upgrades later can fail with SQLITE_BUSY.
    pub(super) async fn begin(&mut self) -> Result<Transaction<'_, Any>, sqlx::Error> {
        match self {
            WriteConn::Pooled(conn) => conn.begin().await,
            WriteConn::Single(conn) => conn.begin_with("BEGIN IMMEDIATE").await,
        }
    }
}

impl Deref for WriteConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::Pooled(conn) => conn,
            WriteConn::Single(conn) => conn,
        }
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::Pooled(conn) => conn,
            WriteConn::Single(conn) => conn,
        }
    }
}

/// The most writes one SQLite transaction commits together.
const BATCH: usize = 64;

/// How long a batch waits for the audit records of the writes it answered early before it
/// commits without them (their records then take the ordinary path).
const FOLLOW_UP_WAIT: Duration = Duration::from_millis(20);

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Appends audit records inside a group commit's transaction (the SQL lives in `sqlite.rs`).
pub(super) type AppendAudit = fn(&rusqlite::Connection, &[AuditRow]) -> Result<(), StoreError>;

tokio::task_local! {
    /// The request being handled: its first write may be held open for its audit record.
    static REQUEST: RefCell<Request>;
}

#[derive(Default)]
struct Request {
    wrote: bool,
    held: Option<Held>,
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
    follow_up: oneshot::Sender<Vec<AuditRow>>,
    committed: oneshot::Receiver<Result<(), StoreError>>,
}

impl Held {
    /// Adds `rows` to the held transaction and waits for its commit. The rows come back if the
    /// batch stopped waiting for them (it committed the write without them).
    pub async fn commit_with(self, rows: Vec<AuditRow>) -> Result<Result<(), StoreError>, Vec<AuditRow>> {
        self.follow_up.send(rows)?;
        Ok(self.committed.await.unwrap_or(Err(StoreError::WriteAbandoned)))
    }
}

/// Group commit on SQLite: writes queued while the connection is busy run one after another
/// in one transaction and share its `BEGIN` and `COMMIT`, and the WAL sync after it. Each
/// write is answered only after that sync, except a request's held write (see
/// [`hold_first_write`]), whose request waits for it instead.
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
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Box<dyn Queued>>,
}

impl GroupCommit {
    /// Starts the thread that runs the batches on `conn`, taking `lock` for each. The thread
    /// ends once every sender of the queue is gone.
    fn start(
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
    async fn write<W: GroupWrite>(&self, write: W) -> Result<W::Output, StoreError> {
        let may_hold = REQUEST.try_with(|r| !std::mem::replace(&mut r.borrow_mut().wrote, true)).unwrap_or(false);
        let (reply, answer) = oneshot::channel();
        let (hold, held) = if may_hold {
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
            REQUEST.with(|r| r.borrow_mut().held = Some(held));
        }
        result
    }
}

/// A queued write, with its result type erased.
trait Queued: Send {
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
type Settled = Vec<(Box<dyn Queued>, Result<(), StoreError>)>;

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

/// How long the writer's threads poll for what they wait for before they sleep: on a VM,
/// waking a sleeping thread takes tens of µs, about as long as an audit record or the next
/// write usually takes to arrive under load.
const SPIN: Duration = Duration::from_micros(150);

/// Polls `ready` for up to [`SPIN`], giving the CPU away between polls.
fn spin<T>(mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(got) = ready() {
            return Some(got);
        }
        if start.elapsed() >= SPIN {
            return None;
        }
        std::thread::yield_now();
    }
}

/// A held write's audit records if they come within [`SPIN`] (none if its request went away).
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

/// Syncs the WAL file of the SQLite writer's database off the connection (see the module's
/// comment), on a thread of its own: a sync is one blocking call that takes the disk's time.
pub(super) struct WalSync {
    queue: std::sync::mpsc::Sender<Settled>,
}

impl WalSync {
    /// Starts the syncing thread for the WAL file at `path`; `None` if no thread could start
    /// (the group commit's connection then syncs in its commits).
    fn start(path: PathBuf) -> Option<Arc<Self>> {
        let (queue, receiver) = std::sync::mpsc::channel::<Settled>();
        let started = std::thread::Builder::new().name("keyfleet-wal-sync".into()).spawn(move || {
            let (mut file, mut failed) = (None, false);
            while let Some(first) = spin(|| receiver.try_recv().ok()).or_else(|| receiver.recv().ok()) {
                // Everything settled while the last sync ran shares the next one.
                let settled: Vec<_> = std::iter::once(first).chain(receiver.try_iter()).flatten().collect();
                // After a failed sync the kernel may have dropped pages that a later sync would
                // then not write, and SQLite's recovery stops at the first lost WAL frame: no
                // later write can be acknowledged as durable until a restart recovers the WAL.
                let synced = !failed
                    && match sync_wal(&mut file, &path) {
                        WalSynced::Yes => true,
                        WalSynced::NotOpened => false,
                        WalSynced::Failed => {
                            failed = true;
                            false
                        }
                    };
                for (write, committed) in settled {
                    write
                        .finish(committed.and_then(|()| if synced { Ok(()) } else { Err(StoreError::WriteAbandoned) }));
                }
            }
        });
        match started {
            Ok(_) => Some(Arc::new(WalSync { queue })),
            Err(e) => {
                tracing::warn!(error = %e, "no WAL sync thread; SQLite commits sync themselves");
                None
            }
        }
    }

    fn sync_then_finish(&self, settled: Settled) {
        if let Err(std::sync::mpsc::SendError(settled)) = self.queue.send(settled) {
            tracing::error!("the WAL sync thread is gone");
            for (write, _) in settled {
                write.finish(Err(StoreError::WriteAbandoned));
            }
        }
    }
}

/// How a sync of the WAL went.
enum WalSynced {
    Yes,
    /// The file could not be opened: nothing was synced, and nothing lost either (the next
    /// sync that opens it covers these writes too).
    NotOpened,
    Failed,
}

/// `fdatasync` on the WAL file, opened on first use (it exists once a commit has been made).
fn sync_wal(file: &mut Option<std::fs::File>, path: &std::path::Path) -> WalSynced {
    let opened = match file {
        Some(file) => file,
        None => match std::fs::File::open(path) {
            Ok(opened) => file.insert(opened),
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot open the WAL to sync it");
                return WalSynced::NotOpened;
            }
        },
    };
    match opened.sync_data() {
        Ok(()) => WalSynced::Yes,
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "syncing the WAL failed: writes are refused until keyfleet restarts");
            WalSynced::Failed
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that runs only on SQLite, as these tests do.
    struct OnSqlite<F>(F);

    impl<T, F> GroupWrite for OnSqlite<F>
    where
        T: Send + 'static,
        F: Fn(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        type Output = T;

        fn on_sqlite(&self, conn: &rusqlite::Connection) -> Result<T, StoreError> {
            (self.0)(conn)
        }

        fn on_postgres<'c>(&'c self, _: &'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>> {
            unreachable!("these tests run on SQLite")
        }
    }

    fn insert(value: &str) -> impl GroupWrite<Output = ()> {
        let value = value.to_owned();
        OnSqlite(move |conn: &rusqlite::Connection| {
            conn.execute("INSERT INTO t (v) VALUES (?1)", [&value])?;
            Ok(())
        })
    }

    fn stored() -> impl GroupWrite<Output = Vec<String>> {
        OnSqlite(|conn: &rusqlite::Connection| {
            let mut select = conn.prepare("SELECT v FROM t ORDER BY v")?;
            let values = select.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(values)
        })
    }

    fn synchronous() -> impl GroupWrite<Output = i64> {
        OnSqlite(|conn: &rusqlite::Connection| Ok(conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
    }

    /// A database file in `dir` with one table, `t`, and its URL for sqlx.
    async fn database(dir: &tempfile::TempDir) -> (AnyConnection, PathBuf, String) {
        sqlx::any::install_default_drivers();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let setup = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (v TEXT PRIMARY KEY)";
        sqlx::Executor::execute(&mut conn, setup).await.unwrap();
        (conn, path, url)
    }

    /// A writer without a WAL thread whose audit records land in `t`, by event id, so that a
    /// test sees what committed.
    async fn single(dir: &tempfile::TempDir) -> Writer {
        let (conn, path, _) = database(dir).await;
        let append: AppendAudit = |conn, rows| {
            for row in rows {
                conn.execute("INSERT INTO t (v) VALUES (?1)", [&row.event_id])?;
            }
            Ok(())
        };
        Writer::single(conn, &path, append, None).unwrap()
    }

    fn no_audit(_: &rusqlite::Connection, _: &[AuditRow]) -> Result<(), StoreError> {
        Ok(())
    }

    fn record(event_id: &str) -> AuditRow {
        AuditRow {
            seq: 0,
            event_id: event_id.into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            time_ms: 0,
            event_name: "CreateKeyPair".into(),
            event_source: "ec2.amazonaws.com".into(),
            username: "root".into(),
            access_key: String::new(),
            read_only: false,
            resources: Vec::new(),
            record: "{}".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commits_leave_the_sync_to_the_wal_thread_and_direct_writes_sync_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, path, url) = database(&dir).await;
        let writer = Writer::single(conn, &path, no_audit, Some(dir.path().join("t.db-wal"))).unwrap();

        // Answered only once the WAL thread has synced them: a failed sync would fail them.
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.transaction(insert(&format!("v{i}"))).await })
            })
            .collect();
        for written in writes {
            written.await.unwrap().unwrap();
        }
        assert_eq!(writer.transaction(synchronous()).await.unwrap(), 1, "NORMAL inside a group commit");
        let mut direct = writer.acquire().await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *direct).await.unwrap();
        assert_eq!(level, 2, "FULL for a write that takes the connection itself");
        drop(direct);

        let mut reopened = AnyConnection::connect(&url).await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&mut reopened).await.unwrap();
        assert_eq!(count, 40);
    }

    #[tokio::test]
    async fn without_a_wal_thread_group_commits_sync_in_their_commits() {
        let dir = tempfile::tempdir().unwrap();
        let writer = single(&dir).await;
        assert_eq!(writer.transaction(synchronous()).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_write_whose_wal_could_not_be_synced_is_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, path, _) = database(&dir).await;
        let missing = dir.path().join("elsewhere-wal");
        let writer = Writer::single(conn, &path, no_audit, Some(missing)).unwrap();
        assert!(matches!(writer.transaction(insert("a")).await, Err(StoreError::WriteAbandoned)));
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let writer = single(&dir).await;
        let panicked = writer
            .transaction(OnSqlite(|conn: &rusqlite::Connection| -> Result<(), StoreError> {
                conn.execute("INSERT INTO t (v) VALUES ('before the panic')", [])?;
                panic!("boom")
            }))
            .await;
        assert!(matches!(panicked, Err(StoreError::WriteAbandoned)));
        writer.transaction(insert("a")).await.unwrap();
        assert!(matches!(writer.transaction(insert("a")).await, Err(StoreError::Sqlite(_))));
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a"], "the panicked batch rolled back");
    }

    /// Inserts `value`, then fails: its savepoint must take the insert back.
    fn half_done(value: &str) -> impl GroupWrite<Output = ()> {
        let value = value.to_owned();
        OnSqlite(move |conn: &rusqlite::Connection| {
            conn.execute("INSERT INTO t (v) VALUES (?1)", [&value])?;
            Err(StoreError::Duplicate)
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone_in_a_batch_and_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let writer = single(&dir).await;
        writer.transaction(insert("taken")).await.unwrap();
        let names = ["a", "taken", "b", "half", "c", "taken", "d"];
        let writes: Vec<_> = names
            .into_iter()
            .map(|name| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    match name {
                        "half" => writer.transaction(half_done(name)).await.is_ok(),
                        _ => writer.transaction(insert(name)).await.is_ok(),
                    }
                })
            })
            .collect();
        let mut succeeded = Vec::new();
        for (name, written) in names.iter().zip(writes) {
            succeeded.push((*name, written.await.unwrap()));
        }
        let expected: Vec<_> = names.iter().map(|name| (*name, !matches!(*name, "taken" | "half"))).collect();
        assert_eq!(succeeded, expected);
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "b", "c", "d", "taken"]);
    }

    #[tokio::test]
    async fn a_held_write_commits_with_its_audit_record() {
        let dir = tempfile::tempdir().unwrap();
        let writer = single(&dir).await;
        let (written, held) = hold_first_write(writer.transaction(insert("a"))).await;
        written.unwrap();
        let committed = held.expect("held").commit_with(vec![record("e-a")]).await;
        assert!(matches!(committed, Ok(Ok(()))));
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "e-a"]);

        // Only a request's first write is held; a second goes the ordinary way.
        let ((first, second), held) =
            hold_first_write(async { (writer.transaction(insert("b")).await, writer.transaction(insert("c")).await) })
                .await;
        first.unwrap();
        second.unwrap();
        assert!(held.expect("held").commit_with(vec![record("e-b")]).await.is_err(), "waited too long");
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "b", "c", "e-a"]);

        // A request that goes away without its record leaves the write committed.
        let (written, held) = hold_first_write(writer.transaction(insert("d"))).await;
        written.unwrap();
        drop(held);
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "b", "c", "d", "e-a"]);
        // Outside a request nothing is held.
        writer.transaction(insert("e")).await.unwrap();
    }
}

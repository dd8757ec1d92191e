//! The connection writes go through.
//!
//! On SQLite that is one connection behind a FIFO lock: writers queue in order instead of
//! contending for the database lock and sleeping in SQLite's busy handler, and, unlike a
//! pool of one, nothing pings the connection on every hand-over (sqlx's pool does, on
//! acquire and on release, each a round trip to the connection's worker thread that every
//! queued writer would wait behind). On PostgreSQL, writes share the pool.
//!
//! A group commit on a SQLite file does not sync inside SQLite: the connection commits with
//! `synchronous = NORMAL` and a thread of its own syncs the WAL file before the batch's callers
//! are answered. While one batch's sync is under way the connection already runs the next, so
//! the disk's sync time no longer stops every writer. An acknowledged write is as durable as
//! under `synchronous = FULL`; what changes is that a reader may see a change up to one sync
//! before its caller is told of it. Writes that take the connection directly switch it back to
//! `FULL` first, so they still sync in their own commit.

use std::cell::RefCell;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

use super::{AuditRow, StoreError};

/// Where writes go.
#[derive(Clone)]
pub(super) enum Writer {
    /// PostgreSQL: any pooled connection.
    Pool(AnyPool),
    /// SQLite: the one writing connection, and the group commit that shares it.
    Single(Arc<Mutex<AnyConnection>>, GroupCommit),
}

/// A connection held for writing.
pub(super) enum WriteConn {
    Pooled(PoolConnection<Any>),
    Single(OwnedMutexGuard<AnyConnection>),
}

impl Writer {
    /// SQLite's writer, on its one connection (a task that runs group commits starts here).
    /// With the database's `wal` file, group commits sync it off the connection.
    pub(super) fn single(conn: AnyConnection, append: AppendAudit, wal: Option<PathBuf>) -> Self {
        let conn = Arc::new(Mutex::new(conn));
        Writer::Single(conn.clone(), GroupCommit::start(conn, append, wal.and_then(WalSync::start)))
    }

    /// Waits for the writing connection (in arrival order on SQLite). On SQLite it commits
    /// with `synchronous = FULL`, whatever the last group commit left.
    pub(super) async fn acquire(&self) -> Result<WriteConn, sqlx::Error> {
        Ok(match self {
            Writer::Pool(pool) => WriteConn::Pooled(pool.acquire().await?),
            Writer::Single(conn, group) => {
                let mut conn = conn.clone().lock_owned().await;
                if let Some(wal) = &group.wal {
                    wal.set_relaxed(&mut conn, false).await?;
                }
                WriteConn::Single(conn)
            }
        })
    }

    /// Runs `work` on `args` in a write transaction and commits it; on SQLite, maybe together
    /// with other writes (see [`GroupCommit`]). `work` must report every failure as an error,
    /// since a batch is rolled back only on one, and may run more than once.
    pub(super) async fn transaction<A, T, F>(&self, args: A, work: F) -> Result<T, StoreError>
    where
        A: Send + 'static,
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection, &'c A) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        match self {
            Writer::Pool(pool) => {
                let mut tx = pool.begin().await?;
                let done = work(&mut tx, &args).await?;
                tx.commit().await?;
                Ok(done)
            }
            Writer::Single(_, group) => group.write(args, work).await,
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

/// Appends audit records inside a transaction (the SQL lives with the rest, in `sql.rs`).
pub(super) type AppendAudit =
    for<'c> fn(&'c mut AnyConnection, &'c [AuditRow]) -> BoxFuture<'c, Result<(), StoreError>>;

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
/// request's audit record: the write answers once its batch has run, and the batch stays open
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
/// in one transaction and share its `BEGIN` and `COMMIT` (a WAL sync under
/// `synchronous=FULL`), each a round trip to the connection's worker thread that every queued
/// writer would otherwise wait behind. Each write is answered only after that commit, except
/// a request's held write (see [`hold_first_write`]), whose request waits for it instead.
///
/// A write's work must not depend on being alone: it runs against the effects of the writes
/// before it in the batch, as it would in serial order. If any write in a batch fails, the
/// batch is rolled back and each of its writes runs again in a transaction of its own, so a
/// failure (a duplicate name, a full quota) is never another write's failure.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Box<dyn Queued>>,
    wal: Option<Arc<WalSync>>,
}

impl GroupCommit {
    /// Starts the task that runs the batches on `conn`.
    fn start(conn: Arc<Mutex<AnyConnection>>, append: AppendAudit, wal: Option<Arc<WalSync>>) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run_batches(conn, receiver, append, wal.clone()));
        GroupCommit { queue, wal }
    }

    /// Queues `work` on `args`; its result once committed (or, held, once run).
    async fn write<A, T, F>(&self, args: A, work: F) -> Result<T, StoreError>
    where
        A: Send + 'static,
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection, &'c A) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let may_hold = REQUEST.try_with(|r| !std::mem::replace(&mut r.borrow_mut().wrote, true)).unwrap_or(false);
        let (reply, answer) = oneshot::channel();
        let (hold, held) = if may_hold {
            let (follow_up, follow_up_receiver) = oneshot::channel();
            let (commit, committed) = oneshot::channel();
            (Some(Hold { follow_up: Some(follow_up_receiver), commit }), Some(Held { follow_up, committed }))
        } else {
            (None, None)
        };
        let pending = Box::new(Pending { args, work, result: None, reply: Some(reply), hold });
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
    fn run<'a>(&'a mut self, conn: &'a mut AnyConnection) -> BoxFuture<'a, bool>;
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

struct Pending<A, T, F> {
    args: A,
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: Option<oneshot::Sender<(Result<T, StoreError>, bool)>>,
    hold: Option<Hold>,
}

impl<A, T, F> Queued for Pending<A, T, F>
where
    A: Send,
    T: Send,
    F: for<'c> Fn(&'c mut AnyConnection, &'c A) -> BoxFuture<'c, Result<T, StoreError>> + Send,
{
    fn run<'a>(&'a mut self, conn: &'a mut AnyConnection) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let result = (self.work)(conn, &self.args).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
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
    conn: Arc<Mutex<AnyConnection>>,
    mut receiver: mpsc::UnboundedReceiver<Box<dyn Queued>>,
    append: AppendAudit,
    wal: Option<Arc<WalSync>>,
) {
    let mut batch: Vec<Box<dyn Queued>> = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let writes = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        let conn = conn.clone().lock_owned().await;
        // A panic in one write's work fails that batch's callers (their replies are dropped
        // with the batch), not every write after it.
        match CatchPanic(Box::pin(run_batch(conn, writes, &mut receiver, append, wal.as_deref()))).await {
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

/// Runs every write in one transaction, and the writes that queue meanwhile. If all succeed,
/// held writes are answered, their audit records added, and the whole committed; otherwise
/// the batch is rolled back and each write runs alone.
async fn run_batch(
    mut conn: OwnedMutexGuard<AnyConnection>,
    mut batch: Vec<Box<dyn Queued>>,
    queue: &mut mpsc::UnboundedReceiver<Box<dyn Queued>>,
    append: AppendAudit,
    wal: Option<&WalSync>,
) -> Settled {
    let mut tx = match begin_batch(&mut conn, wal).await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "a batch of writes could not start");
            return abandoned(batch);
        }
    };
    let mut ran = 0;
    while ran < batch.len() || absorb(queue, &mut batch) {
        if !batch[ran].run(&mut tx).await {
            let _ = tx.rollback().await;
            if batch.len() == 1 {
                // Its own error is its answer, and nothing was committed.
                batch.into_iter().for_each(|write| write.finish(Ok(())));
                return Vec::new();
            }
            let mut settled = Vec::with_capacity(batch.len());
            for mut write in batch {
                let committed = run_alone(&mut conn, write.as_mut()).await;
                settled.push((write, committed));
            }
            return settled;
        }
        ran += 1;
    }
    let follow_ups: Vec<_> = batch.iter_mut().filter_map(|w| w.answer_early()).collect();
    let rows = collect_follow_ups(follow_ups).await;
    let committed = async {
        if !rows.is_empty() {
            append(&mut tx, &rows).await?;
        }
        Ok::<_, StoreError>(tx.commit().await?)
    }
    .await;
    match committed {
        Ok(()) => batch.into_iter().map(|write| (write, Ok(()))).collect(),
        Err(e) => {
            tracing::error!(error = %e, writes = batch.len(), "a batch of writes did not commit");
            abandoned(batch)
        }
    }
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

/// Begins a batch's transaction, without a sync in its commit when the WAL thread syncs.
async fn begin_batch<'c>(
    conn: &'c mut AnyConnection,
    wal: Option<&WalSync>,
) -> Result<Transaction<'c, Any>, sqlx::Error> {
    if let Some(wal) = wal {
        wal.set_relaxed(conn, true).await?;
    }
    conn.begin_with("BEGIN IMMEDIATE").await
}

fn abandoned(batch: Vec<Box<dyn Queued>>) -> Settled {
    batch.into_iter().map(|write| (write, Err(StoreError::WriteAbandoned))).collect()
}

/// The audit records of the held writes, each waited for until a common deadline; a record
/// sent after its wait ran out is refused to its sender, which stores it the ordinary way.
async fn collect_follow_ups(follow_ups: Vec<oneshot::Receiver<Vec<AuditRow>>>) -> Vec<AuditRow> {
    let deadline = tokio::time::Instant::now() + FOLLOW_UP_WAIT;
    let mut rows = Vec::new();
    for mut follow_up in follow_ups {
        match tokio::time::timeout_at(deadline, &mut follow_up).await {
            Ok(Ok(more)) => rows.extend(more),
            Ok(Err(_)) => {} // the request went away without a record
            Err(_) => {
                // Closing first makes the race with a late send explicit: a record sent just
                // before the close is still taken here.
                follow_up.close();
                if let Ok(more) = follow_up.try_recv() {
                    rows.extend(more);
                }
            }
        }
    }
    rows
}

/// Syncs the WAL file of the SQLite writer's database off the connection (see the module's
/// comment), on a thread of its own: a sync is one blocking call that takes the disk's time.
pub(super) struct WalSync {
    /// The connection commits with `synchronous = NORMAL`. Changed only with the
    /// connection's lock held.
    relaxed: AtomicBool,
    queue: std::sync::mpsc::Sender<Settled>,
}

impl WalSync {
    /// Starts the syncing thread for the WAL file at `path`; `None` if no thread could start
    /// (the connection then keeps syncing in its commits).
    fn start(path: PathBuf) -> Option<Arc<Self>> {
        let (queue, receiver) = std::sync::mpsc::channel::<Settled>();
        let started = std::thread::Builder::new().name("keyfleet-wal-sync".into()).spawn(move || {
            let (mut file, mut failed) = (None, false);
            while let Ok(first) = receiver.recv() {
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
            Ok(_) => Some(Arc::new(WalSync { relaxed: AtomicBool::new(false), queue })),
            Err(e) => {
                tracing::warn!(error = %e, "no WAL sync thread; SQLite commits sync themselves");
                None
            }
        }
    }

    /// Switches the connection's commits between syncing (`FULL`) and not (`NORMAL`).
    async fn set_relaxed(&self, conn: &mut AnyConnection, relaxed: bool) -> Result<(), sqlx::Error> {
        if self.relaxed.load(Ordering::Acquire) != relaxed {
            let pragma = if relaxed { "PRAGMA synchronous = NORMAL" } else { "PRAGMA synchronous = FULL" };
            sqlx::Executor::execute(&mut *conn, pragma).await?;
            self.relaxed.store(relaxed, Ordering::Release);
        }
        Ok(())
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

/// Runs one write in its own transaction, committed only if it succeeded.
async fn run_alone(conn: &mut AnyConnection, write: &mut dyn Queued) -> Result<(), StoreError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    if write.run(&mut tx).await {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn single() -> Writer {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::Executor::execute(&mut conn, "CREATE TABLE t (v TEXT PRIMARY KEY)").await.unwrap();
        // Audit records land in the same table, by event id, so a test sees what committed.
        Writer::single(
            conn,
            |conn, rows| {
                Box::pin(async move {
                    for row in rows {
                        insert(conn, &row.event_id).await?;
                    }
                    Ok(())
                })
            },
            None,
        )
    }

    async fn stored(writer: &Writer) -> Vec<String> {
        writer
            .transaction((), |conn, ()| {
                Box::pin(async move { Ok(sqlx::query_scalar("SELECT v FROM t ORDER BY v").fetch_all(conn).await?) })
            })
            .await
            .unwrap()
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

    fn insert<'c>(conn: &'c mut AnyConnection, value: &'c String) -> BoxFuture<'c, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO t (v) VALUES ($1)").bind(value).execute(conn).await?;
            Ok(())
        })
    }

    fn synchronous<'c>(conn: &'c mut AnyConnection, _: &'c ()) -> BoxFuture<'c, Result<i64, StoreError>> {
        Box::pin(async move { Ok(sqlx::query_scalar("PRAGMA synchronous").fetch_one(conn).await?) })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commits_leave_the_sync_to_the_wal_thread_and_direct_writes_sync_their_own() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let setup = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (v TEXT PRIMARY KEY)";
        sqlx::Executor::execute(&mut conn, setup).await.unwrap();
        let writer = Writer::single(conn, |_, _| Box::pin(async { Ok(()) }), Some(dir.path().join("t.db-wal")));

        // Answered only once the WAL thread has synced them: a failed sync would fail them.
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.transaction(format!("v{i}"), insert).await })
            })
            .collect();
        for written in writes {
            written.await.unwrap().unwrap();
        }
        assert_eq!(writer.transaction((), synchronous).await.unwrap(), 1, "NORMAL inside a group commit");
        let mut direct = writer.acquire().await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *direct).await.unwrap();
        assert_eq!(level, 2, "FULL for a write that takes the connection itself");
        drop(direct);
        assert_eq!(writer.transaction((), synchronous).await.unwrap(), 1);

        let mut reopened = AnyConnection::connect(&url).await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&mut reopened).await.unwrap();
        assert_eq!(count, 40);
    }

    #[tokio::test]
    async fn a_write_whose_wal_could_not_be_synced_is_not_acknowledged() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let setup = "PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT PRIMARY KEY)";
        sqlx::Executor::execute(&mut conn, setup).await.unwrap();
        let missing = dir.path().join("elsewhere-wal");
        let writer = Writer::single(conn, |_, _| Box::pin(async { Ok(()) }), Some(missing));
        assert!(matches!(writer.transaction("a".to_owned(), insert).await, Err(StoreError::WriteAbandoned)));
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let writer = single().await;
        let panicked = writer
            .transaction((), |_, ()| -> BoxFuture<'_, Result<(), StoreError>> { Box::pin(async { panic!("boom") }) })
            .await;
        assert!(matches!(panicked, Err(StoreError::WriteAbandoned)));
        writer.transaction("a".to_owned(), insert).await.unwrap();
        assert!(matches!(writer.transaction("a".to_owned(), insert).await, Err(StoreError::Database(_))));
    }

    #[tokio::test]
    async fn a_held_write_commits_with_its_audit_record() {
        let writer = single().await;
        let (written, held) = hold_first_write(writer.transaction("a".to_owned(), insert)).await;
        written.unwrap();
        let committed = held.expect("held").commit_with(vec![record("e-a")]).await;
        assert!(matches!(committed, Ok(Ok(()))));
        assert_eq!(stored(&writer).await, ["a", "e-a"]);

        // Only a request's first write is held; a second goes the ordinary way.
        let ((first, second), held) = hold_first_write(async {
            (writer.transaction("b".to_owned(), insert).await, writer.transaction("c".to_owned(), insert).await)
        })
        .await;
        first.unwrap();
        second.unwrap();
        assert!(held.expect("held").commit_with(vec![record("e-b")]).await.is_err(), "waited too long");
        assert_eq!(stored(&writer).await, ["a", "b", "c", "e-a"]);

        // A request that goes away without its record leaves the write committed.
        let (written, held) = hold_first_write(writer.transaction("d".to_owned(), insert)).await;
        written.unwrap();
        drop(held);
        assert_eq!(stored(&writer).await, ["a", "b", "c", "d", "e-a"]);
        // Outside a request nothing is held.
        writer.transaction("e".to_owned(), insert).await.unwrap();
    }
}

//! The connection writes go through.
//!
//! On SQLite that is one connection behind a FIFO lock: writers queue in order instead of
//! contending for the database lock and sleeping in SQLite's busy handler, and, unlike a
//! pool of one, nothing pings the connection on every hand-over (sqlx's pool does, on
//! acquire and on release, each a round trip to the connection's worker thread that every
//! queued writer would wait behind). On PostgreSQL, writes share the pool.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

use super::StoreError;

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
    pub(super) fn single(conn: AnyConnection) -> Self {
        let conn = Arc::new(Mutex::new(conn));
        Writer::Single(conn.clone(), GroupCommit::start(conn))
    }

    /// Waits for the writing connection (in arrival order on SQLite).
    pub(super) async fn acquire(&self) -> Result<WriteConn, sqlx::Error> {
        Ok(match self {
            Writer::Pool(pool) => WriteConn::Pooled(pool.acquire().await?),
            Writer::Single(conn, _) => WriteConn::Single(conn.clone().lock_owned().await),
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

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Group commit on SQLite: writes queued while the connection is busy run one after another
/// in one transaction and share its `BEGIN` and `COMMIT` (a WAL sync under
/// `synchronous=FULL`), each a round trip to the connection's worker thread that every queued
/// writer would otherwise wait behind. Each write is answered only after that commit.
///
/// A write's work must not depend on being alone: it runs against the effects of the writes
/// before it in the batch, as it would in serial order. If any write in a batch fails, the
/// batch is rolled back and each of its writes runs again in a transaction of its own, so a
/// failure (a duplicate name, a full quota) is never another write's failure.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Box<dyn Queued>>,
}

impl GroupCommit {
    /// Starts the task that runs the batches on `conn`.
    pub(super) fn start(conn: Arc<Mutex<AnyConnection>>) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run_batches(conn, receiver));
        GroupCommit { queue }
    }

    /// Queues `work` on `args`; its result once committed.
    async fn write<A, T, F>(&self, args: A, work: F) -> Result<T, StoreError>
    where
        A: Send + 'static,
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection, &'c A) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Box::new(Pending { args, work, result: None, reply });
        self.queue.send(pending).map_err(|_| StoreError::WriteAbandoned)?;
        answer.await.unwrap_or(Err(StoreError::WriteAbandoned))
    }
}

/// A queued write, with its result type erased.
trait Queued: Send {
    /// Runs the work in the open transaction; false if it failed.
    fn run<'a>(&'a mut self, conn: &'a mut AnyConnection) -> BoxFuture<'a, bool>;
    /// Answers the caller: the work's result if `committed`, else the commit's error.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

struct Pending<A, T, F> {
    args: A,
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
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

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let result = match (self.result, committed) {
            (Some(Err(failed)), _) => Err(failed),
            (_, Err(commit)) => Err(commit),
            (Some(done), Ok(())) => done,
            (None, Ok(())) => Err(StoreError::WriteAbandoned),
        };
        // The caller may have gone away (its request was cancelled); the write stands.
        let _ = self.reply.send(result);
    }
}

async fn run_batches(conn: Arc<Mutex<AnyConnection>>, mut receiver: mpsc::UnboundedReceiver<Box<dyn Queued>>) {
    let mut batch: Vec<Box<dyn Queued>> = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let writes = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        let conn = conn.clone().lock_owned().await;
        // A panic in one write's work fails that batch's callers (their replies are dropped
        // with the batch), not every write after it.
        if CatchPanic(Box::pin(run_batch(conn, writes))).await.is_none() {
            tracing::error!("a batch of writes panicked and was abandoned");
        }
    }
}

async fn run_batch(mut conn: OwnedMutexGuard<AnyConnection>, mut batch: Vec<Box<dyn Queued>>) {
    if batch.len() > 1 && run_together(&mut conn, &mut batch).await {
        batch.into_iter().for_each(|w| w.finish(Ok(())));
        return;
    }
    for mut write in batch {
        let committed = run_alone(&mut conn, write.as_mut()).await;
        write.finish(committed);
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

/// Runs every write in one transaction and commits it; true if committed. Any failure rolls
/// back the whole batch.
async fn run_together(conn: &mut AnyConnection, batch: &mut [Box<dyn Queued>]) -> bool {
    let Ok(mut tx) = conn.begin_with("BEGIN IMMEDIATE").await else { return false };
    for write in batch.iter_mut() {
        if !write.run(&mut tx).await {
            let _ = tx.rollback().await;
            return false;
        }
    }
    tx.commit().await.is_ok()
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
        Writer::single(conn)
    }

    fn insert<'c>(conn: &'c mut AnyConnection, value: &'c String) -> BoxFuture<'c, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO t (v) VALUES ($1)").bind(value).execute(conn).await?;
            Ok(())
        })
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
}

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

mod group_commit;
mod unit;
mod wal_sync;

use group_commit::{GroupCommit, Settled, spin};
pub use unit::{Held, UnitOfWork};
use wal_sync::WalSync;

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
        self.transaction_in(&UnitOfWork::alone(), write).await
    }

    /// Runs `write` as part of `work`: on SQLite, a request's first write may stay open for
    /// the request's audit record (see [`UnitOfWork`]).
    pub(super) async fn transaction_in<W: GroupWrite>(
        &self,
        work: &UnitOfWork,
        write: W,
    ) -> Result<W::Output, StoreError> {
        match self {
            Writer::Pool(pool) => {
                let mut tx = pool.begin().await?;
                let done = write.on_postgres(&mut tx).await?;
                tx.commit().await?;
                Ok(done)
            }
            Writer::Single(_, group) => group.write(work, write).await,
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

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Appends audit records inside a group commit's transaction (the SQL lives in `sqlite.rs`).
pub(super) type AppendAudit = fn(&rusqlite::Connection, &[AuditRow]) -> Result<(), StoreError>;

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
        let work = UnitOfWork::for_request();
        writer.transaction_in(&work, insert("a")).await.unwrap();
        let committed = work.finish().expect("held").commit_with(vec![record("e-a")]).await;
        assert!(matches!(committed, Ok(Ok(()))));
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "e-a"]);

        // Only a request's first write is held; a second goes the ordinary way.
        let work = UnitOfWork::for_request();
        writer.transaction_in(&work, insert("b")).await.unwrap();
        writer.transaction_in(&work, insert("c")).await.unwrap();
        assert!(work.finish().expect("held").commit_with(vec![record("e-b")]).await.is_err(), "waited too long");
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "b", "c", "e-a"]);

        // A request that goes away without its record leaves the write committed.
        let work = UnitOfWork::for_request();
        writer.transaction_in(&work, insert("d")).await.unwrap();
        drop(work);
        assert_eq!(writer.transaction(stored()).await.unwrap(), ["a", "b", "c", "d", "e-a"]);

        // A unit outside a request holds nothing.
        let work = UnitOfWork::alone();
        writer.transaction_in(&work, insert("e")).await.unwrap();
        assert!(work.finish().is_none());
    }
}

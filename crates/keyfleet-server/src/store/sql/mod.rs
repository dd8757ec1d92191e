//! The SQL store, on either backend through sqlx's `Any` driver: SQLite (one file in the
//! data dir, the default) or PostgreSQL (shared by several replicas). The SQL is written
//! once, in the dialect both accept (`$N` parameters, `ON CONFLICT`, `RETURNING`), except for
//! the hot writes, the [`GroupWrite`]s: on SQLite they run through rusqlite in the group
//! commit (`sqlite.rs`), on PostgreSQL each is one statement with data-modifying `WITH`
//! clauses. A listing is one JSON array in one row ([`Backend::key_pairs_json`]). The schema
//! has one migration directory per backend.
//!
//! SQLite runs in WAL mode, and every acknowledged write is synced to disk first (in its own
//! commit with `synchronous=FULL`, or, for group commits, by the writer's WAL sync thread), so
//! it survives a crash, `kill -9` or a power cut. Writers take the database lock up front
//! (`BEGIN IMMEDIATE`): a deferred transaction that later upgrades to a write lock can fail
//! with SQLITE_BUSY instead of waiting its turn. On PostgreSQL, uniqueness and the quota
//! counter rely on constraints and row locks under READ COMMITTED; the one read-then-write (a
//! parameter's next version) retries when a concurrent writer took the version first.

mod audit;
mod auto_scaling;
mod automation;
mod console;
mod iam;
mod instances;
mod key_pairs;
mod launch_templates;
pub(super) mod maintenance;
mod parameters;
mod roles;
mod security_groups;
mod sessions;
mod stacks;
mod tags;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};

use super::sqlite;
use super::writer::{BoxFuture, GroupWrite, Writer};

use super::{
    AccessKeyRow, AuditAttribute, AuditQuery, AuditRow, AuditStore, AutomationRow, AutomationStatus, AutomationStore,
    ConsoleSessionRow, ConsoleStore, DeleteUserOutcome, IamStore, InstanceAttribute, InstanceRow, InstanceState,
    InstanceStore, KeyPairQuery, KeyPairRef, KeyPairRow, KeyPairStore, LabelOutcome, LaunchLimits, LoginProfileChange,
    LoginProfileRow, Maintenance, ParameterRow, ParameterStore, ParameterType, PutOutcome, ResourceTag, RunbookStep,
    Scope, StepExecution, StepStatus, StoreError, Tag, TagRemoval, TagStore, UserRow, VolumeLife, WireName,
};
use super::{
    AddRoleOutcome, AttachOutcome, DeleteProfileOutcome, DeleteRoleOutcome, InstanceProfileRow, ManagedPolicyRow,
    ManagedPolicyStore, PinnedRole, PolicyChange, PolicyVersionRow, PrincipalKind, RoleRow, RoleStore, SessionIssuer,
    SessionRow, SessionStore,
};
use super::{
    AddRulesOutcome, DeleteGroupOutcome, RulePeer, SecurityGroupRow, SecurityGroupRuleRow, SecurityGroupStore,
};

/// Every SQLite connection's settings: see the module's comment.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;";

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// Several replicas.
    Postgres,
}

/// A SQL-backed [`Store`].
#[derive(Clone)]
pub struct SqlStore {
    /// Reads (and everything, on PostgreSQL).
    pool: AnyPool,
    /// Writes: on SQLite, one connection (see [`Writer`]).
    writer: Writer,
    backend: Backend,
}

impl SqlStore {
    /// Every table the migrations made, with its columns (for the test that both dialects'
    /// schemas agree).
    #[cfg(test)]
    pub(super) async fn schema(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE '%sqlx%'"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name NOT LIKE '%sqlx%'"
            }
        };
        let mut schema: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in sqlx::query(sql).fetch_all(&self.pool).await? {
            schema.entry(r.get("table_name")).or_default().push(r.get("column_name"));
        }
        schema.values_mut().for_each(|columns| columns.sort());
        Ok(schema)
    }

    /// Opens (creating if needed) the SQLite file and runs its migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options: AnyConnectOptions = url.parse()?;
        let mut writer = AnyConnection::connect_with(&options).await?;
        writer.execute(SQLITE_PRAGMAS).await?;
        // Some file systems cannot hold a WAL; SQLite then keeps its rollback journal, and
        // each commit syncs itself.
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut writer).await?;
        let wal = journal.eq_ignore_ascii_case("wal").then(|| {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            PathBuf::from(wal)
        });
        sqlx::migrate!("./migrations/sqlite").run(&mut writer).await?;
        // A file cannot hang up: pinging it before every acquire only adds a round trip to
        // the connection's worker thread.
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(drop) }))
            .connect_with(options)
            .await?;
        let writer = Writer::single(writer, path, sqlite::append_audit, wal)?;
        Ok(SqlStore { pool, writer, backend: Backend::Sqlite })
    }

    /// Connects to PostgreSQL (`postgres://…`) and runs its migrations.
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool =
            AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(SqlStore { writer: Writer::Pool(pool.clone()), pool, backend: Backend::Postgres })
    }

    /// Opens the store a `--database-url` names, or SQLite in the data dir.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::open_postgres(url).await
            }
            Some(url) => Err(StoreError::UnsupportedUrl(url.split(':').next().unwrap_or_default().to_owned())),
            None => Self::open_sqlite(&data_dir.join("keyfleet.db")).await,
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// A column that holds an AWS name; one this version does not know is a corrupt row.
fn wire<T: WireName>(r: &AnyRow, column: &str) -> Result<T, StoreError> {
    let name: String = r.get(column);
    T::parse(&name).ok_or_else(|| StoreError::Corrupt(format!("{column} {name:?}")))
}

/// A statement's result, with a unique-constraint violation reported as [`StoreError::Duplicate`].
fn unique<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    match result {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate),
        other => other.map_err(StoreError::from),
    }
}

impl Backend {}

/// `($1, $2), ($3, $4)` for two rows of two columns.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut list = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        list.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                list.push_str(", ");
            }
            list.push('$');
            list.push_str(&(row * columns + column + 1).to_string());
        }
        list.push(')');
    }
    list
}

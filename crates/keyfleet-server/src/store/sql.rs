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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};

use super::sqlite;
use super::writer::{BoxFuture, GroupWrite, Writer};

use super::{
    AccessKeyRow, AuditAttribute, AuditQuery, AuditRow, AutomationRow, AutomationStatus, DeleteUserOutcome,
    InstanceRow, InstanceState, KeyPairQuery, KeyPairRef, KeyPairRow, ParameterRow, PutOutcome, ResourceTag, Scope,
    Store, StoreError, Tag, TagRemoval, UserRow, WireName,
};

/// What `--dev`'s reset keeps: the audit log is append-only, and automation executions are
/// its history of runs.
pub(super) const KEPT_ON_RESET: [&str; 3] = ["audit_events", "audit_resources", "automation_executions"];

/// The tables `--dev`'s reset empties: every table the migrations create but those kept,
/// the last created first (so that a table goes before the ones it refers to).
pub(super) fn reset_tables() -> Vec<String> {
    let mut tables: Vec<String> = sqlx::migrate!("./migrations/sqlite")
        .iter()
        .flat_map(|migration| created_tables(migration.sql.as_str()))
        .filter(|table| !KEPT_ON_RESET.contains(&table.as_str()))
        .collect();
    tables.reverse();
    tables
}

/// The tables a migration's SQL creates, in order.
fn created_tables(sql: &str) -> Vec<String> {
    sql.split("CREATE TABLE").skip(1).filter_map(|rest| rest.split_whitespace().next()).map(str::to_owned).collect()
}

/// Resources whose tags one query loads (bind parameters stay far below both backends' caps).
const TAG_LOOKUP_CHUNK: usize = 500;

/// How often a state transition reads again after another writer moved the instance first.
const MAX_TRANSITION_ATTEMPTS: usize = 8;

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

    /// One attempt at storing the next version of a parameter.
    async fn try_put_parameter(
        &self,
        scope: &Scope,
        row: &ParameterRow,
        overwrite: bool,
        keep: i64,
    ) -> Result<PutOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let latest = sqlx::query(
            "SELECT version, type FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3
             ORDER BY version DESC LIMIT 1",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .fetch_optional(&mut *tx)
        .await?;
        let version = match latest {
            None => 1,
            Some(_) if !overwrite => return Ok(PutOutcome::Exists),
            Some(r) if r.get::<String, _>(1) != row.kind => return Ok(PutOutcome::TypeMismatch(r.get(1))),
            Some(r) => r.get::<i64, _>(0) + 1,
        };
        sqlx::query(
            "INSERT INTO parameter_versions (account, region, name, version, type, value, key_id, description, data_type,
                                             modified_ms, modified_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(version)
        .bind(&row.kind)
        .bind(&row.value)
        .bind(&row.key_id)
        .bind(&row.description)
        .bind(&row.data_type)
        .bind(row.modified_ms)
        .bind(&row.modified_by)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3 AND version <= $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(version - keep)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PutOutcome::Stored(version))
    }

    /// The tags of each of `resource_ids`, by key, in one query per 500 resources.
    async fn tags_of(&self, scope: &Scope, resource_ids: &[&str]) -> Result<HashMap<String, Vec<Tag>>, StoreError> {
        let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
        for chunk in resource_ids.chunks(TAG_LOOKUP_CHUNK) {
            let placeholders: Vec<String> = (3..chunk.len() + 3).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT resource_id, key, value FROM tags WHERE account = $1 AND region = $2 AND resource_id IN ({}) ORDER BY key",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&scope.account).bind(&scope.region);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                let tag = Tag { key: r.get("key"), value: r.get("value") };
                tags.entry(r.get("resource_id")).or_default().push(tag);
            }
        }
        Ok(tags)
    }

    /// Every key pair of a scope with its tags, in creation order (see [`ListedKeyPair`]).
    async fn all_key_pairs(&self, scope: &Scope) -> Result<Vec<KeyPairRow>, StoreError> {
        let json: String = sqlx::query_scalar(self.backend.key_pairs_json())
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_one(&self.pool)
            .await?;
        let listed: Vec<ListedKeyPair> = serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let mut rows: Vec<KeyPairRow> = listed
            .into_iter()
            .map(|(id, name, key_type, fingerprint, public_key, created_ms, tags)| {
                let mut tags: Vec<Tag> = tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
                tags.sort_by(|a, b| a.key.cmp(&b.key));
                KeyPairRow { id, name, key_type, fingerprint, public_key, created_ms, tags }
            })
            .collect();
        rows.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(rows)
    }
}

fn instance_row(r: &AnyRow) -> Result<InstanceRow, StoreError> {
    Ok(InstanceRow {
        id: r.get("id"),
        reservation_id: r.get("reservation_id"),
        image_id: r.get("image_id"),
        instance_type: r.get("instance_type"),
        key_name: r.get("key_name"),
        state: wire(r, "state")?,
        address: r.get("address"),
        volume_id: r.get("volume_id"),
        launch_index: r.get("launch_index"),
        launch_ms: r.get("launch_ms"),
        user_data: r.get("user_data"),
        launch_key: r.get("launch_key"),
        http_tokens: r.get("http_tokens"),
        owner: r.get("owner"),
        lease_ms: r.get("lease_ms"),
        reboots: r.get("reboots"),
        tags: Vec::new(),
    })
}

fn automation_row(r: &AnyRow) -> Result<AutomationRow, StoreError> {
    Ok(AutomationRow {
        id: r.get("id"),
        document: r.get("document"),
        status: wire(r, "status")?,
        parameters: r.get("parameters"),
        steps: r.get("steps"),
        outputs: r.get("outputs"),
        failure: r.get("failure"),
        start_ms: r.get("start_ms"),
        end_ms: r.get("end_ms"),
        executed_by: r.get("executed_by"),
        owner: r.get("owner"),
        target: r.get("target"),
    })
}

/// A column that holds an AWS name; one this version does not know is a corrupt row.
fn wire<T: WireName>(r: &AnyRow, column: &str) -> Result<T, StoreError> {
    let name: String = r.get(column);
    T::parse(&name).ok_or_else(|| StoreError::Corrupt(format!("{column} {name:?}")))
}

fn parameter_row(r: &AnyRow) -> ParameterRow {
    ParameterRow {
        name: r.get(0),
        version: r.get(1),
        kind: r.get(2),
        value: r.get(3),
        key_id: r.get(4),
        description: r.get(5),
        data_type: r.get(6),
        modified_ms: r.get(7),
        modified_by: r.get(8),
    }
}

fn access_key_row(r: &AnyRow) -> Result<AccessKeyRow, StoreError> {
    Ok(AccessKeyRow {
        id: r.get("id"),
        account: r.get("account"),
        user_name: r.get("user_name"),
        sealed_secret: r.get("sealed_secret"),
        status: wire(r, "status")?,
        created_ms: r.get("created_ms"),
    })
}

fn user_row(r: &AnyRow) -> UserRow {
    UserRow { name: r.get(0), user_id: r.get(1), created_ms: r.get(2) }
}

/// The SQL condition for a `LookupEvents` attribute, on `audit_events` aliased `e`.
fn audit_condition(attribute: AuditAttribute) -> &'static str {
    match attribute {
        AuditAttribute::EventId => "e.event_id = $6",
        AuditAttribute::EventName => "e.event_name = $6",
        AuditAttribute::EventSource => "e.event_source = $6",
        AuditAttribute::Username => "e.username = $6",
        AuditAttribute::AccessKeyId => "e.access_key = $6",
        AuditAttribute::ReadOnly => "e.read_only = $6",
        AuditAttribute::ResourceName => {
            "EXISTS (SELECT 1 FROM audit_resources r WHERE r.seq = e.seq AND r.resource_name = $6)"
        }
        AuditAttribute::ResourceType => {
            "EXISTS (SELECT 1 FROM audit_resources r WHERE r.seq = e.seq AND r.resource_type = $6)"
        }
    }
}

fn key_pair_row(r: &AnyRow) -> KeyPairRow {
    KeyPairRow {
        id: r.get(0),
        name: r.get(1),
        key_type: r.get(2),
        fingerprint: r.get(3),
        public_key: r.get(4),
        created_ms: r.get(5),
        tags: Vec::new(),
    }
}

async fn insert_tags(
    conn: &mut AnyConnection,
    scope: &Scope,
    resource_id: &str,
    resource_type: &str,
    tags: &[Tag],
) -> Result<(), StoreError> {
    for tag in tags {
        sqlx::query(
            "INSERT INTO tags (account, region, resource_id, resource_type, key, value) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (account, region, resource_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(resource_id)
        .bind(resource_type)
        .bind(&tag.key)
        .bind(&tag.value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A statement's result, with a unique-constraint violation reported as [`StoreError::Duplicate`].
fn unique<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    match result {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate),
        other => other.map_err(StoreError::from),
    }
}

/// Locks a user's row until the transaction ends (a no-op update: both backends take the row
/// lock, which `SELECT … FOR UPDATE` would do only on PostgreSQL), so that adding a key and
/// deleting the user cannot interleave. False if there is no such user.
async fn lock_user(conn: &mut AnyConnection, account: &str, name: &str) -> Result<bool, StoreError> {
    let locked =
        sqlx::query("UPDATE iam_users SET created_ms = created_ms WHERE account = $1 AND lower(name) = lower($2)")
            .bind(account)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    Ok(locked.rows_affected() > 0)
}

impl Backend {
    /// A lock on one resource held to the end of the transaction, where writers can race.
    fn resource_lock(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => {
                Some("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))")
            }
        }
    }

    /// A scope's key pairs with their tags, as one JSON array in one row (see
    /// [`ListedKeyPair`]): a statement costs little next to the hand-over of every row of its
    /// result from SQLite's worker thread.
    fn key_pairs_json(self) -> &'static str {
        match self {
            // json() keeps the tags an array: a JSON value that crosses a subquery becomes text.
            Backend::Sqlite => {
                "SELECT json_group_array(json_array(k.id, k.name, k.key_type, k.fingerprint, k.public_key,
                    k.created_ms, json((SELECT json_group_array(json_array(t.key, t.value)) FROM tags t
                        WHERE t.account = k.account AND t.region = k.region AND t.resource_id = k.id))))
                FROM key_pairs k WHERE k.account = $1 AND k.region = $2"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(k.id, k.name, k.key_type, k.fingerprint, k.public_key,
                    k.created_ms, (SELECT COALESCE(json_agg(json_build_array(t.key, t.value)), '[]'::json) FROM tags t
                        WHERE t.account = k.account AND t.region = k.region AND t.resource_id = k.id))), '[]'::json)::text
                FROM key_pairs k WHERE k.account = $1 AND k.region = $2"
            }
        }
    }
}

/// DeleteKeyPair by `name` or `id` on PostgreSQL, in one statement: the key pair, its tags
/// and its quota slot. (SQLite's is in `sqlite.rs`.)
macro_rules! postgres_delete_key_pair {
    ($column:literal) => {
        concat!(
            "WITH gone AS (DELETE FROM key_pairs WHERE account = $1 AND region = $2 AND ", $column, " = $3 RETURNING id),
            untagged AS (DELETE FROM tags WHERE account = $1 AND region = $2 AND resource_id IN (SELECT id FROM gone)),
            released AS (UPDATE key_pair_counts SET n = n - 1
                WHERE account = $1 AND region = $2 AND EXISTS (SELECT 1 FROM gone))
            SELECT id FROM gone"
        )
    };
}

/// A create on PostgreSQL, in one statement: it first takes a quota slot, and the conditional
/// upsert both checks the quota and takes the slot, and holds the counter row's lock until
/// commit, so concurrent creates queue there. The key pair is inserted only if the slot was
/// taken: nothing changes when the quota is full. Arguments: account, region, quota, id, name,
/// key_type, fingerprint, public_key, created_ms.
const POSTGRES_INSERT_KEY_PAIR: &str = "WITH slot AS (
        INSERT INTO key_pair_counts (account, region, n) VALUES ($1, $2, 1)
        ON CONFLICT (account, region) DO UPDATE SET n = key_pair_counts.n + 1 WHERE key_pair_counts.n < $3
        RETURNING 1)
    INSERT INTO key_pairs (id, account, region, name, key_type, fingerprint, public_key, created_ms)
        SELECT $4, $1, $2, $5, $6, $7, $8, $9 FROM slot";

/// One key pair of [`Backend::key_pairs_json`]: id, name, type, fingerprint, public key,
/// creation time and tags.
type ListedKeyPair = (String, String, String, String, String, i64, Vec<(String, String)>);

/// `CreateKeyPair`/`ImportKeyPair`: takes a quota slot, inserts the key pair and its tags.
struct InsertKeyPair {
    scope: Scope,
    row: KeyPairRow,
    quota: u32,
}

impl GroupWrite for InsertKeyPair {
    type Output = ();

    fn on_sqlite(&self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        sqlite::insert_key_pair(conn, &self.scope, &self.row, self.quota)
    }

    fn on_postgres<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), StoreError>> {
        let InsertKeyPair { scope, row, quota } = self;
        Box::pin(async move {
            let inserted = sqlx::query(POSTGRES_INSERT_KEY_PAIR)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(i64::from(*quota))
                .bind(&row.id)
                .bind(&row.name)
                .bind(&row.key_type)
                .bind(&row.fingerprint)
                .bind(&row.public_key)
                .bind(row.created_ms)
                .execute(&mut *conn)
                .await;
            // Every failure below fails the transaction, which gives the quota slot back.
            if unique(inserted)?.rows_affected() == 0 {
                return Err(StoreError::QuotaExceeded(*quota));
            }
            insert_tags(conn, scope, &row.id, "key-pair", &row.tags).await
        })
    }
}

/// `DeleteKeyPair`: the key pair named by `value` (a name, or with `by_id` an id), its tags
/// and its quota slot; its id, if there was one.
struct DeleteKeyPair {
    scope: Scope,
    by_id: bool,
    value: String,
}

impl GroupWrite for DeleteKeyPair {
    type Output = Option<String>;

    fn on_sqlite(&self, conn: &rusqlite::Connection) -> Result<Option<String>, StoreError> {
        sqlite::delete_key_pair(conn, &self.scope, self.by_id, &self.value)
    }

    fn on_postgres<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<Option<String>, StoreError>> {
        let sql = if self.by_id { postgres_delete_key_pair!("id") } else { postgres_delete_key_pair!("name") };
        Box::pin(async move {
            let deleted = sqlx::query(sql)
                .bind(&self.scope.account)
                .bind(&self.scope.region)
                .bind(&self.value)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(deleted.map(|r| r.get(0)))
        })
    }
}

/// Audit records and the resources each names.
struct AuditRecords(Vec<AuditRow>);

impl GroupWrite for AuditRecords {
    type Output = ();

    fn on_sqlite(&self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        sqlite::append_audit(conn, &self.0)
    }

    fn on_postgres<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), StoreError>> {
        Box::pin(append_audit(conn, &self.0))
    }
}

/// Audit records per statement: a batch is inserted in a few multi-row statements, each one
/// round trip, rather than one or two per record.
const AUDIT_ROWS_PER_STATEMENT: usize = 64;

/// Appends audit records and the resources they name, on PostgreSQL. A resource finds its
/// record's `seq` by the record's `event_id`, so the two inserts need nothing from each other.
async fn append_audit(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(AUDIT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO audit_events (event_id, account, region, time_ms, event_name, event_source, username,
                                       access_key, read_only, record)
             VALUES {}",
            placeholders(chunk.len(), 10)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            insert = insert
                .bind(&row.event_id)
                .bind(&row.account)
                .bind(&row.region)
                .bind(row.time_ms)
                .bind(&row.event_name)
                .bind(&row.event_source)
                .bind(&row.username)
                .bind(&row.access_key)
                .bind(i64::from(row.read_only))
                .bind(&row.record);
        }
        insert.execute(&mut *conn).await?;
        let resources: Vec<(&String, i64, &String, &String)> = chunk
            .iter()
            .flat_map(|row| {
                row.resources.iter().zip(0..).map(|((kind, name), position)| (&row.event_id, position, kind, name))
            })
            .collect();
        for part in resources.chunks(AUDIT_ROWS_PER_STATEMENT) {
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(resources_insert(part.len())));
            for (event_id, position, kind, name) in part {
                insert = insert.bind(*event_id).bind(*position).bind(*kind).bind(*name);
            }
            insert.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// The insert of `rows` audit resources.
fn resources_insert(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let n = row * 4;
            format!("((SELECT seq FROM audit_events WHERE event_id = ${}), ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
        })
        .collect();
    format!("INSERT INTO audit_resources (seq, position, resource_type, resource_name) VALUES {}", values.join(", "))
}

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

#[async_trait]
impl Store for SqlStore {
    async fn insert_key_pair(&self, scope: &Scope, row: &KeyPairRow, quota: u32) -> Result<(), StoreError> {
        self.writer.transaction(InsertKeyPair { scope: scope.clone(), row: row.clone(), quota }).await
    }

    async fn key_pairs(&self, scope: &Scope, query: &KeyPairQuery) -> Result<Vec<KeyPairRow>, StoreError> {
        if query.names.is_empty() && query.ids.is_empty() {
            return self.all_key_pairs(scope).await;
        }
        let by_name = "SELECT id, name, key_type, fingerprint, public_key, created_ms FROM key_pairs
                       WHERE account = $1 AND region = $2 AND name = $3";
        let by_id = "SELECT id, name, key_type, fingerprint, public_key, created_ms FROM key_pairs
                     WHERE account = $1 AND region = $2 AND id = $3";
        let lookups = query.names.iter().map(|n| (by_name, n)).chain(query.ids.iter().map(|i| (by_id, i)));
        let mut rows: Vec<KeyPairRow> = Vec::new();
        for (sql, value) in lookups {
            let found = sqlx::query(sql)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(value)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(r) = found {
                let row = key_pair_row(&r);
                if !rows.iter().any(|seen| seen.id == row.id) {
                    rows.push(row);
                }
            }
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut tags = self.tags_of(scope, &ids).await?;
        for row in &mut rows {
            row.tags = tags.remove(&row.id).unwrap_or_default();
        }
        rows.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(rows)
    }

    async fn delete_key_pair(&self, scope: &Scope, target: KeyPairRef<'_>) -> Result<Option<String>, StoreError> {
        let (by_id, value) = match target {
            KeyPairRef::Name(name) => (false, name),
            KeyPairRef::Id(id) => (true, id),
        };
        self.writer.transaction(DeleteKeyPair { scope: scope.clone(), by_id, value: value.to_owned() }).await
    }

    async fn put_tags(
        &self,
        scope: &Scope,
        resources: &[(String, String)],
        tags: &[Tag],
        limit: usize,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        for (resource_id, resource_type) in resources {
            // Concurrent puts on one resource count one after the other, so that together
            // they cannot pass the limit. SQLite's one writer already runs them in turn.
            if let Some(lock) = self.backend.resource_lock() {
                sqlx::query(lock).bind(&scope.account).bind(&scope.region).bind(resource_id).execute(&mut *tx).await?;
            }
            insert_tags(&mut tx, scope, resource_id, resource_type, tags).await?;
            let count: i64 = sqlx::query(
                "SELECT COUNT(*) FROM tags WHERE account = $1 AND region = $2 AND resource_id = $3 AND key NOT LIKE 'aws:%'",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(resource_id)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
            if usize::try_from(count).unwrap_or(usize::MAX) > limit {
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_tags(
        &self,
        scope: &Scope,
        resource_ids: &[String],
        removals: &[TagRemoval],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        for resource_id in resource_ids {
            if removals.is_empty() {
                sqlx::query(
                    "DELETE FROM tags WHERE account = $1 AND region = $2 AND resource_id = $3 AND key NOT LIKE 'aws:%'",
                )
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(resource_id)
                .execute(&mut *tx)
                .await?;
            }
            for removal in removals {
                sqlx::query(
                    "DELETE FROM tags WHERE account = $1 AND region = $2 AND resource_id = $3 AND key = $4 AND ($5 IS NULL OR value = $5)",
                )
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(resource_id)
                .bind(&removal.key)
                .bind(removal.value.as_deref())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn tags(&self, scope: &Scope) -> Result<Vec<ResourceTag>, StoreError> {
        let rows = sqlx::query(
            "SELECT resource_id, resource_type, key, value FROM tags WHERE account = $1 AND region = $2 ORDER BY resource_id, key",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ResourceTag {
                resource_id: r.get(0),
                resource_type: r.get(1),
                tag: Tag { key: r.get(2), value: r.get(3) },
            })
            .collect())
    }

    async fn insert_instances(&self, scope: &Scope, rows: &[InstanceRow]) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        for row in rows {
            let inserted = sqlx::query(
                "INSERT INTO instances (id, account, region, reservation_id, image_id, instance_type, key_name, state, address,
                                        volume_id, launch_index, launch_ms, user_data, launch_key, http_tokens, owner,
                                        lease_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(&row.id)
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&row.reservation_id)
            .bind(&row.image_id)
            .bind(&row.instance_type)
            .bind(&row.key_name)
            .bind(row.state.as_str())
            .bind(&row.address)
            .bind(&row.volume_id)
            .bind(row.launch_index)
            .bind(row.launch_ms)
            .bind(&row.user_data)
            .bind(&row.launch_key)
            .bind(&row.http_tokens)
            .bind(&row.owner)
            .bind(row.lease_ms)
            .execute(&mut *tx)
            .await;
            unique(inserted)?;
            insert_tags(&mut tx, scope, &row.id, "instance", &row.tags).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<InstanceRow>, StoreError> {
        let sql = "SELECT id, reservation_id, image_id, instance_type, key_name, state, address, volume_id, launch_index,
                          launch_ms, user_data, launch_key, http_tokens, owner, lease_ms, reboots FROM instances WHERE account = $1 AND region = $2 ORDER BY launch_ms, launch_index, id";
        let rows = sqlx::query(sql).bind(&scope.account).bind(&scope.region).fetch_all(&self.pool).await?;
        let mut found: Vec<InstanceRow> = rows
            .iter()
            .map(instance_row)
            .filter(|r| r.as_ref().map_or(true, |r| ids.is_empty() || ids.contains(&r.id)))
            .collect::<Result<_, _>>()?;
        let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        let mut tags = self.tags_of(scope, &ids).await?;
        for row in &mut found {
            row.tags = tags.remove(&row.id).unwrap_or_default();
        }
        Ok(found)
    }

    /// Compare-and-set: the UPDATE names the state it read, so of two replicas racing on
    /// one instance only one moves it; the other reads again and sees the new state.
    async fn transition_instance(
        &self,
        scope: &Scope,
        id: &str,
        from: &[InstanceState],
        to: InstanceState,
    ) -> Result<Option<InstanceState>, StoreError> {
        for _ in 0..MAX_TRANSITION_ATTEMPTS {
            let current: Option<String> =
                sqlx::query("SELECT state FROM instances WHERE account = $1 AND region = $2 AND id = $3")
                    .bind(&scope.account)
                    .bind(&scope.region)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.get("state"));
            let Some(current) = current.as_deref().and_then(InstanceState::parse).filter(|c| from.contains(c)) else {
                return Ok(None);
            };
            let mut conn = self.writer.acquire().await?;
            let moved = sqlx::query(
                "UPDATE instances SET state = $4 WHERE account = $1 AND region = $2 AND id = $3 AND state = $5",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(id)
            .bind(to.as_str())
            .bind(current.as_str())
            .execute(&mut *conn)
            .await?;
            if moved.rows_affected() == 1 {
                return Ok(Some(current));
            }
        }
        Err(StoreError::Contended)
    }

    async fn push_key(
        &self,
        instance_id: &str,
        os_user: &str,
        public_key: &str,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("DELETE FROM pushed_keys WHERE expires_ms <= $1")
            .bind(crate::common::time::now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO pushed_keys (instance_id, os_user, public_key, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(instance_id)
            .bind(os_user)
            .bind(public_key)
            .bind(expires_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pushed_keys(&self, instance_id: &str, os_user: &str, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT public_key FROM pushed_keys WHERE instance_id = $1 AND os_user = $2 AND expires_ms > $3",
        )
        .bind(instance_id)
        .bind(os_user)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get("public_key")).collect())
    }

    async fn live_addresses(&self) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT address FROM instances WHERE state <> 'terminated'").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn instances_in_states(&self, states: &[InstanceState]) -> Result<Vec<(Scope, InstanceRow)>, StoreError> {
        let sql =
            "SELECT id, reservation_id, image_id, instance_type, key_name, state, address, volume_id, launch_index,
                          launch_ms, user_data, launch_key, http_tokens, owner, lease_ms, reboots, account, region FROM instances WHERE state <> 'terminated'";
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut found = Vec::new();
        for r in &rows {
            let row = instance_row(r)?;
            if states.contains(&row.state) {
                found.push((Scope { account: r.get("account"), region: r.get("region") }, row));
            }
        }
        Ok(found)
    }

    async fn put_parameter(
        &self,
        scope: &Scope,
        row: &ParameterRow,
        overwrite: bool,
        keep: i64,
    ) -> Result<PutOutcome, StoreError> {
        // Two writers can read the same latest version; the second insert then hits the
        // primary key and tries again with the next number. Each round has one winner, so
        // the losers back off a little longer each time instead of meeting again at once.
        for attempt in 0..32u64 {
            match self.try_put_parameter(scope, row, overwrite, keep).await {
                Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    tokio::time::sleep(Duration::from_micros(200 * (attempt + 1))).await;
                }
                other => return other,
            }
        }
        Err(StoreError::Contended)
    }

    async fn parameter(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<ParameterRow>, StoreError> {
        let row = sqlx::query(
            "SELECT name, version, type, value, key_id, description, data_type, modified_ms, modified_by
             FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3 AND ($4 IS NULL OR version = $4)
             ORDER BY version DESC LIMIT 1",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(parameter_row))
    }

    async fn parameters_with_prefix(&self, scope: &Scope, prefix: &str) -> Result<Vec<ParameterRow>, StoreError> {
        // Latest version per name, by an index range scan on the name prefix.
        let rows = sqlx::query(
            "SELECT p.name, p.version, p.type, p.value, p.key_id, p.description, p.data_type, p.modified_ms, p.modified_by
             FROM parameter_versions p
             WHERE p.account = $1 AND p.region = $2 AND substr(p.name, 1, length($3)) = $3
               AND p.version = (SELECT MAX(version) FROM parameter_versions q
                                WHERE q.account = p.account AND q.region = p.region AND q.name = p.name)
             ORDER BY p.name",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(parameter_row).collect())
    }

    async fn parameter_history(&self, scope: &Scope, name: &str) -> Result<Vec<ParameterRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, version, type, value, key_id, description, data_type, modified_ms, modified_by
             FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3 ORDER BY version",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(parameter_row).collect())
    }

    async fn delete_parameter(&self, scope: &Scope, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let deleted = sqlx::query("DELETE FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn save_execution(&self, scope: &Scope, row: &AutomationRow) -> Result<(), StoreError> {
        let saved = sqlx::query(
            "INSERT INTO automation_executions (id, account, region, document, status, parameters, steps, outputs, failure,
                                                start_ms, end_ms, executed_by, owner, target)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, steps = excluded.steps, outputs = excluded.outputs,
                                            failure = excluded.failure, end_ms = excluded.end_ms, owner = excluded.owner",
        )
        .bind(&row.id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.document)
        .bind(row.status.as_str())
        .bind(&row.parameters)
        .bind(&row.steps)
        .bind(&row.outputs)
        .bind(&row.failure)
        .bind(row.start_ms)
        .bind(row.end_ms)
        .bind(&row.executed_by)
        .bind(&row.owner)
        .bind(&row.target)
        .execute(&mut *self.writer.acquire().await?)
        .await;
        // A unique violation here is the partial index: another unfinished execution
        // targets this instance.
        unique(saved).map(drop)
    }

    async fn execution(&self, scope: &Scope, id: &str) -> Result<Option<AutomationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, document, status, parameters, steps, outputs, failure, start_ms, end_ms, executed_by, owner, target
             FROM automation_executions WHERE account = $1 AND region = $2 AND id = $3",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(automation_row).transpose()
    }

    async fn executions(&self, scope: &Scope) -> Result<Vec<AutomationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, document, status, parameters, steps, outputs, failure, start_ms, end_ms, executed_by, owner, target
             FROM automation_executions WHERE account = $1 AND region = $2 ORDER BY start_ms, id",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(automation_row).collect()
    }

    async fn executions_in_status(
        &self,
        statuses: &[AutomationStatus],
    ) -> Result<Vec<(Scope, AutomationRow)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, document, status, parameters, steps, outputs, failure, start_ms, end_ms, executed_by, owner, target,
                    account, region
             FROM automation_executions WHERE end_ms IS NULL ORDER BY start_ms",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut found = Vec::new();
        for r in &rows {
            let row = automation_row(r)?;
            if statuses.contains(&row.status) {
                found.push((Scope { account: r.get("account"), region: r.get("region") }, row));
            }
        }
        Ok(found)
    }

    async fn renew_instance_leases(&self, owner: &str, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE instances SET lease_ms = $2 WHERE owner = $1 AND state <> 'terminated'")
            .bind(owner)
            .bind(until_ms)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }

    async fn claim_instance(
        &self,
        scope: &Scope,
        id: &str,
        expired_before_ms: i64,
        owner: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE instances SET owner = $4, lease_ms = $5
             WHERE account = $1 AND region = $2 AND id = $3 AND state <> 'terminated'
               AND (owner = '' OR owner = $4 OR lease_ms < $6)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(id)
        .bind(owner)
        .bind(until_ms)
        .bind(expired_before_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(claimed.rows_affected() > 0)
    }

    async fn request_reboot(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE instances SET reboots = reboots + 1 WHERE account = $1 AND region = $2 AND id = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(id)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<&'static str, StoreError> {
        let _: i64 = sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(&self.pool).await?;
        Ok(match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        for table in reset_tables() {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_user(&self, account: &str, row: &UserRow) -> Result<(), StoreError> {
        // Unique ignoring case: the expression index refuses `ALICE` after `alice`.
        let inserted =
            sqlx::query("INSERT INTO iam_users (account, name, user_id, created_ms) VALUES ($1, $2, $3, $4)")
                .bind(account)
                .bind(&row.name)
                .bind(&row.user_id)
                .bind(row.created_ms)
                .execute(&mut *self.writer.acquire().await?)
                .await;
        unique(inserted).map(drop)
    }

    async fn users(&self, account: &str) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query("SELECT name, user_id, created_ms FROM iam_users WHERE account = $1 ORDER BY name")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn user(&self, account: &str, name: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(
            "SELECT name, user_id, created_ms FROM iam_users WHERE account = $1 AND lower(name) = lower($2)",
        )
        .bind(account)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn delete_user(&self, account: &str, name: &str) -> Result<DeleteUserOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if !lock_user(&mut tx, account, name).await? {
            return Ok(DeleteUserOutcome::NotFound);
        }
        let keys: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iam_access_keys WHERE account = $1 AND lower(user_name) = lower($2)",
        )
        .bind(account)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let policies: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iam_user_policies WHERE account = $1 AND lower(user_name) = lower($2)",
        )
        .bind(account)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let outcome = if keys > 0 {
            DeleteUserOutcome::HasAccessKeys
        } else if policies > 0 {
            DeleteUserOutcome::HasPolicies
        } else {
            let deleted = sqlx::query("DELETE FROM iam_users WHERE account = $1 AND lower(name) = lower($2)")
                .bind(account)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 { DeleteUserOutcome::NotFound } else { DeleteUserOutcome::Deleted }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn insert_access_key(&self, row: &AccessKeyRow, per_user: u32) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if !lock_user(&mut tx, &row.account, &row.user_name).await? {
            return Ok(false);
        }
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iam_access_keys WHERE account = $1 AND lower(user_name) = lower($2)",
        )
        .bind(&row.account)
        .bind(&row.user_name)
        .fetch_one(&mut *tx)
        .await?;
        if held >= i64::from(per_user) {
            return Err(StoreError::QuotaExceeded(per_user));
        }
        sqlx::query(
            "INSERT INTO iam_access_keys (id, account, user_name, sealed_secret, status, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.account)
        .bind(&row.user_name)
        .bind(&row.sealed_secret)
        .bind(row.status.as_str())
        .bind(row.created_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_root_access_key(&self, row: &AccessKeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_access_keys (id, account, user_name, sealed_secret, status, created_ms)
             VALUES ($1, $2, '', $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(&row.account)
        .bind(&row.sealed_secret)
        .bind(row.status.as_str())
        .bind(row.created_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(())
    }

    async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account, user_name, sealed_secret, status, created_ms FROM iam_access_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(access_key_row).transpose()
    }

    async fn access_keys(&self, account: &str, user: &str) -> Result<Vec<AccessKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account, user_name, sealed_secret, status, created_ms FROM iam_access_keys
             WHERE account = $1 AND lower(user_name) = lower($2) ORDER BY created_ms, id",
        )
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(access_key_row).collect()
    }

    async fn delete_access_key(&self, account: &str, user: &str, id: &str) -> Result<bool, StoreError> {
        let deleted =
            sqlx::query("DELETE FROM iam_access_keys WHERE account = $1 AND lower(user_name) = lower($2) AND id = $3")
                .bind(account)
                .bind(user)
                .bind(id)
                .execute(&mut *self.writer.acquire().await?)
                .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn put_user_policy(&self, account: &str, user: &str, name: &str, document: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if !lock_user(&mut tx, account, user).await? {
            return Ok(false);
        }
        let canonical: Option<String> =
            sqlx::query_scalar("SELECT name FROM iam_users WHERE account = $1 AND lower(name) = lower($2)")
                .bind(account)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(user) = &canonical {
            sqlx::query(
                "INSERT INTO iam_user_policies (account, user_name, policy_name, document) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, user_name, policy_name) DO UPDATE SET document = excluded.document",
            )
            .bind(account)
            .bind(user)
            .bind(name)
            .bind(document)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(canonical.is_some())
    }

    async fn user_policies(&self, account: &str, user: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT policy_name, document FROM iam_user_policies WHERE account = $1 AND lower(user_name) = lower($2) ORDER BY policy_name",
        )
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn delete_user_policy(&self, account: &str, user: &str, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM iam_user_policies WHERE account = $1 AND lower(user_name) = lower($2) AND policy_name = $3",
        )
        .bind(account)
        .bind(user)
        .bind(name)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        self.writer.transaction(AuditRecords(rows.to_vec())).await
    }

    async fn audit_events(&self, scope: &Scope, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let mut sql = String::from(
            "SELECT e.seq, e.event_id, e.account, e.region, e.time_ms, e.event_name, e.event_source, e.username,
                    e.access_key, e.read_only, e.record
             FROM audit_events e
             WHERE e.account = $1 AND e.region = $2 AND e.time_ms >= $3 AND e.time_ms <= $4 AND e.seq < $5",
        );
        if let Some((attribute, _)) = &query.attribute {
            sql.push_str(" AND ");
            sql.push_str(audit_condition(*attribute));
        }
        sql.push_str(if query.attribute.is_some() {
            " ORDER BY e.seq DESC LIMIT $7"
        } else {
            " ORDER BY e.seq DESC LIMIT $6"
        });
        // Safe: `sql` is built only from the constant fragments above.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(query.start_ms)
            .bind(query.end_ms)
            .bind(query.before_seq.unwrap_or(i64::MAX));
        match &query.attribute {
            Some((AuditAttribute::ReadOnly, value)) => q = q.bind(i64::from(value == "true")),
            Some((_, value)) => q = q.bind(value),
            None => {}
        }
        let rows = q.bind(i64::from(query.limit)).fetch_all(&self.pool).await?;
        let mut events: Vec<AuditRow> = rows
            .iter()
            .map(|r| AuditRow {
                seq: r.get(0),
                event_id: r.get(1),
                account: r.get(2),
                region: r.get(3),
                time_ms: r.get(4),
                event_name: r.get(5),
                event_source: r.get(6),
                username: r.get(7),
                access_key: r.get(8),
                read_only: r.get::<i64, _>(9) != 0,
                record: r.get(10),
                resources: Vec::new(),
            })
            .collect();
        // One query for the resources of the whole page (no N+1): the page's seq range,
        // filtered to its own events.
        if let (Some(newest), Some(oldest)) = (events.first().map(|e| e.seq), events.last().map(|e| e.seq)) {
            let rows = sqlx::query(
                "SELECT seq, resource_type, resource_name FROM audit_resources WHERE seq >= $1 AND seq <= $2 ORDER BY seq, position",
            )
            .bind(oldest)
            .bind(newest)
            .fetch_all(&self.pool)
            .await?;
            let mut by_seq: HashMap<i64, Vec<(String, String)>> = HashMap::new();
            for r in &rows {
                by_seq.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
            }
            for event in &mut events {
                event.resources = by_seq.remove(&event.seq).unwrap_or_default();
            }
        }
        Ok(events)
    }
}

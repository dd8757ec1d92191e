//! Key pairs: the quota-checked insert and the delete are group writes (`sqlite.rs` has their
//! SQLite halves); a listing is one JSON row.

use super::tags::insert_tags;
use super::*;
use crate::store::{KeyType, UnitOfWork};

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

fn key_pair_row(r: &AnyRow) -> Result<KeyPairRow, StoreError> {
    Ok(KeyPairRow {
        id: r.get("id"),
        name: r.get("name"),
        key_type: key_type(&r.get::<String, _>("key_type"))?,
        fingerprint: r.get("fingerprint"),
        public_key: r.get("public_key"),
        created_ms: r.get("created_ms"),
        tags: Vec::new(),
    })
}

/// A stored key type; one this version does not know is a corrupt row.
fn key_type(name: &str) -> Result<KeyType, StoreError> {
    KeyType::parse(name).ok_or_else(|| StoreError::Corrupt(format!("key_type {name:?}")))
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
                .bind(row.key_type.as_str())
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

impl SqlStore {
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
            .map(|(id, name, stored_type, fingerprint, public_key, created_ms, tags)| {
                let mut tags: Vec<Tag> = tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
                tags.sort_by(|a, b| a.key.cmp(&b.key));
                let key_type = key_type(&stored_type)?;
                Ok(KeyPairRow { id, name, key_type, fingerprint, public_key, created_ms, tags })
            })
            .collect::<Result<_, StoreError>>()?;
        rows.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(rows)
    }
}

impl Backend {
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

#[async_trait]
impl KeyPairStore for SqlStore {
    async fn insert_key_pair(
        &self,
        work: &UnitOfWork,
        scope: &Scope,
        row: &KeyPairRow,
        quota: u32,
    ) -> Result<(), StoreError> {
        self.writer.transaction_in(work, InsertKeyPair { scope: scope.clone(), row: row.clone(), quota }).await
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
                let row = key_pair_row(&r)?;
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

    async fn delete_key_pair(
        &self,
        work: &UnitOfWork,
        scope: &Scope,
        target: KeyPairRef<'_>,
    ) -> Result<Option<String>, StoreError> {
        let (by_id, value) = match target {
            KeyPairRef::Name(name) => (false, name),
            KeyPairRef::Id(id) => (true, id),
        };
        self.writer.transaction_in(work, DeleteKeyPair { scope: scope.clone(), by_id, value: value.to_owned() }).await
    }
}

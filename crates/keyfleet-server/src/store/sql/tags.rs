//! Tags of any resource, loaded for many resources in one query.

use super::*;

pub(super) async fn insert_tags(
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

/// Resources whose tags one query loads (bind parameters stay far below both backends' caps).
const TAG_LOOKUP_CHUNK: usize = 500;

impl SqlStore {
    /// The tags of each of `resource_ids`, by key, in one query per 500 resources.
    pub(super) async fn tags_of(
        &self,
        scope: &Scope,
        resource_ids: &[&str],
    ) -> Result<HashMap<String, Vec<Tag>>, StoreError> {
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
}

impl Backend {
    /// A lock on one resource held to the end of the transaction, where writers can race.
    pub(super) fn resource_lock(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => {
                Some("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))")
            }
        }
    }
}

#[async_trait]
impl TagStore for SqlStore {
    async fn put_tags(
        &self,
        scope: &Scope,
        resources: &[(String, String)],
        tags: &[Tag],
        limit: usize,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        // Concurrent puts on one resource count one after the other, so that together they
        // cannot pass the limit. The locks are taken in one order whatever the request's, so
        // that two puts on [A, B] and [B, A] cannot deadlock. SQLite's one writer already
        // runs them in turn.
        if let Some(lock) = self.backend.resource_lock() {
            let mut ids: Vec<&str> = resources.iter().map(|(id, _)| id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            for resource_id in ids {
                sqlx::query(lock).bind(&scope.account).bind(&scope.region).bind(resource_id).execute(&mut *tx).await?;
            }
        }
        for (resource_id, resource_type) in resources {
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

    async fn resource_tags(&self, scope: &Scope, resource_id: &str) -> Result<Vec<Tag>, StoreError> {
        Ok(self.tags_of(scope, &[resource_id]).await?.remove(resource_id).unwrap_or_default())
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
}

//! Parameter Store: versions, history, deletes.

use super::*;

fn parameter_row(r: &AnyRow) -> Result<ParameterRow, StoreError> {
    Ok(ParameterRow {
        name: r.get("name"),
        version: r.get("version"),
        kind: wire(r, "type")?,
        value: r.get("value"),
        key_id: r.get("key_id"),
        description: r.get("description"),
        data_type: r.get("data_type"),
        modified_ms: r.get("modified_ms"),
        modified_by: r.get("modified_by"),
    })
}

impl SqlStore {
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
            Some(r) => {
                let stored: ParameterType = wire(&r, "type")?;
                if stored != row.kind {
                    return Ok(PutOutcome::TypeMismatch(stored));
                }
                r.get::<i64, _>("version") + 1
            }
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
        .bind(row.kind.as_str())
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
}

#[async_trait]
impl ParameterStore for SqlStore {
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
        row.as_ref().map(parameter_row).transpose()
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
        rows.iter().map(parameter_row).collect()
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
        rows.iter().map(parameter_row).collect()
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
}

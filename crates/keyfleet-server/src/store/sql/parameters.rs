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
        tier: wire(r, "tier")?,
        allowed_pattern: r.get("allowed_pattern"),
        policies: r.get("policies"),
        expires_ms: r.get("expires_ms"),
        labels: Vec::new(),
    })
}

/// The columns [`parameter_row`] reads.
macro_rules! parameter_columns {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "name, ",
            $prefix,
            "version, ",
            $prefix,
            "type, ",
            $prefix,
            "value, ",
            $prefix,
            "key_id, ",
            $prefix,
            "description, ",
            $prefix,
            "data_type, ",
            $prefix,
            "modified_ms, ",
            $prefix,
            "modified_by, ",
            $prefix,
            "tier, ",
            $prefix,
            "allowed_pattern, ",
            $prefix,
            "policies, ",
            $prefix,
            "expires_ms"
        )
    };
}

/// The labels on one version.
async fn labels_on_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scope: &Scope,
    name: &str,
    version: i64,
) -> Result<i64, StoreError> {
    let count =
        "SELECT COUNT(*) FROM parameter_labels WHERE account = $1 AND region = $2 AND name = $3 AND version = $4";
    Ok(sqlx::query_scalar(count)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .bind(version)
        .fetch_one(&mut **tx)
        .await?)
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
                                             modified_ms, modified_by, tier, allowed_pattern, policies, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
        .bind(row.tier.as_str())
        .bind(&row.allowed_pattern)
        .bind(&row.policies)
        .bind(row.expires_ms)
        .execute(&mut *tx)
        .await?;
        // The oldest version goes, unless a label holds it (then the put fails, as on AWS, and
        // the transaction's end undoes all). Deleting first locks those versions, so a label
        // being put on one either lands before the check below or finds no version.
        sqlx::query(
            "DELETE FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3 AND version <= $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(version - keep)
        .execute(&mut *tx)
        .await?;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(version) FROM parameter_labels WHERE account = $1 AND region = $2 AND name = $3 AND version <= $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(version - keep)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(held) = held {
            return Ok(PutOutcome::OldestLabelled(held));
        }
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
        let row = sqlx::query(concat!(
            "SELECT ",
            parameter_columns!(""),
            " FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3 AND ($4 IS NULL OR version = $4)
             ORDER BY version DESC LIMIT 1"
        ))
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
        let rows = sqlx::query(concat!(
            "SELECT ",
            parameter_columns!("p."),
            " FROM parameter_versions p
             WHERE p.account = $1 AND p.region = $2 AND substr(p.name, 1, length($3)) = $3
               AND p.version = (SELECT MAX(version) FROM parameter_versions q
                                WHERE q.account = p.account AND q.region = p.region AND q.name = p.name)
             ORDER BY p.name"
        ))
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(parameter_row).collect()
    }

    async fn parameter_history(&self, scope: &Scope, name: &str) -> Result<Vec<ParameterRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            parameter_columns!(""),
            " FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3 ORDER BY version"
        ))
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let labels = sqlx::query(
            "SELECT label, version FROM parameter_labels WHERE account = $1 AND region = $2 AND name = $3 ORDER BY label",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let mut history = rows.iter().map(parameter_row).collect::<Result<Vec<_>, _>>()?;
        for label in &labels {
            let version: i64 = label.get("version");
            if let Some(row) = history.iter_mut().find(|r| r.version == version) {
                row.labels.push(label.get("label"));
            }
        }
        Ok(history)
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
        sqlx::query("DELETE FROM parameter_labels WHERE account = $1 AND region = $2 AND name = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn label_parameter(
        &self,
        scope: &Scope,
        name: &str,
        version: i64,
        labels: &[String],
        max_per_version: usize,
    ) -> Result<LabelOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        // Touching the version locks it until the labels are in: a delete or a put that would
        // drop it waits, then takes the labels with it (or finds them and stops).
        let locked = sqlx::query(
            "UPDATE parameter_versions SET version = version
             WHERE account = $1 AND region = $2 AND name = $3 AND version = $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if locked.rows_affected() == 0 {
            return Ok(LabelOutcome::NoVersion);
        }
        for label in labels {
            sqlx::query("DELETE FROM parameter_labels WHERE account = $1 AND region = $2 AND name = $3 AND label = $4")
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(name)
                .bind(label)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO parameter_labels (account, region, name, label, version) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(name)
            .bind(label)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        let on_version = labels_on_version(&mut tx, scope, name, version).await?;
        if usize::try_from(on_version).unwrap_or(usize::MAX) > max_per_version {
            // Dropping the transaction undoes the moves.
            return Ok(LabelOutcome::TooMany);
        }
        tx.commit().await?;
        Ok(LabelOutcome::Labelled)
    }

    async fn unlabel_parameter(
        &self,
        scope: &Scope,
        name: &str,
        version: i64,
        labels: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let mut removed = Vec::new();
        for label in labels {
            let gone = sqlx::query(
                "DELETE FROM parameter_labels
                 WHERE account = $1 AND region = $2 AND name = $3 AND label = $4 AND version = $5",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(name)
            .bind(label)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if gone > 0 {
                removed.push(label.clone());
            }
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn labelled_version(&self, scope: &Scope, name: &str, label: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT version FROM parameter_labels WHERE account = $1 AND region = $2 AND name = $3 AND label = $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .bind(label)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_if_expired(&self, scope: &Scope, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        // The latest version decides, read under the lock the delete takes: a put that moved
        // the expiration, or a new parameter of the name, is not deleted.
        let expires: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT expires_ms FROM parameter_versions WHERE account = $1 AND region = $2 AND name = $3
             ORDER BY version DESC LIMIT 1",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if !matches!(expires, Some(Some(at)) if at <= now_ms) {
            return Ok(false);
        }
        for table in ["parameter_versions", "parameter_labels"] {
            let delete = format!("DELETE FROM {table} WHERE account = $1 AND region = $2 AND name = $3");
            sqlx::query(sqlx::AssertSqlSafe(delete))
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn expired_parameters(&self, now_ms: i64) -> Result<Vec<(Scope, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.account, p.region, p.name FROM parameter_versions p
             WHERE p.expires_ms IS NOT NULL AND p.expires_ms <= $1
               AND p.version = (SELECT MAX(version) FROM parameter_versions q
                                WHERE q.account = p.account AND q.region = p.region AND q.name = p.name)",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (Scope { account: r.get("account"), region: r.get("region") }, r.get("name"))).collect())
    }
}

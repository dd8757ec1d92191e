//! Auto Scaling groups (one document each, saved against its revision) and their activities.

use super::*;
use crate::store::{Activity, AutoScalingStore, GroupRecord, GroupRow};

const GROUP_COLUMNS: &str = "name, revision, document, owner, lease_ms";

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn group_row(r: &AnyRow) -> Result<GroupRow, StoreError> {
    let document: String = r.get("document");
    let record: GroupRecord = serde_json::from_str(&document).map_err(|e| corrupt("auto scaling group", e))?;
    Ok(GroupRow {
        name: r.get("name"),
        revision: r.get("revision"),
        owner: r.get("owner"),
        lease_ms: r.get("lease_ms"),
        record,
    })
}

fn document(row: &GroupRow) -> Result<String, StoreError> {
    serde_json::to_string(&row.record).map_err(|e| corrupt("auto scaling group", e))
}

#[async_trait]
impl AutoScalingStore for SqlStore {
    async fn insert_group(&self, scope: &Scope, row: &GroupRow, quota: u32) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if let Some(lock) = self.backend.resource_lock() {
            sqlx::query(lock)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind("auto-scaling-groups")
                .execute(&mut *tx)
                .await?;
        }
        let held: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM auto_scaling_groups WHERE account = $1 AND region = $2")
                .bind(&scope.account)
                .bind(&scope.region)
                .fetch_one(&mut *tx)
                .await?;
        if held >= i64::from(quota) {
            return Err(StoreError::QuotaExceeded(quota));
        }
        let inserted = sqlx::query(
            "INSERT INTO auto_scaling_groups (account, region, name, revision, document, owner, lease_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(row.revision)
        .bind(document(row)?)
        .bind(&row.owner)
        .bind(row.lease_ms)
        .execute(&mut *tx)
        .await;
        unique(inserted)?;
        tx.commit().await?;
        Ok(())
    }

    async fn group(&self, scope: &Scope, name: &str) -> Result<Option<GroupRow>, StoreError> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM auto_scaling_groups WHERE account = $1 AND region = $2 AND name = $3");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(group_row).transpose()
    }

    async fn groups(&self, scope: &Scope) -> Result<Vec<GroupRow>, StoreError> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM auto_scaling_groups WHERE account = $1 AND region = $2 ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(group_row).collect()
    }

    async fn all_groups(&self) -> Result<Vec<(Scope, GroupRow)>, StoreError> {
        let sql =
            format!("SELECT account, region, {GROUP_COLUMNS} FROM auto_scaling_groups ORDER BY account, region, name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((Scope { account: r.get("account"), region: r.get("region") }, group_row(r)?))).collect()
    }

    async fn save_group(&self, scope: &Scope, row: &GroupRow) -> Result<bool, StoreError> {
        let saved = sqlx::query(
            "UPDATE auto_scaling_groups SET document = $4, revision = revision + 1
             WHERE account = $1 AND region = $2 AND name = $3 AND revision = $5",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(document(row)?)
        .bind(row.revision)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(saved.rows_affected() > 0)
    }

    async fn delete_group(&self, scope: &Scope, name: &str, revision: i64) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM auto_scaling_groups WHERE account = $1 AND region = $2 AND name = $3 AND revision = $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .bind(revision)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM scaling_activities WHERE account = $1 AND region = $2 AND group_name = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_group(
        &self,
        scope: &Scope,
        name: &str,
        owner: &str,
        until_ms: i64,
        expired_before_ms: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE auto_scaling_groups SET owner = $4, lease_ms = $5
             WHERE account = $1 AND region = $2 AND name = $3 AND (owner = '' OR owner = $4 OR lease_ms < $6)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name)
        .bind(owner)
        .bind(until_ms)
        .bind(expired_before_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(claimed.rows_affected() > 0)
    }

    async fn put_activity(&self, scope: &Scope, activity: &Activity, keep: usize) -> Result<(), StoreError> {
        let text = serde_json::to_string(activity).map_err(|e| corrupt("scaling activity", e))?;
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO scaling_activities (id, account, region, group_name, start_ms, end_ms, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET document = excluded.document, end_ms = excluded.end_ms
             WHERE scaling_activities.end_ms IS NULL",
        )
        .bind(&activity.id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&activity.group)
        .bind(activity.start_ms)
        .bind(activity.end_ms)
        .bind(text)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM scaling_activities WHERE account = $1 AND region = $2 AND group_name = $3 AND id NOT IN
               (SELECT id FROM scaling_activities WHERE account = $1 AND region = $2 AND group_name = $3
                ORDER BY start_ms DESC, id DESC LIMIT $4)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&activity.group)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn activities(&self, scope: &Scope, group: Option<&str>) -> Result<Vec<Activity>, StoreError> {
        let rows = sqlx::query(
            "SELECT document FROM scaling_activities
             WHERE account = $1 AND region = $2 AND ($3 IS NULL OR group_name = $3)
             ORDER BY start_ms DESC, id DESC",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.get("document");
                serde_json::from_str(&text).map_err(|e| corrupt("scaling activity", e))
            })
            .collect()
    }
}

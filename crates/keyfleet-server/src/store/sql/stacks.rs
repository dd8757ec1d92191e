//! CloudFormation stacks and their events.

use super::*;
use crate::store::{StackEvent, StackRecord, StackRow, StackStatus, StackStore};

const STACK_COLUMNS: &str = "id, name, status, document, created_ms, deleted_ms, owner, lease_ms";

fn stack_row(r: &AnyRow) -> Result<StackRow, StoreError> {
    let document: String = r.get("document");
    let record: StackRecord =
        serde_json::from_str(&document).map_err(|e| StoreError::Corrupt(format!("stack document: {e}")))?;
    Ok(StackRow {
        id: r.get("id"),
        name: r.get("name"),
        status: wire(r, "status")?,
        created_ms: r.get("created_ms"),
        deleted_ms: r.get("deleted_ms"),
        owner: r.get("owner"),
        lease_ms: r.get("lease_ms"),
        record,
    })
}

/// `'CREATE_IN_PROGRESS', …`: the statuses a runner has work in, as SQL literals (fixed
/// names, never input).
fn in_progress_list() -> String {
    let names = StackStatus::ALL.iter().filter(|s| s.in_progress()).map(|s| format!("'{}'", s.as_str()));
    names.collect::<Vec<_>>().join(", ")
}

fn document(row: &StackRow) -> Result<String, StoreError> {
    serde_json::to_string(&row.record).map_err(|e| StoreError::Corrupt(format!("stack document: {e}")))
}

#[async_trait]
impl StackStore for SqlStore {
    async fn insert_stack(&self, scope: &Scope, row: &StackRow) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO stacks (id, account, region, name, status, document, created_ms, deleted_ms, owner, lease_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(row.status.as_str())
        .bind(document(row)?)
        .bind(row.created_ms)
        .bind(row.deleted_ms)
        .bind(&row.owner)
        .bind(row.lease_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await;
        unique(inserted).map(drop)
    }

    async fn stack(&self, scope: &Scope, name_or_id: &str) -> Result<Option<StackRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STACK_COLUMNS} FROM stacks
             WHERE account = $1 AND region = $2 AND (id = $3 OR (name = $3 AND deleted_ms IS NULL))"
        )))
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(name_or_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stack_row).transpose()
    }

    async fn stacks(&self, scope: &Scope) -> Result<Vec<StackRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STACK_COLUMNS} FROM stacks WHERE account = $1 AND region = $2 ORDER BY created_ms, id"
        )))
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stack_row).collect()
    }

    async fn save_stack(&self, scope: &Scope, row: &StackRow, expected: StackStatus) -> Result<bool, StoreError> {
        // A delete that starts has taken up the request for it.
        let saved = sqlx::query(
            "UPDATE stacks SET status = $4, document = $5, deleted_ms = $6,
                               delete_requested_by = CASE WHEN $4 = 'DELETE_IN_PROGRESS' THEN NULL
                                                          ELSE delete_requested_by END,
                               delete_requested_by_id = CASE WHEN $4 = 'DELETE_IN_PROGRESS' THEN NULL
                                                             ELSE delete_requested_by_id END
             WHERE account = $1 AND region = $2 AND id = $3 AND status = $7 AND (owner = $8 OR owner = '')
               AND (delete_requested_by IS NULL OR $4 <> 'UPDATE_IN_PROGRESS')",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.id)
        .bind(row.status.as_str())
        .bind(document(row)?)
        .bind(row.deleted_ms)
        .bind(expected.as_str())
        .bind(&row.owner)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(saved.rows_affected() > 0)
    }

    async fn claim_stack(
        &self,
        scope: &Scope,
        id: &str,
        owner: &str,
        until_ms: i64,
        expired_before_ms: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE stacks SET owner = $4, lease_ms = $5
             WHERE account = $1 AND region = $2 AND id = $3 AND (owner = '' OR owner = $4 OR lease_ms < $6)",
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

    async fn request_stack_delete(
        &self,
        scope: &Scope,
        id: &str,
        by: &str,
        by_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let marked = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE stacks SET delete_requested_by = $4, delete_requested_by_id = $5
             WHERE account = $1 AND region = $2 AND id = $3 AND status IN ({})",
            in_progress_list()
        )))
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(id)
        .bind(by)
        .bind(by_id)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(marked.rows_affected() > 0)
    }

    async fn stack_delete_requested(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT delete_requested_by, delete_requested_by_id FROM stacks WHERE account = $1 AND region = $2 AND id = $3",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| {
            let by: Option<String> = r.get("delete_requested_by");
            by.map(|by| (by, r.get::<Option<String>, _>("delete_requested_by_id")))
        }))
    }

    async fn stacks_in_progress(&self) -> Result<Vec<(Scope, StackRow)>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STACK_COLUMNS}, account, region FROM stacks
             WHERE deleted_ms IS NULL AND (status IN ({}) OR delete_requested_by IS NOT NULL) ORDER BY created_ms",
            in_progress_list()
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((Scope { account: r.get("account"), region: r.get("region") }, stack_row(r)?))).collect()
    }

    async fn add_stack_event(&self, stack_id: &str, event: &StackEvent) -> Result<(), StoreError> {
        let document = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(format!("stack event: {e}")))?;
        sqlx::query("INSERT INTO stack_events (stack_id, document) VALUES ($1, $2)")
            .bind(stack_id)
            .bind(document)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }

    async fn prune_stacks(&self, deleted_before_ms: i64) -> Result<(), StoreError> {
        let mut writer = self.writer.acquire().await?;
        sqlx::query(
            "DELETE FROM stack_events WHERE stack_id IN (SELECT id FROM stacks WHERE deleted_ms IS NOT NULL AND deleted_ms < $1)",
        )
        .bind(deleted_before_ms)
        .execute(&mut *writer)
        .await?;
        sqlx::query("DELETE FROM stacks WHERE deleted_ms IS NOT NULL AND deleted_ms < $1")
            .bind(deleted_before_ms)
            .execute(&mut *writer)
            .await?;
        Ok(())
    }

    async fn stack_events(&self, stack_id: &str) -> Result<Vec<StackEvent>, StoreError> {
        let rows = sqlx::query("SELECT document FROM stack_events WHERE stack_id = $1 ORDER BY seq DESC")
            .bind(stack_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.get::<String, _>("document"))
                    .map_err(|e| StoreError::Corrupt(format!("stack event: {e}")))
            })
            .collect()
    }
}

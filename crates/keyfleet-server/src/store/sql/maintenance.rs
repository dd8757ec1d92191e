//! The store as a whole: readiness, and the `--dev` reset derived from the migrations.

use super::*;

/// What `--dev`'s reset keeps: the audit log is append-only, and automation executions are
/// its history of runs.
pub(in crate::store) const KEPT_ON_RESET: [&str; 3] = ["audit_events", "audit_resources", "automation_executions"];

/// The tables `--dev`'s reset empties: every table the migrations create but those kept,
/// the last created first (so that a table goes before the ones it refers to).
pub(in crate::store) fn reset_tables() -> Vec<String> {
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

#[async_trait]
impl Maintenance for SqlStore {
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
}

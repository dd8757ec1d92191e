//! Console sessions.

use super::*;

#[async_trait]
impl ConsoleStore for SqlStore {
    async fn insert_console_session(&self, row: &ConsoleSessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_sessions
                 (token_hash, account, user_name, access_key_id, csrf, credential, created_ms, last_seen_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.token_hash)
        .bind(&row.account)
        .bind(row.user_name.as_deref())
        .bind(&row.access_key_id)
        .bind(&row.csrf)
        .bind(&row.credential)
        .bind(row.created_ms)
        .bind(row.last_seen_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(())
    }

    async fn console_session(
        &self,
        token_hash: &str,
        idle_since_ms: i64,
    ) -> Result<Option<ConsoleSessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, account, user_name, access_key_id, csrf, credential, created_ms, last_seen_ms
             FROM console_sessions WHERE token_hash = $1 AND last_seen_ms >= $2",
        )
        .bind(token_hash)
        .bind(idle_since_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ConsoleSessionRow {
            token_hash: r.get("token_hash"),
            account: r.get("account"),
            user_name: r.get("user_name"),
            access_key_id: r.get("access_key_id"),
            csrf: r.get("csrf"),
            credential: r.get("credential"),
            created_ms: r.get("created_ms"),
            last_seen_ms: r.get("last_seen_ms"),
        }))
    }

    async fn touch_console_session(&self, token_hash: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_sessions SET last_seen_ms = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now_ms)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }

    async fn delete_console_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }

    async fn delete_idle_console_sessions(&self, idle_since_ms: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE last_seen_ms < $1")
            .bind(idle_since_ms)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }
}

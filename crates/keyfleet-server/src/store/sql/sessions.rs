//! STS temporary credentials.

use super::*;

fn issuer(r: &AnyRow) -> Result<SessionIssuer, StoreError> {
    let kind: String = r.get("issuer_kind");
    Ok(match kind.as_str() {
        "role" => SessionIssuer::Role { name: r.get("issuer_name"), id: r.get("issuer_id") },
        "user" => SessionIssuer::User { name: r.get("issuer_name"), id: r.get("issuer_id") },
        "root" => SessionIssuer::Root,
        other => return Err(StoreError::Corrupt(format!("issuer_kind {other:?}"))),
    })
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, row: &SessionRow, forget_before_ms: i64) -> Result<(), StoreError> {
        let (kind, name, id) = match &row.issuer {
            SessionIssuer::Role { name, id } => ("role", name.as_str(), id.as_str()),
            SessionIssuer::User { name, id } => ("user", name.as_str(), id.as_str()),
            SessionIssuer::Root => ("root", "", ""),
        };
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("DELETE FROM sts_sessions WHERE expires_ms < $1").bind(forget_before_ms).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO sts_sessions (access_key_id, account, sealed_secret, token_digest, issuer_kind, issuer_name,
                                       issuer_id, session_name, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.access_key_id)
        .bind(&row.account)
        .bind(&row.sealed_secret)
        .bind(&row.token_digest)
        .bind(kind)
        .bind(name)
        .bind(id)
        .bind(&row.session_name)
        .bind(row.created_ms)
        .bind(row.expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, access_key_id: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT access_key_id, account, sealed_secret, token_digest, issuer_kind, issuer_name, issuer_id,
                    session_name, created_ms, expires_ms
             FROM sts_sessions WHERE access_key_id = $1",
        )
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SessionRow {
            issuer: issuer(&r)?,
            access_key_id: r.get("access_key_id"),
            account: r.get("account"),
            sealed_secret: r.get("sealed_secret"),
            token_digest: r.get("token_digest"),
            session_name: r.get("session_name"),
            created_ms: r.get("created_ms"),
            expires_ms: r.get("expires_ms"),
        }))
    }
}

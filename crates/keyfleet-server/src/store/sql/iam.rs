//! IAM users, access keys and inline policies.

use super::*;

fn user_row(r: &AnyRow) -> UserRow {
    UserRow { name: r.get(0), user_id: r.get(1), created_ms: r.get(2) }
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

#[async_trait]
impl IamStore for SqlStore {
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
        let profiles: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iam_login_profiles WHERE account = $1 AND lower(user_name) = lower($2)",
        )
        .bind(account)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let attached: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iam_attachments WHERE account = $1 AND principal_kind = 'user'
             AND lower(principal_name) = lower($2)",
        )
        .bind(account)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let outcome = if profiles > 0 {
            DeleteUserOutcome::HasLoginProfile
        } else if attached > 0 {
            DeleteUserOutcome::HasAttachedPolicies
        } else if keys > 0 {
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

    async fn insert_login_profile(&self, account: &str, row: &LoginProfileRow) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if !lock_user(&mut tx, account, &row.user_name).await? {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO iam_login_profiles (account, user_name, password_hash, reset_required, created_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account)
        .bind(&row.user_name)
        .bind(&row.password_hash)
        .bind(i64::from(row.reset_required))
        .bind(row.created_ms)
        .execute(&mut *tx)
        .await;
        unique(inserted)?;
        tx.commit().await?;
        Ok(true)
    }

    async fn login_profile(&self, account: &str, user: &str) -> Result<Option<LoginProfileRow>, StoreError> {
        let row = sqlx::query(
            "SELECT user_name, password_hash, reset_required, created_ms FROM iam_login_profiles
             WHERE account = $1 AND lower(user_name) = lower($2)",
        )
        .bind(account)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| LoginProfileRow {
            user_name: r.get("user_name"),
            password_hash: r.get("password_hash"),
            reset_required: r.get::<i64, _>("reset_required") != 0,
            created_ms: r.get("created_ms"),
        }))
    }

    async fn update_login_profile(
        &self,
        account: &str,
        user: &str,
        change: &LoginProfileChange,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE iam_login_profiles SET password_hash = COALESCE($3, password_hash),
                 reset_required = COALESCE($4, reset_required)
             WHERE account = $1 AND lower(user_name) = lower($2)",
        )
        .bind(account)
        .bind(user)
        .bind(change.password_hash.as_deref())
        .bind(change.reset_required.map(i64::from))
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    async fn delete_login_profile(&self, account: &str, user: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM iam_login_profiles WHERE account = $1 AND lower(user_name) = lower($2)")
            .bind(account)
            .bind(user)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}

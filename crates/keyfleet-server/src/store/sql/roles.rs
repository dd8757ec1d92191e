//! IAM roles with their inline policies, customer managed policies with their versions, and
//! attachments of managed policies to users and roles.

use super::*;

const ROLE_COLUMNS: &str = "role_id, name, path, trust_policy, description, max_session_seconds, created_ms";

fn profile_row(r: &AnyRow) -> InstanceProfileRow {
    InstanceProfileRow {
        profile_id: r.get("profile_id"),
        name: r.get("name"),
        path: r.get("path"),
        role: r.get("role_name"),
        created_ms: r.get("created_ms"),
    }
}

fn role_row(r: &AnyRow) -> RoleRow {
    RoleRow {
        role_id: r.get("role_id"),
        name: r.get("name"),
        path: r.get("path"),
        trust_policy: r.get("trust_policy"),
        description: r.get("description"),
        max_session_seconds: r.get("max_session_seconds"),
        created_ms: r.get("created_ms"),
    }
}

/// `SELECT` of a policy's columns and its attachment count, then `$rest`.
macro_rules! select_policies {
    ($rest:literal) => {
        concat!(
            "SELECT policy_id, arn, name, path, description, default_version, created_ms, updated_ms,
                    (SELECT COUNT(*) FROM iam_attachments a WHERE a.account = p.account AND a.policy_arn = p.arn)
                    AS attachment_count
             FROM iam_policies p ",
            $rest
        )
    };
}

fn policy_row(r: &AnyRow) -> ManagedPolicyRow {
    ManagedPolicyRow {
        policy_id: r.get("policy_id"),
        arn: r.get("arn"),
        name: r.get("name"),
        path: r.get("path"),
        description: r.get("description"),
        default_version: r.get("default_version"),
        attachment_count: r.get("attachment_count"),
        created_ms: r.get("created_ms"),
        updated_ms: r.get("updated_ms"),
    }
}

/// Locks a role's row until the transaction ends (a no-op update, as for users) and answers
/// its name as stored; `None` if there is no such role.
async fn lock_role(conn: &mut AnyConnection, account: &str, name: &str) -> Result<Option<String>, StoreError> {
    let name: Option<String> = sqlx::query_scalar(
        "UPDATE iam_roles SET created_ms = created_ms WHERE account = $1 AND lower(name) = lower($2) RETURNING name",
    )
    .bind(account)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(name)
}

/// Locks the user or role a managed policy is attached to; its name as stored.
async fn lock_principal(
    conn: &mut AnyConnection,
    account: &str,
    kind: PrincipalKind,
    name: &str,
) -> Result<Option<String>, StoreError> {
    match kind {
        PrincipalKind::Role => lock_role(conn, account, name).await,
        PrincipalKind::User => Ok(sqlx::query_scalar(
            "UPDATE iam_users SET created_ms = created_ms WHERE account = $1 AND lower(name) = lower($2) RETURNING name",
        )
        .bind(account)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?),
    }
}

/// Locks a customer managed policy's row; its id, or `None` if there is no such policy.
async fn lock_policy(conn: &mut AnyConnection, account: &str, arn: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE iam_policies SET updated_ms = updated_ms WHERE account = $1 AND arn = $2 RETURNING policy_id",
    )
    .bind(account)
    .bind(arn)
    .fetch_optional(&mut *conn)
    .await?)
}

async fn count(conn: &mut AnyConnection, sql: &'static str, binds: [&str; 2]) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(sql).bind(binds[0]).bind(binds[1]).fetch_one(&mut *conn).await?)
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn insert_role(&self, account: &str, row: &RoleRow) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO iam_roles (role_id, account, name, path, trust_policy, description, max_session_seconds,
                                    created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.role_id)
        .bind(account)
        .bind(&row.name)
        .bind(&row.path)
        .bind(&row.trust_policy)
        .bind(&row.description)
        .bind(row.max_session_seconds)
        .bind(row.created_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await;
        unique(inserted).map(drop)
    }

    async fn roles(&self, account: &str) -> Result<Vec<RoleRow>, StoreError> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM iam_roles WHERE account = $1 ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(role_row).collect())
    }

    async fn role(&self, account: &str, name: &str) -> Result<Option<RoleRow>, StoreError> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM iam_roles WHERE account = $1 AND lower(name) = lower($2)");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account).bind(name).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(role_row))
    }

    async fn update_trust_policy(&self, account: &str, name: &str, document: &str) -> Result<bool, StoreError> {
        let updated =
            sqlx::query("UPDATE iam_roles SET trust_policy = $3 WHERE account = $1 AND lower(name) = lower($2)")
                .bind(account)
                .bind(name)
                .bind(document)
                .execute(&mut *self.writer.acquire().await?)
                .await?;
        Ok(updated.rows_affected() > 0)
    }

    async fn delete_role(&self, account: &str, name: &str) -> Result<DeleteRoleOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some(name) = lock_role(&mut tx, account, name).await? else { return Ok(DeleteRoleOutcome::NotFound) };
        let inline = "SELECT COUNT(*) FROM iam_role_policies WHERE account = $1 AND role_name = $2";
        let attached = "SELECT COUNT(*) FROM iam_attachments WHERE account = $1 AND principal_kind = 'role' AND principal_name = $2";
        let profiles = "SELECT COUNT(*) FROM iam_instance_profiles WHERE account = $1 AND role_name = $2";
        let outcome = if count(&mut tx, profiles, [account, &name]).await? > 0 {
            DeleteRoleOutcome::InInstanceProfile
        } else if count(&mut tx, attached, [account, &name]).await? > 0 {
            DeleteRoleOutcome::HasAttachedPolicies
        } else if count(&mut tx, inline, [account, &name]).await? > 0 {
            DeleteRoleOutcome::HasPolicies
        } else {
            sqlx::query("DELETE FROM iam_roles WHERE account = $1 AND name = $2")
                .bind(account)
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            DeleteRoleOutcome::Deleted
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn insert_instance_profile(&self, account: &str, row: &InstanceProfileRow) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO iam_instance_profiles (profile_id, account, name, path, role_name, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.profile_id)
        .bind(account)
        .bind(&row.name)
        .bind(&row.path)
        .bind(&row.role)
        .bind(row.created_ms)
        .execute(&mut *self.writer.acquire().await?)
        .await;
        unique(inserted).map(drop)
    }

    async fn instance_profile(&self, account: &str, name: &str) -> Result<Option<InstanceProfileRow>, StoreError> {
        let row = sqlx::query(
            "SELECT profile_id, name, path, role_name, created_ms FROM iam_instance_profiles
             WHERE account = $1 AND lower(name) = lower($2)",
        )
        .bind(account)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(profile_row))
    }

    async fn instance_profiles(&self, account: &str) -> Result<Vec<InstanceProfileRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT profile_id, name, path, role_name, created_ms FROM iam_instance_profiles
             WHERE account = $1 ORDER BY name",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(profile_row).collect())
    }

    async fn delete_instance_profile(&self, account: &str, name: &str) -> Result<DeleteProfileOutcome, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM iam_instance_profiles WHERE account = $1 AND lower(name) = lower($2) AND role_name IS NULL",
        )
        .bind(account)
        .bind(name)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        if deleted.rows_affected() > 0 {
            return Ok(DeleteProfileOutcome::Deleted);
        }
        Ok(match self.instance_profile(account, name).await? {
            Some(_) => DeleteProfileOutcome::HasRole,
            None => DeleteProfileOutcome::NotFound,
        })
    }

    async fn add_role_to_instance_profile(
        &self,
        account: &str,
        profile: &str,
        role: &str,
    ) -> Result<AddRoleOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        // The role is locked so that a DeleteRole cannot slip between the check and the add.
        let Some(role) = lock_role(&mut tx, account, role).await? else { return Ok(AddRoleOutcome::NoRole) };
        let added = sqlx::query(
            "UPDATE iam_instance_profiles SET role_name = $3
             WHERE account = $1 AND lower(name) = lower($2) AND role_name IS NULL",
        )
        .bind(account)
        .bind(profile)
        .bind(&role)
        .execute(&mut *tx)
        .await?;
        let outcome = if added.rows_affected() > 0 {
            AddRoleOutcome::Added
        } else if count(
            &mut tx,
            "SELECT COUNT(*) FROM iam_instance_profiles WHERE account = $1 AND lower(name) = lower($2)",
            [account, profile],
        )
        .await?
            > 0
        {
            AddRoleOutcome::Full
        } else {
            AddRoleOutcome::NoProfile
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn remove_role_from_instance_profile(
        &self,
        account: &str,
        profile: &str,
        role: &str,
    ) -> Result<bool, StoreError> {
        let removed = sqlx::query(
            "UPDATE iam_instance_profiles SET role_name = NULL
             WHERE account = $1 AND lower(name) = lower($2) AND lower(role_name) = lower($3)",
        )
        .bind(account)
        .bind(profile)
        .bind(role)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(removed.rows_affected() > 0)
    }

    async fn put_role_policy(&self, account: &str, role: &str, name: &str, document: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some(role) = lock_role(&mut tx, account, role).await? else { return Ok(false) };
        sqlx::query(
            "INSERT INTO iam_role_policies (account, role_name, policy_name, document) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, role_name, policy_name) DO UPDATE SET document = excluded.document",
        )
        .bind(account)
        .bind(&role)
        .bind(name)
        .bind(document)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn role_policies(&self, account: &str, role: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT policy_name, document FROM iam_role_policies
             WHERE account = $1 AND lower(role_name) = lower($2) ORDER BY policy_name",
        )
        .bind(account)
        .bind(role)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn delete_role_policy(&self, account: &str, role: &str, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM iam_role_policies WHERE account = $1 AND lower(role_name) = lower($2) AND policy_name = $3",
        )
        .bind(account)
        .bind(role)
        .bind(name)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(deleted.rows_affected() > 0)
    }
}

#[async_trait]
impl ManagedPolicyStore for SqlStore {
    async fn insert_policy(&self, account: &str, row: &ManagedPolicyRow, document: &str) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO iam_policies (policy_id, account, arn, name, path, description, default_version, next_version,
                                       created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, 1, 2, $7, $7)",
        )
        .bind(&row.policy_id)
        .bind(account)
        .bind(&row.arn)
        .bind(&row.name)
        .bind(&row.path)
        .bind(&row.description)
        .bind(row.created_ms)
        .execute(&mut *tx)
        .await;
        unique(inserted)?;
        sqlx::query(
            "INSERT INTO iam_policy_versions (policy_id, version, document, created_ms) VALUES ($1, 1, $2, $3)",
        )
        .bind(&row.policy_id)
        .bind(document)
        .bind(row.created_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn policies(&self, account: &str) -> Result<Vec<ManagedPolicyRow>, StoreError> {
        let rows = sqlx::query(select_policies!("WHERE p.account = $1 ORDER BY p.name"))
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(policy_row).collect())
    }

    async fn policy(&self, account: &str, arn: &str) -> Result<Option<ManagedPolicyRow>, StoreError> {
        let row = sqlx::query(select_policies!("WHERE p.account = $1 AND p.arn = $2"))
            .bind(account)
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(policy_row))
    }

    async fn policy_versions(&self, account: &str, arn: &str) -> Result<Vec<PolicyVersionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.version, v.document, v.created_ms FROM iam_policy_versions v
             JOIN iam_policies p ON p.policy_id = v.policy_id
             WHERE p.account = $1 AND p.arn = $2 ORDER BY v.version",
        )
        .bind(account)
        .bind(arn)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PolicyVersionRow { version: r.get(0), document: r.get(1), created_ms: r.get(2) })
            .collect())
    }

    async fn insert_policy_version(
        &self,
        account: &str,
        arn: &str,
        document: &str,
        make_default: bool,
        max_versions: u32,
    ) -> Result<Result<i64, PolicyChange>, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some(id) = lock_policy(&mut tx, account, arn).await? else { return Ok(Err(PolicyChange::NotFound)) };
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM iam_policy_versions WHERE policy_id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        if held >= i64::from(max_versions) {
            return Ok(Err(PolicyChange::Conflict));
        }
        let version: i64 = sqlx::query_scalar(
            "UPDATE iam_policies SET next_version = next_version + 1 WHERE policy_id = $1 RETURNING next_version - 1",
        )
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        let now = crate::common::time::now_ms();
        sqlx::query(
            "INSERT INTO iam_policy_versions (policy_id, version, document, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(version)
        .bind(document)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if make_default {
            sqlx::query("UPDATE iam_policies SET default_version = $2, updated_ms = $3 WHERE policy_id = $1")
                .bind(&id)
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(version))
    }

    async fn delete_policy_version(&self, account: &str, arn: &str, version: i64) -> Result<PolicyChange, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some(id) = lock_policy(&mut tx, account, arn).await? else { return Ok(PolicyChange::NotFound) };
        let default: i64 = sqlx::query_scalar("SELECT default_version FROM iam_policies WHERE policy_id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        if default == version {
            return Ok(PolicyChange::Conflict);
        }
        let deleted = sqlx::query("DELETE FROM iam_policy_versions WHERE policy_id = $1 AND version = $2")
            .bind(&id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if deleted.rows_affected() > 0 { PolicyChange::Done } else { PolicyChange::NotFound })
    }

    async fn set_default_policy_version(
        &self,
        account: &str,
        arn: &str,
        version: i64,
    ) -> Result<PolicyChange, StoreError> {
        let updated = sqlx::query(
            "UPDATE iam_policies SET default_version = $3, updated_ms = $4 WHERE account = $1 AND arn = $2
             AND EXISTS (SELECT 1 FROM iam_policy_versions v WHERE v.policy_id = iam_policies.policy_id AND v.version = $3)",
        )
        .bind(account)
        .bind(arn)
        .bind(version)
        .bind(crate::common::time::now_ms())
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(if updated.rows_affected() > 0 { PolicyChange::Done } else { PolicyChange::NotFound })
    }

    async fn delete_policy(&self, account: &str, arn: &str) -> Result<PolicyChange, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some(id) = lock_policy(&mut tx, account, arn).await? else { return Ok(PolicyChange::NotFound) };
        let attached = count(
            &mut tx,
            "SELECT COUNT(*) FROM iam_attachments WHERE account = $1 AND policy_arn = $2",
            [account, arn],
        )
        .await?;
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM iam_policy_versions WHERE policy_id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        if attached > 0 || versions > 1 {
            return Ok(PolicyChange::Conflict);
        }
        sqlx::query("DELETE FROM iam_policy_versions WHERE policy_id = $1").bind(&id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM iam_policies WHERE policy_id = $1").bind(&id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(PolicyChange::Done)
    }

    async fn attach_policy(
        &self,
        account: &str,
        kind: PrincipalKind,
        principal: &str,
        arn: &str,
        local: bool,
        limit: u32,
    ) -> Result<AttachOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some(principal) = lock_principal(&mut tx, account, kind, principal).await? else {
            return Ok(AttachOutcome::NoPrincipal);
        };
        // The policy's row is locked too, so that a DeletePolicy cannot pass this attachment.
        if local && lock_policy(&mut tx, account, arn).await?.is_none() {
            return Ok(AttachOutcome::NoPolicy);
        }
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iam_attachments WHERE account = $1 AND principal_kind = $2 AND principal_name = $3
             AND policy_arn <> $4",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(&principal)
        .bind(arn)
        .fetch_one(&mut *tx)
        .await?;
        if held >= i64::from(limit) {
            return Ok(AttachOutcome::LimitExceeded);
        }
        sqlx::query(
            "INSERT INTO iam_attachments (account, principal_kind, principal_name, policy_arn) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(&principal)
        .bind(arn)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AttachOutcome::Attached)
    }

    async fn detach_policy(
        &self,
        account: &str,
        kind: PrincipalKind,
        principal: &str,
        arn: &str,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM iam_attachments WHERE account = $1 AND principal_kind = $2
             AND lower(principal_name) = lower($3) AND policy_arn = $4",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(principal)
        .bind(arn)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn attached_policies(
        &self,
        account: &str,
        kind: PrincipalKind,
        principal: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT policy_arn FROM iam_attachments WHERE account = $1 AND principal_kind = $2
             AND lower(principal_name) = lower($3) ORDER BY policy_arn",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(principal)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn attachment_count(&self, account: &str, arn: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM iam_attachments WHERE account = $1 AND policy_arn = $2")
            .bind(account)
            .bind(arn)
            .fetch_one(&self.pool)
            .await?)
    }
}

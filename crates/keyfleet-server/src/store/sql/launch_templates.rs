//! EC2 launch templates and their versions. A template's row is locked (a no-op update) by
//! every change to its versions, so that version numbers and the default move one writer at
//! a time on either backend.

use super::*;
use crate::store::{
    LaunchTemplateData, LaunchTemplateRow, LaunchTemplateStore, LaunchTemplateVersionRow, NewVersionRefused,
    VersionDeletion,
};

const TEMPLATE_COLUMNS: &str = "id, name, default_version, latest_version, created_ms, created_by, client_token";

fn template_row(r: &AnyRow) -> LaunchTemplateRow {
    LaunchTemplateRow {
        id: r.get("id"),
        name: r.get("name"),
        default_version: r.get("default_version"),
        latest_version: r.get("latest_version"),
        created_ms: r.get("created_ms"),
        created_by: r.get("created_by"),
        client_token: r.get("client_token"),
    }
}

fn version_row(r: &AnyRow) -> Result<LaunchTemplateVersionRow, StoreError> {
    let data: String = r.get("data");
    let data: LaunchTemplateData =
        serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(format!("launch template data: {e}")))?;
    Ok(LaunchTemplateVersionRow {
        version: r.get("version"),
        description: r.get("description"),
        data,
        created_ms: r.get("created_ms"),
        created_by: r.get("created_by"),
    })
}

fn data_json(data: &LaunchTemplateData) -> Result<String, StoreError> {
    serde_json::to_string(data).map_err(|e| StoreError::Corrupt(format!("launch template data: {e}")))
}

async fn insert_version(
    conn: &mut AnyConnection,
    template_id: &str,
    version: i64,
    row: &LaunchTemplateVersionRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO launch_template_versions (template_id, version, description, data, created_ms, created_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(template_id)
    .bind(version)
    .bind(&row.description)
    .bind(data_json(&row.data)?)
    .bind(row.created_ms)
    .bind(&row.created_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks a template's row until the transaction ends; its (default, next) versions, or
/// `None` if the scope has no such template.
async fn lock_template(conn: &mut AnyConnection, scope: &Scope, id: &str) -> Result<Option<(i64, i64)>, StoreError> {
    let row = sqlx::query(
        "UPDATE launch_templates SET created_ms = created_ms WHERE account = $1 AND region = $2 AND id = $3
         RETURNING default_version, next_version",
    )
    .bind(&scope.account)
    .bind(&scope.region)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| (r.get("default_version"), r.get("next_version"))))
}

#[async_trait]
impl LaunchTemplateStore for SqlStore {
    async fn insert_launch_template(
        &self,
        scope: &Scope,
        row: &LaunchTemplateRow,
        first: &LaunchTemplateVersionRow,
        quota: u32,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if let Some(lock) = self.backend.resource_lock() {
            sqlx::query(lock)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind("launch-templates")
                .execute(&mut *tx)
                .await?;
        }
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM launch_templates WHERE account = $1 AND region = $2")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_one(&mut *tx)
            .await?;
        if held >= i64::from(quota) {
            return Err(StoreError::QuotaExceeded(quota));
        }
        let inserted = sqlx::query(
            "INSERT INTO launch_templates (id, account, region, name, default_version, latest_version, next_version,
                                           created_ms, created_by, client_token)
             VALUES ($1, $2, $3, $4, 1, 1, 2, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.name)
        .bind(row.created_ms)
        .bind(&row.created_by)
        .bind(&row.client_token)
        .execute(&mut *tx)
        .await;
        unique(inserted)?;
        insert_version(&mut tx, &row.id, 1, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn launch_templates(&self, scope: &Scope) -> Result<Vec<LaunchTemplateRow>, StoreError> {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM launch_templates WHERE account = $1 AND region = $2 ORDER BY created_ms, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(template_row).collect())
    }

    async fn launch_template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
    ) -> Result<Vec<LaunchTemplateVersionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.version, v.description, v.data, v.created_ms, v.created_by
             FROM launch_template_versions v JOIN launch_templates t ON t.id = v.template_id
             WHERE t.account = $1 AND t.region = $2 AND t.id = $3 ORDER BY v.version DESC",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(template_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_row).collect()
    }

    async fn launch_template_version(
        &self,
        scope: &Scope,
        template_id: &str,
        version: i64,
    ) -> Result<Option<LaunchTemplateVersionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT v.version, v.description, v.data, v.created_ms, v.created_by
             FROM launch_template_versions v JOIN launch_templates t ON t.id = v.template_id
             WHERE t.account = $1 AND t.region = $2 AND t.id = $3 AND v.version = $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(template_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_row).transpose()
    }

    async fn insert_launch_template_version(
        &self,
        scope: &Scope,
        template_id: &str,
        row: &LaunchTemplateVersionRow,
        make_default: bool,
        max_versions: u32,
    ) -> Result<Result<i64, NewVersionRefused>, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some((_, version)) = lock_template(&mut tx, scope, template_id).await? else {
            return Ok(Err(NewVersionRefused::NoTemplate));
        };
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM launch_template_versions WHERE template_id = $1")
            .bind(template_id)
            .fetch_one(&mut *tx)
            .await?;
        if held >= i64::from(max_versions) {
            return Ok(Err(NewVersionRefused::TooManyVersions));
        }
        insert_version(&mut tx, template_id, version, row).await?;
        sqlx::query(
            "UPDATE launch_templates SET latest_version = $2, next_version = $2 + 1,
                    default_version = CASE WHEN $3 THEN $2 ELSE default_version END
             WHERE id = $1",
        )
        .bind(template_id)
        .bind(version)
        .bind(make_default)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(version))
    }

    async fn set_default_launch_template_version(
        &self,
        scope: &Scope,
        template_id: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE launch_templates SET default_version = $4
             WHERE account = $1 AND region = $2 AND id = $3
               AND EXISTS (SELECT 1 FROM launch_template_versions v WHERE v.template_id = $3 AND v.version = $4)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(template_id)
        .bind(version)
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    async fn delete_launch_template(&self, scope: &Scope, template_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let deleted = sqlx::query("DELETE FROM launch_templates WHERE account = $1 AND region = $2 AND id = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(template_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM launch_template_versions WHERE template_id = $1")
            .bind(template_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tags WHERE account = $1 AND region = $2 AND resource_id = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(template_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_launch_template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
        versions: &[i64],
    ) -> Result<Vec<VersionDeletion>, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let Some((default, _)) = lock_template(&mut tx, scope, template_id).await? else {
            return Ok(vec![VersionDeletion::NotFound; versions.len()]);
        };
        let mut outcomes = Vec::with_capacity(versions.len());
        for &version in versions {
            if version == default {
                outcomes.push(VersionDeletion::IsDefault);
                continue;
            }
            let deleted = sqlx::query("DELETE FROM launch_template_versions WHERE template_id = $1 AND version = $2")
                .bind(template_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            outcomes.push(if deleted.rows_affected() > 0 {
                VersionDeletion::Deleted
            } else {
                VersionDeletion::NotFound
            });
        }
        // `$Latest` is the highest version left (the default always is).
        sqlx::query(
            "UPDATE launch_templates SET latest_version =
               (SELECT MAX(version) FROM launch_template_versions WHERE template_id = $1) WHERE id = $1",
        )
        .bind(template_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

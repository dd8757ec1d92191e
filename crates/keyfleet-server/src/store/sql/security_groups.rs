//! Security groups and their rules. A group's writes lock the scope's groups on PostgreSQL
//! (SQLite's one writer runs them in turn), so that a rule cannot be added twice and a
//! group cannot be deleted while a launch or a rule starts to use it.

use super::tags::insert_tags;
use super::*;

/// The resource type of a group's tags in the shared tags table.
const TAG_TYPE: &str = "security-group";

fn rule_row(r: &AnyRow) -> Result<SecurityGroupRuleRow, StoreError> {
    let cidr: Option<String> = r.get("cidr");
    let referenced: Option<String> = r.get("referenced_group");
    let peer = match (cidr, referenced) {
        (Some(cidr), None) => RulePeer::Cidr(cidr),
        (None, Some(group)) => RulePeer::Group(group),
        _ => return Err(StoreError::Corrupt("security group rule without one peer".into())),
    };
    Ok(SecurityGroupRuleRow {
        id: r.get("id"),
        group_id: r.get("group_id"),
        egress: r.get::<i64, _>("egress") != 0,
        protocol: wire(r, "protocol")?,
        from_port: r.get("from_port"),
        to_port: r.get("to_port"),
        peer,
        description: r.get("description"),
    })
}

async fn insert_rule(conn: &mut AnyConnection, scope: &Scope, rule: &SecurityGroupRuleRow) -> Result<(), StoreError> {
    let (cidr, group) = match &rule.peer {
        RulePeer::Cidr(cidr) => (Some(cidr.as_str()), None),
        RulePeer::Group(group) => (None, Some(group.as_str())),
    };
    sqlx::query(
        "INSERT INTO security_group_rules (account, region, id, group_id, egress, protocol, from_port, to_port, cidr,
                                           referenced_group, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&scope.account)
    .bind(&scope.region)
    .bind(&rule.id)
    .bind(&rule.group_id)
    .bind(i64::from(rule.egress))
    .bind(rule.protocol.as_str())
    .bind(rule.from_port)
    .bind(rule.to_port)
    .bind(cidr)
    .bind(group)
    .bind(&rule.description)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn group_exists(conn: &mut AnyConnection, scope: &Scope, id: &str) -> Result<bool, StoreError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM security_groups WHERE account = $1 AND region = $2 AND id = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

impl SqlStore {
    /// Serialises the scope's group writes on PostgreSQL.
    async fn lock_groups(&self, conn: &mut AnyConnection, scope: &Scope) -> Result<(), StoreError> {
        if let Some(lock) = self.backend.resource_lock() {
            sqlx::query(lock).bind(&scope.account).bind(&scope.region).bind("security-groups").execute(conn).await?;
        }
        Ok(())
    }

    async fn group_rules(
        &self,
        conn: &mut AnyConnection,
        scope: &Scope,
    ) -> Result<Vec<SecurityGroupRuleRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, group_id, egress, protocol, from_port, to_port, cidr, referenced_group, description
             FROM security_group_rules WHERE account = $1 AND region = $2 ORDER BY id",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(conn)
        .await?;
        rows.iter().map(rule_row).collect()
    }
}

#[async_trait]
impl SecurityGroupStore for SqlStore {
    async fn insert_security_group(&self, scope: &Scope, group: &SecurityGroupRow) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        self.lock_groups(&mut tx, scope).await?;
        let inserted = sqlx::query(
            "INSERT INTO security_groups (account, region, id, name, description, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&group.id)
        .bind(&group.name)
        .bind(&group.description)
        .bind(group.created_ms)
        .execute(&mut *tx)
        .await;
        unique(inserted)?;
        for rule in &group.rules {
            insert_rule(&mut tx, scope, rule).await?;
        }
        insert_tags(&mut tx, scope, &group.id, TAG_TYPE, &group.tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn security_groups(&self, scope: &Scope) -> Result<Vec<SecurityGroupRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT id, name, description, created_ms FROM security_groups WHERE account = $1 AND region = $2 ORDER BY name",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(&mut *conn)
        .await?;
        let mut rules = self.group_rules(&mut conn, scope).await?;
        // Given back before the tags are read from the pool: a caller holding one connection
        // while waiting for a second would, with enough callers at once, wait for ever.
        drop(conn);
        let ids: Vec<String> = rows.iter().map(|r| r.get::<String, _>("id")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut tags = self.tags_of(scope, &id_refs).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: String = r.get("id");
                let (mine, rest): (Vec<_>, Vec<_>) = rules.drain(..).partition(|rule| rule.group_id == id);
                rules = rest;
                SecurityGroupRow {
                    tags: tags.remove(&id).unwrap_or_default(),
                    id,
                    name: r.get("name"),
                    description: r.get("description"),
                    created_ms: r.get("created_ms"),
                    rules: mine,
                }
            })
            .collect())
    }

    async fn delete_security_group(&self, scope: &Scope, id: &str) -> Result<DeleteGroupOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        self.lock_groups(&mut tx, scope).await?;
        if !group_exists(&mut tx, scope, id).await? {
            return Ok(DeleteGroupOutcome::NotFound);
        }
        let members: Vec<String> = sqlx::query_scalar(
            "SELECT security_groups FROM instances WHERE account = $1 AND region = $2 AND state <> 'terminated'",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(&mut *tx)
        .await?;
        let referenced: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM security_group_rules
             WHERE account = $1 AND region = $2 AND referenced_group = $3 AND group_id <> $3",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if referenced > 0 || members.iter().any(|groups| groups.split(' ').any(|g| g == id)) {
            return Ok(DeleteGroupOutcome::InUse);
        }
        for table in [
            "security_group_rules WHERE account = $1 AND region = $2 AND group_id = $3",
            "security_groups WHERE account = $1 AND region = $2 AND id = $3",
            "tags WHERE account = $1 AND region = $2 AND resource_id = $3",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(DeleteGroupOutcome::Deleted)
    }

    async fn add_security_group_rules(
        &self,
        scope: &Scope,
        group_id: &str,
        rules: &[SecurityGroupRuleRow],
        limit: usize,
    ) -> Result<AddRulesOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        self.lock_groups(&mut tx, scope).await?;
        if !group_exists(&mut tx, scope, group_id).await? {
            return Ok(AddRulesOutcome::NotFound);
        }
        let existing: Vec<SecurityGroupRuleRow> =
            self.group_rules(&mut tx, scope).await?.into_iter().filter(|r| r.group_id == group_id).collect();
        for (i, rule) in rules.iter().enumerate() {
            let earlier = rules.get(..i).unwrap_or_default();
            if let Some(twin) = existing.iter().chain(earlier).find(|r| r.same_permission(rule)) {
                return Ok(AddRulesOutcome::Duplicate(twin.clone()));
            }
        }
        for egress in [false, true] {
            let count = existing.iter().chain(rules).filter(|r| r.egress == egress).count();
            if count > limit {
                return Ok(AddRulesOutcome::TooMany);
            }
        }
        for rule in rules {
            insert_rule(&mut tx, scope, rule).await?;
        }
        tx.commit().await?;
        Ok(AddRulesOutcome::Added)
    }

    async fn delete_security_group_rules(
        &self,
        scope: &Scope,
        group_id: &str,
        rule_ids: &[String],
    ) -> Result<usize, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let mut deleted = 0;
        for id in rule_ids {
            let done = sqlx::query(
                "DELETE FROM security_group_rules WHERE account = $1 AND region = $2 AND group_id = $3 AND id = $4",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(group_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            deleted += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

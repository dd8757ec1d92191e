//! Instances: rows, compare-and-set state transitions, owners and leases, pushed keys.

use super::tags::insert_tags;
use super::*;

fn instance_row(r: &AnyRow) -> Result<InstanceRow, StoreError> {
    Ok(InstanceRow {
        id: r.get("id"),
        reservation_id: r.get("reservation_id"),
        image_id: r.get("image_id"),
        instance_type: r.get("instance_type"),
        key_name: r.get("key_name"),
        state: wire(r, "state")?,
        address: r.get("address"),
        volume_id: r.get("volume_id"),
        volume_gib: r.get("volume_gib"),
        client_token: r.get("client_token"),
        launch_index: r.get("launch_index"),
        launch_ms: r.get("launch_ms"),
        user_data: r.get("user_data"),
        launch_key: r.get("launch_key"),
        http_tokens: r.get("http_tokens"),
        owner: r.get("owner"),
        lease_ms: r.get("lease_ms"),
        reboots: r.get("reboots"),
        security_groups: r.get::<String, _>("security_groups").split_whitespace().map(str::to_owned).collect(),
        disable_api_termination: r.get::<i64, _>("disable_api_termination") != 0,
        shutdown_behavior: wire(r, "shutdown_behavior")?,
        user_transition_ms: r.get("user_transition_ms"),
        volume_life: wire(r, "volume_life")?,
        tags: Vec::new(),
    })
}

/// `SELECT` of what [`instance_row`] reads, then `$rest`.
macro_rules! select_instances {
    ($rest:literal) => {
        concat!(
            "SELECT id, reservation_id, image_id, instance_type, key_name, state, address, volume_id, volume_gib, \
             client_token, launch_index, launch_ms, user_data, launch_key, http_tokens, owner, lease_ms, reboots, \
             security_groups, disable_api_termination, shutdown_behavior, user_transition_ms, volume_life",
            $rest
        )
    };
}

/// How often a state transition reads again after another writer moved the instance first.
const MAX_TRANSITION_ATTEMPTS: usize = 8;

#[async_trait]
impl InstanceStore for SqlStore {
    async fn insert_instances(
        &self,
        scope: &Scope,
        rows: &[InstanceRow],
        limits: LaunchLimits,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        // Launches into one scope count one after the other, so that together they cannot
        // pass the quota. SQLite's one writer already runs them in turn.
        if let Some(lock) = self.backend.resource_lock() {
            sqlx::query(lock).bind(&scope.account).bind(&scope.region).bind("instances").execute(&mut *tx).await?;
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM instances WHERE account = $1 AND region = $2 AND state <> 'terminated'",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(live).unwrap_or(usize::MAX).saturating_add(rows.len()) > limits.instances as usize {
            return Err(StoreError::QuotaExceeded(limits.instances));
        }
        // Volume capacity is the host's, shared by every scope: one lock for all launches,
        // always taken after the scope's, so that two launches never wait on each other.
        if let Some(lock) = self.backend.resource_lock() {
            sqlx::query(lock).bind("").bind("").bind("volume-capacity").execute(&mut *tx).await?;
        }
        let promised: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(volume_gib), 0) FROM instances
             WHERE state <> 'terminated' OR volume_life IN ('keep', 'deleting')",
        )
        .fetch_one(&mut *tx)
        .await?;
        let asked: i64 = rows.iter().map(|r| r.volume_gib).sum();
        if u64::try_from(promised.saturating_add(asked)).unwrap_or(u64::MAX) > limits.volume_gib {
            return Err(StoreError::VolumeCapacityExceeded(limits.volume_gib));
        }
        for row in rows {
            let inserted = sqlx::query(
                "INSERT INTO instances (id, account, region, reservation_id, image_id, instance_type, key_name, state, address,
                                        volume_id, launch_index, launch_ms, user_data, launch_key, http_tokens, owner,
                                        lease_ms, volume_gib, client_token, security_groups, disable_api_termination,
                                        shutdown_behavior, volume_life)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                         $21, $22, $23)",
            )
            .bind(&row.id)
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&row.reservation_id)
            .bind(&row.image_id)
            .bind(&row.instance_type)
            .bind(&row.key_name)
            .bind(row.state.as_str())
            .bind(&row.address)
            .bind(&row.volume_id)
            .bind(row.launch_index)
            .bind(row.launch_ms)
            .bind(&row.user_data)
            .bind(&row.launch_key)
            .bind(&row.http_tokens)
            .bind(&row.owner)
            .bind(row.lease_ms)
            .bind(row.volume_gib)
            .bind(&row.client_token)
            .bind(row.security_groups.join(" "))
            .bind(i64::from(row.disable_api_termination))
            .bind(row.shutdown_behavior.as_str())
            .bind(row.volume_life.as_str())
            .execute(&mut *tx)
            .await;
            unique(inserted)?;
            insert_tags(&mut tx, scope, &row.id, "instance", &row.tags).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<InstanceRow>, StoreError> {
        let sql = select_instances!(
            " FROM instances WHERE account = $1 AND region = $2 ORDER BY launch_ms, launch_index, id"
        );
        let rows = sqlx::query(sql).bind(&scope.account).bind(&scope.region).fetch_all(&self.pool).await?;
        let mut found: Vec<InstanceRow> = rows
            .iter()
            .map(instance_row)
            .filter(|r| r.as_ref().map_or(true, |r| ids.is_empty() || ids.contains(&r.id)))
            .collect::<Result<_, _>>()?;
        let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        let mut tags = self.tags_of(scope, &ids).await?;
        for row in &mut found {
            row.tags = tags.remove(&row.id).unwrap_or_default();
        }
        Ok(found)
    }

    /// Compare-and-set: the UPDATE names the state it read, so of two replicas racing on
    /// one instance only one moves it; the other reads again and sees the new state.
    async fn transition_instance(
        &self,
        scope: &Scope,
        id: &str,
        from: &[InstanceState],
        to: InstanceState,
    ) -> Result<Option<InstanceState>, StoreError> {
        for _ in 0..MAX_TRANSITION_ATTEMPTS {
            let current: Option<String> =
                sqlx::query("SELECT state FROM instances WHERE account = $1 AND region = $2 AND id = $3")
                    .bind(&scope.account)
                    .bind(&scope.region)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.get("state"));
            let Some(current) = current.as_deref().and_then(InstanceState::parse).filter(|c| from.contains(c)) else {
                return Ok(None);
            };
            let mut conn = self.writer.acquire().await?;
            // A stop or terminate is the user's (the reconciler only finishes them), and a
            // start forgets the last one, as EC2's StateTransitionReason does.
            let stamp = match to {
                InstanceState::Stopping | InstanceState::ShuttingDown => Some(Some(crate::common::time::now_ms())),
                InstanceState::Pending => Some(None),
                _ => None,
            };
            let statement = match stamp {
                Some(_) => {
                    "UPDATE instances SET state = $4, user_transition_ms = $6
                     WHERE account = $1 AND region = $2 AND id = $3 AND state = $5"
                }
                None => "UPDATE instances SET state = $4 WHERE account = $1 AND region = $2 AND id = $3 AND state = $5",
            };
            let mut update = sqlx::query(statement)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(id)
                .bind(to.as_str())
                .bind(current.as_str());
            if let Some(stamp) = stamp {
                update = update.bind(stamp);
            }
            let moved = update.execute(&mut *conn).await?;
            if moved.rows_affected() == 1 {
                return Ok(Some(current));
            }
        }
        Err(StoreError::Contended)
    }

    async fn modify_instance(
        &self,
        scope: &Scope,
        id: &str,
        attribute: &InstanceAttribute,
    ) -> Result<bool, StoreError> {
        let column = match attribute {
            InstanceAttribute::InstanceType(_) => "instance_type",
            InstanceAttribute::UserData(_) => "user_data",
            InstanceAttribute::DisableApiTermination(_) => "disable_api_termination",
            InstanceAttribute::ShutdownBehavior(_) => "shutdown_behavior",
            InstanceAttribute::SecurityGroups(_) => "security_groups",
            InstanceAttribute::DeleteOnTermination(_) => "volume_life",
        };
        // DeleteOnTermination only while the instance holds its volume: once terminated, the
        // volume's fate was decided, and a late change would contradict what happened to it.
        let stopped_only = match attribute {
            _ if attribute.needs_stopped() => " AND state = 'stopped'",
            InstanceAttribute::DeleteOnTermination(_) => " AND state NOT IN ('shutting-down', 'terminated')",
            _ => "",
        };
        let statement =
            format!("UPDATE instances SET {column} = $4 WHERE account = $1 AND region = $2 AND id = $3{stopped_only}");
        let update = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(&scope.account).bind(&scope.region).bind(id);
        let update = match attribute {
            InstanceAttribute::InstanceType(value) => update.bind(value.clone()),
            InstanceAttribute::UserData(value) => update.bind(value.clone()),
            InstanceAttribute::DisableApiTermination(on) => update.bind(i64::from(*on)),
            InstanceAttribute::ShutdownBehavior(behavior) => update.bind(behavior.as_str()),
            InstanceAttribute::SecurityGroups(ids) => update.bind(ids.join(" ")),
            InstanceAttribute::DeleteOnTermination(delete) => {
                let life = if *delete { VolumeLife::DeleteOnTermination } else { VolumeLife::Keep };
                update.bind(life.as_str())
            }
        };
        let mut conn = self.writer.acquire().await?;
        Ok(update.execute(&mut *conn).await?.rows_affected() == 1)
    }

    async fn push_key(
        &self,
        instance_id: &str,
        os_user: &str,
        public_key: &str,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("DELETE FROM pushed_keys WHERE expires_ms <= $1")
            .bind(crate::common::time::now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO pushed_keys (instance_id, os_user, public_key, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(instance_id)
            .bind(os_user)
            .bind(public_key)
            .bind(expires_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pushed_keys(&self, instance_id: &str, os_user: &str, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT public_key FROM pushed_keys WHERE instance_id = $1 AND os_user = $2 AND expires_ms > $3",
        )
        .bind(instance_id)
        .bind(os_user)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get("public_key")).collect())
    }

    async fn live_addresses(&self) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT address FROM instances WHERE state <> 'terminated'").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn instances_in_states(&self, states: &[InstanceState]) -> Result<Vec<(Scope, InstanceRow)>, StoreError> {
        let sql = select_instances!(", account, region FROM instances WHERE state <> 'terminated'");
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut found = Vec::new();
        for r in &rows {
            let row = instance_row(r)?;
            if states.contains(&row.state) {
                found.push((Scope { account: r.get("account"), region: r.get("region") }, row));
            }
        }
        Ok(found)
    }

    async fn volumes_after_termination(&self, life: VolumeLife) -> Result<Vec<(Scope, InstanceRow)>, StoreError> {
        let sql = select_instances!(
            ", account, region FROM instances WHERE state = 'terminated' AND volume_life IN ('keep', 'deleting')
             AND volume_life = $1"
        );
        let rows = sqlx::query(sql).bind(life.as_str()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((Scope { account: r.get("account"), region: r.get("region") }, instance_row(r)?)))
            .collect()
    }

    async fn move_volume_life(
        &self,
        scope: &Scope,
        volume_id: &str,
        from: VolumeLife,
        to: VolumeLife,
    ) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE instances SET volume_life = $5
             WHERE account = $1 AND region = $2 AND volume_id = $3 AND state = 'terminated' AND volume_life = $4",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(volume_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn renew_instance_leases(&self, owner: &str, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE instances SET lease_ms = $2 WHERE owner = $1 AND state <> 'terminated'")
            .bind(owner)
            .bind(until_ms)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }

    async fn claim_instance(
        &self,
        scope: &Scope,
        id: &str,
        expired_before_ms: i64,
        owner: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE instances SET owner = $4, lease_ms = $5
             WHERE account = $1 AND region = $2 AND id = $3 AND state <> 'terminated'
               AND (owner = '' OR owner = $4 OR lease_ms < $6)",
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

    async fn request_reboot(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE instances SET reboots = reboots + 1 WHERE account = $1 AND region = $2 AND id = $3")
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(id)
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(())
    }
}

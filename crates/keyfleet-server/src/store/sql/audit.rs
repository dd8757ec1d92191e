//! The audit log: appended in batches, looked up like CloudTrail.

use super::*;

/// Audit records and the resources each names.
struct AuditRecords(Vec<AuditRow>);

impl GroupWrite for AuditRecords {
    type Output = ();

    fn on_sqlite(&self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        sqlite::append_audit(conn, &self.0)
    }

    fn on_postgres<'c>(&'c self, conn: &'c mut AnyConnection) -> BoxFuture<'c, Result<(), StoreError>> {
        Box::pin(append_audit(conn, &self.0))
    }
}

/// Audit records per statement: a batch is inserted in a few multi-row statements, each one
/// round trip, rather than one or two per record.
const AUDIT_ROWS_PER_STATEMENT: usize = 64;

/// Appends audit records and the resources they name, on PostgreSQL. A resource finds its
/// record's `seq` by the record's `event_id`, so the two inserts need nothing from each other.
async fn append_audit(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(AUDIT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO audit_events (event_id, account, region, time_ms, event_name, event_source, username,
                                       access_key, read_only, record)
             VALUES {}",
            placeholders(chunk.len(), 10)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            insert = insert
                .bind(&row.event_id)
                .bind(&row.account)
                .bind(&row.region)
                .bind(row.time_ms)
                .bind(&row.event_name)
                .bind(&row.event_source)
                .bind(&row.username)
                .bind(&row.access_key)
                .bind(i64::from(row.read_only))
                .bind(&row.record);
        }
        insert.execute(&mut *conn).await?;
        let resources: Vec<(&String, i64, &String, &String)> = chunk
            .iter()
            .flat_map(|row| {
                row.resources.iter().zip(0..).map(|((kind, name), position)| (&row.event_id, position, kind, name))
            })
            .collect();
        for part in resources.chunks(AUDIT_ROWS_PER_STATEMENT) {
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(resources_insert(part.len())));
            for (event_id, position, kind, name) in part {
                insert = insert.bind(*event_id).bind(*position).bind(*kind).bind(*name);
            }
            insert.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// The insert of `rows` audit resources.
fn resources_insert(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let n = row * 4;
            format!("((SELECT seq FROM audit_events WHERE event_id = ${}), ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
        })
        .collect();
    format!("INSERT INTO audit_resources (seq, position, resource_type, resource_name) VALUES {}", values.join(", "))
}

/// The SQL condition for a `LookupEvents` attribute, on `audit_events` aliased `e`.
fn audit_condition(attribute: AuditAttribute) -> &'static str {
    match attribute {
        AuditAttribute::EventId => "e.event_id = $6",
        AuditAttribute::EventName => "e.event_name = $6",
        AuditAttribute::EventSource => "e.event_source = $6",
        AuditAttribute::Username => "e.username = $6",
        AuditAttribute::AccessKeyId => "e.access_key = $6",
        AuditAttribute::ReadOnly => "e.read_only = $6",
        AuditAttribute::ResourceName => {
            "EXISTS (SELECT 1 FROM audit_resources r WHERE r.seq = e.seq AND r.resource_name = $6)"
        }
        AuditAttribute::ResourceType => {
            "EXISTS (SELECT 1 FROM audit_resources r WHERE r.seq = e.seq AND r.resource_type = $6)"
        }
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        self.writer.transaction(AuditRecords(rows.to_vec())).await
    }

    async fn audit_events(&self, scope: &Scope, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let mut sql = String::from(
            "SELECT e.seq, e.event_id, e.account, e.region, e.time_ms, e.event_name, e.event_source, e.username,
                    e.access_key, e.read_only, e.record
             FROM audit_events e
             WHERE e.account = $1 AND e.region = $2 AND e.time_ms >= $3 AND e.time_ms <= $4 AND e.seq < $5",
        );
        if let Some((attribute, _)) = &query.attribute {
            sql.push_str(" AND ");
            sql.push_str(audit_condition(*attribute));
        }
        sql.push_str(if query.attribute.is_some() {
            " ORDER BY e.seq DESC LIMIT $7"
        } else {
            " ORDER BY e.seq DESC LIMIT $6"
        });
        // Safe: `sql` is built only from the constant fragments above.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(query.start_ms)
            .bind(query.end_ms)
            .bind(query.before_seq.unwrap_or(i64::MAX));
        match &query.attribute {
            Some((AuditAttribute::ReadOnly, value)) => q = q.bind(i64::from(value == "true")),
            Some((_, value)) => q = q.bind(value),
            None => {}
        }
        let rows = q.bind(i64::from(query.limit)).fetch_all(&self.pool).await?;
        let mut events: Vec<AuditRow> = rows
            .iter()
            .map(|r| AuditRow {
                seq: r.get(0),
                event_id: r.get(1),
                account: r.get(2),
                region: r.get(3),
                time_ms: r.get(4),
                event_name: r.get(5),
                event_source: r.get(6),
                username: r.get(7),
                access_key: r.get(8),
                read_only: r.get::<i64, _>(9) != 0,
                record: r.get(10),
                resources: Vec::new(),
            })
            .collect();
        // One query for the resources of the whole page (no N+1): the page's seq range,
        // filtered to its own events.
        if let (Some(newest), Some(oldest)) = (events.first().map(|e| e.seq), events.last().map(|e| e.seq)) {
            let rows = sqlx::query(
                "SELECT seq, resource_type, resource_name FROM audit_resources WHERE seq >= $1 AND seq <= $2 ORDER BY seq, position",
            )
            .bind(oldest)
            .bind(newest)
            .fetch_all(&self.pool)
            .await?;
            let mut by_seq: HashMap<i64, Vec<(String, String)>> = HashMap::new();
            for r in &rows {
                by_seq.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
            }
            for event in &mut events {
                event.resources = by_seq.remove(&event.seq).unwrap_or_default();
            }
        }
        Ok(events)
    }
}

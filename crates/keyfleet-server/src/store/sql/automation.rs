//! Automation executions.

use super::*;

fn automation_row(r: &AnyRow) -> Result<AutomationRow, StoreError> {
    Ok(AutomationRow {
        id: r.get("id"),
        document: r.get("document"),
        status: wire(r, "status")?,
        parameters: r.get("parameters"),
        steps: steps_from_json(r.get("steps"))?,
        outputs: r.get("outputs"),
        failure: r.get("failure"),
        start_ms: r.get("start_ms"),
        end_ms: r.get("end_ms"),
        executed_by: r.get("executed_by"),
        owner: r.get("owner"),
        target: r.get("target"),
        assume_role: match (r.get::<Option<String>, _>("assume_role_arn"), r.get::<Option<String>, _>("assume_role_id"))
        {
            (Some(arn), Some(role_id)) => Some(PinnedRole { arn, role_id }),
            _ => None,
        },
    })
}

/// Steps are kept as the JSON of SSM's StepExecutions (times in ms), the format executions
/// were always stored in.
fn steps_to_json(steps: &[StepExecution]) -> String {
    let items = steps.iter().map(|s| {
        let mut item = serde_json::json!({
            "StepName": s.step.as_str(),
            "Action": s.step.action(),
            "StepStatus": s.status.as_str(),
            "IsCritical": s.step.critical(),
        });
        let fields = [
            ("ExecutionStartTime", s.start_ms.map(serde_json::Value::from)),
            ("ExecutionEndTime", s.end_ms.map(serde_json::Value::from)),
            ("Outputs", s.outputs.as_ref().map(|o| serde_json::json!(o))),
            ("FailureMessage", s.failure.as_deref().map(serde_json::Value::from)),
        ];
        for (name, value) in fields {
            if let (Some(value), Some(map)) = (value, item.as_object_mut()) {
                map.insert(name.to_owned(), value);
            }
        }
        item
    });
    serde_json::Value::Array(items.collect()).to_string()
}

fn steps_from_json(text: String) -> Result<Vec<StepExecution>, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("automation steps: {what}"));
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?;
    items
        .iter()
        .map(|item| {
            let text_of = |name: &str| item.get(name).and_then(serde_json::Value::as_str).unwrap_or_default();
            let step = RunbookStep::parse(text_of("StepName")).ok_or_else(|| corrupt(text_of("StepName")))?;
            let status = StepStatus::parse(text_of("StepStatus")).ok_or_else(|| corrupt(text_of("StepStatus")))?;
            let outputs = match item.get("Outputs") {
                None => None,
                Some(o) => Some(serde_json::from_value(o.clone()).map_err(|e| corrupt(&e.to_string()))?),
            };
            Ok(StepExecution {
                step,
                status,
                start_ms: item.get("ExecutionStartTime").and_then(serde_json::Value::as_i64),
                end_ms: item.get("ExecutionEndTime").and_then(serde_json::Value::as_i64),
                outputs,
                failure: item.get("FailureMessage").and_then(serde_json::Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

#[async_trait]
impl AutomationStore for SqlStore {
    async fn save_execution(&self, scope: &Scope, row: &AutomationRow) -> Result<(), StoreError> {
        let saved = sqlx::query(
            "INSERT INTO automation_executions (id, account, region, document, status, parameters, steps, outputs, failure,
                                                start_ms, end_ms, executed_by, owner, target, assume_role_arn,
                                                assume_role_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, steps = excluded.steps, outputs = excluded.outputs,
                                            failure = excluded.failure, end_ms = excluded.end_ms, owner = excluded.owner",
        )
        .bind(&row.id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&row.document)
        .bind(row.status.as_str())
        .bind(&row.parameters)
        .bind(steps_to_json(&row.steps))
        .bind(&row.outputs)
        .bind(&row.failure)
        .bind(row.start_ms)
        .bind(row.end_ms)
        .bind(&row.executed_by)
        .bind(&row.owner)
        .bind(&row.target)
        .bind(row.assume_role.as_ref().map(|r| r.arn.as_str()))
        .bind(row.assume_role.as_ref().map(|r| r.role_id.as_str()))
        .execute(&mut *self.writer.acquire().await?)
        .await;
        // A unique violation here is the partial index: another unfinished execution
        // targets this instance.
        unique(saved).map(drop)
    }

    async fn execution(&self, scope: &Scope, id: &str) -> Result<Option<AutomationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, document, status, parameters, steps, outputs, failure, start_ms, end_ms, executed_by, owner, target,
                    assume_role_arn, assume_role_id
             FROM automation_executions WHERE account = $1 AND region = $2 AND id = $3",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(automation_row).transpose()
    }

    async fn executions(&self, scope: &Scope) -> Result<Vec<AutomationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, document, status, parameters, steps, outputs, failure, start_ms, end_ms, executed_by, owner, target,
                    assume_role_arn, assume_role_id
             FROM automation_executions WHERE account = $1 AND region = $2 ORDER BY start_ms, id",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(automation_row).collect()
    }

    async fn executions_in_status(
        &self,
        statuses: &[AutomationStatus],
    ) -> Result<Vec<(Scope, AutomationRow)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, document, status, parameters, steps, outputs, failure, start_ms, end_ms, executed_by, owner, target,
                    assume_role_arn, assume_role_id, account, region
             FROM automation_executions WHERE end_ms IS NULL ORDER BY start_ms",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut found = Vec::new();
        for r in &rows {
            let row = automation_row(r)?;
            if statuses.contains(&row.status) {
                found.push((Scope { account: r.get("account"), region: r.get("region") }, row));
            }
        }
        Ok(found)
    }
}

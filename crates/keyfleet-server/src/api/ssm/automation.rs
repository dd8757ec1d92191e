//! Wire side of the Automation operations (research notes access-recovery §1.6).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::api::Context;
use crate::api::authorize::{self, Principal, Service, Target, Trail};
use crate::api::error::ApiError;
use crate::api::protocol::json11::{JsonInput, epoch_seconds};
use crate::service::audit::{Actor, ApiCall, Audit};
use crate::service::automation::{StepCall, StepGuard, StepTarget};
use crate::service::iam::Iam;
use crate::store::AutomationRow;
use crate::store::{Scope, Store};

pub(super) async fn start(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let document = input.required("DocumentName", "documentName")?;
    ctx.authorize(&[Target::ssm_resource(&ctx.scope, "automation-definition", &format!("{document}:$DEFAULT"))])?;
    let mut parameters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, values) in input.object("Parameters").into_iter().flatten() {
        let list = values.as_array().map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        parameters.insert(name.clone(), list.unwrap_or_default());
    }
    let caller = ctx.principal.actor.arn();
    let id = ctx.state.automation.start(&ctx.scope, document, parameters, &caller).await?;
    Ok(json!({"AutomationExecutionId": id}))
}

pub(super) async fn get(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let id = input.required("AutomationExecutionId", "automationExecutionId")?;
    ctx.authorize(&[Target::ssm_resource(&ctx.scope, "automation-execution", id)])?;
    let row = ctx.state.automation.get(&ctx.scope, id).await?;
    let mut execution = metadata(&row);
    let steps: Value = serde_json::from_str(&row.steps).unwrap_or(Value::Array(Vec::new()));
    let steps = steps.as_array().map(|s| s.iter().map(step).collect::<Vec<_>>()).unwrap_or_default();
    execution.insert("Parameters".into(), serde_json::from_str(&row.parameters).unwrap_or(json!({})));
    execution.insert("StepExecutionsTruncated".into(), json!(false));
    execution.insert("ProgressCounters".into(), counters(&steps));
    execution.insert("StepExecutions".into(), Value::Array(steps));
    Ok(json!({"AutomationExecution": execution}))
}

pub(super) async fn describe(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let filters = filters(input)?;
    ctx.authorize(&[Target::any()])?;
    let rows = ctx.state.automation.list(&ctx.scope).await?;
    let matching = rows.iter().filter(|row| filters.iter().all(|(key, values)| matches(row, key, values)));
    Ok(json!({"AutomationExecutionMetadataList": matching.map(|r| Value::Object(metadata(r))).collect::<Vec<_>>()}))
}

/// The filter keys keyfleet's executions can answer; the others name things it has none of.
const FILTER_KEYS: [&str; 4] = ["DocumentNamePrefix", "ExecutionStatus", "ExecutionId", "ParentExecutionId"];

fn filters(input: &JsonInput) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let Some(list) = input.array("Filters") else { return Ok(Vec::new()) };
    list.iter()
        .map(|f| {
            let key = f["Key"].as_str().unwrap_or_default().to_owned();
            if !FILTER_KEYS.contains(&key.as_str()) {
                return Err(ApiError::invalid_filter_key());
            }
            let values =
                f["Values"].as_array().map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect());
            Ok((key, values.unwrap_or_default()))
        })
        .collect()
}

fn matches(row: &AutomationRow, key: &str, values: &[String]) -> bool {
    values.iter().any(|v| match key {
        "DocumentNamePrefix" => row.document.starts_with(v.as_str()),
        "ExecutionStatus" => &row.status == v,
        "ExecutionId" => &row.id == v,
        // Executions here are never nested.
        _ => false,
    })
}

pub(super) async fn stop(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let id = input.required("AutomationExecutionId", "automationExecutionId")?;
    ctx.authorize(&[Target::ssm_resource(&ctx.scope, "automation-execution", id)])?;
    ctx.state.automation.stop(&ctx.scope, id).await?;
    Ok(json!({}))
}

fn metadata(row: &AutomationRow) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("AutomationExecutionId".into(), json!(row.id));
    m.insert("DocumentName".into(), json!(row.document));
    m.insert("DocumentVersion".into(), json!("1"));
    m.insert("AutomationExecutionStatus".into(), json!(row.status));
    m.insert("ExecutionStartTime".into(), epoch_seconds(row.start_ms));
    if let Some(end) = row.end_ms {
        m.insert("ExecutionEndTime".into(), epoch_seconds(end));
    }
    m.insert("ExecutedBy".into(), json!(row.executed_by));
    m.insert("Outputs".into(), serde_json::from_str(&row.outputs).unwrap_or(json!({})));
    m.insert("Mode".into(), json!("Auto"));
    m.insert("AutomationType".into(), json!("Local"));
    if let Some(failure) = &row.failure {
        m.insert("FailureMessage".into(), json!(failure));
    }
    if let Some(current) = current_step(row) {
        m.insert("CurrentStepName".into(), json!(current.0));
        m.insert("CurrentAction".into(), json!(current.1));
    }
    m
}

fn current_step(row: &AutomationRow) -> Option<(String, String)> {
    let steps: Value = serde_json::from_str(&row.steps).ok()?;
    let step = steps.as_array()?.iter().find(|s| s["StepStatus"] == "InProgress")?;
    Some((step["StepName"].as_str()?.to_owned(), step["Action"].as_str()?.to_owned()))
}

/// A stored step with its times as JSON 1.1 timestamps.
fn step(stored: &Value) -> Value {
    let mut step = stored.clone();
    if let Some(map) = step.as_object_mut() {
        for key in ["ExecutionStartTime", "ExecutionEndTime"] {
            if let Some(ms) = map.get(key).and_then(Value::as_i64) {
                map.insert(key.into(), epoch_seconds(ms));
            }
        }
    }
    step
}

fn counters(steps: &[Value]) -> Value {
    let count = |status: &str| steps.iter().filter(|s| s["StepStatus"] == status).count();
    json!({
        "TotalSteps": steps.len(),
        "SuccessSteps": count("Success"),
        "FailedSteps": count("Failed"),
        "CancelledSteps": count("Cancelled"),
        "TimedOutSteps": count("TimedOut"),
    })
}

/// Checks each call of an Automation step as the execution's caller, with the policies the
/// caller has now, and records it in the audit log as the caller's (invoked by SSM).
pub fn step_guard(iam: Arc<Iam>, store: Arc<dyn Store>, audit: Arc<Audit>) -> StepGuard {
    Arc::new(move |scope: Scope, caller: String, call: StepCall| {
        let (iam, store, audit) = (iam.clone(), store.clone(), audit.clone());
        Box::pin(async move {
            let outcome = check_step(&iam, &store, &scope, &caller, &call).await;
            let Some(actor) = actor_of(&caller) else { return outcome };
            let (service, event_name) = call.action.split_once(':').unwrap_or(("", call.action));
            let event_source = if service == "ssm" { Service::Ssm } else { Service::Ec2 }.event_source();
            let resources = match &call.target {
                StepTarget::Any => Vec::new(),
                StepTarget::Instance(id) => vec![("AWS::EC2::Instance".to_owned(), id.clone())],
                StepTarget::Parameter(name) => vec![("AWS::SSM::Parameter".to_owned(), name.clone())],
            };
            let record = ApiCall {
                actor,
                region: scope.region.clone(),
                event_source,
                event_name: event_name.to_owned(),
                source_ip: AUTOMATION_SOURCE.to_owned(),
                user_agent: AUTOMATION_SOURCE.to_owned(),
                parameters: Value::Null,
                resources,
                error: outcome.as_ref().err().cloned(),
                request_id: crate::service::ids::request_id(),
            };
            audit.api_call(record, None).await;
            outcome
        })
    })
}

/// What CloudTrail shows as the source of calls Automation makes for a caller.
const AUTOMATION_SOURCE: &str = "ssm.amazonaws.com";

async fn check_step(
    iam: &Iam,
    store: &Arc<dyn Store>,
    scope: &Scope,
    caller: &str,
    call: &StepCall,
) -> Result<(), (String, String)> {
    let internal = |e: &dyn std::fmt::Display| {
        let e = ApiError::internal(e);
        (e.code.to_string(), e.message)
    };
    let actor = actor_of(caller).ok_or_else(|| internal(&format!("unknown caller {caller}")))?;
    let policies = match &actor.user {
        Some(user) => Some(iam.policies_of(&actor.account, user).await.map_err(|e| internal(&e))?),
        None => None,
    };
    let target = match &call.target {
        StepTarget::Any => Target::any(),
        StepTarget::Parameter(name) => Target::parameter(scope, name),
        StepTarget::Instance(id) => {
            let rows = store.instances(scope, std::slice::from_ref(id)).await.map_err(|e| internal(&e))?;
            let tags = rows.first().map(|r| r.tags.clone()).unwrap_or_default();
            Target::instance(scope, id).with_resource_tags(&tags)
        }
    };
    let service = if call.action.starts_with("ssm:") { Service::Ssm } else { Service::Ec2 };
    // Automation calls the other services from inside AWS, over TLS.
    let principal = Principal { actor, policies, source_ip: AUTOMATION_SOURCE.to_owned(), secure_transport: true };
    authorize::check(&principal, service, scope, &Trail::default(), call.action, &[target])
        .map_err(|e| (e.code.to_string(), e.message))
}

/// The caller an execution records, back from its ARN (`…:user/NAME` or `…:root`).
fn actor_of(arn: &str) -> Option<Actor> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, who) = rest.split_once(':')?;
    let user = match who {
        "root" => None,
        other => Some(other.strip_prefix("user/")?.to_owned()),
    };
    Some(Actor { account: account.to_owned(), user, access_key_id: String::new() })
}

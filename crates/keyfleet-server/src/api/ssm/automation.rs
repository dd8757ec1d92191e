//! Wire side of the Automation operations (docs/aws-facts.md, "SSM Automation operations").

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::api::Context;
use crate::api::authorize::{self, Principal, Service, Target, Trail};
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Json11, Operation, find};
use crate::api::protocol::json11::{JsonInput, epoch_seconds};
use crate::service::RunbookInput;
use crate::service::audit::{Actor, ApiCall, Audit, Identity, RoleSession};
use crate::service::automation::{Acting, Execution, StepCall, StepGuard, StepTarget};
use crate::service::iam::Iam;
use crate::service::instances::Instances;
use crate::service::sts::Assumer;
use crate::store::{AutomationRow, PinnedRole, StepExecution, StepStatus, WireName};
use crate::store::{Scope, UnitOfWork};

pub(crate) struct StartAutomationExecution;

impl Operation for StartAutomationExecution {
    type Protocol = Json11;
    const NAME: &'static str = "StartAutomationExecution";
    const ACTION: &'static str = "ssm:StartAutomationExecution";
    const READ_ONLY: bool = false;
    /// The runbook and its parameters.
    type Input = (String, BTreeMap<String, Vec<String>>);
    type Output = String;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let document = input.required("DocumentName", "documentName")?.to_owned();
        let mut parameters: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, values) in input.object("Parameters").into_iter().flatten() {
            let list = values.as_array().map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect());
            parameters.insert(name.clone(), list.unwrap_or_default());
        }
        Ok((document, parameters))
    }

    /// On the runbook; and with an `AutomationAssumeRole`, `iam:PassRole` on that role to
    /// Systems Manager. Each step is checked when it runs, as the role or else the caller.
    async fn authorization(ctx: &Context<'_>, (document, parameters): &Self::Input) -> Result<Authorization, ApiError> {
        let definition = format!("{document}:$DEFAULT");
        let on = Authorization::on_one(Target::ssm_resource(&ctx.scope, "automation-definition", &definition));
        Ok(match assume_role(parameters) {
            // A malformed ARN is answered as such, not as a PassRole denial on it.
            Some(role) if crate::service::sts::parse_role_arn(role).is_none() => {
                return Err(
                    crate::service::Error::InvalidAutomationParameters(RunbookInput::AssumeRoleMalformed).into()
                );
            }
            Some(role) => {
                let passed = Target::role_arn(role).with_key("iam:PassedToService", AUTOMATION_SOURCE);
                on.and_as("iam:PassRole", vec![passed])
            }
            None => on,
        })
    }

    async fn call(ctx: &Context<'_>, (document, parameters): Self::Input) -> Result<String, ApiError> {
        let id = Execution::new_id();
        let assume_role = match assume_role(&parameters) {
            Some(role) => Some(admit_automation(ctx, role, &id).await?),
            None => None,
        };
        let caller = ctx.principal.actor.arn();
        let execution = Execution { id, assume_role };
        Ok(ctx.state.automation.start(&ctx.scope, &document, parameters, &caller, execution).await?)
    }

    fn encode(_: &Context<'_>, id: String) -> Value {
        json!({"AutomationExecutionId": id})
    }
}

pub(crate) struct GetAutomationExecution;

impl Operation for GetAutomationExecution {
    type Protocol = Json11;
    const NAME: &'static str = "GetAutomationExecution";
    const ACTION: &'static str = "ssm:GetAutomationExecution";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = AutomationRow;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        execution_id(input)
    }

    async fn authorization(ctx: &Context<'_>, id: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(execution(ctx, id))
    }

    async fn call(ctx: &Context<'_>, id: Self::Input) -> Result<AutomationRow, ApiError> {
        Ok(ctx.state.automation.get(&ctx.scope, &id).await?)
    }

    fn encode(_: &Context<'_>, row: AutomationRow) -> Value {
        let mut execution = metadata(&row);
        let steps: Vec<Value> = row.steps.iter().map(step).collect();
        execution.insert("Parameters".into(), serde_json::from_str(&row.parameters).unwrap_or(json!({})));
        execution.insert("StepExecutionsTruncated".into(), json!(false));
        execution.insert("ProgressCounters".into(), counters(&steps));
        execution.insert("StepExecutions".into(), Value::Array(steps));
        json!({"AutomationExecution": execution})
    }
}

pub(crate) struct DescribeAutomationExecutions;

impl Operation for DescribeAutomationExecutions {
    type Protocol = Json11;
    const NAME: &'static str = "DescribeAutomationExecutions";
    const ACTION: &'static str = "ssm:DescribeAutomationExecutions";
    const READ_ONLY: bool = true;
    type Input = Vec<(String, Vec<String>)>;
    type Output = Vec<AutomationRow>;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        filters(input)
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, filters: Self::Input) -> Result<Self::Output, ApiError> {
        let mut rows = ctx.state.automation.list(&ctx.scope).await?;
        rows.retain(|row| filters.iter().all(|(key, values)| matches(row, key, values)));
        Ok(rows)
    }

    fn encode(_: &Context<'_>, rows: Self::Output) -> Value {
        json!({"AutomationExecutionMetadataList": rows.iter().map(|r| Value::Object(metadata(r))).collect::<Vec<_>>()})
    }
}

pub(super) struct StopAutomationExecution;

impl Operation for StopAutomationExecution {
    type Protocol = Json11;
    const NAME: &'static str = "StopAutomationExecution";
    const ACTION: &'static str = "ssm:StopAutomationExecution";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        execution_id(input)
    }

    async fn authorization(ctx: &Context<'_>, id: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(execution(ctx, id))
    }

    async fn call(ctx: &Context<'_>, id: Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.automation.stop(&ctx.scope, &id).await?)
    }

    fn encode(_: &Context<'_>, (): ()) -> Value {
        json!({})
    }
}

fn execution_id(input: &JsonInput) -> Result<String, ApiError> {
    Ok(input.required("AutomationExecutionId", "automationExecutionId")?.to_owned())
}

fn execution(ctx: &Context<'_>, id: &str) -> Authorization {
    Authorization::on_one(Target::ssm_resource(&ctx.scope, "automation-execution", id))
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
        "ExecutionStatus" => row.status.as_str() == v,
        "ExecutionId" => &row.id == v,
        // Executions here are never nested.
        _ => false,
    })
}

fn metadata(row: &AutomationRow) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("AutomationExecutionId".into(), json!(row.id));
    m.insert("DocumentName".into(), json!(row.document));
    m.insert("DocumentVersion".into(), json!("1"));
    m.insert("AutomationExecutionStatus".into(), json!(row.status.as_str()));
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
    let step = row.steps.iter().find(|s| s.status == StepStatus::InProgress)?.step;
    Some((step.as_str().to_owned(), step.action().to_owned()))
}

/// A step as SSM's StepExecution, its times as JSON 1.1 timestamps.
fn step(stored: &StepExecution) -> Value {
    let mut step = Map::new();
    step.insert("StepName".into(), json!(stored.step.as_str()));
    step.insert("Action".into(), json!(stored.step.action()));
    step.insert("StepStatus".into(), json!(stored.status.as_str()));
    step.insert("IsCritical".into(), json!(stored.step.critical()));
    if let Some(ms) = stored.start_ms {
        step.insert("ExecutionStartTime".into(), epoch_seconds(ms));
    }
    if let Some(ms) = stored.end_ms {
        step.insert("ExecutionEndTime".into(), epoch_seconds(ms));
    }
    if let Some(outputs) = &stored.outputs {
        step.insert("Outputs".into(), json!(outputs));
    }
    if let Some(failure) = &stored.failure {
        step.insert("FailureMessage".into(), json!(failure));
    }
    Value::Object(step)
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

/// Checks each call of an Automation step as whom the execution acts as (its role's session,
/// or its caller), with the policies that identity has now, and records it in the audit log
/// as that identity's (invoked by SSM).
pub fn step_guard(iam: Arc<Iam>, instances: Arc<Instances>, audit: Arc<Audit>) -> StepGuard {
    Arc::new(move |scope: Scope, acting: Acting, call: StepCall| {
        let (iam, instances, audit) = (iam.clone(), instances.clone(), audit.clone());
        Box::pin(async move {
            let actor = actor_of(&iam, &scope, &acting).await;
            let outcome = match &actor {
                Ok(actor) => check_step(&iam, &instances, &scope, actor, &call).await,
                Err(refusal) => Err(refusal.clone()),
            };
            let Ok(actor) = actor else { return outcome };
            let (service, event_name) = call.action.split_once(':').unwrap_or(("", call.action));
            let (event_source, read_only) = if service == "ssm" {
                (Service::Ssm, find(super::OPERATIONS, event_name).is_some_and(|e| e.read_only))
            } else {
                (Service::Ec2, find(crate::api::ec2::ACTIONS, event_name).is_some_and(|e| e.read_only))
            };
            let event_source = event_source.event_source();
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
                read_only,
                source_ip: AUTOMATION_SOURCE.to_owned(),
                user_agent: AUTOMATION_SOURCE.to_owned(),
                parameters: Value::Null,
                resources,
                error: outcome.as_ref().err().cloned(),
                request_id: crate::common::ids::request_id(),
            };
            audit.api_call(record, UnitOfWork::alone()).await;
            outcome
        })
    })
}

/// What CloudTrail shows as the source of calls Automation makes for a caller, and the
/// service principal a role must trust for Automation to assume it.
const AUTOMATION_SOURCE: &str = "ssm.amazonaws.com";

/// `AutomationAssumeRole`, when given and not empty.
fn assume_role(parameters: &BTreeMap<String, Vec<String>>) -> Option<&str> {
    parameters.get("AutomationAssumeRole").and_then(|v| v.first()).map(String::as_str).filter(|r| !r.is_empty())
}

/// Whether Automation may act as `role` for the caller: a role of the caller's own account
/// whose trust policy admits Systems Manager; the role, pinned by its id, if so.
async fn admit_automation(ctx: &Context<'_>, role: &str, execution: &str) -> Result<PinnedRole, ApiError> {
    let unusable = || crate::service::Error::InvalidAutomationParameters(RunbookInput::AssumeRoleUnusable);
    let Some((account, ..)) = crate::service::sts::parse_role_arn(role) else {
        return Err(crate::service::Error::InvalidAutomationParameters(RunbookInput::AssumeRoleMalformed).into());
    };
    if account != ctx.scope.account {
        return Err(unusable().into());
    }
    match admit_as_automation(&ctx.state.iam, &ctx.scope, role, execution).await {
        Ok(found) => Ok(PinnedRole { arn: role.to_owned(), role_id: found.role_id }),
        Err(crate::service::Error::StsAccessDenied { .. } | crate::service::Error::StsValidation(_)) => {
            Err(unusable().into())
        }
        Err(other) => Err(other.into()),
    }
}

/// The role, if its trust policy admits Systems Manager acting in the scope's account now,
/// for `execution` (its ARN is `aws:SourceArn`, as AWS's recommended trust policy checks).
async fn admit_as_automation(
    iam: &Iam,
    scope: &Scope,
    role: &str,
    execution: &str,
) -> crate::service::Result<crate::store::RoleRow> {
    let source = format!("arn:aws:ssm:{}:{}:automation-execution/{execution}", scope.region, scope.account);
    let service = AssumingService { principal: AUTOMATION_SOURCE, source_arn: Some(source) };
    admit_for_service(iam, scope, role, &service, execution).await
}

/// An AWS service that assumes a role for a caller: its principal, and the `aws:SourceArn`
/// of what it acts for.
#[derive(Debug, Clone)]
pub(crate) struct AssumingService {
    /// `ssm.amazonaws.com`, `cloudformation.amazonaws.com`.
    pub principal: &'static str,
    /// The execution's or stack's ARN.
    pub source_arn: Option<String>,
}

/// The role, if its trust policy admits `service` acting in the scope's account now.
pub(crate) async fn admit_for_service(
    iam: &Iam,
    scope: &Scope,
    role: &str,
    service: &AssumingService,
    session: &str,
) -> crate::service::Result<crate::store::RoleRow> {
    let assumer = Assumer::Service { name: service.principal, account: &scope.account };
    let mut context = crate::service::policy::ConditionContext::default();
    if let Some(source) = &service.source_arn {
        context.add("aws:SourceArn", source.clone());
    }
    let request = crate::service::sts::AssumeRole {
        role_arn: role.to_owned(),
        session_name: session.to_owned(),
        duration_seconds: None,
        external_id: None,
        context,
    };
    iam.admit(assumer, &request).await
}

/// A step's denial or failure, as its AWS code and message.
pub(crate) type StepRefusal = (String, String);

fn internal(e: &dyn std::fmt::Display) -> StepRefusal {
    let e = ApiError::internal(e);
    (e.code.to_string(), e.message)
}

async fn check_step(
    iam: &Iam,
    instances: &Instances,
    scope: &Scope,
    actor: &Actor,
    call: &StepCall,
) -> Result<(), StepRefusal> {
    let policies = iam.policies_of_identity(&actor.account, &actor.identity).await.map_err(|e| internal(&e))?;
    let target = match &call.target {
        StepTarget::Any => Target::any(),
        StepTarget::Parameter(name) => Target::parameter(scope, name),
        StepTarget::Instance(id) => {
            let rows = instances.found(scope, std::slice::from_ref(id)).await.map_err(|e| internal(&e))?;
            let tags = rows.first().map(|r| r.tags.clone()).unwrap_or_default();
            Target::instance(scope, id).with_resource_tags(&tags)
        }
    };
    let service = if call.action.starts_with("ssm:") { Service::Ssm } else { Service::Ec2 };
    // Automation calls the other services from inside AWS, over TLS.
    let principal =
        Principal { actor: actor.clone(), policies, source_ip: AUTOMATION_SOURCE.to_owned(), secure_transport: true };
    authorize::check(&principal, service, scope, &Trail::default(), call.action, &[target])
        .map_err(|e| (e.code.to_string(), e.message))
}

/// Whom a step acts as, now: the pinned role's session while the role is the one pinned (same
/// id) and still trusts Systems Manager, as Automation assumes it again for each step; or the
/// caller recorded by ARN (`…:user/NAME`, `…:root`, or a role session of the caller's own).
async fn actor_of(iam: &Iam, scope: &Scope, acting: &Acting) -> Result<Actor, StepRefusal> {
    let service = match acting {
        Acting::Role { session, .. } => AssumingService {
            principal: AUTOMATION_SOURCE,
            source_arn: Some(format!("arn:aws:ssm:{}:{}:automation-execution/{session}", scope.region, scope.account)),
        },
        Acting::Caller { .. } => AssumingService { principal: AUTOMATION_SOURCE, source_arn: None },
    };
    acting_actor(iam, scope, acting, &service).await
}

/// Whom `acting` is now, for calls `service` makes: the pinned role's session while the role
/// is the one pinned (same id) and still trusts the service, or the caller recorded by ARN.
pub(crate) async fn acting_actor(
    iam: &Iam,
    scope: &Scope,
    acting: &Acting,
    service: &AssumingService,
) -> Result<Actor, StepRefusal> {
    let actor = |account: &str, identity| Actor { account: account.to_owned(), identity, access_key_id: String::new() };
    let arn = match acting {
        Acting::Role { role, session } => {
            let refused = || ("AccessDenied".to_owned(), format!("The provided role: {} can't be assumed.", role.arn));
            let found = match admit_for_service(iam, scope, &role.arn, service, session).await {
                Ok(found) if found.role_id == role.role_id => found,
                Ok(_)
                | Err(crate::service::Error::StsAccessDenied { .. } | crate::service::Error::StsValidation(_)) => {
                    return Err(refused());
                }
                Err(other) => return Err(internal(&other)),
            };
            let session =
                RoleSession { role: found.name, path: found.path, role_id: found.role_id, session: session.clone() };
            return Ok(actor(&scope.account, Identity::Role(session)));
        }
        Acting::Caller { arn, id } => (arn, id),
    };
    let (arn, pinned) = arn;
    let unknown = || internal(&format!("unknown caller {arn}"));
    // A user or role made again under the caller's name is someone else.
    let replaced = || ("AccessDenied".to_owned(), format!("{arn} is no longer the identity that made the request."));
    let same = |id: &str| pinned.as_ref().is_none_or(|p| p == id);
    if let Some(rest) = arn.strip_prefix("arn:aws:sts::") {
        let (account, who) = rest.split_once(':').ok_or_else(unknown)?;
        let (role, session) = who.strip_prefix("assumed-role/").and_then(|r| r.split_once('/')).ok_or_else(unknown)?;
        let found = iam.role(account, role).await.map_err(|_| unknown())?;
        if !same(&found.role_id) {
            return Err(replaced());
        }
        let session =
            RoleSession { role: found.name, path: found.path, role_id: found.role_id, session: session.into() };
        return Ok(actor(account, Identity::Role(session)));
    }
    let (account, who) = arn.strip_prefix("arn:aws:iam::").and_then(|r| r.split_once(':')).ok_or_else(unknown)?;
    match who {
        "root" => Ok(actor(account, Identity::Root)),
        other => {
            let user = other.strip_prefix("user/").ok_or_else(unknown)?;
            if pinned.is_some() {
                let found = iam.user(account, user).await.map_err(|_| replaced())?;
                if !same(&found.user_id) {
                    return Err(replaced());
                }
            }
            Ok(actor(account, Identity::User(user.to_owned())))
        }
    }
}

/// The id of the caller's user or role (`AIDA…`, `AROA…`), which pins who it is while
/// something it started runs on; `None` for the root.
pub(crate) async fn caller_id(ctx: &crate::api::Context<'_>) -> Result<Option<String>, ApiError> {
    let actor = &ctx.principal.actor;
    Ok(match &actor.identity {
        Identity::Root => None,
        Identity::Role(session) => Some(session.role_id.clone()),
        Identity::User(name) => Some(ctx.state.iam.user(&actor.account, name).await?.user_id),
    })
}

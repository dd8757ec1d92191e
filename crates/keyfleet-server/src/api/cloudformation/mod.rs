//! CloudFormation (Query protocol, `Version=2010-05-15`): stacks made from templates
//! (docs/aws-facts.md, "CloudFormation stacks"). The stacks themselves live in
//! `service/cloudformation`; [`resources`] makes their resources with the API's own
//! operations.

pub(crate) mod resources;

use std::marker::PhantomData;

use super::authorize::Target;
use super::error::ApiError;
use super::iam::refuse_unimplemented;
use super::operation::{Authorization, AwsQuery, Endpoint, Operation};
use super::protocol::aws_query;
use super::protocol::ec2_query::{Accepted, QueryParams, timestamp};
use super::protocol::xml::XmlWriter;
use super::{Context, Reply};
use crate::service::cloudformation::{
    Export, ParameterInput, SERVICE_PRINCIPAL, StackInvalid, StackRequest, Validated, builtin,
};
use crate::store::{OnFailure, StackEvent, StackResource, StackRow, StackStatus, WireName};

/// CloudFormation's namespace.
pub const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// Every CloudFormation action keyfleet implements. Anything else is `InvalidAction`.
pub static ACTIONS: &[Endpoint<AwsQuery>] = &[
    Endpoint::of::<CreateStack>(),
    Endpoint::of::<UpdateStack>(),
    Endpoint::of::<DeleteStack>(),
    Endpoint::of::<DescribeStacks>(),
    Endpoint::of::<ListStacks>(),
    Endpoint::of::<DescribeStackEvents>(),
    Endpoint::of::<DescribeStackResource>(),
    Endpoint::of::<DescribeStackResources>(),
    Endpoint::of::<ListStackResources>(),
    Endpoint::of::<GetTemplate>(),
    Endpoint::of::<ValidateTemplate>(),
    Endpoint::of::<ListExports>(),
];

fn reply(ctx: &Context<'_>, action: &str, body: Option<&dyn Fn(&mut XmlWriter)>) -> Reply {
    aws_query::success_in(NAMESPACE, action, ctx.request_id, body)
}

/// `arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/*` (or the stack's own id).
/// A live stack named so is checked on its own id, so that a policy on that id holds whether
/// the request names the stack or its id; a name with no stack is `…:stack/NAME/*`.
async fn stack_target(ctx: &Context<'_>, name_or_id: &str) -> Result<Target, ApiError> {
    let arn = match ctx.state.stacks.find(&ctx.scope, name_or_id).await {
        Ok(stack) => stack.id,
        Err(crate::service::Error::StackNotFound(_)) if name_or_id.starts_with("arn:") => name_or_id.to_owned(),
        Err(crate::service::Error::StackNotFound(_)) => {
            format!("arn:aws:cloudformation:{}:{}:stack/{name_or_id}/*", ctx.scope.region, ctx.scope.account)
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Target::stack(arn, name_or_id))
}

/// The template a request gives: its body, or a built-in template's URL.
fn template_body(p: &QueryParams) -> Result<Option<String>, ApiError> {
    match (p.get("TemplateBody"), p.get("TemplateURL")) {
        (Some(_), Some(_)) => Err(crate::service::Error::from(StackInvalid::NoTemplate).into()),
        (Some(body), None) => Ok(Some(body.to_owned())),
        (None, Some(url)) => match builtin::template_at(url) {
            Some(body) => Ok(Some(body.to_owned())),
            None => Err(crate::service::Error::from(StackInvalid::TemplateUrl).into()),
        },
        (None, None) => Ok(None),
    }
}

fn parameters(p: &QueryParams) -> Result<Vec<(String, ParameterInput)>, ApiError> {
    let mut found = Vec::new();
    for n in p.indices("Parameters.member") {
        let member = |field: &str| p.get(&format!("Parameters.member.{n}.{field}")).map(str::to_owned);
        let Some(key) = member("ParameterKey") else { continue };
        let previous = member("UsePreviousValue").is_some_and(|v| v == "true");
        let input = match (member("ParameterValue"), previous) {
            (Some(value), false) => ParameterInput::Value(value),
            (None, true) => ParameterInput::UsePrevious,
            (Some(_), true) => return Err(crate::service::Error::from(StackInvalid::PreviousValue(key)).into()),
            (None, false) => ParameterInput::Value(String::new()),
        };
        found.push((key, input));
    }
    Ok(found)
}

fn tags(p: &QueryParams) -> Result<Option<Vec<(String, String)>>, ApiError> {
    let indices = p.indices("Tags.member");
    if indices.is_empty() {
        return Ok(None);
    }
    let mut tags = Vec::new();
    for n in indices {
        let missing = |member: &str| {
            ApiError::bad_request(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at 'tags.{n}.member.{member}' failed to satisfy constraint: Member must not be null"
                ),
            )
        };
        let key = p.get(&format!("Tags.member.{n}.Key")).ok_or_else(|| missing("key"))?;
        let value = p.get(&format!("Tags.member.{n}.Value")).ok_or_else(|| missing("value"))?;
        tags.push((key.to_owned(), value.to_owned()));
    }
    Ok(Some(tags))
}

const STACK_PARAMETERS: [Accepted; 14] = [
    Accepted::any("StackName"),
    Accepted::any("TemplateBody"),
    Accepted::any("TemplateURL"),
    Accepted::any("Parameters.member.N.ParameterKey"),
    Accepted::any("Parameters.member.N.ParameterValue"),
    Accepted::any("Parameters.member.N.UsePreviousValue"),
    Accepted::any("Capabilities.member.N"),
    Accepted::any("Tags.member.N.Key"),
    Accepted::any("Tags.member.N.Value"),
    Accepted::any("RoleARN"),
    Accepted::only("OnFailure", &["ROLLBACK", "DELETE", "DO_NOTHING"]),
    Accepted::any("DisableRollback"),
    Accepted::only("EnableTerminationProtection", &["false"]),
    Accepted::only("UsePreviousTemplate", &["true", "false"]),
];

/// `CreateStack` and `UpdateStack`'s input: the request, and `RoleARN` to admit.
pub(crate) struct StackInput {
    request: StackRequest,
    role_arn: Option<String>,
}

/// The capabilities CloudFormation knows.
const CAPABILITIES: [&str; 3] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"];

fn stack_input(ctx: &Context<'_>, p: &QueryParams, action: &'static str) -> Result<StackInput, ApiError> {
    refuse_unimplemented(p, action, &STACK_PARAMETERS)?;
    let disable_rollback = p.flag("DisableRollback")?;
    // A failed update always rolls back: keyfleet has no UPDATE_FAILED to stop at.
    if action == "UpdateStack" {
        let unsupported = |parameter: &str| {
            crate::service::Error::IamValidation(crate::service::IamInvalid::Unsupported {
                action,
                parameter: parameter.to_owned(),
            })
        };
        if p.get("OnFailure").is_some() {
            return Err(unsupported("OnFailure").into());
        }
        if disable_rollback {
            return Err(unsupported("DisableRollback").into());
        }
    }
    let capabilities = p.list("Capabilities.member");
    if let Some(unknown) = capabilities.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
        return Err(ApiError::bad_request(
            "ValidationError",
            format!(
                "1 validation error detected: Value '[{unknown}]' at 'capabilities' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CAPABILITY_AUTO_EXPAND, CAPABILITY_NAMED_IAM, CAPABILITY_IAM]]"
            ),
        ));
    }
    let on_failure = match (p.get("OnFailure"), disable_rollback) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "ValidationError",
                "You cannot specify both DisableRollback and OnFailure.",
            ));
        }
        (Some("DELETE"), _) => OnFailure::Delete,
        (Some("DO_NOTHING"), _) | (None, true) => OnFailure::DoNothing,
        _ => OnFailure::Rollback,
    };
    let mut template_body = template_body(p)?;
    let use_previous = p.get("UsePreviousTemplate") == Some("true");
    if template_body.is_some() && use_previous {
        return Err(ApiError::bad_request(
            "ValidationError",
            "You cannot specify both usePreviousTemplate and Template Body/Template URL.",
        ));
    }
    if template_body.is_none() && !use_previous {
        return Err(crate::service::Error::from(StackInvalid::NoTemplate).into());
    }
    if use_previous {
        template_body = None;
    }
    Ok(StackInput {
        request: StackRequest {
            name: p.required("StackName")?.to_owned(),
            template_body,
            parameters: parameters(p)?,
            capabilities,
            tags: tags(p)?,
            role: None,
            on_failure,
            caller: ctx.principal.actor.arn(),
            caller_id: None,
        },
        role_arn: p.get("RoleARN").map(str::to_owned),
    })
}

/// The stack, plus `iam:PassRole` on a `RoleARN` to CloudFormation.
async fn stack_authorization(ctx: &Context<'_>, input: &StackInput) -> Result<Authorization, ApiError> {
    let on = Authorization::on_one(stack_target(ctx, &input.request.name).await?);
    Ok(match &input.role_arn {
        Some(role) if crate::service::sts::parse_role_arn(role).is_none() => {
            return Err(crate::service::Error::from(StackInvalid::Role(role.clone())).into());
        }
        Some(role) => {
            let passed = Target::role_arn(role).with_key("iam:PassedToService", SERVICE_PRINCIPAL);
            on.and_as("iam:PassRole", vec![passed])
        }
        None => on,
    })
}

/// GetSessionToken's credentials are no key to IAM (docs/security.md). A stack acts later,
/// as its caller's long-term identity, on whatever its templates (this one, an earlier one,
/// one still being applied) hold, IAM resources included: so they do not change stacks.
fn refuse_own_session(ctx: &Context<'_>) -> Result<(), ApiError> {
    if ctx.principal.actor.is_own_session() {
        return Err(ApiError::custom(
            "AccessDenied",
            "Credentials from GetSessionToken cannot create, update or delete stacks.".to_owned(),
            axum::http::StatusCode::FORBIDDEN,
        ));
    }
    Ok(())
}

/// The request with its `RoleARN` admitted: a role of the caller's account that trusts
/// CloudFormation.
async fn admitted(ctx: &Context<'_>, mut input: StackInput) -> Result<StackRequest, ApiError> {
    refuse_own_session(ctx)?;
    input.request.caller_id = crate::api::ssm::automation::caller_id(ctx).await?;
    if let Some(role) = input.role_arn {
        input.request.role = Some(resources::admit_role(ctx, &role).await?);
    }
    Ok(input.request)
}

/// CreateStack or UpdateStack: the same input, authorization and answer.
pub(crate) trait StackWrite: Send + Sync + 'static {
    const NAME: &'static str;
    const ACTION: &'static str;
    /// CreateStack (else UpdateStack).
    const CREATES: bool;
}

pub(crate) struct Create;
pub(crate) struct Update;

impl StackWrite for Create {
    const NAME: &'static str = "CreateStack";
    const ACTION: &'static str = "cloudformation:CreateStack";
    const CREATES: bool = true;
}

impl StackWrite for Update {
    const NAME: &'static str = "UpdateStack";
    const ACTION: &'static str = "cloudformation:UpdateStack";
    const CREATES: bool = false;
}

pub(crate) struct WriteStack<W>(PhantomData<W>);

/// `CreateStack`.
pub(crate) type CreateStack = WriteStack<Create>;
/// `UpdateStack`.
pub(crate) type UpdateStack = WriteStack<Update>;

impl<W: StackWrite> Operation for WriteStack<W> {
    type Protocol = AwsQuery;
    const NAME: &'static str = W::NAME;
    const ACTION: &'static str = W::ACTION;
    const READ_ONLY: bool = false;
    type Input = StackInput;
    type Output = String;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<StackInput, ApiError> {
        stack_input(ctx, p, Self::NAME)
    }

    async fn authorization(ctx: &Context<'_>, input: &StackInput) -> Result<Authorization, ApiError> {
        stack_authorization(ctx, input).await
    }

    async fn call(ctx: &Context<'_>, input: StackInput) -> Result<String, ApiError> {
        let request = admitted(ctx, input).await?;
        let stacks = &ctx.state.stacks;
        let id = if W::CREATES {
            stacks.create(&ctx.scope, request).await
        } else {
            stacks.update(&ctx.scope, request).await
        };
        Ok(id?)
    }

    fn encode(ctx: &Context<'_>, id: String) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.text("StackId", &id);
            }),
        )
    }

    fn created(id: &String) -> Vec<(&'static str, String)> {
        if W::CREATES { vec![("AWS::CloudFormation::Stack", id.clone())] } else { Vec::new() }
    }
}

pub(crate) struct DeleteStack;

impl Operation for DeleteStack {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteStack";
    const ACTION: &'static str = "cloudformation:DeleteStack";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("StackName")])?;
        Ok(p.required("StackName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(stack_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<(), ApiError> {
        refuse_own_session(ctx)?;
        let caller = ctx.principal.actor.arn();
        let caller_id = crate::api::ssm::automation::caller_id(ctx).await?;
        Ok(ctx.state.stacks.delete(&ctx.scope, &name, &caller, caller_id.as_deref()).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

fn optional_stack_name(p: &QueryParams, action: &'static str, extra: &[Accepted]) -> Result<Option<String>, ApiError> {
    let mut accepted = vec![Accepted::any("StackName")];
    accepted.extend_from_slice(extra);
    refuse_unimplemented(p, action, &accepted)?;
    Ok(p.get("StackName").map(str::to_owned))
}

fn required_stack_name(p: &QueryParams, action: &'static str, extra: &[Accepted]) -> Result<String, ApiError> {
    optional_stack_name(p, action, extra)?;
    Ok(p.required("StackName")?.to_owned())
}

async fn on_stack_or_any(ctx: &Context<'_>, name: Option<&String>) -> Result<Authorization, ApiError> {
    Ok(match name {
        Some(name) => Authorization::on_one(stack_target(ctx, name).await?),
        None => Authorization::any(),
    })
}

pub(crate) struct DescribeStacks;

impl Operation for DescribeStacks {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeStacks";
    const ACTION: &'static str = "cloudformation:DescribeStacks";
    const READ_ONLY: bool = true;
    type Input = Option<String>;
    type Output = Vec<StackRow>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Option<String>, ApiError> {
        optional_stack_name(p, Self::NAME, &[])
    }

    async fn authorization(ctx: &Context<'_>, name: &Option<String>) -> Result<Authorization, ApiError> {
        on_stack_or_any(ctx, name.as_ref()).await
    }

    async fn call(ctx: &Context<'_>, name: Option<String>) -> Result<Vec<StackRow>, ApiError> {
        Ok(match name {
            Some(name) => vec![ctx.state.stacks.find(&ctx.scope, &name).await?],
            None => ctx.state.stacks.live(&ctx.scope).await?,
        })
    }

    fn encode(ctx: &Context<'_>, stacks: Vec<StackRow>) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("Stacks");
                for stack in &stacks {
                    stack_element(w, stack);
                }
                w.end("Stacks");
            }),
        )
    }
}

fn stack_element(w: &mut XmlWriter, stack: &StackRow) {
    let record = &stack.record;
    w.start("member").text("StackId", &stack.id).text("StackName", &stack.name);
    if let Some(description) = &record.description {
        w.text("Description", description);
    }
    w.start("Parameters");
    for parameter in &record.parameters {
        let value = if parameter.no_echo { "****" } else { parameter.value.as_str() };
        w.start("member").text("ParameterKey", &parameter.key).text("ParameterValue", value);
        if let Some(resolved) = parameter.resolved.as_deref().filter(|_| !parameter.no_echo) {
            w.text("ResolvedValue", resolved);
        }
        w.end("member");
    }
    w.end("Parameters");
    w.text("CreationTime", &timestamp(stack.created_ms));
    if let Some(updated) = record.updated_ms {
        w.text("LastUpdatedTime", &timestamp(updated));
    }
    if let Some(deleted) = stack.deleted_ms {
        w.text("DeletionTime", &timestamp(deleted));
    }
    w.empty("RollbackConfiguration").text("StackStatus", stack.status.as_str());
    if let Some(reason) = &record.status_reason {
        w.text("StackStatusReason", reason);
    }
    let disabled = record.on_failure == Some(OnFailure::DoNothing);
    w.text("DisableRollback", if disabled { "true" } else { "false" }).empty("NotificationARNs");
    w.start("Capabilities");
    for capability in &record.capabilities {
        w.text("member", capability);
    }
    w.end("Capabilities");
    if !record.outputs.is_empty() {
        w.start("Outputs");
        for output in &record.outputs {
            w.start("member").text("OutputKey", &output.key).text("OutputValue", &output.value);
            if let Some(description) = &output.description {
                w.text("Description", description);
            }
            if let Some(export) = &output.export_name {
                w.text("ExportName", export);
            }
            w.end("member");
        }
        w.end("Outputs");
    }
    if let Some(role) = &record.role_arn {
        w.text("RoleARN", role);
    }
    w.start("Tags");
    for (key, value) in &record.tags {
        w.start("member").text("Key", key).text("Value", value).end("member");
    }
    w.end("Tags");
    if stack.deleted_ms.is_none() {
        w.text("EnableTerminationProtection", "false");
    }
    w.start("DriftInformation").text("StackDriftStatus", "NOT_CHECKED").end("DriftInformation");
    w.end("member");
}

pub(crate) struct ListStacks;

impl Operation for ListStacks {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListStacks";
    const ACTION: &'static str = "cloudformation:ListStacks";
    const READ_ONLY: bool = true;
    type Input = Vec<StackStatus>;
    type Output = Vec<StackRow>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Vec<StackStatus>, ApiError> {
        refuse_unimplemented(
            p,
            Self::NAME,
            &[Accepted::any("StackStatusFilter.member.N"), Accepted::any("NextToken")],
        )?;
        p.list("StackStatusFilter.member")
            .iter()
            .map(|s| {
                StackStatus::parse(s).ok_or_else(|| {
                    ApiError::bad_request(
                        "ValidationError",
                        format!("1 validation error detected: Value '[{s}]' at 'stackStatusFilter' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set]"),
                    )
                })
            })
            .collect()
    }

    async fn authorization(_: &Context<'_>, _: &Vec<StackStatus>) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, filter: Vec<StackStatus>) -> Result<Vec<StackRow>, ApiError> {
        let all = ctx.state.stacks.all(&ctx.scope).await?;
        Ok(all.into_iter().filter(|s| filter.is_empty() || filter.contains(&s.status)).collect())
    }

    fn encode(ctx: &Context<'_>, stacks: Vec<StackRow>) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("StackSummaries");
                for stack in &stacks {
                    w.start("member").text("StackId", &stack.id).text("StackName", &stack.name);
                    if let Some(description) = &stack.record.description {
                        w.text("TemplateDescription", description);
                    }
                    w.text("CreationTime", &timestamp(stack.created_ms));
                    if let Some(updated) = stack.record.updated_ms {
                        w.text("LastUpdatedTime", &timestamp(updated));
                    }
                    if let Some(deleted) = stack.deleted_ms {
                        w.text("DeletionTime", &timestamp(deleted));
                    }
                    w.text("StackStatus", stack.status.as_str());
                    if let Some(reason) = &stack.record.status_reason {
                        w.text("StackStatusReason", reason);
                    }
                    w.start("DriftInformation").text("StackDriftStatus", "NOT_CHECKED").end("DriftInformation");
                    w.end("member");
                }
                w.end("StackSummaries");
            }),
        )
    }
}

pub(crate) struct DescribeStackEvents;

impl Operation for DescribeStackEvents {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeStackEvents";
    const ACTION: &'static str = "cloudformation:DescribeStackEvents";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = (StackRow, Vec<StackEvent>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        required_stack_name(p, Self::NAME, &[])
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(stack_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.stacks.events(&ctx.scope, &name).await?)
    }

    fn encode(ctx: &Context<'_>, (stack, events): Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("StackEvents");
                for event in &events {
                    w.start("member")
                        .text("StackId", &stack.id)
                        .text("EventId", &event.event_id)
                        .text("StackName", &stack.name)
                        .text("LogicalResourceId", &event.logical_id)
                        .text("PhysicalResourceId", event.physical_id.as_deref().unwrap_or_default())
                        .text("ResourceType", &event.kind)
                        .text("Timestamp", &timestamp(event.timestamp_ms))
                        .text("ResourceStatus", &event.status);
                    if let Some(reason) = &event.reason {
                        w.text("ResourceStatusReason", reason);
                    }
                    if let Some(properties) = &event.properties {
                        w.text("ResourceProperties", properties);
                    }
                    w.end("member");
                }
                w.end("StackEvents");
            }),
        )
    }
}

/// A resource's common members.
fn resource_members(w: &mut XmlWriter, resource: &StackResource) {
    w.text("LogicalResourceId", &resource.logical_id)
        .text("PhysicalResourceId", resource.physical_id.as_deref().unwrap_or_default())
        .text("ResourceType", &resource.kind);
}

fn resource_status(w: &mut XmlWriter, resource: &StackResource) {
    w.text("ResourceStatus", resource.status.as_str());
    if let Some(reason) = &resource.reason {
        w.text("ResourceStatusReason", reason);
    }
    w.start("DriftInformation").text("StackResourceDriftStatus", "NOT_CHECKED").end("DriftInformation");
}

pub(crate) struct DescribeStackResource;

impl Operation for DescribeStackResource {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeStackResource";
    const ACTION: &'static str = "cloudformation:DescribeStackResource";
    const READ_ONLY: bool = true;
    type Input = (String, String);
    type Output = (StackRow, StackResource);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<(String, String), ApiError> {
        let name = required_stack_name(p, Self::NAME, &[Accepted::any("LogicalResourceId")])?;
        Ok((name, p.required("LogicalResourceId")?.to_owned()))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &(String, String)) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(stack_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, logical_id): (String, String)) -> Result<Self::Output, ApiError> {
        let stack = ctx.state.stacks.find(&ctx.scope, &name).await?;
        let resource = stack.record.resources.iter().find(|r| r.logical_id == logical_id).cloned();
        let resource = resource.ok_or_else(|| {
            crate::service::Error::from(StackInvalid::NoSuchResource { logical_id, stack: stack.name.clone() })
        })?;
        Ok((stack, resource))
    }

    fn encode(ctx: &Context<'_>, (stack, resource): Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("StackResourceDetail").text("StackName", &stack.name).text("StackId", &stack.id);
                resource_members(w, &resource);
                w.text("LastUpdatedTimestamp", &timestamp(resource.updated_ms));
                resource_status(w, &resource);
                w.text("Metadata", "{}").end("StackResourceDetail");
            }),
        )
    }
}

pub(crate) struct DescribeStackResources;

impl Operation for DescribeStackResources {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeStackResources";
    const ACTION: &'static str = "cloudformation:DescribeStackResources";
    const READ_ONLY: bool = true;
    type Input = (String, Option<String>);
    type Output = (StackRow, Vec<StackResource>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let name = required_stack_name(p, Self::NAME, &[Accepted::any("LogicalResourceId")])?;
        Ok((name, p.get("LogicalResourceId").map(str::to_owned)))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(stack_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, logical_id): Self::Input) -> Result<Self::Output, ApiError> {
        let stack = ctx.state.stacks.find(&ctx.scope, &name).await?;
        let resources = stack
            .record
            .resources
            .iter()
            .filter(|r| logical_id.as_ref().is_none_or(|l| *l == r.logical_id))
            .cloned()
            .collect();
        Ok((stack, resources))
    }

    fn encode(ctx: &Context<'_>, (stack, resources): Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("StackResources");
                for resource in &resources {
                    w.start("member").text("StackName", &stack.name).text("StackId", &stack.id);
                    resource_members(w, resource);
                    w.text("Timestamp", &timestamp(resource.updated_ms));
                    resource_status(w, resource);
                    w.end("member");
                }
                w.end("StackResources");
            }),
        )
    }
}

pub(crate) struct ListStackResources;

impl Operation for ListStackResources {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListStackResources";
    const ACTION: &'static str = "cloudformation:ListStackResources";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = StackRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        required_stack_name(p, Self::NAME, &[])
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(stack_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<StackRow, ApiError> {
        Ok(ctx.state.stacks.find(&ctx.scope, &name).await?)
    }

    fn encode(ctx: &Context<'_>, stack: StackRow) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("StackResourceSummaries");
                for resource in &stack.record.resources {
                    w.start("member");
                    resource_members(w, resource);
                    w.text("LastUpdatedTimestamp", &timestamp(resource.updated_ms));
                    resource_status(w, resource);
                    w.end("member");
                }
                w.end("StackResourceSummaries");
            }),
        )
    }
}

pub(crate) struct GetTemplate;

impl Operation for GetTemplate {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetTemplate";
    const ACTION: &'static str = "cloudformation:GetTemplate";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = StackRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        let stage = [Accepted::only("TemplateStage", &["Original", "Processed"])];
        optional_stack_name(p, Self::NAME, &stage)?.ok_or_else(|| {
            ApiError::bad_request("ValidationError", "StackName is required if ChangeSetName is not specified.")
        })
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(stack_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<StackRow, ApiError> {
        Ok(ctx.state.stacks.find(&ctx.scope, &name).await?)
    }

    fn encode(ctx: &Context<'_>, stack: StackRow) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.text("TemplateBody", &stack.record.template_body);
                w.start("StagesAvailable")
                    .text("member", "Original")
                    .text("member", "Processed")
                    .end("StagesAvailable");
            }),
        )
    }
}

pub(crate) struct ValidateTemplate;

impl Operation for ValidateTemplate {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ValidateTemplate";
    const ACTION: &'static str = "cloudformation:ValidateTemplate";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = Validated;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("TemplateBody"), Accepted::any("TemplateURL")])?;
        template_body(p)?.ok_or_else(|| crate::service::Error::from(StackInvalid::NoTemplate).into())
    }

    async fn authorization(_: &Context<'_>, _: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, body: String) -> Result<Validated, ApiError> {
        Ok(ctx.state.stacks.validate(&body)?)
    }

    fn encode(ctx: &Context<'_>, validated: Validated) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("Parameters");
                for parameter in &validated.template.parameters {
                    w.start("member").text("ParameterKey", &parameter.name);
                    if let Some(default) = &parameter.default {
                        w.text("DefaultValue", default);
                    }
                    w.text("NoEcho", if parameter.no_echo { "true" } else { "false" });
                    if let Some(description) = &parameter.description {
                        w.text("Description", description);
                    }
                    w.end("member");
                }
                w.end("Parameters");
                if let Some(description) = &validated.template.description {
                    w.text("Description", description);
                }
                if let Some((capability, kinds)) = &validated.capability {
                    w.start("Capabilities").text("member", capability).end("Capabilities");
                    let reason = format!("The following resource(s) require capabilities: [{}]", kinds.join(", "));
                    w.text("CapabilitiesReason", &reason);
                } else {
                    w.empty("Capabilities");
                }
                w.empty("DeclaredTransforms");
            }),
        )
    }
}

pub(crate) struct ListExports;

impl Operation for ListExports {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListExports";
    const ACTION: &'static str = "cloudformation:ListExports";
    const READ_ONLY: bool = true;
    type Input = ();
    type Output = Vec<Export>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<(), ApiError> {
        refuse_unimplemented(p, Self::NAME, &[])
    }

    async fn authorization(_: &Context<'_>, (): &()) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (): ()) -> Result<Vec<Export>, ApiError> {
        Ok(ctx.state.stacks.exports(&ctx.scope).await?)
    }

    fn encode(ctx: &Context<'_>, exports: Vec<Export>) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("Exports");
                for export in &exports {
                    w.start("member")
                        .text("ExportingStackId", &export.stack_id)
                        .text("Name", &export.name)
                        .text("Value", &export.value)
                        .end("member");
                }
                w.end("Exports");
            }),
        )
    }
}

//! CloudFormation → Stacks: the stacks, a form that creates one from a template (pasted, read
//! from a file, or one of the built-in templates' S3 URLs, as seed 004 gives), and a stack's
//! page with its status, outputs, resources and events, updating while the stack is in
//! progress.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_query, render, see_other};
use crate::api::authorize::Service;
use crate::api::cloudformation::{CreateStack, DeleteStack, DescribeStackEvents, DescribeStacks, ListStacks};
use crate::api::protocol::ec2_query::{QueryParams, timestamp};
use crate::store::{StackRow, WireName};

/// A stack in the list.
pub struct StackLine {
    pub name: String,
    pub status: String,
    pub created: String,
    pub description: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "console/cfn_stacks.html")]
pub struct Stacks {
    pub shell: Shell,
    pub rows: Result<Vec<StackLine>, Problem>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "console/cfn_create.html")]
pub struct CreateForm {
    pub shell: Shell,
    pub problem: Option<Problem>,
    pub name: String,
    pub url: String,
    pub body: String,
    pub parameters: String,
    pub rescue_url: &'static str,
}

/// A stack's page.
pub struct StackView {
    pub id: String,
    pub name: String,
    pub status: String,
    pub reason: String,
    pub description: String,
    pub created: String,
    /// `(key, value, description, export)`.
    pub outputs: Vec<(String, String, String, String)>,
    /// `(logical id, physical id, type, status, reason)`.
    pub resources: Vec<(String, String, String, String, String)>,
    /// `(time, logical id, status, reason)`, newest first.
    pub events: Vec<(String, String, String, String)>,
    /// `(key, value)`.
    pub parameters: Vec<(String, String)>,
    /// In progress: the page refreshes its part.
    pub live: bool,
    pub deletable: bool,
}

#[derive(Template)]
#[template(path = "console/cfn_stack.html")]
pub struct StackPage {
    pub shell: Shell,
    pub stack: Result<StackView, Problem>,
    pub link: String,
    pub problem: Option<Problem>,
}

/// The EC2Rescue role template that seed 004 starts from, offered on the create form.
const RESCUE_URL: &str =
    "https://s3.amazonaws.com/awssupport-ssm.us-east-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template";

fn stack_link(name_or_id: &str, region: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("region", region)
        .append_pair("StackName", name_or_id)
        .finish();
    format!("/console/cloudformation/stacks/view?{query}")
}

/// `GET /console/cloudformation/stacks`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let region = request.region();
    let rows = call_query::<ListStacks>(request, &signed, Service::CloudFormation, QueryParams::default())
        .await
        .map(|stacks| {
            stacks
                .into_iter()
                .filter(|s| s.deleted_ms.is_none())
                .map(|s| StackLine {
                    link: stack_link(&s.name, &region),
                    status: s.status.as_str().to_owned(),
                    created: timestamp(s.created_ms),
                    description: s.record.description.clone().unwrap_or_default(),
                    name: s.name,
                })
                .collect()
        })
        .map_err(Problem::from);
    let stack_name = |name: &String| name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let notice = request.query("deleting").filter(stack_name).map(|name| format!("Deleting stack {name}."));
    render(StatusCode::OK, &Stacks { shell: Shell::new(request, &signed, "stacks"), rows, notice })
}

fn create_form(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> CreateForm {
    let field = |name: &str| request.field(name).unwrap_or_default();
    CreateForm {
        shell: Shell::new(request, signed, "stacks"),
        problem,
        name: field("StackName"),
        url: request.field("TemplateURL").or_else(|| request.query("TemplateURL")).unwrap_or_default(),
        body: field("TemplateBody"),
        parameters: field("Parameters"),
        rescue_url: RESCUE_URL,
    }
}

/// `GET /console/cloudformation/stacks/create`.
pub async fn create_page(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    render(StatusCode::OK, &create_form(request, &signed, None))
}

/// CreateStack's parameters from the form: the template from its URL or its text, the
/// parameters as `Key=Value` lines, and the acknowledged capabilities.
fn create_params(request: &ConsoleRequest<'_>) -> QueryParams {
    let mut pairs: Vec<(String, String)> = vec![("StackName".into(), request.field("StackName").unwrap_or_default())];
    match request.field("TemplateURL").filter(|u| !u.trim().is_empty()) {
        Some(url) => pairs.push(("TemplateURL".into(), url.trim().to_owned())),
        None => pairs.push(("TemplateBody".into(), request.field("TemplateBody").unwrap_or_default())),
    }
    let lines = request.field("Parameters").unwrap_or_default();
    let given =
        lines.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()));
    for (n, (key, value)) in given.enumerate() {
        pairs.push((format!("Parameters.member.{}.ParameterKey", n + 1), key));
        pairs.push((format!("Parameters.member.{}.ParameterValue", n + 1), value));
    }
    for (n, capability) in request.all("Capabilities").into_iter().enumerate() {
        pairs.push((format!("Capabilities.member.{}", n + 1), capability));
    }
    if let Some(on_failure) =
        request.field("OnFailure").filter(|o| ["ROLLBACK", "DO_NOTHING", "DELETE"].contains(&o.as_str()))
    {
        pairs.push(("OnFailure".into(), on_failure));
    }
    QueryParams::from_pairs(pairs)
}

/// `POST /console/cloudformation/stacks/create`.
pub async fn create(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let name = request.field("StackName").unwrap_or_default();
    match call_query::<CreateStack>(request, &signed, Service::CloudFormation, create_params(request)).await {
        Ok(_) => see_other(&stack_link(&name, &request.region())),
        Err(e) => render(e.status, &create_form(request, &signed, Some(e.into()))),
    }
}

async fn load_stack(request: &ConsoleRequest<'_>, signed: &Signed, name: &str) -> Result<StackView, Problem> {
    let by_name = || QueryParams::from_pairs([("StackName", name)]);
    let stacks = call_query::<DescribeStacks>(request, signed, Service::CloudFormation, by_name()).await?;
    let Some(stack) = stacks.into_iter().next() else {
        return Err(Problem {
            code: "ValidationError".into(),
            message: format!("Stack with id {name} does not exist"),
            denied: false,
        });
    };
    let (_, events) = call_query::<DescribeStackEvents>(request, signed, Service::CloudFormation, by_name()).await?;
    Ok(view(stack, events))
}

fn view(stack: StackRow, events: Vec<crate::store::StackEvent>) -> StackView {
    let record = &stack.record;
    StackView {
        id: stack.id.clone(),
        name: stack.name.clone(),
        status: stack.status.as_str().to_owned(),
        reason: record.status_reason.clone().unwrap_or_default(),
        description: record.description.clone().unwrap_or_default(),
        created: timestamp(stack.created_ms),
        outputs: record
            .outputs
            .iter()
            .map(|o| {
                let text = |v: &Option<String>| v.clone().unwrap_or_default();
                (o.key.clone(), o.value.clone(), text(&o.description), text(&o.export_name))
            })
            .collect(),
        resources: record
            .resources
            .iter()
            .map(|r| {
                let physical = r.physical_id.clone().unwrap_or_default();
                (
                    r.logical_id.clone(),
                    physical,
                    r.kind.clone(),
                    r.status.as_str().to_owned(),
                    r.reason.clone().unwrap_or_default(),
                )
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| (timestamp(e.timestamp_ms), e.logical_id, e.status, e.reason.unwrap_or_default()))
            .collect(),
        parameters: record
            .parameters
            .iter()
            .map(|p| (p.key.clone(), if p.no_echo { "****".to_owned() } else { p.value.clone() }))
            .collect(),
        live: stack.status.in_progress(),
        deletable: stack.deleted_ms.is_none() && stack.status != crate::store::StackStatus::DeleteInProgress,
    }
}

async fn stack_page(request: &ConsoleRequest<'_>, signed: &Signed, name: &str, problem: Option<Problem>) -> StackPage {
    StackPage {
        shell: Shell::new(request, signed, "stacks"),
        stack: load_stack(request, signed, name).await,
        link: stack_link(name, &request.region()),
        problem,
    }
}

/// `GET /console/cloudformation/stacks/view?StackName=…` (a name, or a deleted stack's id).
pub async fn stack(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let name = request.query("StackName").unwrap_or_default();
    render(StatusCode::OK, &stack_page(request, &signed, &name, None).await)
}

/// `POST /console/cloudformation/stacks/delete`: the stack's page follows it by id, which
/// finds it once deleted too.
pub async fn delete(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let id = request.field("StackName").unwrap_or_default();
    let params = QueryParams::from_pairs([("StackName", id.as_str())]);
    match call_query::<DeleteStack>(request, &signed, Service::CloudFormation, params).await {
        Ok(()) => see_other(&stack_link(&id, &request.region())),
        Err(e) => {
            let problem: Problem = e.into();
            let status = if problem.denied { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            render(status, &stack_page(request, &signed, &id, Some(problem)).await)
        }
    }
}

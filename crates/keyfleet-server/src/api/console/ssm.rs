//! Systems Manager: Automation (the executions, "Execute automation" for
//! AWSSupport-ResetAccess, an execution's steps updating while it runs) and Parameter Store
//! (the parameters, a value with SecureStrings behind "Show decrypted value", create, edit and
//! delete), as seed 004 walks them.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_ec2, call_json, render, see_other};
use crate::api::authorize::Service;
use crate::api::ec2::instances::DescribeInstances;
use crate::api::protocol::ec2_query::{QueryParams, timestamp};
use crate::api::ssm::automation::{DescribeAutomationExecutions, GetAutomationExecution, StartAutomationExecution};
use crate::api::ssm::parameters::{
    DeleteParameter, DescribeParameters, GetParameter, GetParameterHistory, LabelParameterVersion, PutParameter,
};
use crate::service::parameters::Parameter;
use crate::store::{AutomationRow, AutomationStatus, InstanceState, ParameterType, WireName};

/// The runbook the console runs (the only one keyfleet has).
const RUNBOOK: &str = "AWSSupport-ResetAccess";

/// An execution in the list, or the header of its page.
pub struct Execution {
    pub id: String,
    pub document: String,
    pub status: &'static str,
    pub started: String,
    pub ended: String,
    pub executed_by: String,
    pub failure: String,
    /// Still running: its page keeps updating.
    pub live: bool,
}

impl From<&AutomationRow> for Execution {
    fn from(row: &AutomationRow) -> Self {
        Execution {
            id: row.id.clone(),
            document: row.document.clone(),
            status: row.status.as_str(),
            started: timestamp(row.start_ms),
            ended: row.end_ms.map(timestamp).unwrap_or_default(),
            executed_by: row.executed_by.clone(),
            failure: row.failure.clone().unwrap_or_default(),
            live: matches!(
                row.status,
                AutomationStatus::Pending | AutomationStatus::InProgress | AutomationStatus::Cancelling
            ),
        }
    }
}

/// A step of an execution.
pub struct Step {
    pub name: &'static str,
    pub action: &'static str,
    pub status: &'static str,
    pub started: String,
    pub ended: String,
    pub failure: String,
}

#[derive(Template)]
#[template(path = "console/automation.html")]
pub struct Executions {
    pub shell: Shell,
    pub rows: Result<Vec<Execution>, Problem>,
}

/// `GET /console/ssm/automation`.
pub async fn executions(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let listed = call_json::<DescribeAutomationExecutions>(request, &signed, Service::Ssm, json!({})).await;
    let rows = listed.map(|rows| rows.iter().map(Execution::from).collect()).map_err(Problem::from);
    render(StatusCode::OK, &Executions { shell: Shell::new(request, &signed, "automation"), rows })
}

#[derive(Template)]
#[template(path = "console/automation_execute.html")]
pub struct Execute {
    pub shell: Shell,
    pub problem: Option<Problem>,
    pub runbook: &'static str,
    /// The region's instances that can be reset, as `(id, label)`.
    pub instances: Result<Vec<(String, String)>, Problem>,
    pub chosen: String,
}

impl Execute {
    pub fn is_chosen(&self, id: &str) -> bool {
        self.chosen == id
    }
}

async fn execute_page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Execute {
    let instances = call_ec2::<DescribeInstances>(request, signed, QueryParams::default())
        .await
        .map(|(rows, _, _)| {
            rows.into_iter()
                .filter(|r| !matches!(r.state, InstanceState::Terminated | InstanceState::ShuttingDown))
                .map(|r| {
                    let name = r.tags.iter().find(|t| t.key == "Name").map(|t| format!(" ({})", t.value));
                    let label = format!("{}{} — {}", r.id, name.unwrap_or_default(), r.state.as_str());
                    (r.id, label)
                })
                .collect()
        })
        .map_err(Problem::from);
    let chosen = request.query("InstanceId").or_else(|| request.field("InstanceId")).unwrap_or_default();
    Execute { shell: Shell::new(request, signed, "automation"), problem, runbook: RUNBOOK, instances, chosen }
}

/// `GET /console/ssm/automation/execute`.
pub async fn execute_form(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &execute_page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// `POST /console/ssm/automation/execute` (and the instance page's "Reset access"):
/// StartAutomationExecution with the form's input parameters, then the execution's page.
pub async fn execute(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let mut parameters = serde_json::Map::new();
    for name in ["InstanceId", "EC2RescueInstanceType", "SubnetId", "AutomationAssumeRole"] {
        if let Some(value) = request.field(name).filter(|v| !v.is_empty()) {
            parameters.insert(name.to_owned(), json!([value]));
        }
    }
    let document = request.field("DocumentName").unwrap_or_else(|| RUNBOOK.to_owned());
    let input = json!({"DocumentName": document, "Parameters": parameters});
    match call_json::<StartAutomationExecution>(request, &signed, Service::Ssm, input).await {
        Ok(id) => see_other(&format!("/console/ssm/automation/{id}?region={}", request.region())),
        Err(e) => render(e.status, &execute_page(request, &signed, Some(e.into())).await),
    }
}

/// An execution, its steps and its outputs as `(name, values)`.
type Loaded = Result<(Execution, Vec<Step>, Vec<(String, String)>), Problem>;

#[derive(Template)]
#[template(path = "console/automation_execution.html")]
pub struct ExecutionPage {
    pub shell: Shell,
    pub execution: Loaded,
    pub id: String,
}

#[derive(Template)]
#[template(path = "console/automation_steps.html")]
pub struct StepsFragment {
    pub shell: Shell,
    pub execution: Loaded,
    pub id: String,
}

async fn load_execution(request: &ConsoleRequest<'_>, signed: &Signed, id: &str) -> Loaded {
    let row = call_json::<GetAutomationExecution>(request, signed, Service::Ssm, json!({"AutomationExecutionId": id}))
        .await
        .map_err(Problem::from)?;
    let steps = row
        .steps
        .iter()
        .map(|s| Step {
            name: s.step.as_str(),
            action: s.step.action(),
            status: s.status.as_str(),
            started: s.start_ms.map(timestamp).unwrap_or_default(),
            ended: s.end_ms.map(timestamp).unwrap_or_default(),
            failure: s.failure.clone().unwrap_or_default(),
        })
        .collect();
    let outputs: Value = serde_json::from_str(&row.outputs).unwrap_or(Value::Null);
    let outputs = outputs
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let values = v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
            (k.clone(), values.unwrap_or_else(|| v.to_string()))
        })
        .collect();
    Ok((Execution::from(&row), steps, outputs))
}

/// `GET /console/ssm/automation/ID`; with `/steps`, only the part that updates.
pub async fn execution(request: &ConsoleRequest<'_>, rest: &str) -> Response {
    let signed = or_answer!(session::require(request).await);
    let (id, fragment) = match rest.strip_suffix("/steps") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let execution = load_execution(request, &signed, id).await;
    let shell = Shell::new(request, &signed, "automation");
    if fragment {
        render(StatusCode::OK, &StepsFragment { shell, execution, id: id.to_owned() })
    } else {
        render(StatusCode::OK, &ExecutionPage { shell, execution, id: id.to_owned() })
    }
}

/// A parameter in the list.
pub struct ParameterRow {
    pub name: String,
    pub kind: &'static str,
    pub version: i64,
    pub modified: String,
    pub link: String,
}

impl ParameterRow {
    fn new(parameter: &Parameter, region: &str) -> Self {
        ParameterRow {
            name: parameter.name.clone(),
            kind: parameter.kind.as_str(),
            version: parameter.version,
            modified: timestamp(parameter.modified_ms),
            link: parameter_link("view", &parameter.name, region),
        }
    }
}

fn parameter_link(page: &str, name: &str, region: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("region", region)
        .append_pair("Name", name)
        .finish();
    format!("/console/ssm/parameters/{page}?{query}")
}

#[derive(Template)]
#[template(path = "console/parameters.html")]
pub struct Parameters {
    pub shell: Shell,
    pub rows: Result<Vec<ParameterRow>, Problem>,
    pub next: Option<String>,
    pub notice: Option<String>,
}

impl Parameters {
    pub fn next_link(&self) -> String {
        let token = self.next.clone().unwrap_or_default();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("region", &self.shell.region)
            .append_pair("NextToken", &token)
            .finish();
        format!("/console/ssm/parameters?{query}")
    }
}

/// `GET /console/ssm/parameters`.
pub async fn parameters(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let input = match request.query("NextToken") {
        Some(token) => json!({"MaxResults": 50, "NextToken": token}),
        None => json!({"MaxResults": 50}),
    };
    let region = request.region();
    let (rows, next) = match call_json::<DescribeParameters>(request, &signed, Service::Ssm, input).await {
        Ok((found, next)) => (Ok(found.iter().map(|p| ParameterRow::new(p, &region)).collect()), next),
        Err(e) => (Err(e.into()), None),
    };
    let notice = request
        .query("deleted")
        .and_then(|name| crate::service::parameters::validate_name(&name).ok())
        .map(|name| format!("Deleted {name}."));
    render(StatusCode::OK, &Parameters { shell: Shell::new(request, &signed, "parameters"), rows, next, notice })
}

/// A parameter's page.
pub struct ParameterView {
    pub name: String,
    pub kind: &'static str,
    pub version: i64,
    pub modified: String,
    pub modified_by: String,
    pub description: String,
    /// The value to show: `None` for a SecureString not yet decrypted.
    pub value: Option<String>,
    pub edit_link: String,
    pub tier: &'static str,
    pub allowed_pattern: String,
    /// The policies, as their JSON.
    pub policies: Vec<String>,
    /// Every kept version, newest first: (version, modified, labels).
    pub history: Vec<(i64, String, String)>,
}

#[derive(Template)]
#[template(path = "console/parameter.html")]
pub struct ParameterPage {
    pub shell: Shell,
    pub parameter: Result<ParameterView, Problem>,
    pub name: String,
    /// Decryption, or a label, was asked for and refused.
    pub decrypt_problem: Option<Problem>,
}

async fn get_parameter(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    name: &str,
    decrypt: bool,
) -> Result<Parameter, Problem> {
    let input = json!({"Name": name, "WithDecryption": decrypt});
    call_json::<GetParameter>(request, signed, Service::Ssm, input).await.map(|(p, _)| p).map_err(Problem::from)
}

/// `GET /console/ssm/parameters/view?Name=…`, and `POST` with `WithDecryption=true` for "Show
/// decrypted value": a POST, so that a decrypted secret is never a page to bookmark or reload.
pub async fn parameter(request: &ConsoleRequest<'_>) -> Response {
    let post = request.parts.method == axum::http::Method::POST;
    let signed =
        or_answer!(if post { session::require_change(request).await } else { session::require(request).await });
    let name = request.query("Name").or_else(|| request.field("Name")).unwrap_or_default();
    let region = request.region();
    let decrypt = post && request.field("WithDecryption").as_deref() == Some("true");
    let mut decrypt_problem = None;
    let mut found = get_parameter(request, &signed, &name, false).await;
    if let (true, Ok(_)) = (decrypt, &found) {
        match get_parameter(request, &signed, &name, true).await {
            Ok(decrypted) => found = Ok(decrypted),
            Err(problem) => decrypt_problem = Some(problem),
        }
    }
    let history = match &found {
        Ok(p) => history(request, &signed, &p.name).await,
        Err(_) => Vec::new(),
    };
    let parameter = found.map(|p| view(&p, decrypt && decrypt_problem.is_none(), &history, &region));
    let page = ParameterPage { shell: Shell::new(request, &signed, "parameters"), parameter, name, decrypt_problem };
    render(StatusCode::OK, &page)
}

/// Every kept version (at most 100, two pages), oldest first; none when the caller may not
/// read the history (the page then shows no history, and the label form no versions).
async fn history(request: &ConsoleRequest<'_>, signed: &Signed, name: &str) -> Vec<Parameter> {
    let mut versions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let input = json!({"Name": name, "MaxResults": 50, "NextToken": token});
        match call_json::<GetParameterHistory>(request, signed, Service::Ssm, input).await {
            Ok((page, next)) => {
                versions.extend(page);
                match next {
                    Some(next) if versions.len() < 200 => token = Some(next),
                    _ => return versions,
                }
            }
            Err(_) => return versions,
        }
    }
}

/// A parameter as its page shows it: the value when it is plain or was decrypted, and the
/// tier, pattern, policies and labels of its history (the latest version first).
fn view(p: &Parameter, decrypted: bool, history: &[Parameter], region: &str) -> ParameterView {
    let secure = p.kind == ParameterType::SecureString;
    ParameterView {
        value: (!secure || decrypted).then(|| p.value.to_string()),
        name: p.name.clone(),
        kind: p.kind.as_str(),
        version: p.version,
        modified: timestamp(p.modified_ms),
        modified_by: p.modified_by.clone(),
        description: p.description.clone().unwrap_or_default(),
        edit_link: parameter_link("edit", &p.name, region),
        tier: p.tier.as_str(),
        allowed_pattern: p.allowed_pattern.clone().unwrap_or_default(),
        policies: p.policies.iter().map(|policy| policy.text.clone()).collect(),
        history: history.iter().rev().map(|v| (v.version, timestamp(v.modified_ms), v.labels.join(", "))).collect(),
    }
}

/// `POST /console/ssm/parameters/label`: LabelParameterVersion, through the pipeline.
pub async fn label_parameter(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let name = request.field("Name").unwrap_or_default();
    let region = request.region();
    let version = request.field("ParameterVersion").and_then(|v| v.parse::<i64>().ok());
    let labels: Vec<String> =
        request.field("Labels").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let input = json!({"Name": name, "ParameterVersion": version, "Labels": labels});
    let problem = match call_json::<LabelParameterVersion>(request, &signed, Service::Ssm, input).await {
        Ok((invalid, _)) if invalid.is_empty() => return see_other(&parameter_link("view", &name, &region)),
        Ok((invalid, _)) => Problem {
            code: "InvalidLabels".into(),
            message: format!(
                "Not attached: {}. A label has letters, digits, '.', '-' and '_', and does not begin with a digit, aws or ssm.",
                invalid.join(", ")
            ),
            denied: false,
        },
        Err(e) => e.into(),
    };
    let found = get_parameter(request, &signed, &name, false).await;
    let history = history(request, &signed, &name).await;
    let parameter = found.map(|p| view(&p, false, &history, &region));
    let page = ParameterPage {
        shell: Shell::new(request, &signed, "parameters"),
        parameter,
        name,
        decrypt_problem: Some(problem),
    };
    render(StatusCode::BAD_REQUEST, &page)
}

#[derive(Template)]
#[template(path = "console/parameter_form.html")]
pub struct ParameterForm {
    pub shell: Shell,
    pub problem: Option<Problem>,
    /// Editing an existing parameter (its name is fixed).
    pub editing: bool,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub value: String,
}

impl ParameterForm {
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind == kind
    }
}

/// `GET /console/ssm/parameters/create` and `…/edit?Name=…`.
pub async fn parameter_form(request: &ConsoleRequest<'_>, editing: bool) -> Response {
    let signed = or_answer!(session::require(request).await);
    let mut form = ParameterForm {
        shell: Shell::new(request, &signed, "parameters"),
        problem: None,
        editing,
        name: request.query("Name").unwrap_or_default(),
        kind: ParameterType::String.as_str().to_owned(),
        description: String::new(),
        value: String::new(),
    };
    if editing {
        // A SecureString's value is not put into the form: editing it means typing a new one.
        match get_parameter(request, &signed, &form.name, false).await {
            Ok(p) => {
                form.kind = p.kind.as_str().to_owned();
                form.description = p.description.clone().unwrap_or_default();
                if p.kind != ParameterType::SecureString {
                    form.value = p.value.to_string();
                }
            }
            Err(problem) => form.problem = Some(problem),
        }
    }
    render(StatusCode::OK, &form)
}

/// `POST /console/ssm/parameters/create` and `…/edit`: PutParameter (with `Overwrite` when
/// editing).
pub async fn put_parameter(request: &ConsoleRequest<'_>, editing: bool) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let field = |name: &str| request.field(name).unwrap_or_default();
    let description = field("Description");
    let mut input = serde_json::Map::new();
    input.insert("Name".into(), json!(field("Name")));
    input.insert("Type".into(), json!(field("Type")));
    input.insert("Value".into(), json!(field("Value")));
    input.insert("Overwrite".into(), json!(editing));
    if !description.is_empty() {
        input.insert("Description".into(), json!(description));
    }
    let input = Value::Object(input);
    match call_json::<PutParameter>(request, &signed, Service::Ssm, input).await {
        Ok(_) => see_other(&parameter_link("view", &field("Name"), &request.region())),
        Err(e) => {
            let form = ParameterForm {
                shell: Shell::new(request, &signed, "parameters"),
                problem: Some(e.into()),
                editing,
                name: field("Name"),
                kind: field("Type"),
                description,
                value: String::new(),
            };
            render(StatusCode::BAD_REQUEST, &form)
        }
    }
}

/// `POST /console/ssm/parameters/delete`: asks to confirm, then DeleteParameter.
pub async fn delete_parameter(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let name = request.field("Name").unwrap_or_default();
    let region = request.region();
    if request.field("confirm").as_deref() != Some("delete") {
        return see_other(&parameter_link("view", &name, &region));
    }
    match call_json::<DeleteParameter>(request, &signed, Service::Ssm, json!({"Name": name})).await {
        Ok(()) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("region", &region)
                .append_pair("deleted", &name)
                .finish();
            see_other(&format!("/console/ssm/parameters?{query}"))
        }
        Err(e) => {
            let page = ParameterPage {
                shell: Shell::new(request, &signed, "parameters"),
                parameter: Err(e.into()),
                name,
                decrypt_problem: None,
            };
            render(StatusCode::BAD_REQUEST, &page)
        }
    }
}

//! The web console: one more front end over the same operations. A page or form runs
//! session → CSRF and origin (for changes) → the operation pipeline (`operation::execute`, the
//! same decode, authorization and service call as the API) → the audit record → HTML.
//!
//! Form fields are named after the API parameters they become, so a form's body is decoded
//! into the operation's own request shape. Pages are askama templates compiled into the
//! binary; the little JavaScript there is is a file served from the binary too, and every
//! page works without it.

/// The value of an `Ok`, or, for an `Err`, returns it as the handler's answer (a redirect to
/// sign in, a refusal).
macro_rules! or_answer {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(answer) => return answer,
        }
    };
}

mod auto_scaling;
mod events;
mod iam;
mod instances;
mod key_pairs;
mod launch_templates;
mod pages;
mod roles;
mod security_groups;
mod session;
mod ssm;
mod stacks;
mod volumes;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::authorize::{Principal, Service, Trail};
use super::error::ApiError;
use super::operation::{self, Operation, Protocol};
use super::protocol::ec2_query::QueryParams;
use super::protocol::json11::JsonInput;
use super::{Context, auth};
use crate::service::audit::{Actor, ApiCall, Identity};
use crate::service::regions::REGIONS;
use crate::store::{Scope, UnitOfWork};
use pages::Shell;
use session::Signed;

/// Where the console lives.
pub const ROOT: &str = "/console";

/// True for a path the console answers.
pub fn owns(path: &str) -> bool {
    path == ROOT || path.starts_with("/console/")
}

/// One console request, as the edge read it.
pub struct ConsoleRequest<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// Method, path, headers.
    pub parts: &'a Parts,
    /// The form body (read under the edge's size limit).
    pub body: &'a Bytes,
    /// The client's address.
    pub source_ip: String,
    /// Over TLS (the cookie is then `Secure`).
    pub secure: bool,
    /// This request's id.
    pub request_id: String,
    /// The form's fields, read once.
    pub fields: std::sync::OnceLock<Vec<(String, String)>>,
}

impl ConsoleRequest<'_> {
    /// The URL query's `name`.
    fn query(&self, name: &str) -> Option<String> {
        let query = self.parts.uri.query().unwrap_or_default();
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// The region the page is about: `?region=`, or the form's, defaulting as AWS's console does.
    fn region(&self) -> String {
        let asked = self.query("region").or_else(|| self.field("region"));
        asked.filter(|r| REGIONS.contains(&r.as_str())).unwrap_or_else(|| auth::DEFAULT_REGION.to_owned())
    }

    /// The signed-in account in the page's region: whose resources the page shows.
    fn scope(&self, signed: &session::Signed) -> Scope {
        Scope { account: signed.session.owner.account.clone(), region: self.region() }
    }

    /// The form's fields in order, repeated names kept (a table's checked rows).
    fn form(&self) -> &[(String, String)] {
        self.fields
            .get_or_init(|| form_urlencoded::parse(self.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// Every non-empty value of a repeated field (a table's checked rows).
    fn all(&self, name: &str) -> Vec<String> {
        self.form().iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone()).collect()
    }

    /// The form's first `name`.
    fn field(&self, name: &str) -> Option<String> {
        self.form().iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// The browser's `User-Agent`, as the audit log shows console calls.
    fn user_agent(&self) -> String {
        let browser = self.parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let browser: String = browser.chars().take(512).collect();
        format!("keyfleet-console ({browser})")
    }
}

/// Answers a console request.
pub async fn handle(request: ConsoleRequest<'_>) -> Response {
    if request.form().len() > request.state.limits.max_params {
        let message = "The form has too many fields.".to_owned();
        return with_security_headers(render(StatusCode::BAD_REQUEST, &pages::Refused { message }));
    }
    let path = request.parts.uri.path().trim_end_matches('/');
    let method = request.parts.method.clone();
    let response = match (method, path) {
        (Method::GET, "/console/static/console.css") => asset("text/css", include_str!("static/console.css")),
        (Method::GET, "/console/static/console.js") => asset("text/javascript", include_str!("static/console.js")),
        (Method::GET, ROOT) => session::home(&request).await,
        (Method::POST, "/console/signin") => session::sign_in(&request).await,
        (Method::POST, "/console/signout") => session::sign_out(&request).await,
        (Method::GET, "/console/ec2/key-pairs") => key_pairs::list(&request).await,
        (Method::GET, "/console/ec2/key-pairs/create") => key_pairs::create_form(&request).await,
        (Method::POST, "/console/ec2/key-pairs/create") => key_pairs::create(&request).await,
        (Method::GET, "/console/ec2/key-pairs/import") => key_pairs::import_form(&request).await,
        (Method::POST, "/console/ec2/key-pairs/import") => key_pairs::import(&request).await,
        (Method::POST, "/console/ec2/key-pairs/delete") => key_pairs::delete(&request).await,
        (Method::POST, "/console/ec2/key-pairs/tags") => key_pairs::tags(&request).await,
        (Method::GET, "/console/ec2/instances") => instances::list(&request).await,
        (Method::GET, "/console/ec2/instances/launch") => instances::launch_form(&request).await,
        (Method::POST, "/console/ec2/instances/launch") => instances::launch(&request).await,
        (Method::POST, "/console/ec2/instances/state") => instances::change_state(&request).await,
        (Method::GET, "/console/ec2/auto-scaling") => auto_scaling::list(&request).await,
        (Method::POST, "/console/ec2/auto-scaling") => auto_scaling::act(&request).await,
        (Method::GET, "/console/ec2/launch-templates") => launch_templates::list(&request).await,
        (Method::POST, "/console/ec2/launch-templates") => launch_templates::act(&request).await,
        (Method::GET, "/console/ec2/security-groups") => security_groups::list(&request).await,
        (Method::POST, "/console/ec2/security-groups") => security_groups::act(&request).await,
        (Method::GET, "/console/ec2/volumes") => volumes::list(&request).await,
        (Method::POST, "/console/ec2/volumes") => volumes::delete(&request).await,
        (Method::GET, "/console/ssm/automation") => ssm::executions(&request).await,
        (Method::GET, "/console/ssm/automation/execute") => ssm::execute_form(&request).await,
        (Method::POST, "/console/ssm/automation/execute") => ssm::execute(&request).await,
        (Method::GET, path) if path.starts_with("/console/ssm/automation/") => {
            ssm::execution(&request, path.trim_start_matches("/console/ssm/automation/")).await
        }
        (Method::GET, "/console/ssm/parameters") => ssm::parameters(&request).await,
        (Method::GET | Method::POST, "/console/ssm/parameters/view") => ssm::parameter(&request).await,
        (Method::GET, "/console/ssm/parameters/create") => ssm::parameter_form(&request, false).await,
        (Method::POST, "/console/ssm/parameters/create") => ssm::put_parameter(&request, false).await,
        (Method::GET, "/console/ssm/parameters/edit") => ssm::parameter_form(&request, true).await,
        (Method::POST, "/console/ssm/parameters/edit") => ssm::put_parameter(&request, true).await,
        (Method::POST, "/console/ssm/parameters/delete") => ssm::delete_parameter(&request).await,
        (Method::POST, "/console/ssm/parameters/label") => ssm::label_parameter(&request).await,
        (Method::GET, "/console/iam/users") => iam::users(&request).await,
        (Method::POST, "/console/iam/users") => iam::act(&request).await,
        (Method::GET, "/console/iam/users/view") => iam::user(&request).await,
        (Method::GET, "/console/iam/roles") => roles::roles(&request).await,
        (Method::POST, "/console/iam/roles") => roles::act(&request).await,
        (Method::GET, "/console/iam/roles/view") => roles::role(&request).await,
        (Method::GET, "/console/cloudformation/stacks") => stacks::list(&request).await,
        (Method::GET, "/console/cloudformation/stacks/create") => stacks::create_page(&request).await,
        (Method::POST, "/console/cloudformation/stacks/create") => stacks::create(&request).await,
        (Method::GET, "/console/cloudformation/stacks/view") => stacks::stack(&request).await,
        (Method::POST, "/console/cloudformation/stacks/delete") => stacks::delete(&request).await,
        (Method::GET, "/console/cloudtrail/events") => events::history(&request).await,
        (Method::GET, path) if path.starts_with("/console/cloudtrail/events/") => {
            events::event(&request, path.trim_start_matches("/console/cloudtrail/events/")).await
        }
        (Method::POST, path)
            if path.starts_with("/console/ec2/instances/i-") && path.ends_with("/termination-protection") =>
        {
            let id = path.trim_start_matches("/console/ec2/instances/").trim_end_matches("/termination-protection");
            instances::termination_protection(&request, id).await
        }
        (Method::GET, path) if path.starts_with("/console/ec2/instances/i-") => {
            instances::details(&request, path.trim_start_matches("/console/ec2/instances/")).await
        }
        _ => not_found(&request).await,
    };
    with_security_headers(response)
}

/// Every console answer: no inline script, no framing, no referrer, nothing cached.
fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Assets may be cached; pages, which can carry secrets, never.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// Renders a page; a template that fails to render is a server error, not a panic.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be rendered.\n").into_response()
        }
    }
}

/// `303 See Other` to `location` (after a form, so that reloading does not resubmit it).
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn not_found(request: &ConsoleRequest<'_>) -> Response {
    let shell = session::signed_in(request).await.ok().flatten().map(|signed| Shell::new(request, &signed, ""));
    render(StatusCode::NOT_FOUND, &pages::NotFound { shell })
}

/// Runs operation `O` for the signed-in user through the API's pipeline, and records it in
/// the audit log as the API does, with the console as the user agent. `parameters` is what
/// the audit record shows of the request.
async fn call<O: Operation>(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    service: Service,
    input: &<O::Protocol as Protocol>::Request,
    parameters: serde_json::Value,
) -> Result<O::Output, ApiError> {
    let owner = &signed.session.owner;
    // The API edge's per-key rate, with the console's callers keyed by who is signed in.
    let caller = format!("console:{}:{}", owner.account, owner.user.as_deref().unwrap_or("root"));
    let key = if owner.access_key_id.is_empty() { caller.as_str() } else { owner.access_key_id.as_str() };
    if !request.state.limits.rate.as_ref().is_none_or(|limiter| limiter.admit(key)) {
        return Err(ApiError::throttled(service == Service::Ec2));
    }
    let actor = Actor {
        account: owner.account.clone(),
        identity: Identity::of_user(owner.user.clone()),
        access_key_id: owner.access_key_id.clone(),
    };
    let principal = Principal {
        actor: actor.clone(),
        policies: signed.policies.clone(),
        source_ip: request.source_ip.clone(),
        secure_transport: request.secure,
    };
    let scope = request.scope(signed);
    let work = UnitOfWork::for_request();
    let trail = Trail::default();
    let request_id = crate::common::ids::request_id();
    let ctx =
        Context { state: request.state, scope, request_id: &request_id, principal: &principal, service, work: &work };
    let outcome = operation::execute::<O>(&ctx, &trail, input).await;
    let call = ApiCall {
        actor,
        region: ctx.scope.region.clone(),
        event_source: service.event_source(),
        event_name: O::NAME.to_owned(),
        read_only: O::READ_ONLY,
        source_ip: request.source_ip.clone(),
        user_agent: request.user_agent(),
        parameters,
        resources: trail.resources(),
        error: outcome.as_ref().err().map(|e| (e.code.to_string(), e.message.clone())),
        request_id,
    };
    if !request.state.audit.api_call(call, work).await {
        return Err(ApiError::internal(&"the audit record of the call was not committed"));
    }
    outcome
}

/// Runs an EC2 Query operation with `params` as its request.
async fn call_ec2<O: Operation<Protocol = operation::Ec2Query>>(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    params: QueryParams,
) -> Result<O::Output, ApiError> {
    // As at the API edge: a value XML cannot carry would break every later listing.
    params.check_xml_safe()?;
    let parameters = params.audit_json();
    call::<O>(request, signed, Service::Ec2, &params, parameters).await
}

/// Runs an IAM Query operation with `params` as its request.
async fn call_iam<O: Operation<Protocol = operation::AwsQuery>>(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    params: QueryParams,
) -> Result<O::Output, ApiError> {
    call_query::<O>(request, signed, Service::Iam, params).await
}

/// Runs an AWS Query operation (IAM, CloudFormation) with `params` as its request.
async fn call_query<O: Operation<Protocol = operation::AwsQuery>>(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    service: Service,
    params: QueryParams,
) -> Result<O::Output, ApiError> {
    // As at the API edge: a value XML cannot carry would break every later listing.
    params.check_xml_safe()?;
    let parameters = params.audit_json();
    call::<O>(request, signed, service, &params, parameters).await
}

/// Runs a JSON 1.1 operation (SSM, CloudTrail) with `input` as its request body.
async fn call_json<O: Operation<Protocol = operation::Json11>>(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    service: Service,
    input: serde_json::Value,
) -> Result<O::Output, ApiError> {
    let body = serde_json::to_vec(&input).map_err(|e| ApiError::internal(&e))?;
    let input = JsonInput::parse(&body)?;
    let parameters = input.audit_json();
    call::<O>(request, signed, service, &input, parameters).await
}

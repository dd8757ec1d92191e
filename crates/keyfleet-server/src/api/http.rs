//! The listener's one handler: health and dev endpoints, then limits, authentication, the
//! caller's policies, protocol selection and dispatch, and the audit record. Every failure
//! leaves here in the caller's protocol format.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::auth::{Caller, Refused, sigv4};
use super::authorize::{Principal, Service, Trail};
use super::error::{ApiError, JsonMessage};
use super::limits::RateLimiter;
use super::listener::Transport;
use super::operation::{self, Endpoint, Json11};
use super::protocol::aws_query;
use super::protocol::ec2_query::{self, QueryParams};
use super::protocol::json11::{self, JsonInput};
use super::{
    AppState, Context, Reply, ZeroizingBody, autoscaling, cloudformation, cloudtrail, ec2, iam, instance_connect, ssm,
    sts,
};
use crate::common::ids;
use crate::service::audit::{Actor, ApiCall, Identity};
use crate::store::{Scope, UnitOfWork};

/// Edge limits, set from the command line.
#[derive(Debug)]
pub struct Limits {
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The most form parameters one Query request may carry.
    pub max_params: usize,
    /// Per-access-key rate limit, if any.
    pub rate: Option<RateLimiter>,
    /// Audit records of refused signatures, per source address: past it a refusal is still
    /// answered, but not recorded, so unsigned floods cannot grow the store at request speed.
    pub refusal_records: Option<RateLimiter>,
    /// Console sign-in attempts per source address.
    pub sign_ins: Option<RateLimiter>,
}

impl Limits {
    /// The body and parameter limits, and `rate` requests per second per key (0: none).
    pub fn new(rate: u32, burst: u32) -> Self {
        // ImportKeyPair material is at most 2048 bytes; CreateTags may carry 1000 resource
        // ids and 50 tags. Nothing legitimate comes near these.
        Limits {
            max_body_bytes: 256 * 1024,
            max_params: 2_000,
            rate: RateLimiter::new(rate, burst),
            refusal_records: RateLimiter::new(REFUSAL_RECORDS_PER_SECOND, REFUSAL_RECORDS_BURST),
            sign_ins: RateLimiter::new(SIGN_INS_PER_SECOND, SIGN_INS_BURST),
        }
    }
}

/// Refused requests recorded per source address: one a second, after a first hundred.
const REFUSAL_RECORDS_PER_SECOND: u32 = 1;
const REFUSAL_RECORDS_BURST: u32 = 100;
/// Console sign-in attempts per source address: one a second, after a first ten.
const SIGN_INS_PER_SECOND: u32 = 1;
const SIGN_INS_BURST: u32 = 10;
/// The longest user agent recorded (longer ones are cut at a character boundary).
const MAX_USER_AGENT_BYTES: usize = 1024;

/// How long a client may take to send its request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the service's router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Which protocol a request speaks, decided before authentication so that even a refusal
/// is answered in the right shape.
enum Protocol {
    Ec2,
    Iam,
    Sts,
    CloudFormation,
    AutoScaling,
    Json(String),
}

impl Protocol {
    fn service(&self) -> Service {
        match self {
            Protocol::Ec2 => Service::Ec2,
            Protocol::Iam => Service::Iam,
            Protocol::Sts => Service::Sts,
            Protocol::CloudFormation => Service::CloudFormation,
            Protocol::AutoScaling => Service::AutoScaling,
            Protocol::Json(target) => json_service(target).map_or(Service::CloudTrail, |(service, _)| service),
        }
    }
}

/// The JSON service and operation an `X-Amz-Target` names. CloudTrail's model has two
/// spellings of its prefix: botocore sends the long one, the JavaScript and Go SDKs the short.
fn json_service(target: &str) -> Option<(Service, &str)> {
    let (prefix, op) = target.rsplit_once('.')?;
    let service = match prefix {
        "AmazonSSM" => Service::Ssm,
        "AWSEC2InstanceConnectService" => Service::InstanceConnect,
        cloudtrail::TARGET_PREFIX | cloudtrail::SHORT_TARGET_PREFIX => Service::CloudTrail,
        _ => return None,
    };
    Some((service, op))
}

/// What the edge knows about a request before it is dispatched.
struct Incoming<'a> {
    parts: &'a Parts,
    body: &'a Bytes,
    protocol: Protocol,
    request_id: String,
    source_ip: String,
    secure_transport: bool,
}

async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/healthz") => return (StatusCode::OK, "ok\n").into_response(),
        ("GET", "/readyz") => return ready(&state).await,
        ("GET", "/metrics") => return metrics(&state),
        ("POST", "/moto-api/reset") if state.dev => return reset(&state).await,
        _ => {}
    }
    let started = Instant::now();
    let request_id = ids::request_id();
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let secure_transport = parts.extensions.get::<Transport>() == Some(&Transport::Tls);
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, state.limits.max_body_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return xml_error(&ApiError::body_too_large(), &request_id),
        Err(_) => return xml_error(&ApiError::request_timeout(), &request_id),
    };
    if super::console::owns(parts.uri.path()) {
        let request = super::console::ConsoleRequest {
            state: &state,
            parts: &parts,
            body: &body,
            source_ip,
            secure: secure_transport,
            request_id,
            fields: std::sync::OnceLock::new(),
        };
        return super::console::handle(request).await;
    }
    let params = QueryParams::decode(parts.uri.query().unwrap_or_default(), &body);
    let protocol = match target {
        Some(target) => Protocol::Json(target),
        None if params.get("Version") == Some("2010-05-08") => Protocol::Iam,
        None if params.get("Version") == Some("2011-06-15") => Protocol::Sts,
        None if params.get("Version") == Some("2010-05-15") => Protocol::CloudFormation,
        None if params.get("Version") == Some("2011-01-01") => Protocol::AutoScaling,
        None => Protocol::Ec2,
    };
    let incoming = Incoming { parts: &parts, body: &body, protocol, request_id, source_ip, secure_transport };
    let (action, outcome) = run(&state, &incoming, &params).await;
    log_request(&incoming.request_id, &action, outcome.as_ref().err(), started);
    encode(&incoming, outcome)
}

/// Authenticates, authorizes, dispatches and audits one request.
async fn run(state: &AppState, incoming: &Incoming<'_>, params: &QueryParams) -> (String, Result<Body, ApiError>) {
    let service = incoming.protocol.service();
    let (action, input) = match &incoming.protocol {
        Protocol::Json(target) => {
            let op = target.rsplit_once('.').map_or(target.as_str(), |(_, op)| op).to_owned();
            (op, JsonInput::parse(incoming.body).map(Some))
        }
        _ if params.count() > state.limits.max_params => (
            params.get("Action").unwrap_or_default().to_owned(),
            Err(ApiError::invalid_parameter_value(format!(
                "The request has more than {} parameters.",
                state.limits.max_params
            ))),
        ),
        _ => (params.get("Action").unwrap_or_default().to_owned(), params.check_xml_safe().map(|()| None)),
    };
    let caller = match authenticate(state, incoming).await {
        Ok(caller) => caller,
        Err(refused) => return (action.clone(), Err(refusal(state, incoming, service, &action, refused).await)),
    };
    let trail = Trail::default();
    let principal = match principal(state, &caller, incoming).await {
        Ok(p) => p,
        Err(e) => return (action, Err(e)),
    };
    let scope = Scope { account: caller.account.clone(), region: caller.region.clone() };
    // A change's first write may share its commit with the audit record below.
    let work = UnitOfWork::for_request();
    let ctx = Context { state, scope, request_id: &incoming.request_id, principal: &principal, service, work: &work };
    let parameters = match &input {
        Ok(Some(json)) => json.audit_json(),
        Ok(None) => params.audit_json(),
        Err(_) => serde_json::Value::Null,
    };
    let outcome = match input {
        Err(e) => Err(e),
        Ok(_) if !admitted(state, &caller) => Err(ApiError::throttled(service == Service::Ec2)),
        Ok(json) => dispatch(&ctx, &trail, incoming, params, json.as_ref()).await,
    };
    let error = outcome.as_ref().err().map(|e| (e.code.to_string(), e.message.clone()));
    let committed = state
        .audit
        .api_call(
            ApiCall {
                actor: principal.actor.clone(),
                region: caller.region.clone(),
                event_source: service.event_source(),
                event_name: action.clone(),
                read_only: read_only(&incoming.protocol, &action),
                source_ip: incoming.source_ip.clone(),
                user_agent: user_agent(incoming.parts),
                parameters,
                resources: trail.resources(),
                error,
                request_id: incoming.request_id.clone(),
            },
            work,
        )
        .await;
    if !committed {
        return (action, Err(ApiError::internal(&"the audit record of the call was not committed")));
    }
    (action, outcome)
}

/// Finds the operation in its service's table and runs it through the pipeline.
async fn dispatch(
    ctx: &Context<'_>,
    trail: &Trail,
    incoming: &Incoming<'_>,
    params: &QueryParams,
    json: Option<&JsonInput>,
) -> Result<Body, ApiError> {
    let xml = |reply: Reply| Body::from(Bytes::from_owner(ZeroizingBody(reply)));
    match (&incoming.protocol, json) {
        (Protocol::Ec2, _) => {
            let name = params.required("Action")?;
            let endpoint = operation::find(ec2::ACTIONS, name).ok_or_else(|| ApiError::invalid_action(name))?;
            endpoint.run(ctx, trail, params).await.map(xml)
        }
        (Protocol::Iam, _) => {
            let name = params.required("Action")?;
            let endpoint = operation::find(iam::ACTIONS, name).ok_or_else(|| ApiError::invalid_action(name))?;
            endpoint.run(ctx, trail, params).await.map(xml)
        }
        (Protocol::Sts, _) => {
            let name = params.required("Action")?;
            let endpoint = operation::find(sts::ACTIONS, name).ok_or_else(|| ApiError::invalid_action(name))?;
            endpoint.run(ctx, trail, params).await.map(xml)
        }
        (Protocol::CloudFormation, _) => {
            let name = params.required("Action")?;
            let endpoint =
                operation::find(cloudformation::ACTIONS, name).ok_or_else(|| ApiError::invalid_action(name))?;
            endpoint.run(ctx, trail, params).await.map(xml)
        }
        (Protocol::AutoScaling, _) => {
            let name = params.required("Action")?;
            let endpoint = operation::find(autoscaling::ACTIONS, name).ok_or_else(|| ApiError::invalid_action(name))?;
            endpoint.run(ctx, trail, params).await.map(xml)
        }
        (Protocol::Json(target), Some(input)) => {
            // A known service names the operation it lacks; an unknown prefix, the whole target.
            let unknown = || ApiError::unknown_operation(json_service(target).map_or(target.as_str(), |(_, op)| op));
            let endpoint = json_endpoint(target).ok_or_else(unknown)?;
            Ok(Body::from(endpoint.run(ctx, trail, input).await?.to_string()))
        }
        (Protocol::Json(_), None) => Err(ApiError::serialization()),
    }
}

/// The JSON operation an `X-Amz-Target` names.
fn json_endpoint(target: &str) -> Option<&'static Endpoint<Json11>> {
    let (service, op) = json_service(target)?;
    let table = match service {
        Service::Ssm => ssm::OPERATIONS,
        Service::InstanceConnect => instance_connect::OPERATIONS,
        Service::CloudTrail => cloudtrail::OPERATIONS,
        Service::Ec2 | Service::Iam | Service::Sts | Service::CloudFormation | Service::AutoScaling => return None,
    };
    operation::find(table, op)
}

/// CloudTrail's `readOnly`, from the operation's own declaration (false for an action that
/// does not exist).
fn read_only(protocol: &Protocol, action: &str) -> bool {
    let found = match protocol {
        Protocol::Ec2 => operation::find(ec2::ACTIONS, action).map(|e| e.read_only),
        Protocol::Iam => operation::find(iam::ACTIONS, action).map(|e| e.read_only),
        Protocol::Sts => operation::find(sts::ACTIONS, action).map(|e| e.read_only),
        Protocol::CloudFormation => operation::find(cloudformation::ACTIONS, action).map(|e| e.read_only),
        Protocol::AutoScaling => operation::find(autoscaling::ACTIONS, action).map(|e| e.read_only),
        Protocol::Json(target) => json_endpoint(target).map(|e| e.read_only),
    };
    found.unwrap_or(false)
}

/// Verifies the request's signature and names the caller.
async fn authenticate(state: &AppState, incoming: &Incoming<'_>) -> Result<Caller, Refused> {
    let parts = incoming.parts;
    let lookup = |name: &str| -> Vec<String> {
        parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    };
    let signed = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &lookup,
        body: incoming.body,
    };
    state.auth.authenticate(&signed, OffsetDateTime::now_utc()).await
}

/// Loads the caller's policies (none to load for root and `--dev`).
async fn principal(state: &AppState, caller: &Caller, incoming: &Incoming<'_>) -> Result<Principal, ApiError> {
    let actor = Actor {
        account: caller.account.clone(),
        identity: caller.identity.clone(),
        access_key_id: caller.access_key_id.clone(),
    };
    let policies = state.iam.policies_of_identity(&caller.account, &caller.identity).await?;
    Ok(Principal {
        actor,
        policies,
        source_ip: incoming.source_ip.clone(),
        secure_transport: incoming.secure_transport,
    })
}

fn admitted(state: &AppState, caller: &Caller) -> bool {
    state.limits.rate.as_ref().is_none_or(|limiter| limiter.admit(&caller.access_key_id))
}

/// Records a refused authentication (where the key was known, in its account; otherwise
/// in the server's own) and turns it into the protocol's error.
async fn refusal(
    state: &AppState,
    incoming: &Incoming<'_>,
    service: Service,
    action: &str,
    refused: Refused,
) -> ApiError {
    let error = ApiError::from_auth(refused.error, service);
    let recorded = state.limits.refusal_records.as_ref().is_none_or(|l| l.admit(&incoming.source_ip));
    if !recorded {
        return error;
    }
    let (account, identity, access_key_id, region) = match refused.claimed {
        Some(c) => (c.account, c.identity, c.access_key_id, c.region),
        None => (String::new(), Identity::Root, String::new(), super::auth::DEFAULT_REGION.to_owned()),
    };
    let account = if account.is_empty() { state.auth.home_account().to_owned() } else { account };
    state
        .audit
        .api_call(
            ApiCall {
                actor: Actor { account, identity, access_key_id },
                region,
                event_source: service.event_source(),
                event_name: action.to_owned(),
                read_only: read_only(&incoming.protocol, action),
                source_ip: incoming.source_ip.clone(),
                user_agent: user_agent(incoming.parts),
                parameters: serde_json::Value::Null,
                resources: Vec::new(),
                error: Some((error.code.to_string(), error.message.clone())),
                request_id: incoming.request_id.clone(),
            },
            UnitOfWork::alone(),
        )
        .await;
    error
}

fn user_agent(parts: &Parts) -> String {
    let agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut end = agent.len().min(MAX_USER_AGENT_BYTES);
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    agent[..end].to_owned()
}

fn encode(incoming: &Incoming<'_>, outcome: Result<Body, ApiError>) -> Response {
    let request_id = &incoming.request_id;
    match (&incoming.protocol, outcome) {
        (Protocol::Json(target), outcome) => json_response(target, request_id, outcome),
        (_, Ok(body)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=UTF-8"))], body)
                .into_response()
        }
        (Protocol::Iam, Err(e)) => query_error(aws_query::IAM_NAMESPACE, &e, request_id),
        (Protocol::Sts, Err(e)) => query_error(aws_query::STS_NAMESPACE, &e, request_id),
        (Protocol::CloudFormation, Err(e)) => query_error(cloudformation::NAMESPACE, &e, request_id),
        (Protocol::AutoScaling, Err(e)) => query_error(autoscaling::NAMESPACE, &e, request_id),
        (Protocol::Ec2, Err(e)) => xml_error(&e, request_id),
    }
}

fn query_error(namespace: &str, e: &ApiError, request_id: &str) -> Response {
    let body = aws_query::error(namespace, e, request_id);
    (e.status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))], body).into_response()
}

fn json_response(target: &str, request_id: &str, outcome: Result<Body, ApiError>) -> Response {
    let (status, body) = match outcome {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => {
            let ssm = json_service(target).is_some_and(|(service, _)| service == Service::Ssm);
            let member = match e.json_message {
                JsonMessage::ServiceDefault if ssm => "message",
                _ => "Message",
            };
            (e.status, Body::from(json11::error(&e, member)))
        }
    };
    let request_id_header = header::HeaderName::from_static("x-amzn-requestid");
    (status, [(header::CONTENT_TYPE, "application/x-amz-json-1.1"), (request_id_header, request_id)], body)
        .into_response()
}

fn log_request(request_id: &str, action: &str, error: Option<&ApiError>, started: Instant) {
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match error {
        None => tracing::info!(request_id, action, status = 200, elapsed_ms, "request"),
        Some(e) => {
            tracing::info!(request_id, action, status = e.status.as_u16(), code = %e.code, elapsed_ms, "request")
        }
    }
}

fn xml_error(err: &ApiError, request_id: &str) -> Response {
    let xml = ec2_query::error(err, request_id);
    (err.status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=UTF-8"))], xml).into_response()
}

/// Readiness for load balancers: 200 when the store answers, 503 (with the reason) when not.
async fn ready(state: &AppState) -> Response {
    let started = Instant::now();
    let checked = tokio::time::timeout(Duration::from_secs(5), state.health.ping()).await;
    let elapsed_ms = started.elapsed().as_millis();
    let (status, body) = match checked {
        Ok(Ok(backend)) => {
            (StatusCode::OK, serde_json::json!({"status": "ready", "store": backend, "store_ms": elapsed_ms}))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "store not ready");
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": "unavailable", "store": "error"}))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": "unavailable", "store": "timeout"})),
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Prometheus text format: the RSA pool's state.
fn metrics(state: &AppState) -> Response {
    let mut text = String::new();
    if let Some(pool) = state.key_pairs.rsa_pool_stats() {
        let lines = [
            ("keyfleet_rsa_pool_ready", "gauge", "RSA keys ready in the pool.", pool.ready as u64),
            ("keyfleet_rsa_pool_capacity", "gauge", "The most RSA keys the pool holds.", pool.capacity as u64),
            ("keyfleet_rsa_pool_hits_total", "counter", "CreateKeyPair calls served from the pool.", pool.hits),
            ("keyfleet_rsa_pool_misses_total", "counter", "CreateKeyPair calls that generated inline.", pool.misses),
        ];
        for (name, kind, help, value) in lines {
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        }
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn reset(state: &AppState) -> Response {
    // The instances go with the state: their SSH servers would otherwise keep their
    // addresses, which the next RunInstances hands out again.
    match state.instances.reset_everything().await {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"status": "ok"}"#).into_response(),
        Err(e) => xml_error(&ApiError::internal(&e), &ids::request_id()),
    }
}

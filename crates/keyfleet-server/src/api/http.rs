//! The listener's one handler: health and dev endpoints, then authentication, protocol
//! selection and dispatch. Every failure leaves here in the caller's protocol format.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::auth::sigv4;
use super::error::ApiError;
use super::protocol::ec2_query::{self, QueryParams};
use super::protocol::json11::{self, JsonInput};
use super::{AppState, Context, ec2, instance_connect, ssm};
use crate::service::ids;
use crate::store::Scope;

/// The largest request body accepted. `ImportKeyPair` material is at most 2048 bytes
/// (base64: ~2.7 KiB); CreateTags may carry 1000 resource ids.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Builds the service's router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/healthz") => return (StatusCode::OK, "ok\n").into_response(),
        ("POST", "/moto-api/reset") if state.dev => return reset(&state).await,
        _ => {}
    }
    let request_id = ids::request_id();
    let started = Instant::now();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return xml_error(&ApiError::body_too_large(), &request_id),
    };
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_owned);
    match target {
        Some(target) => json_request(&state, &parts, &body, &target, &request_id, started).await,
        None => ec2_request(&state, &parts, &body, &request_id, started).await,
    }
}

/// Verifies the request's signature and names the caller.
fn authenticate(state: &AppState, parts: &Parts, body: &Bytes) -> Result<Scope, ApiError> {
    let lookup = |name: &str| -> Vec<String> {
        parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    };
    let signed = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &lookup,
        body,
    };
    let caller = state.auth.authenticate(&signed, OffsetDateTime::now_utc())?;
    Ok(Scope { account: caller.account, region: caller.region })
}

/// An EC2 Query request: form in, XML out.
async fn ec2_request(state: &AppState, parts: &Parts, body: &Bytes, request_id: &str, started: Instant) -> Response {
    let params = QueryParams::decode(parts.uri.query().unwrap_or_default(), body);
    let outcome = match authenticate(state, parts, body) {
        Ok(scope) => ec2::dispatch(&Context { state, scope, request_id }, &params).await,
        Err(e) => Err(e),
    };
    let action = params.get("Action").unwrap_or_default();
    log_request(request_id, action, outcome.as_ref().err(), started);
    match outcome {
        Ok(reply) => xml_ok(reply),
        Err(e) => xml_error(&e, request_id),
    }
}

/// A JSON 1.1 request (`X-Amz-Target: <Service>.<Op>`): JSON in and out.
async fn json_request(
    state: &AppState,
    parts: &Parts,
    body: &Bytes,
    target: &str,
    request_id: &str,
    started: Instant,
) -> Response {
    let outcome = match (authenticate(state, parts, body), JsonInput::parse(body)) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(scope), Ok(input)) => {
            let ctx = Context { state, scope, request_id };
            match target.split_once('.') {
                Some(("AmazonSSM", op)) => ssm::dispatch(&ctx, op, &input).await,
                Some(("AWSEC2InstanceConnectService", op)) => instance_connect::dispatch(&ctx, op, &input).await,
                _ => Err(ApiError::unknown_operation(target)),
            }
        }
    };
    log_request(request_id, target, outcome.as_ref().err(), started);
    let (status, body) = match outcome {
        Ok(value) => (StatusCode::OK, value.to_string()),
        // The SSM model spells the Parameter* errors' member `message`; Automation's and
        // Instance Connect's are `Message`.
        Err(e) if target.starts_with("AmazonSSM.") && !e.code.contains("Automation") => {
            (e.status, json11::error(&e, "message"))
        }
        Err(e) => (e.status, json11::error(&e, "Message")),
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

fn xml_ok(reply: super::Reply) -> Response {
    let body = Bytes::from_owner(ZeroizingBody(reply));
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=UTF-8"))], Body::from(body))
        .into_response()
}

fn xml_error(err: &ApiError, request_id: &str) -> Response {
    let xml = ec2_query::error(err, request_id);
    (err.status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=UTF-8"))], xml).into_response()
}

async fn reset(state: &AppState) -> Response {
    match state.store.reset().await {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"status": "ok"}"#).into_response(),
        Err(e) => xml_error(&ApiError::internal(&e), &ids::request_id()),
    }
}

/// Lets the response body own the zeroizing buffer, so the private key in a
/// `CreateKeyPair` response is wiped when hyper drops the body.
struct ZeroizingBody(Zeroizing<String>);

impl AsRef<[u8]> for ZeroizingBody {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

//! The listener's one handler: health and dev endpoints, then authentication, protocol
//! selection and dispatch. Every failure leaves here in the caller's protocol format.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::auth::sigv4;
use super::error::ApiError;
use super::protocol::ec2_query::{self, QueryParams};
use super::{AppState, Context, ec2};
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
    if parts.headers.contains_key("x-amz-target") {
        return json_unknown_operation(&request_id);
    }
    let started = Instant::now();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return xml_error(&ApiError::body_too_large(), &request_id),
    };
    let query = parts.uri.query().unwrap_or_default();
    let params = QueryParams::decode(query, &body);
    let outcome = ec2_request(&state, &parts, &params, &body, &request_id).await;
    let action = params.get("Action").unwrap_or_default();
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(reply) => {
            tracing::info!(request_id, action, status = 200, elapsed_ms, "request");
            xml_ok(reply)
        }
        Err(e) => {
            tracing::info!(request_id, action, status = e.status.as_u16(), code = %e.code, elapsed_ms, "request");
            xml_error(&e, &request_id)
        }
    }
}

/// Authenticates and dispatches one EC2 Query request.
async fn ec2_request(
    state: &AppState,
    parts: &axum::http::request::Parts,
    params: &QueryParams,
    body: &Bytes,
    request_id: &str,
) -> Result<super::Reply, ApiError> {
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
    let ctx = Context { state, scope: Scope { account: caller.account, region: caller.region }, request_id };
    ec2::dispatch(&ctx, params).await
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

fn json_unknown_operation(request_id: &str) -> Response {
    let body =
        r#"{"__type":"UnknownOperationException","message":"This service is not available on this endpoint yet"}"#;
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CONTENT_TYPE, "application/x-amz-json-1.1"),
            (header::HeaderName::from_static("x-amzn-requestid"), request_id),
        ],
        body,
    )
        .into_response()
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

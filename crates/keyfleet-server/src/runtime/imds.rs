//! The instance metadata service of one instance (docs/aws-facts.md, "Instance metadata service"):
//! IMDSv1 and v2 (`PUT /latest/api/token`, TTL 1–21600 s, 401 when a token is required or
//! wrong), the listings and key paths cloud-init walks (`public-keys/` → `0=<name>`,
//! `public-keys/0/openssh-key`), versioned paths as aliases of `latest`, and AWS's XHTML
//! error pages.
//!
//! Served inside the instance at `169.254.169.254:80` in its own network ([`super::netns`],
//! keyfleet as root), else on a Unix socket (`/run/keyfleet/imds.sock`:
//! `curl --unix-socket /run/keyfleet/imds.sock http://169.254.169.254/latest/meta-data/`), and
//! to the host on the instance's address, port 80, where it may bind.
//! It lives here rather than in `api/` because it answers the instance, not API callers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// What the metadata service knows, frozen at launch as on EC2.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// `i-…`.
    pub instance_id: String,
    /// `r-…`.
    pub reservation_id: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// `ami-…`.
    pub image_id: String,
    /// e.g. `t3.micro`.
    pub instance_type: String,
    /// Public and private address.
    pub address: String,
    /// The Availability Zone.
    pub zone: String,
    /// `ip-…​.ec2.internal` or `ip-…​.REGION.compute.internal`.
    pub private_dns: String,
    /// `ec2-…​.compute-1.amazonaws.com` or `ec2-…​.REGION.compute.amazonaws.com`.
    pub public_dns: String,
    /// `(key name, authorized_keys line)` given at launch.
    pub launch_key: Option<(String, String)>,
    /// Base64 user data.
    pub user_data: Option<String>,
    /// Whether IMDSv1 (no token) is refused.
    pub tokens_required: bool,
    /// Launch time, milliseconds.
    pub launch_ms: i64,
}

const MAX_TTL: u64 = 21_600;
/// Unexpired tokens kept per instance; past it the one that expires first is dropped, so a
/// loop asking for tokens costs its own instance's oldest token, not the server's memory.
const MAX_TOKENS: usize = 1_000;
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

struct Service {
    metadata: Metadata,
    tokens: Mutex<HashMap<String, Instant>>,
}

/// The router for one instance's metadata service.
pub fn router(metadata: Metadata) -> Router {
    let service = Arc::new(Service { metadata, tokens: Mutex::new(HashMap::new()) });
    Router::new().fallback(handle).with_state(service)
}

async fn handle(State(service): State<Arc<Service>>, request: Request) -> Response {
    let (method, path, headers) =
        (request.method().clone(), request.uri().path().to_owned(), request.headers().clone());
    if method == Method::PUT {
        return issue_token(&service, &path, &headers);
    }
    if method != Method::GET && method != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed");
    }
    match headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) {
        Some(token) if !service.token_valid(token) => return error(StatusCode::UNAUTHORIZED, "401 - Unauthorized"),
        None if service.metadata.tokens_required => return error(StatusCode::UNAUTHORIZED, "401 - Unauthorized"),
        _ => {}
    }
    match lookup(&service.metadata, &path) {
        Some(body) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response(),
        None => error(StatusCode::NOT_FOUND, "404 - Not Found"),
    }
}

impl Service {
    fn remember(&self, token: String, expiry: Instant) {
        let mut tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        tokens.retain(|_, expiry| *expiry > now);
        if tokens.len() >= MAX_TOKENS
            && let Some(first) = tokens.iter().min_by_key(|(_, expiry)| **expiry).map(|(t, _)| t.clone())
        {
            tokens.remove(&first);
        }
        tokens.insert(token, expiry);
    }

    fn token_valid(&self, token: &str) -> bool {
        let mut tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        tokens.retain(|_, expiry| *expiry > now);
        tokens.contains_key(token)
    }
}

fn issue_token(service: &Service, path: &str, headers: &HeaderMap) -> Response {
    if path != "/latest/api/token" || headers.contains_key("x-forwarded-for") {
        return error(StatusCode::FORBIDDEN, "403 - Forbidden");
    }
    let ttl = headers.get(TTL_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let Some(ttl) = ttl.filter(|t| (1..=MAX_TTL).contains(t)) else {
        return error(StatusCode::BAD_REQUEST, "400 - Bad Request");
    };
    let mut raw = [0u8; 32];
    if getrandom::fill(&mut raw).is_err() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "500 - Internal Server Error");
    }
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    service.remember(token.clone(), Instant::now() + Duration::from_secs(ttl));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain"), (header::HeaderName::from_static(TTL_HEADER), &ttl.to_string())],
        token,
    )
        .into_response()
}

/// The document at `path`, or `None` for 404. `latest` and dated versions are the same tree.
fn lookup(m: &Metadata, path: &str) -> Option<String> {
    if path == "/" {
        return Some("1.0\n2009-04-04\n2016-09-02\n2018-09-24\n2021-03-23\nlatest".into());
    }
    let rest = path.strip_prefix('/')?;
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    if version != "latest" && version != "1.0" && !is_date(version) {
        return None;
    }
    let text = match rest {
        "" => "dynamic\nmeta-data\nuser-data".to_owned(),
        "user-data" => {
            let data = m.user_data.as_deref()?;
            let decoded = base64::engine::general_purpose::STANDARD.decode(data.trim()).ok()?;
            String::from_utf8_lossy(&decoded).into_owned()
        }
        "meta-data" | "meta-data/" => {
            let mut items = vec!["ami-id", "hostname", "instance-id", "instance-type", "local-hostname", "local-ipv4"];
            items.extend(["placement/", "public-hostname", "public-ipv4"]);
            if m.launch_key.is_some() {
                items.push("public-keys/");
            }
            items.extend(["reservation-id", "services/"]);
            items.join("\n")
        }
        "meta-data/ami-id" => m.image_id.clone(),
        "meta-data/instance-id" => m.instance_id.clone(),
        "meta-data/instance-type" => m.instance_type.clone(),
        "meta-data/hostname" | "meta-data/local-hostname" => m.private_dns.clone(),
        "meta-data/public-hostname" => m.public_dns.clone(),
        "meta-data/local-ipv4" | "meta-data/public-ipv4" => m.address.clone(),
        "meta-data/reservation-id" => m.reservation_id.clone(),
        "meta-data/placement" | "meta-data/placement/" => "availability-zone\nregion".into(),
        "meta-data/placement/availability-zone" => m.zone.clone(),
        "meta-data/placement/region" => m.region.clone(),
        "meta-data/services" | "meta-data/services/" => "domain\npartition".into(),
        "meta-data/services/domain" => "amazonaws.com".into(),
        "meta-data/services/partition" => "aws".into(),
        "meta-data/public-keys" | "meta-data/public-keys/" => format!("0={}", m.launch_key.as_ref()?.0),
        "meta-data/public-keys/0" | "meta-data/public-keys/0/" => {
            m.launch_key.as_ref()?;
            "openssh-key".into()
        }
        "meta-data/public-keys/0/openssh-key" => m.launch_key.as_ref()?.1.clone(),
        "dynamic" | "dynamic/" => "instance-identity/".into(),
        "dynamic/instance-identity" | "dynamic/instance-identity/" => "document".into(),
        "dynamic/instance-identity/document" => identity_document(m, &m.zone),
        _ => return None,
    };
    Some(text)
}

fn identity_document(m: &Metadata, zone: &str) -> String {
    let launched = crate::common::time::iso8601(m.launch_ms);
    format!(
        "{{\n  \"accountId\" : \"{}\",\n  \"architecture\" : \"x86_64\",\n  \"availabilityZone\" : \"{zone}\",\n  \"imageId\" : \"{}\",\n  \"instanceId\" : \"{}\",\n  \"instanceType\" : \"{}\",\n  \"pendingTime\" : \"{launched}\",\n  \"privateIp\" : \"{}\",\n  \"region\" : \"{}\",\n  \"version\" : \"2017-09-30\"\n}}",
        m.account, m.image_id, m.instance_id, m.instance_type, m.address, m.region
    )
}

fn is_date(v: &str) -> bool {
    v.len() == 10 && v.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
}

/// AWS's small XHTML error page.
fn error(status: StatusCode, title: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
    );
    (status, [(header::CONTENT_TYPE, "text/html")], Body::from(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(key: bool) -> Metadata {
        Metadata {
            instance_id: "i-0123456789abcdef0".into(),
            reservation_id: "r-0123456789abcdef0".into(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            image_id: "ami-keyfleet-linux".into(),
            instance_type: "t3.micro".into(),
            address: "127.77.0.2".into(),
            zone: "us-east-1a".into(),
            private_dns: "ip-127-77-0-2.ec2.internal".into(),
            public_dns: "ec2-127-77-0-2.compute-1.amazonaws.com".into(),
            launch_key: key.then(|| ("demo".into(), "ssh-ed25519 AAAA demo".into())),
            user_data: Some("aGVsbG8=".into()),
            tokens_required: false,
            launch_ms: 0,
        }
    }

    #[test]
    fn key_paths_follow_aws() {
        let m = metadata(true);
        assert_eq!(lookup(&m, "/latest/meta-data/public-keys/").as_deref(), Some("0=demo"));
        assert_eq!(lookup(&m, "/2021-03-23/meta-data/public-keys/0/").as_deref(), Some("openssh-key"));
        assert_eq!(lookup(&m, "/latest/meta-data/public-keys/0/openssh-key").as_deref(), Some("ssh-ed25519 AAAA demo"));
        assert!(lookup(&m, "/latest/meta-data/").unwrap().contains("public-keys/"));
        assert_eq!(lookup(&m, "/latest/user-data").as_deref(), Some("hello"));
        assert_eq!(lookup(&m, "/1.0/meta-data/instance-id").as_deref(), Some("i-0123456789abcdef0"));
    }

    #[test]
    fn no_key_means_no_public_keys() {
        let m = metadata(false);
        assert!(!lookup(&m, "/latest/meta-data/").unwrap().contains("public-keys"));
        assert_eq!(lookup(&m, "/latest/meta-data/public-keys/0/openssh-key"), None);
        assert_eq!(lookup(&m, "/bogus/meta-data/"), None);
    }

    #[test]
    fn tokens_are_capped_per_instance() {
        let service = Service { metadata: metadata(false), tokens: Mutex::new(HashMap::new()) };
        let later = Instant::now() + Duration::from_secs(60);
        for i in 0..MAX_TOKENS + 50 {
            service.remember(format!("t{i}"), later + Duration::from_millis(i as u64));
        }
        assert_eq!(service.tokens.lock().unwrap().len(), MAX_TOKENS);
        assert!(service.token_valid(&format!("t{}", MAX_TOKENS + 49)), "the newest token stays");
        assert!(!service.token_valid("t0"), "the first to expire went");
    }
}

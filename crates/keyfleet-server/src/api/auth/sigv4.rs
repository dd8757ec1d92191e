//! AWS Signature Version 4, both sides: the server verifies, the `keyfleet` CLI signs,
//! and both build the canonical request with the same code.
//!
//! Header form: `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request,
//! SignedHeaders=host;x-amz-date, Signature=<hex>` with `X-Amz-Date`. Query (presigned) form:
//! the same fields as `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
//! `X-Amz-SignedHeaders` and `X-Amz-Signature`. Reference: AWS General Reference,
//! "Create a signed AWS API request", and the aws-sig-v4-test-suite vectors in the tests.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::macros::format_description;
use zeroize::Zeroizing;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a signed request's time may be from ours (AWS: 15 minutes).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// The longest a presigned request may stay valid: seven days (docs/security.md).
pub const MAX_EXPIRES_SECONDS: i64 = 7 * 24 * 60 * 60;
/// The payload hash a presigned URL may name instead of the body's.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A secret access key: zeroized on drop, compared in constant time, never printed.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(Zeroizing::new(secret.into()))
    }

    /// The secret itself, for signing and for writing the credentials file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// The parts of an HTTP request that SigV4 covers.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The raw (still percent-encoded) path.
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: &'a str,
    /// Header lookup: every value of a lowercase header name.
    pub headers: &'a (dyn Fn(&str) -> Vec<String> + Sync),
    /// The raw body.
    pub body: &'a [u8],
}

/// The credential scope and signature a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// The access key id.
    pub access_key_id: String,
    /// `YYYYMMDD` from the scope.
    pub scope_date: String,
    /// The region from the scope.
    pub region: String,
    /// The service from the scope.
    pub service: String,
    /// Lowercase signed header names.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
    /// `X-Amz-Date`, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
    /// `X-Amz-Expires` for presigned requests.
    pub expires: Option<i64>,
}

/// Why a request's signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header and no presigned query.
    #[error("request is not signed")]
    Missing,
    /// A signature is there but cannot be parsed.
    #[error("malformed authorization: {0}")]
    Malformed(&'static str),
    /// The access key id is not known.
    #[error("unknown access key")]
    UnknownAccessKey,
    /// The signature does not match.
    #[error("signature mismatch")]
    SignatureMismatch,
    /// The request time is too far from ours, or a presigned URL expired.
    #[error("request expired")]
    Expired,
    /// The signature was already used (a replayed request).
    #[error("signature already used")]
    Replayed,
    /// `X-Amz-Content-SHA256` names another payload than the body that came.
    #[error("payload hash mismatch")]
    PayloadMismatch,
    /// A session token that is not the key's (or a token with a long-term key).
    #[error("invalid security token")]
    InvalidToken,
    /// The session's credentials have expired.
    #[error("expired security token")]
    ExpiredToken,
    /// The key's account or secret could not be loaded (a store failure, not the caller's).
    #[error("credentials unavailable: {0}")]
    Unavailable(String),
}

/// Finds the SigV4 fields in the `Authorization` header or the presigned query.
pub fn presented(req: &Request<'_>) -> Result<Presented, AuthError> {
    if let Some(auth) = (req.headers)("authorization").into_iter().next() {
        return from_header(&auth, req);
    }
    let params = decode_query(req.query);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match get("X-Amz-Signature") {
        None => Err(AuthError::Missing),
        Some(signature) => {
            if get("X-Amz-Algorithm").as_deref() != Some(ALGORITHM) {
                return Err(AuthError::Malformed("unsupported X-Amz-Algorithm"));
            }
            let credential = get("X-Amz-Credential").ok_or(AuthError::Malformed("no X-Amz-Credential"))?;
            let signed = get("X-Amz-SignedHeaders").ok_or(AuthError::Malformed("no X-Amz-SignedHeaders"))?;
            let amz_date = get("X-Amz-Date").ok_or(AuthError::Malformed("no X-Amz-Date"))?;
            let expires = get("X-Amz-Expires").ok_or(AuthError::Malformed("no X-Amz-Expires"))?;
            let expires = expires
                .parse::<i64>()
                .ok()
                .filter(|e| (1..=MAX_EXPIRES_SECONDS).contains(e))
                .ok_or(AuthError::Malformed("X-Amz-Expires must be a number of seconds from 1 to 604800"))?;
            build(&credential, &signed, signature, amz_date, Some(expires))
        }
    }
}

fn from_header(auth: &str, req: &Request<'_>) -> Result<Presented, AuthError> {
    let rest = auth.strip_prefix(ALGORITHM).ok_or(AuthError::Malformed("unsupported algorithm"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let amz_date = (req.headers)("x-amz-date").into_iter().next().ok_or(AuthError::Malformed("no X-Amz-Date"))?;
    build(
        credential.ok_or(AuthError::Malformed("no Credential"))?,
        signed.ok_or(AuthError::Malformed("no SignedHeaders"))?,
        signature.ok_or(AuthError::Malformed("no Signature"))?.to_owned(),
        amz_date,
        None,
    )
}

fn build(
    credential: &str,
    signed: &str,
    signature: String,
    amz_date: String,
    expires: Option<i64>,
) -> Result<Presented, AuthError> {
    let mut parts = credential.split('/');
    let mut next = || parts.next().map(str::to_owned).ok_or(AuthError::Malformed("bad Credential scope"));
    let presented = Presented {
        access_key_id: next()?,
        scope_date: next()?,
        region: next()?,
        service: next()?,
        signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        signature,
        amz_date,
        expires,
    };
    if next()? != "aws4_request" {
        return Err(AuthError::Malformed("bad Credential scope terminator"));
    }
    // Without `host`, a signature could be sent to any other endpoint that shares the key.
    if !presented.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::Malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."));
    }
    Ok(presented)
}

/// Verifies a presented signature with the access key's secret at time `now`.
pub fn verify(
    req: &Request<'_>,
    presented: &Presented,
    secret: &SecretKey,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let signed_at = parse_amz_date(&presented.amz_date)?;
    let skew = (now - signed_at).whole_seconds();
    let fresh = match presented.expires {
        None => skew.abs() <= MAX_SKEW_SECONDS,
        Some(expires) => skew >= -MAX_SKEW_SECONDS && skew <= expires,
    };
    if !fresh {
        return Err(AuthError::Expired);
    }
    if !presented.amz_date.starts_with(&presented.scope_date) {
        return Err(AuthError::SignatureMismatch);
    }
    // The target names the JSON operation: unsigned, a captured call could be re-aimed.
    if !(req.headers)("x-amz-target").is_empty() && !presented.signed_headers.iter().any(|h| h == "x-amz-target") {
        return Err(AuthError::Malformed("X-Amz-Target must be a signed header"));
    }
    let presigned = presented.expires.is_some();
    for payload_hash in payload_hashes(req, presigned)? {
        let canonical = canonical_request(req, &presented.signed_headers, &payload_hash, presigned);
        let expected = signature(secret, presented, &canonical);
        if bool::from(expected.as_bytes().ct_eq(presented.signature.as_bytes())) {
            return Ok(());
        }
    }
    Err(AuthError::SignatureMismatch)
}

/// The payload hashes the signature may cover: only ever the hash of the body that came, so
/// a captured signature cannot carry another body. A client's `X-Amz-Content-SHA256` must
/// name that same hash. A presigned URL carries no body at all; it covers either the empty
/// body's hash or `UNSIGNED-PAYLOAD`, which then means the same empty body.
fn payload_hashes(req: &Request<'_>, presigned: bool) -> Result<Vec<String>, AuthError> {
    let body_hash = hex(&Sha256::digest(req.body));
    let declared = (req.headers)("x-amz-content-sha256").into_iter().next();
    if presigned && !req.body.is_empty() {
        return Err(AuthError::Malformed("a presigned request carries no body"));
    }
    match declared {
        None if presigned => Ok(vec![body_hash, UNSIGNED_PAYLOAD.to_owned()]),
        None => Ok(vec![body_hash]),
        Some(declared) if declared == body_hash || (presigned && declared == UNSIGNED_PAYLOAD) => Ok(vec![declared]),
        Some(_) => Err(AuthError::PayloadMismatch),
    }
}

/// Signs a request: returns the `Authorization` header value. `req.headers` must yield
/// every header in `signed_headers`, including `host` and `x-amz-date`.
pub fn sign(
    req: &Request<'_>,
    access_key_id: &str,
    secret: &SecretKey,
    region: &str,
    service: &str,
    amz_date: &str,
    signed_headers: &[&str],
) -> String {
    let presented = Presented {
        access_key_id: access_key_id.to_owned(),
        scope_date: amz_date.get(..8).unwrap_or_default().to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed_headers.iter().map(|h| (*h).to_owned()).collect(),
        signature: String::new(),
        amz_date: amz_date.to_owned(),
        expires: None,
    };
    let canonical = canonical_request(req, &presented.signed_headers, &hex(&Sha256::digest(req.body)), false);
    let sig = signature(secret, &presented, &canonical);
    format!(
        "{ALGORITHM} Credential={access_key_id}/{}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
        presented.scope_date,
        signed_headers.join(";")
    )
}

/// `YYYYMMDDTHHMMSSZ` for a time, as `X-Amz-Date` carries it.
pub fn amz_date(t: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&format).unwrap_or_default()
}

pub(super) fn parse_amz_date(s: &str) -> Result<OffsetDateTime, AuthError> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &format)
        .map(|t| t.assume_utc())
        .map_err(|_| AuthError::Malformed("bad X-Amz-Date"))
}

fn canonical_request(req: &Request<'_>, signed_headers: &[String], payload_hash: &str, presigned: bool) -> String {
    let mut query: Vec<(String, String)> = decode_query(req.query)
        .into_iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let path = if req.path.is_empty() { "/".to_owned() } else { uri_encode(req.path, true) };
    let mut out = format!("{}\n{}\n{}\n", req.method, path, query.join("&"));
    for name in signed_headers {
        let values: Vec<String> = (req.headers)(name).iter().map(|v| collapse_spaces(v.trim())).collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

fn signature(secret: &SecretKey, p: &Presented, canonical_request: &str) -> String {
    let scope = format!("{}/{}/{}/aws4_request", p.scope_date, p.region, p.service);
    let string_to_sign =
        format!("{ALGORITHM}\n{}\n{scope}\n{}", p.amz_date, hex(&Sha256::digest(canonical_request.as_bytes())));
    let mut key = Zeroizing::new(format!("AWS4{}", secret.expose()).into_bytes());
    for part in [p.scope_date.as_str(), p.region.as_str(), p.service.as_str(), "aws4_request"] {
        key = Zeroizing::new(hmac_sha256(&key, part.as_bytes()));
    }
    hex(&hmac_sha256(&key, string_to_sign.as_bytes()))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; the fallback is unreachable.
    match hmac::Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Splits a raw query string into percent-decoded pairs. `+` is a space, as the API's own
/// form decoding reads it: the signature must cover the values the API acts on, or `%2B`
/// and `+` would sign alike and mean different things.
pub(super) fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let decoded =
            (byte == b'%').then(|| s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())).flatten();
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if byte == b'+' { b' ' } else { byte });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 encoding of everything but unreserved characters (and `/` in paths).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;

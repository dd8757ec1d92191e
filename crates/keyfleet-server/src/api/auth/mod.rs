//! Who is calling: SigV4 verification against known access keys, or `--dev`'s
//! accept-anything mode (as LocalStack does). The region always comes from the
//! credential scope and the account from the access key.

pub mod sigv4;

use std::collections::HashMap;

use time::OffsetDateTime;

pub use sigv4::{AuthError, SecretKey};

/// The account every `--dev` caller belongs to (LocalStack's default).
pub const DEV_ACCOUNT: &str = "000000000000";
/// The region of an unsigned `--dev` request.
pub const DEFAULT_REGION: &str = "us-east-1";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// 12-digit account id.
    pub account: String,
    /// The access key the request was signed with (`""` for unsigned `--dev` requests).
    pub access_key_id: String,
    /// The region from the credential scope.
    pub region: String,
}

/// An access key the server accepts.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// `AKIA…`.
    pub id: String,
    /// The secret.
    pub secret: SecretKey,
    /// The account it belongs to.
    pub account: String,
}

/// How requests are authenticated.
#[derive(Debug)]
pub enum Authenticator {
    /// Verify SigV4 against these keys.
    Enforce(HashMap<String, AccessKey>),
    /// Accept any (or no) credentials; for tests only.
    Dev,
}

impl Authenticator {
    /// Enforcing mode with the given keys.
    pub fn with_keys(keys: impl IntoIterator<Item = AccessKey>) -> Self {
        Authenticator::Enforce(keys.into_iter().map(|k| (k.id.clone(), k)).collect())
    }

    /// Authenticates a request at time `now`.
    pub fn authenticate(&self, req: &sigv4::Request<'_>, now: OffsetDateTime) -> Result<Caller, AuthError> {
        match self {
            Authenticator::Dev => Ok(match sigv4::presented(req) {
                Ok(p) => Caller { account: DEV_ACCOUNT.into(), access_key_id: p.access_key_id, region: p.region },
                Err(_) => {
                    Caller { account: DEV_ACCOUNT.into(), access_key_id: String::new(), region: DEFAULT_REGION.into() }
                }
            }),
            Authenticator::Enforce(keys) => {
                let presented = sigv4::presented(req)?;
                let key = keys.get(&presented.access_key_id).ok_or(AuthError::UnknownAccessKey)?;
                sigv4::verify(req, &presented, &key.secret, now)?;
                Ok(Caller { account: key.account.clone(), access_key_id: key.id.clone(), region: presented.region })
            }
        }
    }
}

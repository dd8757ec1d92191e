//! Who is calling: SigV4 verification against the admin (root) key and the IAM users' access
//! keys, or `--dev`'s accept-anything mode (as LocalStack does). The region always comes
//! from the credential scope and the account from the access key.

mod replay;
pub mod sigv4;

use std::sync::Arc;

use time::OffsetDateTime;

pub use sigv4::{AuthError, SecretKey};

use crate::service::audit::Identity;
use crate::service::iam::Iam;

/// The account every `--dev` caller belongs to (LocalStack's default).
pub const DEV_ACCOUNT: &str = "000000000000";
/// The region of an unsigned `--dev` request.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Signatures remembered against replay (about 100 MB at most).
const REPLAY_CAPACITY: usize = 1_000_000;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// 12-digit account id.
    pub account: String,
    /// Who within the account: root for the admin key and `--dev` callers.
    pub identity: Identity,
    /// The access key the request was signed with (`""` for unsigned `--dev` requests).
    pub access_key_id: String,
    /// The region from the credential scope.
    pub region: String,
    /// The service from the credential scope (`ec2`, `iam`, …), if signed.
    pub service: Option<String>,
}

/// A refused request: why, and as much of the caller as could be told (for the audit log).
#[derive(Debug)]
pub struct Refused {
    /// Why.
    pub error: AuthError,
    /// The caller, where the access key was known; the region is the presented one.
    pub claimed: Option<Caller>,
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
pub enum Authenticator {
    /// Verify SigV4 against the admin key and the users' keys in the store.
    Enforce {
        /// The admin key: the root of its account.
        admin: AccessKey,
        /// Users' access keys.
        iam: Arc<Iam>,
        /// Signatures already used.
        replay: replay::ReplayGuard,
    },
    /// Accept any (or no) credentials; for tests only.
    Dev,
}

impl Authenticator {
    /// Enforcing mode: the admin key plus every active user key.
    pub fn enforce(admin: AccessKey, iam: Arc<Iam>) -> Self {
        Authenticator::Enforce { admin, iam, replay: replay::ReplayGuard::new(REPLAY_CAPACITY) }
    }

    /// The account that owns this server (the admin key's); `--dev`'s shared account.
    pub fn home_account(&self) -> &str {
        match self {
            Authenticator::Enforce { admin, .. } => &admin.account,
            Authenticator::Dev => DEV_ACCOUNT,
        }
    }

    /// Checks an access key and its secret, as the console's sign-in form presents them:
    /// the key's `(account, user)` if the secret matches and the key is active. The secret is
    /// compared in constant time; an unknown key costs a comparison too.
    pub async fn check_secret(&self, id: &str, secret: &str) -> Result<Option<(String, Option<String>)>, AuthError> {
        use subtle::ConstantTimeEq as _;
        let same = |known: &str| bool::from(known.as_bytes().ct_eq(secret.as_bytes()));
        match self {
            Authenticator::Dev => Ok((!id.is_empty()).then(|| (DEV_ACCOUNT.to_owned(), None))),
            Authenticator::Enforce { admin, iam, .. } => {
                // Every id costs a lookup, so that the admin key's id does not answer faster.
                let resolved = iam.resolve_access_key(id).await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
                if id == admin.id {
                    return Ok(same(admin.secret.expose()).then(|| (admin.account.clone(), None)));
                }
                Ok(match resolved {
                    Some(key) if same(&key.secret) && key.active => Some((key.account, key.user)),
                    Some(_) => None,
                    None => {
                        same(admin.secret.expose());
                        None
                    }
                })
            }
        }
    }

    /// True while the access key `id` is one the server accepts (a console session signed in
    /// with a key ends when the key is deleted or made inactive).
    pub async fn key_is_active(&self, id: &str) -> Result<bool, AuthError> {
        match self {
            Authenticator::Dev => Ok(true),
            Authenticator::Enforce { admin, .. } if id == admin.id => Ok(true),
            Authenticator::Enforce { iam, .. } => {
                let resolved = iam.resolve_access_key(id).await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
                Ok(resolved.is_some_and(|key| key.active))
            }
        }
    }

    /// Authenticates a request at time `now`.
    pub async fn authenticate(&self, req: &sigv4::Request<'_>, now: OffsetDateTime) -> Result<Caller, Refused> {
        match self {
            Authenticator::Dev => Ok(match sigv4::presented(req) {
                Ok(p) => Caller {
                    account: DEV_ACCOUNT.into(),
                    identity: Identity::Root,
                    access_key_id: p.access_key_id,
                    region: p.region,
                    service: Some(p.service),
                },
                Err(_) => Caller {
                    account: DEV_ACCOUNT.into(),
                    identity: Identity::Root,
                    access_key_id: String::new(),
                    region: DEFAULT_REGION.into(),
                    service: None,
                },
            }),
            Authenticator::Enforce { admin, iam, replay } => {
                let presented = sigv4::presented(req).map_err(|error| Refused { error, claimed: None })?;
                let token = security_token(req);
                let (caller, secret) = if presented.access_key_id.starts_with(SESSION_KEY_PREFIX) {
                    session_credentials(iam, &presented, token.as_deref(), now).await?
                } else if token.is_some() {
                    // A long-term key has no session: a token with it is a forged one.
                    let claimed = Some(caller(&presented, "", Identity::Root));
                    return Err(Refused { error: AuthError::InvalidToken, claimed });
                } else if presented.access_key_id == admin.id {
                    (caller(&presented, &admin.account, Identity::Root), admin.secret.clone())
                } else {
                    let resolved = iam
                        .resolve_access_key(&presented.access_key_id)
                        .await
                        .map_err(|e| Refused { error: AuthError::Unavailable(e.to_string()), claimed: None })?;
                    match resolved {
                        Some(key) if key.active => (
                            caller(&presented, &key.account, Identity::of_user(key.user)),
                            SecretKey::new(key.secret.as_str()),
                        ),
                        // The account is not known: the audit log files these under the server's own.
                        _ => {
                            let claimed = Some(caller(&presented, "", Identity::Root));
                            return Err(Refused { error: AuthError::UnknownAccessKey, claimed });
                        }
                    }
                };
                let refuse = |error| Refused { error, claimed: Some(caller.clone()) };
                sigv4::verify(req, &presented, &secret, now).map_err(refuse)?;
                if presented.expires.is_none() {
                    let signed_at = sigv4::parse_amz_date(&presented.amz_date).map_err(refuse)?.unix_timestamp();
                    replay.check(&replay_key(req, &presented), signed_at, now.unix_timestamp()).map_err(|r| {
                        refuse(match r {
                            replay::Replay::Repeated => AuthError::Replayed,
                            replay::Replay::BeyondHorizon => AuthError::Expired,
                        })
                    })?;
                }
                Ok(caller)
            }
        }
    }
}

/// What makes a request unique to the replay guard: its signature, which covers the method,
/// path, query, signed headers and the body's hash, plus the SDK headers that name the
/// invocation and attempt. botocore signs nothing that differs between two identical calls
/// in the same second (the aws CLI run twice, a retry), so the signature alone would refuse
/// those; the unsigned headers tell them apart. A verbatim replay is refused; one that
/// rewrites those headers is accepted, as AWS accepts any repeat within 15 minutes, and can
/// only repeat exactly what was signed (see docs/security.md).
fn replay_key(req: &sigv4::Request<'_>, presented: &sigv4::Presented) -> String {
    let header = |name: &str| (req.headers)(name).into_iter().next().unwrap_or_default();
    format!("{} {} {}", presented.signature, header("amz-sdk-invocation-id"), header("amz-sdk-request"))
}

/// Temporary (STS) access key ids start so; long-term ones with `AKIA`.
const SESSION_KEY_PREFIX: &str = "ASIA";

/// The session token: the `X-Amz-Security-Token` header, or the presigned query's parameter.
fn security_token(req: &sigv4::Request<'_>) -> Option<String> {
    if let Some(token) = (req.headers)("x-amz-security-token").into_iter().next() {
        return Some(token);
    }
    sigv4::decode_query(req.query).into_iter().find(|(name, _)| name == "X-Amz-Security-Token").map(|(_, v)| v)
}

/// The caller and secret of an STS session key, once its token is checked and it has not
/// expired.
async fn session_credentials(
    iam: &Iam,
    presented: &sigv4::Presented,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<(Caller, SecretKey), Refused> {
    let resolved = iam
        .resolve_session(&presented.access_key_id)
        .await
        .map_err(|e| Refused { error: AuthError::Unavailable(e.to_string()), claimed: None })?;
    let Some(session) = resolved.filter(|s| token.is_some_and(|t| s.token_matches(t))) else {
        let claimed = Some(caller(presented, "", Identity::Root));
        return Err(Refused { error: AuthError::InvalidToken, claimed });
    };
    let found = caller(presented, &session.account, session.identity.clone());
    let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    if session.expires_ms <= now_ms {
        return Err(Refused { error: AuthError::ExpiredToken, claimed: Some(found) });
    }
    Ok((found, SecretKey::new(session.secret.as_str())))
}

fn caller(presented: &sigv4::Presented, account: &str, identity: Identity) -> Caller {
    Caller {
        account: account.to_owned(),
        identity,
        access_key_id: presented.access_key_id.clone(),
        region: presented.region.clone(),
        service: Some(presented.service.clone()),
    }
}

//! STS: temporary credentials. AssumeRole gives a session of a role, whose trust policy must
//! admit the caller; GetSessionToken gives a session of the caller itself. A session is an
//! `ASIA…` key, a secret (sealed under the master key, as access keys' are) and a token, of
//! which only a digest is kept. Requests signed with it must carry the token, and are refused
//! once it expires.

use zeroize::Zeroizing;

use super::audit::{Actor, Identity, RoleSession};
use super::iam::Iam;
use super::policy::trust::{Caller, TrustPolicy};
use super::policy::{ConditionContext, Decision};
use super::{Error, Result, StsInvalid, now_ms};
use crate::common::ids;
use crate::store::{RoleRow, SessionIssuer, SessionRow};

/// The shortest session, 15 minutes.
pub const SHORTEST_SESSION_SECONDS: i64 = 900;
/// GetSessionToken's default, 12 hours, and longest, 36 hours.
const SESSION_TOKEN_DEFAULT_SECONDS: i64 = 43_200;
const SESSION_TOKEN_LONGEST_SECONDS: i64 = 129_600;
/// The root's GetSessionToken sessions, and role chaining, last at most an hour.
const ONE_HOUR: i64 = 3600;
/// Expired sessions are kept this long, to be answered as expired rather than unknown.
const KEEP_EXPIRED_MS: i64 = 24 * 3600 * 1000;

/// New temporary credentials: the only time their secret and token are returned.
pub struct Credentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret: Zeroizing<String>,
    /// The session token.
    pub token: Zeroizing<String>,
    /// When they expire, milliseconds since the epoch.
    pub expires_ms: i64,
}

/// An AssumeRole request.
#[derive(Debug, Clone)]
pub struct AssumeRole {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds`.
    pub duration_seconds: Option<i64>,
    /// `ExternalId`.
    pub external_id: Option<String>,
    /// The request's own condition keys (`aws:SourceIp`, `aws:SecureTransport`, …), which a
    /// trust policy's conditions may name too.
    pub context: ConditionContext,
}

/// Who asks AssumeRole: a principal of an account, or an AWS service acting for one (SSM
/// Automation assumes its `AutomationAssumeRole`).
#[derive(Debug, Clone, Copy)]
pub enum Assumer<'a> {
    /// A caller with credentials.
    Principal(&'a Actor),
    /// A service, such as `ssm.amazonaws.com`, in an account.
    Service {
        /// The service principal.
        name: &'a str,
        /// The account it acts in.
        account: &'a str,
    },
}

/// A session found for a request: who it is, and its secret and token digest.
pub struct ResolvedSession {
    /// The account.
    pub account: String,
    /// Who the session is.
    pub identity: Identity,
    /// The secret, opened.
    pub secret: Zeroizing<String>,
    /// Whether `token` is this session's token.
    token_digest: String,
    /// When it expires.
    pub expires_ms: i64,
}

impl ResolvedSession {
    /// Whether the request's token is this session's.
    pub fn token_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(digest(token).as_bytes().ct_eq(self.token_digest.as_bytes()))
    }
}

/// A role ARN's parts: account, path, name.
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let full = resource.strip_prefix("role")?;
    let cut = full.rfind('/').filter(|_| full.starts_with('/'))?;
    let (path, name) = full.split_at(cut + 1);
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (account_ok && !name.is_empty()).then_some((account, path, name))
}

impl Iam {
    /// `AssumeRole`: a session of the role, if its trust policy admits `assumer`.
    pub async fn assume_role(&self, assumer: Assumer<'_>, request: &AssumeRole) -> Result<(RoleRow, Credentials)> {
        validate_session_name(&request.session_name)?;
        let role = self.admit(assumer, request).await?;
        let duration = session_duration(&role, assumer, request.duration_seconds)?;
        let account = parse_role_arn(&request.role_arn).map_or("", |(account, ..)| account).to_owned();
        let issuer = SessionIssuer::Role { name: role.name.clone(), id: role.role_id.clone() };
        let credentials = self.new_session(&account, issuer, &request.session_name, duration).await?;
        Ok((role, credentials))
    }

    /// The role `request` names, if its trust policy admits `assumer` (for a service acting
    /// as a role, such as Automation, which needs no credentials of its own).
    pub async fn admit(&self, assumer: Assumer<'_>, request: &AssumeRole) -> Result<RoleRow> {
        if let Some(id) = &request.external_id {
            let valid = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
            if !(2..=1224).contains(&id.len()) || !id.chars().all(valid) {
                return Err(Error::StsValidation(StsInvalid::ExternalId));
            }
        }
        let Some((account, path, name)) = parse_role_arn(&request.role_arn) else {
            return Err(Error::StsValidation(StsInvalid::RoleArn(request.role_arn.clone())));
        };
        let denied = || match assumer {
            Assumer::Principal(actor) => Error::StsAccessDenied { caller: actor.arn(), role: request.role_arn.clone() },
            Assumer::Service { name, .. } => {
                Error::StsAccessDenied { caller: name.to_owned(), role: request.role_arn.clone() }
            }
        };
        if let Assumer::Principal(Actor { identity: Identity::Root, .. }) = assumer {
            return Err(Error::StsRootCannotAssume);
        }
        // A service acts for its own account only.
        if let Assumer::Service { account: acting_for, .. } = assumer
            && acting_for != account
        {
            return Err(denied());
        }
        // A missing role is denied as an untrusting one is: the answer does not tell which.
        // The name must be the role's exactly: policies compare ARNs with case.
        let role = self.store.role(account, name).await?.filter(|r| r.path == path && r.name == name);
        let role = role.ok_or_else(denied)?;
        let trust = TrustPolicy::parse(&role.trust_policy).map_err(|e| Error::MalformedPolicy(e.0))?;
        let mut context = request.context.clone();
        if let Assumer::Service { account: acting_for, .. } = assumer {
            context.add("aws:SourceAccount", acting_for);
        }
        if let Some(id) = &request.external_id {
            context.add("sts:ExternalId", id.as_str());
        }
        if !request.session_name.is_empty() {
            context.add("sts:RoleSessionName", request.session_name.as_str());
        }
        let (arn, principal_arn);
        let caller = match assumer {
            Assumer::Principal(actor) => {
                (arn, principal_arn) = (actor.arn(), actor.principal_arn());
                context.add("aws:PrincipalArn", principal_arn.as_str());
                context.add("aws:PrincipalAccount", actor.account.as_str());
                let role_arn = matches!(actor.identity, Identity::Role(_)).then_some(principal_arn.as_str());
                Caller::Aws { account: &actor.account, arn: &arn, role_arn }
            }
            Assumer::Service { name, .. } => Caller::Service(name),
        };
        if trust.decide(caller, "sts:AssumeRole", &context) != Decision::Allow {
            return Err(denied());
        }
        Ok(role)
    }

    /// `GetSessionToken`: a session of the caller itself, from its long-term key.
    pub async fn session_token(&self, actor: &Actor, duration_seconds: Option<i64>) -> Result<Credentials> {
        if actor.access_key_id.starts_with("ASIA") {
            return Err(Error::StsSessionCredentials);
        }
        let asked = duration_seconds.unwrap_or(SESSION_TOKEN_DEFAULT_SECONDS);
        if !(SHORTEST_SESSION_SECONDS..=SESSION_TOKEN_LONGEST_SECONDS).contains(&asked) {
            return Err(Error::StsValidation(StsInvalid::Duration {
                value: asked,
                min: SHORTEST_SESSION_SECONDS,
                max: SESSION_TOKEN_LONGEST_SECONDS,
            }));
        }
        let (issuer, duration) = match &actor.identity {
            Identity::User(user) => {
                let found = self.store.user(&actor.account, user).await?;
                let found = found.ok_or_else(|| Error::IamNoSuchEntity(super::IamEntity::User(user.clone())))?;
                (SessionIssuer::User { name: found.name, id: found.user_id }, asked)
            }
            // The root's sessions are cut to an hour, not refused.
            Identity::Root => (SessionIssuer::Root, asked.min(ONE_HOUR)),
            Identity::Role(_) => return Err(Error::StsSessionCredentials),
        };
        self.new_session(&actor.account, issuer, "", duration).await
    }

    /// The session an `ASIA…` key belongs to, with its identity as of now (a role deleted or
    /// made again since has no sessions).
    pub async fn resolve_session(&self, access_key_id: &str) -> Result<Option<ResolvedSession>> {
        let Some(row) = self.store.session(access_key_id).await? else { return Ok(None) };
        let identity = match &row.issuer {
            SessionIssuer::Root => Identity::Root,
            // A user deleted and made again under the name has another id: not this session's.
            SessionIssuer::User { name, id } => match self.store.user(&row.account, name).await? {
                Some(found) if &found.user_id == id => Identity::User(found.name),
                _ => return Ok(None),
            },
            SessionIssuer::Role { name, id } => match self.store.role(&row.account, name).await? {
                Some(role) if &role.role_id == id => Identity::Role(RoleSession {
                    role: role.name,
                    path: role.path,
                    role_id: role.role_id,
                    session: row.session_name.clone(),
                }),
                _ => return Ok(None),
            },
        };
        let secret =
            self.master_key.open(&row.sealed_secret, &secret_context(&row.access_key_id)).map_err(Error::Secret)?;
        let secret =
            String::from_utf8(secret.to_vec()).map_err(|_| Error::Secret(super::envelope::EnvelopeError::Corrupt))?;
        Ok(Some(ResolvedSession {
            account: row.account,
            identity,
            secret: Zeroizing::new(secret),
            token_digest: row.token_digest,
            expires_ms: row.expires_ms,
        }))
    }

    async fn new_session(
        &self,
        account: &str,
        issuer: SessionIssuer,
        session_name: &str,
        duration_seconds: i64,
    ) -> Result<Credentials> {
        let access_key_id = ids::session_access_key_id();
        let secret = ids::secret_access_key();
        let token = ids::session_token();
        let sealed_secret =
            self.master_key.seal(secret.as_bytes(), &secret_context(&access_key_id)).map_err(Error::Secret)?;
        let now = now_ms();
        let row = SessionRow {
            access_key_id: access_key_id.clone(),
            account: account.to_owned(),
            sealed_secret,
            token_digest: digest(&token),
            issuer,
            session_name: session_name.to_owned(),
            created_ms: now,
            expires_ms: now + duration_seconds * 1000,
        };
        self.store.insert_session(&row, now - KEEP_EXPIRED_MS).await?;
        Ok(Credentials { access_key_id, secret, token, expires_ms: row.expires_ms })
    }
}

/// How long a role's session lasts: as asked (an hour by default), within the role's maximum,
/// and within an hour when a role's session assumes a role (role chaining).
fn session_duration(role: &RoleRow, assumer: Assumer<'_>, asked: Option<i64>) -> Result<i64> {
    let duration = asked.unwrap_or(ONE_HOUR);
    let longest = super::roles::LONGEST_SESSION_SECONDS;
    if !(SHORTEST_SESSION_SECONDS..=longest).contains(&duration) {
        let range = StsInvalid::Duration { value: duration, min: SHORTEST_SESSION_SECONDS, max: longest };
        return Err(Error::StsValidation(range));
    }
    let chained = matches!(assumer, Assumer::Principal(Actor { identity: Identity::Role(_), .. }));
    if chained && duration > ONE_HOUR {
        return Err(Error::StsValidation(StsInvalid::DurationChaining));
    }
    if duration > role.max_session_seconds {
        return Err(Error::StsValidation(StsInvalid::DurationAboveRole));
    }
    Ok(duration)
}

fn validate_session_name(name: &str) -> Result<()> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if (2..=64).contains(&name.len()) && name.chars().all(valid) {
        Ok(())
    } else {
        Err(Error::StsValidation(StsInvalid::SessionName(name.to_owned())))
    }
}

fn secret_context(access_key_id: &str) -> String {
    format!("sts-session:{access_key_id}")
}

fn digest(token: &str) -> String {
    super::console::hash(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_name_account_path_and_role() {
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:role/ops"), Some(("111122223333", "/", "ops")));
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/service-role/EC2Rescue"),
            Some(("111122223333", "/service-role/", "EC2Rescue"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:user/ops"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::1111:role/ops"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:role/"), None);
    }

    #[test]
    fn session_names_follow_sts_pattern() {
        assert!(validate_session_name("deploy-1@ci").is_ok());
        assert!(validate_session_name("a").is_err());
        assert!(validate_session_name("has space").is_err());
        assert!(validate_session_name(&"x".repeat(65)).is_err());
    }
}

//! Signing in and out, the session cookie, and the checks every change passes: the form's
//! CSRF token and the request's origin.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::pages::{self, Shell};
use super::{ConsoleRequest, render, see_other};
use crate::service::audit::{Actor, ApiCall, Identity};
use crate::service::console::{IDLE_MS, Session, SessionOwner};
use crate::service::iam::PasswordCheck;
use crate::service::policy::Policy;
use crate::store::UnitOfWork;

/// The session cookie's name.
const COOKIE: &str = "keyfleet_session";

/// A request's live session, with the policies it is authorized by.
pub struct Signed {
    /// The session.
    pub session: Session,
    /// The user's policies; `None` for the account's root.
    pub policies: Option<Vec<Policy>>,
}

impl Signed {
    /// How the header names who is signed in.
    pub fn identity(&self) -> String {
        let owner = &self.session.owner;
        match &owner.user {
            Some(user) => format!("{user} @ {}", owner.account),
            None => format!("root @ {}", owner.account),
        }
    }
}

/// The session the request's cookie names, if it is live.
pub async fn signed_in(request: &ConsoleRequest<'_>) -> Result<Option<Signed>, Response> {
    let Some(token) = cookie(request) else { return Ok(None) };
    let state = request.state;
    let session = match state.sessions.find(&token).await {
        Ok(Some(session)) => session,
        Ok(None) => return Ok(None),
        Err(e) => return Err(unavailable(&e)),
    };
    match still_valid(request, &session.owner).await {
        Ok(true) => {}
        Ok(false) => {
            // What it was signed in with is gone: the session ends with it.
            return state.sessions.end(&session).await.map(|()| None).map_err(|e| unavailable(&e));
        }
        Err(e) => return Err(unavailable(&e)),
    }
    let policies = match &session.owner.user {
        Some(user) => match state.iam.policies_of(&session.owner.account, user).await {
            Ok(policies) => Some(policies),
            Err(e) => return Err(unavailable(&e)),
        },
        None => None,
    };
    Ok(Some(Signed { session, policies }))
}

/// A session lasts only as long as what it was signed in with: its access key (while
/// active), or its user and that user's password (a new password, a deleted user, or a new
/// user of the same name ends it).
async fn still_valid(request: &ConsoleRequest<'_>, owner: &SessionOwner) -> Result<bool, String> {
    let state = request.state;
    if !owner.access_key_id.is_empty() {
        return state.auth.key_is_active(&owner.access_key_id).await.map_err(|e| e.to_string());
    }
    let Some(user) = &owner.user else { return Ok(false) };
    let stamp = state.iam.password_stamp(&owner.account, user).await.map_err(|e| e.to_string())?;
    Ok(stamp.is_some_and(|stamp| bool::from(stamp.as_bytes().ct_eq(owner.credential.as_bytes()))))
}

/// The signed-in session, or the answer that sends the browser to sign in.
pub async fn require(request: &ConsoleRequest<'_>) -> Result<Signed, Response> {
    signed_in(request).await?.ok_or_else(|| see_other(super::ROOT))
}

/// The signed-in session of a form that changes something: its CSRF token must match the
/// session's and the request must come from the console's own origin.
pub async fn require_change(request: &ConsoleRequest<'_>) -> Result<Signed, Response> {
    if !same_origin(request) {
        return Err(forbidden("The request did not come from this console."));
    }
    let signed = require(request).await?;
    let presented = request.field("csrf").unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(signed.session.csrf.as_bytes())) {
        return Err(forbidden(
            "The form has expired or did not come from this console. Reload the page and try again.",
        ));
    }
    Ok(signed)
}

/// A browser names where a request comes from, and a change from another site is refused.
/// Fetch metadata (`Sec-Fetch-Site`) says it directly. Without it, `Origin` must be this
/// console's; it is `null` under our `Referrer-Policy: no-referrer`, which tells nothing. A
/// client that names no origin is not a browser carrying our cookie for another site (and
/// every change also needs the session's CSRF token).
fn same_origin(request: &ConsoleRequest<'_>) -> bool {
    let headers = &request.parts.headers;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (header("origin").filter(|o| *o != "null"), header("host")) {
        (Some(origin), Some(host)) => {
            let scheme = if request.secure { "https" } else { "http" };
            origin == format!("{scheme}://{host}")
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

fn forbidden(message: &str) -> Response {
    render(StatusCode::FORBIDDEN, &pages::Refused { message: message.to_owned() })
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console session lookup failed");
    render(StatusCode::SERVICE_UNAVAILABLE, &pages::Refused { message: "The console is unavailable.".into() })
}

fn cookie(request: &ConsoleRequest<'_>) -> Option<String> {
    request
        .parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// `/console/`: the sign-in page, or the dashboard.
pub async fn home(request: &ConsoleRequest<'_>) -> Response {
    match signed_in(request).await {
        Ok(Some(signed)) => super::pages::dashboard(request, &signed).await,
        Ok(None) => render(StatusCode::OK, &pages::SignIn::form(None, "key")),
        Err(response) => response,
    }
}

/// What the sign-in form presented.
enum Credentials {
    AccessKey { id: String, secret: Zeroizing<String> },
    Password { account: String, user: String, password: Zeroizing<String>, new_password: Option<Zeroizing<String>> },
}

/// What the credentials proved.
enum Proven {
    /// Nothing.
    Not,
    /// Who is signing in.
    Owner(SessionOwner),
    /// The right password, which must be replaced first (`PasswordResetRequired`).
    MustChangePassword,
    /// The right password, and a new one the password policy refuses.
    WeakNewPassword,
}

impl Credentials {
    fn from_form(request: &ConsoleRequest<'_>) -> Option<Self> {
        let field = |name: &str| request.field(name).filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) {
            return Some(Credentials::AccessKey { id, secret: Zeroizing::new(secret) });
        }
        match (field("Account"), field("UserName"), field("Password")) {
            (Some(account), Some(user), Some(password)) => Some(Credentials::Password {
                account,
                user,
                password: Zeroizing::new(password),
                new_password: field("NewPassword").map(Zeroizing::new),
            }),
            _ => None,
        }
    }

    fn mode(&self) -> &'static str {
        match self {
            Credentials::AccessKey { .. } => "key",
            Credentials::Password { .. } => "password",
        }
    }

    /// Who is trying, for the audit record of a failure. A user that exists is named in its
    /// own account's log; anything else goes to the server's own account with the name
    /// hidden, as CloudTrail hides names it cannot match, so that typing a name cannot write
    /// into another account's Event history.
    async fn claimed(&self, request: &ConsoleRequest<'_>) -> Actor {
        let home = request.state.auth.home_account().to_owned();
        match self {
            Credentials::AccessKey { id, .. } => {
                let id: String = id.chars().take(128).collect();
                Actor { account: home, identity: Identity::Root, access_key_id: id }
            }
            Credentials::Password { account, user, .. } => match request.state.iam.user(account, user).await {
                Ok(stored) => Actor {
                    account: account.clone(),
                    identity: Identity::User(stored.name),
                    access_key_id: String::new(),
                },
                Err(_) => {
                    Actor { account: home, identity: Identity::User(HIDDEN.to_owned()), access_key_id: String::new() }
                }
            },
        }
    }

    /// The bucket of the per-user sign-in limit (none for an access key: its bucket is the
    /// source address's).
    fn user_bucket(&self) -> Option<String> {
        match self {
            Credentials::AccessKey { .. } => None,
            Credentials::Password { account, user, .. } => Some(format!("{account}/{}", user.to_lowercase())),
        }
    }

    /// What these credentials prove. A password that must be replaced proves nothing until a
    /// new one that meets the policy comes with it.
    async fn check(&self, request: &ConsoleRequest<'_>) -> Result<Proven, String> {
        let state = request.state;
        match self {
            Credentials::AccessKey { id, secret } => {
                let found = state.auth.check_secret(id, secret).await.map_err(|e| e.to_string())?;
                Ok(found.map_or(Proven::Not, |(account, user)| {
                    Proven::Owner(SessionOwner { account, user, access_key_id: id.clone(), credential: String::new() })
                }))
            }
            Credentials::Password { account, user, password, new_password } => {
                let checked =
                    state.iam.check_password(account, user, password.clone()).await.map_err(|e| e.to_string())?;
                match (checked, new_password) {
                    (PasswordCheck::Wrong, _) => return Ok(Proven::Not),
                    (PasswordCheck::MustChange, None) => return Ok(Proven::MustChangePassword),
                    (PasswordCheck::MustChange, Some(new)) => {
                        match state.iam.change_own_password(account, user, new.clone()).await {
                            Ok(()) => {}
                            Err(crate::service::Error::PasswordPolicyViolation) => return Ok(Proven::WeakNewPassword),
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    (PasswordCheck::Right, _) => {}
                }
                // The user row spells the name as it was created.
                let stored = state.iam.user(account, user).await.map_err(|e| e.to_string())?;
                let stamp = state.iam.password_stamp(account, user).await.map_err(|e| e.to_string())?;
                Ok(stamp.map_or(Proven::Not, |credential| {
                    Proven::Owner(SessionOwner {
                        account: account.clone(),
                        user: Some(stored.name),
                        access_key_id: String::new(),
                        credential,
                    })
                }))
            }
        }
    }

    /// The sign-in page asking for a new password, the account and user filled in.
    fn new_password_page(&self, error: &str) -> pages::SignIn {
        let (account, user) = match self {
            Credentials::Password { account, user, .. } => (account.clone(), user.clone()),
            Credentials::AccessKey { .. } => (String::new(), String::new()),
        };
        pages::SignIn { error: Some(error.to_owned()), mode: "new-password", account, user }
    }
}

/// How CloudTrail names a user it cannot match in a failed sign-in.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// The sign-in limit's bucket for an address: IPv6 clients are counted by their /64, which
/// one host can hold whole.
fn source_bucket(source_ip: &str) -> String {
    match source_ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        _ => source_ip.to_owned(),
    }
}

/// `POST /console/signin`: checks the credentials, records a `ConsoleLogin` event either way,
/// and starts a session.
pub async fn sign_in(request: &ConsoleRequest<'_>) -> Response {
    if !same_origin(request) {
        return forbidden("The request did not come from this console.");
    }
    let Some(credentials) = Credentials::from_form(request) else {
        let error = Some("Enter an access key and its secret, or an account, a user name and a password.".into());
        return render(StatusCode::BAD_REQUEST, &pages::SignIn::form(error, "key"));
    };
    let mode = credentials.mode();
    let limits = &request.state.limits;
    let by_source = limits.sign_ins.as_ref().is_none_or(|limit| limit.admit(&source_bucket(&request.source_ip)));
    let by_user = match (credentials.user_bucket(), limits.sign_ins.as_ref()) {
        (Some(bucket), Some(limit)) => limit.admit(&bucket),
        _ => true,
    };
    if !(by_source && by_user) {
        let error = Some("Too many sign-in attempts. Wait a moment and try again.".into());
        return render(StatusCode::TOO_MANY_REQUESTS, &pages::SignIn::form(error, mode));
    }
    let proven = match credentials.check(request).await {
        Ok(proven) => proven,
        Err(e) => return unavailable(&e),
    };
    let owner = match proven {
        Proven::Owner(owner) => owner,
        Proven::Not => {
            record_login(request, credentials.claimed(request).await, false).await;
            let error = Some("Your authentication information is incorrect. Please try again.".into());
            return render(StatusCode::UNAUTHORIZED, &pages::SignIn::form(error, mode));
        }
        Proven::MustChangePassword => {
            let page = credentials.new_password_page("You must choose a new password before you continue.");
            return render(StatusCode::OK, &page);
        }
        Proven::WeakNewPassword => {
            let page = credentials.new_password_page(
                "The new password must be at least 8 characters and mix three of: uppercase letters, lowercase letters, numbers, symbols.",
            );
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let actor = Actor {
        account: owner.account.clone(),
        identity: Identity::of_user(owner.user.clone()),
        access_key_id: owner.access_key_id.clone(),
    };
    let (token, _) = match request.state.sessions.start(owner).await {
        Ok(started) => started,
        Err(e) => return unavailable(&e),
    };
    record_login(request, actor, true).await;
    let mut response = see_other(&format!("{}/?region={}", super::ROOT, request.region()));
    let secure = if request.secure { "; Secure" } else { "" };
    let max_age = IDLE_MS / 1000;
    let cookie = format!("{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}", *token);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// CloudTrail's `ConsoleLogin` event, for a success or a failure.
async fn record_login(request: &ConsoleRequest<'_>, actor: Actor, succeeded: bool) {
    let call = ApiCall {
        actor,
        region: crate::api::auth::DEFAULT_REGION.to_owned(),
        event_source: "signin.amazonaws.com",
        event_name: "ConsoleLogin".into(),
        read_only: false,
        source_ip: request.source_ip.clone(),
        user_agent: request.user_agent(),
        parameters: serde_json::Value::Null,
        resources: Vec::new(),
        error: (!succeeded).then(|| ("Failed authentication".to_owned(), "Failed authentication".to_owned())),
        request_id: request.request_id.clone(),
    };
    if !request.state.audit.api_call(call, UnitOfWork::alone()).await {
        tracing::error!("the audit record of a console sign-in was not committed");
    }
}

/// `POST /console/signout`: ends the session and forgets the cookie.
pub async fn sign_out(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(require_change(request).await);
    if let Err(e) = request.state.sessions.end(&signed.session).await {
        return unavailable(&e);
    }
    let mut response = see_other(super::ROOT);
    let cookie = format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

impl Shell {
    /// The header and navigation of a signed-in page.
    pub fn new(request: &ConsoleRequest<'_>, signed: &Signed, active: &'static str) -> Self {
        Shell {
            region: request.region(),
            regions: crate::service::regions::REGIONS.to_vec(),
            identity: signed.identity(),
            csrf: signed.session.csrf.clone(),
            active,
        }
    }
}

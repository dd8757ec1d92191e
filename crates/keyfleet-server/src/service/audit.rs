//! The audit log: every API call and every SSH authentication attempt, as CloudTrail-shaped
//! JSON records, appended to the store and, optionally, to a JSON-lines file.
//!
//! Records go through one writer task that commits them in batches (group commit), so a
//! burst of calls costs one transaction, not one each. A call that changes something waits
//! for its record to be committed before it is answered; a read-only call and an SSH attempt
//! do not wait, so a crash can lose at most the read-only records of the last batch.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{Result, now_ms};
use crate::common::ids;
use crate::store::{AuditQuery, AuditRow, Scope, Store, UnitOfWork};

/// The largest batch one transaction commits.
const BATCH: usize = 256;

/// Who a caller is within its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The account's root (the admin key, `--dev`).
    Root,
    /// An IAM user (with its own key, or a GetSessionToken session of it).
    User(String),
    /// A session of an assumed role (STS AssumeRole).
    Role(RoleSession),
}

/// An assumed role's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSession {
    /// The role's name.
    pub role: String,
    /// The role's path (`/`, `/service-role/`).
    pub path: String,
    /// The role's `AROA…` id.
    pub role_id: String,
    /// `RoleSessionName`.
    pub session: String,
}

impl Identity {
    /// The identity of a key that belongs to `user`, or to the root when `None`.
    pub fn of_user(user: Option<String>) -> Self {
        user.map_or(Identity::Root, Identity::User)
    }

    /// The IAM user, if the caller is one.
    pub fn user(&self) -> Option<&str> {
        match self {
            Identity::User(name) => Some(name),
            _ => None,
        }
    }
}

/// Who made an API call.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account.
    pub account: String,
    /// Who, within it.
    pub identity: Identity,
    /// The access key that signed the request (empty if unsigned in `--dev`).
    pub access_key_id: String,
}

impl Actor {
    /// `arn:aws:iam::ACCOUNT:user/NAME`, `arn:aws:iam::ACCOUNT:root` or
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub fn arn(&self) -> String {
        match &self.identity {
            Identity::User(user) => format!("arn:aws:iam::{}:user/{user}", self.account),
            Identity::Root => format!("arn:aws:iam::{}:root", self.account),
            Identity::Role(s) => format!("arn:aws:sts::{}:assumed-role/{}/{}", self.account, s.role, s.session),
        }
    }

    /// `aws:PrincipalArn`: for a role's session, the role's own ARN.
    pub fn principal_arn(&self) -> String {
        match &self.identity {
            Identity::Role(s) => format!("arn:aws:iam::{}:role{}{}", self.account, s.path, s.role),
            _ => self.arn(),
        }
    }

    /// The `Username` CloudTrail shows (a role session's name).
    pub fn username(&self) -> &str {
        match &self.identity {
            Identity::User(user) => user,
            Identity::Root => "root",
            Identity::Role(s) => &s.session,
        }
    }

    /// The IAM user, if the caller is one.
    pub fn user(&self) -> Option<&str> {
        self.identity.user()
    }

    /// Whether the caller signed with GetSessionToken's credentials: a user's or the root's
    /// own temporary key, which AWS keeps from IAM.
    pub fn is_own_session(&self) -> bool {
        self.access_key_id.starts_with("ASIA") && !matches!(self.identity, Identity::Role(_))
    }
}

/// One API call, as the edge saw it.
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// The caller.
    pub actor: Actor,
    /// The region.
    pub region: String,
    /// `ec2.amazonaws.com`, `ssm.amazonaws.com`, …
    pub event_source: &'static str,
    /// The action, e.g. `CreateKeyPair`.
    pub event_name: String,
    /// CloudTrail's `readOnly`: the action changes nothing (its record is not waited for).
    pub read_only: bool,
    /// The caller's address.
    pub source_ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// Request parameters, secrets already redacted.
    pub parameters: Value,
    /// `(type, name)` of the resources the call named.
    pub resources: Vec<(String, String)>,
    /// The AWS error code and message, if it failed.
    pub error: Option<(String, String)>,
    /// The request id.
    pub request_id: String,
}

/// One SSH public-key authentication attempt on a built-in instance.
#[derive(Debug, Clone)]
pub struct SshAttempt {
    /// The instance's scope.
    pub scope: Scope,
    /// `i-…`.
    pub instance_id: String,
    /// The OS user asked for.
    pub os_user: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    /// The key pair the key belongs to, when known.
    pub key_name: Option<String>,
    /// `authorized_keys` or `instance-connect`, when accepted.
    pub method: Option<&'static str>,
    /// The client's address.
    pub source_ip: String,
    /// Why it was refused; `None` when accepted.
    pub refusal: Option<&'static str>,
}

/// A record, who waits for its commit, and whether it is already stored (it went in with the
/// change it records, and only the file is left to write).
/// A record, who waits to hear whether it was stored, and whether it already is.
type Queued = (AuditRow, Option<oneshot::Sender<bool>>, bool);

/// The audit log's writer.
pub struct Audit {
    queue: mpsc::Sender<Queued>,
    store: Arc<dyn Store>,
}

impl Audit {
    /// Starts the writer task; records also go to `file` (appended, JSON lines) if given.
    pub fn start(store: Arc<dyn Store>, file: Option<&Path>) -> std::io::Result<Self> {
        let file = match file {
            Some(path) => {
                use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
                let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
                // An existing file keeps its mode on open: records hold who did what, from where.
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                Some(file)
            }
            None => None,
        };
        let (queue, receiver) = mpsc::channel(8192);
        tokio::spawn(write_batches(store.clone(), file, receiver));
        Ok(Audit { queue, store })
    }

    /// Records an API call, ending its unit of `work`; waits for the commit unless the call was
    /// read-only. When the call's first write is still held open (see [`UnitOfWork`]) the
    /// record is committed in the same transaction. False if the record was not committed: then
    /// the call must fail.
    pub async fn api_call(&self, call: ApiCall, work: UnitOfWork) -> bool {
        let row = storable(api_call_row(call));
        let row = match work.finish() {
            Some(held) => match held.commit_with(vec![row.clone()]).await {
                Ok(Ok(())) => {
                    let _ = self.queue.send((row, None, true)).await;
                    return true;
                }
                Ok(Err(_)) => return false,
                // The batch committed the change without waiting for its record.
                Err(mut rows) => rows.pop().unwrap_or(row),
            },
            None => row,
        };
        if row.read_only {
            let _ = self.queue.send((row, None, false)).await;
            return true;
        }
        // A record that was not stored is never reported as committed: the call fails.
        let (done, committed) = oneshot::channel();
        if self.queue.send((row, Some(done), false)).await.is_err() {
            return false;
        }
        committed.await.unwrap_or(false)
    }

    /// Records an SSH authentication attempt (never blocks the SSH server).
    pub fn ssh_attempt(&self, attempt: SshAttempt) {
        if let Err(e) = self.queue.try_send((storable(ssh_attempt_row(attempt)), None, false)) {
            tracing::error!(error = %e, "audit queue full: ssh attempt not recorded");
        }
    }

    /// Records of one scope, newest first.
    pub async fn lookup(&self, scope: &Scope, query: &AuditQuery) -> Result<Vec<AuditRow>> {
        Ok(self.store.audit_events(scope, query).await?)
    }
}

async fn write_batches(store: Arc<dyn Store>, mut file: Option<std::fs::File>, mut receiver: mpsc::Receiver<Queued>) {
    let mut batch: Vec<Queued> = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let entries = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        let outcomes = store_all(&store, &entries).await;
        if let Some(f) = file.as_mut() {
            let mut lines = String::new();
            for (row, ..) in &entries {
                lines.push_str(&row.record);
                lines.push('\n');
            }
            if let Err(e) = f.write_all(lines.as_bytes()).and_then(|()| f.sync_data()) {
                tracing::error!(error = %e, "audit file not written");
            }
        }
        for ((_, waiter, _), stored) in entries.into_iter().zip(outcomes) {
            if let Some(waiter) = waiter {
                let _ = waiter.send(stored);
            }
        }
    }
}

/// Stores the records not yet stored, in one transaction; if that fails, each on its own, so
/// that one record the store refuses fails its own call only. Whether each record is stored.
async fn store_all(store: &Arc<dyn Store>, entries: &[(AuditRow, Option<oneshot::Sender<bool>>, bool)]) -> Vec<bool> {
    let unstored: Vec<AuditRow> = entries.iter().filter(|e| !e.2).map(|e| e.0.clone()).collect();
    if unstored.is_empty() || store.append_audit(&unstored).await.is_ok() {
        return vec![true; entries.len()];
    }
    let mut outcomes = Vec::with_capacity(entries.len());
    for (row, _, already) in entries {
        let stored = match already {
            true => true,
            false => match store.append_audit(std::slice::from_ref(row)).await {
                Ok(()) => true,
                Err(e) => {
                    // The record still reaches the log and, if configured, the file; its call fails.
                    tracing::error!(error = %e, event = %row.event_id, "audit record not stored");
                    false
                }
            },
        };
        outcomes.push(stored);
    }
    outcomes
}

/// The record with no NUL in its columns: PostgreSQL's text refuses NUL, and a name, user
/// agent or SSH user name can carry one. (The JSON record escapes it.)
fn storable(mut row: AuditRow) -> AuditRow {
    let clean = |text: &mut String| {
        if text.contains('\0') {
            *text = text.replace('\0', "\u{fffd}");
        }
    };
    for column in [&mut row.account, &mut row.region, &mut row.event_name, &mut row.event_source, &mut row.username] {
        clean(column);
    }
    clean(&mut row.access_key);
    for (kind, name) in &mut row.resources {
        clean(kind);
        clean(name);
    }
    clean(&mut row.record);
    row
}

/// [`redact`] for a form parameter's text.
pub fn redact_text(name: &str, value: &str) -> Value {
    match redact(name, &Value::Null) {
        Value::Null => Value::String(value.to_owned()),
        hidden => hidden,
    }
}

/// Replaces a request parameter's value when it may hold a secret, as CloudTrail does with
/// `HIDDEN_DUE_TO_SECURITY_REASONS` (a parameter's `Value`, anything named secret or password,
/// and RunInstances' `UserData`, which scripts fill with credentials, and CloudFormation's
/// parameter values, which may be `NoEcho`). A secret's value is never copied, not even to be dropped: `value` is cloned only when it is
/// kept.
pub fn redact(name: &str, value: &Value) -> Value {
    let lower = name.to_ascii_lowercase();
    let secret = ["secret", "password", "privatekey", "userdata", "parametervalue"].iter().any(|s| lower.contains(s));
    if lower == "value" || secret { Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into()) } else { value.clone() }
}

fn api_call_row(call: ApiCall) -> AuditRow {
    let time_ms = now_ms();
    let event_id = ids::request_id();
    let read_only = call.read_only;
    let actor = &call.actor;
    let identity = match &actor.identity {
        Identity::User(user) => json!({"type": "IAMUser", "principalId": actor.access_key_id, "arn": actor.arn(),
                             "accountId": actor.account, "accessKeyId": actor.access_key_id, "userName": user}),
        Identity::Root => json!({"type": "Root", "principalId": actor.account, "arn": actor.arn(),
                       "accountId": actor.account, "accessKeyId": actor.access_key_id}),
        Identity::Role(session) => json!({
            "type": "AssumedRole",
            "principalId": format!("{}:{}", session.role_id, session.session),
            "arn": actor.arn(),
            "accountId": actor.account,
            "accessKeyId": actor.access_key_id,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": session.role_id, "arn": actor.principal_arn(),
                                  "accountId": actor.account, "userName": session.role},
                "attributes": {"mfaAuthenticated": "false"}
            }
        }),
    };
    let (error_code, error_message) = call.error.clone().unzip();
    let record = json!({
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": crate::common::time::iso8601(time_ms),
        "eventSource": call.event_source,
        "eventName": call.event_name,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
        "errorCode": error_code,
        "errorMessage": error_message,
        "requestParameters": call.parameters,
        "responseElements": Value::Null,
        "requestID": call.request_id,
        "eventID": event_id,
        "readOnly": read_only,
        "resources": resources_json(&call.resources, &actor.account),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": actor.account,
    });
    AuditRow {
        seq: 0,
        event_id,
        account: actor.account.clone(),
        region: call.region,
        time_ms,
        event_name: call.event_name,
        event_source: call.event_source.to_owned(),
        username: actor.username().to_owned(),
        access_key: actor.access_key_id.clone(),
        read_only,
        resources: call.resources,
        record: record.to_string(),
    }
}

fn ssh_attempt_row(attempt: SshAttempt) -> AuditRow {
    let time_ms = now_ms();
    let event_id = ids::request_id();
    let mut resources = vec![("AWS::EC2::Instance".to_owned(), attempt.instance_id.clone())];
    if let Some(name) = &attempt.key_name {
        resources.push(("AWS::EC2::KeyPair".to_owned(), name.clone()));
    }
    let record = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "OSUser", "userName": attempt.os_user},
        "eventTime": crate::common::time::iso8601(time_ms),
        "eventSource": "ssh.keyfleet",
        "eventName": "SSHAuthentication",
        "awsRegion": attempt.scope.region,
        "sourceIPAddress": attempt.source_ip,
        // A connection its security groups refused never reached authentication.
        "errorCode": attempt.refusal.map(|_| if attempt.os_user.is_empty() { "ConnectionRefused" } else { "AuthenticationRefused" }),
        "errorMessage": attempt.refusal,
        "additionalEventData": {
            "instanceId": attempt.instance_id,
            "osUser": attempt.os_user,
            "fingerprint": attempt.fingerprint,
            "keyPairName": attempt.key_name,
            "method": attempt.method,
            "result": if attempt.refusal.is_none() { "Accepted" } else { "Refused" },
        },
        "eventID": event_id,
        "readOnly": false,
        "resources": resources_json(&resources, &attempt.scope.account),
        "eventType": "SshAuthentication",
        "recipientAccountId": attempt.scope.account,
    });
    AuditRow {
        seq: 0,
        event_id,
        account: attempt.scope.account,
        region: attempt.scope.region,
        time_ms,
        event_name: "SSHAuthentication".into(),
        event_source: "ssh.keyfleet".into(),
        username: attempt.os_user,
        access_key: String::new(),
        read_only: false,
        resources,
        record: record.to_string(),
    }
}

fn resources_json(resources: &[(String, String)], account: &str) -> Value {
    resources.iter().map(|(kind, name)| json!({"type": kind, "name": name, "accountId": account})).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Actor, ApiCall, Audit, Identity, UnitOfWork};
    use crate::store::sql::SqlStore;

    fn call(event_name: &str) -> ApiCall {
        ApiCall {
            actor: Actor { account: "111122223333".into(), identity: Identity::Root, access_key_id: "AKIA".into() },
            region: "us-east-1".into(),
            event_source: "ec2.amazonaws.com",
            event_name: event_name.into(),
            read_only: false,
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            parameters: serde_json::Value::Null,
            resources: Vec::new(),
            error: None,
            request_id: "r-1".into(),
        }
    }

    /// A change whose audit record the store refuses is not reported as committed, so the
    /// call fails instead of answering success with no record of it.
    #[tokio::test]
    async fn a_record_the_store_refuses_fails_its_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Arc::new(SqlStore::open_sqlite(&path).await.unwrap());
        let audit = Audit::start(store, None).unwrap();
        assert!(audit.api_call(call("CreateKeyPair"), UnitOfWork::alone()).await, "a stored record is committed");
        let refuse = "CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END;";
        rusqlite::Connection::open(&path).unwrap().execute_batch(refuse).unwrap();
        assert!(
            !audit.api_call(call("DeleteKeyPair"), UnitOfWork::alone()).await,
            "a refused record was reported as committed"
        );
    }

    /// One record the store refuses fails its own call, not the calls whose records shared
    /// its batch; and no column keeps a NUL (PostgreSQL's text refuses it).
    #[tokio::test]
    async fn a_refused_record_fails_only_its_own_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Arc::new(SqlStore::open_sqlite(&path).await.unwrap());
        let refuse = "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.event_name = 'Bad'
                      BEGIN SELECT RAISE(ABORT, 'refused'); END;";
        rusqlite::Connection::open(&path).unwrap().execute_batch(refuse).unwrap();
        let audit = Audit::start(store, None).unwrap();
        let (bad, good, other) = tokio::join!(
            audit.api_call(call("Bad"), UnitOfWork::alone()),
            audit.api_call(call("Good"), UnitOfWork::alone()),
            audit.api_call(call("Other"), UnitOfWork::alone())
        );
        assert_eq!((bad, good, other), (false, true, true));
        let row = super::storable(super::api_call_row(call("Nul\0Name")));
        assert_eq!(row.event_name, "Nul\u{fffd}Name");
    }
}

//! The policy check every action passes: the caller's identity, the resources an action
//! names (as ARNs, with the condition keys IAM defines for them), and the answer in the
//! service's own error shape. Root (admin) keys and `--dev` callers have full access.

use std::sync::Mutex;

use axum::http::StatusCode;

use super::error::ApiError;
use crate::service::audit::Actor;
use crate::service::policy::{self, ConditionContext, Decision, Policy};
use crate::store::{Scope, Tag};

/// The services on this endpoint: how they name themselves and how they refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// EC2 (Query/XML).
    Ec2,
    /// IAM (Query/XML).
    Iam,
    /// STS (Query/XML).
    Sts,
    /// Systems Manager (JSON 1.1).
    Ssm,
    /// EC2 Instance Connect (JSON 1.1).
    InstanceConnect,
    /// CloudTrail (JSON 1.1).
    CloudTrail,
    /// CloudFormation (Query/XML).
    CloudFormation,
    /// EC2 Auto Scaling (Query/XML).
    AutoScaling,
}

impl Service {
    /// CloudTrail's `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2.amazonaws.com",
            Service::Iam => "iam.amazonaws.com",
            Service::Sts => "sts.amazonaws.com",
            Service::Ssm => "ssm.amazonaws.com",
            Service::InstanceConnect => "ec2-instance-connect.amazonaws.com",
            Service::CloudTrail => "cloudtrail.amazonaws.com",
            Service::CloudFormation => "cloudformation.amazonaws.com",
            Service::AutoScaling => "autoscaling.amazonaws.com",
        }
    }

    fn denial(self, message: String) -> ApiError {
        match self {
            Service::Ec2 => ApiError::custom(
                "UnauthorizedOperation",
                format!("You are not authorized to perform this operation. {message}"),
                StatusCode::FORBIDDEN,
            ),
            Service::Iam | Service::Sts | Service::CloudFormation | Service::AutoScaling => {
                ApiError::custom("AccessDenied", message, StatusCode::FORBIDDEN)
            }
            Service::Ssm | Service::CloudTrail => {
                ApiError::custom("AccessDeniedException", message, StatusCode::BAD_REQUEST)
            }
            Service::InstanceConnect => ApiError::custom("AccessDeniedException", message, StatusCode::FORBIDDEN),
        }
    }
}

/// The authenticated caller and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who, for the audit log and for messages.
    pub actor: Actor,
    /// The user's policies; `None` for full access (root and `--dev`).
    pub policies: Option<Vec<Policy>>,
    /// The caller's address (`aws:SourceIp`).
    pub source_ip: String,
    /// The request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// One resource an action touches: its ARN and the condition keys that describe it.
#[derive(Debug, Clone)]
pub struct Target {
    arn: String,
    audit: Option<(&'static str, String)>,
    keys: ConditionContext,
}

impl Target {
    /// Actions without resource-level permissions (every `Describe*`) are checked on `*`.
    pub fn any() -> Self {
        Target { arn: "*".into(), audit: None, keys: ConditionContext::default() }
    }

    fn new(arn: String, audit: (&'static str, &str)) -> Self {
        Target { arn, audit: Some((audit.0, audit.1.to_owned())), keys: ConditionContext::default() }
    }

    /// `arn:aws:ec2:REGION:ACCOUNT:key-pair/NAME`, with `ec2:KeyPairName`.
    pub fn key_pair(scope: &Scope, name: &str) -> Self {
        let arn = format!("arn:aws:ec2:{}:{}:key-pair/{name}", scope.region, scope.account);
        Target::new(arn, ("AWS::EC2::KeyPair", name)).with_key("ec2:KeyPairName", name)
    }

    /// `arn:aws:ec2:REGION:ACCOUNT:instance/ID` (`*` for one that does not exist yet).
    pub fn instance(scope: &Scope, id: &str) -> Self {
        let arn = format!("arn:aws:ec2:{}:{}:instance/{id}", scope.region, scope.account);
        match id {
            "*" => Target { arn, audit: None, keys: ConditionContext::default() },
            _ => Target::new(arn, ("AWS::EC2::Instance", id)),
        }
    }

    /// Another EC2 resource, by its id's prefix (`vol-`, …): `…:TYPE/ID`.
    pub fn ec2_resource(scope: &Scope, kind: &str, id: &str) -> Self {
        let arn = format!("arn:aws:ec2:{}:{}:{kind}/{id}", scope.region, scope.account);
        Target { arn, audit: None, keys: ConditionContext::default() }
    }

    /// `arn:aws:ec2:REGION:ACCOUNT:launch-template/lt-…`.
    pub fn launch_template(scope: &Scope, id: &str) -> Self {
        let arn = format!("arn:aws:ec2:{}:{}:launch-template/{id}", scope.region, scope.account);
        match id {
            "*" => Target { arn, audit: None, keys: ConditionContext::default() },
            _ => Target::new(arn, ("AWS::EC2::LaunchTemplate", id)),
        }
    }

    /// `arn:aws:ec2:REGION::image/AMI` (images belong to no account).
    pub fn image(scope: &Scope, id: &str) -> Self {
        Target::new(format!("arn:aws:ec2:{}::image/{id}", scope.region), ("AWS::EC2::Ami", id))
    }

    /// `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME` (a leading `/` is not doubled).
    pub fn parameter(scope: &Scope, name: &str) -> Self {
        let path = name.strip_prefix('/').unwrap_or(name);
        let arn = format!("arn:aws:ssm:{}:{}:parameter/{path}", scope.region, scope.account);
        Target::new(arn, ("AWS::SSM::Parameter", name))
    }

    /// An SSM resource by type: `automation-definition/NAME:$DEFAULT`, `automation-execution/ID`.
    pub fn ssm_resource(scope: &Scope, kind: &str, name: &str) -> Self {
        let arn = format!("arn:aws:ssm:{}:{}:{kind}/{name}", scope.region, scope.account);
        Target::new(arn, ("AWS::SSM::ManagedInstance", name)).without_audit()
    }

    /// A CloudFormation stack: its id, or `…:stack/NAME/*` for a name.
    pub fn stack(arn: String, name: &str) -> Self {
        Target::new(arn, ("AWS::CloudFormation::Stack", name))
    }

    /// `arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:UUID:autoScalingGroupName/NAME`
    /// (`*` for the UUID of a group being made).
    pub fn auto_scaling_group(scope: &Scope, uuid: &str, name: &str) -> Self {
        let arn = crate::service::auto_scaling::group_arn(scope, uuid, name);
        Target::new(arn, ("AWS::AutoScaling::AutoScalingGroup", name))
    }

    /// `arn:aws:iam::ACCOUNT:user/NAME`.
    pub fn iam_user(account: &str, name: &str) -> Self {
        Target::new(format!("arn:aws:iam::{account}:user/{name}"), ("AWS::IAM::User", name))
    }

    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub fn iam_role(account: &str, path: &str, name: &str) -> Self {
        Target::new(format!("arn:aws:iam::{account}:role{path}{name}"), ("AWS::IAM::Role", name))
    }

    /// `arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME`.
    pub fn iam_instance_profile(account: &str, path: &str, name: &str) -> Self {
        Target::new(format!("arn:aws:iam::{account}:instance-profile{path}{name}"), ("AWS::IAM::InstanceProfile", name))
    }

    /// A role by its ARN, as AssumeRole names it.
    pub fn role_arn(arn: &str) -> Self {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        Target::new(arn.to_owned(), ("AWS::IAM::Role", name))
    }

    /// A managed policy by its ARN.
    pub fn iam_policy(arn: &str) -> Self {
        Target::new(arn.to_owned(), ("AWS::IAM::Policy", arn))
    }

    fn without_audit(mut self) -> Self {
        self.audit = None;
        self
    }

    /// Adds a condition key.
    pub fn with_key(mut self, key: &str, value: &str) -> Self {
        self.keys.add(key, value);
        self
    }

    /// The resource's own tags, as `aws:ResourceTag/KEY`.
    pub fn with_resource_tags(mut self, tags: &[Tag]) -> Self {
        for tag in tags {
            self.keys.add(&format!("aws:ResourceTag/{}", tag.key), tag.value.as_str());
        }
        self
    }

    /// Tags the request asks for, as `aws:RequestTag/KEY` and `aws:TagKeys`.
    pub fn with_request_tags(mut self, tags: &[Tag]) -> Self {
        self.keys.declare("aws:TagKeys");
        for tag in tags {
            self.keys.add(&format!("aws:RequestTag/{}", tag.key), tag.value.as_str());
            self.keys.add("aws:TagKeys", tag.key.as_str());
        }
        self
    }
}

/// What one request did about authorization, for the edge and the audit log.
#[derive(Debug, Default)]
pub struct Trail {
    resources: Mutex<Vec<(String, String)>>,
}

impl Trail {
    /// Records a resource a request names without being authorized on it (the names a
    /// `Describe*` call asks for), so that lookups by resource name find the call.
    pub fn note(&self, kind: &'static str, name: &str) {
        let mut resources = self.resources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !resources.iter().any(|(k, n)| k == kind && n == name) {
            resources.push((kind.to_owned(), name.to_owned()));
        }
    }

    /// The resources the request named, as `(type, name)`.
    pub fn resources(&self) -> Vec<(String, String)> {
        self.resources.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Checks `action` on every target for `principal`. Records the targets in `trail`. Only
/// the operation pipeline and Automation's step guard call it.
pub(in crate::api) fn check(
    principal: &Principal,
    service: Service,
    scope: &Scope,
    trail: &Trail,
    action: &str,
    targets: &[Target],
) -> Result<(), ApiError> {
    for (kind, name) in targets.iter().filter_map(|t| t.audit.as_ref()) {
        trail.note(kind, name);
    }
    refuse_own_session_in_iam(principal, service)?;
    if principal.actor.is_own_session() && !own_session_may(service, action) {
        return Err(service.denial(denial_message(principal, action, "*", Decision::ImplicitDeny)));
    }
    let Some(policies) = &principal.policies else { return Ok(()) };
    for target in targets {
        let mut keys = target.keys.clone();
        add_request_keys(&mut keys, principal, scope);
        let decision = policy::evaluate(policies, &policy::Request { action, resource: &target.arn, context: &keys });
        if decision != Decision::Allow {
            return Err(service.denial(denial_message(principal, action, &target.arn, decision)));
        }
    }
    Ok(())
}

/// GetSessionToken's credentials at IAM: answered as if IAM did not know them (it wants MFA).
pub(in crate::api) fn refuse_own_session_in_iam(principal: &Principal, service: Service) -> Result<(), ApiError> {
    match service == Service::Iam && principal.actor.is_own_session() {
        true => Err(ApiError::from_auth(super::auth::AuthError::InvalidToken, service)),
        false => Ok(()),
    }
}

/// What GetSessionToken's credentials may do: no IAM, and of STS only AssumeRole (and
/// GetCallerIdentity, which needs no check).
fn own_session_may(service: Service, action: &str) -> bool {
    match service {
        Service::Iam => false,
        Service::Sts => action == "sts:AssumeRole",
        _ => true,
    }
}

/// The condition keys every request has: where it came from and who made it.
pub fn add_request_keys(keys: &mut ConditionContext, principal: &Principal, scope: &Scope) {
    keys.add("aws:SourceIp", principal.source_ip.as_str());
    keys.add("aws:SecureTransport", if principal.secure_transport { "true" } else { "false" });
    keys.add("aws:RequestedRegion", scope.region.as_str());
    keys.add("aws:PrincipalAccount", principal.actor.account.as_str());
    keys.add("aws:PrincipalArn", principal.actor.principal_arn());
    // Only users have one: a role's session name is the caller's to choose.
    if let Some(user) = principal.actor.user() {
        keys.add("aws:username", user);
    }
}

fn denial_message(principal: &Principal, action: &str, resource: &str, decision: Decision) -> String {
    let on = if resource == "*" { String::new() } else { format!(" on resource: {resource}") };
    let why = match decision {
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    format!("User: {} is not authorized to perform: {action}{on} {why}", principal.actor.arn())
}

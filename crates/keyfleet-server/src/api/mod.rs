//! The HTTP edge: one port for every service. A request flows
//! `http.rs` (read, limits) → `auth/` (SigV4: account, region) → `protocol/` (decode)
//! → the service's table of operations (`ec2/`, …) → `operation.rs` (decode, authorize, call,
//! encode) → `service/` → `protocol/` (frame) or `error.rs`.

pub mod auth;
pub mod authorize;
pub mod autoscaling;
pub mod cloudformation;
pub mod cloudtrail;
mod console;
pub mod ec2;
pub mod error;
mod http;
pub mod iam;
pub mod instance_connect;
mod limits;
pub mod listener;
pub mod operation;
pub mod protocol;
pub mod ssm;
pub mod sts;

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::service::audit::Audit;
use crate::service::automation::Automation;
use crate::service::iam::Iam;
use crate::service::instance_connect::InstanceConnect;
use crate::service::instances::Instances;
use crate::service::key_pairs::KeyPairs;
use crate::service::parameters::Parameters;
use crate::service::tags::Tags;
use crate::store::{Scope, UnitOfWork};

pub use http::{Limits, router};

/// What every handler can reach.
pub struct AppState {
    /// Key pair operations.
    pub key_pairs: KeyPairs,
    /// Tag operations.
    pub tags: Tags,
    /// Built-in instances.
    pub instances: Arc<Instances>,
    /// The default VPC, its subnets and zones.
    pub network: Arc<crate::service::network::Network>,
    /// EC2 Auto Scaling groups.
    pub auto_scaling: Arc<crate::service::auto_scaling::AutoScaling>,
    /// EC2 launch templates.
    pub launch_templates: Arc<crate::service::launch_templates::LaunchTemplates>,
    /// Security groups.
    pub security_groups: Arc<crate::service::security_groups::SecurityGroups>,
    /// Parameter Store.
    pub parameters: Arc<Parameters>,
    /// Automation runbooks.
    pub automation: Arc<Automation>,
    /// CloudFormation stacks.
    pub stacks: Arc<crate::service::cloudformation::Stacks>,
    /// EC2 Instance Connect.
    pub instance_connect: InstanceConnect,
    /// Readiness.
    pub health: crate::service::Health,
    /// Users, access keys and policies.
    pub iam: Arc<Iam>,
    /// The audit log.
    pub audit: Arc<Audit>,
    /// How callers are authenticated.
    pub auth: auth::Authenticator,
    /// Edge limits: sizes, counts, rates.
    pub limits: Limits,
    /// `--dev`: any credentials, and `POST /moto-api/reset`.
    pub dev: bool,
    /// The web console's sessions.
    pub sessions: crate::service::console::Sessions,
}

/// One authenticated request on its way through an action. It has no way to authorize:
/// the pipeline in `operation.rs` does that before the action's service call.
pub struct Context<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// The caller's (account, region).
    pub scope: Scope,
    /// This request's id, echoed as `requestId`.
    pub request_id: &'a str,
    /// Who is calling and what they may do.
    pub principal: &'a authorize::Principal,
    /// The service the request is for.
    pub service: authorize::Service,
    /// The request's writes, which the pipeline ends with the audit record.
    pub work: &'a UnitOfWork,
}

impl Context<'_> {
    /// True when the caller has full access, so resource lookups for the check can be skipped.
    pub fn unrestricted(&self) -> bool {
        self.principal.policies.is_none()
    }
}

/// A successful response body. It may hold a private key, so it zeroizes on drop.
pub type Reply = Zeroizing<String>;

/// Lets the response body own the zeroizing buffer, so the private key in a
/// `CreateKeyPair` response is wiped when hyper drops the body.
pub(crate) struct ZeroizingBody(pub(crate) Zeroizing<String>);

impl AsRef<[u8]> for ZeroizingBody {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

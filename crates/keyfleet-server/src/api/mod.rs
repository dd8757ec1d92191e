//! The HTTP edge: one port for every service. A request flows
//! `http.rs` (read, limits) → `auth/` (SigV4: account, region) → `protocol/` (decode)
//! → the service's action table (`ec2/`) → `service/` → `protocol/` (encode) or `error.rs`.

pub mod auth;
pub mod authorize;
mod cloudtrail;
pub mod ec2;
pub mod error;
mod http;
mod iam;
pub mod instance_connect;
mod limits;
pub mod listener;
pub mod protocol;
pub mod ssm;

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
use crate::store::{Scope, Store};

pub use http::{Limits, router};

/// What every handler can reach.
pub struct AppState {
    /// Key pair operations.
    pub key_pairs: KeyPairs,
    /// Tag operations.
    pub tags: Tags,
    /// Built-in instances.
    pub instances: Arc<Instances>,
    /// Parameter Store.
    pub parameters: Arc<Parameters>,
    /// Automation runbooks.
    pub automation: Arc<Automation>,
    /// EC2 Instance Connect.
    pub instance_connect: InstanceConnect,
    /// The store, for the dev reset and health endpoints.
    pub store: Arc<dyn Store>,
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
}

/// One authenticated request on its way through an action.
#[derive(Clone)]
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
    /// The IAM action of the request, from the service's dispatch table.
    pub action: &'static str,
    /// What was authorized, for the edge and the audit log.
    pub trail: &'a authorize::Trail,
}

impl<'a> Context<'a> {
    /// The same request, once the dispatch table has named its IAM action.
    pub fn for_action(&self, action: &'static str) -> Context<'a> {
        Context { action, ..self.clone() }
    }

    /// Checks the request's IAM action on `targets`.
    pub fn authorize(&self, targets: &[authorize::Target]) -> Result<(), error::ApiError> {
        self.authorize_as(self.action, targets)
    }

    /// Checks another IAM action the request also needs (`ec2:CreateTags` on create-with-tags).
    pub fn authorize_as(&self, action: &str, targets: &[authorize::Target]) -> Result<(), error::ApiError> {
        authorize::check(self.principal, self.service, &self.scope, self.trail, action, targets)
    }

    /// True when the caller has full access, so resource lookups for the check can be skipped.
    pub fn unrestricted(&self) -> bool {
        self.principal.policies.is_none()
    }
}

/// A successful response body. It may hold a private key, so it zeroizes on drop.
pub type Reply = Zeroizing<String>;

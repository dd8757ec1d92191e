//! The HTTP edge: one port for every service. A request flows
//! `http.rs` (read, limits) → `auth/` (SigV4: account, region) → `protocol/` (decode)
//! → the service's action table (`ec2/`) → `service/` → `protocol/` (encode) or `error.rs`.

pub mod auth;
pub mod ec2;
pub mod error;
mod http;
pub mod instance_connect;
pub mod protocol;
pub mod ssm;

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::service::automation::Automation;
use crate::service::instance_connect::InstanceConnect;
use crate::service::instances::Instances;
use crate::service::key_pairs::KeyPairs;
use crate::service::parameters::Parameters;
use crate::service::tags::Tags;
use crate::store::{Scope, Store};

pub use http::router;

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
    /// How callers are authenticated.
    pub auth: auth::Authenticator,
    /// `--dev`: any credentials, and `POST /moto-api/reset`.
    pub dev: bool,
}

/// One authenticated request on its way through an action.
pub struct Context<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// The caller's (account, region).
    pub scope: Scope,
    /// This request's id, echoed as `requestId`.
    pub request_id: &'a str,
}

/// A successful response body. It may hold a private key, so it zeroizes on drop.
pub type Reply = Zeroizing<String>;

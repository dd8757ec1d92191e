//! EC2 Instance Connect's `SendSSHPublicKey` (docs/aws-facts.md, "EC2 Instance Connect"): a
//! pushed key is accepted for one instance and OS user for a short time (60 s on AWS).
//! Sessions opened in that window outlive it. As on AWS, the OS user is not checked at
//! push time.

use std::sync::Arc;
use std::time::Duration;

use super::{Error, Result};
use crate::common::ids;
use crate::runtime::Runtime;
use crate::store::{InstanceState, Scope, Store};

/// How long AWS accepts a pushed key.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// The Instance Connect operations.
pub struct InstanceConnect {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    ttl: Duration,
}

impl InstanceConnect {
    /// Creates the service; `ttl` is how long a pushed key is accepted.
    pub fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>, ttl: Duration) -> Self {
        InstanceConnect { store, runtime, ttl }
    }

    /// `SendSSHPublicKey`: returns the request id AWS reports.
    pub async fn send_ssh_public_key(
        &self,
        scope: &Scope,
        instance_id: &str,
        os_user: &str,
        public_key: &str,
    ) -> Result<String> {
        let key = keyfleet_keys::PublicKey::from_openssh_line(public_key)
            .ok_or_else(|| Error::PushedKeyInvalid("SSH Public key is invalid".into()))?;
        if key.rsa_bits().is_some_and(|bits| bits < 2048) {
            return Err(Error::PushedKeyInvalid("RSA - SSH Public key is invalid".into()));
        }
        let instance = self
            .store
            .instances(scope, &[instance_id.to_owned()])
            .await?
            .pop()
            .ok_or(Error::ConnectInstanceNotFound)?;
        if !matches!(instance.state, InstanceState::Pending | InstanceState::Running) {
            return Err(Error::ConnectInstanceStateInvalid);
        }
        let blob = key.wire_blob()?;
        let key_data = ssh_key::PublicKey::from_bytes(&blob).map_err(|e| Error::Encode(e.into()))?.key_data().clone();
        self.runtime.push_key(instance_id, os_user, key_data, self.ttl);
        Ok(ids::request_id())
    }
}

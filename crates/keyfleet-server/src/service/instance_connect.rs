//! EC2 Instance Connect's `SendSSHPublicKey` (docs/aws-facts.md, "EC2 Instance Connect"): a
//! pushed key is accepted for one instance and OS user for a short time (60 s on AWS).
//! Sessions opened in that window outlive it. As on AWS, the OS user is not checked at
//! push time.

use std::sync::Arc;
use std::time::Duration;

use super::{Error, PushedKey, Result, now_ms};
use crate::common::ids;
use crate::runtime::PushedKeyLookup;
use crate::store::{InstanceState, Scope, Store};

/// How long AWS accepts a pushed key.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// The Instance Connect operations.
pub struct InstanceConnect {
    store: Arc<dyn Store>,
    ttl: Duration,
}

impl InstanceConnect {
    /// Creates the service; `ttl` is how long a pushed key is accepted.
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        InstanceConnect { store, ttl }
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
            .ok_or_else(|| Error::PushedKeyInvalid(PushedKey::Unreadable))?;
        if key.rsa_bits().is_some_and(|bits| bits < 2048) {
            return Err(Error::PushedKeyInvalid(PushedKey::RsaTooShort));
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
        let line =
            ssh_key::PublicKey::from_bytes(&blob).and_then(|k| k.to_openssh()).map_err(|e| Error::Encode(e.into()))?;
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        self.store.push_key(instance_id, os_user, &line, now_ms().saturating_add(ttl_ms)).await?;
        Ok(ids::request_id())
    }
}

/// How the SSH servers find pushed keys: in the store, whichever replica received them.
/// A store that fails answers no keys (the login falls back to `authorized_keys`).
pub fn key_lookup(store: Arc<dyn Store>) -> PushedKeyLookup {
    Arc::new(move |instance_id: String, os_user: String| {
        let store = store.clone();
        Box::pin(async move {
            let lines = match store.pushed_keys(&instance_id, &os_user, now_ms()).await {
                Ok(lines) => lines,
                Err(e) => {
                    tracing::warn!(instance = %instance_id, error = %e, "pushed keys could not be read");
                    Vec::new()
                }
            };
            lines
                .iter()
                .filter_map(|l| ssh_key::PublicKey::from_openssh(l).ok())
                .map(|k| k.key_data().clone())
                .collect()
        })
    })
}

//! EC2 Instance Connect (`X-Amz-Target: AWSEC2InstanceConnectService.<Op>`). The model's
//! constraints are checked here, with its validation message shapes.

use serde_json::{Value, json};

use super::Context;
use super::authorize::Target;
use super::error::ApiError;
use super::protocol::json11::JsonInput;

/// Every Instance Connect operation keyfleet implements, beside its IAM action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    SendSSHPublicKey,
}

impl Operation {
    /// The wire name and the IAM action.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Operation::SendSSHPublicKey => ("SendSSHPublicKey", "ec2-instance-connect:SendSSHPublicKey"),
        }
    }
}

/// Runs one Instance Connect request.
pub async fn dispatch(ctx: &Context<'_>, operation: &str, input: &JsonInput) -> Result<Value, ApiError> {
    if operation != Operation::SendSSHPublicKey.names().0 {
        return Err(ApiError::unknown_operation(operation));
    }
    let ctx = &ctx.for_action(Operation::SendSSHPublicKey.names().1);
    let instance_id = input.required("InstanceId", "instanceId")?;
    let os_user = input.required("InstanceOSUser", "instanceOSUser")?;
    let key = input.required("SSHPublicKey", "sshPublicKey")?;
    let hex_id = instance_id
        .strip_prefix("i-")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if !(10..=32).contains(&instance_id.len()) || !hex_id {
        return Err(pattern_error(instance_id, "instanceId", "^i-[a-f0-9]+$"));
    }
    if !valid_os_user(os_user) {
        return Err(pattern_error(os_user, "instanceOSUser", "^[A-Za-z_][A-Za-z0-9\\@\\._-]{0,30}[A-Za-z0-9\\$_-]?$"));
    }
    if !(80..=4096).contains(&key.len()) {
        return Err(ApiError::invalid_args(format!(
            "1 validation error detected: Value at 'sshPublicKey' failed to satisfy constraint: Member must have length between 80 and 4096 (got {})",
            key.len()
        )));
    }
    let tags = if ctx.unrestricted() {
        Vec::new()
    } else {
        let rows = ctx.state.store.instances(&ctx.scope, &[instance_id.to_owned()]).await;
        rows.map_err(|e| ApiError::internal(&e))?.into_iter().next().map(|r| r.tags).unwrap_or_default()
    };
    let target = Target::instance(&ctx.scope, instance_id).with_resource_tags(&tags).with_key("ec2:osuser", os_user);
    ctx.authorize(&[target])?;
    let request_id = ctx.state.instance_connect.send_ssh_public_key(&ctx.scope, instance_id, os_user, key).await?;
    Ok(json!({"RequestId": request_id, "Success": true}))
}

fn pattern_error(value: &str, member: &str, pattern: &str) -> ApiError {
    ApiError::invalid_args(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

/// The common (non-numeric) form of the model's user-name pattern.
fn valid_os_user(user: &str) -> bool {
    let bytes = user.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else { return false };
    let middle_ok = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'-');
    (1..=32).contains(&bytes.len())
        && (first.is_ascii_alphabetic() || first == b'_')
        && match rest.split_last() {
            None => true,
            Some((last, middle)) => middle.iter().all(middle_ok) && (middle_ok(last) || *last == b'$'),
        }
}

//! EC2 Instance Connect (`X-Amz-Target: AWSEC2InstanceConnectService.<Op>`). The model's
//! constraints are checked here, with its validation message shapes.

use serde_json::{Value, json};

use super::Context;
use super::authorize::Target;
use super::ec2::targets as ec2;
use super::error::ApiError;
use super::operation::{Authorization, Endpoint, Json11, Operation};
use super::protocol::json11::JsonInput;

/// Every Instance Connect operation keyfleet implements.
pub static OPERATIONS: &[Endpoint<Json11>] = &[Endpoint::of::<SendSSHPublicKey>()];

pub(super) struct SendSSHPublicKey;

/// The instance, the OS user and the public key line.
pub(super) struct PushedKey {
    instance_id: String,
    os_user: String,
    key: String,
}

impl Operation for SendSSHPublicKey {
    type Protocol = Json11;
    const NAME: &'static str = "SendSSHPublicKey";
    const ACTION: &'static str = "ec2-instance-connect:SendSSHPublicKey";
    const READ_ONLY: bool = false;
    type Input = PushedKey;
    /// The request id Instance Connect answers with.
    type Output = String;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<PushedKey, ApiError> {
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
            return Err(pattern_error(
                os_user,
                "instanceOSUser",
                "^[A-Za-z_][A-Za-z0-9\\@\\._-]{0,30}[A-Za-z0-9\\$_-]?$",
            ));
        }
        if !(80..=4096).contains(&key.len()) {
            return Err(ApiError::invalid_args(format!(
                "1 validation error detected: Value at 'sshPublicKey' failed to satisfy constraint: Member must have length between 80 and 4096 (got {})",
                key.len()
            )));
        }
        Ok(PushedKey { instance_id: instance_id.to_owned(), os_user: os_user.to_owned(), key: key.to_owned() })
    }

    async fn authorization(ctx: &Context<'_>, input: &PushedKey) -> Result<Authorization, ApiError> {
        let instance = ec2::instances(ctx, std::slice::from_ref(&input.instance_id)).await?.into_iter().next();
        let target = instance.unwrap_or_else(Target::any).with_key("ec2:osuser", &input.os_user);
        Ok(Authorization::on_one(target))
    }

    async fn call(ctx: &Context<'_>, input: PushedKey) -> Result<String, ApiError> {
        let connect = &ctx.state.instance_connect;
        Ok(connect.send_ssh_public_key(&ctx.scope, &input.instance_id, &input.os_user, &input.key).await?)
    }

    fn encode(_: &Context<'_>, request_id: String) -> Value {
        json!({"RequestId": request_id, "Success": true})
    }
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

//! The IAM subset (Query protocol, `Version=2010-05-08`): users, access keys and inline user
//! policies, so that `aws iam …` manages keyfleet's identities. IAM is global: everything
//! here is scoped by the caller's account only.

use super::authorize::Target;
use super::error::ApiError;
use super::protocol::aws_query;
use super::protocol::ec2_query::{QueryParams, timestamp};
use super::protocol::xml::XmlWriter;
use super::{Context, Reply};
use crate::store::{AccessKeyRow, UserRow};

/// Every IAM action keyfleet implements. Anything else is `InvalidAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateUser,
    GetUser,
    DeleteUser,
    ListUsers,
    CreateAccessKey,
    DeleteAccessKey,
    ListAccessKeys,
    PutUserPolicy,
    GetUserPolicy,
    DeleteUserPolicy,
    ListUserPolicies,
}

impl Action {
    /// All actions, for lookup and for the table test.
    pub const ALL: [Action; 11] = [
        Action::CreateUser,
        Action::GetUser,
        Action::DeleteUser,
        Action::ListUsers,
        Action::CreateAccessKey,
        Action::DeleteAccessKey,
        Action::ListAccessKeys,
        Action::PutUserPolicy,
        Action::GetUserPolicy,
        Action::DeleteUserPolicy,
        Action::ListUserPolicies,
    ];

    /// The wire name and the IAM action it is authorized as.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Action::CreateUser => ("CreateUser", "iam:CreateUser"),
            Action::GetUser => ("GetUser", "iam:GetUser"),
            Action::DeleteUser => ("DeleteUser", "iam:DeleteUser"),
            Action::ListUsers => ("ListUsers", "iam:ListUsers"),
            Action::CreateAccessKey => ("CreateAccessKey", "iam:CreateAccessKey"),
            Action::DeleteAccessKey => ("DeleteAccessKey", "iam:DeleteAccessKey"),
            Action::ListAccessKeys => ("ListAccessKeys", "iam:ListAccessKeys"),
            Action::PutUserPolicy => ("PutUserPolicy", "iam:PutUserPolicy"),
            Action::GetUserPolicy => ("GetUserPolicy", "iam:GetUserPolicy"),
            Action::DeleteUserPolicy => ("DeleteUserPolicy", "iam:DeleteUserPolicy"),
            Action::ListUserPolicies => ("ListUserPolicies", "iam:ListUserPolicies"),
        }
    }

    fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.names().0 == name)
    }
}

/// Runs one IAM request.
pub async fn dispatch(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let name = p.required("Action")?;
    let action = Action::parse(name).ok_or_else(|| ApiError::invalid_action(name))?;
    let ctx = &ctx.for_action(action.names().1);
    let account = ctx.scope.account.as_str();
    let iam = &ctx.state.iam;
    let (wire, _) = action.names();
    match action {
        Action::CreateUser => {
            let user = p.required("UserName")?;
            ctx.authorize(&[Target::iam_user(account, user)])?;
            let row = iam.create_user(account, user).await?;
            Ok(reply(ctx, wire, |w| user_element(w, "User", account, &row)))
        }
        Action::GetUser => {
            let user = subject(ctx, p)?;
            ctx.authorize(&[Target::iam_user(account, &user)])?;
            let row = iam.user(account, &user).await?;
            Ok(reply(ctx, wire, |w| user_element(w, "User", account, &row)))
        }
        Action::DeleteUser => {
            let user = p.required("UserName")?;
            ctx.authorize(&[Target::iam_user(account, user)])?;
            iam.delete_user(account, user).await?;
            Ok(aws_query::success(wire, ctx.request_id, None))
        }
        Action::ListUsers => {
            ctx.authorize(&[Target::any()])?;
            let users = iam.users(account).await?;
            Ok(reply(ctx, wire, |w| {
                w.text("IsTruncated", "false").start("Users");
                users.iter().for_each(|u| user_element(w, "member", account, u));
                w.end("Users");
            }))
        }
        Action::CreateAccessKey => {
            let user = subject(ctx, p)?;
            ctx.authorize(&[Target::iam_user(account, &user)])?;
            let created = iam.create_access_key(account, &user).await?;
            Ok(reply(ctx, wire, |w| {
                w.start("AccessKey");
                access_key_fields(w, &created.row);
                w.text("SecretAccessKey", &created.secret).end("AccessKey");
            }))
        }
        Action::DeleteAccessKey => {
            let user = subject(ctx, p)?;
            let id = p.required("AccessKeyId")?;
            ctx.authorize(&[Target::iam_user(account, &user)])?;
            iam.delete_access_key(account, &user, id).await?;
            Ok(aws_query::success(wire, ctx.request_id, None))
        }
        Action::ListAccessKeys => {
            let user = subject(ctx, p)?;
            ctx.authorize(&[Target::iam_user(account, &user)])?;
            let keys = iam.access_keys(account, &user).await?;
            Ok(reply(ctx, wire, |w| {
                w.text("UserName", &user).start("AccessKeyMetadata");
                for key in &keys {
                    w.start("member");
                    access_key_fields(w, key);
                    w.end("member");
                }
                w.end("AccessKeyMetadata").text("IsTruncated", "false");
            }))
        }
        Action::PutUserPolicy => {
            let (user, policy, document) =
                (p.required("UserName")?, p.required("PolicyName")?, p.required("PolicyDocument")?);
            ctx.authorize(&[Target::iam_user(account, user)])?;
            iam.put_user_policy(account, user, policy, document).await?;
            Ok(aws_query::success(wire, ctx.request_id, None))
        }
        Action::GetUserPolicy => {
            let (user, policy) = (p.required("UserName")?, p.required("PolicyName")?);
            ctx.authorize(&[Target::iam_user(account, user)])?;
            let document = iam.user_policy(account, user, policy).await?;
            Ok(reply(ctx, wire, |w| {
                w.text("UserName", user).text("PolicyName", policy).text("PolicyDocument", &url_encode(&document));
            }))
        }
        Action::DeleteUserPolicy => {
            let (user, policy) = (p.required("UserName")?, p.required("PolicyName")?);
            ctx.authorize(&[Target::iam_user(account, user)])?;
            iam.delete_user_policy(account, user, policy).await?;
            Ok(aws_query::success(wire, ctx.request_id, None))
        }
        Action::ListUserPolicies => {
            let user = p.required("UserName")?;
            ctx.authorize(&[Target::iam_user(account, user)])?;
            let names = iam.user_policy_names(account, user).await?;
            Ok(reply(ctx, wire, |w| {
                w.start("PolicyNames");
                names.iter().for_each(|n| {
                    w.text("member", n);
                });
                w.end("PolicyNames").text("IsTruncated", "false");
            }))
        }
    }
}

fn reply(ctx: &Context<'_>, action: &str, body: impl Fn(&mut XmlWriter)) -> Reply {
    aws_query::success(action, ctx.request_id, Some(&body))
}

/// The user an action is about: `UserName`, or the calling user when it is left out.
fn subject(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
    match (p.get("UserName").filter(|u| !u.is_empty()), &ctx.principal.actor.user) {
        (Some(user), _) => Ok(user.to_owned()),
        (None, Some(caller)) => Ok(caller.clone()),
        (None, None) => Err(crate::service::Error::IamValidation(
            "Must specify userName when calling with non-User credentials".into(),
        )
        .into()),
    }
}

fn user_element(w: &mut XmlWriter, element: &str, account: &str, user: &UserRow) {
    w.start(element)
        .text("Path", "/")
        .text("UserName", &user.name)
        .text("UserId", &user.user_id)
        .text("Arn", &format!("arn:aws:iam::{account}:user/{}", user.name))
        .text("CreateDate", &timestamp(user.created_ms))
        .end(element);
}

fn access_key_fields(w: &mut XmlWriter, key: &AccessKeyRow) {
    w.text("UserName", &key.user_name)
        .text("AccessKeyId", &key.id)
        .text("Status", &key.status)
        .text("CreateDate", &timestamp(key.created_ms));
}

/// IAM returns policy documents percent-encoded (RFC 3986); the SDKs decode them.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Action, url_encode};

    #[test]
    fn action_table_round_trips_and_names_iam_actions() {
        for action in Action::ALL {
            let (wire, iam) = action.names();
            assert_eq!(Action::parse(wire), Some(action));
            assert_eq!(iam, format!("iam:{wire}"));
        }
    }

    #[test]
    fn policy_documents_are_percent_encoded() {
        assert_eq!(url_encode(r#"{"A": "b*"}"#), "%7B%22A%22%3A%20%22b%2A%22%7D");
    }
}

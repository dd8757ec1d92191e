//! The IAM subset (Query protocol, `Version=2010-05-08`): users, access keys, inline user
//! policies and console passwords here; roles ([`roles`]) and managed policies
//! ([`policies`]) beside, so that `aws iam …` manages keyfleet's identities. IAM is global:
//! everything is scoped by the caller's account only.

pub(crate) mod instance_profiles;
pub(crate) mod policies;
pub(crate) mod roles;

use super::authorize::Target;
use super::error::ApiError;
use super::operation::{Authorization, AwsQuery, Endpoint, Operation};
use super::protocol::aws_query;
use super::protocol::ec2_query::{Accepted, QueryParams, timestamp};
use super::protocol::xml::XmlWriter;
use super::{Context, Reply};
use crate::common::page::{Limits, Page, PageRequest};
use crate::service::iam::NewAccessKey;
use crate::store::{AccessKeyRow, LoginProfileRow, UserRow, WireName};

use zeroize::Zeroizing;

/// Every IAM action keyfleet implements. Anything else is `InvalidAction`.
pub static ACTIONS: &[Endpoint<AwsQuery>] = &[
    Endpoint::of::<CreateUser>(),
    Endpoint::of::<GetUser>(),
    Endpoint::of::<DeleteUser>(),
    Endpoint::of::<ListUsers>(),
    Endpoint::of::<CreateAccessKey>(),
    Endpoint::of::<DeleteAccessKey>(),
    Endpoint::of::<ListAccessKeys>(),
    Endpoint::of::<PutUserPolicy>(),
    Endpoint::of::<GetUserPolicy>(),
    Endpoint::of::<DeleteUserPolicy>(),
    Endpoint::of::<ListUserPolicies>(),
    Endpoint::of::<CreateLoginProfile>(),
    Endpoint::of::<GetLoginProfile>(),
    Endpoint::of::<UpdateLoginProfile>(),
    Endpoint::of::<DeleteLoginProfile>(),
    Endpoint::of::<roles::CreateRole>(),
    Endpoint::of::<roles::GetRole>(),
    Endpoint::of::<roles::ListRoles>(),
    Endpoint::of::<roles::DeleteRole>(),
    Endpoint::of::<roles::UpdateAssumeRolePolicy>(),
    Endpoint::of::<roles::PutRolePolicy>(),
    Endpoint::of::<roles::GetRolePolicy>(),
    Endpoint::of::<roles::DeleteRolePolicy>(),
    Endpoint::of::<roles::ListRolePolicies>(),
    Endpoint::of::<instance_profiles::CreateInstanceProfile>(),
    Endpoint::of::<instance_profiles::GetInstanceProfile>(),
    Endpoint::of::<instance_profiles::ListInstanceProfiles>(),
    Endpoint::of::<instance_profiles::ListInstanceProfilesForRole>(),
    Endpoint::of::<instance_profiles::DeleteInstanceProfile>(),
    Endpoint::of::<instance_profiles::AddRoleToInstanceProfile>(),
    Endpoint::of::<instance_profiles::RemoveRoleFromInstanceProfile>(),
    Endpoint::of::<policies::CreatePolicy>(),
    Endpoint::of::<policies::GetPolicy>(),
    Endpoint::of::<policies::ListPolicies>(),
    Endpoint::of::<policies::DeletePolicy>(),
    Endpoint::of::<policies::CreatePolicyVersion>(),
    Endpoint::of::<policies::GetPolicyVersion>(),
    Endpoint::of::<policies::ListPolicyVersions>(),
    Endpoint::of::<policies::DeletePolicyVersion>(),
    Endpoint::of::<policies::SetDefaultPolicyVersion>(),
    Endpoint::of::<policies::Attach<policies::ToRole>>(),
    Endpoint::of::<policies::Detach<policies::ToRole>>(),
    Endpoint::of::<policies::ListAttached<policies::ToRole>>(),
    Endpoint::of::<policies::Attach<policies::ToUser>>(),
    Endpoint::of::<policies::Detach<policies::ToUser>>(),
    Endpoint::of::<policies::ListAttached<policies::ToUser>>(),
];

pub(crate) struct CreateUser;

impl Operation for CreateUser {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreateUser";
    const ACTION: &'static str = "iam:CreateUser";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = UserRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        Ok(p.required("UserName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<UserRow, ApiError> {
        Ok(ctx.state.iam.create_user(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, row: UserRow) -> Reply {
        reply(ctx, Self::NAME, |w| user_element(w, "User", &ctx.scope.account, &row))
    }
}

pub(crate) struct GetUser;

impl Operation for GetUser {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetUser";
    const ACTION: &'static str = "iam:GetUser";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = UserRow;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        subject(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<UserRow, ApiError> {
        Ok(ctx.state.iam.user(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, row: UserRow) -> Reply {
        reply(ctx, Self::NAME, |w| user_element(w, "User", &ctx.scope.account, &row))
    }
}

pub(crate) struct DeleteUser;

impl Operation for DeleteUser {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteUser";
    const ACTION: &'static str = "iam:DeleteUser";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        Ok(p.required("UserName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_user(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct ListUsers;

impl Operation for ListUsers {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListUsers";
    const ACTION: &'static str = "iam:ListUsers";
    const READ_ONLY: bool = true;
    type Input = ();
    type Output = Vec<UserRow>;

    fn decode(_: &Context<'_>, _: &QueryParams) -> Result<(), ApiError> {
        Ok(())
    }

    async fn authorization(_: &Context<'_>, (): &()) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (): ()) -> Result<Vec<UserRow>, ApiError> {
        Ok(ctx.state.iam.users(&ctx.scope.account).await?)
    }

    fn encode(ctx: &Context<'_>, users: Vec<UserRow>) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.text("IsTruncated", "false").start("Users");
            users.iter().for_each(|u| user_element(w, "member", &ctx.scope.account, u));
            w.end("Users");
        })
    }
}

pub(crate) struct CreateAccessKey;

impl Operation for CreateAccessKey {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreateAccessKey";
    const ACTION: &'static str = "iam:CreateAccessKey";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = NewAccessKey;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        subject(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<NewAccessKey, ApiError> {
        Ok(ctx.state.iam.create_access_key(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, created: NewAccessKey) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("AccessKey");
            access_key_fields(w, &created.row);
            w.text("SecretAccessKey", &created.secret).end("AccessKey");
        })
    }
}

pub(crate) struct DeleteAccessKey;

impl Operation for DeleteAccessKey {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteAccessKey";
    const ACTION: &'static str = "iam:DeleteAccessKey";
    const READ_ONLY: bool = false;
    /// The user and the key's id.
    type Input = (String, String);
    type Output = ();

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let user = subject(ctx, p)?;
        Ok((user, p.required("AccessKeyId")?.to_owned()))
    }

    async fn authorization(ctx: &Context<'_>, (user, _): &Self::Input) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, (user, id): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_access_key(&ctx.scope.account, &user, &id).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct ListAccessKeys;

impl Operation for ListAccessKeys {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListAccessKeys";
    const ACTION: &'static str = "iam:ListAccessKeys";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = (String, Vec<AccessKeyRow>);

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        subject(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<Self::Output, ApiError> {
        let keys = ctx.state.iam.access_keys(&ctx.scope.account, &user).await?;
        Ok((user, keys))
    }

    fn encode(ctx: &Context<'_>, (user, keys): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.text("UserName", &user).start("AccessKeyMetadata");
            for key in &keys {
                w.start("member");
                access_key_fields(w, key);
                w.end("member");
            }
            w.end("AccessKeyMetadata").text("IsTruncated", "false");
        })
    }
}

/// A user and one of its inline policies by name.
pub(crate) struct UserPolicy {
    user: String,
    policy: String,
}

impl UserPolicy {
    fn decode(p: &QueryParams) -> Result<Self, ApiError> {
        Ok(UserPolicy { user: p.required("UserName")?.to_owned(), policy: p.required("PolicyName")?.to_owned() })
    }
}

pub(crate) struct PutUserPolicy;

impl Operation for PutUserPolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "PutUserPolicy";
    const ACTION: &'static str = "iam:PutUserPolicy";
    const READ_ONLY: bool = false;
    /// The policy and its document.
    type Input = (UserPolicy, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let named = UserPolicy::decode(p)?;
        Ok((named, p.required("PolicyDocument")?.to_owned()))
    }

    async fn authorization(ctx: &Context<'_>, (named, _): &Self::Input) -> Result<Authorization, ApiError> {
        on_user(ctx, &named.user).await
    }

    async fn call(ctx: &Context<'_>, (named, document): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.put_user_policy(&ctx.scope.account, &named.user, &named.policy, &document).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct GetUserPolicy;

impl Operation for GetUserPolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetUserPolicy";
    const ACTION: &'static str = "iam:GetUserPolicy";
    const READ_ONLY: bool = true;
    type Input = UserPolicy;
    /// The policy and its document.
    type Output = (UserPolicy, String);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<UserPolicy, ApiError> {
        UserPolicy::decode(p)
    }

    async fn authorization(ctx: &Context<'_>, named: &UserPolicy) -> Result<Authorization, ApiError> {
        on_user(ctx, &named.user).await
    }

    async fn call(ctx: &Context<'_>, named: UserPolicy) -> Result<Self::Output, ApiError> {
        let document = ctx.state.iam.user_policy(&ctx.scope.account, &named.user, &named.policy).await?;
        Ok((named, document))
    }

    fn encode(ctx: &Context<'_>, (named, document): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.text("UserName", &named.user)
                .text("PolicyName", &named.policy)
                .text("PolicyDocument", &url_encode(&document));
        })
    }
}

pub(crate) struct DeleteUserPolicy;

impl Operation for DeleteUserPolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteUserPolicy";
    const ACTION: &'static str = "iam:DeleteUserPolicy";
    const READ_ONLY: bool = false;
    type Input = UserPolicy;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<UserPolicy, ApiError> {
        UserPolicy::decode(p)
    }

    async fn authorization(ctx: &Context<'_>, named: &UserPolicy) -> Result<Authorization, ApiError> {
        on_user(ctx, &named.user).await
    }

    async fn call(ctx: &Context<'_>, named: UserPolicy) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_user_policy(&ctx.scope.account, &named.user, &named.policy).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct ListUserPolicies;

impl Operation for ListUserPolicies {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListUserPolicies";
    const ACTION: &'static str = "iam:ListUserPolicies";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = Vec<String>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        Ok(p.required("UserName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<Vec<String>, ApiError> {
        Ok(ctx.state.iam.user_policy_names(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, names: Vec<String>) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("PolicyNames");
            names.iter().for_each(|n| {
                w.text("member", n);
            });
            w.end("PolicyNames").text("IsTruncated", "false");
        })
    }
}

/// A console password to set: `CreateLoginProfile`'s and `UpdateLoginProfile`'s input.
pub(crate) struct PasswordChange {
    user: String,
    password: Option<Zeroizing<String>>,
    reset_required: Option<bool>,
}

impl PasswordChange {
    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<Self, ApiError> {
        let reset_required = match p.get("PasswordResetRequired") {
            Some(_) => Some(p.flag("PasswordResetRequired")?),
            None => None,
        };
        Ok(PasswordChange {
            user: subject(ctx, p)?,
            password: p.get("Password").map(|v| Zeroizing::new(v.to_owned())),
            reset_required,
        })
    }
}

pub(crate) struct CreateLoginProfile;

impl Operation for CreateLoginProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreateLoginProfile";
    const ACTION: &'static str = "iam:CreateLoginProfile";
    const READ_ONLY: bool = false;
    type Input = PasswordChange;
    type Output = LoginProfileRow;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<PasswordChange, ApiError> {
        p.required("Password")?;
        PasswordChange::decode(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, change: &PasswordChange) -> Result<Authorization, ApiError> {
        on_user(ctx, &change.user).await
    }

    async fn call(ctx: &Context<'_>, change: PasswordChange) -> Result<LoginProfileRow, ApiError> {
        let password = change.password.unwrap_or_default();
        let reset = change.reset_required.unwrap_or(false);
        Ok(ctx.state.iam.create_login_profile(&ctx.scope.account, &change.user, password, reset).await?)
    }

    fn encode(ctx: &Context<'_>, profile: LoginProfileRow) -> Reply {
        reply(ctx, Self::NAME, |w| login_profile_element(w, &profile))
    }
}

pub(crate) struct GetLoginProfile;

impl Operation for GetLoginProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetLoginProfile";
    const ACTION: &'static str = "iam:GetLoginProfile";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = LoginProfileRow;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        subject(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<LoginProfileRow, ApiError> {
        Ok(ctx.state.iam.login_profile(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, profile: LoginProfileRow) -> Reply {
        reply(ctx, Self::NAME, |w| login_profile_element(w, &profile))
    }
}

pub(crate) struct UpdateLoginProfile;

impl Operation for UpdateLoginProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "UpdateLoginProfile";
    const ACTION: &'static str = "iam:UpdateLoginProfile";
    const READ_ONLY: bool = false;
    type Input = PasswordChange;
    type Output = ();

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<PasswordChange, ApiError> {
        PasswordChange::decode(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, change: &PasswordChange) -> Result<Authorization, ApiError> {
        on_user(ctx, &change.user).await
    }

    async fn call(ctx: &Context<'_>, change: PasswordChange) -> Result<(), ApiError> {
        let account = &ctx.scope.account;
        Ok(ctx.state.iam.update_login_profile(account, &change.user, change.password, change.reset_required).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct DeleteLoginProfile;

impl Operation for DeleteLoginProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteLoginProfile";
    const ACTION: &'static str = "iam:DeleteLoginProfile";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        subject(ctx, p)
    }

    async fn authorization(ctx: &Context<'_>, user: &String) -> Result<Authorization, ApiError> {
        on_user(ctx, user).await
    }

    async fn call(ctx: &Context<'_>, user: String) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_login_profile(&ctx.scope.account, &user).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

fn login_profile_element(w: &mut XmlWriter, profile: &LoginProfileRow) {
    w.start("LoginProfile")
        .text("UserName", &profile.user_name)
        .text("CreateDate", &timestamp(profile.created_ms))
        .text("PasswordResetRequired", if profile.reset_required { "true" } else { "false" })
        .end("LoginProfile");
}

/// IAM is global: a user's ARN names the account only.
async fn on_user(ctx: &Context<'_>, user: &str) -> Result<Authorization, ApiError> {
    Ok(Authorization::on_one(user_target(ctx, user).await?))
}

/// A user's ARN with its name as stored: names match ignoring case, ARNs in policies do not,
/// so `ADMIN` is checked as the `Admin` it acts on (as typed when there is no such user).
pub(in crate::api) async fn user_target(ctx: &Context<'_>, user: &str) -> Result<Target, ApiError> {
    let name = match ctx.state.iam.user(&ctx.scope.account, user).await {
        Ok(found) => found.name,
        Err(crate::service::Error::IamNoSuchEntity(_)) => user.to_owned(),
        Err(other) => return Err(other.into()),
    };
    Ok(Target::iam_user(&ctx.scope.account, &name))
}

/// IAM's `MaxItems` (1–1000, 100 when not sent) and `Marker`.
const IAM_PAGES: Limits = Limits { min: 1, max: 1000, default: Some(100), cuts_larger: false };

/// The page a List action asks for.
fn iam_page(p: &QueryParams) -> Result<Page, ApiError> {
    let request = PageRequest {
        max_results: p.get("MaxItems").map(str::to_owned),
        next_token: p.get("Marker").map(str::to_owned),
    };
    request.check(&IAM_PAGES).map_err(|e| crate::service::Error::IamPage(e).into())
}

/// `IsTruncated`, and `Marker` when it is.
fn page_end(w: &mut XmlWriter, next: Option<&str>) {
    w.text("IsTruncated", if next.is_some() { "true" } else { "false" });
    if let Some(marker) = next {
        w.text("Marker", marker);
    }
}

/// Refuses a parameter keyfleet does not implement, rather than answering as if it did.
pub(in crate::api) fn refuse_unimplemented(
    p: &QueryParams,
    action: &'static str,
    accepted: &[Accepted],
) -> Result<(), ApiError> {
    match p.first_unaccepted(accepted) {
        Some(parameter) => {
            Err(crate::service::Error::IamValidation(crate::service::IamInvalid::Unsupported { action, parameter })
                .into())
        }
        None => Ok(()),
    }
}

fn reply(ctx: &Context<'_>, action: &str, body: impl Fn(&mut XmlWriter)) -> Reply {
    aws_query::success(action, ctx.request_id, Some(&body))
}

/// The user an action is about: `UserName`, or the calling user when it is left out.
fn subject(ctx: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
    match (p.get("UserName").filter(|u| !u.is_empty()), ctx.principal.actor.user()) {
        (Some(user), _) => Ok(user.to_owned()),
        (None, Some(caller)) => Ok(caller.to_owned()),
        (None, None) => Err(crate::service::Error::IamValidation(crate::service::IamInvalid::UserNameRequired).into()),
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
        .text("Status", key.status.as_str())
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
    use super::{ACTIONS, url_encode};
    use crate::api::operation::find;

    #[test]
    fn action_table_names_iam_actions_once_each() {
        for endpoint in ACTIONS {
            assert_eq!(endpoint.action, format!("iam:{}", endpoint.name));
            assert!(std::ptr::eq(find(ACTIONS, endpoint.name).unwrap(), endpoint), "{} twice", endpoint.name);
            let reads = ["Get", "List"].iter().any(|p| endpoint.name.starts_with(p));
            assert_eq!(endpoint.read_only, reads, "{}", endpoint.name);
        }
    }

    #[test]
    fn policy_documents_are_percent_encoded() {
        assert_eq!(url_encode(r#"{"A": "b*"}"#), "%7B%22A%22%3A%20%22b%2A%22%7D");
    }
}

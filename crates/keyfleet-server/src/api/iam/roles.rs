//! IAM roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy, and a role's
//! inline policies (Put/Get/Delete/ListRolePolicies).

use super::{iam_page, page_end, refuse_unimplemented, reply, url_encode};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, AwsQuery, Operation};
use crate::api::protocol::aws_query;
use crate::api::protocol::ec2_query::{Accepted, QueryParams, timestamp};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::common::page::Page;
use crate::service::roles::NewRole;
use crate::store::RoleRow;

/// What a role answer holds besides the role's own fields: GetRole's `MaxSessionDuration` and
/// `RoleLastUsed`, which CreateRole's answer lacks and ListRoles' has only in part.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RoleView {
    Created,
    Got,
    Listed,
}

/// The ARN of a role by name, with its path and its name as stored (names match ignoring
/// case, ARNs in policies do not); as asked, under `/`, when there is no such role, whose
/// actions then fail as IAM's do.
pub(in crate::api) async fn role_target(ctx: &Context<'_>, name: &str) -> Result<Target, ApiError> {
    let (path, name) = match ctx.state.iam.role(&ctx.scope.account, name).await {
        Ok(role) => (role.path, role.name),
        Err(crate::service::Error::IamNoSuchEntity(_)) => ("/".to_owned(), name.to_owned()),
        Err(other) => return Err(other.into()),
    };
    Ok(Target::iam_role(&ctx.scope.account, &path, &name))
}

async fn on_role(ctx: &Context<'_>, name: &str) -> Result<Authorization, ApiError> {
    Ok(Authorization::on_one(role_target(ctx, name).await?))
}

pub(crate) struct CreateRole;

const CREATE_ROLE_PARAMETERS: [Accepted; 5] = [
    Accepted::any("RoleName"),
    Accepted::any("AssumeRolePolicyDocument"),
    Accepted::any("Path"),
    Accepted::any("Description"),
    Accepted::any("MaxSessionDuration"),
];

impl Operation for CreateRole {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreateRole";
    const ACTION: &'static str = "iam:CreateRole";
    const READ_ONLY: bool = false;
    type Input = NewRole;
    type Output = RoleRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<NewRole, ApiError> {
        refuse_unimplemented(p, Self::NAME, &CREATE_ROLE_PARAMETERS)?;
        let max_session_seconds = match p.get("MaxSessionDuration") {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                crate::service::Error::IamValidation(crate::service::IamInvalid::MaxSessionDuration(0))
            })?),
        };
        Ok(NewRole {
            name: p.required("RoleName")?.to_owned(),
            path: p.get("Path").unwrap_or("/").to_owned(),
            trust_policy: p.required("AssumeRolePolicyDocument")?.to_owned(),
            description: p.get("Description").unwrap_or_default().to_owned(),
            max_session_seconds,
        })
    }

    async fn authorization(ctx: &Context<'_>, new: &NewRole) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(Target::iam_role(&ctx.scope.account, &new.path, &new.name)))
    }

    async fn call(ctx: &Context<'_>, new: NewRole) -> Result<RoleRow, ApiError> {
        Ok(ctx.state.iam.create_role(&ctx.scope.account, new).await?)
    }

    fn encode(ctx: &Context<'_>, role: RoleRow) -> Reply {
        reply(ctx, Self::NAME, |w| role_element(w, "Role", &ctx.scope.account, &role, RoleView::Created))
    }
}

pub(crate) struct GetRole;

impl Operation for GetRole {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetRole";
    const ACTION: &'static str = "iam:GetRole";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = RoleRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("RoleName")])?;
        Ok(p.required("RoleName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        on_role(ctx, name).await
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<RoleRow, ApiError> {
        Ok(ctx.state.iam.role(&ctx.scope.account, &name).await?)
    }

    fn encode(ctx: &Context<'_>, role: RoleRow) -> Reply {
        reply(ctx, Self::NAME, |w| role_element(w, "Role", &ctx.scope.account, &role, RoleView::Got))
    }
}

pub(crate) struct ListRoles;

impl Operation for ListRoles {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListRoles";
    const ACTION: &'static str = "iam:ListRoles";
    const READ_ONLY: bool = true;
    /// `PathPrefix` and the page.
    type Input = (String, Page);
    type Output = (Vec<RoleRow>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("PathPrefix"), Accepted::any("MaxItems"), Accepted::any("Marker")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok((p.get("PathPrefix").unwrap_or("/").to_owned(), iam_page(p)?))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (prefix, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.iam.roles(&ctx.scope.account, &prefix).await?))
    }

    fn encode(ctx: &Context<'_>, (roles, next): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("Roles");
            roles.iter().for_each(|r| role_element(w, "member", &ctx.scope.account, r, RoleView::Listed));
            w.end("Roles");
            page_end(w, next.as_deref());
        })
    }
}

pub(crate) struct DeleteRole;

impl Operation for DeleteRole {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteRole";
    const ACTION: &'static str = "iam:DeleteRole";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("RoleName")])?;
        Ok(p.required("RoleName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        on_role(ctx, name).await
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_role(&ctx.scope.account, &name).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct UpdateAssumeRolePolicy;

impl Operation for UpdateAssumeRolePolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "UpdateAssumeRolePolicy";
    const ACTION: &'static str = "iam:UpdateAssumeRolePolicy";
    const READ_ONLY: bool = false;
    /// The role and its new trust policy.
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("RoleName"), Accepted::any("PolicyDocument")])?;
        Ok((p.required("RoleName")?.to_owned(), p.required("PolicyDocument")?.to_owned()))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        on_role(ctx, name).await
    }

    async fn call(ctx: &Context<'_>, (name, document): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.update_trust_policy(&ctx.scope.account, &name, &document).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

/// A role and one of its inline policies by name.
pub(crate) struct RolePolicy {
    role: String,
    policy: String,
}

impl RolePolicy {
    fn decode(p: &QueryParams, action: &'static str, document: bool) -> Result<Self, ApiError> {
        let mut accepted = vec![Accepted::any("RoleName"), Accepted::any("PolicyName")];
        if document {
            accepted.push(Accepted::any("PolicyDocument"));
        }
        refuse_unimplemented(p, action, &accepted)?;
        Ok(RolePolicy { role: p.required("RoleName")?.to_owned(), policy: p.required("PolicyName")?.to_owned() })
    }
}

pub(crate) struct PutRolePolicy;

impl Operation for PutRolePolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "PutRolePolicy";
    const ACTION: &'static str = "iam:PutRolePolicy";
    const READ_ONLY: bool = false;
    /// The policy and its document.
    type Input = (RolePolicy, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let named = RolePolicy::decode(p, Self::NAME, true)?;
        Ok((named, p.required("PolicyDocument")?.to_owned()))
    }

    async fn authorization(ctx: &Context<'_>, (named, _): &Self::Input) -> Result<Authorization, ApiError> {
        on_role(ctx, &named.role).await
    }

    async fn call(ctx: &Context<'_>, (named, document): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.put_role_policy(&ctx.scope.account, &named.role, &named.policy, &document).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct GetRolePolicy;

impl Operation for GetRolePolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetRolePolicy";
    const ACTION: &'static str = "iam:GetRolePolicy";
    const READ_ONLY: bool = true;
    type Input = RolePolicy;
    /// The role as stored, the policy's name and its document.
    type Output = (RoleRow, String, String);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<RolePolicy, ApiError> {
        RolePolicy::decode(p, Self::NAME, false)
    }

    async fn authorization(ctx: &Context<'_>, named: &RolePolicy) -> Result<Authorization, ApiError> {
        on_role(ctx, &named.role).await
    }

    async fn call(ctx: &Context<'_>, named: RolePolicy) -> Result<Self::Output, ApiError> {
        let (role, document) = ctx.state.iam.role_policy(&ctx.scope.account, &named.role, &named.policy).await?;
        Ok((role, named.policy, document))
    }

    fn encode(ctx: &Context<'_>, (role, policy, document): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.text("RoleName", &role.name).text("PolicyName", &policy).text("PolicyDocument", &url_encode(&document));
        })
    }
}

pub(crate) struct DeleteRolePolicy;

impl Operation for DeleteRolePolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteRolePolicy";
    const ACTION: &'static str = "iam:DeleteRolePolicy";
    const READ_ONLY: bool = false;
    type Input = RolePolicy;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<RolePolicy, ApiError> {
        RolePolicy::decode(p, Self::NAME, false)
    }

    async fn authorization(ctx: &Context<'_>, named: &RolePolicy) -> Result<Authorization, ApiError> {
        on_role(ctx, &named.role).await
    }

    async fn call(ctx: &Context<'_>, named: RolePolicy) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_role_policy(&ctx.scope.account, &named.role, &named.policy).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct ListRolePolicies;

impl Operation for ListRolePolicies {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListRolePolicies";
    const ACTION: &'static str = "iam:ListRolePolicies";
    const READ_ONLY: bool = true;
    /// The role and the page.
    type Input = (String, Page);
    type Output = (Vec<String>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("RoleName"), Accepted::any("MaxItems"), Accepted::any("Marker")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok((p.required("RoleName")?.to_owned(), iam_page(p)?))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        on_role(ctx, name).await
    }

    async fn call(ctx: &Context<'_>, (name, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.iam.role_policy_names(&ctx.scope.account, &name).await?))
    }

    fn encode(ctx: &Context<'_>, (names, next): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("PolicyNames");
            names.iter().for_each(|n| {
                w.text("member", n);
            });
            w.end("PolicyNames");
            page_end(w, next.as_deref());
        })
    }
}

/// A role's fields, as each action answers them (botocore's `Role`).
pub(super) fn role_element(w: &mut XmlWriter, element: &str, account: &str, role: &RoleRow, view: RoleView) {
    w.start(element)
        .text("Path", &role.path)
        .text("RoleName", &role.name)
        .text("RoleId", &role.role_id)
        .text("Arn", &format!("arn:aws:iam::{account}:role{}{}", role.path, role.name))
        .text("CreateDate", &timestamp(role.created_ms))
        .text("AssumeRolePolicyDocument", &url_encode(&role.trust_policy));
    if !role.description.is_empty() {
        w.text("Description", &role.description);
    }
    if view != RoleView::Created {
        w.text("MaxSessionDuration", &role.max_session_seconds.to_string());
    }
    if view == RoleView::Got {
        w.empty("RoleLastUsed");
    }
    w.end(element);
}

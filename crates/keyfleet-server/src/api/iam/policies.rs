//! Managed policies: the account's own (CreatePolicy, its versions, DeletePolicy) and AWS's
//! built-in ones, and attaching either to roles and users.

use std::marker::PhantomData;

use super::roles::role_target;
use super::{iam_page, page_end, refuse_unimplemented, reply, url_encode};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, AwsQuery, Operation};
use crate::api::protocol::aws_query;
use crate::api::protocol::ec2_query::{Accepted, QueryParams, timestamp};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::common::page::Page;
use crate::service::roles::{ManagedPolicy, PolicyScope, PolicyVersion};
use crate::store::PrincipalKind;

pub(crate) struct CreatePolicy;

/// CreatePolicy's input.
pub(crate) struct NewPolicy {
    name: String,
    path: String,
    description: String,
    document: String,
}

impl Operation for CreatePolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreatePolicy";
    const ACTION: &'static str = "iam:CreatePolicy";
    const READ_ONLY: bool = false;
    type Input = NewPolicy;
    type Output = ManagedPolicy;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<NewPolicy, ApiError> {
        let accepted = [
            Accepted::any("PolicyName"),
            Accepted::any("PolicyDocument"),
            Accepted::any("Path"),
            Accepted::any("Description"),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok(NewPolicy {
            name: p.required("PolicyName")?.to_owned(),
            path: p.get("Path").unwrap_or("/").to_owned(),
            description: p.get("Description").unwrap_or_default().to_owned(),
            document: p.required("PolicyDocument")?.to_owned(),
        })
    }

    async fn authorization(ctx: &Context<'_>, new: &NewPolicy) -> Result<Authorization, ApiError> {
        let arn = format!("arn:aws:iam::{}:policy{}{}", ctx.scope.account, new.path, new.name);
        Ok(Authorization::on_one(Target::iam_policy(&arn)))
    }

    async fn call(ctx: &Context<'_>, new: NewPolicy) -> Result<ManagedPolicy, ApiError> {
        let iam = &ctx.state.iam;
        let row = iam.create_policy(&ctx.scope.account, &new.name, &new.path, &new.description, &new.document).await?;
        Ok(ManagedPolicy::Local(row))
    }

    fn encode(ctx: &Context<'_>, policy: ManagedPolicy) -> Reply {
        reply(ctx, Self::NAME, |w| policy_element(w, "Policy", &policy))
    }
}

/// Decodes the one `PolicyArn` of an action.
fn policy_arn(p: &QueryParams, action: &'static str, more: &[Accepted]) -> Result<String, ApiError> {
    let mut accepted = vec![Accepted::any("PolicyArn")];
    accepted.extend_from_slice(more);
    refuse_unimplemented(p, action, &accepted)?;
    Ok(p.required("PolicyArn")?.to_owned())
}

fn on_policy(arn: &str) -> Authorization {
    Authorization::on_one(Target::iam_policy(arn))
}

pub(crate) struct GetPolicy;

impl Operation for GetPolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetPolicy";
    const ACTION: &'static str = "iam:GetPolicy";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = ManagedPolicy;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        policy_arn(p, Self::NAME, &[])
    }

    async fn authorization(_: &Context<'_>, arn: &String) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, arn: String) -> Result<ManagedPolicy, ApiError> {
        Ok(ctx.state.iam.managed_policy(&ctx.scope.account, &arn).await?)
    }

    fn encode(ctx: &Context<'_>, policy: ManagedPolicy) -> Reply {
        reply(ctx, Self::NAME, |w| policy_element(w, "Policy", &policy))
    }
}

pub(crate) struct ListPolicies;

/// ListPolicies' filters.
pub(crate) struct PolicyListing {
    scope: PolicyScope,
    path_prefix: String,
    only_attached: bool,
    page: Page,
}

impl Operation for ListPolicies {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListPolicies";
    const ACTION: &'static str = "iam:ListPolicies";
    const READ_ONLY: bool = true;
    type Input = PolicyListing;
    type Output = (Vec<ManagedPolicy>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<PolicyListing, ApiError> {
        let accepted = [
            Accepted::any("Scope"),
            Accepted::any("OnlyAttached"),
            Accepted::any("PathPrefix"),
            Accepted::only("PolicyUsageFilter", &["PermissionsPolicy"]),
            Accepted::any("MaxItems"),
            Accepted::any("Marker"),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        let scope = match p.get("Scope").unwrap_or("All") {
            "All" => PolicyScope::All,
            "AWS" => PolicyScope::Aws,
            "Local" => PolicyScope::Local,
            other => {
                return Err(ApiError::bad_request(
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
                    ),
                ));
            }
        };
        Ok(PolicyListing {
            scope,
            path_prefix: p.get("PathPrefix").unwrap_or("/").to_owned(),
            only_attached: p.flag("OnlyAttached")?,
            page: iam_page(p)?,
        })
    }

    async fn authorization(_: &Context<'_>, _: &PolicyListing) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, listing: PolicyListing) -> Result<Self::Output, ApiError> {
        let account = &ctx.scope.account;
        let found =
            ctx.state.iam.managed_policies(account, listing.scope, &listing.path_prefix, listing.only_attached).await?;
        Ok(listing.page.take(found))
    }

    fn encode(ctx: &Context<'_>, (policies, next): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("Policies");
            policies.iter().for_each(|p| policy_element(w, "member", p));
            w.end("Policies");
            page_end(w, next.as_deref());
        })
    }
}

pub(crate) struct DeletePolicy;

impl Operation for DeletePolicy {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeletePolicy";
    const ACTION: &'static str = "iam:DeletePolicy";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        policy_arn(p, Self::NAME, &[])
    }

    async fn authorization(_: &Context<'_>, arn: &String) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, arn: String) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_policy(&ctx.scope.account, &arn).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct CreatePolicyVersion;

impl Operation for CreatePolicyVersion {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreatePolicyVersion";
    const ACTION: &'static str = "iam:CreatePolicyVersion";
    const READ_ONLY: bool = false;
    /// The policy, the document, and whether it becomes the default.
    type Input = (String, String, bool);
    type Output = PolicyVersion;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let arn = policy_arn(p, Self::NAME, &[Accepted::any("PolicyDocument"), Accepted::any("SetAsDefault")])?;
        Ok((arn, p.required("PolicyDocument")?.to_owned(), p.flag("SetAsDefault")?))
    }

    async fn authorization(_: &Context<'_>, (arn, ..): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, (arn, document, default): Self::Input) -> Result<PolicyVersion, ApiError> {
        Ok(ctx.state.iam.create_policy_version(&ctx.scope.account, &arn, &document, default).await?)
    }

    /// Without the document, as IAM answers it.
    fn encode(ctx: &Context<'_>, version: PolicyVersion) -> Reply {
        reply(ctx, Self::NAME, |w| version_element(w, "PolicyVersion", &version, false))
    }
}

/// A policy and one of its versions.
fn policy_version(p: &QueryParams, action: &'static str) -> Result<(String, String), ApiError> {
    let arn = policy_arn(p, action, &[Accepted::any("VersionId")])?;
    Ok((arn, p.required("VersionId")?.to_owned()))
}

pub(crate) struct GetPolicyVersion;

impl Operation for GetPolicyVersion {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetPolicyVersion";
    const ACTION: &'static str = "iam:GetPolicyVersion";
    const READ_ONLY: bool = true;
    type Input = (String, String);
    type Output = PolicyVersion;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        policy_version(p, Self::NAME)
    }

    async fn authorization(_: &Context<'_>, (arn, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, (arn, version): Self::Input) -> Result<PolicyVersion, ApiError> {
        Ok(ctx.state.iam.policy_version(&ctx.scope.account, &arn, &version).await?)
    }

    fn encode(ctx: &Context<'_>, version: PolicyVersion) -> Reply {
        reply(ctx, Self::NAME, |w| version_element(w, "PolicyVersion", &version, true))
    }
}

pub(crate) struct ListPolicyVersions;

impl Operation for ListPolicyVersions {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListPolicyVersions";
    const ACTION: &'static str = "iam:ListPolicyVersions";
    const READ_ONLY: bool = true;
    type Input = (String, Page);
    type Output = (Vec<PolicyVersion>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let arn = policy_arn(p, Self::NAME, &[Accepted::any("MaxItems"), Accepted::any("Marker")])?;
        Ok((arn, iam_page(p)?))
    }

    async fn authorization(_: &Context<'_>, (arn, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, (arn, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.iam.policy_versions(&ctx.scope.account, &arn).await?))
    }

    fn encode(ctx: &Context<'_>, (versions, next): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("Versions");
            versions.iter().for_each(|v| version_element(w, "member", v, false));
            w.end("Versions");
            page_end(w, next.as_deref());
        })
    }
}

pub(crate) struct DeletePolicyVersion;

impl Operation for DeletePolicyVersion {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeletePolicyVersion";
    const ACTION: &'static str = "iam:DeletePolicyVersion";
    const READ_ONLY: bool = false;
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        policy_version(p, Self::NAME)
    }

    async fn authorization(_: &Context<'_>, (arn, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, (arn, version): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_policy_version(&ctx.scope.account, &arn, &version).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct SetDefaultPolicyVersion;

impl Operation for SetDefaultPolicyVersion {
    type Protocol = AwsQuery;
    const NAME: &'static str = "SetDefaultPolicyVersion";
    const ACTION: &'static str = "iam:SetDefaultPolicyVersion";
    const READ_ONLY: bool = false;
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        policy_version(p, Self::NAME)
    }

    async fn authorization(_: &Context<'_>, (arn, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(on_policy(arn))
    }

    async fn call(ctx: &Context<'_>, (arn, version): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.set_default_policy_version(&ctx.scope.account, &arn, &version).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

/// Whom an Attach/Detach/ListAttached action is about: a role or a user.
pub(crate) trait PrincipalSide: Send + Sync + 'static {
    const KIND: PrincipalKind;
    /// `RoleName` or `UserName`.
    const NAME_PARAMETER: &'static str;
    const ATTACH: (&'static str, &'static str);
    const DETACH: (&'static str, &'static str);
    const LIST: (&'static str, &'static str);

    /// The principal's ARN, for authorization.
    fn target(ctx: &Context<'_>, name: &str) -> impl Future<Output = Result<Target, ApiError>> + Send;
}

pub(crate) struct ToRole;
pub(crate) struct ToUser;

impl PrincipalSide for ToRole {
    const KIND: PrincipalKind = PrincipalKind::Role;
    const NAME_PARAMETER: &'static str = "RoleName";
    const ATTACH: (&'static str, &'static str) = ("AttachRolePolicy", "iam:AttachRolePolicy");
    const DETACH: (&'static str, &'static str) = ("DetachRolePolicy", "iam:DetachRolePolicy");
    const LIST: (&'static str, &'static str) = ("ListAttachedRolePolicies", "iam:ListAttachedRolePolicies");

    async fn target(ctx: &Context<'_>, name: &str) -> Result<Target, ApiError> {
        role_target(ctx, name).await
    }
}

impl PrincipalSide for ToUser {
    const KIND: PrincipalKind = PrincipalKind::User;
    const NAME_PARAMETER: &'static str = "UserName";
    const ATTACH: (&'static str, &'static str) = ("AttachUserPolicy", "iam:AttachUserPolicy");
    const DETACH: (&'static str, &'static str) = ("DetachUserPolicy", "iam:DetachUserPolicy");
    const LIST: (&'static str, &'static str) = ("ListAttachedUserPolicies", "iam:ListAttachedUserPolicies");

    async fn target(ctx: &Context<'_>, name: &str) -> Result<Target, ApiError> {
        super::user_target(ctx, name).await
    }
}

/// A principal and a policy ARN.
fn attachment<S: PrincipalSide>(p: &QueryParams, action: &'static str) -> Result<(String, String), ApiError> {
    let arn = policy_arn(p, action, &[Accepted::any(S::NAME_PARAMETER)])?;
    Ok((p.required(S::NAME_PARAMETER)?.to_owned(), arn))
}

pub(crate) struct Attach<S>(PhantomData<S>);

impl<S: PrincipalSide> Operation for Attach<S> {
    type Protocol = AwsQuery;
    const NAME: &'static str = S::ATTACH.0;
    const ACTION: &'static str = S::ATTACH.1;
    const READ_ONLY: bool = false;
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        attachment::<S>(p, Self::NAME)
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(S::target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, arn): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.attach_policy(&ctx.scope.account, S::KIND, &name, &arn).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct Detach<S>(PhantomData<S>);

impl<S: PrincipalSide> Operation for Detach<S> {
    type Protocol = AwsQuery;
    const NAME: &'static str = S::DETACH.0;
    const ACTION: &'static str = S::DETACH.1;
    const READ_ONLY: bool = false;
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        attachment::<S>(p, Self::NAME)
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(S::target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, arn): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.detach_policy(&ctx.scope.account, S::KIND, &name, &arn).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct ListAttached<S>(PhantomData<S>);

impl<S: PrincipalSide> Operation for ListAttached<S> {
    type Protocol = AwsQuery;
    const NAME: &'static str = S::LIST.0;
    const ACTION: &'static str = S::LIST.1;
    const READ_ONLY: bool = true;
    /// The principal, `PathPrefix`, and the page.
    type Input = (String, String, Page);
    /// `(name, arn)` of each attached policy, and the next page's marker.
    type Output = (Vec<(String, String)>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [
            Accepted::any(S::NAME_PARAMETER),
            Accepted::any("PathPrefix"),
            Accepted::any("MaxItems"),
            Accepted::any("Marker"),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        let name = p.required(S::NAME_PARAMETER)?.to_owned();
        Ok((name, p.get("PathPrefix").unwrap_or("/").to_owned(), iam_page(p)?))
    }

    async fn authorization(ctx: &Context<'_>, (name, ..): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(S::target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, prefix, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.iam.attached_policies(&ctx.scope.account, S::KIND, &name, &prefix).await?))
    }

    fn encode(ctx: &Context<'_>, (attached, next): Self::Output) -> Reply {
        reply(ctx, Self::NAME, |w| {
            w.start("AttachedPolicies");
            for (name, arn) in &attached {
                w.start("member").text("PolicyName", name).text("PolicyArn", arn).end("member");
            }
            w.end("AttachedPolicies");
            page_end(w, next.as_deref());
        })
    }
}

/// A managed policy's fields (botocore's `Policy`).
fn policy_element(w: &mut XmlWriter, element: &str, policy: &ManagedPolicy) {
    w.start(element);
    match policy {
        ManagedPolicy::Aws(aws, attached) => {
            w.text("PolicyName", aws.name)
                .text("PolicyId", aws.id)
                .text("Arn", &aws.arn())
                .text("Path", aws.path)
                .text("DefaultVersionId", aws.version)
                .text("AttachmentCount", &attached.to_string())
                .text("PermissionsBoundaryUsageCount", "0")
                .text("IsAttachable", "true")
                .text("Description", aws.description)
                .text("CreateDate", &timestamp(aws.created_ms))
                .text("UpdateDate", &timestamp(aws.created_ms));
        }
        ManagedPolicy::Local(row) => {
            w.text("PolicyName", &row.name)
                .text("PolicyId", &row.policy_id)
                .text("Arn", &row.arn)
                .text("Path", &row.path)
                .text("DefaultVersionId", &format!("v{}", row.default_version))
                .text("AttachmentCount", &row.attachment_count.to_string())
                .text("PermissionsBoundaryUsageCount", "0")
                .text("IsAttachable", "true");
            if !row.description.is_empty() {
                w.text("Description", &row.description);
            }
            w.text("CreateDate", &timestamp(row.created_ms)).text("UpdateDate", &timestamp(row.updated_ms));
        }
    }
    w.end(element);
}

/// A policy version's fields; the document only where IAM gives it (GetPolicyVersion).
fn version_element(w: &mut XmlWriter, element: &str, version: &PolicyVersion, with_document: bool) {
    w.start(element);
    if with_document {
        w.text("Document", &url_encode(&version.document));
    }
    w.text("VersionId", &version.id)
        .text("IsDefaultVersion", if version.is_default { "true" } else { "false" })
        .text("CreateDate", &timestamp(version.created_ms))
        .end(element);
}

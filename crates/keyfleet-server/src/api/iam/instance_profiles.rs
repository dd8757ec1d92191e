//! IAM instance profiles: Create/Get/List/DeleteInstanceProfile, Add/RemoveRoleToInstanceProfile
//! and ListInstanceProfilesForRole. A profile holds at most one role; putting a role in one
//! passes the role, so it needs `iam:PassRole` on it as well.

use super::roles::{RoleView, role_element, role_target};
use super::{iam_page, page_end, refuse_unimplemented, reply};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, AwsQuery, Operation};
use crate::api::protocol::aws_query;
use crate::api::protocol::ec2_query::{Accepted, QueryParams, timestamp};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::common::page::Page;
use crate::store::{InstanceProfileRow, RoleRow};

/// A profile and its role.
type Profile = (InstanceProfileRow, Option<RoleRow>);

/// `arn:aws:iam::ACCOUNT:instance-profile{Path}{Name}`.
pub(crate) fn profile_arn(account: &str, profile: &InstanceProfileRow) -> String {
    format!("arn:aws:iam::{account}:instance-profile{}{}", profile.path, profile.name)
}

/// The profile's ARN by name, with its path and its name as stored (names match ignoring
/// case, ARNs in policies do not); as asked, under `/`, when there is none.
async fn profile_target(ctx: &Context<'_>, name: &str) -> Result<Target, ApiError> {
    let (path, name) = match ctx.state.iam.instance_profile(&ctx.scope.account, name).await {
        Ok((profile, _)) => (profile.path, profile.name),
        Err(crate::service::Error::IamNoSuchEntity(_)) => ("/".to_owned(), name.to_owned()),
        Err(other) => return Err(other.into()),
    };
    Ok(Target::iam_instance_profile(&ctx.scope.account, &path, &name))
}

fn profile_element(w: &mut XmlWriter, element: &str, account: &str, (profile, role): &Profile) {
    w.start(element)
        .text("Path", &profile.path)
        .text("InstanceProfileName", &profile.name)
        .text("InstanceProfileId", &profile.profile_id)
        .text("Arn", &profile_arn(account, profile))
        .text("CreateDate", &timestamp(profile.created_ms))
        .start("Roles");
    if let Some(role) = role {
        role_element(w, "member", account, role, RoleView::Listed);
    }
    w.end("Roles").end(element);
}

pub(crate) struct CreateInstanceProfile;

impl Operation for CreateInstanceProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreateInstanceProfile";
    const ACTION: &'static str = "iam:CreateInstanceProfile";
    const READ_ONLY: bool = false;
    /// The name and the path.
    type Input = (String, String);
    type Output = InstanceProfileRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("InstanceProfileName"), Accepted::any("Path")])?;
        Ok((p.required("InstanceProfileName")?.to_owned(), p.get("Path").unwrap_or("/").to_owned()))
    }

    async fn authorization(ctx: &Context<'_>, (name, path): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(Target::iam_instance_profile(&ctx.scope.account, path, name)))
    }

    async fn call(ctx: &Context<'_>, (name, path): Self::Input) -> Result<InstanceProfileRow, ApiError> {
        Ok(ctx.state.iam.create_instance_profile(&ctx.scope.account, &name, &path).await?)
    }

    fn encode(ctx: &Context<'_>, profile: InstanceProfileRow) -> Reply {
        let made = (profile, None);
        reply(ctx, Self::NAME, |w| profile_element(w, "InstanceProfile", &ctx.scope.account, &made))
    }
}

pub(crate) struct GetInstanceProfile;

impl Operation for GetInstanceProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetInstanceProfile";
    const ACTION: &'static str = "iam:GetInstanceProfile";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = Profile;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("InstanceProfileName")])?;
        Ok(p.required("InstanceProfileName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(profile_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<Profile, ApiError> {
        Ok(ctx.state.iam.instance_profile(&ctx.scope.account, &name).await?)
    }

    fn encode(ctx: &Context<'_>, profile: Profile) -> Reply {
        reply(ctx, Self::NAME, |w| profile_element(w, "InstanceProfile", &ctx.scope.account, &profile))
    }
}

fn list_reply(ctx: &Context<'_>, action: &str, (profiles, next): (Vec<Profile>, Option<String>)) -> Reply {
    reply(ctx, action, |w| {
        w.start("InstanceProfiles");
        profiles.iter().for_each(|p| profile_element(w, "member", &ctx.scope.account, p));
        w.end("InstanceProfiles");
        page_end(w, next.as_deref());
    })
}

pub(crate) struct ListInstanceProfiles;

impl Operation for ListInstanceProfiles {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListInstanceProfiles";
    const ACTION: &'static str = "iam:ListInstanceProfiles";
    const READ_ONLY: bool = true;
    /// `PathPrefix` and the page.
    type Input = (String, Page);
    type Output = (Vec<Profile>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("PathPrefix"), Accepted::any("MaxItems"), Accepted::any("Marker")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok((p.get("PathPrefix").unwrap_or("/").to_owned(), iam_page(p)?))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (prefix, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.iam.instance_profiles(&ctx.scope.account, &prefix, None).await?))
    }

    fn encode(ctx: &Context<'_>, listed: Self::Output) -> Reply {
        list_reply(ctx, Self::NAME, listed)
    }
}

pub(crate) struct ListInstanceProfilesForRole;

impl Operation for ListInstanceProfilesForRole {
    type Protocol = AwsQuery;
    const NAME: &'static str = "ListInstanceProfilesForRole";
    const ACTION: &'static str = "iam:ListInstanceProfilesForRole";
    const READ_ONLY: bool = true;
    /// The role and the page.
    type Input = (String, Page);
    type Output = (Vec<Profile>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("RoleName"), Accepted::any("MaxItems"), Accepted::any("Marker")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok((p.required("RoleName")?.to_owned(), iam_page(p)?))
    }

    async fn authorization(ctx: &Context<'_>, (role, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(role_target(ctx, role).await?))
    }

    async fn call(ctx: &Context<'_>, (role, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.iam.instance_profiles(&ctx.scope.account, "/", Some(&role)).await?))
    }

    fn encode(ctx: &Context<'_>, listed: Self::Output) -> Reply {
        list_reply(ctx, Self::NAME, listed)
    }
}

pub(crate) struct DeleteInstanceProfile;

impl Operation for DeleteInstanceProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteInstanceProfile";
    const ACTION: &'static str = "iam:DeleteInstanceProfile";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<String, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("InstanceProfileName")])?;
        Ok(p.required("InstanceProfileName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &String) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(profile_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: String) -> Result<(), ApiError> {
        Ok(ctx.state.iam.delete_instance_profile(&ctx.scope.account, &name).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

/// AddRoleToInstanceProfile and RemoveRoleFromInstanceProfile: the profile, then the role.
fn profile_and_role(p: &QueryParams, action: &'static str) -> Result<(String, String), ApiError> {
    refuse_unimplemented(p, action, &[Accepted::any("InstanceProfileName"), Accepted::any("RoleName")])?;
    Ok((p.required("InstanceProfileName")?.to_owned(), p.required("RoleName")?.to_owned()))
}

pub(crate) struct AddRoleToInstanceProfile;

impl Operation for AddRoleToInstanceProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "AddRoleToInstanceProfile";
    const ACTION: &'static str = "iam:AddRoleToInstanceProfile";
    const READ_ONLY: bool = false;
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        profile_and_role(p, Self::NAME)
    }

    /// On the profile, and `iam:PassRole` on the role: whoever launches with the profile
    /// gets the role's rights.
    async fn authorization(ctx: &Context<'_>, (profile, role): &Self::Input) -> Result<Authorization, ApiError> {
        let on = Authorization::on_one(profile_target(ctx, profile).await?);
        Ok(on.and_as("iam:PassRole", vec![role_target(ctx, role).await?]))
    }

    async fn call(ctx: &Context<'_>, (profile, role): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.add_role_to_instance_profile(&ctx.scope.account, &profile, &role).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

pub(crate) struct RemoveRoleFromInstanceProfile;

impl Operation for RemoveRoleFromInstanceProfile {
    type Protocol = AwsQuery;
    const NAME: &'static str = "RemoveRoleFromInstanceProfile";
    const ACTION: &'static str = "iam:RemoveRoleFromInstanceProfile";
    const READ_ONLY: bool = false;
    type Input = (String, String);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        profile_and_role(p, Self::NAME)
    }

    async fn authorization(ctx: &Context<'_>, (profile, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(profile_target(ctx, profile).await?))
    }

    async fn call(ctx: &Context<'_>, (profile, role): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.iam.remove_role_from_instance_profile(&ctx.scope.account, &profile, &role).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        aws_query::success(Self::NAME, ctx.request_id, None)
    }
}

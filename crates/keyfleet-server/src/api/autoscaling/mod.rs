//! EC2 Auto Scaling (Query protocol, `Version=2011-01-01`): groups launched from launch
//! templates and kept at their desired capacity (docs/aws-facts.md, "Auto Scaling"). The
//! groups and their reconciler live in `service/auto_scaling`.

mod encode;

use super::authorize::Target;
use super::error::ApiError;
use super::iam::refuse_unimplemented;
use super::operation::{Authorization, AwsQuery, Endpoint, Operation};
use super::protocol::aws_query;
use super::protocol::ec2_query::{Accepted, QueryParams};
use super::protocol::xml::XmlWriter;
use super::{Context, Reply};
use crate::common::page::{Limits, Page, PageError, PageRequest};
use crate::service::auto_scaling::{
    Checked, CreateGroup, GroupMember, RefreshPreferences, Refused, TemplateChoice, UpdateGroup,
};
use crate::service::launch_templates::{TemplateRef, VersionSpec};
use crate::service::tags::TagSpecification;
use crate::store::{Activity, GroupRow, GroupTag, Health, WireName};

/// EC2 Auto Scaling's namespace.
pub const NAMESPACE: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// Every Auto Scaling action keyfleet implements. Anything else is `InvalidAction`.
pub static ACTIONS: &[Endpoint<AwsQuery>] = &[
    Endpoint::of::<CreateAutoScalingGroup>(),
    Endpoint::of::<UpdateAutoScalingGroup>(),
    Endpoint::of::<SetDesiredCapacity>(),
    Endpoint::of::<DeleteAutoScalingGroup>(),
    Endpoint::of::<DescribeAutoScalingGroups>(),
    Endpoint::of::<DescribeAutoScalingInstances>(),
    Endpoint::of::<TerminateInstanceInAutoScalingGroup>(),
    Endpoint::of::<SetInstanceHealth>(),
    Endpoint::of::<DetachInstances>(),
    Endpoint::of::<AttachInstances>(),
    Endpoint::of::<DescribeScalingActivities>(),
    Endpoint::of::<StartInstanceRefresh>(),
    Endpoint::of::<DescribeInstanceRefreshes>(),
    Endpoint::of::<CancelInstanceRefresh>(),
];

fn reply(ctx: &Context<'_>, action: &str, body: Option<&dyn Fn(&mut XmlWriter)>) -> Reply {
    aws_query::success_in(NAMESPACE, action, ctx.request_id, body)
}

/// A group's target, on its ARN with its tags; `*` for the UUID of one that does not exist.
async fn group_target(ctx: &Context<'_>, name: &str) -> Result<Target, ApiError> {
    match ctx.state.auto_scaling.group(&ctx.scope, name).await {
        Ok(row) => {
            let tags: Vec<crate::store::Tag> = row
                .record
                .tags
                .iter()
                .map(|t| crate::store::Tag { key: t.key.clone(), value: t.value.clone() })
                .collect();
            Ok(Target::auto_scaling_group(&ctx.scope, &row.record.uuid, name).with_resource_tags(&tags))
        }
        Err(_) => Ok(Target::auto_scaling_group(&ctx.scope, "*", name)),
    }
}

/// The target of the group an instance is in.
async fn instance_group_target(ctx: &Context<'_>, instance_id: &str) -> Result<Target, ApiError> {
    match ctx.state.auto_scaling.group_of(&ctx.scope, instance_id).await? {
        Some(group) => group_target(ctx, &group).await,
        None => Ok(Target::any()),
    }
}

/// An integer parameter.
fn integer(p: &QueryParams, name: &str) -> Result<Option<i64>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request("ValidationError", format!("Value '{text}' at '{name}' is not an integer."))
        }),
    }
}

fn required_integer(p: &QueryParams, name: &'static str) -> Result<i64, ApiError> {
    integer(p, name)?.ok_or_else(|| ApiError::missing_parameter(name))
}

/// A boolean parameter, false when absent.
fn boolean(p: &QueryParams, name: &str) -> Result<bool, ApiError> {
    match p.get(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => {
            Err(ApiError::bad_request("ValidationError", format!("Value '{other}' at '{name}' is not a boolean.")))
        }
    }
}

/// `NAME.member.N`.
fn members(p: &QueryParams, name: &str) -> Vec<String> {
    p.list(&format!("{name}.member"))
}

/// `LaunchTemplate.*` (or `DesiredConfiguration.LaunchTemplate.*`).
fn template_choice(p: &QueryParams, prefix: &str) -> Result<Option<TemplateChoice>, ApiError> {
    let field = |name: &str| p.get(&format!("{prefix}.{name}")).filter(|v| !v.is_empty());
    let (id, name, version) = (field("LaunchTemplateId"), field("LaunchTemplateName"), field("Version"));
    let template = match (id, name) {
        (None, None) if version.is_none() => return Ok(None),
        (Some(id), None) => TemplateRef::Id(id.to_owned()),
        (None, Some(name)) => TemplateRef::Name(name.to_owned()),
        _ => {
            return Err(ApiError::bad_request(
                "ValidationError",
                "Valid requests must contain either launchTemplateId or LaunchTemplateName",
            ));
        }
    };
    Ok(Some(TemplateChoice { template, version: version.map(str::to_owned) }))
}

/// `VPCZoneIdentifier`: comma-separated subnet ids.
fn subnets(p: &QueryParams) -> Option<Vec<String>> {
    p.get("VPCZoneIdentifier")
        .map(|list| list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

/// `Tags.member.N.*`.
fn tags(p: &QueryParams) -> Result<Vec<GroupTag>, ApiError> {
    let mut found = Vec::new();
    for n in p.indices("Tags.member") {
        let field = |name: &str| p.get(&format!("Tags.member.{n}.{name}"));
        let key = field("Key").ok_or_else(|| ApiError::missing_parameter("Key"))?;
        if field("ResourceType").is_some_and(|t| t != "auto-scaling-group") {
            return Err(ApiError::bad_request(
                "ValidationError",
                "The only supported ResourceType is auto-scaling-group",
            ));
        }
        // A key given twice has its last value, as everywhere tags are given.
        found.retain(|t: &GroupTag| t.key != key);
        found.push(GroupTag {
            key: key.to_owned(),
            value: field("Value").unwrap_or_default().to_owned(),
            propagate: boolean(p, &format!("Tags.member.{n}.PropagateAtLaunch"))?,
        });
    }
    Ok(found)
}

/// `MaxRecords` and `NextToken`, within `max`.
fn records(p: &QueryParams, default: u32, max: u32) -> Result<Page, ApiError> {
    let request = PageRequest {
        max_results: p.get("MaxRecords").map(str::to_owned),
        next_token: p.get("NextToken").map(str::to_owned),
    };
    request.check(&Limits { min: 1, max, default: Some(default), cuts_larger: false }).map_err(|e| match e {
        PageError::MaxResults { asked, .. } => ApiError::bad_request(
            "ValidationError",
            format!("1 validation error detected: Value '{asked}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to {max}"),
        ),
        PageError::Token(_) => ApiError::bad_request("InvalidNextToken", "The token is not valid."),
    })
}

/// The parameters CreateAutoScalingGroup and UpdateAutoScalingGroup share.
const GROUP_PARAMETERS: [Accepted; 12] = [
    Accepted::any("AutoScalingGroupName"),
    Accepted::any("LaunchTemplate.LaunchTemplateId"),
    Accepted::any("LaunchTemplate.LaunchTemplateName"),
    Accepted::any("LaunchTemplate.Version"),
    Accepted::any("MinSize"),
    Accepted::any("MaxSize"),
    Accepted::any("DesiredCapacity"),
    Accepted::any("DefaultCooldown"),
    Accepted::any("HealthCheckGracePeriod"),
    Accepted::only("HealthCheckType", &["EC2"]),
    Accepted::any("AvailabilityZones.member.N"),
    Accepted::any("VPCZoneIdentifier"),
];

pub(crate) struct CreateAutoScalingGroup;

impl Operation for CreateAutoScalingGroup {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CreateAutoScalingGroup";
    const ACTION: &'static str = "autoscaling:CreateAutoScalingGroup";
    const READ_ONLY: bool = false;
    type Input = CreateGroup;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let tag_parameters = [
            Accepted::any("Tags.member.N.Key"),
            Accepted::any("Tags.member.N.Value"),
            Accepted::any("Tags.member.N.PropagateAtLaunch"),
            Accepted::any("Tags.member.N.ResourceId"),
            Accepted::any("Tags.member.N.ResourceType"),
        ];
        let accepted: Vec<Accepted> = GROUP_PARAMETERS.into_iter().chain(tag_parameters).collect();
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok(CreateGroup {
            name: p.required("AutoScalingGroupName")?.to_owned(),
            template: template_choice(p, "LaunchTemplate")?,
            min_size: required_integer(p, "MinSize")?,
            max_size: required_integer(p, "MaxSize")?,
            desired: integer(p, "DesiredCapacity")?,
            default_cooldown: integer(p, "DefaultCooldown")?,
            grace_period: integer(p, "HealthCheckGracePeriod")?,
            zones: members(p, "AvailabilityZones"),
            subnets: subnets(p).unwrap_or_default(),
            tags: tags(p)?,
            checked: Checked::default(),
        })
    }

    /// The group (by its name: it has no UUID yet), and launching from its template as the
    /// caller: a group may launch nothing its maker could not launch by hand.
    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        let tags: Vec<crate::store::Tag> =
            input.tags.iter().map(|t| crate::store::Tag { key: t.key.clone(), value: t.value.clone() }).collect();
        let group = Target::auto_scaling_group(&ctx.scope, "*", &input.name).with_request_tags(&tags);
        let authorization = Authorization::on_one(group);
        Ok(match &input.template {
            Some(choice) => with_launch(ctx, authorization, choice, &input.tags, &input.checked).await?,
            None => authorization,
        })
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.auto_scaling.create(&ctx.scope, input).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

/// The group's launches checked as the caller's own RunInstances from the template version
/// it names now (key pair, image, groups, tags and the template): a group launches nothing
/// its maker could not launch by hand. A template that cannot be read is checked by name,
/// and the call then answers why it cannot launch.
async fn with_launch(
    ctx: &Context<'_>,
    authorization: Authorization,
    choice: &TemplateChoice,
    group_tags: &[GroupTag],
    checked: &Checked,
) -> Result<Authorization, ApiError> {
    let resolved = match choice.version.as_deref().map(VersionSpec::parse).transpose() {
        Ok(spec) => ctx.state.launch_templates.resolve(&ctx.scope, &choice.template, spec).await,
        Err(e) => Err(e),
    };
    let version = match resolved {
        Ok(version) => version,
        Err(e) => {
            // Pinned as unreadable: the call refuses, even if the template appears meanwhile.
            let _ = checked.0.set(Err(ApiError::from(e).message));
            let unread = vec![Target::launch_template(&ctx.scope, "*"), Target::instance(&ctx.scope, "*")];
            return Ok(authorization.and_as("ec2:RunInstances", unread));
        }
    };
    let _ = checked.0.set(Ok((version.template.id.clone(), version.version.version)));
    let propagated: Vec<crate::store::Tag> = group_tags
        .iter()
        .filter(|t| t.propagate)
        .map(|t| crate::store::Tag { key: t.key.clone(), value: t.value.clone() })
        .collect();
    let request = crate::service::instances::RunInstances {
        tag_specifications: vec![TagSpecification { resource_type: Some("instance".into()), tags: propagated }],
        ..Default::default()
    };
    let launch = crate::service::launch_templates::launch(&version, request, Default::default());
    let checks = super::ec2::instances::launch_checks(ctx, &launch).await?;
    let authorization = authorization.and_as("ec2:RunInstances", checks.launch);
    Ok(if checks.tagging.is_empty() { authorization } else { authorization.and_as("ec2:CreateTags", checks.tagging) })
}

pub(crate) struct UpdateAutoScalingGroup;

impl Operation for UpdateAutoScalingGroup {
    type Protocol = AwsQuery;
    const NAME: &'static str = "UpdateAutoScalingGroup";
    const ACTION: &'static str = "autoscaling:UpdateAutoScalingGroup";
    const READ_ONLY: bool = false;
    type Input = (String, UpdateGroup);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &GROUP_PARAMETERS)?;
        let zones = members(p, "AvailabilityZones");
        let update = UpdateGroup {
            template: template_choice(p, "LaunchTemplate")?,
            min_size: integer(p, "MinSize")?,
            max_size: integer(p, "MaxSize")?,
            desired: integer(p, "DesiredCapacity")?,
            default_cooldown: integer(p, "DefaultCooldown")?,
            grace_period: integer(p, "HealthCheckGracePeriod")?,
            zones: (!zones.is_empty()).then_some(zones),
            subnets: subnets(p),
            checked: Checked::default(),
        };
        Ok((p.required("AutoScalingGroupName")?.to_owned(), update))
    }

    async fn authorization(ctx: &Context<'_>, (name, update): &Self::Input) -> Result<Authorization, ApiError> {
        let authorization = Authorization::on_one(group_target(ctx, name).await?);
        let Some(choice) = &update.template else { return Ok(authorization) };
        let tags = match ctx.state.auto_scaling.group(&ctx.scope, name).await {
            Ok(row) => row.record.tags,
            Err(crate::service::Error::AutoScaling(Refused::NotFound)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        with_launch(ctx, authorization, choice, &tags, &update.checked).await
    }

    async fn call(ctx: &Context<'_>, (name, update): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.auto_scaling.update(&ctx.scope, &name, update).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

pub(crate) struct SetDesiredCapacity;

impl Operation for SetDesiredCapacity {
    type Protocol = AwsQuery;
    const NAME: &'static str = "SetDesiredCapacity";
    const ACTION: &'static str = "autoscaling:SetDesiredCapacity";
    const READ_ONLY: bool = false;
    type Input = (String, i64);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        // Manual scaling does not honour the cooldown by default; keyfleet has no cooldown.
        let accepted = [
            Accepted::any("AutoScalingGroupName"),
            Accepted::any("DesiredCapacity"),
            Accepted::only("HonorCooldown", &["false"]),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok((p.required("AutoScalingGroupName")?.to_owned(), required_integer(p, "DesiredCapacity")?))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, desired): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.auto_scaling.set_desired(&ctx.scope, &name, desired).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

pub(crate) struct DeleteAutoScalingGroup;

impl Operation for DeleteAutoScalingGroup {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DeleteAutoScalingGroup";
    const ACTION: &'static str = "autoscaling:DeleteAutoScalingGroup";
    const READ_ONLY: bool = false;
    type Input = (String, bool);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("AutoScalingGroupName"), Accepted::any("ForceDelete")])?;
        Ok((p.required("AutoScalingGroupName")?.to_owned(), boolean(p, "ForceDelete")?))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, force): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.auto_scaling.delete(&ctx.scope, &name, force).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

pub(crate) struct DescribeAutoScalingGroups;

impl Operation for DescribeAutoScalingGroups {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeAutoScalingGroups";
    const ACTION: &'static str = "autoscaling:DescribeAutoScalingGroups";
    const READ_ONLY: bool = true;
    type Input = (Vec<String>, Page);
    /// The page of groups with each one's refresh progress, and the next token.
    type Output = (Vec<GroupRow>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [
            Accepted::any("AutoScalingGroupNames.member.N"),
            Accepted::any("MaxRecords"),
            Accepted::any("NextToken"),
            Accepted::only("IncludeInstances", &["true"]),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        let names = members(p, "AutoScalingGroupNames");
        if names.len() > 50 {
            return Err(ApiError::bad_request(
                "ValidationError",
                "The number of group names that may be passed in is limited to 50",
            ));
        }
        Ok((names, records(p, 50, 100)?))
    }

    async fn authorization(_: &Context<'_>, (names, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any().noting("AWS::AutoScaling::AutoScalingGroup", names))
    }

    async fn call(ctx: &Context<'_>, (names, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.auto_scaling.describe(&ctx.scope, &names).await?))
    }

    fn encode(ctx: &Context<'_>, (groups, next): Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("AutoScalingGroups");
                for group in &groups {
                    encode::group(w, &ctx.scope, group);
                }
                w.end("AutoScalingGroups");
                if let Some(token) = &next {
                    w.text("NextToken", token);
                }
            }),
        )
    }
}

pub(crate) struct DescribeAutoScalingInstances;

impl Operation for DescribeAutoScalingInstances {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeAutoScalingInstances";
    const ACTION: &'static str = "autoscaling:DescribeAutoScalingInstances";
    const READ_ONLY: bool = true;
    type Input = (Vec<String>, Page);
    type Output = (Vec<GroupMember>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("InstanceIds.member.N"), Accepted::any("MaxRecords"), Accepted::any("NextToken")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        let ids = members(p, "InstanceIds");
        if ids.len() > 50 {
            return Err(ApiError::bad_request(
                "ValidationError",
                "The number of instance ids that may be passed in is limited to 50",
            ));
        }
        Ok((ids, records(p, 50, 50)?))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (ids, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.auto_scaling.members(&ctx.scope, &ids).await?))
    }

    fn encode(ctx: &Context<'_>, (found, next): Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("AutoScalingInstances");
                for member in &found {
                    w.start("member");
                    encode::member(w, member, true);
                    w.end("member");
                }
                w.end("AutoScalingInstances");
                if let Some(token) = &next {
                    w.text("NextToken", token);
                }
            }),
        )
    }
}

pub(crate) struct TerminateInstanceInAutoScalingGroup;

impl Operation for TerminateInstanceInAutoScalingGroup {
    type Protocol = AwsQuery;
    const NAME: &'static str = "TerminateInstanceInAutoScalingGroup";
    const ACTION: &'static str = "autoscaling:TerminateInstanceInAutoScalingGroup";
    const READ_ONLY: bool = false;
    type Input = (String, bool);
    type Output = Activity;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("InstanceId"), Accepted::any("ShouldDecrementDesiredCapacity")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        p.required("ShouldDecrementDesiredCapacity")?;
        Ok((p.required("InstanceId")?.to_owned(), boolean(p, "ShouldDecrementDesiredCapacity")?))
    }

    async fn authorization(ctx: &Context<'_>, (id, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(instance_group_target(ctx, id).await?))
    }

    async fn call(ctx: &Context<'_>, (id, decrement): Self::Input) -> Result<Activity, ApiError> {
        Ok(ctx.state.auto_scaling.terminate_instance(&ctx.scope, &id, decrement).await?)
    }

    fn encode(ctx: &Context<'_>, activity: Activity) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("Activity");
                encode::activity_members(w, &activity, None);
                w.end("Activity");
            }),
        )
    }
}

pub(crate) struct SetInstanceHealth;

impl Operation for SetInstanceHealth {
    type Protocol = AwsQuery;
    const NAME: &'static str = "SetInstanceHealth";
    const ACTION: &'static str = "autoscaling:SetInstanceHealth";
    const READ_ONLY: bool = false;
    /// The instance, its health, and whether the grace period holds it.
    type Input = (String, Health, bool);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        // Without a grace period there is nothing for ShouldRespectGracePeriod to respect.
        let accepted =
            [Accepted::any("InstanceId"), Accepted::any("HealthStatus"), Accepted::any("ShouldRespectGracePeriod")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        boolean(p, "ShouldRespectGracePeriod")?;
        let status = p.required("HealthStatus")?;
        let health = Health::parse(status).ok_or_else(|| {
            ApiError::bad_request(
                "ValidationError",
                format!("Valid health statuses are 'Healthy' and 'Unhealthy', not '{status}'."),
            )
        })?;
        let respect = p.get("ShouldRespectGracePeriod").is_none() || boolean(p, "ShouldRespectGracePeriod")?;
        Ok((p.required("InstanceId")?.to_owned(), health, respect))
    }

    async fn authorization(ctx: &Context<'_>, (id, _, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(instance_group_target(ctx, id).await?))
    }

    async fn call(ctx: &Context<'_>, (id, health, respect): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.auto_scaling.set_health(&ctx.scope, &id, health, respect).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

/// At most this many instances per Detach or Attach call (the model's limit).
const INSTANCES_PER_CALL: usize = 20;

fn instance_list(p: &QueryParams) -> Result<Vec<String>, ApiError> {
    let ids = members(p, "InstanceIds");
    if ids.len() > INSTANCES_PER_CALL {
        return Err(ApiError::bad_request(
            "ValidationError",
            format!("The number of instances that may be passed in is limited to {INSTANCES_PER_CALL}"),
        ));
    }
    Ok(ids)
}

pub(crate) struct DetachInstances;

impl Operation for DetachInstances {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DetachInstances";
    const ACTION: &'static str = "autoscaling:DetachInstances";
    const READ_ONLY: bool = false;
    type Input = (String, Vec<String>, bool);
    type Output = Vec<Activity>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [
            Accepted::any("AutoScalingGroupName"),
            Accepted::any("InstanceIds.member.N"),
            Accepted::any("ShouldDecrementDesiredCapacity"),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        p.required("ShouldDecrementDesiredCapacity")?;
        let decrement = boolean(p, "ShouldDecrementDesiredCapacity")?;
        Ok((p.required("AutoScalingGroupName")?.to_owned(), instance_list(p)?, decrement))
    }

    async fn authorization(ctx: &Context<'_>, (name, _, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, ids, decrement): Self::Input) -> Result<Vec<Activity>, ApiError> {
        Ok(ctx.state.auto_scaling.detach(&ctx.scope, &name, &ids, decrement).await?)
    }

    fn encode(ctx: &Context<'_>, activities: Vec<Activity>) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("Activities");
                for activity in &activities {
                    w.start("member");
                    encode::activity_members(w, activity, None);
                    w.end("member");
                }
                w.end("Activities");
            }),
        )
    }
}

pub(crate) struct AttachInstances;

impl Operation for AttachInstances {
    type Protocol = AwsQuery;
    const NAME: &'static str = "AttachInstances";
    const ACTION: &'static str = "autoscaling:AttachInstances";
    const READ_ONLY: bool = false;
    type Input = (String, Vec<String>);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [Accepted::any("AutoScalingGroupName"), Accepted::any("InstanceIds.member.N")];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok((p.required("AutoScalingGroupName")?.to_owned(), instance_list(p)?))
    }

    async fn authorization(ctx: &Context<'_>, (name, ids): &Self::Input) -> Result<Authorization, ApiError> {
        let instances = super::ec2::targets::instances(ctx, ids).await?;
        Ok(Authorization::on_one(group_target(ctx, name).await?).and_as("ec2:CreateTags", instances))
    }

    async fn call(ctx: &Context<'_>, (name, ids): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.auto_scaling.attach(&ctx.scope, &name, &ids).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        reply(ctx, Self::NAME, None)
    }
}

pub(crate) struct DescribeScalingActivities;

impl Operation for DescribeScalingActivities {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeScalingActivities";
    const ACTION: &'static str = "autoscaling:DescribeScalingActivities";
    const READ_ONLY: bool = true;
    type Input = (Option<String>, Vec<String>, Page);
    /// The page of activities with their groups' ARNs, and the next token.
    type Output = (Vec<(Activity, Option<String>)>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [
            Accepted::any("AutoScalingGroupName"),
            Accepted::any("ActivityIds.member.N"),
            Accepted::any("MaxRecords"),
            Accepted::any("NextToken"),
            Accepted::only("IncludeDeletedGroups", &["false"]),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        let ids = members(p, "ActivityIds");
        if ids.len() > 50 {
            return Err(ApiError::bad_request(
                "ValidationError",
                "The number of activity ids that may be passed in is limited to 50",
            ));
        }
        Ok((p.get("AutoScalingGroupName").map(str::to_owned), ids, records(p, 100, 100)?))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (group, ids, page): Self::Input) -> Result<Self::Output, ApiError> {
        let service = &ctx.state.auto_scaling;
        let activities = service.activities(&ctx.scope, group.as_deref()).await?;
        let groups = service.describe(&ctx.scope, &[]).await?;
        let arn = |name: &str| {
            let group = groups.iter().find(|g| g.name == name)?;
            Some(crate::service::auto_scaling::group_arn(&ctx.scope, &group.record.uuid, name))
        };
        // In-progress activities first, then by start time, newest first.
        let mut chosen: Vec<(Activity, Option<String>)> = activities
            .into_iter()
            .filter(|a| ids.is_empty() || ids.contains(&a.id))
            .map(|a| {
                let arn = arn(&a.group);
                (a, arn)
            })
            .collect();
        chosen.sort_by_key(|(a, _)| (a.end_ms.is_some(), std::cmp::Reverse(a.start_ms)));
        Ok(page.take(chosen))
    }

    fn encode(ctx: &Context<'_>, (activities, next): Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("Activities");
                for (activity, arn) in &activities {
                    w.start("member");
                    encode::activity_members(w, activity, arn.as_deref());
                    w.end("member");
                }
                w.end("Activities");
                if let Some(token) = &next {
                    w.text("NextToken", token);
                }
            }),
        )
    }
}

pub(crate) struct StartInstanceRefresh;

impl Operation for StartInstanceRefresh {
    type Protocol = AwsQuery;
    const NAME: &'static str = "StartInstanceRefresh";
    const ACTION: &'static str = "autoscaling:StartInstanceRefresh";
    const READ_ONLY: bool = false;
    type Input = (String, RefreshPreferences);
    type Output = String;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [
            Accepted::any("AutoScalingGroupName"),
            Accepted::only("Strategy", &["Rolling"]),
            Accepted::any("Preferences.MinHealthyPercentage"),
            Accepted::any("Preferences.InstanceWarmup"),
            Accepted::any("Preferences.SkipMatching"),
            Accepted::only("Preferences.MaxHealthyPercentage", &["100"]),
            Accepted::only("Preferences.AutoRollback", &["false"]),
            Accepted::only("Preferences.ScaleInProtectedInstances", &["Ignore", "Wait"]),
            Accepted::only("Preferences.StandbyInstances", &["Ignore", "Wait"]),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        let preferences = RefreshPreferences {
            min_healthy_percentage: integer(p, "Preferences.MinHealthyPercentage")?,
            warmup_seconds: integer(p, "Preferences.InstanceWarmup")?,
            skip_matching: boolean(p, "Preferences.SkipMatching")?,
        };
        Ok((p.required("AutoScalingGroupName")?.to_owned(), preferences))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, (name, preferences): Self::Input) -> Result<String, ApiError> {
        Ok(ctx.state.auto_scaling.start_refresh(&ctx.scope, &name, preferences).await?)
    }

    fn encode(ctx: &Context<'_>, id: String) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.text("InstanceRefreshId", &id);
            }),
        )
    }
}

pub(crate) struct DescribeInstanceRefreshes;

impl Operation for DescribeInstanceRefreshes {
    type Protocol = AwsQuery;
    const NAME: &'static str = "DescribeInstanceRefreshes";
    const ACTION: &'static str = "autoscaling:DescribeInstanceRefreshes";
    const READ_ONLY: bool = true;
    type Input = (String, Vec<String>);
    type Output = Option<GroupRow>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted = [
            Accepted::any("AutoScalingGroupName"),
            Accepted::any("InstanceRefreshIds.member.N"),
            Accepted::any("MaxRecords"),
            Accepted::any("NextToken"),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        records(p, 50, 100)?;
        Ok((p.required("AutoScalingGroupName")?.to_owned(), members(p, "InstanceRefreshIds")))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    /// keyfleet keeps a group's latest refresh.
    async fn call(ctx: &Context<'_>, (name, ids): Self::Input) -> Result<Self::Output, ApiError> {
        let group = ctx.state.auto_scaling.describe(&ctx.scope, std::slice::from_ref(&name)).await?.pop();
        Ok(group.filter(|g| g.record.refresh.as_ref().is_some_and(|r| ids.is_empty() || ids.contains(&r.id))))
    }

    fn encode(ctx: &Context<'_>, group: Self::Output) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.start("InstanceRefreshes");
                if let Some(group) = &group {
                    encode::refresh(w, group);
                }
                w.end("InstanceRefreshes");
            }),
        )
    }
}

pub(crate) struct CancelInstanceRefresh;

impl Operation for CancelInstanceRefresh {
    type Protocol = AwsQuery;
    const NAME: &'static str = "CancelInstanceRefresh";
    const ACTION: &'static str = "autoscaling:CancelInstanceRefresh";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = String;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted =
            [Accepted::any("AutoScalingGroupName"), Accepted::only("WaitForTransitioningInstances", &["true"])];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok(p.required("AutoScalingGroupName")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, name).await?))
    }

    async fn call(ctx: &Context<'_>, name: Self::Input) -> Result<String, ApiError> {
        Ok(ctx.state.auto_scaling.cancel_refresh(&ctx.scope, &name).await?)
    }

    fn encode(ctx: &Context<'_>, id: String) -> Reply {
        reply(
            ctx,
            Self::NAME,
            Some(&|w: &mut XmlWriter| {
                w.text("InstanceRefreshId", &id);
            }),
        )
    }
}

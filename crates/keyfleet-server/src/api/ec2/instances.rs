//! Wire side of the instance actions, images and volumes (shapes: docs/aws-facts.md, "Instances, images
//! and volumes").

use super::{IMAGE_PAGES, INSTANCE_PAGES, VOLUME_PAGES, page, refuse_unimplemented, targets, unsupported};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, Accepted, QueryParams, timestamp};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::common::page::{Limits, Page};
use crate::service::filter::Filter;
use crate::service::network::{self, PlacementRequest};
use crate::service::security_groups::{DEFAULT_GROUP, GroupRef};
use std::marker::PhantomData;
use std::sync::OnceLock;

use crate::service::launch_templates::{self, Given, TemplateRef, VersionSpec};

use crate::service::images;
use crate::service::instances::{self as service, Modification, Placed, StateChange};
use crate::store::{InstanceAttribute, InstanceRow, InstanceState, Scope, ShutdownBehavior, VolumeLife, WireName};

pub(crate) struct RunInstances;

impl Operation for RunInstances {
    type Protocol = Ec2Query;
    const NAME: &'static str = "RunInstances";
    const ACTION: &'static str = "ec2:RunInstances";
    const READ_ONLY: bool = false;
    type Input = RunRequest;
    /// The reservation, its instances, and the names of their groups.
    type Output = (String, Vec<InstanceRow>, GroupNames);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &RUN_INSTANCES_PARAMETERS)?;
        let template = launch_template(p)?;
        let image_id = match template {
            None => Some(p.required("ImageId")?),
            Some(_) => p.get("ImageId").filter(|i| !i.is_empty()),
        };
        let given = Given { image_id: image_id.is_some(), http_tokens: p.get("MetadataOptions.HttpTokens").is_some() };
        let run = service::RunInstances {
            root_volume_gib: root_volume_gib(p)?,
            volume_life: root_volume_life(p)?,
            client_token: client_token(p)?,
            image_id: image_id.unwrap_or_default().to_owned(),
            instance_type: p.get("InstanceType").map(str::to_owned),
            key_name: p.get("KeyName").filter(|k| !k.is_empty()).map(str::to_owned),
            min_count: count(p, "MinCount")?,
            max_count: count(p, "MaxCount")?,
            tag_specifications: p.tag_specifications(),
            user_data: p.get("UserData").map(str::to_owned),
            security_groups: primary_interface(p)?.map_or_else(
                || {
                    p.list("SecurityGroupId")
                        .into_iter()
                        .map(GroupRef::Id)
                        .chain(p.list("SecurityGroup").into_iter().map(GroupRef::Name))
                        .collect()
                },
                |_| p.list(&format!("{INTERFACE}.SecurityGroupId")).into_iter().map(GroupRef::Id).collect(),
            ),
            placement: PlacementRequest {
                subnet_id: primary_interface(p)?
                    .map_or_else(|| p.get("SubnetId"), |_| p.get(&format!("{INTERFACE}.SubnetId")))
                    .map(str::to_owned),
                zone: p.get("Placement.AvailabilityZone").map(str::to_owned),
            },
            disable_api_termination: p.flag("DisableApiTermination")?,
            shutdown_behavior: shutdown_behavior(p.get("InstanceInitiatedShutdownBehavior"))?.unwrap_or_default(),
            tokens_required: match p.get("MetadataOptions.HttpTokens") {
                None | Some("optional") => false,
                Some("required") => true,
                Some(other) => {
                    return Err(ApiError::invalid_parameter_value(format!(
                        "The value '{other}' is not valid for the parameter HttpTokens. Valid values: optional, required."
                    )));
                }
            },
            launched_from: None,
            auto_scaling_group: None,
        };
        Ok(RunRequest { run, template, given, resolved: OnceLock::new() })
    }

    /// Checked on the new instances (with the requested tags), the key pair, the image and
    /// the security groups, each as its own resource.
    async fn authorization(ctx: &Context<'_>, request: &Self::Input) -> Result<Authorization, ApiError> {
        let checks = launch_checks(ctx, request.resolved(ctx).await?).await?;
        let authorization = Authorization::on(checks.launch);
        if checks.tagging.is_empty() {
            return Ok(authorization);
        }
        Ok(authorization.and_as("ec2:CreateTags", checks.tagging))
    }

    async fn call(ctx: &Context<'_>, request: Self::Input) -> Result<Self::Output, ApiError> {
        request.resolved(ctx).await?;
        let input = request.resolved.into_inner().ok_or_else(|| ApiError::internal(&"launch not resolved"))?;
        let (reservation_id, rows) = ctx.state.instances.run(&ctx.scope, input).await?;
        Ok((reservation_id, rows, group_names(ctx).await?))
    }

    fn encode(ctx: &Context<'_>, (reservation_id, rows, groups): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, rows.len() * 1500, |w| {
            w.text("reservationId", &reservation_id).text("ownerId", &ctx.scope.account).empty("groupSet");
            w.start("instancesSet");
            for row in &rows {
                instance_item(w, row, &ctx.scope, &groups);
            }
            w.end("instancesSet");
        })
    }

    fn created((_, rows, _): &Self::Output) -> Vec<(&'static str, String)> {
        rows.iter().map(|row| ("AWS::EC2::Instance", row.id.clone())).collect()
    }
}

/// What a launch is authorized on: `ec2:RunInstances` on the new instances (with their tags),
/// the image, the key pair, each security group and the launch template (with its tags);
/// `ec2:CreateTags` on what is tagged at launch. RunInstances and Auto Scaling (for the group's
/// template, when the group is made or changed) check the same.
pub(crate) struct LaunchChecks {
    pub(crate) launch: Vec<Target>,
    pub(crate) tagging: Vec<Target>,
}

pub(crate) async fn launch_checks(ctx: &Context<'_>, input: &service::RunInstances) -> Result<LaunchChecks, ApiError> {
    let tags = targets::requested_tags(&input.tag_specifications, "instance");
    let mut launch = vec![
        Target::instance(&ctx.scope, "*").with_request_tags(&tags),
        Target::image(&ctx.scope, crate::service::images::canonical(&input.image_id)),
    ];
    if let Some(name) = &input.key_name {
        launch.push(targets::key_pair(ctx, Some(name), None).await?);
    }
    // Each group the instances go into (the default group when none is named).
    let default = [GroupRef::Name(DEFAULT_GROUP.to_owned())];
    let groups = if input.security_groups.is_empty() { &default[..] } else { &input.security_groups[..] };
    for group in groups.iter().take(crate::service::security_groups::MAX_GROUPS_PER_INSTANCE + 1) {
        launch.push(super::security_groups::group_target(ctx, group).await?);
    }
    if let Some((template_id, _)) = &input.launched_from {
        let template = TemplateRef::Id(template_id.clone());
        launch.push(super::launch_templates::template_target(ctx, &template).await?);
    }
    // Tagging at launch is also `ec2:CreateTags` on what is tagged (the new instances,
    // their volumes), as on EC2.
    let volume_tags = targets::requested_tags(&input.tag_specifications, "volume");
    let mut tagging = Vec::new();
    if !tags.is_empty() {
        tagging.push(Target::instance(&ctx.scope, "*").with_request_tags(&tags));
    }
    if !volume_tags.is_empty() {
        tagging.push(Target::ec2_resource(&ctx.scope, "volume", "*").with_request_tags(&volume_tags));
    }
    let tagging = tagging.into_iter().map(|t| t.with_key("ec2:CreateAction", RunInstances::NAME)).collect();
    Ok(LaunchChecks { launch, tagging })
}

/// RunInstances as the request says it, and as it launches once its launch template (if
/// any) is read. The template is read once, when the request is authorized, so that the
/// launch is exactly what was authorized even if the template's default moves meanwhile.
pub(crate) struct RunRequest {
    run: service::RunInstances,
    template: Option<(TemplateRef, Option<VersionSpec>)>,
    given: Given,
    resolved: OnceLock<service::RunInstances>,
}

impl RunRequest {
    async fn resolved(&self, ctx: &Context<'_>) -> Result<&service::RunInstances, ApiError> {
        if let Some(resolved) = self.resolved.get() {
            return Ok(resolved);
        }
        let run = match &self.template {
            None => self.run.clone(),
            Some((template, version)) => {
                let version = ctx.state.launch_templates.resolve(&ctx.scope, template, *version).await?;
                let run = launch_templates::launch(&version, self.run.clone(), self.given);
                if run.image_id.is_empty() {
                    return Err(ApiError::missing_parameter("ImageId"));
                }
                run
            }
        };
        Ok(self.resolved.get_or_init(|| run))
    }
}

/// `LaunchTemplate.LaunchTemplateId` or `.LaunchTemplateName`, and `.Version`.
fn launch_template(p: &QueryParams) -> Result<Option<(TemplateRef, Option<VersionSpec>)>, ApiError> {
    let (id, name) = (p.get("LaunchTemplate.LaunchTemplateId"), p.get("LaunchTemplate.LaunchTemplateName"));
    let version = p.get("LaunchTemplate.Version").map(VersionSpec::parse).transpose()?;
    if id.is_none() && name.is_none() && version.is_none() {
        return Ok(None);
    }
    Ok(Some((TemplateRef::from_parts(id, name)?, version)))
}

pub(crate) struct DescribeInstances;

/// Instance ids, filters, and the page.
pub(crate) struct DescribeInstancesInput {
    ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
}

impl Operation for DescribeInstances {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeInstances";
    const ACTION: &'static str = "ec2:DescribeInstances";
    const READ_ONLY: bool = true;
    type Input = DescribeInstancesInput;
    /// One page of instances, the next page's token, and the names of their groups.
    type Output = (Vec<InstanceRow>, Option<String>, GroupNames);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let (ids, filters) = (p.list("InstanceId"), p.filters()?);
        let page = page(p, !ids.is_empty(), &INSTANCE_PAGES)?;
        Ok(DescribeInstancesInput { ids, filters, page })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        let (rows, next) = input.page.take(ctx.state.instances.describe(&ctx.scope, &input.ids, &input.filters).await?);
        Ok((rows, next, group_names(ctx).await?))
    }

    fn encode(ctx: &Context<'_>, (rows, next_token, groups): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, rows.len() * 1600, |w| {
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
            if rows.is_empty() {
                w.empty("reservationSet");
                return;
            }
            w.start("reservationSet");
            for reservation in rows.chunk_by(|a, b| a.reservation_id == b.reservation_id) {
                let Some(first) = reservation.first() else { continue };
                w.start("item").text("reservationId", &first.reservation_id).text("ownerId", &ctx.scope.account);
                w.empty("groupSet").start("instancesSet");
                for row in reservation {
                    instance_item(w, row, &ctx.scope, &groups);
                }
                w.end("instancesSet").end("item");
            }
            w.end("reservationSet");
        })
    }
}

/// Stop, start and terminate: instance ids in, each instance's state change out. One
/// operation, [`Transition`], serves the three.
pub(crate) trait StateTransition: Send + Sync + 'static {
    const NAME: &'static str;
    const ACTION: &'static str;
    const CHANGE: Change;
}

/// The service call each transition makes.
pub(crate) enum Change {
    Stop,
    Start,
    Terminate,
}

pub(crate) struct Transition<T>(PhantomData<T>);

impl<T: StateTransition> Operation for Transition<T> {
    type Protocol = Ec2Query;
    const NAME: &'static str = T::NAME;
    const ACTION: &'static str = T::ACTION;
    const READ_ONLY: bool = false;
    type Input = Vec<String>;
    type Output = Vec<StateChange>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        instance_ids(p)
    }

    async fn authorization(ctx: &Context<'_>, ids: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(targets::instances(ctx, ids).await?))
    }

    async fn call(ctx: &Context<'_>, ids: Self::Input) -> Result<Self::Output, ApiError> {
        let (instances, scope) = (&ctx.state.instances, &ctx.scope);
        Ok(match T::CHANGE {
            Change::Stop => instances.stop(scope, &ids).await?,
            Change::Start => instances.start(scope, &ids).await?,
            Change::Terminate => instances.terminate(scope, &ids).await?,
        })
    }

    fn encode(ctx: &Context<'_>, changes: Self::Output) -> Reply {
        state_changes(Self::NAME, ctx, &changes)
    }
}

pub(crate) struct Stop;

impl StateTransition for Stop {
    const NAME: &'static str = "StopInstances";
    const ACTION: &'static str = "ec2:StopInstances";
    const CHANGE: Change = Change::Stop;
}

pub(crate) struct Start;

impl StateTransition for Start {
    const NAME: &'static str = "StartInstances";
    const ACTION: &'static str = "ec2:StartInstances";
    const CHANGE: Change = Change::Start;
}

pub(crate) struct Terminate;

impl StateTransition for Terminate {
    const NAME: &'static str = "TerminateInstances";
    const ACTION: &'static str = "ec2:TerminateInstances";
    const CHANGE: Change = Change::Terminate;
}

pub(crate) struct RebootInstances;

impl Operation for RebootInstances {
    type Protocol = Ec2Query;
    const NAME: &'static str = "RebootInstances";
    const ACTION: &'static str = "ec2:RebootInstances";
    const READ_ONLY: bool = false;
    type Input = Vec<String>;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        instance_ids(p)
    }

    async fn authorization(ctx: &Context<'_>, ids: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(targets::instances(ctx, ids).await?))
    }

    async fn call(ctx: &Context<'_>, ids: Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.instances.reboot(&ctx.scope, &ids).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 64, |w| {
            w.text("return", "true");
        })
    }
}

pub(super) struct DescribeImages;

const DESCRIBE_IMAGES_PARAMETERS: [Accepted; 9] = [
    Accepted::any("ImageId.N"),
    Accepted::any("Owner.N"),
    Accepted::any("ExecutableBy.N"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
    Accepted::any("MaxResults"),
    Accepted::any("NextToken"),
    // Built-in images are never deprecated or disabled: including them changes nothing.
    Accepted::any("IncludeDeprecated"),
    Accepted::any("IncludeDisabled"),
];

impl Operation for DescribeImages {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeImages";
    const ACTION: &'static str = "ec2:DescribeImages";
    const READ_ONLY: bool = true;
    type Input = (images::DescribeImages, Page);
    type Output = (Vec<&'static images::Image>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &DESCRIBE_IMAGES_PARAMETERS)?;
        p.flag("IncludeDeprecated")?;
        p.flag("IncludeDisabled")?;
        let request = images::DescribeImages {
            ids: p.list("ImageId"),
            owners: p.list("Owner"),
            executable_by: p.list("ExecutableBy"),
            filters: p.filters()?,
        };
        let page = page(p, !request.ids.is_empty(), &IMAGE_PAGES)?;
        Ok((request, page))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (request, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(images::describe(&ctx.scope.account, &request)?))
    }

    fn encode(ctx: &Context<'_>, (found, next): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 1024, |w| {
            w.start("imagesSet");
            for image in found {
                w.start("item")
                    .text("imageId", image.id)
                    .text("imageLocation", &format!("{}/{}", images::IMAGE_OWNER_ALIAS, image.name))
                    .text("imageState", "available")
                    .text("imageOwnerId", images::IMAGE_OWNER_ID)
                    .text("creationDate", "2026-01-01T00:00:00.000Z")
                    .text("isPublic", "true")
                    .text("architecture", service::IMAGE_ARCHITECTURE)
                    .text("imageType", "machine")
                    .text("imageOwnerAlias", images::IMAGE_OWNER_ALIAS)
                    .text("name", image.name)
                    .text("description", image.description)
                    .text("rootDeviceType", "ebs")
                    .text("rootDeviceName", service::ROOT_DEVICE)
                    .start("blockDeviceMapping")
                    .start("item")
                    .text("deviceName", service::ROOT_DEVICE)
                    .start("ebs")
                    .text("deleteOnTermination", "true")
                    .text("volumeSize", &image.root_gib.to_string())
                    .text("volumeType", "gp3")
                    .text("encrypted", "false")
                    .end("ebs")
                    .end("item")
                    .end("blockDeviceMapping")
                    .text("virtualizationType", "hvm")
                    .text("hypervisor", "xen")
                    .text("platformDetails", "Linux/UNIX")
                    .text("usageOperation", "RunInstances")
                    .end("item");
            }
            w.end("imagesSet");
            if let Some(token) = &next {
                w.text("nextToken", token);
            }
        })
    }
}

pub(crate) struct DescribeVolumes;

impl Operation for DescribeVolumes {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeVolumes";
    const ACTION: &'static str = "ec2:DescribeVolumes";
    const READ_ONLY: bool = true;
    type Input = (Vec<String>, Vec<Filter>, Page);
    /// One page of volumes, and the next page's token.
    type Output = (Vec<service::Volume>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &DESCRIBE_VOLUMES_PARAMETERS)?;
        let ids = p.list("VolumeId");
        let page = page(p, !ids.is_empty(), &VOLUME_PAGES)?;
        Ok((ids, p.filters()?, page))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (ids, filters, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.instances.describe_volumes(&ctx.scope, &ids, &filters).await?))
    }

    fn encode(ctx: &Context<'_>, (live, next_token): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, live.len() * 800, |w| {
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
            w.start("volumeSet");
            for volume in &live {
                let row = &volume.row;
                let created = timestamp(row.launch_ms);
                let zone = network::zone_of(&ctx.scope.region, &row.address).map(|z| z.name).unwrap_or_default();
                w.start("item")
                    .text("volumeId", &row.volume_id)
                    .text("size", &row.volume_gib.to_string())
                    .text("snapshotId", "")
                    .text("availabilityZone", &zone)
                    .text("status", volume.status().as_str())
                    .text("createTime", &created);
                if volume.attached() {
                    w.start("attachmentSet")
                        .start("item")
                        .text("volumeId", &row.volume_id)
                        .text("instanceId", &row.id)
                        .text("device", service::ROOT_DEVICE)
                        .text("status", "attached")
                        .text("attachTime", &created)
                        .text("deleteOnTermination", &volume.deletes_on_termination().to_string())
                        .end("item")
                        .end("attachmentSet");
                } else {
                    w.empty("attachmentSet");
                }
                w.text("volumeType", "gp3").text("encrypted", "false").text("multiAttachEnabled", "false");
                if !volume.tags.is_empty() {
                    w.start("tagSet");
                    for tag in &volume.tags {
                        w.start("item").text("key", &tag.key).text("value", &tag.value).end("item");
                    }
                    w.end("tagSet");
                }
                w.end("item");
            }
            w.end("volumeSet");
        })
    }
}

pub(crate) struct DeleteVolume;

impl Operation for DeleteVolume {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DeleteVolume";
    const ACTION: &'static str = "ec2:DeleteVolume";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("VolumeId")])?;
        Ok(p.required("VolumeId")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, id: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(vec![targets::volume(ctx, id).await?]))
    }

    async fn call(ctx: &Context<'_>, id: Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.instances.delete_volume(&ctx.scope, &id).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 64, |w| {
            w.text("return", "true");
        })
    }
}

/// RunInstances parameters keyfleet honours; a value keyfleet cannot honour, or any other
/// parameter, is refused rather than dropped. `ClientToken` is sent by every SDK; the
/// `only` values are what keyfleet's instances already are (docs/aws-choices.md).
const RUN_INSTANCES_PARAMETERS: [Accepted; 36] = [
    Accepted::any("LaunchTemplate.LaunchTemplateId"),
    Accepted::any("LaunchTemplate.LaunchTemplateName"),
    Accepted::any("LaunchTemplate.Version"),
    Accepted::any("ImageId"),
    Accepted::any("InstanceType"),
    Accepted::any("KeyName"),
    Accepted::any("MinCount"),
    Accepted::any("MaxCount"),
    Accepted::any("UserData"),
    Accepted::any("ClientToken"),
    Accepted::any("SubnetId"),
    Accepted::any("SecurityGroupId.N"),
    Accepted::any("SecurityGroup.N"),
    Accepted::any("Placement.AvailabilityZone"),
    Accepted::only("Placement.Tenancy", &["default"]),
    // One interface, device 0, with the instance's (public) address and its volume's life.
    Accepted::only("NetworkInterface.1.DeviceIndex", &["0"]),
    Accepted::any("NetworkInterface.1.SubnetId"),
    Accepted::any("NetworkInterface.1.SecurityGroupId.N"),
    Accepted::only("NetworkInterface.1.DeleteOnTermination", &["true"]),
    Accepted::only("NetworkInterface.1.AssociatePublicIpAddress", &["true"]),
    Accepted::any("MetadataOptions.HttpTokens"),
    Accepted::only("MetadataOptions.HttpEndpoint", &["enabled"]),
    Accepted::only("MetadataOptions.HttpProtocolIpv6", &["disabled"]),
    Accepted::only("MetadataOptions.InstanceMetadataTags", &["disabled"]),
    Accepted::only("Monitoring.Enabled", &["false"]),
    Accepted::only("EbsOptimized", &["false"]),
    Accepted::any("DisableApiTermination"),
    Accepted::any("InstanceInitiatedShutdownBehavior"),
    Accepted::any("TagSpecification.N.ResourceType"),
    Accepted::any("TagSpecification.N.Tag.N.Key"),
    Accepted::any("TagSpecification.N.Tag.N.Value"),
    Accepted::any("BlockDeviceMapping.N.DeviceName"),
    Accepted::any("BlockDeviceMapping.N.Ebs.VolumeSize"),
    Accepted::only("BlockDeviceMapping.N.Ebs.VolumeType", &["gp3"]),
    Accepted::any("BlockDeviceMapping.N.Ebs.DeleteOnTermination"),
    Accepted::only("BlockDeviceMapping.N.Ebs.Encrypted", &["false"]),
];

const DESCRIBE_VOLUMES_PARAMETERS: [Accepted; 5] = [
    Accepted::any("VolumeId.N"),
    Accepted::any("MaxResults"),
    Accepted::any("NextToken"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
];

/// `BlockDeviceMapping.N`: the one volume keyfleet instances have is the image's root device,
/// and of it only the size and its life can be chosen (gp3, unencrypted: what the parameter
/// check lets through).
fn root_volume_gib(p: &QueryParams) -> Result<Option<u64>, ApiError> {
    let mut size = None;
    for i in p.indices("BlockDeviceMapping") {
        let field = |name: &str| p.get(&format!("BlockDeviceMapping.{i}.{name}"));
        match field("DeviceName") {
            Some(service::ROOT_DEVICE) => {}
            Some(other) => return Err(crate::service::Error::ExtraBlockDevice(other.to_owned()).into()),
            None => return Err(ApiError::missing_parameter("BlockDeviceMapping.DeviceName")),
        }
        if let Some(text) = field("Ebs.VolumeSize") {
            size =
                Some(text.parse::<u64>().map_err(|_| {
                    ApiError::invalid_parameter_value(format!("Invalid value '{text}' for volumeSize."))
                })?);
        }
    }
    Ok(size)
}

/// The root device's `Ebs.DeleteOnTermination` (`BlockDeviceMapping.N`, whose device names
/// [`root_volume_gib`] checks): EC2 deletes it with the instance unless told otherwise.
fn root_volume_life(p: &QueryParams) -> Result<VolumeLife, ApiError> {
    let mut life = VolumeLife::DeleteOnTermination;
    for i in p.indices("BlockDeviceMapping") {
        if let Some(delete) = delete_on_termination(p, i)? {
            life = if delete { VolumeLife::DeleteOnTermination } else { VolumeLife::Keep };
        }
    }
    Ok(life)
}

/// `BlockDeviceMapping.{i}.Ebs.DeleteOnTermination`, when given.
fn delete_on_termination(p: &QueryParams, i: u32) -> Result<Option<bool>, ApiError> {
    match p.get(&format!("BlockDeviceMapping.{i}.Ebs.DeleteOnTermination")) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid_parameter_value(format!(
            "Invalid value '{other}' for deleteOnTermination. Expected true or false."
        ))),
    }
}

/// The one network interface an instance has, as SDKs and Ansible describe it.
const INTERFACE: &str = "NetworkInterface.1";

/// `Some(())` when the launch describes its network interface (`NetworkInterface.1.…`),
/// which then holds the subnet and groups: EC2 refuses them at both levels at once.
fn primary_interface(p: &QueryParams) -> Result<Option<()>, ApiError> {
    let prefix = format!("{INTERFACE}.");
    if !p.names().any(|name| name.starts_with(&prefix)) {
        return Ok(None);
    }
    let combination = |what: &str| {
        ApiError::bad_request(
            "InvalidParameterCombination",
            format!("Network interfaces and an instance-level {what} may not be specified on the same request"),
        )
    };
    if !p.list("SecurityGroupId").is_empty() || !p.list("SecurityGroup").is_empty() {
        return Err(combination("security groups"));
    }
    if p.get("SubnetId").is_some() {
        return Err(combination("subnet ID"));
    }
    if p.get(&format!("{INTERFACE}.DeviceIndex")).is_none() {
        return Err(ApiError::invalid_parameter_value("Each network interface requires a device index.".into()));
    }
    Ok(Some(()))
}

/// `stop` or `terminate`, when given.
fn shutdown_behavior(value: Option<&str>) -> Result<Option<ShutdownBehavior>, ApiError> {
    value
        .map(|v| {
            ShutdownBehavior::parse(v).ok_or_else(|| {
                ApiError::invalid_parameter_value(format!(
                    "Value ({v}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values: stop, \
                     terminate."
                ))
            })
        })
        .transpose()
}

/// At most 64 ASCII characters, as EC2 documents.
fn client_token(p: &QueryParams) -> Result<Option<String>, ApiError> {
    client_token_of(p, 64)
}

/// `ClientToken`, at most `max` ASCII characters (64 for RunInstances, 128 for launch
/// templates).
pub(super) fn client_token_of(p: &QueryParams, max: usize) -> Result<Option<String>, ApiError> {
    match p.get("ClientToken") {
        None | Some("") => Ok(None),
        Some(token) if token.len() <= max && token.is_ascii() => Ok(Some(token.to_owned())),
        Some(_) => Err(ApiError::invalid_parameter_value(format!(
            "Value for parameter clientToken is invalid. It must be at most {max} ASCII characters."
        ))),
    }
}

fn count(p: &QueryParams, name: &'static str) -> Result<u32, ApiError> {
    let value = p.required(name)?;
    value.parse::<u32>().map_err(|_| ApiError::invalid_parameter_value(format!("Invalid value '{value}' for {name}")))
}

fn instance_ids(p: &QueryParams) -> Result<Vec<String>, ApiError> {
    let ids = p.list("InstanceId");
    if ids.is_empty() { Err(ApiError::missing_parameter("InstanceId")) } else { Ok(ids) }
}

fn state(w: &mut XmlWriter, element: &str, state: InstanceState) {
    w.start(element).text("code", &state.code().to_string()).text("name", state.as_str()).end(element);
}

fn state_changes(action: &str, ctx: &Context<'_>, changes: &[StateChange]) -> Reply {
    ec2_query::success(action, ctx.request_id, changes.len() * 300, |w| {
        w.start("instancesSet");
        for change in changes {
            w.start("item").text("instanceId", &change.instance_id);
            state(w, "currentState", change.current);
            state(w, "previousState", change.previous);
            w.end("item");
        }
        w.end("instancesSet");
    })
}

/// The one network interface of an instance in its zone's default subnet: its id is derived
/// from the instance's, as nothing else refers to it.
fn network_interface(
    w: &mut XmlWriter,
    row: &InstanceRow,
    scope: &Scope,
    groups: &GroupNames,
    (vpc_id, subnet_id, private_dns, public_dns): (&str, &str, &str, &str),
) {
    let id = format!("eni-{}", row.id.strip_prefix("i-").unwrap_or(&row.id));
    let attachment = format!("eni-attach-{}", row.id.strip_prefix("i-").unwrap_or(&row.id));
    let public = !public_dns.is_empty();
    w.start("networkInterfaceSet")
        .start("item")
        .text("networkInterfaceId", &id)
        .text("subnetId", subnet_id)
        .text("vpcId", vpc_id)
        .text("description", "")
        .text("ownerId", &scope.account)
        .text("status", "in-use")
        .text("macAddress", &mac_address(&row.address))
        .text("privateIpAddress", &row.address)
        .text("privateDnsName", private_dns)
        .text("sourceDestCheck", "true");
    group_set(w, row, groups);
    w.start("attachment")
        .text("attachmentId", &attachment)
        .text("deviceIndex", "0")
        .text("status", "attached")
        .text("attachTime", &timestamp(row.launch_ms))
        .text("deleteOnTermination", "true")
        .text("networkCardIndex", "0")
        .end("attachment");
    if public {
        association(w, &row.address, public_dns);
    }
    w.start("privateIpAddressesSet").start("item").text("privateIpAddress", &row.address);
    w.text("privateDnsName", private_dns).text("primary", "true");
    if public {
        association(w, &row.address, public_dns);
    }
    w.end("item").end("privateIpAddressesSet");
    w.text("interfaceType", "interface").end("item").end("networkInterfaceSet");
}

fn association(w: &mut XmlWriter, address: &str, public_dns: &str) {
    w.start("association")
        .text("publicIp", address)
        .text("publicDnsName", public_dns)
        .text("ipOwnerId", "amazon")
        .end("association");
}

/// A locally administered MAC address made of the instance's IPv4 address.
fn mac_address(address: &str) -> String {
    let octets = address.parse::<std::net::Ipv4Addr>().map(|a| a.octets()).unwrap_or_default();
    let tail: Vec<String> = octets.iter().map(|o| format!("{o:02x}")).collect();
    format!("02:00:{}", tail.join(":"))
}

/// Security group ids and names, for the `groupSet` of instances.
pub(crate) type GroupNames = Vec<(String, String)>;

async fn group_names(ctx: &Context<'_>) -> Result<GroupNames, ApiError> {
    let groups = ctx.state.security_groups.all(&ctx.scope).await?;
    Ok(groups.into_iter().map(|g| (g.id, g.name)).collect())
}

/// The root volume's `blockDeviceMapping`: the one volume an instance has.
fn root_device_mapping(w: &mut XmlWriter, row: &InstanceRow) {
    w.start("blockDeviceMapping")
        .start("item")
        .text("deviceName", service::ROOT_DEVICE)
        .start("ebs")
        .text("volumeId", &row.volume_id)
        .text("status", "attached")
        .text("attachTime", &timestamp(row.launch_ms))
        .text("deleteOnTermination", &(row.volume_life == VolumeLife::DeleteOnTermination).to_string())
        .end("ebs")
        .end("item")
        .end("blockDeviceMapping");
}

/// An instance's groups (id, name): its own, or the default group for instances launched
/// before groups existed.
pub(crate) fn groups_of<'g>(row: &InstanceRow, groups: &'g GroupNames) -> impl Iterator<Item = &'g (String, String)> {
    let mine = row.security_groups.clone();
    groups.iter().filter(move |(id, name)| if mine.is_empty() { name == DEFAULT_GROUP } else { mine.contains(id) })
}

/// An instance's groups as `groupSet` items: its own, or the default group for instances
/// launched before groups existed.
fn group_set(w: &mut XmlWriter, row: &InstanceRow, groups: &GroupNames) {
    w.start("groupSet");
    for (id, name) in groups_of(row, groups) {
        w.start("item").text("groupId", id).text("groupName", name).end("item");
    }
    w.end("groupSet");
}

fn instance_item(w: &mut XmlWriter, row: &InstanceRow, scope: &Scope, groups: &GroupNames) {
    let Placed { zone, vpc_id, subnet_id, private_dns, public_dns, .. } = Placed::new(scope, row);
    let launched = timestamp(row.launch_ms);
    // A stopped instance has no public address on EC2, nor a public DNS name.
    let public = !public_dns.is_empty();
    w.start("item").text("instanceId", &row.id).text("imageId", &row.image_id);
    state(w, "instanceState", row.state);
    let (transition, reason) = state_reasons(row);
    w.text("privateDnsName", &private_dns).text("dnsName", &public_dns).text("reason", &transition);
    if let Some((code, message)) = reason {
        w.start("stateReason").text("code", code).text("message", message).end("stateReason");
    }
    if let Some(key) = &row.key_name {
        w.text("keyName", key);
    }
    w.text("amiLaunchIndex", &row.launch_index.to_string())
        .empty("productCodes")
        .text("instanceType", &row.instance_type)
        .text("launchTime", &launched)
        .start("placement")
        .text("availabilityZone", &zone.name)
        .text("groupName", "")
        .text("tenancy", "default")
        .end("placement")
        .start("monitoring")
        .text("state", "disabled")
        .end("monitoring");
    let live = row.state != InstanceState::Terminated;
    if live {
        w.text("subnetId", &subnet_id).text("vpcId", &vpc_id);
    }
    w.text("privateIpAddress", &row.address);
    if public {
        w.text("ipAddress", &row.address);
    }
    if live {
        w.text("sourceDestCheck", "true");
    }
    group_set(w, row, groups);
    if let Some(token) = &row.client_token {
        w.text("clientToken", token);
    }
    if live {
        network_interface(w, row, scope, groups, (&vpc_id, &subnet_id, &private_dns, &public_dns));
    }
    let vcpus = crate::service::instance_types::resources(&row.instance_type).vcpus;
    w.text("ebsOptimized", "false")
        .start("cpuOptions")
        .text("coreCount", &vcpus.div_ceil(2).to_string())
        .text("threadsPerCore", if vcpus > 1 { "2" } else { "1" })
        .end("cpuOptions");
    w.text("architecture", service::IMAGE_ARCHITECTURE)
        .text("rootDeviceType", "ebs")
        .text("rootDeviceName", service::ROOT_DEVICE);
    if row.state != InstanceState::Terminated {
        root_device_mapping(w, row);
    }
    w.text("virtualizationType", "hvm").text("hypervisor", "xen");
    w.start("metadataOptions")
        .text("state", "applied")
        .text("httpTokens", &row.http_tokens)
        .text("httpPutResponseHopLimit", "1")
        .text("httpEndpoint", "enabled")
        .end("metadataOptions");
    if !row.tags.is_empty() {
        w.start("tagSet");
        for tag in &row.tags {
            w.start("item").text("key", &tag.key).text("value", &tag.value).end("item");
        }
        w.end("tagSet");
    }
    w.end("item");
}

/// StateTransitionReason and StateReason: a launch, and the user's last stop or terminate
/// (a start forgets it).
pub(crate) fn state_reasons(row: &InstanceRow) -> (String, Option<(&'static str, &'static str)>) {
    match (row.state, row.user_transition_ms) {
        (InstanceState::Pending, _) => (String::new(), Some(("pending", "pending"))),
        (InstanceState::Running, _) | (_, None) => (String::new(), None),
        (_, Some(ms)) => (
            format!("User initiated ({} GMT)", crate::common::time::date_and_time(ms)),
            Some(("Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown")),
        ),
    }
}

pub(super) struct DescribeInstanceStatus;

/// `DescribeInstanceStatus`' input and its page.
pub(crate) struct DescribeInstanceStatusInput {
    describe: service::DescribeStatus,
    page: Page,
}

const INSTANCE_STATUS_PARAMETERS: [Accepted; 6] = [
    Accepted::any("InstanceId.N"),
    Accepted::any("IncludeAllInstances"),
    Accepted::any("MaxResults"),
    Accepted::any("NextToken"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
];

impl Operation for DescribeInstanceStatus {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeInstanceStatus";
    const ACTION: &'static str = "ec2:DescribeInstanceStatus";
    const READ_ONLY: bool = true;
    type Input = DescribeInstanceStatusInput;
    type Output = (Vec<InstanceRow>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &INSTANCE_STATUS_PARAMETERS)?;
        let instance_ids = p.list("InstanceId");
        let page = page(p, !instance_ids.is_empty(), &INSTANCE_PAGES)?;
        let describe = service::DescribeStatus {
            instance_ids,
            filters: p.filters()?,
            include_all: p.flag("IncludeAllInstances")?,
        };
        Ok(DescribeInstanceStatusInput { describe, page })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(input.page.take(ctx.state.instances.describe_status(&ctx.scope, &input.describe).await?))
    }

    fn encode(ctx: &Context<'_>, (rows, next_token): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, rows.len() * 900, |w| {
            w.start("instanceStatusSet");
            for row in &rows {
                let placed = Placed::new(&ctx.scope, row);
                let check = service::CheckStatus::of(row.state);
                w.start("item")
                    .text("instanceId", &row.id)
                    .text("availabilityZone", &placed.zone.name)
                    .text("availabilityZoneId", &placed.zone.id);
                state(w, "instanceState", row.state);
                for element in ["systemStatus", "instanceStatus", "attachedEbsStatus"] {
                    status_check(w, element, check);
                }
                w.empty("eventsSet").end("item");
            }
            w.end("instanceStatusSet");
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
        })
    }
}

fn status_check(w: &mut XmlWriter, element: &str, check: service::CheckStatus) {
    w.start(element).text("status", check.as_str());
    if let Some(reachability) = check.reachability() {
        w.start("details").start("item").text("name", "reachability").text("status", reachability).end("item");
        w.end("details");
    }
    w.end(element);
}

pub(crate) struct GetConsoleOutput;

const CONSOLE_OUTPUT_PARAMETERS: [Accepted; 2] = [Accepted::any("InstanceId"), Accepted::any("Latest")];

impl Operation for GetConsoleOutput {
    type Protocol = Ec2Query;
    const NAME: &'static str = "GetConsoleOutput";
    const ACTION: &'static str = "ec2:GetConsoleOutput";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = (InstanceRow, Option<String>);

    /// `Latest` asks for the newest output rather than the last buffered one; keyfleet's log
    /// is written at boot and is both.
    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &CONSOLE_OUTPUT_PARAMETERS)?;
        p.flag("Latest")?;
        Ok(p.required("InstanceId")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, id: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(targets::instances(ctx, std::slice::from_ref(id)).await?))
    }

    async fn call(ctx: &Context<'_>, id: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.instances.console_output(&ctx.scope, &id).await?)
    }

    /// The output base64-encoded, as EC2 sends it; none when there is none.
    fn encode(ctx: &Context<'_>, (row, output): Self::Output) -> Reply {
        use base64::Engine as _;
        ec2_query::success(Self::NAME, ctx.request_id, 4096, |w| {
            w.text("instanceId", &row.id).text("timestamp", &timestamp(crate::service::now_ms()));
            if let Some(text) = &output {
                w.text("output", &base64::engine::general_purpose::STANDARD.encode(text));
            }
        })
    }
}

pub(super) struct DescribeInstanceTypes;

/// Names, filters and the page.
pub(crate) struct DescribeTypesInput {
    describe: crate::service::instance_types::DescribeTypes,
    page: Page,
}

const INSTANCE_TYPE_PARAMETERS: [Accepted; 5] = [
    Accepted::any("InstanceType.N"),
    Accepted::any("MaxResults"),
    Accepted::any("NextToken"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
];

/// DescribeInstanceTypes pages up to 100 at a time, with or without names.
const INSTANCE_TYPE_PAGES: super::Paging =
    super::Paging { ids: "", limits: Limits { min: 5, max: 100, default: None, cuts_larger: false } };

impl Operation for DescribeInstanceTypes {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeInstanceTypes";
    const ACTION: &'static str = "ec2:DescribeInstanceTypes";
    const READ_ONLY: bool = true;
    type Input = DescribeTypesInput;
    type Output = (Vec<crate::service::instance_types::InstanceType>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &INSTANCE_TYPE_PARAMETERS)?;
        let page = page(p, false, &INSTANCE_TYPE_PAGES)?;
        let describe =
            crate::service::instance_types::DescribeTypes { names: p.list("InstanceType"), filters: p.filters()? };
        Ok(DescribeTypesInput { describe, page })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(_: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(input.page.take(crate::service::instance_types::describe_types(&input.describe)?))
    }

    fn encode(ctx: &Context<'_>, (types, next_token): Self::Output) -> Reply {
        let flag = |on: bool| if on { "true" } else { "false" };
        ec2_query::success(Self::NAME, ctx.request_id, types.len() * 900, |w| {
            w.start("instanceTypeSet");
            for t in &types {
                w.start("item")
                    .text("instanceType", &t.name)
                    .text("currentGeneration", flag(t.current_generation))
                    .text("freeTierEligible", flag(t.free_tier))
                    .start("supportedUsageClasses")
                    .text("item", "on-demand")
                    .end("supportedUsageClasses")
                    .start("supportedRootDeviceTypes")
                    .text("item", "ebs")
                    .end("supportedRootDeviceTypes")
                    .start("supportedVirtualizationTypes")
                    .text("item", "hvm")
                    .end("supportedVirtualizationTypes")
                    .text("bareMetal", "false")
                    .text("hypervisor", "nitro")
                    .start("processorInfo")
                    .start("supportedArchitectures")
                    .text("item", t.architecture)
                    .end("supportedArchitectures")
                    .end("processorInfo")
                    .start("vCpuInfo")
                    .text("defaultVCpus", &t.resources.vcpus.to_string())
                    .end("vCpuInfo")
                    .start("memoryInfo")
                    .text("sizeInMiB", &t.memory_mib().to_string())
                    .end("memoryInfo")
                    .text("instanceStorageSupported", "false")
                    .text("burstablePerformanceSupported", flag(t.burstable))
                    .end("item");
            }
            w.end("instanceTypeSet");
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
        })
    }
}

pub(super) struct DescribeInstanceAttribute;

/// The attributes DescribeInstanceAttribute answers (the model's `InstanceAttributeName`).
const INSTANCE_ATTRIBUTES: [&str; 15] = [
    "instanceType",
    "kernel",
    "ramdisk",
    "userData",
    "disableApiTermination",
    "instanceInitiatedShutdownBehavior",
    "rootDeviceName",
    "blockDeviceMapping",
    "productCodes",
    "sourceDestCheck",
    "groupSet",
    "ebsOptimized",
    "sriovNetSupport",
    "enaSupport",
    "disableApiStop",
];

const INSTANCE_ATTRIBUTE_PARAMETERS: [Accepted; 2] = [Accepted::any("InstanceId"), Accepted::any("Attribute")];

impl Operation for DescribeInstanceAttribute {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeInstanceAttribute";
    const ACTION: &'static str = "ec2:DescribeInstanceAttribute";
    const READ_ONLY: bool = true;
    /// The instance and the attribute (one of [`INSTANCE_ATTRIBUTES`]).
    type Input = (String, &'static str);
    type Output = (InstanceRow, &'static str, GroupNames);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &INSTANCE_ATTRIBUTE_PARAMETERS)?;
        let id = p.required("InstanceId")?.to_owned();
        let asked = p.required("Attribute")?;
        let attribute = INSTANCE_ATTRIBUTES.iter().find(|a| **a == asked).ok_or_else(|| {
            ApiError::invalid_parameter_value(format!(
                "Value ({asked}) for parameter attribute is invalid. Unknown attribute."
            ))
        })?;
        Ok((id, attribute))
    }

    async fn authorization(ctx: &Context<'_>, (id, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(targets::instances(ctx, std::slice::from_ref(id)).await?))
    }

    async fn call(ctx: &Context<'_>, (id, attribute): Self::Input) -> Result<Self::Output, ApiError> {
        let row = ctx.state.instances.describe(&ctx.scope, std::slice::from_ref(&id), &[]).await?.into_iter().next();
        let row = row.ok_or_else(|| crate::service::Error::InstanceNotFound(vec![id]))?;
        Ok((row, attribute, group_names(ctx).await?))
    }

    /// One element named after the attribute; scalar ones hold a `value`.
    fn encode(ctx: &Context<'_>, (row, attribute, groups): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 1024, |w| {
            w.text("instanceId", &row.id);
            let scalar = match attribute {
                "instanceType" => Some(row.instance_type.clone()),
                "userData" => row.user_data.clone(),
                "disableApiTermination" => Some(row.disable_api_termination.to_string()),
                "ebsOptimized" | "disableApiStop" => Some("false".to_owned()),
                "instanceInitiatedShutdownBehavior" => Some(row.shutdown_behavior.as_str().to_owned()),
                "rootDeviceName" => Some(service::ROOT_DEVICE.to_owned()),
                "sourceDestCheck" | "enaSupport" => Some("true".to_owned()),
                _ => None,
            };
            match (attribute, scalar) {
                ("groupSet", _) => group_set(w, &row, &groups),
                // A terminated instance has no volume attached, kept or not.
                ("blockDeviceMapping", _) if row.state == InstanceState::Terminated => {
                    w.empty("blockDeviceMapping");
                }
                ("blockDeviceMapping", _) => root_device_mapping(w, &row),
                (_, Some(value)) => {
                    w.start(attribute).text("value", &value).end(attribute);
                }
                (_, None) => {
                    w.empty(attribute);
                }
            }
        })
    }
}

pub(crate) struct ModifyInstanceAttribute;

const MODIFY_INSTANCE_ATTRIBUTE_PARAMETERS: [Accepted; 14] = [
    Accepted::any("InstanceId"),
    Accepted::any("Attribute"),
    Accepted::any("Value"),
    Accepted::any("InstanceType.Value"),
    Accepted::any("UserData.Value"),
    Accepted::any("DisableApiTermination.Value"),
    Accepted::any("InstanceInitiatedShutdownBehavior.Value"),
    Accepted::any("GroupId.N"),
    Accepted::any("BlockDeviceMapping.N.DeviceName"),
    Accepted::any("BlockDeviceMapping.N.Ebs.DeleteOnTermination"),
    // Fixed for every keyfleet instance: set to what they are, they change nothing.
    Accepted::any("SourceDestCheck.Value"),
    Accepted::any("EbsOptimized.Value"),
    Accepted::any("DisableApiStop.Value"),
    Accepted::any("EnaSupport.Value"),
];

/// Attributes by their `<Name>.Value` parameter; the fixed ones with the one value they have.
const MODIFIABLE: [(&str, &str, Option<&str>); 8] = [
    ("instanceType", "InstanceType.Value", None),
    ("userData", "UserData.Value", None),
    ("disableApiTermination", "DisableApiTermination.Value", None),
    ("instanceInitiatedShutdownBehavior", "InstanceInitiatedShutdownBehavior.Value", None),
    ("sourceDestCheck", "SourceDestCheck.Value", Some("true")),
    ("ebsOptimized", "EbsOptimized.Value", Some("false")),
    ("disableApiStop", "DisableApiStop.Value", Some("false")),
    ("enaSupport", "EnaSupport.Value", Some("true")),
];

impl Operation for ModifyInstanceAttribute {
    type Protocol = Ec2Query;
    const NAME: &'static str = "ModifyInstanceAttribute";
    const ACTION: &'static str = "ec2:ModifyInstanceAttribute";
    const READ_ONLY: bool = false;
    /// The instance, and the change (`None`: a fixed attribute set to what it is).
    type Input = (String, Option<Modification>);
    type Output = ();

    /// One attribute per call, as `<Name>.Value`, `GroupId.N`, or the older
    /// `Attribute=<name>&Value=<value>`.
    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &MODIFY_INSTANCE_ATTRIBUTE_PARAMETERS)?;
        let id = p.required("InstanceId")?.to_owned();
        let mut asked = Vec::new();
        for (attribute, parameter, _) in MODIFIABLE {
            if let Some(value) = p.get(parameter) {
                asked.push((attribute, modification(attribute, value)?));
            }
        }
        if let Some(delete) = modified_delete_on_termination(p)? {
            asked.push(("blockDeviceMapping", Some(Modification::Set(InstanceAttribute::DeleteOnTermination(delete)))));
        }
        let groups = p.list("GroupId");
        if !groups.is_empty() {
            asked
                .push(("groupSet", Some(Modification::SecurityGroups(groups.into_iter().map(GroupRef::Id).collect()))));
        }
        if p.get("Value").is_some() && p.get("Attribute").is_none() {
            return Err(ApiError::missing_parameter("Attribute"));
        }
        if let Some(named) = p.get("Attribute") {
            let (attribute, _, _) = MODIFIABLE.iter().find(|(a, _, _)| *a == named).ok_or_else(|| {
                ApiError::invalid_parameter_value(format!(
                    "Value ({named}) for parameter attribute is invalid. Unknown attribute."
                ))
            })?;
            let value = p.get("Value").ok_or_else(|| ApiError::missing_parameter("Value"))?;
            asked.push((attribute, modification(attribute, value)?));
        }
        let combination = |message: String| ApiError::bad_request("InvalidParameterCombination", message);
        match asked.len() {
            0 => Err(combination("No attributes specified.".into())),
            1 => Ok((id, asked.into_iter().next().and_then(|(_, change)| change))),
            _ => Err(combination(format!(
                "Fields for multiple attribute types specified: {}",
                asked.iter().map(|(a, _)| *a).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// On the instance, and on each group it is to be in (as RunInstances checks them).
    async fn authorization(ctx: &Context<'_>, (id, change): &Self::Input) -> Result<Authorization, ApiError> {
        let mut on = targets::instances(ctx, std::slice::from_ref(id)).await?;
        if let Some(Modification::SecurityGroups(groups)) = change {
            for group in groups.iter().take(crate::service::security_groups::MAX_GROUPS_PER_INSTANCE + 1) {
                on.push(super::security_groups::group_target(ctx, group).await?);
            }
        }
        Ok(Authorization::on(on))
    }

    async fn call(ctx: &Context<'_>, (id, change): Self::Input) -> Result<(), ApiError> {
        match change {
            Some(change) => Ok(ctx.state.instances.modify_attribute(&ctx.scope, &id, change).await?),
            // Still an instance of the caller's, or the answer would be wrong.
            None => {
                let found = ctx.state.instances.describe(&ctx.scope, std::slice::from_ref(&id), &[]).await?;
                match found.is_empty() {
                    true => Err(crate::service::Error::InstanceNotFound(vec![id]).into()),
                    false => Ok(()),
                }
            }
        }
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 64, |w| {
            w.text("return", "true");
        })
    }
}

/// ModifyInstanceAttribute's `BlockDeviceMapping.N`: the root device's DeleteOnTermination,
/// the one thing of a mapping EC2 lets change on a running instance.
fn modified_delete_on_termination(p: &QueryParams) -> Result<Option<bool>, ApiError> {
    let mut asked = None;
    for i in p.indices("BlockDeviceMapping") {
        match p.get(&format!("BlockDeviceMapping.{i}.DeviceName")) {
            Some(service::ROOT_DEVICE) => {}
            Some(other) => return Err(crate::service::Error::ExtraBlockDevice(other.to_owned()).into()),
            None => return Err(ApiError::missing_parameter("BlockDeviceMapping.DeviceName")),
        }
        asked = delete_on_termination(p, i)?.or(asked);
    }
    Ok(asked)
}

/// One attribute's new value; `None` for a fixed one set to what it is.
fn modification(attribute: &'static str, value: &str) -> Result<Option<Modification>, ApiError> {
    let set = |a| Ok(Some(Modification::Set(a)));
    match attribute {
        "instanceType" => set(InstanceAttribute::InstanceType(value.to_owned())),
        "userData" => set(InstanceAttribute::UserData((!value.is_empty()).then(|| value.to_owned()))),
        "disableApiTermination" => match value {
            "true" | "false" => set(InstanceAttribute::DisableApiTermination(value == "true")),
            _ => Err(ApiError::invalid_parameter_value(format!(
                "Invalid value '{value}' for disableApiTermination. Expected true or false."
            ))),
        },
        "instanceInitiatedShutdownBehavior" => match shutdown_behavior(Some(value))? {
            Some(behavior) => set(InstanceAttribute::ShutdownBehavior(behavior)),
            None => Ok(None),
        },
        fixed => match MODIFIABLE.iter().find(|(a, _, _)| *a == fixed).and_then(|(_, _, v)| *v) {
            Some(only) if only == value => Ok(None),
            _ => Err(unsupported(ModifyInstanceAttribute::NAME, &format!("{fixed}={value}"))),
        },
    }
}

//! Wire side of the instance actions, images and volumes (research notes access-recovery
//! §5 for the shapes).

use super::{authorized, targets};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::{self, QueryParams, timestamp};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::service::instances::{IMAGES, RunInstances, StateChange, state_code};
use crate::store::InstanceRow;

pub(super) async fn run(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let input = RunInstances {
        image_id: p.required("ImageId")?.to_owned(),
        instance_type: p.get("InstanceType").map(str::to_owned),
        key_name: p.get("KeyName").filter(|k| !k.is_empty()).map(str::to_owned),
        min_count: count(p, "MinCount")?,
        max_count: count(p, "MaxCount")?,
        tag_specifications: p.tag_specifications(),
        user_data: p.get("UserData").map(str::to_owned),
        tokens_required: match p.get("MetadataOptions.HttpTokens") {
            None | Some("optional") => false,
            Some("required") => true,
            Some(other) => {
                return Err(ApiError::invalid_parameter_value(format!(
                    "The value '{other}' is not valid for the parameter HttpTokens. Valid values: optional, required."
                )));
            }
        },
    };
    let launch_targets = launch_targets(ctx, &input).await?;
    authorized(ctx, p, &launch_targets)?;
    let (reservation_id, rows) = ctx.state.instances.run(&ctx.scope, input).await?;
    for row in &rows {
        ctx.trail.note("AWS::EC2::Instance", &row.id);
    }
    Ok(ec2_query::success("RunInstances", ctx.request_id, rows.len() * 1500, |w| {
        w.text("reservationId", &reservation_id).text("ownerId", &ctx.scope.account).empty("groupSet");
        w.start("instancesSet");
        for row in &rows {
            instance_item(w, row, &ctx.scope.region);
        }
        w.end("instancesSet");
    }))
}

/// RunInstances is checked on the new instances (with the requested tags), the key pair
/// and the image, each as its own resource.
async fn launch_targets(ctx: &Context<'_>, input: &RunInstances) -> Result<Vec<Target>, ApiError> {
    let tags = targets::requested_tags(&input.tag_specifications, "instance");
    let mut launch =
        vec![Target::instance(&ctx.scope, "*").with_request_tags(&tags), Target::image(&ctx.scope, &input.image_id)];
    if let Some(name) = &input.key_name {
        launch.push(targets::key_pair(ctx, Some(name), None).await?);
    }
    Ok(launch)
}

pub(super) async fn describe(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let (ids, filters) = (p.list("InstanceId"), p.filters()?);
    let page = page(p, !ids.is_empty())?;
    authorized(ctx, p, &[Target::any()])?;
    let rows = ctx.state.instances.describe(&ctx.scope, &ids, &filters).await?;
    let (rows, next_token) = match page {
        None => (rows.as_slice(), None),
        Some((start, size)) => {
            let start = start.min(rows.len());
            let end = start.saturating_add(size).min(rows.len());
            (&rows[start..end], (end < rows.len()).then(|| end.to_string()))
        }
    };
    Ok(ec2_query::success("DescribeInstances", ctx.request_id, rows.len() * 1600, |w| {
        if let Some(token) = &next_token {
            w.text("nextToken", token);
        }
        if rows.is_empty() {
            w.empty("reservationSet");
            return;
        }
        w.start("reservationSet");
        for reservation in rows.chunk_by(|a, b| a.reservation_id == b.reservation_id) {
            w.start("item").text("reservationId", &reservation[0].reservation_id).text("ownerId", &ctx.scope.account);
            w.empty("groupSet").start("instancesSet");
            for row in reservation {
                instance_item(w, row, &ctx.scope.region);
            }
            w.end("instancesSet").end("item");
        }
        w.end("reservationSet");
    }))
}

/// `MaxResults` (5–1000, not with `InstanceId`) and `NextToken`: the first row and the page
/// size, or `None` for everything at once. A page may split a reservation, as EC2's pages
/// count instances.
fn page(p: &QueryParams, by_id: bool) -> Result<Option<(usize, usize)>, ApiError> {
    let max = p.get("MaxResults");
    let token = p.get("NextToken").filter(|t| !t.is_empty());
    if by_id && max.is_some() {
        return Err(ApiError::bad_request(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        ));
    }
    let size = match max {
        None if token.is_none() => return Ok(None),
        None => 1000,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (5..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_parameter_value(format!(
                    "Value ( {v} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000."
                )));
            }
        },
    };
    let start = match token {
        None => 0,
        Some(t) => {
            t.parse::<usize>().map_err(|_| ApiError::invalid_parameter_value(format!("The token '{t}' is invalid.")))?
        }
    };
    Ok(Some((start, size)))
}

pub(super) async fn stop(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let ids = instance_ids(p)?;
    authorized(ctx, p, &targets::instances(ctx, &ids).await?)?;
    let changes = ctx.state.instances.stop(&ctx.scope, &ids).await?;
    Ok(state_changes("StopInstances", ctx, &changes))
}

pub(super) async fn start(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let ids = instance_ids(p)?;
    authorized(ctx, p, &targets::instances(ctx, &ids).await?)?;
    let changes = ctx.state.instances.start(&ctx.scope, &ids).await?;
    Ok(state_changes("StartInstances", ctx, &changes))
}

pub(super) async fn terminate(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let ids = instance_ids(p)?;
    authorized(ctx, p, &targets::instances(ctx, &ids).await?)?;
    let changes = ctx.state.instances.terminate(&ctx.scope, &ids).await?;
    Ok(state_changes("TerminateInstances", ctx, &changes))
}

pub(super) async fn reboot(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let ids = instance_ids(p)?;
    authorized(ctx, p, &targets::instances(ctx, &ids).await?)?;
    ctx.state.instances.reboot(&ctx.scope, &ids).await?;
    Ok(ec2_query::success("RebootInstances", ctx.request_id, 64, |w| {
        w.text("return", "true");
    }))
}

pub(super) async fn describe_images(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let wanted = p.list("ImageId");
    authorized(ctx, p, &[Target::any()])?;
    if let Some(missing) = wanted.iter().find(|id| !IMAGES.iter().any(|i| &i.id == id)) {
        return Err(crate::service::Error::ImageNotFound(missing.clone()).into());
    }
    Ok(ec2_query::success("DescribeImages", ctx.request_id, 1024, |w| {
        w.start("imagesSet");
        for image in IMAGES.iter().filter(|i| wanted.is_empty() || wanted.iter().any(|w| w == i.id)) {
            w.start("item")
                .text("imageId", image.id)
                .text("imageLocation", &format!("keyfleet/{}", image.name))
                .text("imageState", "available")
                .text("imageOwnerId", "000000000000")
                .text("creationDate", "2026-01-01T00:00:00.000Z")
                .text("isPublic", "true")
                .text("architecture", "x86_64")
                .text("imageType", "machine")
                .text("name", image.name)
                .text("description", image.description)
                .text("rootDeviceType", "ebs")
                .text("rootDeviceName", "/dev/xvda")
                .text("virtualizationType", "hvm")
                .text("hypervisor", "xen")
                .end("item");
        }
        w.end("imagesSet");
    }))
}

pub(super) async fn describe_volumes(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let wanted = p.list("VolumeId");
    authorized(ctx, p, &[Target::any()])?;
    let rows = ctx.state.instances.describe(&ctx.scope, &[], &[]).await?;
    let live: Vec<&InstanceRow> = rows
        .iter()
        .filter(|r| r.state != "terminated" && (wanted.is_empty() || wanted.contains(&r.volume_id)))
        .collect();
    if let Some(missing) = wanted.iter().find(|v| !live.iter().any(|r| &&r.volume_id == v)) {
        return Err(ApiError::not_found("InvalidVolume.NotFound", format!("The volume '{missing}' does not exist.")));
    }
    let zone = format!("{}a", ctx.scope.region);
    Ok(ec2_query::success("DescribeVolumes", ctx.request_id, live.len() * 800, |w| {
        w.start("volumeSet");
        for row in &live {
            let created = timestamp(row.launch_ms);
            w.start("item")
                .text("volumeId", &row.volume_id)
                .text("size", "8")
                .text("snapshotId", "")
                .text("availabilityZone", &zone)
                .text("status", "in-use")
                .text("createTime", &created);
            w.start("attachmentSet")
                .start("item")
                .text("volumeId", &row.volume_id)
                .text("instanceId", &row.id)
                .text("device", "/dev/xvda")
                .text("status", "attached")
                .text("attachTime", &created)
                .text("deleteOnTermination", "true")
                .end("item")
                .end("attachmentSet");
            w.text("volumeType", "gp3").text("encrypted", "false").text("multiAttachEnabled", "false").end("item");
        }
        w.end("volumeSet");
    }))
}

fn count(p: &QueryParams, name: &'static str) -> Result<u32, ApiError> {
    let value = p.required(name)?;
    value.parse::<u32>().map_err(|_| ApiError::invalid_parameter_value(format!("Invalid value '{value}' for {name}")))
}

fn instance_ids(p: &QueryParams) -> Result<Vec<String>, ApiError> {
    let ids = p.list("InstanceId");
    if ids.is_empty() { Err(ApiError::missing_parameter("InstanceId")) } else { Ok(ids) }
}

fn state(w: &mut XmlWriter, element: &str, name: &str) {
    w.start(element).text("code", &state_code(name).to_string()).text("name", name).end(element);
}

fn state_changes(action: &str, ctx: &Context<'_>, changes: &[StateChange]) -> Reply {
    ec2_query::success(action, ctx.request_id, changes.len() * 300, |w| {
        w.start("instancesSet");
        for change in changes {
            w.start("item").text("instanceId", &change.instance_id);
            state(w, "currentState", &change.current);
            state(w, "previousState", &change.previous);
            w.end("item");
        }
        w.end("instancesSet");
    })
}

fn instance_item(w: &mut XmlWriter, row: &InstanceRow, region: &str) {
    let dns = format!("ip-{}.ec2.internal", row.address.replace('.', "-"));
    let launched = timestamp(row.launch_ms);
    w.start("item").text("instanceId", &row.id).text("imageId", &row.image_id);
    state(w, "instanceState", &row.state);
    w.text("privateDnsName", &dns).text("dnsName", "").text("reason", "");
    if let Some(key) = &row.key_name {
        w.text("keyName", key);
    }
    w.text("amiLaunchIndex", &row.launch_index.to_string())
        .empty("productCodes")
        .text("instanceType", &row.instance_type)
        .text("launchTime", &launched)
        .start("placement")
        .text("availabilityZone", &format!("{region}a"))
        .text("tenancy", "default")
        .end("placement")
        .start("monitoring")
        .text("state", "disabled")
        .end("monitoring")
        .text("privateIpAddress", &row.address);
    // A stopped instance has no public address on EC2.
    if row.state == "running" || row.state == "pending" {
        w.text("ipAddress", &row.address);
    }
    w.text("architecture", "x86_64").text("rootDeviceType", "ebs").text("rootDeviceName", "/dev/xvda");
    if row.state != "terminated" {
        w.start("blockDeviceMapping")
            .start("item")
            .text("deviceName", "/dev/xvda")
            .start("ebs")
            .text("volumeId", &row.volume_id)
            .text("status", "attached")
            .text("attachTime", &launched)
            .text("deleteOnTermination", "true")
            .end("ebs")
            .end("item")
            .end("blockDeviceMapping");
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

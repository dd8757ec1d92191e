//! The resources each EC2 action is authorized on, with the condition keys IAM defines for
//! them. Resource tags are only loaded when the caller has policies to evaluate.

use crate::api::Context;
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::service::tags::TagSpecification;
use crate::store::Tag;

/// The tags the request's specifications put on `resource_type` (untyped ones included), as
/// the resource will have them: a key given twice has its last value, the one that is kept.
pub(super) fn requested_tags(specs: &[TagSpecification], resource_type: &str) -> Vec<Tag> {
    let given = specs.iter().filter(|s| s.resource_type.as_deref().is_none_or(|t| t == resource_type));
    crate::service::tags::last_of_each_key(given.flat_map(|s| s.tags.iter().cloned()))
}

/// An existing key pair by name or id, with its tags and type; by what the caller said
/// when it does not exist (the operation then answers NotFound) or when no lookup is needed.
pub(super) async fn key_pair(ctx: &Context<'_>, name: Option<&str>, id: Option<&str>) -> Result<Target, ApiError> {
    let said = name.or(id).unwrap_or("*");
    // With neither, nothing is looked up: an empty lookup would name every key pair.
    if ctx.unrestricted() || (name.is_none() && id.is_none()) {
        return Ok(Target::key_pair(&ctx.scope, said));
    }
    Ok(match ctx.state.key_pairs.find(&ctx.scope, name, id).await? {
        Some(row) => Target::key_pair(&ctx.scope, &row.name)
            .with_resource_tags(&row.tags)
            .with_key("ec2:KeyPairType", row.key_type.as_str()),
        None => Target::key_pair(&ctx.scope, said),
    })
}

/// The id of the key pair with this name, if there is one.
pub(super) async fn key_pair_id(ctx: &Context<'_>, name: &str) -> Result<Option<String>, ApiError> {
    Ok(ctx.state.key_pairs.find(&ctx.scope, Some(name), None).await?.map(|row| row.id))
}

/// Instances by id, with their tags.
pub(crate) async fn instances(ctx: &Context<'_>, ids: &[String]) -> Result<Vec<Target>, ApiError> {
    let rows = if ctx.unrestricted() { Vec::new() } else { ctx.state.instances.found(&ctx.scope, ids).await? };
    Ok(ids
        .iter()
        .map(|id| {
            let tags = rows.iter().find(|r| &r.id == id).map(|r| r.tags.as_slice()).unwrap_or_default();
            Target::instance(&ctx.scope, id).with_resource_tags(tags)
        })
        .collect())
}

/// A volume by id, with its tags (none when it does not exist).
pub(super) async fn volume(ctx: &Context<'_>, id: &str) -> Result<Target, ApiError> {
    let tags = match ctx.unrestricted() {
        true => Vec::new(),
        false => {
            let volumes = ctx.state.instances.describe_volumes(&ctx.scope, &[], &[]).await?;
            volumes.into_iter().find(|v| v.row.volume_id == id).map(|v| v.tags).unwrap_or_default()
        }
    };
    Ok(Target::ec2_resource(&ctx.scope, "volume", id).with_resource_tags(&tags))
}

/// Any taggable resource by id: key pairs and instances with their tags, others by type.
pub(super) async fn resources(ctx: &Context<'_>, ids: &[String]) -> Result<Vec<Target>, ApiError> {
    let mut targets = Vec::with_capacity(ids.len());
    for id in ids {
        let target = match id.split_once('-').map(|(prefix, _)| prefix) {
            Some("key") => key_pair(ctx, None, Some(id)).await?,
            Some("i") => instances(ctx, std::slice::from_ref(id)).await?.into_iter().next().unwrap_or_else(Target::any),
            Some("vol") => volume(ctx, id).await?,
            Some("lt") => {
                let template = crate::service::launch_templates::TemplateRef::Id(id.clone());
                super::launch_templates::template_target(ctx, &template).await?
            }
            Some("sg") => {
                let group = crate::service::security_groups::GroupRef::Id(id.clone());
                super::security_groups::group_target(ctx, &group).await?
            }
            _ => Target::ec2_resource(&ctx.scope, "resource", id),
        };
        targets.push(target);
    }
    Ok(targets)
}

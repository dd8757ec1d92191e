//! Wire side of `CreateTags`, `DeleteTags` and `DescribeTags`.

use super::{authorized, targets};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::{self, QueryParams};
use crate::api::{Context, Reply};
use crate::service::tags::Page;
use crate::store::Tag;

pub(super) async fn create(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let (ids, tags) = (p.list("ResourceId"), p.tags("Tag"));
    let targets: Vec<Target> =
        targets::resources(ctx, &ids).await?.into_iter().map(|t| t.with_request_tags(&tags)).collect();
    authorized(ctx, p, &targets)?;
    ctx.state.tags.create(&ctx.scope, &ids, &tags).await?;
    Ok(returns_true("CreateTags", ctx))
}

pub(super) async fn delete(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let (ids, removals) = (p.list("ResourceId"), p.tag_removals());
    let removed: Vec<Tag> =
        removals.iter().map(|r| Tag { key: r.key.clone(), value: r.value.clone().unwrap_or_default() }).collect();
    let targets: Vec<Target> =
        targets::resources(ctx, &ids).await?.into_iter().map(|t| t.with_request_tags(&removed)).collect();
    authorized(ctx, p, &targets)?;
    ctx.state.tags.delete(&ctx.scope, &ids, &removals).await?;
    Ok(returns_true("DeleteTags", ctx))
}

pub(super) async fn describe(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let filters = p.filters()?;
    let max_results = p
        .get("MaxResults")
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| ApiError::invalid_parameter_value(format!("Invalid value '{v}' for maxResults")))
        })
        .transpose()?;
    let page = Page { max_results, next_token: p.get("NextToken").map(str::to_owned) };
    authorized(ctx, p, &[Target::any()])?;
    let (tags, next_token) = ctx.state.tags.describe(&ctx.scope, &filters, &page).await?;
    Ok(ec2_query::success("DescribeTags", ctx.request_id, tags.len() * 200, |w| {
        if tags.is_empty() {
            w.empty("tagSet");
        } else {
            w.start("tagSet");
            for t in &tags {
                w.start("item")
                    .text("key", &t.tag.key)
                    .text("resourceId", &t.resource_id)
                    .text("resourceType", &t.resource_type)
                    .text("value", &t.tag.value)
                    .end("item");
            }
            w.end("tagSet");
        }
        if let Some(token) = &next_token {
            w.text("nextToken", token);
        }
    }))
}

/// CreateTags and DeleteTags answer `<return>true</return>` although the model has no
/// output shape (research notes §2).
fn returns_true(action: &str, ctx: &Context<'_>) -> Reply {
    ec2_query::success(action, ctx.request_id, 64, |w| {
        w.text("return", "true");
    })
}

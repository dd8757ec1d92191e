//! Wire side of `CreateTags`, `DeleteTags` and `DescribeTags`.

use super::targets;
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, QueryParams};
use crate::api::{Context, Reply};
use crate::common::page::PageRequest;
use crate::service::filter::Filter;
use crate::store::{ResourceTag, Tag, TagRemoval};

pub(crate) struct CreateTags;

impl Operation for CreateTags {
    type Protocol = Ec2Query;
    const NAME: &'static str = "CreateTags";
    const ACTION: &'static str = "ec2:CreateTags";
    const READ_ONLY: bool = false;
    type Input = (Vec<String>, Vec<Tag>);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        Ok((resource_ids(p)?, crate::service::tags::last_of_each_key(p.tags("Tag"))))
    }

    async fn authorization(ctx: &Context<'_>, (ids, tags): &Self::Input) -> Result<Authorization, ApiError> {
        tagged_resources(ctx, ids, tags).await
    }

    async fn call(ctx: &Context<'_>, (ids, tags): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.tags.create(&ctx.scope, &ids, &tags).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        returns_true(Self::NAME, ctx)
    }
}

pub(crate) struct DeleteTags;

impl Operation for DeleteTags {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DeleteTags";
    const ACTION: &'static str = "ec2:DeleteTags";
    const READ_ONLY: bool = false;
    type Input = (Vec<String>, Vec<TagRemoval>);
    type Output = ();

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        Ok((resource_ids(p)?, p.tag_removals()))
    }

    async fn authorization(ctx: &Context<'_>, (ids, removals): &Self::Input) -> Result<Authorization, ApiError> {
        let removed: Vec<Tag> =
            removals.iter().map(|r| Tag { key: r.key.clone(), value: r.value.clone().unwrap_or_default() }).collect();
        tagged_resources(ctx, ids, &removed).await
    }

    async fn call(ctx: &Context<'_>, (ids, removals): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.tags.delete(&ctx.scope, &ids, &removals).await?)
    }

    fn encode(ctx: &Context<'_>, (): ()) -> Reply {
        returns_true(Self::NAME, ctx)
    }
}

pub(super) struct DescribeTags;

impl Operation for DescribeTags {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeTags";
    const ACTION: &'static str = "ec2:DescribeTags";
    const READ_ONLY: bool = true;
    type Input = (Vec<Filter>, PageRequest);
    type Output = (Vec<ResourceTag>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        Ok((p.filters()?, p.page_request()))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (filters, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.tags.describe(&ctx.scope, &filters, &page).await?)
    }

    fn encode(ctx: &Context<'_>, (tags, next_token): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, tags.len() * 200, |w| {
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
        })
    }
}

/// `ResourceId.N`: at least one, refused before authorization as EC2 refuses it.
fn resource_ids(p: &QueryParams) -> Result<Vec<String>, ApiError> {
    let ids = p.list("ResourceId");
    if ids.is_empty() { Err(crate::service::Error::MissingParameter("resourceIdSet").into()) } else { Ok(ids) }
}

/// Each resource with its own tags, and the tags the request adds or removes as
/// `aws:RequestTag`.
async fn tagged_resources(ctx: &Context<'_>, ids: &[String], tags: &[Tag]) -> Result<Authorization, ApiError> {
    let targets: Vec<Target> =
        targets::resources(ctx, ids).await?.into_iter().map(|t| t.with_request_tags(tags)).collect();
    Ok(Authorization::on(targets))
}

/// CreateTags and DeleteTags answer `<return>true</return>` although the model has no
/// output shape (docs/aws-facts.md, "Tags on key pairs").
fn returns_true(action: &str, ctx: &Context<'_>) -> Reply {
    ec2_query::success(action, ctx.request_id, 64, |w| {
        w.text("return", "true");
    })
}

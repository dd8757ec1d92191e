//! Wire side of Parameter Store's tags: `AddTagsToResource`, `ListTagsForResource` and
//! `RemoveTagsFromResource` (shapes from the SSM model; docs/aws-facts.md, "Parameter tags").

use serde_json::{Value, json};

use super::parameters::parameter_target;
use crate::api::Context;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Json11, Operation};
use crate::api::protocol::json11::JsonInput;
use crate::service::Error;
use crate::store::Tag;

/// The parameter a tagging call names, checked to be a `Parameter`.
fn tagged_parameter(input: &JsonInput, members: &[&str]) -> Result<String, ApiError> {
    if let Some(member) = input.first_unknown(members) {
        return Err(ApiError::bad_request(
            "ValidationException",
            format!("The parameter {member} is not supported by keyfleet."),
        ));
    }
    let kind = input.required("ResourceType", "resourceType")?;
    if kind != "Parameter" {
        return Err(Error::SsmInvalidResourceType(kind.to_owned()).into());
    }
    Ok(input.required("ResourceId", "resourceId")?.to_owned())
}

/// A `Tags` list of `{"Key", "Value"}` objects; anything else is refused, not skipped.
pub(super) fn decode_tags(input: &JsonInput, member: &str) -> Result<Vec<Tag>, ApiError> {
    let malformed = || {
        ApiError::bad_request("ValidationException", format!("{member} must be a list of objects with Key and Value."))
    };
    let Some(items) = input.array(member) else {
        return if input.has(member) { Err(malformed()) } else { Ok(Vec::new()) };
    };
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
            match (text("Key"), text("Value")) {
                (Some(key), Some(value)) => Ok(Tag { key, value }),
                _ => Err(malformed()),
            }
        })
        .collect()
}

/// `(parameter name, tags)`.
pub(crate) struct AddTagsToResource;

impl Operation for AddTagsToResource {
    type Protocol = Json11;
    const NAME: &'static str = "AddTagsToResource";
    const ACTION: &'static str = "ssm:AddTagsToResource";
    const READ_ONLY: bool = false;
    type Input = (String, Vec<Tag>);
    type Output = ();

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let name = tagged_parameter(input, &["ResourceType", "ResourceId", "Tags"])?;
        input.required_array("Tags", "tags")?;
        Ok((name, decode_tags(input, "Tags")?))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, (name, tags): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.parameters.add_tags(&ctx.scope, &name, &tags).await?)
    }

    fn encode(_: &Context<'_>, (): ()) -> Value {
        json!({})
    }
}

pub(crate) struct ListTagsForResource;

impl Operation for ListTagsForResource {
    type Protocol = Json11;
    const NAME: &'static str = "ListTagsForResource";
    const ACTION: &'static str = "ssm:ListTagsForResource";
    const READ_ONLY: bool = true;
    type Input = String;
    type Output = Vec<Tag>;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        tagged_parameter(input, &["ResourceType", "ResourceId"])
    }

    async fn authorization(ctx: &Context<'_>, name: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, name: Self::Input) -> Result<Vec<Tag>, ApiError> {
        Ok(ctx.state.parameters.tags(&ctx.scope, &name).await?)
    }

    fn encode(_: &Context<'_>, tags: Vec<Tag>) -> Value {
        let list: Vec<Value> = tags.iter().map(|t| json!({"Key": t.key, "Value": t.value})).collect();
        json!({ "TagList": list })
    }
}

/// `(parameter name, tag keys)`.
pub(crate) struct RemoveTagsFromResource;

impl Operation for RemoveTagsFromResource {
    type Protocol = Json11;
    const NAME: &'static str = "RemoveTagsFromResource";
    const ACTION: &'static str = "ssm:RemoveTagsFromResource";
    const READ_ONLY: bool = false;
    type Input = (String, Vec<String>);
    type Output = ();

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let name = tagged_parameter(input, &["ResourceType", "ResourceId", "TagKeys"])?;
        let keys = input.required_array("TagKeys", "tagKeys")?;
        let keys: Option<Vec<String>> = keys.iter().map(|k| k.as_str().map(str::to_owned)).collect();
        let keys =
            keys.ok_or_else(|| ApiError::bad_request("ValidationException", "TagKeys must be a list of strings."))?;
        Ok((name, keys))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, (name, keys): Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.parameters.remove_tags(&ctx.scope, &name, &keys).await?)
    }

    fn encode(_: &Context<'_>, (): ()) -> Value {
        json!({})
    }
}

//! Wire side of the Parameter Store operations (shapes from the SSM model; research notes
//! access-recovery §2).

use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::api::Context;
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::protocol::json11::{JsonInput, epoch_seconds};
use crate::service::parameter_filters::{self as parameter_filters, Operation, RawFilter};
use crate::service::parameters::{Page, Parameter, PutParameter};

pub(super) async fn put(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let request = PutParameter {
        // Normalized before the policy check, so the name authorized is the name stored.
        name: crate::service::parameters::validate_name(input.required("Name", "name")?)?,
        value: Zeroizing::new(input.required("Value", "value")?.to_owned()),
        kind: input.str("Type").map(str::to_owned),
        overwrite: input.flag("Overwrite"),
        description: input.str("Description").map(str::to_owned),
        key_id: input.str("KeyId").map(str::to_owned),
        data_type: input.str("DataType").map(str::to_owned),
    };
    ctx.authorize(&[Target::parameter(&ctx.scope, &request.name)])?;
    let version = ctx.state.parameters.put(&ctx.scope, &caller_arn(ctx), request).await?;
    Ok(json!({"Version": version, "Tier": "Standard"}))
}

pub(super) async fn get(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let name = input.required("Name", "name")?;
    ctx.authorize(&[parameter_target(ctx, name)])?;
    let parameter = ctx.state.parameters.get(&ctx.scope, name, input.flag("WithDecryption")).await?;
    let mut value = with_value(&parameter);
    if let Some((_, selector)) = name.rsplit_once(':') {
        value.insert("Selector".into(), json!(format!(":{selector}")));
    }
    Ok(json!({"Parameter": value}))
}

pub(super) async fn get_many(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let names = input.strings("Names");
    ctx.authorize(&names.iter().map(|n| parameter_target(ctx, n)).collect::<Vec<_>>())?;
    let (found, invalid) = ctx.state.parameters.get_many(&ctx.scope, &names, input.flag("WithDecryption")).await?;
    Ok(json!({"Parameters": found.iter().map(with_value).collect::<Vec<_>>(), "InvalidParameters": invalid}))
}

pub(super) async fn by_path(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let path = input.required("Path", "path")?;
    if input.array("Filters").is_some() {
        return Err(ApiError::bad_request(
            "ValidationException",
            "GetParametersByPath takes ParameterFilters, not Filters.",
        ));
    }
    let filters = parameter_filters::parse(&raw_filters(input, "ParameterFilters"), Operation::ByPath, false)?;
    ctx.authorize(&[Target::parameter(&ctx.scope, path)])?;
    let (found, next) = ctx
        .state
        .parameters
        .by_path(&ctx.scope, path, input.flag("Recursive"), input.flag("WithDecryption"), &filters, &page(input))
        .await?;
    Ok(paged("Parameters", found.iter().map(with_value).map(Value::Object).collect(), next))
}

pub(super) async fn describe(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let filters = match (input.array("Filters"), input.array("ParameterFilters")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "ValidationException",
                "You can use either Filters or ParameterFilters in a single request.",
            ));
        }
        (Some(_), None) => parameter_filters::parse(&raw_filters(input, "Filters"), Operation::Describe, true)?,
        _ => parameter_filters::parse(&raw_filters(input, "ParameterFilters"), Operation::Describe, false)?,
    };
    ctx.authorize(&[Target::any()])?;
    let (found, next) = ctx.state.parameters.describe(&ctx.scope, &filters, &page(input)).await?;
    Ok(paged("Parameters", found.iter().map(|p| Value::Object(metadata(p))).collect(), next))
}

pub(super) async fn history(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let name = input.required("Name", "name")?;
    ctx.authorize(&[parameter_target(ctx, name)])?;
    let (versions, next) =
        ctx.state.parameters.history(&ctx.scope, name, input.flag("WithDecryption"), &page(input)).await?;
    let items = versions
        .iter()
        .map(|p| {
            let mut item = metadata(p);
            item.remove("ARN");
            item.insert("Value".into(), json!(p.value.as_str()));
            item.insert("Labels".into(), json!([]));
            Value::Object(item)
        })
        .collect();
    Ok(paged("Parameters", items, next))
}

pub(super) async fn delete(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let name = input.required("Name", "name")?;
    ctx.authorize(&[parameter_target(ctx, name)])?;
    ctx.state.parameters.delete(&ctx.scope, name).await?;
    Ok(json!({}))
}

pub(super) async fn delete_many(ctx: &Context<'_>, input: &JsonInput) -> Result<Value, ApiError> {
    let names = input.strings("Names");
    ctx.authorize(&names.iter().map(|n| parameter_target(ctx, n)).collect::<Vec<_>>())?;
    let (deleted, invalid) = ctx.state.parameters.delete_many(&ctx.scope, &names).await?;
    Ok(json!({"DeletedParameters": deleted, "InvalidParameters": invalid}))
}

/// The parameter a name (possibly with a `:version` selector) refers to.
fn parameter_target(ctx: &Context<'_>, name: &str) -> Target {
    let bare = name.rsplit_once(':').map_or(name, |(bare, _)| bare);
    Target::parameter(&ctx.scope, bare)
}

/// The `Key`, `Option` and `Values` of each filter in `member`.
fn raw_filters(input: &JsonInput, member: &str) -> Vec<RawFilter> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    input
        .array(member)
        .into_iter()
        .flatten()
        .map(|f| RawFilter {
            key: text(&f["Key"]).unwrap_or_default(),
            option: text(&f["Option"]),
            values: f["Values"].as_array().map(|v| v.iter().filter_map(text).collect()).unwrap_or_default(),
        })
        .collect()
}

fn page(input: &JsonInput) -> Page {
    Page {
        max_results: input.int("MaxResults").map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        next_token: input.str("NextToken").map(str::to_owned),
    }
}

fn paged(member: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut body = Map::new();
    body.insert(member.into(), Value::Array(items));
    if let Some(token) = next {
        body.insert("NextToken".into(), json!(token));
    }
    Value::Object(body)
}

/// `Parameter` as GetParameter(s) and GetParametersByPath return it.
fn with_value(p: &Parameter) -> Map<String, Value> {
    let mut item = Map::new();
    item.insert("Name".into(), json!(p.name));
    item.insert("Type".into(), json!(p.kind));
    item.insert("Value".into(), json!(p.value.as_str()));
    item.insert("Version".into(), json!(p.version));
    item.insert("LastModifiedDate".into(), epoch_seconds(p.modified_ms));
    item.insert("ARN".into(), json!(p.arn));
    item.insert("DataType".into(), json!(p.data_type));
    item
}

/// `ParameterMetadata` as DescribeParameters returns it: no value.
fn metadata(p: &Parameter) -> Map<String, Value> {
    let mut item = Map::new();
    item.insert("Name".into(), json!(p.name));
    item.insert("ARN".into(), json!(p.arn));
    item.insert("Type".into(), json!(p.kind));
    if let Some(key) = &p.key_id {
        item.insert("KeyId".into(), json!(key));
    }
    item.insert("LastModifiedDate".into(), epoch_seconds(p.modified_ms));
    item.insert("LastModifiedUser".into(), json!(p.modified_by));
    if let Some(description) = &p.description {
        item.insert("Description".into(), json!(description));
    }
    item.insert("Version".into(), json!(p.version));
    item.insert("Tier".into(), json!("Standard"));
    item.insert("Policies".into(), json!([]));
    item.insert("DataType".into(), json!(p.data_type));
    item
}

fn caller_arn(ctx: &Context<'_>) -> String {
    ctx.principal.actor.arn()
}

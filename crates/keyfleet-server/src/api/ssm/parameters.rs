//! Wire side of the Parameter Store operations (shapes from the SSM model; docs/aws-facts.md,
//! "SSM Parameter Store").

use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::api::Context;
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Json11, Operation};
use crate::api::protocol::json11::{JsonInput, epoch_seconds};
use crate::common::page::PageRequest;
use crate::service::parameter_filters::{
    self as parameter_filters, Operation as FilterUse, ParameterFilter, RawFilter,
};
use crate::service::parameters::{self as service, Parameter};
use crate::store::{ParameterTier, WireName};

type Found = (Vec<Parameter>, Option<String>);

pub(crate) struct PutParameter;

impl Operation for PutParameter {
    type Protocol = Json11;
    const NAME: &'static str = "PutParameter";
    const ACTION: &'static str = "ssm:PutParameter";
    const READ_ONLY: bool = false;
    type Input = service::PutParameter;
    type Output = (i64, ParameterTier);

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(input)?;
        Ok(service::PutParameter {
            // Normalized before the policy check, so the name authorized is the name stored.
            name: service::validate_name(input.required("Name", "name")?)?,
            value: Zeroizing::new(input.required("Value", "value")?.to_owned()),
            kind: input.str("Type").map(str::to_owned),
            overwrite: input.flag("Overwrite"),
            description: input.str("Description").map(str::to_owned),
            key_id: input.str("KeyId").map(str::to_owned),
            data_type: input.str("DataType").map(str::to_owned),
            tags: super::tags::decode_tags(input, "Tags")?,
            tier: input.str("Tier").map(str::to_owned),
            allowed_pattern: input.str("AllowedPattern").map(str::to_owned),
            policies: input.str("Policies").map(str::to_owned),
        })
    }

    /// Tags at creation also need `ssm:AddTagsToResource` on the parameter.
    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        let put = Authorization::on_one(Target::parameter(&ctx.scope, &input.name));
        if input.tags.is_empty() {
            return Ok(put);
        }
        Ok(put.and_as("ssm:AddTagsToResource", vec![Target::parameter(&ctx.scope, &input.name)]))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.parameters.put(&ctx.scope, &ctx.principal.actor.arn(), input).await?)
    }

    fn encode(_: &Context<'_>, (version, tier): Self::Output) -> Value {
        json!({"Version": version, "Tier": tier.as_str()})
    }
}

/// PutParameter's members: all of the model's.
const PUT_PARAMETER_MEMBERS: [&str; 11] = [
    "Name",
    "Value",
    "Type",
    "Overwrite",
    "Description",
    "KeyId",
    "DataType",
    "Tier",
    "Tags",
    "AllowedPattern",
    "Policies",
];

fn refuse_unimplemented(input: &JsonInput) -> Result<(), ApiError> {
    match input.first_unknown(&PUT_PARAMETER_MEMBERS) {
        Some(member) => Err(ApiError::bad_request(
            "ValidationException",
            format!("The parameter {member} of PutParameter is not supported by keyfleet."),
        )),
        None => Ok(()),
    }
}

pub(crate) struct GetParameter;

impl Operation for GetParameter {
    type Protocol = Json11;
    const NAME: &'static str = "GetParameter";
    const ACTION: &'static str = "ssm:GetParameter";
    const READ_ONLY: bool = true;
    /// The name (with a `:version` or `:label` selector, if any) and `WithDecryption`.
    type Input = (String, bool);
    type Output = (Parameter, Option<String>);

    /// An ARN is read as the name it stands for, before authorization sees it.
    fn decode(ctx: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let name = service::name_of_reference(&ctx.scope, input.required("Name", "name")?);
        Ok((name, input.flag("WithDecryption")))
    }

    async fn authorization(ctx: &Context<'_>, (name, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, (name, decrypt): Self::Input) -> Result<Self::Output, ApiError> {
        let parameter = ctx.state.parameters.get(&ctx.scope, &name, decrypt).await?;
        Ok((parameter, name.rsplit_once(':').map(|(_, selector)| format!(":{selector}"))))
    }

    fn encode(_: &Context<'_>, (parameter, selector): Self::Output) -> Value {
        let mut value = with_value(&parameter);
        if let Some(selector) = selector {
            value.insert("Selector".into(), json!(selector));
        }
        json!({"Parameter": value})
    }
}

pub(crate) struct GetParameters;

impl Operation for GetParameters {
    type Protocol = Json11;
    const NAME: &'static str = "GetParameters";
    const ACTION: &'static str = "ssm:GetParameters";
    const READ_ONLY: bool = true;
    type Input = (Vec<String>, bool);
    /// The parameters found, and the names that were not.
    type Output = (Vec<Parameter>, Vec<String>);

    fn decode(ctx: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let names: Vec<String> =
            input.strings("Names").iter().map(|n| service::name_of_reference(&ctx.scope, n)).collect();
        service::check_batch(&names)?;
        Ok((names, input.flag("WithDecryption")))
    }

    async fn authorization(ctx: &Context<'_>, (names, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(names.iter().map(|n| parameter_target(ctx, n)).collect()))
    }

    async fn call(ctx: &Context<'_>, (names, decrypt): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.parameters.get_many(&ctx.scope, &names, decrypt).await?)
    }

    fn encode(_: &Context<'_>, (found, invalid): Self::Output) -> Value {
        json!({"Parameters": found.iter().map(with_value).collect::<Vec<_>>(), "InvalidParameters": invalid})
    }
}

pub(super) struct GetParametersByPath;

pub(super) struct ByPath {
    path: String,
    recursive: bool,
    decrypt: bool,
    filters: Vec<ParameterFilter>,
    page: PageRequest,
}

impl Operation for GetParametersByPath {
    type Protocol = Json11;
    const NAME: &'static str = "GetParametersByPath";
    const ACTION: &'static str = "ssm:GetParametersByPath";
    const READ_ONLY: bool = true;
    type Input = ByPath;
    type Output = Found;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let path = input.required("Path", "path")?.to_owned();
        if input.array("Filters").is_some() {
            return Err(ApiError::bad_request(
                "ValidationException",
                "GetParametersByPath takes ParameterFilters, not Filters.",
            ));
        }
        let filters = parameter_filters::parse(&raw_filters(input, "ParameterFilters"), FilterUse::ByPath, false)?;
        let (recursive, decrypt) = (input.flag("Recursive"), input.flag("WithDecryption"));
        Ok(ByPath { path, recursive, decrypt, filters, page: page(input) })
    }

    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(Target::parameter(&ctx.scope, &input.path)))
    }

    async fn call(ctx: &Context<'_>, i: Self::Input) -> Result<Found, ApiError> {
        let parameters = &ctx.state.parameters;
        Ok(parameters.by_path(&ctx.scope, &i.path, i.recursive, i.decrypt, &i.filters, &i.page).await?)
    }

    fn encode(_: &Context<'_>, (found, next): Found) -> Value {
        paged("Parameters", found.iter().map(with_value).map(Value::Object).collect(), next)
    }
}

pub(crate) struct DescribeParameters;

impl Operation for DescribeParameters {
    type Protocol = Json11;
    const NAME: &'static str = "DescribeParameters";
    const ACTION: &'static str = "ssm:DescribeParameters";
    const READ_ONLY: bool = true;
    type Input = (Vec<ParameterFilter>, PageRequest);
    type Output = Found;

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let filters = match (input.array("Filters"), input.array("ParameterFilters")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "ValidationException",
                    "You can use either Filters or ParameterFilters in a single request.",
                ));
            }
            (Some(_), None) => parameter_filters::parse(&raw_filters(input, "Filters"), FilterUse::Describe, true)?,
            _ => parameter_filters::parse(&raw_filters(input, "ParameterFilters"), FilterUse::Describe, false)?,
        };
        Ok((filters, page(input)))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (filters, page): Self::Input) -> Result<Found, ApiError> {
        Ok(ctx.state.parameters.describe(&ctx.scope, &filters, &page).await?)
    }

    fn encode(_: &Context<'_>, (found, next): Found) -> Value {
        paged("Parameters", found.iter().map(|p| Value::Object(metadata(p))).collect(), next)
    }
}

pub(crate) struct GetParameterHistory;

impl Operation for GetParameterHistory {
    type Protocol = Json11;
    const NAME: &'static str = "GetParameterHistory";
    const ACTION: &'static str = "ssm:GetParameterHistory";
    const READ_ONLY: bool = true;
    type Input = (String, bool, PageRequest);
    type Output = Found;

    fn decode(ctx: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let name = service::name_of_reference(&ctx.scope, input.required("Name", "name")?);
        Ok((name, input.flag("WithDecryption"), page(input)))
    }

    async fn authorization(ctx: &Context<'_>, (name, ..): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, (name, decrypt, page): Self::Input) -> Result<Found, ApiError> {
        Ok(ctx.state.parameters.history(&ctx.scope, &name, decrypt, &page).await?)
    }

    fn encode(_: &Context<'_>, (versions, next): Found) -> Value {
        let items = versions
            .iter()
            .map(|p| {
                let mut item = metadata(p);
                item.remove("ARN");
                item.insert("Value".into(), json!(p.value.as_str()));
                item.insert("Labels".into(), json!(p.labels));
                Value::Object(item)
            })
            .collect();
        paged("Parameters", items, next)
    }
}

pub(crate) struct DeleteParameter;

impl Operation for DeleteParameter {
    type Protocol = Json11;
    const NAME: &'static str = "DeleteParameter";
    const ACTION: &'static str = "ssm:DeleteParameter";
    const READ_ONLY: bool = false;
    type Input = String;
    type Output = ();

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        Ok(input.required("Name", "name")?.to_owned())
    }

    async fn authorization(ctx: &Context<'_>, name: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, name: Self::Input) -> Result<(), ApiError> {
        Ok(ctx.state.parameters.delete(&ctx.scope, &name).await?)
    }

    fn encode(_: &Context<'_>, (): ()) -> Value {
        json!({})
    }
}

pub(super) struct DeleteParameters;

impl Operation for DeleteParameters {
    type Protocol = Json11;
    const NAME: &'static str = "DeleteParameters";
    const ACTION: &'static str = "ssm:DeleteParameters";
    const READ_ONLY: bool = false;
    type Input = Vec<String>;
    /// The names deleted, and those that did not exist.
    type Output = (Vec<String>, Vec<String>);

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let names = input.strings("Names");
        service::check_batch(&names)?;
        Ok(names)
    }

    async fn authorization(ctx: &Context<'_>, names: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on(names.iter().map(|n| parameter_target(ctx, n)).collect()))
    }

    async fn call(ctx: &Context<'_>, names: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.parameters.delete_many(&ctx.scope, &names).await?)
    }

    fn encode(_: &Context<'_>, (deleted, invalid): Self::Output) -> Value {
        json!({"DeletedParameters": deleted, "InvalidParameters": invalid})
    }
}

pub(crate) struct LabelParameterVersion;

impl Operation for LabelParameterVersion {
    type Protocol = Json11;
    const NAME: &'static str = "LabelParameterVersion";
    const ACTION: &'static str = "ssm:LabelParameterVersion";
    const READ_ONLY: bool = false;
    /// The name, the version (the latest when absent) and the labels.
    type Input = (String, Option<i64>, Vec<String>);
    /// The labels refused by the label rules, and the version labelled.
    type Output = (Vec<String>, i64);

    fn decode(ctx: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let name = service::name_of_reference(&ctx.scope, input.required("Name", "name")?);
        Ok((name, input.int("ParameterVersion"), input.strings("Labels")))
    }

    async fn authorization(ctx: &Context<'_>, (name, ..): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, (name, version, labels): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.parameters.label(&ctx.scope, &name, version, &labels).await?)
    }

    fn encode(_: &Context<'_>, (invalid, version): Self::Output) -> Value {
        json!({"InvalidLabels": invalid, "ParameterVersion": version})
    }
}

pub(super) struct UnlabelParameterVersion;

impl Operation for UnlabelParameterVersion {
    type Protocol = Json11;
    const NAME: &'static str = "UnlabelParameterVersion";
    const ACTION: &'static str = "ssm:UnlabelParameterVersion";
    const READ_ONLY: bool = false;
    type Input = (String, i64, Vec<String>);
    /// The labels removed, and those that were not on the version.
    type Output = (Vec<String>, Vec<String>);

    fn decode(ctx: &Context<'_>, input: &JsonInput) -> Result<Self::Input, ApiError> {
        let name = service::name_of_reference(&ctx.scope, input.required("Name", "name")?);
        let version = input.int("ParameterVersion").ok_or_else(|| {
            ApiError::validation(
                "1 validation error detected: Value null at 'parameterVersion' failed to satisfy constraint: Member \
                 must not be null"
                    .into(),
            )
        })?;
        Ok((name, version, input.strings("Labels")))
    }

    async fn authorization(ctx: &Context<'_>, (name, ..): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(parameter_target(ctx, name)))
    }

    async fn call(ctx: &Context<'_>, (name, version, labels): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.parameters.unlabel(&ctx.scope, &name, version, &labels).await?)
    }

    fn encode(_: &Context<'_>, (removed, invalid): Self::Output) -> Value {
        json!({"RemovedLabels": removed, "InvalidLabels": invalid})
    }
}

/// The parameter a name (possibly with a `:version` selector) refers to.
pub(super) fn parameter_target(ctx: &Context<'_>, name: &str) -> Target {
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

fn page(input: &JsonInput) -> PageRequest {
    PageRequest {
        max_results: input.int("MaxResults").map(|n| n.to_string()),
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
    item.insert("Type".into(), json!(p.kind.as_str()));
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
    item.insert("Type".into(), json!(p.kind.as_str()));
    if let Some(key) = &p.key_id {
        item.insert("KeyId".into(), json!(key));
    }
    item.insert("LastModifiedDate".into(), epoch_seconds(p.modified_ms));
    item.insert("LastModifiedUser".into(), json!(p.modified_by));
    if let Some(description) = &p.description {
        item.insert("Description".into(), json!(description));
    }
    item.insert("Version".into(), json!(p.version));
    item.insert("Tier".into(), json!(p.tier.as_str()));
    if let Some(pattern) = &p.allowed_pattern {
        item.insert("AllowedPattern".into(), json!(pattern));
    }
    let policies: Vec<Value> = p
        .policies
        .iter()
        .map(|policy| json!({"PolicyText": policy.text, "PolicyType": policy.kind.name(), "PolicyStatus": "Pending"}))
        .collect();
    item.insert("Policies".into(), Value::Array(policies));
    item.insert("DataType".into(), json!(p.data_type));
    item
}

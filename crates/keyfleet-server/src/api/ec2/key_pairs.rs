//! Wire side of the key pair actions: decode `QueryParams` into service input, encode
//! service output as AWS's XML (docs/aws-facts.md, "Key pair actions" and "Key pair responses").

use base64::Engine as _;
use keyfleet_keys::{ImportError, KeyFormat, KeyType};

use super::targets;
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, QueryParams};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::service;
use crate::service::key_pairs::{self as kp, CreatedKeyPair, KeyPairInfo};
use crate::store::Tag;

pub(crate) struct CreateKeyPair;

impl Operation for CreateKeyPair {
    type Protocol = Ec2Query;
    const NAME: &'static str = "CreateKeyPair";
    const ACTION: &'static str = "ec2:CreateKeyPair";
    const READ_ONLY: bool = false;
    type Input = kp::CreateKeyPair;
    type Output = CreatedKeyPair;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        Ok(kp::CreateKeyPair {
            name: p.required("KeyName")?.to_owned(),
            key_type: enum_param(p, "KeyType", "keyType", KeyType::parse, KeyType::Rsa, "rsa, ed25519")?,
            format: enum_param(p, "KeyFormat", "keyFormat", KeyFormat::parse, KeyFormat::Pem, "pem, ppk")?,
            tag_specifications: p.tag_specifications(),
        })
    }

    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        let target = Target::key_pair(&ctx.scope, &input.name).with_key("ec2:KeyPairType", input.key_type.as_str());
        Ok(creation::<Self>(target, &input.tag_specifications))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.key_pairs.create(ctx.work, &ctx.scope, input).await?)
    }

    fn encode(ctx: &Context<'_>, created: Self::Output) -> Reply {
        let info = &created.info;
        ec2_query::success(Self::NAME, ctx.request_id, created.material.len() + 512, |w| {
            w.text("keyPairId", &info.id);
            // AWS omits tagSet from an untagged CreateKeyPair (docs/aws-facts.md, "Key pair responses").
            if !info.tags.is_empty() {
                tag_set(w, &info.tags);
            }
            w.text("keyName", &info.name)
                .text("keyFingerprint", &info.fingerprint)
                .text("keyMaterial", &created.material);
        })
    }
}

pub(crate) struct ImportKeyPair;

impl Operation for ImportKeyPair {
    type Protocol = Ec2Query;
    const NAME: &'static str = "ImportKeyPair";
    const ACTION: &'static str = "ec2:ImportKeyPair";
    const READ_ONLY: bool = false;
    type Input = kp::ImportKeyPair;
    type Output = KeyPairInfo;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let name = p.required("KeyName")?.to_owned();
        let encoded = p.required("PublicKeyMaterial")?;
        // The SDKs base64-encode the blob for transport; what they encode is the file's text.
        let material = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| service::Error::InvalidKeyFormat(ImportError::Malformed("PublicKeyMaterial is not base64")))?;
        Ok(kp::ImportKeyPair { name, material, tag_specifications: p.tag_specifications() })
    }

    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(creation::<Self>(Target::key_pair(&ctx.scope, &input.name), &input.tag_specifications))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.key_pairs.import(ctx.work, &ctx.scope, input).await?)
    }

    fn encode(ctx: &Context<'_>, info: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 512, |w| {
            w.text("keyFingerprint", &info.fingerprint).text("keyName", &info.name).text("keyPairId", &info.id);
            if !info.tags.is_empty() {
                tag_set(w, &info.tags);
            }
        })
    }
}

pub(crate) struct DescribeKeyPairs;

impl Operation for DescribeKeyPairs {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeKeyPairs";
    const ACTION: &'static str = "ec2:DescribeKeyPairs";
    const READ_ONLY: bool = true;
    type Input = kp::DescribeKeyPairs;
    type Output = Vec<KeyPairInfo>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        Ok(kp::DescribeKeyPairs {
            names: p.list("KeyName"),
            ids: p.list("KeyPairId"),
            filters: p.filters()?,
            include_public_key: p.flag("IncludePublicKey")?,
        })
    }

    /// Like every Describe action, DescribeKeyPairs has no resource-level permissions: it is
    /// allowed or denied as a whole, on `*`, and never filtered per key pair.
    async fn authorization(_: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any().noting("AWS::EC2::KeyPair", &input.names))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.key_pairs.describe(&ctx.scope, input).await?)
    }

    fn encode(ctx: &Context<'_>, pairs: Self::Output) -> Reply {
        let per_item = if pairs.first().is_some_and(|k| k.public_key.is_some()) { 1000 } else { 400 };
        ec2_query::success(Self::NAME, ctx.request_id, pairs.len() * per_item, |w| {
            if pairs.is_empty() {
                w.empty("keySet");
                return;
            }
            w.start("keySet");
            for pair in &pairs {
                key_pair_item(w, pair);
            }
            w.end("keySet");
        })
    }
}

pub(crate) struct DeleteKeyPair;

/// A name wins (the store deletes by it); an id alone is used only without one.
pub(crate) struct DeleteKeyPairInput {
    name: Option<String>,
    id: Option<String>,
}

impl Operation for DeleteKeyPair {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DeleteKeyPair";
    const ACTION: &'static str = "ec2:DeleteKeyPair";
    const READ_ONLY: bool = false;
    type Input = DeleteKeyPairInput;
    type Output = Option<String>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let non_empty = |name| p.get(name).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(DeleteKeyPairInput { name: non_empty("KeyName"), id: non_empty("KeyPairId") })
    }

    /// The name is what is authorized, since it is what is deleted; an id beside it must be
    /// that same key pair's, or the call could be checked on one and delete another.
    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        if let (Some(name), Some(id)) = (&input.name, &input.id) {
            let named = targets::key_pair_id(ctx, name).await?;
            if named.as_ref().is_some_and(|named| named != id) {
                return Err(ApiError::bad_request(
                    "InvalidParameterCombination",
                    format!("The key pair '{name}' does not have the id '{id}'."),
                ));
            }
        }
        Ok(Authorization::on_one(targets::key_pair(ctx, input.name.as_deref(), input.by_id()).await?))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.key_pairs.delete(ctx.work, &ctx.scope, input.name.as_deref(), input.by_id()).await?)
    }

    fn encode(ctx: &Context<'_>, deleted: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 128, |w| {
            w.text("return", "true");
            if let Some(id) = &deleted {
                w.text("keyPairId", id);
            }
        })
    }
}

impl DeleteKeyPairInput {
    fn by_id(&self) -> Option<&str> {
        if self.name.is_some() { None } else { self.id.as_deref() }
    }
}

/// Create and import: the action on the new key pair with `aws:RequestTag`/`aws:TagKeys`, and
/// when tags are asked for, `ec2:CreateTags` on it too (with `ec2:CreateAction`), as EC2 does.
fn creation<O: Operation>(target: Target, specs: &[service::tags::TagSpecification]) -> Authorization {
    let tags = targets::requested_tags(specs, "key-pair");
    let target = target.with_request_tags(&tags);
    let tagging = target.clone().with_key("ec2:CreateAction", O::NAME);
    let authorization = Authorization::on_one(target);
    if tags.is_empty() { authorization } else { authorization.and_as("ec2:CreateTags", vec![tagging]) }
}

fn key_pair_item(w: &mut XmlWriter, pair: &KeyPairInfo) {
    w.start("item").text("keyPairId", &pair.id).text("keyType", pair.key_type.as_str());
    // DescribeKeyPairs always carries tagSet, empty or not (docs/aws-facts.md, "Key pair responses").
    tag_set(w, &pair.tags);
    if let Some(public_key) = &pair.public_key {
        w.text("publicKey", public_key);
    }
    w.text("createTime", &ec2_query::timestamp(pair.created_ms))
        .text("keyName", &pair.name)
        .text("keyFingerprint", &pair.fingerprint)
        .end("item");
}

fn tag_set(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        w.empty("tagSet");
        return;
    }
    w.start("tagSet");
    for tag in tags {
        w.start("item").text("key", &tag.key).text("value", &tag.value).end("item");
    }
    w.end("tagSet");
}

/// An enum parameter with a default; an unknown value is refused in the shape of AWS's
/// model validation errors (the exact AWS text is unverified: docs/aws-choices.md).
fn enum_param<T>(
    p: &QueryParams,
    name: &str,
    member: &str,
    parse: fn(&str) -> Option<T>,
    default: T,
    allowed: &str,
) -> Result<T, ApiError> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => parse(v).ok_or_else(|| {
            ApiError::invalid_parameter_value(format!(
                "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"
            ))
        }),
    }
}

//! Wire side of the key pair actions: decode `QueryParams` into service input, encode
//! service output as AWS's XML (research notes §2–3 for every element).

use base64::Engine as _;
use keyfleet_keys::{ImportError, KeyFormat, KeyType};

use super::{authorized, targets};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::{self, QueryParams};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::service;
use crate::service::key_pairs::{CreateKeyPair, DescribeKeyPairs, ImportKeyPair, KeyPairInfo};
use crate::store::Tag;

pub(super) async fn create(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let input = CreateKeyPair {
        name: p.required("KeyName")?.to_owned(),
        key_type: enum_param(p, "KeyType", "keyType", KeyType::parse, KeyType::Rsa, "rsa, ed25519")?,
        format: enum_param(p, "KeyFormat", "keyFormat", KeyFormat::parse, KeyFormat::Pem, "pem, ppk")?,
        tag_specifications: p.tag_specifications(),
    };
    let target = Target::key_pair(&ctx.scope, &input.name).with_key("ec2:KeyPairType", input.key_type.as_str());
    authorize_creation(ctx, p, target, &input.tag_specifications)?;
    let created = ctx.state.key_pairs.create(&ctx.scope, input).await?;
    let info = &created.info;
    Ok(ec2_query::success("CreateKeyPair", ctx.request_id, created.material.len() + 512, |w| {
        w.text("keyPairId", &info.id);
        // AWS omits tagSet from an untagged CreateKeyPair (research notes §3.1).
        if !info.tags.is_empty() {
            tag_set(w, &info.tags);
        }
        w.text("keyName", &info.name).text("keyFingerprint", &info.fingerprint).text("keyMaterial", &created.material);
    }))
}

pub(super) async fn import(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let name = p.required("KeyName")?.to_owned();
    let encoded = p.required("PublicKeyMaterial")?;
    // The SDKs base64-encode the blob for transport; what they encode is the file's text.
    let material = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| service::Error::InvalidKeyFormat(ImportError::Malformed("PublicKeyMaterial is not base64")))?;
    let input = ImportKeyPair { name, material, tag_specifications: p.tag_specifications() };
    authorize_creation(ctx, p, Target::key_pair(&ctx.scope, &input.name), &input.tag_specifications)?;
    let info = ctx.state.key_pairs.import(&ctx.scope, input).await?;
    Ok(ec2_query::success("ImportKeyPair", ctx.request_id, 512, |w| {
        w.text("keyFingerprint", &info.fingerprint).text("keyName", &info.name).text("keyPairId", &info.id);
        if !info.tags.is_empty() {
            tag_set(w, &info.tags);
        }
    }))
}

pub(super) async fn describe(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let input = DescribeKeyPairs {
        names: p.list("KeyName"),
        ids: p.list("KeyPairId"),
        filters: p.filters()?,
        include_public_key: p.flag("IncludePublicKey")?,
    };
    // Like every Describe action, DescribeKeyPairs has no resource-level permissions: it is
    // allowed or denied as a whole, on `*`, and never filtered per key pair.
    for name in &input.names {
        ctx.trail.note("AWS::EC2::KeyPair", name);
    }
    authorized(ctx, p, &[Target::any()])?;
    let pairs = ctx.state.key_pairs.describe(&ctx.scope, input).await?;
    let per_item = if pairs.first().is_some_and(|k| k.public_key.is_some()) { 1000 } else { 400 };
    Ok(ec2_query::success("DescribeKeyPairs", ctx.request_id, pairs.len() * per_item, |w| {
        if pairs.is_empty() {
            w.empty("keySet");
            return;
        }
        w.start("keySet");
        for pair in &pairs {
            key_pair_item(w, pair);
        }
        w.end("keySet");
    }))
}

pub(super) async fn delete(ctx: &Context<'_>, p: &QueryParams) -> Result<Reply, ApiError> {
    let name = p.get("KeyName").filter(|n| !n.is_empty());
    let id = p.get("KeyPairId").filter(|i| !i.is_empty());
    // A name wins (the store deletes by it), so the name is what is authorized; an id beside
    // it must be that same key pair's, or the call could be checked on one and delete another.
    if let (Some(name), Some(id)) = (name, id) {
        let named = targets::key_pair_id(ctx, name).await?;
        if named.as_deref().is_some_and(|named| named != id) {
            return Err(ApiError::bad_request(
                "InvalidParameterCombination",
                format!("The key pair '{name}' does not have the id '{id}'."),
            ));
        }
    }
    let id = if name.is_some() { None } else { id };
    authorized(ctx, p, &[targets::key_pair(ctx, name, id).await?])?;
    let deleted = ctx.state.key_pairs.delete(&ctx.scope, name, id).await?;
    Ok(ec2_query::success("DeleteKeyPair", ctx.request_id, 128, |w| {
        w.text("return", "true");
        if let Some(id) = &deleted {
            w.text("keyPairId", id);
        }
    }))
}

/// Create and import: the action on the new key pair with `aws:RequestTag`/`aws:TagKeys`, and
/// when tags are asked for, `ec2:CreateTags` on it too (with `ec2:CreateAction`), as EC2 does.
fn authorize_creation(
    ctx: &Context<'_>,
    p: &QueryParams,
    target: Target,
    specs: &[service::tags::TagSpecification],
) -> Result<(), ApiError> {
    let tags = targets::requested_tags(specs, "key-pair");
    let target = target.with_request_tags(&tags);
    if !tags.is_empty() {
        ctx.authorize_as(
            "ec2:CreateTags",
            &[target.clone().with_key("ec2:CreateAction", ctx.action.trim_start_matches("ec2:"))],
        )?;
    }
    authorized(ctx, p, &[target])
}

fn key_pair_item(w: &mut XmlWriter, pair: &KeyPairInfo) {
    w.start("item").text("keyPairId", &pair.id).text("keyType", &pair.key_type);
    // DescribeKeyPairs always carries tagSet, empty or not (research notes §3.3).
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
/// model validation errors (the exact AWS text is unverified, research notes §4).
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

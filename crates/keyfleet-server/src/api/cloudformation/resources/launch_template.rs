//! `AWS::EC2::LaunchTemplate`: made with CreateLaunchTemplate; a change to its data is a new
//! version through CreateLaunchTemplateVersion, which (as on CloudFormation) leaves the
//! default version where it was; a new name replaces it.

use serde_json::{Value, json};

use super::{Handlers, Pairs, Props, attributes, failure, gone_ok, params};
use crate::api::authorize::Service;
use crate::api::ec2::launch_templates as ec2_templates;
use crate::service::cloudformation::intrinsics::Provisioned;
use crate::service::cloudformation::template::text_of;
use crate::service::cloudformation::{ResourceFailure, ResourceRequest};

const PROPERTIES: [&str; 4] = ["LaunchTemplateName", "LaunchTemplateData", "VersionDescription", "TagSpecifications"];

/// The `LaunchTemplateData` members keyfleet launches with, and their query names.
const DATA: [(&str, &str); 4] =
    [("ImageId", "ImageId"), ("InstanceType", "InstanceType"), ("KeyName", "KeyName"), ("UserData", "UserData")];
const DATA_LISTS: [(&str, &str); 2] = [("SecurityGroupIds", "SecurityGroupId"), ("SecurityGroups", "SecurityGroup")];
const DATA_KEYS: [&str; 8] = [
    "ImageId",
    "InstanceType",
    "KeyName",
    "UserData",
    "SecurityGroupIds",
    "SecurityGroups",
    "TagSpecifications",
    "MetadataOptions",
];

impl Handlers {
    pub(super) async fn create_launch_template(
        &self,
        call: &ResourceRequest<'_>,
    ) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &PROPERTIES)?;
        let name = props.text("LaunchTemplateName").unwrap_or_else(|| call.generated_name(128));
        let mut pairs = params([("LaunchTemplateName", name), ("ClientToken", call.token.to_owned())]);
        if let Some(description) = props.text("VersionDescription") {
            pairs.push(("VersionDescription".to_owned(), description));
        }
        pairs.extend(data_pairs(&props)?);
        pairs.extend(tag_specifications(&props, "TagSpecification", &props.list("TagSpecifications"))?);
        let template = self
            .query::<ec2_templates::CreateLaunchTemplate>(call, Service::Ec2, pairs)
            .await
            .map_err(|e| failure(&e))?;
        Ok(provisioned(&template.row.id, template.row.default_version, template.row.latest_version))
    }

    /// A new version when only the data changed; `None` (replace) otherwise.
    pub(super) async fn update_launch_template(
        &self,
        call: &ResourceRequest<'_>,
        previous: &Value,
    ) -> Result<Option<Provisioned>, ResourceFailure> {
        let same = |key: &str| call.properties.get(key) == previous.get(key);
        if !(same("LaunchTemplateName") && same("TagSpecifications") && same("VersionDescription")) {
            return Ok(None);
        }
        let Some(id) = call.physical_id else { return Ok(None) };
        let props = Props::of(call, &PROPERTIES)?;
        let mut pairs = params([("LaunchTemplateId", id.to_owned())]);
        pairs.extend(data_pairs(&props)?);
        let version = self
            .query::<ec2_templates::CreateLaunchTemplateVersion>(call, Service::Ec2, pairs)
            .await
            .map_err(|e| failure(&e))?;
        Ok(Some(provisioned(id, version.template.default_version, version.template.latest_version)))
    }

    pub(super) async fn delete_launch_template(
        &self,
        call: &ResourceRequest<'_>,
        id: &str,
    ) -> Result<(), ResourceFailure> {
        let outcome = self
            .query::<ec2_templates::DeleteLaunchTemplate>(
                call,
                Service::Ec2,
                params([("LaunchTemplateId", id.to_owned())]),
            )
            .await;
        gone_ok(outcome, &["InvalidLaunchTemplateId.NotFound"])
    }
}

/// Ref is the id; the version numbers are strings, as CloudFormation gives them.
fn provisioned(id: &str, default: i64, latest: i64) -> Provisioned {
    Provisioned {
        physical_id: id.to_owned(),
        attributes: attributes(&[
            ("LaunchTemplateId", json!(id)),
            ("DefaultVersionNumber", json!(default.to_string())),
            ("LatestVersionNumber", json!(latest.to_string())),
        ]),
    }
}

/// `LaunchTemplateData` as `LaunchTemplateData.*` parameters; a member keyfleet does not
/// launch with is refused rather than dropped.
fn data_pairs(props: &Props<'_>) -> Result<Pairs, ResourceFailure> {
    let Some(Value::Object(data)) = props.map.get("LaunchTemplateData") else {
        return Err(props.invalid("#: required key [LaunchTemplateData] not found".into()));
    };
    if let Some(extra) = data.keys().find(|k| !DATA_KEYS.contains(&k.as_str())) {
        return Err(props.invalid(format!("#/LaunchTemplateData: extraneous key [{extra}] is not permitted")));
    }
    let mut pairs = Pairs::new();
    for (key, param) in DATA {
        if let Some(value) = data.get(key).filter(|v| !v.is_null()) {
            pairs.push((format!("LaunchTemplateData.{param}"), text_of(value)));
        }
    }
    for (key, param) in DATA_LISTS {
        let items = data.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        for (n, item) in items.iter().enumerate() {
            pairs.push((format!("LaunchTemplateData.{param}.{}", n + 1), text_of(item)));
        }
    }
    if let Some(options) = data.get("MetadataOptions").and_then(Value::as_object) {
        for (key, value) in options {
            pairs.push((format!("LaunchTemplateData.MetadataOptions.{key}"), text_of(value)));
        }
    }
    let specs = data.get("TagSpecifications").and_then(Value::as_array).cloned().unwrap_or_default();
    pairs.extend(tag_specifications(props, "LaunchTemplateData.TagSpecification", &specs)?);
    Ok(pairs)
}

/// `[{ResourceType, Tags: [{Key, Value}]}]` under `prefix`.
fn tag_specifications(props: &Props<'_>, prefix: &str, specs: &[Value]) -> Result<Pairs, ResourceFailure> {
    let mut pairs = Pairs::new();
    for (n, spec) in specs.iter().enumerate() {
        let at = format!("{prefix}.{}", n + 1);
        let kind = spec.get("ResourceType").map(text_of);
        let kind = kind
            .ok_or_else(|| props.invalid(format!("#/TagSpecifications/{n}: required key [ResourceType] not found")))?;
        pairs.push((format!("{at}.ResourceType"), kind));
        let tags = spec.get("Tags").and_then(Value::as_array).cloned().unwrap_or_default();
        for (m, tag) in tags.iter().enumerate() {
            let member = |key: &str| {
                tag.get(key).map(text_of).ok_or_else(|| {
                    props.invalid(format!("#/TagSpecifications/{n}/Tags/{m}: required key [{key}] not found"))
                })
            };
            pairs.push((format!("{at}.Tag.{}.Key", m + 1), member("Key")?));
            pairs.push((format!("{at}.Tag.{}.Value", m + 1), member("Value")?));
        }
    }
    Ok(pairs)
}

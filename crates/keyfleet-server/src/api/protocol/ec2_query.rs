//! The EC2 Query protocol (docs/aws-facts.md, "EC2 Query protocol"): `Action=…&Version=2016-11-15` plus flattened
//! parameters (`KeyName.1`, `Filter.1.Value.2`, `TagSpecification.1.Tag.1.Key`) from a form
//! body or a query string; XML responses in the 2016-11-15 namespace with `requestId`,
//! and errors as `<Response><Errors><Error>…</Error></Errors><RequestID>…</RequestID></Response>`.

use crate::common::page::PageRequest;
use std::collections::{BTreeMap, BTreeSet};

use super::xml::XmlWriter;
use crate::api::error::ApiError;
use crate::service::filter::Filter;
use crate::service::tags::TagSpecification;
use crate::store::{Tag, TagRemoval};

/// The namespace of every EC2 success response (with AWS's trailing slash).
pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

pub use crate::common::wire::xml_safe;

/// More filters than this are refused (EC2's limit).
pub const MAX_FILTERS: usize = 50;
/// More values in one filter than this are refused (EC2's limit).
pub const MAX_FILTER_VALUES: usize = 200;

/// A parameter an action takes: its name, with `N` for a list position (`1`, `2`, … as
/// EC2 writes them), and the only values keyfleet can honour when it cannot honour others.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// `TagSpecification.N.Tag.N.Key`, …
    pub pattern: &'static str,
    /// `None`: any value.
    pub values: Option<&'static [&'static str]>,
}

impl Accepted {
    /// Any value of `pattern`.
    pub const fn any(pattern: &'static str) -> Self {
        Accepted { pattern, values: None }
    }

    /// Only `values` of `pattern`.
    pub const fn only(pattern: &'static str, values: &'static [&'static str]) -> Self {
        Accepted { pattern, values: Some(values) }
    }

    fn matches(&self, name: &str) -> bool {
        let position = |s: &str| !s.starts_with('0') && !s.is_empty() && s.parse::<u32>().is_ok();
        let (mut want, mut got) = (self.pattern.split('.'), name.split('.'));
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some("N"), Some(segment)) if position(segment) => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub struct QueryParams {
    params: BTreeMap<String, String>,
}

impl QueryParams {
    /// Decodes the URL query and (for POST) the form body; the body wins on conflicts.
    pub fn decode(query: &str, body: &[u8]) -> Self {
        let params = form_urlencoded::parse(query.as_bytes())
            .chain(form_urlencoded::parse(body))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        QueryParams { params }
    }

    /// Parameters built by a front end other than the wire (the console's forms).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        QueryParams { params: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// Every parameter, by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&String, &String)> {
        self.params.iter()
    }

    /// `MaxResults` and `NextToken`, unchecked.
    pub fn page_request(&self) -> PageRequest {
        PageRequest {
            max_results: self.get("MaxResults").map(str::to_owned),
            next_token: self.get("NextToken").map(str::to_owned),
        }
    }

    /// The first parameter, as `name` or `name=value`, that none of `accepted` takes (the
    /// protocol's own `Action`, `Version`, `DryRun` and presigned `X-Amz-*` aside).
    pub fn first_unaccepted(&self, accepted: &[Accepted]) -> Option<String> {
        self.params.iter().find_map(|(name, value)| {
            if matches!(name.as_str(), "Action" | "Version" | "DryRun") || name.starts_with("X-Amz-") {
                return None;
            }
            match accepted.iter().find(|a| a.matches(name)) {
                None => Some(name.clone()),
                Some(a) if a.values.is_some_and(|values| !values.contains(&value.as_str())) => {
                    Some(format!("{name}={value}"))
                }
                Some(_) => None,
            }
        })
    }

    /// Every parameter's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A required parameter; absent or empty gives `MissingParameter`.
    pub fn required(&self, name: &'static str) -> Result<&str, ApiError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// A boolean parameter (`true` / `false`), false when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::invalid_parameter_value(format!(
                "Invalid value '{v}' for {name}. Expected true or false."
            ))),
        }
    }

    /// The `DryRun` flag.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        self.flag("DryRun")
    }

    /// The values of `prefix.1`, `prefix.2`, … in index order (gaps allowed).
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.indices(prefix).into_iter().filter_map(|i| self.get(&format!("{prefix}.{i}")).map(str::to_owned)).collect()
    }

    /// The `Filter.N.Name` / `Filter.N.Value.M` filters.
    pub fn filters(&self) -> Result<Vec<Filter>, ApiError> {
        let indices = self.indices("Filter");
        if indices.len() > MAX_FILTERS {
            return Err(ApiError::invalid_parameter_value(format!("The maximum number of filters is {MAX_FILTERS}.")));
        }
        indices
            .into_iter()
            .map(|i| {
                let name = self.get(&format!("Filter.{i}.Name")).filter(|n| !n.is_empty());
                let name =
                    name.ok_or_else(|| ApiError::invalid_parameter_value("The filter 'null' is invalid".into()))?;
                let values = self.list(&format!("Filter.{i}.Value"));
                if values.len() > MAX_FILTER_VALUES {
                    return Err(ApiError::invalid_parameter_value(format!(
                        "The maximum number of filter values specified on a single call is {MAX_FILTER_VALUES}"
                    )));
                }
                Ok(Filter { name: name.to_owned(), values })
            })
            .collect()
    }

    /// The first parameter holding a character that XML 1.0 cannot carry (C0 controls but
    /// tab, newline and carriage return; U+FFFE and U+FFFF): stored, it could never be
    /// answered again, in this request or any later listing.
    /// `InvalidParameterValue` for the first parameter whose value XML 1.0 cannot carry: the
    /// check of every Query request, from the wire or from a console form.
    pub fn check_xml_safe(&self) -> Result<(), ApiError> {
        match self.not_xml_safe() {
            Some(name) => Err(ApiError::invalid_parameter_value(format!(
                "Value for parameter {name} is invalid. It contains characters that are not allowed."
            ))),
            None => Ok(()),
        }
    }

    pub fn not_xml_safe(&self) -> Option<&str> {
        self.params.iter().find(|(_, v)| !v.chars().all(xml_safe)).map(|(k, _)| k.as_str())
    }

    /// How many parameters the request carries.
    pub fn count(&self) -> usize {
        self.params.len()
    }

    /// The parameters as a JSON object for the audit log: protocol and signature fields
    /// left out, secrets redacted.
    pub fn audit_json(&self) -> serde_json::Value {
        self.params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "Action" | "Version") && !k.starts_with("X-Amz-"))
            .map(|(k, v)| (k.clone(), crate::service::audit::redact_text(k, v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// `prefix.N.Key` / `prefix.N.Value` pairs; an absent value is the empty string.
    pub fn tags(&self, prefix: &str) -> Vec<Tag> {
        self.indices(prefix)
            .into_iter()
            .map(|i| Tag {
                key: self.get(&format!("{prefix}.{i}.Key")).unwrap_or_default().to_owned(),
                value: self.get(&format!("{prefix}.{i}.Value")).unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// `DeleteTags`' `Tag.N`: an absent `Value` differs from an empty one.
    pub fn tag_removals(&self) -> Vec<TagRemoval> {
        self.indices("Tag")
            .into_iter()
            .map(|i| TagRemoval {
                key: self.get(&format!("Tag.{i}.Key")).unwrap_or_default().to_owned(),
                value: self.get(&format!("Tag.{i}.Value")).map(str::to_owned),
            })
            .collect()
    }

    /// `TagSpecification.N.ResourceType` with its `TagSpecification.N.Tag.M`.
    pub fn tag_specifications(&self) -> Vec<TagSpecification> {
        self.tag_specifications_at("TagSpecification")
    }

    /// `{prefix}.N.ResourceType` and `{prefix}.N.Tag.M.*` (a launch template's are under
    /// `LaunchTemplateData.`).
    pub fn tag_specifications_at(&self, prefix: &str) -> Vec<TagSpecification> {
        self.indices(prefix)
            .into_iter()
            .map(|i| TagSpecification {
                resource_type: self.get(&format!("{prefix}.{i}.ResourceType")).map(str::to_owned),
                tags: self.tags(&format!("{prefix}.{i}.Tag")),
            })
            .collect()
    }

    /// The numeric indices N that appear as `prefix.N` or `prefix.N.…`, ascending.
    pub fn indices(&self, prefix: &str) -> BTreeSet<u32> {
        let dotted = format!("{prefix}.");
        self.params
            .range(dotted.clone()..)
            .take_while(|(k, _)| k.starts_with(&dotted))
            .filter_map(|(k, _)| k[dotted.len()..].split('.').next()?.parse::<u32>().ok())
            .collect()
    }
}

/// Writes `<{Action}Response xmlns=…><requestId>…</requestId>…</{Action}Response>`.
pub fn success(
    action: &str,
    request_id: &str,
    capacity: usize,
    body: impl FnOnce(&mut XmlWriter),
) -> zeroize::Zeroizing<String> {
    let root = format!("{action}Response");
    let mut w = XmlWriter::new(capacity + 200);
    w.start_ns(&root, NAMESPACE).text("requestId", request_id);
    body(&mut w);
    w.end(&root);
    w.finish()
}

/// Writes AWS's EC2 error document (no namespace, `RequestID` in capitals).
pub fn error(err: &ApiError, request_id: &str) -> String {
    let mut w = XmlWriter::new(256);
    w.start("Response").start("Errors").start("Error").text("Code", &err.code).text("Message", &err.message);
    w.end("Error").end("Errors").text("RequestID", request_id).end("Response");
    w.finish().to_string()
}

pub use crate::common::time::iso8601_millis as timestamp;

#[cfg(test)]
mod tests {
    use super::{Accepted, QueryParams};

    /// List positions are written as EC2 writes them, every field is spelled out, only the
    /// listed values pass, and the signature of a presigned URL is the protocol's own.
    #[test]
    fn only_accepted_parameters_and_values_pass() {
        const ACCEPTED: [Accepted; 3] = [
            Accepted::any("ImageId"),
            Accepted::any("BlockDeviceMapping.N.Ebs.VolumeSize"),
            Accepted::only("BlockDeviceMapping.N.Ebs.Encrypted", &["false"]),
        ];
        let first = |query: &str| QueryParams::decode(query, b"").first_unaccepted(&ACCEPTED);
        let presigned =
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab";
        assert_eq!(first(presigned), None);
        assert_eq!(first("BlockDeviceMapping.1.Ebs.VolumeSize=20&BlockDeviceMapping.12.Ebs.Encrypted=false"), None);
        assert_eq!(
            first("BlockDeviceMapping.01.Ebs.VolumeSize=20").as_deref(),
            Some("BlockDeviceMapping.01.Ebs.VolumeSize")
        );
        assert_eq!(
            first("BlockDeviceMapping.0.Ebs.VolumeSize=20").as_deref(),
            Some("BlockDeviceMapping.0.Ebs.VolumeSize")
        );
        assert_eq!(
            first("BlockDeviceMapping.x.Ebs.VolumeSize=20").as_deref(),
            Some("BlockDeviceMapping.x.Ebs.VolumeSize")
        );
        assert_eq!(first("BlockDeviceMapping.1=a").as_deref(), Some("BlockDeviceMapping.1"));
        assert_eq!(first("BlockDeviceMapping.1.Ebs.Iops=3000").as_deref(), Some("BlockDeviceMapping.1.Ebs.Iops"));
        assert_eq!(
            first("BlockDeviceMapping.1.Ebs.Encrypted=true").as_deref(),
            Some("BlockDeviceMapping.1.Ebs.Encrypted=true")
        );
        assert_eq!(first("SubnetId=subnet-1").as_deref(), Some("SubnetId"));
    }

    #[test]
    fn botocore_bodies_decode() {
        // Captured from botocore 1.43.11 (docs/aws-facts.md, "EC2 Query protocol").
        let body = b"Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=a&KeyName.2=b&KeyPairId.1=key-0123456789abcdef0&IncludePublicKey=true&Filter.1.Name=tag%3Aenv&Filter.1.Value.1=dev&Filter.1.Value.2=prod&Filter.2.Name=key-type&Filter.2.Value.1=rsa";
        let p = QueryParams::decode("", body);
        assert_eq!(p.list("KeyName"), ["a", "b"]);
        assert_eq!(p.list("KeyPairId"), ["key-0123456789abcdef0"]);
        assert!(p.flag("IncludePublicKey").unwrap());
        let f = p.filters().unwrap();
        assert_eq!((f[0].name.as_str(), f[0].values.clone()), ("tag:env", vec!["dev".to_owned(), "prod".to_owned()]));
        assert_eq!(f[1].name, "key-type");
    }

    #[test]
    fn indices_sort_numerically_and_allow_gaps() {
        let p = QueryParams::decode("KeyName.10=c&KeyName.2=b&KeyName.1=a", b"");
        assert_eq!(p.list("KeyName"), ["a", "b", "c"]);
    }

    #[test]
    fn delete_tags_distinguishes_absent_and_empty_values() {
        let p = QueryParams::decode("", b"Tag.1.Key=k&Tag.2.Key=k2&Tag.2.Value=");
        let r = p.tag_removals();
        assert_eq!((r[0].value.clone(), r[1].value.clone()), (None, Some(String::new())));
    }

    #[test]
    fn tag_specifications_decode() {
        let p = QueryParams::decode("", b"TagSpecification.1.ResourceType=key-pair&TagSpecification.1.Tag.1.Key=env&TagSpecification.1.Tag.1.Value=dev&TagSpecification.1.Tag.2.Key=team&TagSpecification.1.Tag.2.Value=");
        let specs = p.tag_specifications();
        assert_eq!(specs[0].resource_type.as_deref(), Some("key-pair"));
        assert_eq!(specs[0].tags.len(), 2);
        assert_eq!(specs[0].tags[1].value, "");
    }
}

//! EC2 launch templates as stored: a template row (its name, default and latest version) and
//! its numbered versions, each an immutable [`LaunchTemplateData`] kept as one JSON document.

use serde::{Deserialize, Serialize};

/// A launch template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplateRow {
    /// `lt-` + 17 hex characters.
    pub id: String,
    /// Unique in its scope.
    pub name: String,
    /// The version a launch without `Version` uses.
    pub default_version: i64,
    /// The highest version number given so far (deleted versions keep their numbers).
    pub latest_version: i64,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// The ARN of the caller that made it.
    pub created_by: String,
    /// CreateLaunchTemplate's `ClientToken`.
    pub client_token: Option<String>,
}

/// One version of a launch template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplateVersionRow {
    /// Its number, from 1.
    pub version: i64,
    /// `VersionDescription`.
    pub description: Option<String>,
    /// What it launches.
    pub data: LaunchTemplateData,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// The ARN of the caller that made it.
    pub created_by: String,
}

/// `LaunchTemplateData`: every field a launch may take from the template, each absent
/// unless the version sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LaunchTemplateData {
    /// `ImageId`.
    pub image_id: Option<String>,
    /// `InstanceType`.
    pub instance_type: Option<String>,
    /// `KeyName`: not checked when the template is made, only when it launches.
    pub key_name: Option<String>,
    /// `SecurityGroupIds`.
    pub security_group_ids: Vec<String>,
    /// `SecurityGroups` (names).
    pub security_groups: Vec<String>,
    /// `UserData`, base64 as given.
    pub user_data: Option<String>,
    /// `TagSpecifications`: the tags each launch puts on its instances and volumes.
    pub tag_specifications: Vec<TemplateTags>,
    /// `MetadataOptions.HttpTokens`.
    pub http_tokens: Option<HttpTokens>,
}

/// One of a template's `TagSpecifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateTags {
    /// `instance` or `volume`.
    pub resource_type: String,
    /// `(key, value)` in the order given.
    pub tags: Vec<(String, String)>,
}

/// `MetadataOptions.HttpTokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpTokens {
    /// IMDSv1 and v2.
    Optional,
    /// IMDSv2 only.
    Required,
}

impl super::WireName for HttpTokens {
    const ALL: &'static [Self] = &[HttpTokens::Optional, HttpTokens::Required];

    fn as_str(self) -> &'static str {
        match self {
            HttpTokens::Optional => "optional",
            HttpTokens::Required => "required",
        }
    }
}

/// What became of one version that DeleteLaunchTemplateVersions named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionDeletion {
    /// It is gone.
    Deleted,
    /// The template has no such version.
    NotFound,
    /// It is the default version, which stays while the template does.
    IsDefault,
}

/// Why a new version was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewVersionRefused {
    /// The template is gone.
    NoTemplate,
    /// The template holds the most versions it may.
    TooManyVersions,
}

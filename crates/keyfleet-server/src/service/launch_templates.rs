//! EC2 launch templates: named, versioned launch parameters (docs/aws-facts.md, "Launch
//! templates"). A version is never changed once made; what changes is which version is the
//! default. Nothing in a version is checked against other resources until it launches: a
//! key pair deleted after the template was made fails the launch, not the template.

use std::sync::Arc;

use super::filter::{Filter, FilterField, Typed, all_match, tag_values, typed};
use super::tags::{self, TagSpecification};
use super::{Error, Result, now_ms};
use crate::common::ids;
use crate::store::{
    LaunchTemplateData, LaunchTemplateRow, LaunchTemplateVersionRow, NewVersionRefused, Scope, Store, StoreError, Tag,
    VersionDeletion,
};

/// Launch templates per Region (EC2's quota).
pub const MAX_TEMPLATES: u32 = 5000;
/// Versions per launch template: a tenth of EC2's quota (10,000), so that listing every
/// version of a template stays a bounded read (docs/aws-choices.md, "Launch templates").
pub const MAX_VERSIONS: u32 = 1_000;
/// `VersionDescription`'s longest.
const MAX_DESCRIPTION: usize = 255;
/// User data, decoded (RunInstances' limit).
pub const MAX_USER_DATA: usize = 16 * 1024;
/// Versions one DeleteLaunchTemplateVersions or DescribeLaunchTemplateVersions may name.
pub const MAX_VERSIONS_PER_CALL: usize = 200;
/// Security groups a version may name.
const MAX_GROUPS: usize = 5;
/// The resource types a template's TagSpecifications may tag: what its launches make.
const TAGGED_AT_LAUNCH: [&str; 2] = ["instance", "volume"];

/// Why a launch template request is refused; each is one EC2 error (api/error.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A name outside 3–128 characters of `[a-zA-Z0-9().\-/_]`.
    MalformedName,
    /// The scope has a template of this name.
    NameTaken,
    /// DescribeLaunchTemplates named a template that does not exist.
    NamesNotFound,
    /// No template of this name.
    NameNotFound(String),
    /// No template with this id.
    IdNotFound(String),
    /// An id that is not `lt-` and 17 hex digits.
    MalformedId(String),
    /// Both an id and a name.
    IdAndName,
    /// Neither an id nor a name.
    NeitherIdNorName,
    /// A request without `LaunchTemplateData`.
    NoData,
    /// Versions of every template asked by number, or not asked at all.
    AllTemplatesByNumber,
    /// A version specifier that is not a number, `$Latest` or `$Default`.
    MalformedVersion(String),
    /// The template has no such version.
    VersionNotFound { template_id: String, version: String },
    /// ModifyLaunchTemplate named a version the template does not have.
    DefaultVersionNotFound(String),
    /// The scope holds [`MAX_TEMPLATES`].
    TooManyTemplates,
    /// The template holds [`MAX_VERSIONS`].
    TooManyVersions,
    /// `VersionDescription` over [`MAX_DESCRIPTION`] characters.
    DescriptionTooLong,
    /// Decoded user data over [`MAX_USER_DATA`] bytes.
    UserDataTooLarge,
    /// User data that is not base64.
    UserDataNotBase64,
    /// A TagSpecification for a resource type that launches do not make.
    TagResourceType(String),
    /// More than [`MAX_GROUPS`] security groups.
    TooManyGroups,
    /// Versions given both as a list and as a range.
    VersionsAndRange,
    /// More versions named than one call takes.
    TooManyVersionsNamed,
}

/// How a request names a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateRef {
    /// `LaunchTemplateId`.
    Id(String),
    /// `LaunchTemplateName`.
    Name(String),
}

impl TemplateRef {
    /// From a request's `LaunchTemplateId` and `LaunchTemplateName`: exactly one of them.
    pub fn from_parts(id: Option<&str>, name: Option<&str>) -> Result<Self> {
        match (id, name) {
            (Some(id), None) => Ok(TemplateRef::Id(id.to_owned())),
            (None, Some(name)) => Ok(TemplateRef::Name(name.to_owned())),
            (Some(_), Some(_)) => Err(Refused::IdAndName.into()),
            (None, None) => Err(Refused::NeitherIdNorName.into()),
        }
    }
}

/// A version as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// `$Latest`.
    Latest,
    /// `$Default`.
    Default,
    /// A number.
    Number(i64),
}

impl VersionSpec {
    /// `$Latest`, `$Default` or a positive number.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "$Latest" => Ok(VersionSpec::Latest),
            "$Default" => Ok(VersionSpec::Default),
            number => match number.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
                _ => Err(Refused::MalformedVersion(number.to_owned()).into()),
            },
        }
    }

    /// The version number this names in `template`.
    fn number(self, template: &LaunchTemplateRow) -> i64 {
        match self {
            VersionSpec::Latest => template.latest_version,
            VersionSpec::Default => template.default_version,
            VersionSpec::Number(n) => n,
        }
    }
}

/// A template with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The row.
    pub row: LaunchTemplateRow,
    /// `launch-template` tags, by key.
    pub tags: Vec<Tag>,
}

/// One version with its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The template, as it is now.
    pub template: LaunchTemplateRow,
    /// The version.
    pub version: LaunchTemplateVersionRow,
}

impl Version {
    /// Whether this is the template's default version.
    pub fn is_default(&self) -> bool {
        self.version.version == self.template.default_version
    }
}

/// CreateLaunchTemplate's input.
#[derive(Debug, Clone, Default)]
pub struct NewTemplate {
    /// `LaunchTemplateName`.
    pub name: String,
    /// `VersionDescription`.
    pub description: Option<String>,
    /// `LaunchTemplateData`.
    pub data: LaunchTemplateData,
    /// `TagSpecification.N` of type `launch-template`.
    pub tag_specifications: Vec<TagSpecification>,
    /// `ClientToken`: a retry with the same token answers the template the first call made.
    pub client_token: Option<String>,
}

/// CreateLaunchTemplateVersion's input.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The template.
    pub template: TemplateRef,
    /// `VersionDescription`.
    pub description: Option<String>,
    /// `SourceVersion`: the version whose data this one starts from.
    pub source: Option<VersionSpec>,
    /// `LaunchTemplateData`: on top of the source's, field by field.
    pub data: LaunchTemplateData,
}

/// DescribeLaunchTemplateVersions' selection of versions.
#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    /// `LaunchTemplateVersion.N`.
    pub versions: Vec<VersionSpec>,
    /// `MinVersion`.
    pub min: Option<i64>,
    /// `MaxVersion`.
    pub max: Option<i64>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
}

/// The launch template operations.
pub struct LaunchTemplates {
    store: Arc<dyn Store>,
}

impl LaunchTemplates {
    /// The service over a store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        LaunchTemplates { store }
    }

    /// `CreateLaunchTemplate`: the template with its version 1, which is the default.
    pub async fn create(&self, scope: &Scope, created_by: &str, input: NewTemplate) -> Result<Template> {
        check_name(&input.name)?;
        if input.data == LaunchTemplateData::default() {
            return Err(Refused::NoData.into());
        }
        check_version(input.description.as_deref(), &input.data)?;
        let tags = tags::from_specifications(&input.tag_specifications, "launch-template")?;
        if let Some(earlier) = self.earlier_create(scope, &input).await? {
            return Ok(earlier);
        }
        let now = now_ms();
        let row = LaunchTemplateRow {
            id: ids::new_id("lt"),
            name: input.name,
            default_version: 1,
            latest_version: 1,
            created_ms: now,
            created_by: created_by.to_owned(),
            client_token: input.client_token,
        };
        let first = version_row(input.description, input.data, now, created_by);
        match self.store.insert_launch_template(scope, &row, &first, MAX_TEMPLATES).await {
            Err(StoreError::Duplicate) => return Err(Refused::NameTaken.into()),
            Err(StoreError::QuotaExceeded(_)) => return Err(Refused::TooManyTemplates.into()),
            other => other?,
        }
        if !tags.is_empty() {
            let resource = [(row.id.clone(), "launch-template".to_owned())];
            self.store.put_tags(scope, &resource, &tags, tags::MAX_TAGS).await?;
        }
        Ok(Template { row, tags })
    }

    /// The template an earlier CreateLaunchTemplate with this `ClientToken` made; a token
    /// reused for another name is `IdempotentParameterMismatch`.
    async fn earlier_create(&self, scope: &Scope, input: &NewTemplate) -> Result<Option<Template>> {
        let Some(token) = &input.client_token else { return Ok(None) };
        let all = self.store.launch_templates(scope).await?;
        let Some(earlier) = all.into_iter().find(|t| t.client_token.as_ref() == Some(token)) else { return Ok(None) };
        if earlier.name != input.name {
            return Err(Error::IdempotentParameterMismatch);
        }
        Ok(self.with_tags(scope, vec![earlier]).await?.pop())
    }

    /// `CreateLaunchTemplateVersion`: the next version, from `SourceVersion`'s data (if
    /// given) with the request's fields on top. The default stays where it was.
    pub async fn create_version(&self, scope: &Scope, created_by: &str, input: NewVersion) -> Result<Version> {
        if input.data == LaunchTemplateData::default() {
            return Err(Refused::NoData.into());
        }
        let template = self.find(scope, &input.template).await?;
        let data = match input.source {
            None => input.data,
            Some(source) => overlay(self.version(scope, &template, source).await?.version.data, input.data),
        };
        check_version(input.description.as_deref(), &data)?;
        let row = version_row(input.description, data, now_ms(), created_by);
        let number = self.store.insert_launch_template_version(scope, &template.id, &row, false, MAX_VERSIONS).await?;
        let number = match number {
            Ok(n) => n,
            Err(NewVersionRefused::NoTemplate) => return Err(not_found(&input.template)),
            Err(NewVersionRefused::TooManyVersions) => return Err(Refused::TooManyVersions.into()),
        };
        let template = self.find(scope, &TemplateRef::Id(template.id)).await?;
        Ok(Version { template, version: LaunchTemplateVersionRow { version: number, ..row } })
    }

    /// `DescribeLaunchTemplates`: by id or name (each must exist) and filters.
    pub async fn describe(
        &self,
        scope: &Scope,
        ids: &[String],
        names: &[String],
        filters: &[Filter],
    ) -> Result<Vec<Template>> {
        let filters: Vec<Typed<TemplateFilter>> = typed(filters)?;
        let all = self.with_tags(scope, self.store.launch_templates(scope).await?).await?;
        for id in ids {
            check_id(id)?;
            if !all.iter().any(|t| &t.row.id == id) {
                return Err(Refused::IdNotFound(id.clone()).into());
            }
        }
        if names.iter().any(|name| !all.iter().any(|t| &t.row.name == name)) {
            return Err(Refused::NamesNotFound.into());
        }
        Ok(all
            .into_iter()
            .filter(|t| ids.is_empty() || ids.contains(&t.row.id))
            .filter(|t| names.is_empty() || names.contains(&t.row.name))
            .filter(|t| all_match(&filters, t))
            .collect())
    }

    /// `DescribeLaunchTemplateVersions`: of one template, newest first, or without a template,
    /// the `$Latest` and `$Default` versions of every template.
    pub async fn versions(
        &self,
        scope: &Scope,
        template: Option<&TemplateRef>,
        query: &VersionQuery,
    ) -> Result<Vec<Version>> {
        let Some(template) = template else { return self.every_templates_versions(scope, query).await };
        if !query.versions.is_empty() && (query.min.is_some() || query.max.is_some()) {
            return Err(Refused::VersionsAndRange.into());
        }
        if query.versions.len() > MAX_VERSIONS_PER_CALL {
            return Err(Refused::TooManyVersionsNamed.into());
        }
        let filters: Vec<Typed<VersionFilter>> = typed(&query.filters)?;
        let template = self.find(scope, template).await?;
        let wanted: Vec<i64> = query.versions.iter().map(|v| v.number(&template)).collect();
        let stored = if wanted.is_empty() {
            self.store.launch_template_versions(scope, &template.id).await?
        } else {
            let mut found = Vec::with_capacity(wanted.len());
            for &number in &wanted {
                match self.store.launch_template_version(scope, &template.id, number).await? {
                    Some(version) if !found.contains(&version) => found.push(version),
                    Some(_) => {}
                    None => return Err(version_not_found(&template, number)),
                }
            }
            found.sort_by_key(|v| std::cmp::Reverse(v.version));
            found
        };
        let in_range = |v: &LaunchTemplateVersionRow| {
            query.min.is_none_or(|m| v.version >= m) && query.max.is_none_or(|m| v.version <= m)
        };
        Ok(stored
            .into_iter()
            .filter(|v| (wanted.is_empty() || wanted.contains(&v.version)) && in_range(v))
            .map(|version| Version { template: template.clone(), version })
            .filter(|v| all_match(&filters, v))
            .collect())
    }

    async fn every_templates_versions(&self, scope: &Scope, query: &VersionQuery) -> Result<Vec<Version>> {
        let by_alias = |v: &VersionSpec| matches!(v, VersionSpec::Latest | VersionSpec::Default);
        if query.versions.is_empty()
            || !query.versions.iter().all(by_alias)
            || query.min.is_some()
            || query.max.is_some()
        {
            return Err(Refused::AllTemplatesByNumber.into());
        }
        let filters: Vec<Typed<VersionFilter>> = typed(&query.filters)?;
        let mut found = Vec::new();
        for template in self.store.launch_templates(scope).await? {
            let mut numbers: Vec<i64> = query.versions.iter().map(|v| v.number(&template)).collect();
            numbers.sort_unstable_by(|a, b| b.cmp(a));
            numbers.dedup();
            for number in numbers {
                if let Some(version) = self.store.launch_template_version(scope, &template.id, number).await? {
                    found.push(Version { template: template.clone(), version });
                }
            }
        }
        Ok(found.into_iter().filter(|v| all_match(&filters, v)).collect())
    }

    /// One version of a template: what a launch uses (`None`: the default).
    pub async fn resolve(
        &self,
        scope: &Scope,
        template: &TemplateRef,
        version: Option<VersionSpec>,
    ) -> Result<Version> {
        let template = self.find(scope, template).await?;
        self.version(scope, &template, version.unwrap_or(VersionSpec::Default)).await
    }

    /// `ModifyLaunchTemplate`: makes a version the default.
    pub async fn set_default(&self, scope: &Scope, template: &TemplateRef, version: VersionSpec) -> Result<Template> {
        let found = self.find(scope, template).await?;
        let number = version.number(&found);
        if !self.store.set_default_launch_template_version(scope, &found.id, number).await? {
            return Err(Refused::DefaultVersionNotFound(number.to_string()).into());
        }
        let row = self.find(scope, &TemplateRef::Id(found.id)).await?;
        Ok(self.with_tags(scope, vec![row]).await?.remove(0))
    }

    /// `DeleteLaunchTemplate`: the template with every version; what it was.
    pub async fn delete(&self, scope: &Scope, template: &TemplateRef) -> Result<Template> {
        let found = self.find(scope, template).await?;
        let gone = self.with_tags(scope, vec![found.clone()]).await?.remove(0);
        if !self.store.delete_launch_template(scope, &found.id).await? {
            return Err(not_found(template));
        }
        Ok(gone)
    }

    /// `DeleteLaunchTemplateVersions`: each named version but the default, answered one by one.
    pub async fn delete_versions(
        &self,
        scope: &Scope,
        template: &TemplateRef,
        versions: &[String],
    ) -> Result<(LaunchTemplateRow, Vec<(String, VersionDeletion)>)> {
        if versions.is_empty() {
            return Err(Error::MissingParameter("LaunchTemplateVersion"));
        }
        if versions.len() > MAX_VERSIONS_PER_CALL {
            return Err(Refused::TooManyVersionsNamed.into());
        }
        let found = self.find(scope, template).await?;
        let numbers = versions
            .iter()
            .map(|v| VersionSpec::parse(v).map(|spec| spec.number(&found)))
            .collect::<Result<Vec<i64>>>()?;
        let outcomes = self.store.delete_launch_template_versions(scope, &found.id, &numbers).await?;
        Ok((found, versions.iter().cloned().zip(outcomes).collect()))
    }

    /// A template by id or name.
    pub async fn find(&self, scope: &Scope, template: &TemplateRef) -> Result<LaunchTemplateRow> {
        if let TemplateRef::Id(id) = template {
            check_id(id)?;
        }
        let found = self.store.launch_templates(scope).await?.into_iter().find(|t| match template {
            TemplateRef::Id(id) => &t.id == id,
            TemplateRef::Name(name) => &t.name == name,
        });
        found.ok_or_else(|| not_found(template))
    }

    async fn version(&self, scope: &Scope, template: &LaunchTemplateRow, spec: VersionSpec) -> Result<Version> {
        let number = spec.number(template);
        match self.store.launch_template_version(scope, &template.id, number).await? {
            Some(version) => Ok(Version { template: template.clone(), version }),
            None => Err(version_not_found(template, number)),
        }
    }

    async fn with_tags(&self, scope: &Scope, rows: Vec<LaunchTemplateRow>) -> Result<Vec<Template>> {
        let tagged = if rows.is_empty() { Vec::new() } else { self.store.tags(scope).await? };
        Ok(rows
            .into_iter()
            .map(|row| {
                let tags = tagged.iter().filter(|t| t.resource_id == row.id).map(|t| t.tag.clone()).collect();
                Template { row, tags }
            })
            .collect())
    }
}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Self {
        Error::LaunchTemplate(refused)
    }
}

fn not_found(template: &TemplateRef) -> Error {
    match template {
        TemplateRef::Id(id) => Refused::IdNotFound(id.clone()).into(),
        TemplateRef::Name(name) => Refused::NameNotFound(name.clone()).into(),
    }
}

fn version_not_found(template: &LaunchTemplateRow, version: i64) -> Error {
    Refused::VersionNotFound { template_id: template.id.clone(), version: version.to_string() }.into()
}

fn version_row(
    description: Option<String>,
    data: LaunchTemplateData,
    now: i64,
    created_by: &str,
) -> LaunchTemplateVersionRow {
    LaunchTemplateVersionRow { version: 1, description, data, created_ms: now, created_by: created_by.to_owned() }
}

/// `source` with every field `top` sets replaced by `top`'s.
fn overlay(source: LaunchTemplateData, top: LaunchTemplateData) -> LaunchTemplateData {
    fn list(source: Vec<String>, top: Vec<String>) -> Vec<String> {
        if top.is_empty() { source } else { top }
    }
    LaunchTemplateData {
        image_id: top.image_id.or(source.image_id),
        instance_type: top.instance_type.or(source.instance_type),
        key_name: top.key_name.or(source.key_name),
        security_group_ids: list(source.security_group_ids, top.security_group_ids),
        security_groups: list(source.security_groups, top.security_groups),
        user_data: top.user_data.or(source.user_data),
        tag_specifications: if top.tag_specifications.is_empty() {
            source.tag_specifications
        } else {
            top.tag_specifications
        },
        http_tokens: top.http_tokens.or(source.http_tokens),
    }
}

/// 3–128 characters of letters, digits and `( ) . - / _`.
fn check_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "().-/_".contains(c);
    if (3..=128).contains(&name.len()) && name.chars().all(allowed) {
        Ok(())
    } else {
        Err(Refused::MalformedName.into())
    }
}

fn check_id(id: &str) -> Result<()> {
    if ids::is_well_formed(id, "lt") { Ok(()) } else { Err(Refused::MalformedId(id.to_owned()).into()) }
}

/// What a version may hold, whatever it names: sizes, tags and shapes. What it names (the
/// image, the key pair, the groups) is checked when it launches.
fn check_version(description: Option<&str>, data: &LaunchTemplateData) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return Err(Refused::DescriptionTooLong.into());
    }
    if let Some(user_data) = &data.user_data {
        use base64::Engine as _;
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(user_data).map_err(|_| Refused::UserDataNotBase64)?;
        if decoded.len() > MAX_USER_DATA {
            return Err(Refused::UserDataTooLarge.into());
        }
    }
    if data.security_group_ids.len() + data.security_groups.len() > MAX_GROUPS {
        return Err(Refused::TooManyGroups.into());
    }
    for spec in &data.tag_specifications {
        if !TAGGED_AT_LAUNCH.contains(&spec.resource_type.as_str()) {
            return Err(Refused::TagResourceType(spec.resource_type.clone()).into());
        }
        let tags: Vec<Tag> =
            spec.tags.iter().map(|(key, value)| Tag { key: key.clone(), value: value.clone() }).collect();
        tags::validate(&tags)?;
        if tags.len() > tags::MAX_TAGS {
            return Err(Error::TagLimitExceeded);
        }
    }
    Ok(())
}

/// Which of a RunInstances request's values it set itself, where the decoded request cannot
/// tell an absent value from a default one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Given {
    /// `ImageId`.
    pub image_id: bool,
    /// `MetadataOptions.HttpTokens`.
    pub http_tokens: bool,
}

/// A RunInstances request launched from `version`: what the request set wins, the template
/// fills in the rest, and its tags come before the request's (a key in both takes the
/// request's value).
pub fn launch(
    version: &Version,
    mut run: super::instances::RunInstances,
    given: Given,
) -> super::instances::RunInstances {
    use super::security_groups::GroupRef;
    let data = &version.version.data;
    if !given.image_id {
        run.image_id = data.image_id.clone().unwrap_or_default();
    }
    run.instance_type = run.instance_type.or_else(|| data.instance_type.clone());
    run.key_name = run.key_name.or_else(|| data.key_name.clone());
    run.user_data = run.user_data.or_else(|| data.user_data.clone());
    if run.security_groups.is_empty() {
        run.security_groups = data
            .security_group_ids
            .iter()
            .cloned()
            .map(GroupRef::Id)
            .chain(data.security_groups.iter().cloned().map(GroupRef::Name))
            .collect();
    }
    if !given.http_tokens {
        run.tokens_required = data.http_tokens == Some(crate::store::HttpTokens::Required);
    }
    let from_template = data.tag_specifications.iter().map(|spec| TagSpecification {
        resource_type: Some(spec.resource_type.clone()),
        tags: spec.tags.iter().map(|(key, value)| Tag { key: key.clone(), value: value.clone() }).collect(),
    });
    run.tag_specifications = from_template.chain(run.tag_specifications).collect();
    run.launched_from = Some((version.template.id.clone(), version.version.version));
    run
}

/// The request's TagSpecifications for launches, as a version keeps them.
pub fn launch_tags(specs: &[TagSpecification]) -> Result<Vec<crate::store::TemplateTags>> {
    specs
        .iter()
        .map(|spec| {
            let resource_type = match spec.resource_type.as_deref() {
                None | Some("") => {
                    return Err(Error::InvalidParameterValue(super::Invalid::TagSpecificationWithoutType));
                }
                Some(t) => t.to_owned(),
            };
            let tags = spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
            Ok(crate::store::TemplateTags { resource_type, tags })
        })
        .collect()
}

/// DescribeLaunchTemplates' filters.
enum TemplateFilter {
    Name,
    TagKey,
    Tag(String),
}

impl FilterField<Template> for TemplateFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "launch-template-name" => TemplateFilter::Name,
            "tag-key" => TemplateFilter::TagKey,
            other => TemplateFilter::Tag(other.strip_prefix("tag:")?.to_owned()),
        })
    }

    fn candidates<'t>(&self, t: &'t Template) -> Vec<&'t str> {
        match self {
            TemplateFilter::Name => vec![t.row.name.as_str()],
            TemplateFilter::TagKey => t.tags.iter().map(|tag| tag.key.as_str()).collect(),
            TemplateFilter::Tag(key) => tag_values(&t.tags, key),
        }
    }
}

/// DescribeLaunchTemplateVersions' filters.
enum VersionFilter {
    ImageId,
    InstanceType,
    KeyName,
    IsDefault,
}

impl FilterField<Version> for VersionFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "image-id" => VersionFilter::ImageId,
            "instance-type" => VersionFilter::InstanceType,
            "key-name" => VersionFilter::KeyName,
            "is-default-version" => VersionFilter::IsDefault,
            _ => return None,
        })
    }

    fn candidates<'v>(&self, v: &'v Version) -> Vec<&'v str> {
        let data = &v.version.data;
        match self {
            VersionFilter::ImageId => data.image_id.as_deref().into_iter().collect(),
            VersionFilter::InstanceType => data.instance_type.as_deref().into_iter().collect(),
            VersionFilter::KeyName => data.key_name.as_deref().into_iter().collect(),
            VersionFilter::IsDefault => vec![if v.is_default() { "true" } else { "false" }],
        }
    }
}

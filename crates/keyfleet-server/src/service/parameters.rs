//! SSM Parameter Store (docs/aws-facts.md, "SSM Parameter Store"): String, StringList and
//! SecureString parameters with versions (the newest 100 kept), hierarchical paths, and
//! SecureString values sealed by [`MasterKey`] before they reach the store.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::envelope::MasterKey;
use super::parameter_filters::ParameterFilter;
use super::{Error, Result, SsmInvalid, now_ms};
use crate::common::page::{Limits, PageRequest};
use crate::store::{
    LabelOutcome, ParameterRow, ParameterTier, ParameterType, PutOutcome, Scope, Store, Tag, TagRemoval, WireName,
};

/// How often expired parameters are deleted.
pub const EXPIRY_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);
/// Versions kept per parameter.
pub const MAX_VERSIONS: i64 = 100;
/// The KMS key a SecureString uses when none is named.
pub const DEFAULT_KEY_ID: &str = "alias/aws/ssm";
const MAX_NAME_LEN: usize = 2048;
/// The longest value of any tier, in characters (what SSM's request validation allows).
const MAX_VALUE_LEN: usize = 32_768;
/// The longest Standard and Advanced values, in characters.
const MAX_STANDARD_LEN: usize = 4096;
const MAX_ADVANCED_LEN: usize = 8192;
const MAX_PATTERN_LEN: usize = 1024;
const MAX_LEVELS: usize = 15;

/// `PutParameter` input.
#[derive(Debug, Clone, Default)]
pub struct PutParameter {
    /// `Name`.
    pub name: String,
    /// `Value`; zeroized when dropped, since it may be a secret.
    pub value: Zeroizing<String>,
    /// `Type`; required when creating.
    pub kind: Option<String>,
    /// `Overwrite`.
    pub overwrite: bool,
    /// `Description`.
    pub description: Option<String>,
    /// `KeyId` for SecureString.
    pub key_id: Option<String>,
    /// `DataType`.
    pub data_type: Option<String>,
    /// `Tags`: set on a new parameter only.
    pub tags: Vec<Tag>,
    /// `Tier`: `Standard`, `Advanced` or `Intelligent-Tiering`.
    pub tier: Option<String>,
    /// `AllowedPattern`; absent keeps the parameter's, empty drops it.
    pub allowed_pattern: Option<String>,
    /// `Policies` (a JSON array); absent keeps the parameter's, `[]` drops them.
    pub policies: Option<String>,
}

/// A parameter as the API reports it.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// The name.
    pub name: String,
    /// String, StringList or SecureString.
    pub kind: ParameterType,
    /// The value: plaintext, or a SecureString's ciphertext (base64) unless decrypted.
    pub value: Zeroizing<String>,
    /// The version.
    pub version: i64,
    /// Milliseconds since the epoch.
    pub modified_ms: i64,
    /// `arn:aws:ssm:…:parameter/…`.
    pub arn: String,
    /// `text`.
    pub data_type: String,
    /// For SecureString.
    pub key_id: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// Who last wrote it.
    pub modified_by: String,
    /// `Standard` or `Advanced`.
    pub tier: ParameterTier,
    /// `AllowedPattern`.
    pub allowed_pattern: Option<String>,
    /// Its policies.
    pub policies: Vec<Policy>,
    /// The labels on this version (history only).
    pub labels: Vec<String>,
}

/// A parameter policy as DescribeParameters reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Expiration`, `ExpirationNotification` or `NoChangeNotification`.
    pub kind: PolicyKind,
    /// The policy's JSON, as given.
    pub text: String,
}

/// The Parameter Store operations.
pub struct Parameters {
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
}

impl Parameters {
    /// Creates the service.
    pub fn new(store: Arc<dyn Store>, master: Arc<MasterKey>) -> Self {
        Parameters { store, master }
    }

    /// `PutParameter`: returns the new version and its tier.
    pub async fn put(&self, scope: &Scope, caller_arn: &str, input: PutParameter) -> Result<(i64, ParameterTier)> {
        let name = validate_name(&input.name)?;
        // `x` and `/x` are one parameter: a put of either writes the one that exists.
        let name = self.stored_name(scope, &name).await?.unwrap_or(name);
        let characters = input.value.chars().count();
        if input.value.is_empty() || characters > MAX_VALUE_LEN {
            return Err(Error::SsmValidation(SsmInvalid::ValueLength(MAX_VALUE_LEN)));
        }
        if input.overwrite && !input.tags.is_empty() {
            return Err(Error::SsmValidation(SsmInvalid::TagsWithOverwrite));
        }
        validate_tags(&input.tags)?;
        let existing = self.store.parameter(scope, &name, None).await?;
        let policies = match input.policies.as_deref() {
            Some(text) => parse_policies(text)?,
            None => existing
                .as_ref()
                .and_then(|e| e.policies.as_deref())
                .map(parse_policies)
                .transpose()?
                .unwrap_or_default(),
        };
        let tier =
            resolve_tier(input.tier.as_deref(), existing.as_ref().map(|e| e.tier), characters, !policies.is_empty())?;
        let allowed_pattern = match input.allowed_pattern {
            Some(pattern) if pattern.is_empty() => None,
            Some(pattern) => Some(pattern),
            None => existing.as_ref().and_then(|e| e.allowed_pattern.clone()),
        };
        if let Some(pattern) = &allowed_pattern {
            check_pattern(pattern, &input.value)?;
        }
        let data_type = DataType::of(input.data_type.as_deref())?;
        let kind = match input.kind.as_deref() {
            Some(name) => ParameterType::parse(name).ok_or_else(|| Error::UnsupportedParameterType(name.to_owned()))?,
            None => match &existing {
                Some(existing) if input.overwrite => existing.kind,
                Some(_) => return Err(Error::ParameterAlreadyExists),
                None => {
                    return Err(Error::SsmValidation(SsmInvalid::TypeRequired));
                }
            },
        };
        // SSM checks an image id after answering, and keeps nothing when it names no image:
        // the put succeeds and the parameter stays as it was.
        if data_type == DataType::Ec2Image && super::images::find(&input.value).is_none() {
            return match &existing {
                Some(_) if !input.overwrite => Err(Error::ParameterAlreadyExists),
                Some(e) if e.kind != kind => Err(Error::ParameterTypeMismatch {
                    existing: e.kind.as_str().to_owned(),
                    requested: kind.as_str().to_owned(),
                }),
                _ => Ok((existing.map_or(1, |e| e.version + 1), tier)),
            };
        }
        let arn = arn(scope, &name);
        let (value, key_id) = if kind == ParameterType::SecureString {
            (
                self.master.seal(input.value.as_bytes(), &arn).map_err(Error::Secret)?,
                Some(input.key_id.unwrap_or_else(|| DEFAULT_KEY_ID.into())),
            )
        } else {
            (input.value.to_string(), None)
        };
        let row = ParameterRow {
            name,
            version: 0,
            kind,
            value,
            key_id,
            description: input.description,
            data_type: data_type.as_str().to_owned(),
            modified_ms: now_ms(),
            modified_by: caller_arn.to_owned(),
            tier,
            allowed_pattern,
            expires_ms: policies.iter().find_map(|p| match p.kind {
                PolicyKind::Expiration { at_ms } => Some(at_ms),
                _ => None,
            }),
            policies: (!policies.is_empty()).then(|| policies_json(&policies)),
            labels: Vec::new(),
        };
        match self.store.put_parameter(scope, &row, input.overwrite, MAX_VERSIONS).await? {
            PutOutcome::Stored(version) if input.tags.is_empty() => Ok((version, tier)),
            PutOutcome::Stored(version) => {
                let resource = [(tag_resource(&row.name), TAG_RESOURCE_TYPE.to_owned())];
                self.store.put_tags(scope, &resource, &input.tags, MAX_TAGS).await?;
                Ok((version, tier))
            }
            PutOutcome::Exists => Err(Error::ParameterAlreadyExists),
            PutOutcome::OldestLabelled(version) => {
                Err(Error::ParameterMaxVersionLimitExceeded { name: row.name, version })
            }
            PutOutcome::TypeMismatch(existing) => Err(Error::ParameterTypeMismatch {
                existing: existing.as_str().to_owned(),
                requested: row.kind.as_str().to_owned(),
            }),
        }
    }

    /// Deletes, every [`EXPIRY_SWEEP`], the parameters whose Expiration policy has passed (SSM
    /// too deletes them by a periodic scan, not at the exact time).
    pub fn spawn_expiry(self: &Arc<Self>) {
        let parameters = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(EXPIRY_SWEEP);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                // Ends with the service, as the server shuts down.
                let Some(parameters) = parameters.upgrade() else { return };
                if let Err(e) = parameters.expire(now_ms()).await {
                    tracing::warn!(error = %e, "parameter expiry failed; trying again");
                }
            }
        });
    }

    /// Deletes the parameters expired at `now`; how many.
    pub async fn expire(&self, now: i64) -> Result<usize> {
        let expired = self.store.expired_parameters(now).await?;
        for (scope, name) in &expired {
            if self.store.delete_if_expired(scope, name, now).await? {
                self.drop_tags(scope, name).await?;
            }
        }
        Ok(expired.len())
    }

    /// `GetParameter`: `name` may carry a `:version` or `:label` selector.
    pub async fn get(&self, scope: &Scope, name: &str, decrypt: bool) -> Result<Parameter> {
        let (name, selector) = split_selector(name);
        let name = self.stored_name(scope, &name).await?.unwrap_or(name);
        let version = match &selector {
            None => None,
            Some(Selector::Version(version)) => Some(*version),
            Some(Selector::Label(label)) => {
                Some(self.store.labelled_version(scope, &name, label).await?.ok_or(Error::ParameterNotFound)?)
            }
        };
        match self.store.parameter(scope, &name, version).await? {
            Some(row) => self.view(scope, row, decrypt),
            None if version.is_some() && self.store.parameter(scope, &name, None).await?.is_some() => {
                Err(Error::ParameterVersionNotFound { name, version: version.unwrap_or_default() })
            }
            None => Err(Error::ParameterNotFound),
        }
    }

    /// `LabelParameterVersion`: puts the labels on `version` (the latest when `None`); returns
    /// the labels refused by SSM's label rules (not put anywhere) and the version labelled.
    pub async fn label(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<i64>,
        labels: &[String],
    ) -> Result<(Vec<String>, i64)> {
        check_label_count(labels)?;
        let name = self.stored_name(scope, name).await?.ok_or(Error::ParameterNotFound)?;
        let version = match version {
            Some(version) => version,
            None => self.store.parameter(scope, &name, None).await?.ok_or(Error::ParameterNotFound)?.version,
        };
        let (valid, invalid): (Vec<String>, Vec<String>) = labels.iter().cloned().partition(|l| is_valid_label(l));
        match self.store.label_parameter(scope, &name, version, &valid, MAX_LABELS_PER_VERSION).await? {
            LabelOutcome::Labelled => Ok((invalid, version)),
            LabelOutcome::NoVersion => Err(Error::ParameterVersionNotFound { name, version }),
            LabelOutcome::TooMany => Err(Error::ParameterVersionLabelLimitExceeded),
        }
    }

    /// `UnlabelParameterVersion`: the labels removed from `version`, and those not on it.
    pub async fn unlabel(
        &self,
        scope: &Scope,
        name: &str,
        version: i64,
        labels: &[String],
    ) -> Result<(Vec<String>, Vec<String>)> {
        check_label_count(labels)?;
        let name = self.stored_name(scope, name).await?.ok_or(Error::ParameterNotFound)?;
        if self.store.parameter(scope, &name, Some(version)).await?.is_none() {
            return Err(Error::ParameterVersionNotFound { name, version });
        }
        let removed = self.store.unlabel_parameter(scope, &name, version, labels).await?;
        let invalid = labels.iter().filter(|l| !removed.contains(l)).cloned().collect();
        Ok((removed, invalid))
    }

    /// `GetParameters`: found parameters, and the names that were not.
    pub async fn get_many(
        &self,
        scope: &Scope,
        names: &[String],
        decrypt: bool,
    ) -> Result<(Vec<Parameter>, Vec<String>)> {
        check_batch(names)?;
        let (mut found, mut invalid) = (Vec::new(), Vec::new());
        for name in names {
            match self.get(scope, name, decrypt).await {
                Ok(p) => found.push(p),
                Err(Error::ParameterNotFound | Error::ParameterVersionNotFound { .. }) => invalid.push(name.clone()),
                Err(e) => return Err(e),
            }
        }
        Ok((found, invalid))
    }

    /// `GetParametersByPath`: direct children of `path`, or all descendants when recursive.
    pub async fn by_path(
        &self,
        scope: &Scope,
        path: &str,
        recursive: bool,
        decrypt: bool,
        filters: &[ParameterFilter],
        page: &PageRequest,
    ) -> Result<(Vec<Parameter>, Option<String>)> {
        if !path.starts_with('/') {
            return Err(Error::SsmValidation(SsmInvalid::PathNotAbsolute(path.to_owned())));
        }
        let prefix = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
        let under: Vec<ParameterRow> = self
            .store
            .parameters_with_prefix(scope, &prefix)
            .await?
            .into_iter()
            .filter(|r| recursive || !r.name.get(prefix.len()..).unwrap_or_default().contains('/'))
            .collect();
        let rows = self.filtered(scope, under, filters).await?;
        let (rows, next) = paginate(rows, page, 10)?;
        let views = rows.into_iter().map(|r| self.view(scope, r, decrypt)).collect::<Result<Vec<_>>>()?;
        Ok((views, next))
    }

    /// `DescribeParameters`: metadata of every parameter (values are never included).
    pub async fn describe(
        &self,
        scope: &Scope,
        filters: &[ParameterFilter],
        page: &PageRequest,
    ) -> Result<(Vec<Parameter>, Option<String>)> {
        let all = self.store.parameters_with_prefix(scope, "").await?;
        let rows = self.filtered(scope, all, filters).await?;
        let (rows, next) = paginate(rows, page, 50)?;
        rows.into_iter().map(|r| self.view(scope, r, false)).collect::<Result<Vec<_>>>().map(|v| (v, next))
    }

    /// `GetParameterHistory`: every kept version, oldest first.
    pub async fn history(
        &self,
        scope: &Scope,
        name: &str,
        decrypt: bool,
        page: &PageRequest,
    ) -> Result<(Vec<Parameter>, Option<String>)> {
        let name = self.stored_name(scope, name).await?.unwrap_or_else(|| name.to_owned());
        let rows = self.store.parameter_history(scope, &name).await?;
        if rows.is_empty() {
            return Err(Error::ParameterNotFound);
        }
        let (rows, next) = paginate(rows, page, 50)?;
        rows.into_iter().map(|r| self.view(scope, r, decrypt)).collect::<Result<Vec<_>>>().map(|v| (v, next))
    }

    /// `DeleteParameter`.
    pub async fn delete(&self, scope: &Scope, name: &str) -> Result<()> {
        let name = self.stored_name(scope, name).await?.ok_or(Error::ParameterNotFound)?;
        if !self.store.delete_parameter(scope, &name).await? {
            return Err(Error::ParameterNotFound);
        }
        self.drop_tags(scope, &name).await
    }

    /// `DeleteParameters`: deleted names, and the names that did not exist.
    pub async fn delete_many(&self, scope: &Scope, names: &[String]) -> Result<(Vec<String>, Vec<String>)> {
        check_batch(names)?;
        let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
        for name in names {
            let stored = self.stored_name(scope, name).await?.unwrap_or_else(|| name.clone());
            if self.store.delete_parameter(scope, &stored).await? {
                self.drop_tags(scope, &stored).await?;
                deleted.push(name.clone())
            } else {
                invalid.push(name.clone())
            }
        }
        Ok((deleted, invalid))
    }

    /// `AddTagsToResource`: sets tags on an existing parameter, at most 50 in all.
    pub async fn add_tags(&self, scope: &Scope, name: &str, tags: &[Tag]) -> Result<()> {
        validate_tags(tags)?;
        let name = self.tagged(scope, name).await?;
        let resource = [(tag_resource(&name), TAG_RESOURCE_TYPE.to_owned())];
        if self.store.put_tags(scope, &resource, tags, MAX_TAGS).await? { Ok(()) } else { Err(Error::SsmTooManyTags) }
    }

    /// `ListTagsForResource`: an existing parameter's tags, by key.
    pub async fn tags(&self, scope: &Scope, name: &str) -> Result<Vec<Tag>> {
        let name = self.tagged(scope, name).await?;
        Ok(self.store.resource_tags(scope, &tag_resource(&name)).await?)
    }

    /// `RemoveTagsFromResource`: removes the keys (absent ones are no error).
    pub async fn remove_tags(&self, scope: &Scope, name: &str, keys: &[String]) -> Result<()> {
        let name = self.tagged(scope, name).await?;
        let removals: Vec<TagRemoval> = keys.iter().map(|key| TagRemoval { key: key.clone(), value: None }).collect();
        if removals.is_empty() {
            return Ok(());
        }
        Ok(self.store.delete_tags(scope, &[tag_resource(&name)], &removals).await?)
    }

    /// The parameter a tagging call names must exist (`InvalidResourceId` otherwise): its
    /// stored name.
    async fn tagged(&self, scope: &Scope, name: &str) -> Result<String> {
        self.stored_name(scope, name).await?.ok_or(Error::SsmInvalidResourceId)
    }

    /// The stored name of the parameter `name` designates: itself, or for a name at the
    /// top of the hierarchy the same name with or without its one leading slash, which AWS
    /// does not count as part of the identity (both have one ARN). `None` when neither exists.
    async fn stored_name(&self, scope: &Scope, name: &str) -> Result<Option<String>> {
        if self.store.parameter(scope, name, None).await?.is_some() {
            return Ok(Some(name.to_owned()));
        }
        let other = match name.strip_prefix('/') {
            Some(bare) if !bare.contains('/') => bare.to_owned(),
            Some(_) => return Ok(None),
            None if !name.contains('/') => format!("/{name}"),
            None => return Ok(None),
        };
        Ok(self.store.parameter(scope, &other, None).await?.map(|_| other))
    }

    /// The parameters that pass every filter: for a `Label` filter, the version carrying one
    /// of its labels instead of the latest (none: the parameter is left out); tags are read
    /// only when a filter asks for them.
    async fn filtered(
        &self,
        scope: &Scope,
        rows: Vec<ParameterRow>,
        filters: &[ParameterFilter],
    ) -> Result<Vec<ParameterRow>> {
        let labels: Vec<&String> = filters.iter().filter_map(ParameterFilter::labels).flatten().collect();
        let reads_tags = filters.iter().any(ParameterFilter::reads_tags);
        let mut passed = Vec::new();
        for row in rows {
            let row = match labels.is_empty() {
                true => row,
                false => match self.labelled(scope, &row.name, &labels).await? {
                    Some(version) => version,
                    None => continue,
                },
            };
            let tags = match reads_tags {
                true => self.store.resource_tags(scope, &tag_resource(&row.name)).await?,
                false => Vec::new(),
            };
            if filters.iter().all(|f| f.matches(&row, &tags)) {
                passed.push(row);
            }
        }
        Ok(passed)
    }

    /// The version of `name` that carries the first of `labels` it has.
    async fn labelled(&self, scope: &Scope, name: &str, labels: &[&String]) -> Result<Option<ParameterRow>> {
        for label in labels {
            if let Some(version) = self.store.labelled_version(scope, name, label).await? {
                return Ok(self.store.parameter(scope, name, Some(version)).await?);
            }
        }
        Ok(None)
    }

    /// A deleted parameter's tags go with it, so that a new parameter of the name starts bare.
    async fn drop_tags(&self, scope: &Scope, name: &str) -> Result<()> {
        let all: Vec<TagRemoval> = self
            .store
            .resource_tags(scope, &tag_resource(name))
            .await?
            .into_iter()
            .map(|t| TagRemoval { key: t.key, value: None })
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        Ok(self.store.delete_tags(scope, &[tag_resource(name)], &all).await?)
    }

    fn view(&self, scope: &Scope, row: ParameterRow, decrypt: bool) -> Result<Parameter> {
        let arn = arn(scope, &row.name);
        let value = if decrypt && row.kind == ParameterType::SecureString {
            let plain = self.master.open(&row.value, &arn).map_err(Error::Secret)?;
            Zeroizing::new(String::from_utf8_lossy(&plain).into_owned())
        } else {
            Zeroizing::new(row.value)
        };
        Ok(Parameter {
            name: row.name,
            kind: row.kind,
            value,
            version: row.version,
            modified_ms: row.modified_ms,
            arn,
            data_type: row.data_type,
            key_id: row.key_id,
            description: row.description,
            modified_by: row.modified_by,
            tier: row.tier,
            allowed_pattern: row.allowed_pattern,
            // Stored only after they parsed: a failure here is a corrupt row, shown as none.
            policies: row.policies.as_deref().and_then(|p| parse_policies(p).ok()).unwrap_or_default(),
            labels: row.labels,
        })
    }
}

/// A parameter carries at most this many tags.
pub const MAX_TAGS: usize = 50;
/// SSM tag keys are 1–128 characters, values up to 256, both of letters, spaces, digits and
/// `_.:/=+-@` (the model's `TagKey` and `TagValue`).
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
/// Parameter tags share EC2's tags table under this resource type and a prefixed id, which
/// no EC2 id can take.
const TAG_RESOURCE_TYPE: &str = "ssm-parameter";

fn tag_resource(name: &str) -> String {
    format!("{TAG_RESOURCE_TYPE}:{name}")
}

/// SSM's tag rules: the model's lengths and characters, and no `aws:` keys.
pub fn validate_tags(tags: &[Tag]) -> Result<()> {
    let allowed = |text: &str| text.chars().all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c));
    for (tag, position) in tags.iter().zip(1usize..) {
        let key_chars = tag.key.chars().count();
        if key_chars == 0 || key_chars > MAX_TAG_KEY || !allowed(&tag.key) {
            return Err(Error::SsmValidation(SsmInvalid::TagKey { position }));
        }
        if tag.value.chars().count() > MAX_TAG_VALUE || !allowed(&tag.value) {
            return Err(Error::SsmValidation(SsmInvalid::TagValue { position }));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::SsmValidation(SsmInvalid::TagKeyReserved(tag.key.clone())));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::SsmTooManyTags);
    }
    Ok(())
}

/// The name a reference stands for: an ARN of this scope's parameter (`arn:aws:ssm:REGION:
/// ACCOUNT:parameter/NAME`, which GetParameter, GetParameters and GetParameterHistory take)
/// becomes its name, a name (with any `:selector`) stays as it is. A nested name gets back
/// the leading slash its ARN drops; a top-level one is found with or without it.
pub fn name_of_reference(scope: &Scope, reference: &str) -> String {
    let prefix = format!("arn:aws:ssm:{}:{}:parameter/", scope.region, scope.account);
    match reference.strip_prefix(&prefix) {
        Some(rest) if rest.split(':').next().is_some_and(|name| name.contains('/')) => format!("/{rest}"),
        Some(rest) => rest.to_owned(),
        None => reference.to_owned(),
    }
}

/// `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`.
pub fn arn(scope: &Scope, name: &str) -> String {
    format!("arn:aws:ssm:{}:{}:parameter/{}", scope.region, scope.account, name.trim_start_matches('/'))
}

/// PutParameter's naming rules (SSM API reference, PutParameter, Name): the name as it will be stored, surrounding
/// white space trimmed. Whatever authorizes a PutParameter must check this name, not the raw one.
pub fn validate_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let invalid = |why| Err(Error::SsmValidation(why));
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return invalid(SsmInvalid::NameLength(MAX_NAME_LEN));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')) {
        return invalid(SsmInvalid::NameCharacters);
    }
    let lower = name.trim_start_matches('/').to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return invalid(SsmInvalid::NameReservedPrefix);
    }
    if name.contains('/') && !name.starts_with('/') {
        return invalid(SsmInvalid::NameHierarchyWithoutSlash);
    }
    if name.split('/').filter(|s| !s.is_empty()).count() > MAX_LEVELS {
        return Err(Error::SsmHierarchyTooDeep);
    }
    Ok(name.to_owned())
}

/// The tier a put gives the parameter: as asked, never from Advanced back to Standard, and
/// `Intelligent-Tiering` as the value and policies need (an Advanced parameter stays Advanced).
fn resolve_tier(
    asked: Option<&str>,
    existing: Option<ParameterTier>,
    characters: usize,
    has_policies: bool,
) -> Result<ParameterTier> {
    let advanced = existing == Some(ParameterTier::Advanced);
    let invalid = |why| Err(Error::SsmValidation(why));
    let tier = match asked {
        None if advanced => ParameterTier::Advanced,
        None => ParameterTier::Standard,
        Some("Standard") if advanced => return invalid(SsmInvalid::TierDowngrade),
        Some("Standard") => ParameterTier::Standard,
        Some("Advanced") => ParameterTier::Advanced,
        Some("Intelligent-Tiering") if advanced || has_policies || characters > MAX_STANDARD_LEN => {
            ParameterTier::Advanced
        }
        Some("Intelligent-Tiering") => ParameterTier::Standard,
        Some(other) => return invalid(SsmInvalid::TierValue(other.to_owned())),
    };
    match tier {
        ParameterTier::Standard if has_policies => invalid(SsmInvalid::PoliciesNeedAdvanced),
        ParameterTier::Standard if characters > MAX_STANDARD_LEN => invalid(SsmInvalid::StandardValueTooLarge),
        ParameterTier::Advanced if characters > MAX_ADVANCED_LEN => invalid(SsmInvalid::AdvancedValueTooLarge),
        tier => Ok(tier),
    }
}

/// What a parameter policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Deletes the parameter at this time (milliseconds).
    Expiration {
        /// When.
        at_ms: i64,
    },
    /// Notifies before the expiration (EventBridge; keyfleet keeps and reports it only).
    ExpirationNotification,
    /// Notifies when the parameter has not changed for a while (kept and reported only).
    NoChangeNotification,
}

impl PolicyKind {
    /// Its `Type`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Expiration { .. } => "Expiration",
            PolicyKind::ExpirationNotification => "ExpirationNotification",
            PolicyKind::NoChangeNotification => "NoChangeNotification",
        }
    }
}

/// Policies on one parameter at most.
const MAX_POLICIES: usize = 10;
const MAX_POLICIES_LEN: usize = 4096;

/// `Policies`: a JSON array of `{"Type", "Version": "1.0", "Attributes"}`, at most one
/// Expiration. The User Guide's forms: Expiration `Timestamp` (ISO 8601 with a zone), and
/// `Before`/`After` with `Unit` `Days` or `Hours` for the notifications.
fn parse_policies(text: &str) -> Result<Vec<Policy>> {
    use serde_json::Value;
    let attribute = |why: String| Error::ParameterPolicy { code: "InvalidPolicyAttributeException", message: why };
    if text.chars().count() > MAX_POLICIES_LEN {
        return Err(attribute(format!("Policies are at most {MAX_POLICIES_LEN} characters.")));
    }
    let parsed: Value = serde_json::from_str(text).map_err(|_| attribute("Policies must be a JSON array.".into()))?;
    let items = parsed.as_array().ok_or_else(|| attribute("Policies must be a JSON array.".into()))?;
    if items.len() > MAX_POLICIES {
        return Err(Error::ParameterPolicy {
            code: "PoliciesLimitExceededException",
            message: format!("A parameter can have at most {MAX_POLICIES} policies."),
        });
    }
    let mut policies = Vec::new();
    // `[{}]` is how the User Guide removes every policy.
    for item in items.iter().filter(|item| item.as_object().is_none_or(|o| !o.is_empty())) {
        let field = |name: &str| item.get(name).and_then(Value::as_str);
        let attribute_of = |name: &str| item.get("Attributes").and_then(|a| a.get(name)).and_then(Value::as_str);
        let kind = match field("Type") {
            Some("Expiration") => {
                let stamp = attribute_of("Timestamp").unwrap_or_default();
                let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).map_err(
                    |_| attribute(format!("The Expiration Timestamp {stamp:?} is not an ISO 8601 time with a zone.")),
                )?;
                PolicyKind::Expiration {
                    at_ms: i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
                }
            }
            Some(kind @ ("ExpirationNotification" | "NoChangeNotification")) => {
                let key = if kind == "ExpirationNotification" { "Before" } else { "After" };
                let amount = attribute_of(key).and_then(|n| n.parse::<u32>().ok());
                let unit = attribute_of("Unit");
                if amount.is_none() || !matches!(unit, Some("Days" | "Hours")) {
                    return Err(attribute(format!("{kind} takes {key} (a number) and Unit (Days or Hours).")));
                }
                if kind == "ExpirationNotification" {
                    PolicyKind::ExpirationNotification
                } else {
                    PolicyKind::NoChangeNotification
                }
            }
            other => {
                return Err(Error::ParameterPolicy {
                    code: "InvalidPolicyTypeException",
                    message: format!(
                        "The policy type {} is not supported: Expiration, ExpirationNotification or NoChangeNotification.",
                        other.unwrap_or("(none)")
                    ),
                });
            }
        };
        if field("Version") != Some("1.0") {
            return Err(attribute("A policy's Version is \"1.0\".".into()));
        }
        policies.push(Policy { kind, text: item.to_string() });
    }
    if policies.iter().filter(|p| matches!(p.kind, PolicyKind::Expiration { .. })).count() > 1 {
        return Err(Error::ParameterPolicy {
            code: "IncompatiblePolicyException",
            message: "A parameter can have one Expiration policy.".into(),
        });
    }
    Ok(policies)
}

/// Policies as stored: a JSON array of the policies' own JSON.
fn policies_json(policies: &[Policy]) -> String {
    format!("[{}]", policies.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(","))
}

/// The whole value must match `AllowedPattern` (SSM's own example refuses `10,000` against
/// `\d{1,4}`). The regex engine matches in linear time, with its compiled size capped.
fn check_pattern(pattern: &str, value: &str) -> Result<()> {
    if pattern.chars().count() > MAX_PATTERN_LEN {
        return Err(Error::SsmValidation(SsmInvalid::AllowedPatternLength));
    }
    // Alone first: `a)|(b` is no pattern, though anchored it would compile.
    let build = |text: &str| regex::RegexBuilder::new(text).size_limit(1 << 20).dfa_size_limit(1 << 20).build();
    build(pattern).map_err(|e| {
        Error::InvalidAllowedPattern(e.to_string().lines().last().unwrap_or_default().trim().to_owned())
    })?;
    let whole = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| {
            Error::InvalidAllowedPattern(e.to_string().lines().last().unwrap_or_default().trim().to_owned())
        })?;
    match whole.is_match(value) {
        true => Ok(()),
        false => Err(Error::ParameterPatternMismatch(pattern.to_owned())),
    }
}

/// `DataType`: what a parameter's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataType {
    Text,
    /// An AMI id, checked against the images.
    Ec2Image,
    /// An integration's settings.
    SsmIntegration,
}

impl DataType {
    fn of(given: Option<&str>) -> Result<DataType> {
        match given {
            None | Some("text") => Ok(DataType::Text),
            Some("aws:ec2:image") => Ok(DataType::Ec2Image),
            Some("aws:ssm:integration") => Ok(DataType::SsmIntegration),
            Some(other) => Err(Error::SsmValidation(SsmInvalid::DataType(other.to_owned()))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            DataType::Text => "text",
            DataType::Ec2Image => "aws:ec2:image",
            DataType::SsmIntegration => "aws:ssm:integration",
        }
    }
}

/// What follows a parameter name's last `:`: a version number or a label.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Version(i64),
    Label(String),
}

/// `name:3` selects version 3, `name:prod` the version labelled `prod` (labels never begin
/// with a digit).
fn split_selector(name: &str) -> (String, Option<Selector>) {
    match name.rsplit_once(':') {
        Some((base, selector)) => {
            let selector = match selector.parse::<i64>() {
                Ok(version) => Selector::Version(version),
                Err(_) => Selector::Label(selector.to_owned()),
            };
            (base.to_owned(), Some(selector))
        }
        None => (name.to_owned(), None),
    }
}

/// Labels on one version at most.
pub const MAX_LABELS_PER_VERSION: usize = 10;
const MAX_LABEL_LEN: usize = 100;

/// SSM's label rules: 1–100 letters, digits, `.`, `-` and `_`, not beginning with a digit,
/// `aws` or `ssm` (in any case). A label that breaks them is returned, not refused.
fn is_valid_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

/// LabelParameterVersion and UnlabelParameterVersion take 1 to 10 labels.
fn check_label_count(labels: &[String]) -> Result<()> {
    if labels.is_empty() || labels.len() > MAX_LABELS_PER_VERSION {
        return Err(Error::SsmValidation(SsmInvalid::LabelCount));
    }
    Ok(())
}

/// GetParameters and DeleteParameters take 1 to 10 names.
pub fn check_batch(names: &[String]) -> Result<()> {
    if names.is_empty() || names.len() > 10 {
        return Err(Error::SsmValidation(SsmInvalid::BatchSize));
    }
    Ok(())
}

/// SSM pages: `MaxResults` from 1 to `limit` (10 by path, 50 otherwise), `limit` without it.
fn paginate(rows: Vec<ParameterRow>, page: &PageRequest, limit: u32) -> Result<(Vec<ParameterRow>, Option<String>)> {
    let limits = Limits { min: 1, max: limit, default: Some(limit), cuts_larger: false };
    Ok(page.check(&limits).map_err(Error::SsmPage)?.take(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_the_user_guide_writes_them() {
        let policies = parse_policies(
            r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-07-07T22:30:00-05:00"}},
                {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}}]"#,
        )
        .unwrap();
        assert_eq!(policies[0].kind, PolicyKind::Expiration { at_ms: 1_909_711_800_000 });
        assert_eq!(policies[1].kind, PolicyKind::ExpirationNotification);
        let code = |text: &str| match parse_policies(text) {
            Err(Error::ParameterPolicy { code, .. }) => code,
            _ => "accepted",
        };
        assert_eq!(code(r#"[{"Type":"Archive","Version":"1.0"}]"#), "InvalidPolicyTypeException");
        assert_eq!(
            code(r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"soon"}}]"#),
            "InvalidPolicyAttributeException"
        );
        assert_eq!(
            code(r#"[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"3","Unit":"Weeks"}}]"#),
            "InvalidPolicyAttributeException"
        );
        let twice = r#"{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}}"#;
        assert_eq!(code(&format!("[{twice},{twice}]")), "IncompatiblePolicyException");
        assert_eq!(code(&format!("[{}]", [twice; 11].join(","))), "PoliciesLimitExceededException");
        assert_eq!(code("{}"), "InvalidPolicyAttributeException");
        assert_eq!(parse_policies("[]").unwrap(), Vec::new());
        assert_eq!(parse_policies("[{}]").unwrap(), Vec::new(), "the User Guide's way to remove them");
    }

    #[test]
    fn tiers_follow_value_size_and_policies_and_never_go_back() {
        let tier = |asked, existing, characters, policies| resolve_tier(asked, existing, characters, policies).ok();
        assert_eq!(tier(None, None, 10, false), Some(ParameterTier::Standard));
        assert_eq!(tier(None, None, 5000, false), None);
        assert_eq!(tier(Some("Intelligent-Tiering"), None, 5000, false), Some(ParameterTier::Advanced));
        assert_eq!(tier(Some("Intelligent-Tiering"), None, 10, true), Some(ParameterTier::Advanced));
        assert_eq!(
            tier(Some("Intelligent-Tiering"), Some(ParameterTier::Advanced), 10, false),
            Some(ParameterTier::Advanced)
        );
        assert_eq!(tier(Some("Standard"), Some(ParameterTier::Advanced), 10, false), None);
        assert_eq!(tier(None, None, 10, true), None, "policies need Advanced");
        assert_eq!(tier(Some("Advanced"), None, 9000, false), None);
    }

    #[test]
    fn allowed_patterns_match_the_whole_value() {
        assert!(check_pattern(r"\d{1,4}", "100").is_ok());
        assert!(matches!(check_pattern(r"\d{1,4}", "10,000"), Err(Error::ParameterPatternMismatch(_))));
        assert!(matches!(check_pattern("(?<=a)b", "b"), Err(Error::InvalidAllowedPattern(_))));
        assert!(check_pattern(&"a".repeat(1025), "a").is_err());
        assert!(matches!(check_pattern("a)|(b", "abc"), Err(Error::InvalidAllowedPattern(_))), "no escape from ^…$");
    }
}

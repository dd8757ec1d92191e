//! Tags: validation shared by every taggable resource, `TagSpecification` on create, and
//! `CreateTags` / `DeleteTags` / `DescribeTags` (key pairs are the taggable resource so far).

use std::sync::Arc;

use super::filter::{Filter, FilterField, Typed, all_match, typed};
use super::{Error, Invalid, Result};
use crate::common::ids;
use crate::common::page::{Limits, PageRequest};
use crate::store::{InstanceState, KeyPairQuery, ResourceTag, Scope, Store, Tag, TagRemoval, VolumeLife};

/// Most user tags a resource may carry (tags starting `aws:` don't count).
pub const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// A decoded `TagSpecification.N`.
#[derive(Debug, Clone, Default)]
pub struct TagSpecification {
    /// `ResourceType`, which must name the resource the operation creates.
    pub resource_type: Option<String>,
    /// Its `Tag.M` entries.
    pub tags: Vec<Tag>,
}

/// Checks tag keys and values against EC2's rules.
pub fn validate(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::TagLimitExceeded);
    }
    for tag in tags {
        if tag.key.is_empty() {
            return Err(Error::InvalidParameterValue(Invalid::TagKeyEmpty));
        }
        if is_reserved(&tag.key) {
            return Err(Error::InvalidParameterValue(Invalid::TagKeyReserved(tag.key.clone())));
        }
        if tag.key.chars().chain(tag.value.chars()).any(char::is_control) {
            return Err(Error::InvalidParameterValue(Invalid::TagControlCharacters));
        }
        if tag.key.chars().count() > MAX_KEY_CHARS {
            return Err(Error::InvalidParameterValue(Invalid::TagKeyTooLong(MAX_KEY_CHARS)));
        }
        if tag.value.chars().count() > MAX_VALUE_CHARS {
            return Err(Error::InvalidParameterValue(Invalid::TagValueTooLong(MAX_VALUE_CHARS)));
        }
    }
    Ok(())
}

/// `aws:` keys are AWS's own, whatever their case.
fn is_reserved(key: &str) -> bool {
    key.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
}

/// The tags as a resource gets them when a key is given more than once: its last value.
pub fn last_of_each_key(given: impl IntoIterator<Item = Tag>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    for tag in given {
        tags.retain(|t| t.key != tag.key);
        tags.push(tag);
    }
    tags
}

/// The resource types of EC2's tags.
const EC2_RESOURCE_TYPES: [&str; 5] = ["key-pair", "instance", "security-group", "volume", "launch-template"];

/// The tags that `TagSpecification`s put on a new resource of `resource_type`.
pub fn from_specifications(specs: &[TagSpecification], resource_type: &str) -> Result<Vec<Tag>> {
    let mut tags: Vec<Tag> = Vec::new();
    for spec in specs {
        match spec.resource_type.as_deref() {
            None | Some("") => {
                return Err(Error::InvalidParameterValue(Invalid::TagSpecificationWithoutType));
            }
            Some(t) if t != resource_type => {
                return Err(Error::InvalidParameterValue(Invalid::TagSpecificationType(t.to_owned())));
            }
            Some(_) => {}
        }
        if spec.tags.is_empty() {
            return Err(Error::InvalidParameterValue(Invalid::TagSpecificationWithoutTags));
        }
        for tag in &spec.tags {
            // A later duplicate key overwrites, as CreateTags does.
            tags.retain(|t| t.key != tag.key);
            tags.push(tag.clone());
        }
    }
    validate(&tags)?;
    tags.sort();
    Ok(tags)
}

/// The tag operations.
pub struct Tags {
    store: Arc<dyn Store>,
}

/// `DescribeTags` pages: 5–1000 a page, everything without `MaxResults`.
const PAGES: Limits = Limits { min: 5, max: 1000, default: None, cuts_larger: false };

impl Tags {
    /// Creates the service over a store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Tags { store }
    }

    /// `CreateTags`: sets (or overwrites) tags on existing resources.
    pub async fn create(&self, scope: &Scope, resource_ids: &[String], tags: &[Tag]) -> Result<()> {
        if resource_ids.is_empty() {
            return Err(Error::MissingParameter("resourceIdSet"));
        }
        if tags.is_empty() {
            return Err(Error::MissingParameter("tagSet"));
        }
        validate(tags)?;
        let resources = self.existing_resources(scope, resource_ids).await?;
        if self.store.put_tags(scope, &resources, tags, MAX_TAGS).await? {
            Ok(())
        } else {
            Err(Error::TagLimitExceeded)
        }
    }

    /// `DeleteTags`: removes the named tags (or all of them) from resources.
    pub async fn delete(&self, scope: &Scope, resource_ids: &[String], removals: &[TagRemoval]) -> Result<()> {
        if resource_ids.is_empty() {
            return Err(Error::MissingParameter("resourceIdSet"));
        }
        // AWS's own tags (`aws:autoscaling:groupName`, …) stay as long as the resource does.
        if let Some(reserved) = removals.iter().find(|r| is_reserved(&r.key)) {
            return Err(Error::InvalidParameterValue(Invalid::TagKeyReserved(reserved.key.clone())));
        }
        self.existing_resources(scope, resource_ids).await?;
        Ok(self.store.delete_tags(scope, resource_ids, removals).await?)
    }

    /// `DescribeTags`: the scope's tags that pass every filter, a page at a time.
    pub async fn describe(
        &self,
        scope: &Scope,
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<(Vec<ResourceTag>, Option<String>)> {
        let filters: Vec<Typed<TagFilter>> = typed(filters)?;
        let page = page.check(&PAGES).map_err(Error::Ec2Page)?;
        // The tags table also holds other services' tags (Parameter Store's); EC2 lists its own.
        let matching: Vec<ResourceTag> = self
            .store
            .tags(scope)
            .await?
            .into_iter()
            .filter(|t| EC2_RESOURCE_TYPES.contains(&t.resource_type.as_str()) && all_match(&filters, t))
            .collect();
        Ok(page.take(matching))
    }

    /// Checks every id and returns (id, resource type) pairs for the store: key pairs,
    /// instances and security groups are taggable; any other id is not one keyfleet has.
    async fn existing_resources(&self, scope: &Scope, resource_ids: &[String]) -> Result<Vec<(String, String)>> {
        let of_kind = |prefix: &str| -> Vec<String> {
            resource_ids.iter().filter(|id| id.starts_with(&format!("{prefix}-"))).cloned().collect()
        };
        let (instance_ids, group_ids, volume_ids) = (of_kind("i"), of_kind("sg"), of_kind("vol"));
        let template_ids = of_kind("lt");
        let key_pair_ids: Vec<String> = resource_ids
            .iter()
            .filter(|id| ![&instance_ids, &group_ids, &volume_ids, &template_ids].iter().any(|kind| kind.contains(id)))
            .cloned()
            .collect();
        if let Some(bad) = instance_ids.iter().find(|id| !ids::is_well_formed(id, "i")) {
            return Err(Error::InstanceIdMalformed(bad.clone()));
        }
        if let Some(bad) = key_pair_ids.iter().chain(&group_ids).chain(&volume_ids).chain(&template_ids).find(|id| {
            let prefix = ["sg", "vol", "lt"].into_iter().find(|p| id.starts_with(&format!("{p}-"))).unwrap_or("key");
            !ids::is_well_formed(id, prefix)
        }) {
            return Err(Error::InvalidId(bad.clone()));
        }
        if !key_pair_ids.is_empty() {
            let query = KeyPairQuery { names: Vec::new(), ids: key_pair_ids.clone() };
            let found = self.store.key_pairs(scope, &query).await?;
            if let Some(missing) = key_pair_ids.iter().find(|id| !found.iter().any(|k| &k.id == *id)) {
                return Err(Error::KeyPairIdNotFound(missing.clone()));
            }
        }
        if !instance_ids.is_empty() {
            let found = self.store.instances(scope, &instance_ids).await?;
            let missing: Vec<String> =
                instance_ids.iter().filter(|id| !found.iter().any(|r| &r.id == *id)).cloned().collect();
            if !missing.is_empty() {
                return Err(Error::InstanceNotFound(missing));
            }
        }
        if !group_ids.is_empty() {
            // The default group exists from the start, even before its first use stores it.
            let found = self.store.security_groups(scope).await?;
            let default = super::security_groups::default_group_id(scope);
            if let Some(missing) = group_ids.iter().find(|id| **id != default && !found.iter().any(|g| &g.id == *id)) {
                return Err(Error::SecurityGroupNotFound(missing.clone()));
            }
        }
        if !volume_ids.is_empty() {
            let live = self.store.instances(scope, &[]).await?;
            // A volume kept after its instance takes tags as an attached one does.
            let exists = |id: &&String| {
                live.iter().any(|r| {
                    &r.volume_id == *id && (r.state != InstanceState::Terminated || r.volume_life == VolumeLife::Keep)
                })
            };
            if let Some(missing) = volume_ids.iter().find(|id| !exists(id)) {
                return Err(Error::VolumeNotFound(missing.clone()));
            }
        }
        if !template_ids.is_empty() {
            let found = self.store.launch_templates(scope).await?;
            if let Some(missing) = template_ids.iter().find(|id| !found.iter().any(|t| &t.id == *id)) {
                return Err(super::launch_templates::Refused::IdNotFound(missing.clone()).into());
            }
        }
        let kind = |id: &String| {
            if template_ids.contains(id) {
                "launch-template"
            } else if instance_ids.contains(id) {
                "instance"
            } else if volume_ids.contains(id) {
                "volume"
            } else if group_ids.contains(id) {
                "security-group"
            } else {
                "key-pair"
            }
        };
        Ok(resource_ids.iter().map(|id| (id.clone(), kind(id).to_owned())).collect())
    }
}

/// DescribeTags' filters.
enum TagFilter {
    Key,
    Value,
    ResourceId,
    ResourceType,
    /// `tag:KEY`: the tag with this key, by its value.
    Tag(String),
}

impl FilterField<ResourceTag> for TagFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "key" => TagFilter::Key,
            "value" => TagFilter::Value,
            "resource-id" => TagFilter::ResourceId,
            "resource-type" => TagFilter::ResourceType,
            other => TagFilter::Tag(other.strip_prefix("tag:")?.to_owned()),
        })
    }

    fn candidates<'r>(&self, t: &'r ResourceTag) -> Vec<&'r str> {
        match self {
            TagFilter::Key => vec![&t.tag.key],
            TagFilter::Value => vec![&t.tag.value],
            TagFilter::ResourceId => vec![&t.resource_id],
            TagFilter::ResourceType => vec![&t.resource_type],
            TagFilter::Tag(key) if *key == t.tag.key => vec![&t.tag.value],
            TagFilter::Tag(_) => Vec::new(),
        }
    }
}

//! Key pairs as EC2 keeps them: `CreateKeyPair`, `ImportKeyPair`, `DescribeKeyPairs` and
//! `DeleteKeyPair`. The private key of a created pair exists only in the returned
//! [`CreatedKeyPair`]; the store sees the public half.

use std::sync::Arc;

use keyfleet_keys::{KeyFormat, KeyType, PrivateKey, fingerprint, generate};
use zeroize::Zeroizing;

use super::filter::{Filter, FilterField, Typed, all_match, tag_values, typed};
use super::tags::{self, TagSpecification};
use super::{Error, Invalid, Result, now_ms};
use crate::common::ids;
use crate::store::{KeyPairQuery, KeyPairRef, KeyPairRow, Scope, Store, StoreError, Tag, UnitOfWork};

/// AWS's default quota of key pairs per account and region.
pub const DEFAULT_QUOTA: u32 = 5000;
const MAX_NAME_LEN: usize = 255;

/// `CreateKeyPair` input.
#[derive(Debug, Clone)]
pub struct CreateKeyPair {
    /// `KeyName`.
    pub name: String,
    /// `KeyType` (default `rsa`).
    pub key_type: KeyType,
    /// `KeyFormat` (default `pem`).
    pub format: KeyFormat,
    /// `TagSpecification.N`.
    pub tag_specifications: Vec<TagSpecification>,
}

/// `ImportKeyPair` input.
#[derive(Debug, Clone)]
pub struct ImportKeyPair {
    /// `KeyName`.
    pub name: String,
    /// `PublicKeyMaterial`, already base64-decoded.
    pub material: Vec<u8>,
    /// `TagSpecification.N`.
    pub tag_specifications: Vec<TagSpecification>,
}

/// `DescribeKeyPairs` input.
#[derive(Debug, Clone, Default)]
pub struct DescribeKeyPairs {
    /// `KeyName.N`: each must exist.
    pub names: Vec<String>,
    /// `KeyPairId.N`: each must exist.
    pub ids: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
    /// `IncludePublicKey`.
    pub include_public_key: bool,
}

/// A key pair as `DescribeKeyPairs` and friends report it.
#[derive(Debug, Clone)]
pub struct KeyPairInfo {
    /// `key-…`.
    pub id: String,
    /// The name.
    pub name: String,
    /// `rsa` or `ed25519`.
    pub key_type: KeyType,
    /// AWS's fingerprint.
    pub fingerprint: String,
    /// `<alg> <base64> <name>` when asked for.
    pub public_key: Option<String>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// Tags, by key.
    pub tags: Vec<Tag>,
}

/// The one response that carries a private key.
pub struct CreatedKeyPair {
    /// The stored key pair.
    pub info: KeyPairInfo,
    /// The private key text; zeroized when dropped.
    pub material: Zeroizing<String>,
}

/// The key pair operations.
pub struct KeyPairs {
    store: Arc<dyn Store>,
    quota: u32,
    rsa_pool: Option<super::key_pool::KeyPool>,
}

impl KeyPairs {
    /// Creates the service with a per-(account, region) quota.
    pub fn new(store: Arc<dyn Store>, quota: u32, rsa_pool: Option<super::key_pool::KeyPool>) -> Self {
        KeyPairs { store, quota, rsa_pool }
    }

    /// The RSA pool's counters, if there is a pool.
    pub fn rsa_pool_stats(&self) -> Option<super::key_pool::PoolStats> {
        self.rsa_pool.as_ref().map(super::key_pool::KeyPool::stats)
    }

    /// A new key: Ed25519 at once (microseconds); RSA from the pool, or generated on a
    /// blocking thread (tens of milliseconds) when the pool is empty or off.
    async fn new_key(&self, key_type: KeyType) -> Result<PrivateKey> {
        if key_type == KeyType::Ed25519 {
            return Ok(generate::generate(key_type)?);
        }
        if let Some(key) = self.rsa_pool.as_ref().and_then(super::key_pool::KeyPool::take) {
            return Ok(key);
        }
        tokio::task::spawn_blocking(move || generate::generate(key_type))
            .await
            .map_err(|e| Error::Encode(keyfleet_keys::EncodeError::Der(e.to_string())))?
            .map_err(Error::from)
    }

    /// `CreateKeyPair`: generates a key, stores its public half, returns the private key once.
    pub async fn create(&self, work: &UnitOfWork, scope: &Scope, input: CreateKeyPair) -> Result<CreatedKeyPair> {
        validate_name(&input.name)?;
        let tags = tags::from_specifications(&input.tag_specifications, "key-pair")?;
        let key = self.new_key(input.key_type).await?;
        let material = key.to_material(input.format, &input.name)?;
        let row = self.row_for(&input.name, &key, fingerprint::of_created(&key)?, tags)?;
        self.insert(work, scope, &row).await?;
        Ok(CreatedKeyPair { info: info(row, false), material })
    }

    /// `ImportKeyPair`: stores a caller's public key.
    pub async fn import(&self, work: &UnitOfWork, scope: &Scope, input: ImportKeyPair) -> Result<KeyPairInfo> {
        validate_name(&input.name)?;
        let tags = tags::from_specifications(&input.tag_specifications, "key-pair")?;
        let public = keyfleet_keys::import::parse_public_key_material(&input.material)?;
        let row = KeyPairRow {
            id: ids::new_id("key"),
            name: input.name,
            key_type: public.key_type(),
            fingerprint: fingerprint::of_imported(&public)?,
            public_key: public.to_openssh_line("")?.trim_end().to_owned(),
            created_ms: now_ms(),
            tags,
        };
        self.insert(work, scope, &row).await?;
        Ok(info(row, false))
    }

    /// `DescribeKeyPairs`: named or identified pairs (each must exist), then filters.
    pub async fn describe(&self, scope: &Scope, input: DescribeKeyPairs) -> Result<Vec<KeyPairInfo>> {
        let filters: Vec<Typed<KeyPairFilter>> = typed(&input.filters)?;
        let query = KeyPairQuery { names: input.names.clone(), ids: input.ids.clone() };
        let rows = self.store.key_pairs(scope, &query).await?;
        if let Some(missing) = input.names.iter().find(|n| !rows.iter().any(|r| &r.name == *n)) {
            return Err(Error::KeyPairNotFound(missing.clone()));
        }
        if let Some(missing) = input.ids.iter().find(|i| !rows.iter().any(|r| &r.id == *i)) {
            return Err(Error::KeyPairIdNotFound(missing.clone()));
        }
        Ok(rows
            .into_iter()
            .filter(|row| all_match(&filters, row))
            .map(|row| info(row, input.include_public_key))
            .collect())
    }

    /// `DeleteKeyPair`: removes a pair if it exists; a missing one is not an error.
    pub async fn delete(
        &self,
        work: &UnitOfWork,
        scope: &Scope,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<Option<String>> {
        let target = match (name, id) {
            (Some(name), _) => KeyPairRef::Name(name),
            (None, Some(id)) if ids::is_well_formed(id, "key") => KeyPairRef::Id(id),
            (None, Some(id)) => {
                return Err(Error::InvalidParameterValue(Invalid::KeyPairId(id.to_owned())));
            }
            (None, None) => return Err(Error::MissingParameter("KeyName")),
        };
        Ok(self.store.delete_key_pair(work, scope, target).await?)
    }

    /// The key pair with this name or id, if there is one (for authorization on its tags).
    pub async fn find(&self, scope: &Scope, name: Option<&str>, id: Option<&str>) -> Result<Option<KeyPairRow>> {
        let query = KeyPairQuery {
            names: name.map(str::to_owned).into_iter().collect(),
            ids: id.map(str::to_owned).into_iter().collect(),
        };
        Ok(self.store.key_pairs(scope, &query).await?.into_iter().next())
    }

    /// The public key line of a key pair, for launching instances and tools.
    pub async fn public_key(&self, scope: &Scope, name: &str) -> Result<KeyPairInfo> {
        let query = KeyPairQuery { names: vec![name.to_owned()], ids: Vec::new() };
        match self.store.key_pairs(scope, &query).await?.pop() {
            Some(row) => Ok(info(row, true)),
            None => Err(Error::KeyPairNotFound(name.to_owned())),
        }
    }

    fn row_for(&self, name: &str, key: &PrivateKey, fingerprint: String, tags: Vec<Tag>) -> Result<KeyPairRow> {
        let public = key.public_key()?;
        Ok(KeyPairRow {
            id: ids::new_id("key"),
            name: name.to_owned(),
            key_type: key.key_type(),
            fingerprint,
            public_key: public.to_openssh_line("")?.trim_end().to_owned(),
            created_ms: now_ms(),
            tags,
        })
    }

    async fn insert(&self, work: &UnitOfWork, scope: &Scope, row: &KeyPairRow) -> Result<()> {
        match self.store.insert_key_pair(work, scope, row, self.quota).await {
            Ok(()) => Ok(()),
            Err(StoreError::Duplicate) => Err(Error::KeyPairDuplicate(row.name.clone())),
            Err(StoreError::QuotaExceeded(_)) => Err(Error::KeyPairLimitExceeded),
            Err(e) => Err(e.into()),
        }
    }
}

/// Names are 1–255 ASCII characters (botocore model; docs/aws-facts.md, "Key pair names, ids and quotas").
fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::MissingParameter("KeyName"));
    }
    if !name.is_ascii() {
        return Err(Error::InvalidParameterValue(Invalid::KeyNameNotAscii(name.to_owned())));
    }
    // A name becomes the comment of an authorized_keys line: a newline would add a line.
    if name.chars().any(|c| c.is_ascii_control()) {
        return Err(Error::InvalidParameterValue(Invalid::KeyNameControlCharacters));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::InvalidParameterValue(Invalid::KeyNameTooLong(MAX_NAME_LEN)));
    }
    Ok(())
}

/// DescribeKeyPairs' filters.
enum KeyPairFilter {
    Id,
    Name,
    Fingerprint,
    KeyType,
    TagKey,
    Tag(String),
}

impl FilterField<KeyPairRow> for KeyPairFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "key-pair-id" => KeyPairFilter::Id,
            "key-name" => KeyPairFilter::Name,
            "fingerprint" => KeyPairFilter::Fingerprint,
            "key-type" => KeyPairFilter::KeyType,
            "tag-key" => KeyPairFilter::TagKey,
            other => KeyPairFilter::Tag(other.strip_prefix("tag:")?.to_owned()),
        })
    }

    fn candidates<'r>(&self, row: &'r KeyPairRow) -> Vec<&'r str> {
        match self {
            KeyPairFilter::Id => vec![&row.id],
            KeyPairFilter::Name => vec![&row.name],
            KeyPairFilter::Fingerprint => vec![&row.fingerprint],
            KeyPairFilter::KeyType => vec![row.key_type.as_str()],
            KeyPairFilter::TagKey => row.tags.iter().map(|t| t.key.as_str()).collect(),
            KeyPairFilter::Tag(key) => tag_values(&row.tags, key),
        }
    }
}

fn info(row: KeyPairRow, include_public_key: bool) -> KeyPairInfo {
    let public_key = include_public_key.then(|| format!("{} {}", row.public_key, row.name));
    KeyPairInfo {
        id: row.id,
        name: row.name,
        key_type: row.key_type,
        fingerprint: row.fingerprint,
        public_key,
        created_ms: row.created_ms,
        tags: row.tags,
    }
}

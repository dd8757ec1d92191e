//! Persistence behind one trait, so that SQLite (embedded, the default) and PostgreSQL
//! (several replicas, a later backend) are interchangeable and run the same test suite.
//!
//! The store knows rows, not AWS: it reports conflicts and limits as [`StoreError`]
//! variants and the service turns them into AWS semantics. Uniqueness and quotas are
//! enforced by the database inside one transaction, never by a lock in this process, so
//! they hold across replicas.

pub mod sqlite;
#[cfg(test)]
mod tests;

use async_trait::async_trait;

/// Where a resource lives: AWS scopes every resource by account and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The 12-digit account id.
    pub account: String,
    /// The region from the request's credential scope, e.g. `us-east-1`.
    pub region: String,
}

/// A key pair as stored: the public half and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairRow {
    /// `key-` + 17 hex characters.
    pub id: String,
    /// Unique per scope.
    pub name: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// AWS's fingerprint (depends on whether the key was created or imported).
    pub fingerprint: String,
    /// `<alg> <base64>` without a comment.
    pub public_key: String,
    /// Creation (or import) time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The key pair's tags, in key order.
    pub tags: Vec<Tag>,
}

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    /// Case-sensitive key.
    pub key: String,
    /// Possibly empty value.
    pub value: String,
}

/// A tag together with the resource it belongs to, as `DescribeTags` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTag {
    /// The resource id (`key-…`).
    pub resource_id: String,
    /// The EC2 resource type (`key-pair`).
    pub resource_type: String,
    /// The tag.
    pub tag: Tag,
}

/// A built-in instance as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    /// `i-` + 17 hex characters.
    pub id: String,
    /// `r-` + 17 hex characters, shared by one RunInstances call.
    pub reservation_id: String,
    /// The image it was launched from.
    pub image_id: String,
    /// The instance type, e.g. `t3.micro`.
    pub instance_type: String,
    /// The key pair named at launch; kept after the key pair is deleted.
    pub key_name: Option<String>,
    /// The EC2 state name.
    pub state: String,
    /// Its own loopback address (`127.x.y.z`), public and private address at once.
    pub address: String,
    /// The root volume, `vol-…`.
    pub volume_id: String,
    /// Position within its reservation.
    pub launch_index: i64,
    /// Launch time, milliseconds since the epoch.
    pub launch_ms: i64,
    /// `UserData` as given (base64).
    pub user_data: Option<String>,
    /// The launch key pair's `authorized_keys` line, frozen at launch (IMDS serves it).
    pub launch_key: Option<String>,
    /// `MetadataOptions.HttpTokens`: `optional` (IMDSv1 and v2) or `required` (v2 only).
    pub http_tokens: String,
    /// Tags, by key.
    pub tags: Vec<Tag>,
}

/// One version of a parameter as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRow {
    /// The full name, e.g. `/ec2rl/openssh/i-…/key`.
    pub name: String,
    /// 1, 2, …
    pub version: i64,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    /// Plain text, or for SecureString the sealed blob (base64).
    pub value: String,
    /// The KMS key id a SecureString names (`alias/aws/ssm` by default).
    pub key_id: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `DataType` (`text`).
    pub data_type: String,
    /// Milliseconds since the epoch.
    pub modified_ms: i64,
    /// The caller's ARN.
    pub modified_by: String,
}

/// An automation execution as stored; steps, parameters and outputs are JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationRow {
    /// The execution id (a UUID).
    pub id: String,
    /// The runbook, e.g. `AWSSupport-ResetAccess`.
    pub document: String,
    /// The execution status.
    pub status: String,
    /// JSON: parameter name → list of values.
    pub parameters: String,
    /// JSON: the StepExecutions.
    pub steps: String,
    /// JSON: output name → list of values.
    pub outputs: String,
    /// Why it failed.
    pub failure: Option<String>,
    /// Milliseconds since the epoch.
    pub start_ms: i64,
    /// When it ended.
    pub end_ms: Option<i64>,
    /// The caller's ARN.
    pub executed_by: String,
}

/// What a put found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored as this version.
    Stored(i64),
    /// The name exists and overwriting was not asked for.
    Exists,
    /// The name exists with another type.
    TypeMismatch(String),
}

/// Which key pairs to load. Empty lists mean "no restriction".
#[derive(Debug, Clone, Default)]
pub struct KeyPairQuery {
    /// Exact names.
    pub names: Vec<String>,
    /// Exact ids.
    pub ids: Vec<String>,
}

/// A tag removal: a key, and optionally the only value for which it is removed.
#[derive(Debug, Clone)]
pub struct TagRemoval {
    /// The tag key.
    pub key: String,
    /// `None`: remove whatever the value; `Some(v)`: only if the value is `v`.
    pub value: Option<String>,
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The unique (scope, name) constraint refused the insert.
    #[error("a row with this name already exists")]
    Duplicate,
    /// The insert would take the scope past its quota.
    #[error("quota of {0} reached")]
    QuotaExceeded(u32),
    /// The database failed; the cause is logged, never sent to clients.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed at start-up.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The storage operations the services need.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts a key pair and its tags atomically, unless the name is taken in the scope
    /// or the scope already holds `quota` key pairs.
    async fn insert_key_pair(&self, scope: &Scope, row: &KeyPairRow, quota: u32) -> Result<(), StoreError>;

    /// Loads key pairs with their tags, oldest first.
    async fn key_pairs(&self, scope: &Scope, query: &KeyPairQuery) -> Result<Vec<KeyPairRow>, StoreError>;

    /// Deletes a key pair (by name or id) and its tags; returns the deleted id, if any.
    async fn delete_key_pair(&self, scope: &Scope, name_or_id: KeyPairRef<'_>) -> Result<Option<String>, StoreError>;

    /// Sets tags (overwriting values of existing keys) on resources. Returns `false`
    /// without writing anything if a resource would end up with more than `limit` tags.
    async fn put_tags(
        &self,
        scope: &Scope,
        resources: &[(String, String)],
        tags: &[Tag],
        limit: usize,
    ) -> Result<bool, StoreError>;

    /// Removes tags from resources; an empty `removals` removes every tag.
    async fn delete_tags(
        &self,
        scope: &Scope,
        resource_ids: &[String],
        removals: &[TagRemoval],
    ) -> Result<(), StoreError>;

    /// Lists the tags of a scope, ordered by resource id then key.
    async fn tags(&self, scope: &Scope) -> Result<Vec<ResourceTag>, StoreError>;

    /// Inserts the instances of one reservation, with their tags, atomically. Fails with
    /// [`StoreError::Duplicate`] if an address is already taken by a live instance.
    async fn insert_instances(&self, scope: &Scope, rows: &[InstanceRow]) -> Result<(), StoreError>;

    /// Loads instances (all of the scope when `ids` is empty), oldest first, with tags.
    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<InstanceRow>, StoreError>;

    /// Moves an instance to state `to` if its state is one of `from`; returns the state it
    /// had, or `None` if it was in none of them (or does not exist).
    async fn transition_instance(
        &self,
        scope: &Scope,
        id: &str,
        from: &[&str],
        to: &str,
    ) -> Result<Option<String>, StoreError>;

    /// The addresses of instances that are not terminated, in every scope.
    async fn live_addresses(&self) -> Result<Vec<String>, StoreError>;

    /// Instances in one of `states`, in every scope (to resume them at start-up).
    async fn instances_in_states(&self, states: &[&str]) -> Result<Vec<(Scope, InstanceRow)>, StoreError>;

    /// Stores a new version of a parameter (version 1 if new), keeping the newest `keep`.
    async fn put_parameter(
        &self,
        scope: &Scope,
        row: &ParameterRow,
        overwrite: bool,
        keep: i64,
    ) -> Result<PutOutcome, StoreError>;

    /// One version of a parameter (the latest when `version` is `None`).
    async fn parameter(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<ParameterRow>, StoreError>;

    /// The latest version of every parameter whose name starts with `prefix`, by name.
    async fn parameters_with_prefix(&self, scope: &Scope, prefix: &str) -> Result<Vec<ParameterRow>, StoreError>;

    /// Every stored version of a parameter, oldest first.
    async fn parameter_history(&self, scope: &Scope, name: &str) -> Result<Vec<ParameterRow>, StoreError>;

    /// Deletes a parameter and its history; false if there was none.
    async fn delete_parameter(&self, scope: &Scope, name: &str) -> Result<bool, StoreError>;

    /// Inserts or replaces an automation execution.
    async fn save_execution(&self, scope: &Scope, row: &AutomationRow) -> Result<(), StoreError>;

    /// One execution.
    async fn execution(&self, scope: &Scope, id: &str) -> Result<Option<AutomationRow>, StoreError>;

    /// The executions of a scope, oldest first.
    async fn executions(&self, scope: &Scope) -> Result<Vec<AutomationRow>, StoreError>;

    /// Executions in one of `statuses`, in every scope (to resume them at start-up).
    async fn executions_in_status(&self, statuses: &[&str]) -> Result<Vec<(Scope, AutomationRow)>, StoreError>;

    /// Removes everything (the `--dev` reset endpoint).
    async fn reset(&self) -> Result<(), StoreError>;
}

/// How `DeleteKeyPair` names its target.
#[derive(Debug, Clone, Copy)]
pub enum KeyPairRef<'a> {
    /// By `KeyName`.
    Name(&'a str),
    /// By `KeyPairId`.
    Id(&'a str),
}

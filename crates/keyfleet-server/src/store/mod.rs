//! Persistence behind one trait, so that SQLite (embedded, the default) and PostgreSQL
//! (several replicas) are interchangeable and run the same test suite (`tests.rs`).
//!
//! The store knows rows, not AWS: it reports conflicts and limits as [`StoreError`]
//! variants and the service turns them into AWS semantics. Uniqueness and quotas are
//! enforced by the database inside one transaction, never by a lock in this process, so
//! they hold across replicas.

mod auto_scaling;
mod launch_templates;
pub mod sql;
mod sqlite;
mod stacks;
#[cfg(test)]
mod tests;
mod writer;

pub use writer::{Held, UnitOfWork};

pub use crate::common::wire::WireName;
pub use auto_scaling::{
    Activity, ActivityStatus, GroupRecord, GroupRow, GroupTag, GroupTemplate, Health, Lifecycle, Member, PendingLaunch,
    Refresh, RefreshStatus, Removal,
};
pub use keyfleet_keys::KeyType;
pub use launch_templates::{
    HttpTokens, LaunchTemplateData, LaunchTemplateRow, LaunchTemplateVersionRow, NewVersionRefused, TemplateTags,
    VersionDeletion,
};
pub use stacks::{
    OnFailure, PendingUpdate, ResourceStatus, StackEvent, StackOutput, StackParameter, StackRecord, StackResource,
    StackRow, StackStatus,
};

use std::collections::BTreeMap;

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
    pub key_type: KeyType,
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

/// An EC2 instance state, with its wire name and code (EC2 API Reference, "InstanceState").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// Booting (`0`).
    Pending,
    /// Up (`16`).
    Running,
    /// Being terminated (`32`).
    ShuttingDown,
    /// Gone; kept for describing a while (`48`).
    Terminated,
    /// Being stopped (`64`).
    Stopping,
    /// Stopped, its volume kept (`80`).
    Stopped,
}

impl WireName for InstanceState {
    const ALL: &'static [Self] = &[
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::ShuttingDown,
        InstanceState::Terminated,
        InstanceState::Stopping,
        InstanceState::Stopped,
    ];

    fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }
}

impl InstanceState {
    /// The states of an instance that has not been terminated.
    pub const LIVE: [InstanceState; 5] = [
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::Stopping,
        InstanceState::Stopped,
        InstanceState::ShuttingDown,
    ];

    /// EC2's code for the state, as text (for filters).
    pub fn code_name(self) -> &'static str {
        match self {
            InstanceState::Pending => "0",
            InstanceState::Running => "16",
            InstanceState::ShuttingDown => "32",
            InstanceState::Terminated => "48",
            InstanceState::Stopping => "64",
            InstanceState::Stopped => "80",
        }
    }

    /// EC2's code for the state.
    pub fn code(self) -> u8 {
        match self {
            InstanceState::Pending => 0,
            InstanceState::Running => 16,
            InstanceState::ShuttingDown => 32,
            InstanceState::Terminated => 48,
            InstanceState::Stopping => 64,
            InstanceState::Stopped => 80,
        }
    }
}

/// What a launch may not pass, checked in its own transaction so that launches racing
/// through several replicas hold them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchLimits {
    /// Live instances per (account, region).
    pub instances: u32,
    /// GiB of live root volumes in all.
    pub volume_gib: u64,
}

/// An automation execution's status (SSM API Reference, "AutomationExecution"): the ones
/// keyfleet's executions pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutomationStatus {
    /// Accepted, not yet running.
    Pending,
    /// Running its steps.
    InProgress,
    /// Asked to stop; stops before its next step.
    Cancelling,
    /// Every step succeeded.
    Success,
    /// A step failed.
    Failed,
    /// Stopped by StopAutomationExecution.
    Cancelled,
}

impl WireName for AutomationStatus {
    const ALL: &'static [Self] = &[
        AutomationStatus::Pending,
        AutomationStatus::InProgress,
        AutomationStatus::Cancelling,
        AutomationStatus::Success,
        AutomationStatus::Failed,
        AutomationStatus::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            AutomationStatus::Pending => "Pending",
            AutomationStatus::InProgress => "InProgress",
            AutomationStatus::Cancelling => "Cancelling",
            AutomationStatus::Success => "Success",
            AutomationStatus::Failed => "Failed",
            AutomationStatus::Cancelled => "Cancelled",
        }
    }
}

/// The steps of `AWSSupport-ResetAccess`, the one runbook, in order (docs/aws-facts.md,
/// "AWSSupport-ResetAccess runbook").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunbookStep {
    /// Ends the Windows branch (non-critical: fails on Linux).
    AssertInstanceIsWindows,
    /// Stops the instance.
    StopInstance,
    /// Takes the root volume aside.
    DetachRootVolume,
    /// Adds the new key to every `authorized_keys` and stores its private half.
    InjectSshKey,
    /// Puts the root volume back.
    AttachRootVolume,
    /// Starts the instance.
    StartInstance,
    /// Names the parameter that holds the key.
    GetLinuxSshKeyParameter,
    /// The backup image (non-critical: keyfleet makes none).
    GetLinuxBackupAmi,
    /// Summarises the run.
    GetEc2RescueForLinuxResult,
}

impl WireName for RunbookStep {
    const ALL: &'static [Self] = &[
        RunbookStep::AssertInstanceIsWindows,
        RunbookStep::StopInstance,
        RunbookStep::DetachRootVolume,
        RunbookStep::InjectSshKey,
        RunbookStep::AttachRootVolume,
        RunbookStep::StartInstance,
        RunbookStep::GetLinuxSshKeyParameter,
        RunbookStep::GetLinuxBackupAmi,
        RunbookStep::GetEc2RescueForLinuxResult,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RunbookStep::AssertInstanceIsWindows => "assertInstanceIsWindows",
            RunbookStep::StopInstance => "stopInstance",
            RunbookStep::DetachRootVolume => "detachRootVolume",
            RunbookStep::InjectSshKey => "injectSSHKey",
            RunbookStep::AttachRootVolume => "attachRootVolume",
            RunbookStep::StartInstance => "startInstance",
            RunbookStep::GetLinuxSshKeyParameter => "getLinuxSSHKeyParameter",
            RunbookStep::GetLinuxBackupAmi => "getLinuxBackupAmi",
            RunbookStep::GetEc2RescueForLinuxResult => "getEC2RescueForLinuxResult",
        }
    }
}

impl RunbookStep {
    /// The Automation action the step runs.
    pub fn action(self) -> &'static str {
        match self {
            RunbookStep::AssertInstanceIsWindows => "aws:assertAwsResourceProperty",
            RunbookStep::StopInstance | RunbookStep::StartInstance => "aws:changeInstanceState",
            RunbookStep::InjectSshKey => "aws:executeScript",
            _ => "aws:executeAwsApi",
        }
    }

    /// Whether its failure ends the execution.
    pub fn critical(self) -> bool {
        !matches!(self, RunbookStep::AssertInstanceIsWindows | RunbookStep::GetLinuxBackupAmi)
    }
}

/// A step execution's status (SSM API Reference, "StepExecution").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// Not reached yet.
    Pending,
    /// Running.
    InProgress,
    /// Done.
    Success,
    /// Failed.
    Failed,
    /// Not run: the execution was cancelled first.
    Cancelled,
}

impl WireName for StepStatus {
    const ALL: &'static [Self] =
        &[StepStatus::Pending, StepStatus::InProgress, StepStatus::Success, StepStatus::Failed, StepStatus::Cancelled];

    fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "Pending",
            StepStatus::InProgress => "InProgress",
            StepStatus::Success => "Success",
            StepStatus::Failed => "Failed",
            StepStatus::Cancelled => "Cancelled",
        }
    }
}

/// One step of an execution as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepExecution {
    /// The step.
    pub step: RunbookStep,
    /// Where it is.
    pub status: StepStatus,
    /// When it started, ms since the epoch.
    pub start_ms: Option<i64>,
    /// When it ended.
    pub end_ms: Option<i64>,
    /// Its outputs (name → values), once it succeeded.
    pub outputs: Option<BTreeMap<String, Vec<String>>>,
    /// Why it failed.
    pub failure: Option<String>,
}

impl StepExecution {
    /// The step, not reached yet.
    pub fn pending(step: RunbookStep) -> Self {
        StepExecution { step, status: StepStatus::Pending, start_ms: None, end_ms: None, outputs: None, failure: None }
    }
}

/// A parameter's type (SSM API Reference, "Parameter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterType {
    /// Text.
    String,
    /// Comma-separated values.
    StringList,
    /// Encrypted at rest under the master key.
    SecureString,
}

impl WireName for ParameterType {
    const ALL: &'static [Self] = &[ParameterType::String, ParameterType::StringList, ParameterType::SecureString];

    fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "String",
            ParameterType::StringList => "StringList",
            ParameterType::SecureString => "SecureString",
        }
    }
}

/// An access key's status (IAM API Reference, "AccessKeyMetadata").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKeyStatus {
    /// Signs requests.
    Active,
    /// Kept, but refused.
    Inactive,
}

impl WireName for AccessKeyStatus {
    const ALL: &'static [Self] = &[AccessKeyStatus::Active, AccessKeyStatus::Inactive];

    fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
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
    /// Its EC2 state.
    pub state: InstanceState,
    /// Its own loopback address (`127.x.y.z`), public and private address at once.
    pub address: String,
    /// The root volume, `vol-…`.
    pub volume_id: String,
    /// Its size, GiB.
    pub volume_gib: i64,
    /// RunInstances' `ClientToken`, when given.
    pub client_token: Option<String>,
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
    /// The replica that serves it (`""` before replicas existed: any replica may claim it).
    pub owner: String,
    /// Until when the owner's claim holds, milliseconds since the epoch.
    pub lease_ms: i64,
    /// Reboot requests so far (the owner restarts the instance when this grows).
    pub reboots: i64,
    /// Its security groups (`sg-…`); empty for instances launched before groups existed,
    /// which are in the default group.
    pub security_groups: Vec<String>,
    /// `disableApiTermination`: TerminateInstances refuses it.
    pub disable_api_termination: bool,
    /// `instanceInitiatedShutdownBehavior`.
    pub shutdown_behavior: ShutdownBehavior,
    /// When the user last stopped or terminated it (milliseconds); cleared by a start.
    pub user_transition_ms: Option<i64>,
    /// Whether its root volume goes with it, and where a kept one is.
    pub volume_life: VolumeLife,
}

impl InstanceRow {
    /// Whether its root volume exists: while the instance does, and after it when kept.
    pub fn has_volume(&self) -> bool {
        self.state != InstanceState::Terminated || matches!(self.volume_life, VolumeLife::Keep | VolumeLife::Deleting)
    }
}

/// A root volume's life beyond its instance (`DeleteOnTermination`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeLife {
    /// Deleted with the instance (EC2's default).
    #[default]
    DeleteOnTermination,
    /// Kept, `available`, after the instance is terminated, until DeleteVolume.
    Keep,
    /// DeleteVolume asked; the replica that holds the volume removes it.
    Deleting,
    /// Gone.
    Deleted,
}

impl WireName for VolumeLife {
    const ALL: &'static [Self] =
        &[VolumeLife::DeleteOnTermination, VolumeLife::Keep, VolumeLife::Deleting, VolumeLife::Deleted];

    fn as_str(self) -> &'static str {
        match self {
            VolumeLife::DeleteOnTermination => "delete-on-termination",
            VolumeLife::Keep => "keep",
            VolumeLife::Deleting => "deleting",
            VolumeLife::Deleted => "deleted",
        }
    }
}

/// What an instance does when it shuts itself down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShutdownBehavior {
    /// It stops (EC2's default).
    #[default]
    Stop,
    /// It is terminated.
    Terminate,
}

impl WireName for ShutdownBehavior {
    const ALL: &'static [Self] = &[ShutdownBehavior::Stop, ShutdownBehavior::Terminate];

    fn as_str(self) -> &'static str {
        match self {
            ShutdownBehavior::Stop => "stop",
            ShutdownBehavior::Terminate => "terminate",
        }
    }
}

/// One instance attribute, as ModifyInstanceAttribute sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceAttribute {
    /// `instanceType` (only while stopped).
    InstanceType(String),
    /// `userData`, base64 (only while stopped).
    UserData(Option<String>),
    /// `disableApiTermination`.
    DisableApiTermination(bool),
    /// `instanceInitiatedShutdownBehavior`.
    ShutdownBehavior(ShutdownBehavior),
    /// `groupSet`: the security groups' ids.
    SecurityGroups(Vec<String>),
    /// `blockDeviceMapping`'s `DeleteOnTermination` of the root volume.
    DeleteOnTermination(bool),
}

impl InstanceAttribute {
    /// Whether EC2 changes it only on a stopped instance.
    pub fn needs_stopped(&self) -> bool {
        matches!(self, InstanceAttribute::InstanceType(_) | InstanceAttribute::UserData(_))
    }
}

/// A security group rule's IP protocol (`-1` is every protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpProtocol {
    /// `-1`: all traffic, every port.
    All,
    /// `tcp`.
    Tcp,
    /// `udp`.
    Udp,
    /// `icmp`.
    Icmp,
}

impl WireName for IpProtocol {
    const ALL: &'static [Self] = &[IpProtocol::All, IpProtocol::Tcp, IpProtocol::Udp, IpProtocol::Icmp];

    fn as_str(self) -> &'static str {
        match self {
            IpProtocol::All => "-1",
            IpProtocol::Tcp => "tcp",
            IpProtocol::Udp => "udp",
            IpProtocol::Icmp => "icmp",
        }
    }
}

/// Where a rule lets traffic come from (ingress) or go to (egress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulePeer {
    /// An IPv4 or IPv6 block.
    Cidr(String),
    /// The members of a security group (`sg-…`).
    Group(String),
}

/// One security group rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRuleRow {
    /// `sgr-…`.
    pub id: String,
    /// The group it belongs to.
    pub group_id: String,
    /// Outbound (true) or inbound.
    pub egress: bool,
    /// The protocol.
    pub protocol: IpProtocol,
    /// The first port (`-1` with protocol `-1`; the ICMP type for ICMP).
    pub from_port: i64,
    /// The last port.
    pub to_port: i64,
    /// The source or destination.
    pub peer: RulePeer,
    /// Its description (may be empty).
    pub description: String,
}

impl SecurityGroupRuleRow {
    /// True if both rules allow the same traffic: EC2's duplicate test.
    pub fn same_permission(&self, other: &SecurityGroupRuleRow) -> bool {
        self.group_id == other.group_id
            && self.egress == other.egress
            && self.protocol == other.protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.peer == other.peer
    }
}

/// A security group with its rules and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRow {
    /// `sg-…`.
    pub id: String,
    /// Its name, unique in the scope.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Creation time, milliseconds.
    pub created_ms: i64,
    /// Its rules, inbound and outbound.
    pub rules: Vec<SecurityGroupRuleRow>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// What deleting a group did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteGroupOutcome {
    /// Deleted, with its rules and tags.
    Deleted,
    /// No such group.
    NotFound,
    /// A live instance is in it, or another group's rule names it.
    InUse,
}

/// What adding rules did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddRulesOutcome {
    /// Added.
    Added,
    /// No such group.
    NotFound,
    /// This rule is there already (nothing was added).
    Duplicate(SecurityGroupRuleRow),
    /// The group would hold more rules of that direction than the limit.
    TooMany,
}

/// One version of a parameter as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRow {
    /// The full name, e.g. `/ec2rl/openssh/i-…/key`.
    pub name: String,
    /// 1, 2, …
    pub version: i64,
    /// `String`, `StringList` or `SecureString`.
    pub kind: ParameterType,
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
    /// `Standard` or `Advanced`.
    pub tier: ParameterTier,
    /// `AllowedPattern`, as given.
    pub allowed_pattern: Option<String>,
    /// `Policies`: a JSON array of policy objects.
    pub policies: Option<String>,
    /// When an Expiration policy deletes the parameter (milliseconds).
    pub expires_ms: Option<i64>,
    /// The labels on this version (filled by history reads only).
    pub labels: Vec<String>,
}

/// A parameter version's tier: what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParameterTier {
    /// Values up to 4 KB.
    #[default]
    Standard,
    /// Values up to 8 KB.
    Advanced,
}

impl WireName for ParameterTier {
    const ALL: &'static [Self] = &[ParameterTier::Standard, ParameterTier::Advanced];

    fn as_str(self) -> &'static str {
        match self {
            ParameterTier::Standard => "Standard",
            ParameterTier::Advanced => "Advanced",
        }
    }
}

/// What LabelParameterVersion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOutcome {
    /// The labels are on the version (moved from others where they were).
    Labelled,
    /// The parameter has no such version.
    NoVersion,
    /// The version would carry more labels than allowed.
    TooMany,
}

/// An automation execution as stored; steps, parameters and outputs are JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationRow {
    /// The execution id (a UUID).
    pub id: String,
    /// The runbook, e.g. `AWSSupport-ResetAccess`.
    pub document: String,
    /// The execution status.
    pub status: AutomationStatus,
    /// JSON: parameter name → list of values.
    pub parameters: String,
    /// The steps, in the runbook's order.
    pub steps: Vec<StepExecution>,
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
    /// The replica that runs it (the instance's owner).
    pub owner: String,
    /// The instance it works on; one unfinished execution per instance.
    pub target: Option<String>,
    /// The role it runs as, as admitted at its start.
    pub assume_role: Option<PinnedRole>,
}

/// An IAM instance profile: a name, and the role (at most one) that instances launched with
/// it act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfileRow {
    /// `AIPA…`.
    pub profile_id: String,
    /// Its name.
    pub name: String,
    /// `/` or `/…/`.
    pub path: String,
    /// The role's name, as stored.
    pub role: Option<String>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// What AddRoleToInstanceProfile found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddRoleOutcome {
    /// The role is in the profile now.
    Added,
    /// No such profile.
    NoProfile,
    /// No such role.
    NoRole,
    /// The profile has its one role already.
    Full,
}

/// What DeleteInstanceProfile found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProfileOutcome {
    /// Deleted.
    Deleted,
    /// No such profile.
    NotFound,
    /// It still has a role (`DeleteConflict`).
    HasRole,
}

/// A role pinned by ARN and by the id it had when it was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRole {
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub arn: String,
    /// `AROA…`.
    pub role_id: String,
}

/// What a put found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored as this version.
    Stored(i64),
    /// The name exists and overwriting was not asked for.
    Exists,
    /// The name exists with another type.
    TypeMismatch(ParameterType),
    /// The version that would have to go to keep the newest holds a label.
    OldestLabelled(i64),
}

/// An IAM user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The user name, unique per account (case-insensitively, as IAM does).
    pub name: String,
    /// `AIDA…`.
    pub user_id: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// An access key as stored: its secret is sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRow {
    /// `AKIA…`, unique across accounts.
    pub id: String,
    /// The owning account.
    pub account: String,
    /// The owning user.
    pub user_name: String,
    /// The secret, sealed by `service::envelope`.
    pub sealed_secret: String,
    /// Whether it signs requests.
    pub status: AccessKeyStatus,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// What `delete_user` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteUserOutcome {
    /// Deleted.
    Deleted,
    /// No such user.
    NotFound,
    /// The user still has access keys (IAM refuses: `DeleteConflict`).
    HasAccessKeys,
    /// The user still has inline policies (`DeleteConflict`).
    HasPolicies,
    /// The user still has a console password (`DeleteConflict`).
    HasLoginProfile,
    /// The user still has managed policies attached (`DeleteConflict`).
    HasAttachedPolicies,
}

/// An IAM role as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    /// `AROA…`.
    pub role_id: String,
    /// The name, unique per account ignoring case.
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// The trust policy (`AssumeRolePolicyDocument`), as given.
    pub trust_policy: String,
    /// `Description` (empty when none).
    pub description: String,
    /// `MaxSessionDuration`, seconds.
    pub max_session_seconds: i64,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// What deleting a role found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteRoleOutcome {
    /// Deleted.
    Deleted,
    /// It is still in an instance profile (`DeleteConflict`).
    InInstanceProfile,
    /// No such role.
    NotFound,
    /// It still has inline policies (`DeleteConflict`).
    HasPolicies,
    /// It still has managed policies attached (`DeleteConflict`).
    HasAttachedPolicies,
}

/// A customer managed policy as stored, with its attachment count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyRow {
    /// `ANPA…`.
    pub policy_id: String,
    /// `arn:aws:iam::ACCOUNT:policy/PATH/NAME`.
    pub arn: String,
    /// The name, unique per account ignoring case.
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `Description` (empty when none).
    pub description: String,
    /// The default version's number (`v3` is 3).
    pub default_version: i64,
    /// How many users and roles have it attached.
    pub attachment_count: i64,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When its default version last changed.
    pub updated_ms: i64,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRow {
    /// `v1` is 1.
    pub version: i64,
    /// The document, as given.
    pub document: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// Who a managed policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
}

impl WireName for PrincipalKind {
    const ALL: &'static [Self] = &[PrincipalKind::User, PrincipalKind::Role];

    fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        }
    }
}

/// What attaching a managed policy found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutcome {
    /// Attached now, or already.
    Attached,
    /// No such user or role.
    NoPrincipal,
    /// No such customer managed policy.
    NoPolicy,
    /// The user or role already has the most managed policies it may have.
    LimitExceeded,
}

/// What changing a managed policy's versions found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChange {
    /// Done.
    Done,
    /// No such policy, or no such version.
    NotFound,
    /// Refused: the policy has the most versions it may have, is attached, still has other
    /// versions, or the version is the default.
    Conflict,
}

/// Who issued an STS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionIssuer {
    /// AssumeRole: the role's name and `AROA…` id.
    Role {
        /// The role's name.
        name: String,
        /// Its `AROA…` id.
        id: String,
    },
    /// GetSessionToken of an IAM user: its name and `AIDA…` id.
    User {
        /// The user's name.
        name: String,
        /// Its `AIDA…` id.
        id: String,
    },
    /// GetSessionToken of the account's root key.
    Root,
}

/// A set of STS temporary credentials as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The account.
    pub account: String,
    /// The secret, sealed under the master key.
    pub sealed_secret: String,
    /// A digest of the session token.
    pub token_digest: String,
    /// Who issued it.
    pub issuer: SessionIssuer,
    /// `RoleSessionName` (empty for GetSessionToken).
    pub session_name: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When the credentials stop working.
    pub expires_ms: i64,
}

/// An IAM user's console password (IAM's login profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfileRow {
    /// The user, as the user row spells it.
    pub user_name: String,
    /// The password's Argon2id PHC string.
    pub password_hash: String,
    /// The user must choose a new password at the next sign-in.
    pub reset_required: bool,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// A change to a login profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfileChange {
    /// A new password hash, if the password changes.
    pub password_hash: Option<String>,
    /// A new reset flag, if it changes.
    pub reset_required: Option<bool>,
}

/// A signed-in console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRow {
    /// SHA-256 (hex) of the cookie's token; the token itself is never stored.
    pub token_hash: String,
    /// The account signed in to.
    pub account: String,
    /// The IAM user, or `None` for the account's root.
    pub user_name: Option<String>,
    /// The access key signed in with (empty for a password sign-in).
    pub access_key_id: String,
    /// The session's CSRF token, carried by every form that changes state.
    pub csrf: String,
    /// What it was signed in with, checked on every request (empty for an access key).
    pub credential: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When the session was last used, for the idle timeout.
    pub last_seen_ms: i64,
}

/// One audit record: the columns lookups filter on, and the full event as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Store-assigned order; 0 before insertion.
    pub seq: i64,
    /// A UUID.
    pub event_id: String,
    /// The account the event belongs to.
    pub account: String,
    /// The region it happened in.
    pub region: String,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// `CreateKeyPair`, `SSHAuthentication`, …
    pub event_name: String,
    /// `ec2.amazonaws.com`, `ssh.keyfleet`, …
    pub event_source: String,
    /// The IAM user name (or `root`); the OS user for SSH events.
    pub username: String,
    /// The access key that signed the request, if any.
    pub access_key: String,
    /// True for actions that change nothing.
    pub read_only: bool,
    /// `(type, name)` pairs, e.g. `("AWS::EC2::KeyPair", "dev-alice")`.
    pub resources: Vec<(String, String)>,
    /// The CloudTrail-shaped event, as JSON text.
    pub record: String,
}

/// The column a `LookupEvents` attribute filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAttribute {
    /// `EventId`.
    EventId,
    /// `EventName`.
    EventName,
    /// `EventSource`.
    EventSource,
    /// `Username`.
    Username,
    /// `AccessKeyId`.
    AccessKeyId,
    /// `ReadOnly` (`true`/`false`).
    ReadOnly,
    /// `ResourceName`.
    ResourceName,
    /// `ResourceType`.
    ResourceType,
}

/// Which audit records to load: newest first.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// At most one attribute filter, as CloudTrail allows.
    pub attribute: Option<(AuditAttribute, String)>,
    /// Inclusive lower bound, milliseconds.
    pub start_ms: i64,
    /// Inclusive upper bound, milliseconds.
    pub end_ms: i64,
    /// Only records older than this `seq` (the page token).
    pub before_seq: Option<i64>,
    /// At most this many.
    pub limit: u32,
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
    /// The insert would take the live volumes past this many GiB in all.
    #[error("volume capacity of {0} GiB reached")]
    VolumeCapacityExceeded(u64),
    /// The insert would take the scope past its quota.
    #[error("quota of {0} reached")]
    QuotaExceeded(u32),
    /// The database failed; the cause is logged, never sent to clients.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite failed on the group commit's connection (see `writer/group_commit.rs`); logged like `Database`.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQLite writer's thread could not start.
    #[error("cannot start the SQLite writer: {0}")]
    Thread(std::io::Error),
    /// A write lost to concurrent writers too many times in a row.
    #[error("too much contention; try again")]
    Contended,
    /// The write was dropped before it ran or committed: the server is stopping, or a write
    /// in the same batch panicked.
    #[error("the write was abandoned")]
    WriteAbandoned,
    /// A stored value that no longer decodes (a state name this version does not know).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// `--database-url` names a database keyfleet has no backend for.
    #[error("unsupported database URL scheme {0:?} (use postgres://…, or no URL for SQLite)")]
    UnsupportedUrl(String),
    /// Migrations failed at start-up.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The storage operations the services need: one trait per aggregate, so that each has one
/// home in every backend (`sql/<aggregate>.rs`). Bring them into scope with
/// `use crate::store::prelude::*`.
pub trait Store:
    KeyPairStore
    + TagStore
    + SecurityGroupStore
    + InstanceStore
    + ParameterStore
    + AutomationStore
    + StackStore
    + LaunchTemplateStore
    + AutoScalingStore
    + IamStore
    + RoleStore
    + ManagedPolicyStore
    + SessionStore
    + ConsoleStore
    + AuditStore
    + Maintenance
{
}

impl<T> Store for T where
    T: KeyPairStore
        + TagStore
        + SecurityGroupStore
        + InstanceStore
        + ParameterStore
        + AutomationStore
        + StackStore
        + LaunchTemplateStore
        + AutoScalingStore
        + IamStore
        + RoleStore
        + ManagedPolicyStore
        + SessionStore
        + ConsoleStore
        + AuditStore
        + Maintenance
{
}

/// Key pairs: inserts within the quota, lookups, deletes.
#[async_trait]
pub trait KeyPairStore: Send + Sync + 'static {
    /// Inserts a key pair and its tags atomically, unless the name is taken in the scope
    /// or the scope already holds `quota` key pairs.
    /// The write is part of `work` (see [`UnitOfWork`]).
    async fn insert_key_pair(
        &self,
        work: &UnitOfWork,
        scope: &Scope,
        row: &KeyPairRow,
        quota: u32,
    ) -> Result<(), StoreError>;

    /// Loads key pairs with their tags, oldest first.
    async fn key_pairs(&self, scope: &Scope, query: &KeyPairQuery) -> Result<Vec<KeyPairRow>, StoreError>;

    /// Deletes a key pair (by name or id) and its tags; returns the deleted id, if any.
    async fn delete_key_pair(
        &self,
        work: &UnitOfWork,
        scope: &Scope,
        name_or_id: KeyPairRef<'_>,
    ) -> Result<Option<String>, StoreError>;
}

/// Tags on any resource of a scope.
#[async_trait]
pub trait TagStore: Send + Sync + 'static {
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

    /// The tags of one resource, ordered by key.
    async fn resource_tags(&self, scope: &Scope, resource_id: &str) -> Result<Vec<Tag>, StoreError>;
}

/// Security groups and their rules.
#[async_trait]
pub trait SecurityGroupStore: Send + Sync + 'static {
    /// Inserts a group with its rules and tags; [`StoreError::Duplicate`] when its name or id
    /// is taken (the default group, made by several replicas at once, is inserted once).
    async fn insert_security_group(&self, scope: &Scope, group: &SecurityGroupRow) -> Result<(), StoreError>;

    /// Every group of a scope, by name, with rules and tags.
    async fn security_groups(&self, scope: &Scope) -> Result<Vec<SecurityGroupRow>, StoreError>;

    /// Deletes a group unless a live instance is in it or another group's rule names it.
    async fn delete_security_group(&self, scope: &Scope, id: &str) -> Result<DeleteGroupOutcome, StoreError>;

    /// Adds rules to one group, all or none: none when one of them is there already, or
    /// when the group would pass `limit` rules in a direction.
    async fn add_security_group_rules(
        &self,
        scope: &Scope,
        group_id: &str,
        rules: &[SecurityGroupRuleRow],
        limit: usize,
    ) -> Result<AddRulesOutcome, StoreError>;

    /// Removes rules of one group by id; how many went.
    async fn delete_security_group_rules(
        &self,
        scope: &Scope,
        group_id: &str,
        rule_ids: &[String],
    ) -> Result<usize, StoreError>;
}

/// Built-in instances: their rows, states, owners and pushed keys.
#[async_trait]
pub trait InstanceStore: Send + Sync + 'static {
    /// Inserts the instances of one reservation, with their tags, atomically. Fails with
    /// [`StoreError::Duplicate`] if an address is already taken by a live instance, with
    /// [`StoreError::QuotaExceeded`] if the scope would hold more live instances than
    /// `limits.instances`, and with [`StoreError::VolumeCapacityExceeded`] if the live
    /// instances of every scope would hold more volume than `limits.volume_gib`.
    async fn insert_instances(
        &self,
        scope: &Scope,
        rows: &[InstanceRow],
        limits: LaunchLimits,
    ) -> Result<(), StoreError>;

    /// Loads instances (all of the scope when `ids` is empty), oldest first, with tags.
    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<InstanceRow>, StoreError>;

    /// Moves an instance to state `to` if its state is one of `from`; returns the state it
    /// had, or `None` if it was in none of them (or does not exist).
    async fn transition_instance(
        &self,
        scope: &Scope,
        id: &str,
        from: &[InstanceState],
        to: InstanceState,
    ) -> Result<Option<InstanceState>, StoreError>;

    /// The addresses of instances that are not terminated, in every scope.
    async fn live_addresses(&self) -> Result<Vec<String>, StoreError>;

    /// Sets one attribute of an instance; `false` if there is no such instance, or it is not
    /// stopped where the attribute needs that (checked in the same statement).
    async fn modify_instance(&self, scope: &Scope, id: &str, attribute: &InstanceAttribute)
    -> Result<bool, StoreError>;

    /// Keeps a key pushed with EC2 Instance Connect until `expires_ms`; drops expired ones.
    async fn push_key(
        &self,
        instance_id: &str,
        os_user: &str,
        public_key: &str,
        expires_ms: i64,
    ) -> Result<(), StoreError>;

    /// The pushed keys of an instance's OS user that have not expired at `now_ms`.
    async fn pushed_keys(&self, instance_id: &str, os_user: &str, now_ms: i64) -> Result<Vec<String>, StoreError>;

    /// Instances in one of `states`, in every scope (to resume them at start-up).
    async fn instances_in_states(&self, states: &[InstanceState]) -> Result<Vec<(Scope, InstanceRow)>, StoreError>;

    /// Terminated instances whose root volume is in `life` (kept or being deleted), in every
    /// scope.
    async fn volumes_after_termination(&self, life: VolumeLife) -> Result<Vec<(Scope, InstanceRow)>, StoreError>;

    /// Moves the volume of a terminated instance from `from` to `to`; false if it was not
    /// in `from` (another request moved it first, or it is attached or unknown).
    async fn move_volume_life(
        &self,
        scope: &Scope,
        volume_id: &str,
        from: VolumeLife,
        to: VolumeLife,
    ) -> Result<bool, StoreError>;

    /// Extends the lease on every live instance `owner` holds.
    async fn renew_instance_leases(&self, owner: &str, until_ms: i64) -> Result<(), StoreError>;

    /// Makes `owner` the owner of a live instance if it already is, if nobody is, or if the
    /// current owner's lease ended before `expired_before_ms`. True if `owner` now holds it.
    async fn claim_instance(
        &self,
        scope: &Scope,
        id: &str,
        expired_before_ms: i64,
        owner: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Counts a reboot request for the owner to act on.
    async fn request_reboot(&self, scope: &Scope, id: &str) -> Result<(), StoreError>;
}

/// Parameter Store: versioned parameters.
#[async_trait]
pub trait ParameterStore: Send + Sync + 'static {
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

    /// Deletes a parameter, its history and its labels; false if there was none.
    async fn delete_parameter(&self, scope: &Scope, name: &str) -> Result<bool, StoreError>;

    /// Puts labels on one version of a parameter (at most `max_per_version` on it after),
    /// moving each from the version it was on.
    async fn label_parameter(
        &self,
        scope: &Scope,
        name: &str,
        version: i64,
        labels: &[String],
        max_per_version: usize,
    ) -> Result<LabelOutcome, StoreError>;

    /// Takes labels off one version; returns those that were on it.
    async fn unlabel_parameter(
        &self,
        scope: &Scope,
        name: &str,
        version: i64,
        labels: &[String],
    ) -> Result<Vec<String>, StoreError>;

    /// The version a label is on.
    async fn labelled_version(&self, scope: &Scope, name: &str, label: &str) -> Result<Option<i64>, StoreError>;

    /// Deletes a parameter if its latest version's Expiration has passed at `now_ms`; whether
    /// it did.
    async fn delete_if_expired(&self, scope: &Scope, name: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Parameters, in every scope, whose latest version's Expiration has passed at `now_ms`.
    async fn expired_parameters(&self, now_ms: i64) -> Result<Vec<(Scope, String)>, StoreError>;
}

/// Automation executions.
#[async_trait]
pub trait AutomationStore: Send + Sync + 'static {
    /// Inserts or replaces an automation execution; [`StoreError::Duplicate`] when another
    /// unfinished execution targets the same instance.
    async fn save_execution(&self, scope: &Scope, row: &AutomationRow) -> Result<(), StoreError>;

    /// One execution.
    async fn execution(&self, scope: &Scope, id: &str) -> Result<Option<AutomationRow>, StoreError>;

    /// The executions of a scope, oldest first.
    async fn executions(&self, scope: &Scope) -> Result<Vec<AutomationRow>, StoreError>;

    /// Executions in one of `statuses`, in every scope (to resume them at start-up).
    async fn executions_in_status(
        &self,
        statuses: &[AutomationStatus],
    ) -> Result<Vec<(Scope, AutomationRow)>, StoreError>;
}

/// CloudFormation stacks and their events.
#[async_trait]
pub trait StackStore: Send + Sync + 'static {
    /// Adds a stack; [`StoreError::Duplicate`] when a live stack has its name.
    async fn insert_stack(&self, scope: &Scope, row: &StackRow) -> Result<(), StoreError>;

    /// A stack by its id, or the live stack of a name.
    async fn stack(&self, scope: &Scope, name_or_id: &str) -> Result<Option<StackRow>, StoreError>;

    /// Every stack of a scope, deleted ones too, oldest first.
    async fn stacks(&self, scope: &Scope) -> Result<Vec<StackRow>, StoreError>;

    /// Writes `row` if the stack is still in `expected` status and held by `row.owner` (or by
    /// nobody); false if another writer got there first.
    async fn save_stack(&self, scope: &Scope, row: &StackRow, expected: StackStatus) -> Result<bool, StoreError>;

    /// Claims an in-progress stack for `owner` until `until_ms`, if nobody holds it or its
    /// holder's lease ended before `expired_before_ms`. True if `owner` now holds it.
    async fn claim_stack(
        &self,
        scope: &Scope,
        id: &str,
        owner: &str,
        until_ms: i64,
        expired_before_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Marks a stack to be deleted, as `by` (an ARN), once its current operation stops; false
    /// (and nothing marked) if no operation is running on it.
    /// `by` is the caller's ARN and the id its user or role had.
    async fn request_stack_delete(
        &self,
        scope: &Scope,
        id: &str,
        by: &str,
        by_id: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Who asked for the stack's deletion with [`StackStore::request_stack_delete`] (ARN and
    /// id), until the delete starts.
    async fn stack_delete_requested(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError>;

    /// Stacks some runner has work on (in progress, or to be deleted), in every scope.
    async fn stacks_in_progress(&self) -> Result<Vec<(Scope, StackRow)>, StoreError>;

    /// Appends an event.
    async fn add_stack_event(&self, stack_id: &str, event: &StackEvent) -> Result<(), StoreError>;

    /// A stack's events, newest first.
    async fn stack_events(&self, stack_id: &str) -> Result<Vec<StackEvent>, StoreError>;

    /// Forgets stacks deleted before `deleted_before_ms`, with their events.
    async fn prune_stacks(&self, deleted_before_ms: i64) -> Result<(), StoreError>;
}

/// EC2 launch templates and their versions.
#[async_trait]
pub trait LaunchTemplateStore: Send + Sync + 'static {
    /// Adds a template with its version 1; [`StoreError::Duplicate`] when its name is taken
    /// in the scope, [`StoreError::QuotaExceeded`] when the scope holds `quota` already.
    async fn insert_launch_template(
        &self,
        scope: &Scope,
        row: &LaunchTemplateRow,
        first: &LaunchTemplateVersionRow,
        quota: u32,
    ) -> Result<(), StoreError>;

    /// Every template of a scope, oldest first.
    async fn launch_templates(&self, scope: &Scope) -> Result<Vec<LaunchTemplateRow>, StoreError>;

    /// A template's versions, newest first.
    async fn launch_template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
    ) -> Result<Vec<LaunchTemplateVersionRow>, StoreError>;

    /// One version of a template.
    async fn launch_template_version(
        &self,
        scope: &Scope,
        template_id: &str,
        version: i64,
    ) -> Result<Option<LaunchTemplateVersionRow>, StoreError>;

    /// Adds the next version (a number never given before, whatever `row.version` says),
    /// made the default if `make_default`; its number.
    async fn insert_launch_template_version(
        &self,
        scope: &Scope,
        template_id: &str,
        row: &LaunchTemplateVersionRow,
        make_default: bool,
        max_versions: u32,
    ) -> Result<Result<i64, NewVersionRefused>, StoreError>;

    /// Makes an existing version the default; false if the template or version is missing.
    async fn set_default_launch_template_version(
        &self,
        scope: &Scope,
        template_id: &str,
        version: i64,
    ) -> Result<bool, StoreError>;

    /// Deletes a template with its versions and tags; false if there was none.
    async fn delete_launch_template(&self, scope: &Scope, template_id: &str) -> Result<bool, StoreError>;

    /// Deletes versions that are not the default, answering for each in the order given;
    /// the template's latest version is then the highest left.
    async fn delete_launch_template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
        versions: &[i64],
    ) -> Result<Vec<VersionDeletion>, StoreError>;
}

/// Auto Scaling groups and their scaling activities.
#[async_trait]
pub trait AutoScalingStore: Send + Sync + 'static {
    /// Adds a group; [`StoreError::Duplicate`] when the scope has one of its name,
    /// [`StoreError::QuotaExceeded`] when it holds `quota`.
    async fn insert_group(&self, scope: &Scope, row: &GroupRow, quota: u32) -> Result<(), StoreError>;

    /// One group.
    async fn group(&self, scope: &Scope, name: &str) -> Result<Option<GroupRow>, StoreError>;

    /// Every group of a scope, by name.
    async fn groups(&self, scope: &Scope) -> Result<Vec<GroupRow>, StoreError>;

    /// Every group, in every scope (for the reconciler).
    async fn all_groups(&self) -> Result<Vec<(Scope, GroupRow)>, StoreError>;

    /// Writes `row` if the group is still at `row.revision` (and bumps it); false if another
    /// writer changed it first.
    async fn save_group(&self, scope: &Scope, row: &GroupRow) -> Result<bool, StoreError>;

    /// Removes a group still at `revision`, with its activities; false if it changed or is
    /// gone.
    async fn delete_group(&self, scope: &Scope, name: &str, revision: i64) -> Result<bool, StoreError>;

    /// Makes `owner` the group's reconciler until `until_ms` if nobody holds it, it already
    /// does, or the holder's lease ended before `expired_before_ms`.
    async fn claim_group(
        &self,
        scope: &Scope,
        name: &str,
        owner: &str,
        until_ms: i64,
        expired_before_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Adds or replaces an activity (one that has ended is not replaced by one that has not),
    /// keeping the newest `keep` of its group.
    async fn put_activity(&self, scope: &Scope, activity: &Activity, keep: usize) -> Result<(), StoreError>;

    /// Activities, newest first: of one group, or of every group of the scope.
    async fn activities(&self, scope: &Scope, group: Option<&str>) -> Result<Vec<Activity>, StoreError>;
}

/// IAM users, access keys and inline policies.
#[async_trait]
pub trait IamStore: Send + Sync + 'static {
    /// Creates a user; [`StoreError::Duplicate`] if the name is taken in the account.
    async fn insert_user(&self, account: &str, row: &UserRow) -> Result<(), StoreError>;

    /// The users of an account, by name.
    async fn users(&self, account: &str) -> Result<Vec<UserRow>, StoreError>;

    /// One user.
    async fn user(&self, account: &str, name: &str) -> Result<Option<UserRow>, StoreError>;

    /// Deletes a user that has no access keys and no policies.
    async fn delete_user(&self, account: &str, name: &str) -> Result<DeleteUserOutcome, StoreError>;

    /// Adds an access key to an existing user holding fewer than `per_user` keys.
    /// `Ok(false)` if the user does not exist; [`StoreError::QuotaExceeded`] at the limit.
    async fn insert_access_key(&self, row: &AccessKeyRow, per_user: u32) -> Result<bool, StoreError>;

    /// Adds an account's root access key (`user_name` empty): no user, no per-user limit.
    async fn insert_root_access_key(&self, row: &AccessKeyRow) -> Result<(), StoreError>;

    /// An access key by id, in any account (authentication).
    async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRow>, StoreError>;

    /// A user's access keys, oldest first.
    async fn access_keys(&self, account: &str, user: &str) -> Result<Vec<AccessKeyRow>, StoreError>;

    /// Deletes a user's access key; false if there was none.
    async fn delete_access_key(&self, account: &str, user: &str, id: &str) -> Result<bool, StoreError>;

    /// Creates or replaces an inline policy; false if the user does not exist.
    async fn put_user_policy(&self, account: &str, user: &str, name: &str, document: &str) -> Result<bool, StoreError>;

    /// A user's inline policies as `(name, document)`, by name.
    async fn user_policies(&self, account: &str, user: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Deletes an inline policy; false if there was none.
    async fn delete_user_policy(&self, account: &str, user: &str, name: &str) -> Result<bool, StoreError>;

    /// Gives an existing user a console password: false if there is no such user,
    /// [`StoreError::Duplicate`] if the user has one already.
    async fn insert_login_profile(&self, account: &str, row: &LoginProfileRow) -> Result<bool, StoreError>;

    /// A user's login profile.
    async fn login_profile(&self, account: &str, user: &str) -> Result<Option<LoginProfileRow>, StoreError>;

    /// Changes a login profile; false if the user has none.
    async fn update_login_profile(
        &self,
        account: &str,
        user: &str,
        change: &LoginProfileChange,
    ) -> Result<bool, StoreError>;

    /// Deletes a login profile; false if there was none.
    async fn delete_login_profile(&self, account: &str, user: &str) -> Result<bool, StoreError>;
}

/// IAM roles and their inline policies.
#[async_trait]
pub trait RoleStore: Send + Sync + 'static {
    /// Creates a role; [`StoreError::Duplicate`] if the name is taken in the account.
    async fn insert_role(&self, account: &str, row: &RoleRow) -> Result<(), StoreError>;

    /// The roles of an account, by name.
    async fn roles(&self, account: &str) -> Result<Vec<RoleRow>, StoreError>;

    /// One role, by name ignoring case.
    async fn role(&self, account: &str, name: &str) -> Result<Option<RoleRow>, StoreError>;

    /// Replaces a role's trust policy; false if there is no such role.
    async fn update_trust_policy(&self, account: &str, name: &str, document: &str) -> Result<bool, StoreError>;

    /// Deletes a role that has no inline and no attached policies.
    async fn delete_role(&self, account: &str, name: &str) -> Result<DeleteRoleOutcome, StoreError>;

    /// Adds an instance profile; [`StoreError::Duplicate`] if one has its name (ignoring case).
    async fn insert_instance_profile(&self, account: &str, row: &InstanceProfileRow) -> Result<(), StoreError>;

    /// An instance profile by name (ignoring case).
    async fn instance_profile(&self, account: &str, name: &str) -> Result<Option<InstanceProfileRow>, StoreError>;

    /// Every instance profile of an account, by name.
    async fn instance_profiles(&self, account: &str) -> Result<Vec<InstanceProfileRow>, StoreError>;

    /// Deletes an instance profile that has no role.
    async fn delete_instance_profile(&self, account: &str, name: &str) -> Result<DeleteProfileOutcome, StoreError>;

    /// Puts a role into an instance profile that has none.
    async fn add_role_to_instance_profile(
        &self,
        account: &str,
        profile: &str,
        role: &str,
    ) -> Result<AddRoleOutcome, StoreError>;

    /// Takes a role out of an instance profile; false if it was not in it.
    async fn remove_role_from_instance_profile(
        &self,
        account: &str,
        profile: &str,
        role: &str,
    ) -> Result<bool, StoreError>;

    /// Creates or replaces a role's inline policy; false if the role does not exist.
    async fn put_role_policy(&self, account: &str, role: &str, name: &str, document: &str) -> Result<bool, StoreError>;

    /// A role's inline policies as `(name, document)`, by name.
    async fn role_policies(&self, account: &str, role: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Deletes a role's inline policy; false if there was none.
    async fn delete_role_policy(&self, account: &str, role: &str, name: &str) -> Result<bool, StoreError>;
}

/// Customer managed policies, their versions, and attachments of managed policies.
#[async_trait]
pub trait ManagedPolicyStore: Send + Sync + 'static {
    /// Creates a policy with its first version (1, the default); [`StoreError::Duplicate`] if
    /// the name is taken in the account.
    async fn insert_policy(&self, account: &str, row: &ManagedPolicyRow, document: &str) -> Result<(), StoreError>;

    /// The customer managed policies of an account, by name.
    async fn policies(&self, account: &str) -> Result<Vec<ManagedPolicyRow>, StoreError>;

    /// One customer managed policy by ARN.
    async fn policy(&self, account: &str, arn: &str) -> Result<Option<ManagedPolicyRow>, StoreError>;

    /// A policy's versions, oldest first.
    async fn policy_versions(&self, account: &str, arn: &str) -> Result<Vec<PolicyVersionRow>, StoreError>;

    /// Adds a version (at most `max_versions` kept), the default one if `make_default`; the
    /// new version's number, or the outcome that prevented it.
    async fn insert_policy_version(
        &self,
        account: &str,
        arn: &str,
        document: &str,
        make_default: bool,
        max_versions: u32,
    ) -> Result<Result<i64, PolicyChange>, StoreError>;

    /// Deletes a version that is not the default.
    async fn delete_policy_version(&self, account: &str, arn: &str, version: i64) -> Result<PolicyChange, StoreError>;

    /// Makes an existing version the default.
    async fn set_default_policy_version(
        &self,
        account: &str,
        arn: &str,
        version: i64,
    ) -> Result<PolicyChange, StoreError>;

    /// Deletes a policy that is attached to nobody and has only its default version.
    async fn delete_policy(&self, account: &str, arn: &str) -> Result<PolicyChange, StoreError>;

    /// Attaches a managed policy (`local`: a customer managed one, which must exist) to a user
    /// or role holding fewer than `limit`.
    async fn attach_policy(
        &self,
        account: &str,
        kind: PrincipalKind,
        principal: &str,
        arn: &str,
        local: bool,
        limit: u32,
    ) -> Result<AttachOutcome, StoreError>;

    /// Detaches a managed policy; false if it was not attached.
    async fn detach_policy(
        &self,
        account: &str,
        kind: PrincipalKind,
        principal: &str,
        arn: &str,
    ) -> Result<bool, StoreError>;

    /// The ARNs of the managed policies attached to a user or role, sorted.
    async fn attached_policies(
        &self,
        account: &str,
        kind: PrincipalKind,
        principal: &str,
    ) -> Result<Vec<String>, StoreError>;

    /// How many users and roles of the account have `arn` attached (for AWS managed ones).
    async fn attachment_count(&self, account: &str, arn: &str) -> Result<i64, StoreError>;
}

/// STS temporary credentials.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores new credentials, and forgets those that expired before `forget_before_ms`
    /// (kept a while after they expire, so that they are answered as expired, not unknown).
    async fn insert_session(&self, row: &SessionRow, forget_before_ms: i64) -> Result<(), StoreError>;

    /// Credentials by access key id, expired or not.
    async fn session(&self, access_key_id: &str) -> Result<Option<SessionRow>, StoreError>;
}

/// Console sessions.
#[async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    /// Stores a new session.
    async fn insert_console_session(&self, row: &ConsoleSessionRow) -> Result<(), StoreError>;

    /// The session with this token hash, if it was used since `idle_since_ms`.
    async fn console_session(
        &self,
        token_hash: &str,
        idle_since_ms: i64,
    ) -> Result<Option<ConsoleSessionRow>, StoreError>;

    /// Records that a session was used at `now_ms`.
    async fn touch_console_session(&self, token_hash: &str, now_ms: i64) -> Result<(), StoreError>;

    /// Ends a session.
    async fn delete_console_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Forgets sessions idle since before `idle_since_ms`.
    async fn delete_idle_console_sessions(&self, idle_since_ms: i64) -> Result<(), StoreError>;
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends audit records in one transaction (records are never updated or deleted).
    async fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError>;

    /// Audit records of one (account, region), newest first.
    async fn audit_events(&self, scope: &Scope, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;
}

/// The store as a whole: readiness and the `--dev` reset.
#[async_trait]
pub trait Maintenance: Send + Sync + 'static {
    /// Checks that the database answers (the readiness endpoint); names the backend.
    async fn ping(&self) -> Result<&'static str, StoreError>;

    /// Removes everything (the `--dev` reset endpoint).
    async fn reset(&self) -> Result<(), StoreError>;
}

/// The store traits, for method calls on `dyn Store`.
pub mod prelude {
    pub use super::{
        AuditStore as _, AutoScalingStore as _, AutomationStore as _, ConsoleStore as _, IamStore as _,
        InstanceStore as _, KeyPairStore as _, LaunchTemplateStore as _, Maintenance as _, ParameterStore as _,
        StackStore as _, Store, TagStore as _,
    };
}

/// How `DeleteKeyPair` names its target.
#[derive(Debug, Clone, Copy)]
pub enum KeyPairRef<'a> {
    /// By `KeyName`.
    Name(&'a str),
    /// By `KeyPairId`.
    Id(&'a str),
}

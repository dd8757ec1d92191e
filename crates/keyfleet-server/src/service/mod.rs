//! AWS semantics, free of HTTP, XML and SQL: validation, ids, quotas, filters.
//!
//! Each operation takes typed input decoded by `api/` and returns typed output for
//! `api/` to encode. Failures are [`Error`] variants; `api/error.rs` holds the one mapping
//! from these to AWS codes, messages and statuses.

pub mod audit;
pub mod auto_scaling;
pub mod automation;
pub mod aws_policies;
pub mod cloudformation;
pub mod console;
pub mod envelope;
pub mod filter;
pub mod iam;
pub mod images;
pub mod instance_connect;
pub mod instance_types;
pub mod instances;
pub mod key_pairs;
pub mod key_pool;
pub mod launch_templates;
pub mod network;
pub mod parameter_filters;
pub mod parameters;
pub mod password;
pub mod policy;
pub mod regions;
pub mod roles;
pub mod security_groups;
pub mod sts;
pub mod tags;

use crate::store::StoreError;

/// Why an EC2 parameter's value is refused (`InvalidParameterValue`). Each names what was
/// wrong; the API layer gives it AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// A filter the listing does not have.
    UnknownFilter(String),
    /// A name that is not one of the Regions.
    UnknownRegion(String),
    /// `MinCount` below 1 or above `MaxCount`.
    InstanceCount {
        /// `MinCount`.
        min: u32,
        /// `MaxCount`.
        max: u32,
    },
    /// A tag with an empty key.
    TagKeyEmpty,
    /// A tag key in the reserved `aws:` prefix.
    TagKeyReserved(String),
    /// A tag key or value with control characters.
    TagControlCharacters,
    /// A tag key longer than this many characters.
    TagKeyTooLong(usize),
    /// A tag value longer than this many characters.
    TagValueTooLong(usize),
    /// A `TagSpecification` without `ResourceType`.
    TagSpecificationWithoutType,
    /// A `TagSpecification` for a resource type the action does not create.
    TagSpecificationType(String),
    /// A `TagSpecification` without tags.
    TagSpecificationWithoutTags,
    /// A `KeyPairId` that is not `key-` and 17 hex digits.
    KeyPairId(String),
    /// A key name with characters beyond ASCII.
    KeyNameNotAscii(String),
    /// A key name with control characters.
    KeyNameControlCharacters,
    /// A key name longer than this many characters.
    KeyNameTooLong(usize),
    /// An instance type keyfleet does not launch.
    InstanceType(String),
    /// An instance type whose architecture is not the image's.
    ArchitectureMismatch {
        /// The instance type's.
        instance: &'static str,
        /// The image's.
        image: String,
    },
    /// An Availability Zone name or id the caller's Region does not have.
    UnknownZone(String),
    /// A `DescribeAccountAttributes` name EC2 does not have.
    UnknownAccountAttribute(String),
    /// A `SubnetId` and a `Placement.AvailabilityZone` that disagree.
    SubnetNotInZone {
        /// The subnet asked for.
        subnet: String,
        /// The zone asked for.
        zone: String,
    },
}

/// Why an SSM input is refused (`ValidationException`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsmInvalid {
    /// A value empty or longer than this many bytes.
    ValueLength(usize),
    /// A new parameter without `Type`.
    TypeRequired,
    /// A path that does not begin with `/`.
    PathNotAbsolute(String),
    /// A name empty or longer than this many characters.
    NameLength(usize),
    /// A name with characters beyond `a-zA-Z0-9_.-/`.
    NameCharacters,
    /// A name that begins with `aws` or `ssm`.
    NameReservedPrefix,
    /// A hierarchical name that does not begin with `/`.
    NameHierarchyWithoutSlash,
    /// Not 1 to 10 names.
    BatchSize,
    /// Not 1 to 10 labels.
    LabelCount,
    /// A Standard-tier value over 4096 characters.
    StandardValueTooLarge,
    /// An Advanced-tier value over 8192 characters.
    AdvancedValueTooLarge,
    /// `Tier` Standard on an Advanced parameter.
    TierDowngrade,
    /// A `Tier` SSM does not have.
    TierValue(String),
    /// An `AllowedPattern` over 1024 characters.
    AllowedPatternLength,
    /// A `DataType` SSM does not have.
    DataType(String),
    /// Policies on a Standard-tier parameter.
    PoliciesNeedAdvanced,
    /// The tag at this position (from 1) has a key of the wrong length or characters.
    TagKey {
        /// Its position.
        position: usize,
    },
    /// The tag at this position has a value of the wrong length or characters.
    TagValue {
        /// Its position.
        position: usize,
    },
    /// A tag key in the reserved `aws:` prefix.
    TagKeyReserved(String),
    /// `Tags` with `Overwrite`: tags are set on creation only.
    TagsWithOverwrite,
}

/// Instance Connect: why a pushed key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushedKey {
    /// Not an OpenSSH public key line of an accepted type.
    Unreadable,
    /// An RSA key under 2048 bits.
    RsaTooShort,
}

/// Why a runbook's parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbookInput {
    /// A parameter the runbook does not define.
    Unknown(String),
    /// `InstanceId` is missing.
    MissingInstanceId,
    /// `AutomationAssumeRole` is not a role of the account that trusts Systems Manager.
    AssumeRoleUnusable,
    /// `AutomationAssumeRole` is not a role's ARN.
    AssumeRoleMalformed,
}

/// A runbook assertion that did not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assertion {
    /// The Windows branch on a Linux instance.
    NotWindows,
    /// keyfleet makes no backup images.
    NoBackupImage,
}

/// An IAM entity, by name or id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamEntity {
    /// A user.
    User(String),
    /// An access key.
    AccessKey(String),
    /// A user's inline policy.
    UserPolicy(String),
    /// A user's login profile (console password), by user name.
    LoginProfile(String),
    /// A role.
    Role(String),
    /// A role's inline policy.
    RolePolicy(String),
    /// A customer managed policy, by ARN (or, for EntityAlreadyExists, by name).
    Policy(String),
    /// An instance profile, by name.
    InstanceProfile(String),
    /// A version of a managed policy.
    PolicyVersion {
        /// The policy's ARN.
        arn: String,
        /// `v2`.
        version: String,
    },
    /// A managed policy that is not attached where DetachRolePolicy/DetachUserPolicy asks.
    Attachment(String),
}

/// What a user still owns when DeleteUser is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependents {
    /// Access keys.
    AccessKeys,
    /// Inline policies.
    Policies,
    /// A login profile (console password).
    LoginProfile,
    /// Attached managed policies.
    AttachedPolicies,
    /// A role in an instance profile (for DeleteRole and DeleteInstanceProfile alike).
    InstanceProfileRole,
}

/// Why DeletePolicy or DeletePolicyVersion is refused (`DeleteConflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyConflict {
    /// The policy is attached to users or roles.
    Attached,
    /// The policy has versions besides its default one.
    HasVersions,
    /// The version is the policy's default.
    DefaultVersion,
}

/// An IAM quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamLimit {
    /// Access keys per user.
    AccessKeysPerUser(u32),
    /// A user policy beyond 2048 bytes.
    PolicySize {
        /// The user.
        user: String,
    },
    /// Versions per managed policy.
    PolicyVersions,
    /// Roles in one instance profile (one).
    RolesPerInstanceProfile,
    /// Managed policies attached to one user or role.
    AttachedPolicies {
        /// To a role (else a user).
        role: bool,
        /// The quota.
        limit: u32,
    },
}

/// Why an IAM input is refused (`ValidationError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamInvalid {
    /// A name outside `[\w+=,.@-]+` or too long.
    NamePattern {
        /// The name.
        value: String,
        /// The member it was given as.
        member: &'static str,
    },
    /// A user action by a caller that is not a user, without `UserName`.
    UserNameRequired,
    /// `MaxSessionDuration` outside 3600–43200.
    MaxSessionDuration(i64),
    /// A `Path` that is not `/` or `/…/`.
    Path(String),
    /// A `Description` beyond 1000 characters.
    Description,
    /// A policy ARN that does not parse.
    PolicyArn,
    /// A `VersionId` that is not `v1`, `v2`, ….
    VersionId(String),
    /// A parameter keyfleet does not implement.
    Unsupported {
        /// The action.
        action: &'static str,
        /// The parameter.
        parameter: String,
    },
}

/// Why an STS input is refused (`ValidationError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsInvalid {
    /// `RoleArn` is not a role's ARN.
    RoleArn(String),
    /// `RoleSessionName` outside `[\w+=,.@-]{2,64}`.
    SessionName(String),
    /// `DurationSeconds` outside the action's range.
    Duration {
        /// The value.
        value: i64,
        /// The smallest allowed.
        min: i64,
        /// The largest allowed.
        max: i64,
    },
    /// `DurationSeconds` beyond the role's `MaxSessionDuration`.
    DurationAboveRole,
    /// `DurationSeconds` beyond an hour for a role session assuming a role.
    DurationChaining,
    /// An `ExternalId` outside `[\w+=,.@:/-]{2,1224}`.
    ExternalId,
}

/// Everything an operation can refuse or fail with. Each variant is one AWS error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An Auto Scaling request refused; each [`auto_scaling::Refused`] is one error.
    #[error("auto scaling: {0:?}")]
    AutoScaling(auto_scaling::Refused),
    /// A launch template request EC2 refuses; each [`launch_templates::Refused`] is one error.
    #[error("launch template: {0:?}")]
    LaunchTemplate(launch_templates::Refused),
    /// A stack request CloudFormation refuses (`ValidationError`, its own message).
    #[error("{0}")]
    StackInvalid(cloudformation::StackInvalid),
    /// The account and Region hold [`cloudformation::MAX_STACKS`] live stacks
    /// (`LimitExceededException`).
    #[error("stack limit reached")]
    StackLimitExceeded,
    /// A live stack has this name (`AlreadyExistsException`).
    #[error("stack {0:?} already exists")]
    StackExists(String),
    /// No stack by this name or id (`ValidationError` "Stack with id … does not exist").
    #[error("stack {0:?} does not exist")]
    StackNotFound(String),
    /// No stack by this name or id, as `DescribeStackEvents` says it ("Stack [...] does not
    /// exist").
    #[error("stack {0:?} does not exist")]
    StackEventsNotFound(String),
    /// The template's IAM resources need a capability the request lacks
    /// (`InsufficientCapabilitiesException`).
    #[error("requires capability {0}")]
    InsufficientCapabilities(&'static str),
    /// A key pair with this name exists in the scope (`InvalidKeyPair.Duplicate`).
    #[error("key pair {0:?} already exists")]
    KeyPairDuplicate(String),
    /// No key pair with this name (`InvalidKeyPair.NotFound`).
    #[error("key pair {0:?} does not exist")]
    KeyPairNotFound(String),
    /// No key pair with this id (`InvalidKeyPair.NotFound`).
    #[error("key pair id {0:?} does not exist")]
    KeyPairIdNotFound(String),
    /// The scope holds its quota of key pairs (`KeyPairLimitExceeded`).
    #[error("key pair quota reached")]
    KeyPairLimitExceeded,
    /// Imported material is not a key EC2 accepts (`InvalidKey.Format`).
    #[error("invalid public key: {0}")]
    InvalidKeyFormat(#[from] keyfleet_keys::ImportError),
    /// A parameter's value is unacceptable (`InvalidParameterValue`); `api/error.rs` words it.
    #[error("invalid parameter value: {0:?}")]
    InvalidParameterValue(Invalid),
    /// A required parameter is absent (`MissingParameter`); holds AWS's parameter name.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// A resource id that is not well formed (`InvalidID`).
    #[error("invalid id {0:?}")]
    InvalidId(String),
    /// A resource would carry more than 50 tags (`TagLimitExceeded`).
    #[error("tag limit exceeded")]
    TagLimitExceeded,
    /// No such image (`InvalidAMIID.NotFound`).
    #[error("image {0:?} does not exist")]
    ImageNotFound(String),
    /// No such instances (`InvalidInstanceID.NotFound`).
    #[error("instances {0:?} do not exist")]
    InstanceNotFound(Vec<String>),
    /// An instance id that is not `i-` + hex (`InvalidInstanceID.Malformed`).
    #[error("malformed instance id {0:?}")]
    InstanceIdMalformed(String),
    /// TerminateInstances on an instance with `disableApiTermination` (`OperationNotPermitted`).
    #[error("instance {0} is protected from termination")]
    TerminationProtected(String),
    /// An attribute that changes only while the instance is stopped (`IncorrectInstanceState`).
    #[error("instance {0} is not stopped")]
    NotStopped(String),
    /// The instance's state does not allow the action (`IncorrectInstanceState`).
    #[error("instance {instance_id} cannot be {verb}")]
    IncorrectInstanceState {
        /// The instance.
        instance_id: String,
        /// `started`, `stopped`, `rebooted`.
        verb: &'static str,
    },
    /// The account's instance quota is used up (`VcpuLimitExceeded`; every keyfleet
    /// instance counts as one vCPU).
    #[error("instance quota of {0} reached")]
    VcpuLimitExceeded(u32),
    /// A root volume below the image's snapshot size (`InvalidBlockDeviceMapping`).
    #[error("root volume of {asked} GiB is smaller than the image's snapshot ({snapshot_gib} GiB)")]
    RootVolumeTooSmall {
        /// GiB asked for.
        asked: u64,
        /// The snapshot's GiB.
        snapshot_gib: u32,
    },
    /// A root volume beyond the largest EBS gp2/gp3 volume (`InvalidParameterValue`).
    #[error("root volume of {asked} GiB is larger than {max} GiB")]
    RootVolumeTooLarge {
        /// GiB asked for.
        asked: u64,
        /// The largest.
        max: u32,
    },
    /// A block device other than the root device (`InvalidBlockDeviceMapping`): keyfleet
    /// instances have one volume.
    #[error("block device {0} is not the root device")]
    ExtraBlockDevice(String),
    /// A request parameter keyfleet does not implement (`UnsupportedOperation`): refused,
    /// never dropped.
    #[error("{action}: parameter {parameter} is not implemented")]
    UnsupportedParameter {
        /// The action.
        action: &'static str,
        /// The parameter as sent.
        parameter: String,
    },
    /// A RunInstances `ClientToken` used before with other parameters
    /// (`IdempotentParameterMismatch`).
    #[error("client token reused with other parameters")]
    IdempotentParameterMismatch,
    /// No such volume (`InvalidVolume.NotFound`).
    #[error("no volume {0}")]
    VolumeNotFound(String),
    /// DeleteVolume of a volume attached to an instance (`VolumeInUse`).
    #[error("volume {volume} is attached to {instance}")]
    VolumeInUse {
        /// The volume.
        volume: String,
        /// Its instance.
        instance: String,
    },
    /// No such VPC (`InvalidVpcID.NotFound`).
    #[error("no VPC {0}")]
    VpcNotFound(String),
    /// No such security group (`InvalidGroup.NotFound`).
    #[error("no security group {0}")]
    SecurityGroupNotFound(String),
    /// No security group of this name in the default VPC (`InvalidGroup.NotFound`).
    #[error("no security group named {name}")]
    SecurityGroupNameNotFound {
        /// The name asked for.
        name: String,
        /// The default VPC.
        vpc_id: String,
    },
    /// A group of this name exists (`InvalidGroup.Duplicate`).
    #[error("security group {name} exists")]
    SecurityGroupDuplicate {
        /// The name.
        name: String,
        /// The default VPC.
        vpc_id: String,
    },
    /// A name or description EC2 does not accept (`InvalidParameterValue`).
    #[error("invalid {field}")]
    InvalidSecurityGroupText {
        /// `GroupName`, `GroupDescription` or `Description`.
        field: &'static str,
        /// As sent.
        text: String,
    },
    /// The default group cannot be deleted (`CannotDelete`).
    #[error("the default group {0} cannot be deleted")]
    CannotDeleteDefaultGroup(String),
    /// An instance is in the group, or a rule names it (`DependencyViolation`).
    #[error("security group {0} is in use")]
    SecurityGroupInUse(String),
    /// The default VPC holds as many groups as it may (`SecurityGroupLimitExceeded`).
    #[error("security group limit reached in {0}")]
    SecurityGroupLimitExceeded(String),
    /// More groups than an instance may have (`SecurityGroupsPerInstanceLimitExceeded`).
    #[error("too many security groups for one instance")]
    SecurityGroupsPerInstanceExceeded,
    /// A rule that is there already (`InvalidPermission.Duplicate`), as EC2 words it.
    #[error("duplicate rule {0}")]
    PermissionDuplicate(String),
    /// A malformed permission (`InvalidParameterValue`), with what was wrong.
    #[error("invalid permission: {0}")]
    InvalidPermission(String),
    /// The group would hold too many rules (`RulesPerSecurityGroupLimitExceeded`).
    #[error("too many rules")]
    RulesPerGroupLimitExceeded,
    /// No such rule id (`InvalidSecurityGroupRuleId.NotFound`).
    #[error("no security group rule {0}")]
    SecurityGroupRuleNotFound(String),
    /// DescribeInstanceTypes names types keyfleet does not have (`InvalidInstanceType`).
    #[error("unknown instance types {0:?}")]
    UnknownInstanceTypes(Vec<String>),
    /// No such subnet (`InvalidSubnetID.NotFound`).
    #[error("no subnet {0}")]
    SubnetNotFound(String),
    /// The root volumes would pass the server's `--volume-capacity-gib`, which holds this many
    /// GiB (`VolumeLimitExceeded`).
    #[error("volume capacity of {0} GiB reached")]
    VolumeLimitExceeded(u64),
    /// No loopback address is free (`InsufficientInstanceCapacity`).
    #[error("no capacity")]
    InsufficientCapacity,
    /// The runtime could not boot or clean up an instance. Clients see `InternalError`.
    #[error("runtime: {0}")]
    Runtime(#[source] crate::runtime::RuntimeError),
    /// A tagging call for a parameter that does not exist (`InvalidResourceId`).
    #[error("no such resource to tag")]
    SsmInvalidResourceId,
    /// A tagging call for a resource type other than `Parameter` (`InvalidResourceType`).
    #[error("resource type {0} cannot be tagged here")]
    SsmInvalidResourceType(String),
    /// A parameter would carry more than 50 tags (`TooManyTagsError`).
    #[error("too many tags")]
    SsmTooManyTags,
    /// No such parameter (`ParameterNotFound`, sent with no message, as AWS does).
    #[error("parameter not found")]
    ParameterNotFound,
    /// No such version of an existing parameter (`ParameterVersionNotFound`).
    #[error("version {version} of {name} not found")]
    ParameterVersionNotFound {
        /// The parameter.
        name: String,
        /// The version asked for.
        version: i64,
    },
    /// The value does not match the parameter's `AllowedPattern` (`ParameterPatternMismatchException`).
    #[error("value does not match {0}")]
    ParameterPatternMismatch(String),
    /// An `AllowedPattern` that is not a regular expression keyfleet can run
    /// (`InvalidAllowedPatternException`).
    #[error("invalid allowed pattern: {0}")]
    InvalidAllowedPattern(String),
    /// `Policies` refused: `InvalidPolicyTypeException`, `InvalidPolicyAttributeException`,
    /// `PoliciesLimitExceededException` or `IncompatiblePolicyException`.
    #[error("{code}: {message}")]
    ParameterPolicy {
        /// The SSM error code.
        code: &'static str,
        /// Its message.
        message: String,
    },
    /// A version would carry more than 10 labels (`ParameterVersionLabelLimitExceeded`).
    #[error("too many labels on one version")]
    ParameterVersionLabelLimitExceeded,
    /// The oldest of 100 versions holds a label, so no new one can be made
    /// (`ParameterMaxVersionLimitExceeded`).
    #[error("version {version} of {name} is labelled and the oldest")]
    ParameterMaxVersionLimitExceeded {
        /// The parameter.
        name: String,
        /// Its oldest version.
        version: i64,
    },
    /// The name exists and `Overwrite` was not set (`ParameterAlreadyExists`).
    #[error("parameter already exists")]
    ParameterAlreadyExists,
    /// An overwrite tried to change the type (`HierarchyTypeMismatchException`).
    #[error("parameter type {existing} cannot become {requested}")]
    ParameterTypeMismatch {
        /// The stored type.
        existing: String,
        /// The requested type.
        requested: String,
    },
    /// A `Type` other than String, StringList, SecureString (`UnsupportedParameterType`).
    #[error("unsupported parameter type {0}")]
    UnsupportedParameterType(String),
    /// More than 15 levels (`HierarchyLevelLimitExceededException`).
    #[error("hierarchy too deep")]
    SsmHierarchyTooDeep,
    /// An SSM input constraint (`ValidationException`).
    #[error("invalid SSM input: {0:?}")]
    SsmValidation(SsmInvalid),
    /// A Parameter Store filter refused: `InvalidFilterKey`, `InvalidFilterOption` or
    /// `InvalidFilterValue`.
    #[error("{code}: {message}")]
    ParameterFilter {
        /// The SSM error code.
        code: &'static str,
        /// Its message.
        message: String,
    },
    /// An EC2 listing's `MaxResults` or `NextToken` is refused (`InvalidParameterValue`).
    #[error("paging: {0}")]
    Ec2Page(crate::common::page::PageError),
    /// An SSM listing's `MaxResults` (`ValidationException`) or `NextToken`
    /// (`InvalidNextToken`) is refused.
    #[error("paging: {0}")]
    SsmPage(crate::common::page::PageError),
    /// IAM: `MaxItems` or `Marker` refused (`ValidationError`).
    #[error("IAM page: {0}")]
    IamPage(crate::common::page::PageError),
    /// A secret could not be sealed or opened. Clients see `InternalServerError`.
    #[error("secret: {0}")]
    Secret(#[source] envelope::EnvelopeError),
    /// Instance Connect: the key is not an ed25519 or RSA ≥ 2048 OpenSSH key (`InvalidArgsException`).
    #[error("pushed key invalid: {0:?}")]
    PushedKeyInvalid(PushedKey),
    /// Instance Connect: no such instance (`EC2InstanceNotFoundException`).
    #[error("instance not found")]
    ConnectInstanceNotFound,
    /// Instance Connect: the instance is stopped or terminated (`EC2InstanceStateInvalidException`).
    #[error("instance not running")]
    ConnectInstanceStateInvalid,
    /// No such runbook (`AutomationDefinitionNotFoundException`).
    #[error("runbook {0} not found")]
    AutomationDefinitionNotFound(String),
    /// Runbook parameters are missing or unknown (`InvalidAutomationExecutionParametersException`).
    #[error("runbook parameters: {0:?}")]
    InvalidAutomationParameters(RunbookInput),
    /// No such execution (`AutomationExecutionNotFoundException`).
    #[error("execution {0} not found")]
    AutomationExecutionNotFound(String),
    /// Another execution is still working on this instance (`AutomationExecutionLimitExceededException`).
    #[error("an automation is already running on {0}")]
    AutomationAlreadyRunning(String),
    /// The execution has ended (`InvalidAutomationStatusUpdateException`); holds its status.
    #[error("execution already {0}")]
    InvalidAutomationStatusUpdate(String),
    /// A runbook assertion did not hold (a step's failure, never an API error).
    #[error("assertion failed: {0:?}")]
    AssertionFailed(Assertion),
    /// IAM: the name is taken (`EntityAlreadyExists`); holds IAM's message.
    #[error("{0:?} exists")]
    IamEntityExists(IamEntity),
    /// IAM: no such user, key or policy (`NoSuchEntity`).
    #[error("no such {0:?}")]
    IamNoSuchEntity(IamEntity),
    /// IAM: the user still owns keys or policies (`DeleteConflict`).
    #[error("user still has {0:?}")]
    IamDeleteConflict(Dependents),
    /// IAM: a quota (`LimitExceeded`).
    #[error("IAM limit: {0:?}")]
    IamLimitExceeded(IamLimit),
    /// IAM: an input constraint (`ValidationError`).
    #[error("invalid IAM input: {0:?}")]
    IamValidation(IamInvalid),
    /// IAM: the password does not meet the account's password policy
    /// (`PasswordPolicyViolation`).
    #[error("the password does not meet the password policy")]
    PasswordPolicyViolation,
    /// The operating system gave no randomness (`InternalError`).
    #[error("randomness: {0}")]
    Randomness(String),
    /// Hashing or checking a password failed (`InternalError`).
    #[error("password hash: {0}")]
    PasswordHash(String),
    /// IAM: DeletePolicy or DeletePolicyVersion refused (`DeleteConflict`).
    #[error("IAM policy conflict: {0:?}")]
    IamPolicyConflict(PolicyConflict),
    /// IAM: attaching a managed policy that does not exist (`NoSuchEntity`).
    #[error("policy {0} is not attachable")]
    IamPolicyNotAttachable(String),
    /// STS: the caller may not assume the role, or it does not exist (`AccessDenied`).
    #[error("{caller} may not assume {role}")]
    StsAccessDenied {
        /// The caller's ARN.
        caller: String,
        /// The role's ARN, as asked.
        role: String,
    },
    /// STS: the account's root asked to assume a role (`AccessDenied`).
    #[error("root may not assume roles")]
    StsRootCannotAssume,
    /// STS: GetSessionToken with temporary credentials (`AccessDenied`).
    #[error("GetSessionToken with session credentials")]
    StsSessionCredentials,
    /// STS: an input constraint (`ValidationError`).
    #[error("invalid STS input: {0:?}")]
    StsValidation(StsInvalid),
    /// IAM: the policy document is refused (`MalformedPolicyDocument`).
    #[error("{0}")]
    MalformedPolicy(String),
    /// Reading or writing an instance's volume failed.
    #[error("volume: {0}")]
    VolumeIo(#[source] std::io::Error),
    /// The store failed. The cause is logged; clients see `InternalError`.
    #[error("store: {0}")]
    Store(#[source] StoreError),
    /// Key encoding failed for a key we generated. Clients see `InternalError`.
    #[error("key encoding: {0}")]
    Encode(#[from] keyfleet_keys::EncodeError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

/// The result type of every service operation.
pub type Result<T> = std::result::Result<T, Error>;

pub use crate::common::time::now_ms;

/// Readiness for load balancers: whether the store answers.
pub struct Health {
    store: std::sync::Arc<dyn crate::store::Store>,
}

impl Health {
    /// Readiness of this store.
    pub fn new(store: std::sync::Arc<dyn crate::store::Store>) -> Self {
        Health { store }
    }

    /// Checks that the database answers; names the backend.
    pub async fn ping(&self) -> Result<&'static str> {
        Ok(self.store.ping().await?)
    }
}

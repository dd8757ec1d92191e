//! The one place where failures become AWS errors: code, message and HTTP status.
//!
//! `From<service::Error>` matches every service variant, so a new variant does not
//! compile until it has its AWS code here. Internal causes are logged and replaced by
//! a generic message.

use std::borrow::Cow;

use axum::http::StatusCode;
use keyfleet_keys::ImportError;

use crate::api::auth::AuthError;
use crate::common::page::PageError;
use crate::service::{
    Assertion, Dependents, Error, IamEntity, IamInvalid, IamLimit, Invalid, PolicyConflict, PushedKey, RunbookInput,
    SsmInvalid, StsInvalid,
};

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// AWS's error code, e.g. `InvalidKeyPair.NotFound`.
    pub code: Cow<'static, str>,
    /// AWS's message.
    pub message: String,
    /// The HTTP status.
    pub status: StatusCode,
    /// How the JSON 1.1 body spells the message member. The SSM model spells its
    /// Parameter Store errors' member `message` and its Automation errors' `Message`.
    pub json_message: JsonMessage,
}

/// The member a JSON 1.1 error body carries its message in, as the service model has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonMessage {
    /// `message` in SSM's shapes; `Message` in the other JSON services'.
    ServiceDefault,
    /// `Message` whatever the service (SSM's Automation errors).
    Capitalized,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>, status: StatusCode) -> Self {
        ApiError {
            code: Cow::Borrowed(code),
            message: message.into(),
            status,
            json_message: JsonMessage::ServiceDefault,
        }
    }

    /// An error with its code, message and status spelled out (policy denials).
    pub fn custom(code: &'static str, message: String, status: StatusCode) -> Self {
        Self::new(code, message, status)
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, message, StatusCode::BAD_REQUEST)
    }

    /// This error's JSON message member is `Message` in every service.
    fn capitalized(mut self) -> Self {
        self.json_message = JsonMessage::Capitalized;
        self
    }

    /// `MissingParameter` for a required parameter.
    pub fn missing_parameter(name: &str) -> Self {
        Self::bad_request("MissingParameter", format!("The request must contain the parameter {name}"))
    }

    /// `InvalidParameterValue` with AWS's message.
    pub fn invalid_parameter_value(message: String) -> Self {
        Self::bad_request("InvalidParameterValue", message)
    }

    /// A `*.NotFound` code this layer answers itself.
    pub fn not_found(code: &'static str, message: String) -> Self {
        Self::bad_request(code, message)
    }

    /// A JSON body that does not parse.
    pub fn serialization() -> Self {
        Self::bad_request("SerializationException", "Start of structure or map found where not expected.")
    }

    /// Instance Connect's parameter validation failure.
    pub fn invalid_args(message: String) -> Self {
        Self::bad_request("InvalidArgsException", message)
    }

    /// A JSON-protocol constraint violation.
    pub fn validation(message: String) -> Self {
        Self::bad_request("ValidationException", message)
    }

    /// A filter key the operation does not know; SSM sends this one with no message.
    pub fn invalid_filter_key() -> Self {
        Self::bad_request("InvalidFilterKey", "")
    }

    /// An `X-Amz-Target` operation that does not exist.
    pub fn unknown_operation(target: &str) -> Self {
        Self::bad_request("UnknownOperationException", format!("Operation {target} is not supported."))
    }

    /// `InvalidAction` for an action this service does not have.
    pub fn invalid_action(action: &str) -> Self {
        Self::bad_request("InvalidAction", format!("The action {action} is not valid for this web service."))
    }

    /// The 412 answer to an authorized `DryRun=true`.
    pub fn dry_run() -> Self {
        Self::new(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
            StatusCode::PRECONDITION_FAILED,
        )
    }

    /// A failure that is ours, not the caller's. The detail goes to the log only.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new("InternalError", "An internal error has occurred", StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The client took too long to send its request.
    pub fn request_timeout() -> Self {
        Self::new("RequestTimeout", "The request took too long to arrive", StatusCode::REQUEST_TIMEOUT)
    }

    /// Over the per-key rate limit: EC2's `RequestLimitExceeded`, or the JSON services'
    /// `ThrottlingException`; the SDKs back off and retry both.
    pub fn throttled(ec2: bool) -> Self {
        if ec2 {
            Self::new("RequestLimitExceeded", "Request limit exceeded.", StatusCode::SERVICE_UNAVAILABLE)
        } else {
            Self::bad_request("ThrottlingException", "Rate exceeded")
        }
    }

    /// The request body was larger than the server accepts.
    pub fn body_too_large() -> Self {
        Self::new("RequestEntityTooLarge", "The request body is too large", StatusCode::PAYLOAD_TOO_LARGE)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::KeyPairDuplicate(name) => {
                Self::bad_request("InvalidKeyPair.Duplicate", format!("The keypair '{name}' already exists."))
            }
            Error::KeyPairNotFound(name) => {
                Self::bad_request("InvalidKeyPair.NotFound", format!("The key pair '{name}' does not exist"))
            }
            Error::KeyPairIdNotFound(id) => {
                Self::bad_request("InvalidKeyPair.NotFound", format!("The key pair ID '{id}' does not exist"))
            }
            Error::KeyPairLimitExceeded => {
                Self::bad_request("KeyPairLimitExceeded", "Maximum number of key pairs has been reached.")
            }
            Error::InvalidKeyFormat(ImportError::TooLong { max }) => Self::invalid_parameter_value(format!(
                "Value for parameter PublicKeyMaterial is invalid. Length exceeds maximum of {max}."
            )),
            Error::InvalidKeyFormat(ImportError::NotAscii) => Self::invalid_parameter_value(
                "Value for parameter PublicKeyMaterial is invalid. Character sets beyond ASCII are not supported."
                    .into(),
            ),
            Error::InvalidKeyFormat(_) => {
                Self::bad_request("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
            }
            Error::InvalidParameterValue(why) => Self::invalid_parameter_value(invalid_message(why)),
            Error::MissingParameter(name) => Self::missing_parameter(name),
            Error::InvalidId(id) => Self::bad_request("InvalidID", format!("The ID '{id}' is not valid")),
            Error::TagLimitExceeded => {
                Self::bad_request("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
            }
            Error::ImageNotFound(id) => {
                Self::bad_request("InvalidAMIID.NotFound", format!("The image id '[{id}]' does not exist"))
            }
            Error::InstanceNotFound(ids) if ids.len() == 1 => Self::bad_request(
                "InvalidInstanceID.NotFound",
                format!("The instance ID '{}' does not exist", ids.join("")),
            ),
            Error::InstanceNotFound(ids) => Self::bad_request(
                "InvalidInstanceID.NotFound",
                format!("The instance IDs '{}' do not exist", ids.join(", ")),
            ),
            Error::InstanceIdMalformed(id) => {
                Self::bad_request("InvalidInstanceID.Malformed", format!("Invalid id: \"{id}\""))
            }
            Error::TerminationProtected(id) => Self::bad_request(
                "OperationNotPermitted",
                format!(
                    "The instance '{id}' may not be terminated. Modify its 'disableApiTermination' instance attribute \
                     and try again."
                ),
            ),
            Error::NotStopped(id) => Self::bad_request(
                "IncorrectInstanceState",
                format!("The instance '{id}' is not in the 'stopped' state."),
            ),
            Error::IncorrectInstanceState { instance_id, verb } => Self::bad_request(
                "IncorrectInstanceState",
                format!("The instance '{instance_id}' is not in a state from which it can be {verb}."),
            ),
            Error::VcpuLimitExceeded(limit) => Self::bad_request(
                "VcpuLimitExceeded",
                format!(
                    "You have requested more vCPU capacity than your current vCPU limit of {limit} allows for the \
                     instance bucket that the specified instance type belongs to. Please visit \
                     http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."
                ),
            ),
            Error::RootVolumeTooSmall { asked, snapshot_gib } => Self::bad_request(
                "InvalidBlockDeviceMapping",
                format!("Volume of size {asked}GB is smaller than snapshot, expect size >= {snapshot_gib}GB"),
            ),
            Error::RootVolumeTooLarge { asked, max } => Self::invalid_parameter_value(format!(
                "Volume of {asked}GiB is too large; the largest gp2 or gp3 volume is {max}GiB."
            )),
            Error::ExtraBlockDevice(device) => Self::bad_request(
                "InvalidBlockDeviceMapping",
                format!(
                    "keyfleet instances have one volume, the root device {}; {device} cannot be mapped.",
                    crate::service::instances::ROOT_DEVICE
                ),
            ),
            Error::IdempotentParameterMismatch => Self::bad_request(
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource that is already deleted or whose parameters differ from this request. Please use a different client token.",
            ),
            Error::UnsupportedParameter { action, parameter } => Self::bad_request(
                "UnsupportedOperation",
                format!("The parameter {parameter} of {action} is not supported by keyfleet."),
            ),
            Error::VpcNotFound(id) => {
                Self::bad_request("InvalidVpcID.NotFound", format!("The vpc ID '{id}' does not exist"))
            }
            Error::SecurityGroupNotFound(id) => {
                Self::bad_request("InvalidGroup.NotFound", format!("The security group '{id}' does not exist"))
            }
            Error::SecurityGroupNameNotFound { name, vpc_id } => Self::bad_request(
                "InvalidGroup.NotFound",
                format!("The security group '{name}' does not exist in default VPC '{vpc_id}'"),
            ),
            Error::SecurityGroupDuplicate { name, vpc_id } => Self::bad_request(
                "InvalidGroup.Duplicate",
                format!("The security group '{name}' already exists for VPC '{vpc_id}'"),
            ),
            Error::InvalidSecurityGroupText { field, text } => Self::invalid_parameter_value(format!(
                "Value ({text}) for parameter {field} is invalid. Up to 255 characters of a-z, A-Z, 0-9, spaces \
                 and ._-:/()#,@[]+=&;{{}}!$* are allowed."
            )),
            Error::CannotDeleteDefaultGroup(id) => Self::bad_request(
                "CannotDelete",
                format!("the specified group: \"{id}\" name: \"default\" cannot be deleted by a user"),
            ),
            Error::SecurityGroupInUse(id) => {
                Self::bad_request("DependencyViolation", format!("resource {id} has a dependent object"))
            }
            Error::SecurityGroupLimitExceeded(vpc_id) => Self::bad_request(
                "SecurityGroupLimitExceeded",
                format!("The maximum number of security groups for VPC '{vpc_id}' has been reached."),
            ),
            Error::SecurityGroupsPerInstanceExceeded => Self::bad_request(
                "SecurityGroupsPerInstanceLimitExceeded",
                "The maximum number of security groups per interface has been reached.",
            ),
            Error::PermissionDuplicate(rule) => Self::bad_request(
                "InvalidPermission.Duplicate",
                format!("the specified rule \"{rule}\" already exists"),
            ),
            Error::InvalidPermission(why) => Self::invalid_parameter_value(why),
            Error::RulesPerGroupLimitExceeded => Self::bad_request(
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.",
            ),
            Error::SecurityGroupRuleNotFound(id) => Self::bad_request(
                "InvalidSecurityGroupRuleId.NotFound",
                format!("The security group rule ID '{id}' does not exist"),
            ),
            Error::UnknownInstanceTypes(names) => Self::bad_request(
                "InvalidInstanceType",
                format!("The following supplied instance types do not exist: [{}]", names.join(", ")),
            ),
            Error::SubnetNotFound(id) => {
                Self::bad_request("InvalidSubnetID.NotFound", format!("The subnet ID '{id}' does not exist"))
            }
            Error::VolumeNotFound(id) => {
                Self::bad_request("InvalidVolume.NotFound", format!("The volume '{id}' does not exist."))
            }
            Error::VolumeInUse { volume, instance } => {
                Self::bad_request("VolumeInUse", format!("Volume {volume} is currently attached to {instance}"))
            }
            Error::VolumeLimitExceeded(gib) => Self::bad_request(
                "VolumeLimitExceeded",
                format!("The root volumes would exceed this server's volume capacity of {gib} GiB."),
            ),
            Error::InsufficientCapacity => Self::new(
                "InsufficientInstanceCapacity",
                "We currently do not have sufficient capacity in the Availability Zone you requested.",
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            // Real SSM sends this one with no message at all (docs/aws-facts.md, "AWS JSON 1.1 protocol").
            Error::ParameterNotFound => Self::bad_request("ParameterNotFound", ""),
            Error::SsmInvalidResourceId => Self::bad_request("InvalidResourceId", ""),
            Error::SsmTooManyTags => Self::bad_request("TooManyTagsError", ""),
            Error::SsmInvalidResourceType(kind) => Self::bad_request(
                "InvalidResourceType",
                format!("The resource type {kind} cannot be tagged in keyfleet: only Parameter resources can."),
            ),
            Error::ParameterVersionNotFound { name, version } => Self::bad_request(
                "ParameterVersionNotFound",
                format!(
                    "Systems Manager could not find version {version} of {name}. Verify the version and try again."
                ),
            ),
            Error::ParameterPatternMismatch(pattern) => Self::bad_request(
                "ParameterPatternMismatchException",
                format!("Parameter value, cannot be validated against allowedPattern: {pattern}"),
            ),
            Error::InvalidAllowedPattern(why) => Self::bad_request(
                "InvalidAllowedPatternException",
                format!("The allowed pattern is not a regular expression keyfleet can match: {why}"),
            ),
            Error::ParameterPolicy { code, message } => Self::bad_request(code, message),
            Error::ParameterVersionLabelLimitExceeded => Self::bad_request(
                "ParameterVersionLabelLimitExceeded",
                "A parameter version can have a maximum of 10 labels. Move one or more labels to another version and \
                 try again.",
            ),
            Error::ParameterMaxVersionLimitExceeded { name, version } => Self::bad_request(
                "ParameterMaxVersionLimitExceeded",
                format!(
                    "You attempted to create a new version of {name} by calling the PutParameter API with the overwrite \
                     flag. Version {version}, the oldest version, can't be deleted because it has a label associated \
                     with it. Move the label to another version of the parameter, and try again."
                ),
            ),
            Error::ParameterAlreadyExists => Self::bad_request(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            ),
            Error::ParameterTypeMismatch { existing, requested } => Self::bad_request(
                "HierarchyTypeMismatchException",
                format!("The parameter type can't be changed from {existing} to {requested}."),
            ),
            Error::UnsupportedParameterType(kind) => {
                Self::bad_request("UnsupportedParameterType", format!("The parameter type {kind} is not supported."))
            }
            Error::SsmHierarchyTooDeep => Self::bad_request(
                "HierarchyLevelLimitExceededException",
                "A hierarchy can have a maximum of 15 levels.",
            ),
            Error::SsmValidation(why) => Self::bad_request("ValidationException", ssm_invalid_message(why)),
            Error::ParameterFilter { code, message } => Self::bad_request(code, message),
            Error::Ec2Page(PageError::MaxResults { asked, min, max }) => Self::invalid_parameter_value(format!(
                "Value ( {asked} ) for parameter maxResults is invalid. Expecting a value between {min} and {max}."
            )),
            Error::Ec2Page(PageError::Token(token)) => {
                Self::invalid_parameter_value(format!("The token '{token}' is invalid."))
            }
            Error::SsmPage(PageError::MaxResults { asked, min, max }) => {
                let bound = match asked.parse::<i64>() {
                    Ok(n) if n < i64::from(min) => format!("greater than or equal to {min}"),
                    _ => format!("less than or equal to {max}"),
                };
                Self::bad_request(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value '{asked}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"
                    ),
                )
            }
            Error::IamPage(PageError::MaxResults { asked, min, max }) => {
                let bound = match asked.parse::<i64>() {
                    Ok(n) if n < i64::from(min) => format!("greater than or equal to {min}"),
                    _ => format!("less than or equal to {max}"),
                };
                Self::bad_request(
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{asked}' at 'maxItems' failed to satisfy constraint: Member must have value {bound}"
                    ),
                )
            }
            Error::IamPage(PageError::Token(_)) => Self::bad_request("ValidationError", "Invalid Marker."),
            Error::SsmPage(PageError::Token(_)) => {
                Self::bad_request("InvalidNextToken", "The specified token is not valid.")
            }
            Error::PushedKeyInvalid(why) => {
                let what = match why {
                    PushedKey::Unreadable => "SSH Public key is invalid",
                    PushedKey::RsaTooShort => "RSA - SSH Public key is invalid",
                };
                Self::bad_request(
                    "InvalidArgsException",
                    format!("Invalid input parameter received for Illegal argument exception: {what}"),
                )
            }
            Error::ConnectInstanceNotFound => {
                Self::bad_request("EC2InstanceNotFoundException", "The specified instance was not found.")
            }
            Error::ConnectInstanceStateInvalid => Self::bad_request(
                "EC2InstanceStateInvalidException",
                "Connecting to a stopped or terminated instance is not supported. If the instance is stopped, start your instance, and try to connect again.",
            ),
            Error::AutomationDefinitionNotFound(_) => Self::bad_request(
                "AutomationDefinitionNotFoundException",
                "An Automation runbook with the specified name couldn't be found.",
            )
            .capitalized(),
            Error::InvalidAutomationParameters(why) => {
                let message = match why {
                    RunbookInput::Unknown(name) => format!(
                        "Parameter \"{name}\" is not defined in document {}.",
                        crate::service::automation::RESET_ACCESS
                    ),
                    RunbookInput::MissingInstanceId => "Missing required parameter: InstanceId in user inputs.".into(),
                    RunbookInput::AssumeRoleUnusable => "The defined assume role is unable to be assumed.".into(),
                    RunbookInput::AssumeRoleMalformed => "The format of the supplied assume role ARN is invalid.".into(),
                };
                Self::bad_request("InvalidAutomationExecutionParametersException", message).capitalized()
            }
            Error::AutomationExecutionNotFound(id) => Self::bad_request(
                "AutomationExecutionNotFoundException",
                format!("Automation execution {id} could not be found."),
            )
            .capitalized(),
            Error::AutomationAlreadyRunning(instance) => Self::bad_request(
                "AutomationExecutionLimitExceededException",
                format!("An automation execution is already running on instance {instance}. Wait for it to finish."),
            )
            .capitalized(),
            Error::InvalidAutomationStatusUpdate(status) => Self::bad_request(
                "InvalidAutomationStatusUpdateException",
                format!("The execution status is {status} and cannot be changed."),
            )
            .capitalized(),
            Error::AssertionFailed(why) => Self::bad_request(
                "AssertionFailed",
                match why {
                    Assertion::NotWindows => "The platform of the instance is Linux, not Windows.",
                    Assertion::NoBackupImage => "keyfleet does not create backup AMIs.",
                },
            ),
            Error::IamEntityExists(entity) => {
                let message = match entity {
                    IamEntity::User(name) => format!("User with name {name} already exists."),
                    IamEntity::LoginProfile(name) => format!("Login Profile for user {name} already exists."),
                    IamEntity::Role(name) => format!("Role with name {name} already exists."),
                    IamEntity::InstanceProfile(name) => format!("Instance Profile {name} already exists."),
                    IamEntity::Policy(name) => {
                        format!("A policy called {name} already exists. Duplicate names are not allowed.")
                    }
                    other => format!("{} already exists.", iam_entity(&other)),
                };
                Self::new("EntityAlreadyExists", message, StatusCode::CONFLICT)
            }
            Error::IamNoSuchEntity(IamEntity::Policy(arn) | IamEntity::Attachment(arn)) => {
                Self::new("NoSuchEntity", format!("Policy {arn} was not found."), StatusCode::NOT_FOUND)
            }
            Error::IamNoSuchEntity(IamEntity::PolicyVersion { arn, version }) => Self::new(
                "NoSuchEntity",
                format!("Policy {arn} version {version} does not exist or is not attachable."),
                StatusCode::NOT_FOUND,
            ),
            Error::IamNoSuchEntity(IamEntity::LoginProfile(name)) => Self::new(
                "NoSuchEntity",
                format!("Login Profile for User {name} cannot be found."),
                StatusCode::NOT_FOUND,
            ),
            Error::IamNoSuchEntity(IamEntity::InstanceProfile(name)) => Self::new(
                "NoSuchEntity",
                format!("Instance Profile {name} cannot be found."),
                StatusCode::NOT_FOUND,
            ),
            Error::IamNoSuchEntity(entity) => Self::new(
                "NoSuchEntity",
                format!("The {} cannot be found.", iam_entity(&entity)),
                StatusCode::NOT_FOUND,
            ),
            Error::IamDeleteConflict(dependents) => Self::new(
                "DeleteConflict",
                match dependents {
                    Dependents::AccessKeys => "Cannot delete entity, must delete access keys first.",
                    Dependents::Policies => "Cannot delete entity, must delete policies first.",
                    Dependents::LoginProfile => "Cannot delete entity, must delete login profile first.",
                    Dependents::AttachedPolicies => "Cannot delete entity, must detach all policies first.",
                    Dependents::InstanceProfileRole => {
                        "Cannot delete entity, must remove roles from instance profile first."
                    }
                },
                StatusCode::CONFLICT,
            ),
            Error::IamLimitExceeded(limit) => Self::new(
                "LimitExceeded",
                match limit {
                    IamLimit::AccessKeysPerUser(n) => format!("Cannot exceed quota for AccessKeysPerUser: {n}"),
                    IamLimit::PolicySize { user } => {
                        format!("Maximum policy size of 2048 bytes exceeded for user {user}")
                    }
                    IamLimit::RolesPerInstanceProfile => {
                        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into()
                    }
                    IamLimit::PolicyVersions => "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".into(),
                    IamLimit::AttachedPolicies { role, limit } => {
                        format!("Cannot exceed quota for PoliciesPer{}: {limit}", if role { "Role" } else { "User" })
                    }
                },
                StatusCode::CONFLICT,
            ),
            Error::IamValidation(why) => Self::bad_request(
                "ValidationError",
                match why {
                    IamInvalid::NamePattern { value, member } => format!(
                        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
                    ),
                    IamInvalid::UserNameRequired => {
                        "Must specify userName when calling with non-User credentials".into()
                    }
                    IamInvalid::MaxSessionDuration(value) => format!(
                        "1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value {}",
                        if value < 3600 { "greater than or equal to 3600" } else { "less than or equal to 43200" }
                    ),
                    IamInvalid::Path(value) => format!(
                        "1 validation error detected: Value '{value}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
                    ),
                    IamInvalid::Description => "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]* and have length less than or equal to 1000".into(),
                    IamInvalid::PolicyArn => "Invalid ARN:  Could not be parsed!".into(),
                    IamInvalid::VersionId(value) => format!(
                        "1 validation error detected: Value '{value}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
                    ),
                    IamInvalid::Unsupported { action, parameter } => {
                        format!("The parameter {parameter} of {action} is not supported by keyfleet.")
                    }
                },
            ),
            Error::IamPolicyConflict(conflict) => Self::new(
                "DeleteConflict",
                match conflict {
                    PolicyConflict::Attached => "Cannot delete a policy attached to entities.",
                    PolicyConflict::HasVersions => "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
                    PolicyConflict::DefaultVersion => "Cannot delete the default version of a policy.",
                },
                StatusCode::CONFLICT,
            ),
            Error::IamPolicyNotAttachable(arn) => Self::new(
                "NoSuchEntity",
                format!("Policy {arn} does not exist or is not attachable."),
                StatusCode::NOT_FOUND,
            ),
            Error::StsAccessDenied { caller, role } => Self::new(
                "AccessDenied",
                format!("User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}"),
                StatusCode::FORBIDDEN,
            ),
            Error::StsRootCannotAssume => {
                Self::new("AccessDenied", "Roles may not be assumed by root accounts.", StatusCode::FORBIDDEN)
            }
            Error::StsSessionCredentials => Self::new(
                "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
                StatusCode::FORBIDDEN,
            ),
            Error::StsValidation(why) => Self::bad_request("ValidationError", sts_invalid_message(why)),
            Error::LaunchTemplate(refused) => launch_template_error(refused),
            Error::AutoScaling(refused) => auto_scaling_error(refused),
            Error::StackInvalid(why) => Self::bad_request("ValidationError", why.to_string()),
            Error::StackLimitExceeded => Self::bad_request(
                "LimitExceededException",
                format!(
                    "Limit for the number of stacks ({}) has been exceeded.",
                    crate::service::cloudformation::MAX_STACKS
                ),
            ),
            Error::StackExists(name) => {
                Self::bad_request("AlreadyExistsException", format!("Stack [{name}] already exists"))
            }
            Error::StackNotFound(name) => {
                Self::bad_request("ValidationError", format!("Stack with id {name} does not exist"))
            }
            Error::StackEventsNotFound(name) => {
                Self::bad_request("ValidationError", format!("Stack [{name}] does not exist"))
            }
            Error::InsufficientCapabilities(capability) => Self::bad_request(
                "InsufficientCapabilitiesException",
                format!("Requires capabilities : [{capability}]"),
            ),
            Error::PasswordPolicyViolation => Self::bad_request(
                "PasswordPolicyViolation",
                "Password should have a minimum length of 8 and at least three of: an uppercase letter, a lowercase letter, a number, a symbol.",
            ),
            Error::MalformedPolicy(message) => Self::bad_request("MalformedPolicyDocument", message),
            Error::VolumeIo(e) => Self::internal(&e),
            Error::PasswordHash(e) => Self::internal(&e),
            Error::Randomness(e) => Self::internal(&e),
            Error::Secret(e) => Self::internal(&e),
            Error::Runtime(e) => Self::internal(&e),
            Error::Store(e) => Self::internal(&e),
            Error::Encode(e) => Self::internal(&e),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => Self::new(
                "MissingAuthenticationToken",
                "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
                StatusCode::UNAUTHORIZED,
            ),
            // EC2 answers both an unknown key and a wrong signature with AuthFailure.
            AuthError::UnknownAccessKey | AuthError::SignatureMismatch => Self::new(
                "AuthFailure",
                "AWS was not able to validate the provided access credentials",
                StatusCode::UNAUTHORIZED,
            ),
            AuthError::Malformed(what) => {
                Self::bad_request("IncompleteSignature", format!("Authorization header is malformed: {what}"))
            }
            AuthError::Expired => Self::bad_request("RequestExpired", "Request has expired."),
            AuthError::PayloadMismatch => Self::new(
                "AuthFailure",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                StatusCode::UNAUTHORIZED,
            ),
            // AWS accepts a repeat within the skew window; keyfleet refuses it (README, Security).
            AuthError::Replayed => Self::new(
                "AuthFailure",
                "This request has already been used; sign a new one.",
                StatusCode::UNAUTHORIZED,
            ),
            // EC2's answers to session credentials it cannot use (docs/aws-facts.md, "STS").
            AuthError::ExpiredToken => Self::bad_request("RequestExpired", "Request has expired."),
            AuthError::InvalidToken => Self::new(
                "AuthFailure",
                "AWS was not able to validate the provided access credentials",
                StatusCode::UNAUTHORIZED,
            ),
            AuthError::Unavailable(detail) => Self::internal(&detail),
        }
    }
}

impl ApiError {
    /// A refused authentication as `service` words it: EC2 as [`From<AuthError>`] does, the
    /// Query services (IAM, STS) and the JSON ones with their own codes for session tokens.
    pub fn from_auth(error: AuthError, service: crate::api::authorize::Service) -> Self {
        use crate::api::authorize::Service;
        let json = !matches!(service, Service::Iam | Service::Sts | Service::CloudFormation | Service::AutoScaling);
        match error {
            AuthError::ExpiredToken | AuthError::InvalidToken if service == Service::Ec2 => error.into(),
            AuthError::ExpiredToken => Self::new(
                if json { "ExpiredTokenException" } else { "ExpiredToken" },
                "The security token included in the request is expired",
                StatusCode::FORBIDDEN,
            ),
            AuthError::InvalidToken => Self::new(
                if json { "UnrecognizedClientException" } else { "InvalidClientTokenId" },
                "The security token included in the request is invalid.",
                StatusCode::FORBIDDEN,
            ),
            other => other.into(),
        }
    }
}

/// AWS's wording of each [`Invalid`] (docs/aws-facts.md and docs/aws-choices.md).
/// EC2's code and message for each launch template refusal (docs/aws-facts.md, "Launch
/// templates").
fn launch_template_error(refused: crate::service::launch_templates::Refused) -> ApiError {
    use crate::service::launch_templates::{MAX_TEMPLATES, MAX_USER_DATA, MAX_VERSIONS, Refused};
    let (code, message) = match refused {
        Refused::MalformedName => (
            "InvalidLaunchTemplateName.MalformedException",
            "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.".to_owned(),
        ),
        Refused::NameTaken => {
            ("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.".to_owned())
        }
        Refused::NamesNotFound => (
            "InvalidLaunchTemplateName.NotFoundException",
            "At least one of the launch templates specified in the request does not exist.".to_owned(),
        ),
        Refused::NameNotFound(name) => (
            "InvalidLaunchTemplateName.NotFoundException",
            format!("The specified launch template, with template name {name}, does not exist."),
        ),
        Refused::IdNotFound(id) => (
            "InvalidLaunchTemplateId.NotFound",
            format!("The specified launch template, with template ID {id}, does not exist."),
        ),
        Refused::MalformedId(_) => (
            "InvalidLaunchTemplateId.Malformed",
            "The ID for the launch template is malformed. Ensure that you specify the launch template ID in the form lt-xxxxxxxxxxxxxxxxx.".to_owned(),
        ),
        Refused::IdAndName => (
            "InvalidParameterCombination",
            "You must specify either the launch template ID or the launch template name, but not both.".to_owned(),
        ),
        Refused::NeitherIdNorName => (
            "MissingParameter",
            "The request must contain the parameter launch template ID or launch template name".to_owned(),
        ),
        Refused::NoData => (
            "MissingParameter",
            "No launch template data was provided. Launch template data is required to create a launch template."
                .to_owned(),
        ),
        Refused::AllTemplatesByNumber => (
            "InvalidParameterValue",
            "To describe the launch template data for all your launch templates, for \u{2018}--versions\u{2019} specify \u{2018}$Latest\u{2019}, \u{2018}$Default\u{2019}, or both, and omit \u{2018}--launch-template-id\u{2019}, \u{2018}--launch-template-name\u{2019}, and version numbers. To describe the launch template data for a specific launch template, specify \u{2018}--launch-template-id\u{2019} or \u{2018}--launch-template-name\u{2019}, and for \u{2018}--versions\u{2019} specify one or more of the following values: \u{2018}$Latest\u{2019}, \u{2018}$Default\u{2019}, or one or more version numbers.".to_owned(),
        ),
        Refused::MalformedVersion(version) => (
            "InvalidLaunchTemplateId.VersionNotFound",
            format!("The version {version} is not a launch template version number, $Latest or $Default."),
        ),
        Refused::VersionNotFound { template_id, version } => (
            "InvalidLaunchTemplateId.VersionNotFound",
            format!("Could not find the specified version {version} for the launch template with ID {template_id}."),
        ),
        Refused::DefaultVersionNotFound(version) => (
            "InvalidLaunchTemplateId.VersionNotFound",
            format!("The launch template version {version} is not found for the specified launch template."),
        ),
        Refused::TooManyTemplates => (
            "MaxTemplateLimitExceeded",
            format!("Account has already reached max permitted templates ({MAX_TEMPLATES})."),
        ),
        Refused::TooManyVersions => (
            "MaxTemplateVersionLimitExceeded",
            format!("You have reached the maximum of {MAX_VERSIONS} versions for this launch template."),
        ),
        Refused::DescriptionTooLong => (
            "InvalidParameterValue",
            "Value for parameter VersionDescription is invalid. Length exceeds maximum of 255.".to_owned(),
        ),
        Refused::UserDataTooLarge => ("InvalidParameterValue", format!("User data is limited to {MAX_USER_DATA} bytes")),
        Refused::UserDataNotBase64 => ("InvalidUserData.Malformed", "Invalid BASE64 encoding of user data.".to_owned()),
        Refused::TagResourceType(t) => (
            "InvalidParameterValue",
            format!("'{t}' is not a valid taggable resource type for this operation."),
        ),
        Refused::TooManyGroups => ("InvalidParameterValue", "You may specify at most 5 security groups.".to_owned()),
        Refused::VersionsAndRange => (
            "InvalidParameterCombination",
            "The parameters LaunchTemplateVersion and MinVersion or MaxVersion cannot be used together.".to_owned(),
        ),
        Refused::TooManyVersionsNamed => (
            "InvalidParameterValue",
            format!(
                "You may specify at most {} launch template versions.",
                crate::service::launch_templates::MAX_VERSIONS_PER_CALL
            ),
        ),
    };
    ApiError::bad_request(code, message)
}

/// EC2 Auto Scaling's code and message for each refusal (docs/aws-facts.md, "Auto Scaling").
fn auto_scaling_error(refused: crate::service::auto_scaling::Refused) -> ApiError {
    use crate::service::auto_scaling::{MAX_GROUP_SIZE, MAX_GROUPS, Refused};
    let validation = |message: String| ApiError::bad_request("ValidationError", message);
    match refused {
        Refused::AlreadyExists(name) => ApiError::bad_request(
            "AlreadyExists",
            format!("AutoScalingGroup by this name already exists - A group with the name {name} already exists"),
        ),
        Refused::NotFound => validation("AutoScalingGroup name not found - null".into()),
        Refused::Bounds { min, max } => {
            validation(format!("Max bound, {max}, must be greater than or equal to min bound, {min}"))
        }
        Refused::Desired { desired, min, max } => validation(format!(
            "Desired capacity:{desired} must be between the specified min size:{min} and max size:{max}"
        )),
        Refused::AboveMax { desired, max } => validation(format!(
            "New SetDesiredCapacity value {desired} is above max value {max} for the AutoScalingGroup."
        )),
        Refused::BelowMin { desired, min } => validation(format!(
            "New SetDesiredCapacity value {desired} is below min value {min} for the AutoScalingGroup."
        )),
        Refused::Size(size) => {
            validation(format!("Size {size} is outside what keyfleet runs in one group: 0 to {MAX_GROUP_SIZE}."))
        }
        Refused::NoZones => validation("At least one Availability Zone or VPC Subnet is required.".into()),
        Refused::UnknownZone(zone) => validation(format!("The availability zone {zone} is not legal")),
        Refused::UnknownSubnet(subnet) => validation(format!("The subnet ID '{subnet}' does not exist")),
        Refused::ZonesMismatch => validation(
            "The availability zones of the specified subnets and the Auto Scaling group do not match".into(),
        ),
        Refused::Template(why) => validation(format!("You must use a valid fully-formed launch template. {why}")),
        Refused::NoLaunchSource => validation(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter."
                .into(),
        ),
        Refused::NotManaged(id) => {
            validation(format!("Instance Id not found - No managed instance found for instance ID {id}"))
        }
        Refused::NotInGroup { instance, group } => {
            validation(format!("The instance {instance} is not part of Auto Scaling group {group}."))
        }
        Refused::NotInService(id) => validation(format!("The instance {id} is not in InService or Standby.")),
        Refused::TooManyGroups => ApiError::bad_request(
            "LimitExceeded",
            format!("AutoScalingGroup limit exceeded - You may only have {MAX_GROUPS} AutoScalingGroups"),
        ),
        Refused::Contention => ApiError::new(
            "ResourceContention",
            "You already have a pending update to an Auto Scaling resource (for example, a group, instance, or load balancer).",
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        Refused::PendingDelete => validation("The AutoScaling group may not be modified while it is pending delete".into()),
        Refused::InUse => ApiError::bad_request(
            "ResourceInUse",
            "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.",
        ),
        Refused::RefreshInProgress => ApiError::bad_request(
            "InstanceRefreshInProgress",
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
        ),
        Refused::NoActiveRefresh(group) => ApiError::bad_request(
            "ActiveInstanceRefreshNotFound",
            format!("No in progress or pending Instance Refresh found for Auto Scaling group {group}"),
        ),
        Refused::Name => validation(
            "AutoScalingGroupName must be 1 to 255 printable ASCII characters and may not contain a colon.".into(),
        ),
        Refused::Tags(why) => validation(why),
        Refused::Preference(name) => validation(format!("The value of {name} is outside its range.")),
        Refused::AtMinSize(min) => validation(format!(
            "Currently, desiredSize equals minSize ({min}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size."
        )),
        Refused::ActivityInProgress => ApiError::bad_request(
            "ScalingActivityInProgress",
            "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.",
        ),
        Refused::AttachAboveMax => validation(
            "The number of instances being attached plus the desired capacity exceeds the maximum size of the group."
                .into(),
        ),
        Refused::NotAttachable(id) => validation(format!("Instance {id} is not in a state to be attached: it must be running and in no group.")),
    }
}

fn invalid_message(why: Invalid) -> String {
    match why {
        Invalid::UnknownFilter(name) => format!("The filter '{name}' is invalid"),
        Invalid::UnknownRegion(name) => format!("Invalid region: {name}"),
        Invalid::InstanceCount { min, max } => {
            format!("Value ({min}) for parameter minCount is invalid. Expected a value between 1 and maxCount ({max}).")
        }
        Invalid::TagKeyEmpty => "Tag key cannot be empty.".into(),
        Invalid::TagKeyReserved(key) => {
            format!("Tag key '{key}' is invalid: tag keys starting with 'aws:' are reserved for internal use")
        }
        Invalid::TagControlCharacters => "Tag keys and values cannot contain control characters.".into(),
        Invalid::TagKeyTooLong(max) => format!("Tag key exceeds the maximum length of {max} characters"),
        Invalid::TagValueTooLong(max) => format!("Tag value exceeds the maximum length of {max} characters"),
        Invalid::TagSpecificationWithoutType => "Tag specification resource type must have a value".into(),
        Invalid::TagSpecificationType(kind) => {
            format!("'{kind}' is not a valid taggable resource type for this operation.")
        }
        Invalid::TagSpecificationWithoutTags => "Tag specification must have at least one tag".into(),
        Invalid::KeyPairId(id) => format!("Invalid value '{id}' for keyPairId."),
        Invalid::KeyNameNotAscii(name) => {
            format!("Value ({name}) for parameter KeyName is invalid. Character sets beyond ASCII are not supported.")
        }
        Invalid::KeyNameControlCharacters => {
            "Value for parameter KeyName is invalid. It contains control characters.".into()
        }
        Invalid::UnknownZone(name) => format!("Invalid availability zone: [{name}]"),
        Invalid::InstanceType(name) => format!("Invalid value '{name}' for InstanceType."),
        Invalid::ArchitectureMismatch { instance, image } => format!(
            "The architecture '{instance}' of the specified instance type does not match the architecture '{image}' of \
             the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. \
             You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance \
             type or AMI."
        ),
        Invalid::UnknownAccountAttribute(name) => {
            format!("Value ({name}) for parameter attributeName is invalid. Unknown attribute name.")
        }
        Invalid::SubnetNotInZone { subnet, zone } => format!(
            "Value ({zone}) for parameter availabilityZone is invalid. Subnet '{subnet}' is in another availability zone."
        ),
        Invalid::KeyNameTooLong(max) => {
            format!("Value for parameter KeyName is invalid. Length exceeds maximum of {max}.")
        }
    }
}

/// AWS's wording of each [`SsmInvalid`].
fn ssm_invalid_message(why: SsmInvalid) -> String {
    let name = |rule: &str| format!("Parameter name: {rule}");
    match why {
        SsmInvalid::ValueLength(max) => format!(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length between 1 and {max}"
        ),
        SsmInvalid::TypeRequired => "A parameter type is required when you create a parameter.".into(),
        SsmInvalid::PathNotAbsolute(path) => format!("The parameter path {path} is not valid. Paths must begin with /."),
        SsmInvalid::NameLength(max) => name(&format!("must be between 1 and {max} characters")),
        SsmInvalid::NameCharacters => name("can contain only a-zA-Z0-9_.-/"),
        SsmInvalid::NameReservedPrefix => name("can't be prefixed with \"aws\" or \"ssm\" (case-insensitive)."),
        SsmInvalid::NameHierarchyWithoutSlash => name("a parameter in a hierarchy must begin with /"),
        SsmInvalid::BatchSize => "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10".into(),
        SsmInvalid::StandardValueTooLarge => "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html".into(),
        SsmInvalid::AdvancedValueTooLarge => "The specified parameter value is too large. Advanced-tier parameters support a maximum parameter value of 8192 characters.".into(),
        SsmInvalid::TierDowngrade => "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.".into(),
        SsmInvalid::TierValue(tier) => format!("1 validation error detected: Value '{tier}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]"),
        SsmInvalid::AllowedPatternLength => "1 validation error detected: Value at 'allowedPattern' failed to satisfy constraint: Member must have length less than or equal to 1024".into(),
        SsmInvalid::DataType(kind) => format!("The following data type is not supported: {kind} (Data type names are all lowercase.)"),
        SsmInvalid::PoliciesNeedAdvanced => "Parameter policies are supported only in the advanced-parameter tier: put the parameter with Tier Advanced or Intelligent-Tiering.".into(),
        SsmInvalid::LabelCount => "1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length between 1 and 10".into(),
        SsmInvalid::TagKey { position } => format!(
            "1 validation error detected: Value at 'tags.{position}.member.key' failed to satisfy constraint: Member must have length between 1 and 128 and satisfy regular expression pattern: ^([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*)$"
        ),
        SsmInvalid::TagValue { position } => format!(
            "1 validation error detected: Value at 'tags.{position}.member.value' failed to satisfy constraint: Member must have length less than or equal to 256 and satisfy regular expression pattern: ^([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*)$"
        ),
        SsmInvalid::TagKeyReserved(key) => format!("The tag key {key} is invalid: keys beginning with aws: are reserved."),
        SsmInvalid::TagsWithOverwrite => "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, remove the overwrite flag; to change the tags of an existing parameter, use AddTagsToResource or RemoveTagsFromResource.".into(),

    }
}

/// How IAM's messages name an entity.
fn iam_entity(entity: &IamEntity) -> String {
    match entity {
        IamEntity::User(name) => format!("user with name {name}"),
        IamEntity::AccessKey(id) => format!("Access Key with id {id}"),
        IamEntity::UserPolicy(name) => format!("user policy with name {name}"),
        IamEntity::LoginProfile(name) => format!("login profile for user {name}"),
        IamEntity::Role(name) => format!("role with name {name}"),
        IamEntity::InstanceProfile(name) => format!("Instance Profile {name}"),
        IamEntity::RolePolicy(name) => format!("role policy with name {name}"),
        IamEntity::Policy(arn) | IamEntity::Attachment(arn) => format!("policy {arn}"),
        IamEntity::PolicyVersion { arn, version } => format!("policy {arn} version {version}"),
    }
}

/// STS's wording of each [`StsInvalid`].
fn sts_invalid_message(why: StsInvalid) -> String {
    let detected = |value: &str, member: &str, rule: &str| {
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {rule}"
        )
    };
    match why {
        StsInvalid::RoleArn(arn) => format!("{arn} is invalid"),
        StsInvalid::SessionName(name) if name.len() > 64 => {
            detected(&name, "roleSessionName", "have length less than or equal to 64")
        }
        StsInvalid::SessionName(name) if name.len() < 2 => {
            detected(&name, "roleSessionName", "have length greater than or equal to 2")
        }
        StsInvalid::SessionName(name) => {
            detected(&name, "roleSessionName", "satisfy regular expression pattern: [\\w+=,.@-]*")
        }
        StsInvalid::Duration { value, min, .. } if value < min => {
            detected(&value.to_string(), "durationSeconds", &format!("have value greater than or equal to {min}"))
        }
        StsInvalid::Duration { value, max, .. } => {
            detected(&value.to_string(), "durationSeconds", &format!("have value less than or equal to {max}"))
        }
        StsInvalid::DurationAboveRole => {
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into()
        }
        StsInvalid::DurationChaining => {
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into()
        }
        StsInvalid::ExternalId => "1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*".into(),
    }
}

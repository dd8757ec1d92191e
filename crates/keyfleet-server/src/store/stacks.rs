//! CloudFormation stacks as stored. A stack is one aggregate: its row holds the template, the
//! parameters, the resources and outputs as one JSON document ([`StackRecord`]), next to the
//! columns that queries and claims need; its events are appended beside it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::WireName;

/// `StackStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum StackStatus {
    CreateInProgress,
    CreateFailed,
    CreateComplete,
    RollbackInProgress,
    RollbackFailed,
    RollbackComplete,
    DeleteInProgress,
    DeleteFailed,
    DeleteComplete,
    UpdateInProgress,
    UpdateCompleteCleanupInProgress,
    UpdateComplete,
    UpdateRollbackInProgress,
    UpdateRollbackFailed,
    UpdateRollbackComplete,
}

impl WireName for StackStatus {
    const ALL: &'static [Self] = &[
        StackStatus::CreateInProgress,
        StackStatus::CreateFailed,
        StackStatus::CreateComplete,
        StackStatus::RollbackInProgress,
        StackStatus::RollbackFailed,
        StackStatus::RollbackComplete,
        StackStatus::DeleteInProgress,
        StackStatus::DeleteFailed,
        StackStatus::DeleteComplete,
        StackStatus::UpdateInProgress,
        StackStatus::UpdateCompleteCleanupInProgress,
        StackStatus::UpdateComplete,
        StackStatus::UpdateRollbackInProgress,
        StackStatus::UpdateRollbackFailed,
        StackStatus::UpdateRollbackComplete,
    ];

    fn as_str(self) -> &'static str {
        match self {
            StackStatus::CreateInProgress => "CREATE_IN_PROGRESS",
            StackStatus::CreateFailed => "CREATE_FAILED",
            StackStatus::CreateComplete => "CREATE_COMPLETE",
            StackStatus::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            StackStatus::RollbackFailed => "ROLLBACK_FAILED",
            StackStatus::RollbackComplete => "ROLLBACK_COMPLETE",
            StackStatus::DeleteInProgress => "DELETE_IN_PROGRESS",
            StackStatus::DeleteFailed => "DELETE_FAILED",
            StackStatus::DeleteComplete => "DELETE_COMPLETE",
            StackStatus::UpdateInProgress => "UPDATE_IN_PROGRESS",
            StackStatus::UpdateCompleteCleanupInProgress => "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            StackStatus::UpdateComplete => "UPDATE_COMPLETE",
            StackStatus::UpdateRollbackInProgress => "UPDATE_ROLLBACK_IN_PROGRESS",
            StackStatus::UpdateRollbackFailed => "UPDATE_ROLLBACK_FAILED",
            StackStatus::UpdateRollbackComplete => "UPDATE_ROLLBACK_COMPLETE",
        }
    }
}

impl StackStatus {
    /// A runner has work to do on the stack.
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            StackStatus::CreateInProgress
                | StackStatus::RollbackInProgress
                | StackStatus::DeleteInProgress
                | StackStatus::UpdateInProgress
                | StackStatus::UpdateCompleteCleanupInProgress
                | StackStatus::UpdateRollbackInProgress
        )
    }
}

/// `ResourceStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ResourceStatus {
    CreateInProgress,
    CreateFailed,
    CreateComplete,
    DeleteInProgress,
    DeleteFailed,
    DeleteComplete,
    DeleteSkipped,
    UpdateInProgress,
    UpdateFailed,
    UpdateComplete,
}

impl WireName for ResourceStatus {
    const ALL: &'static [Self] = &[
        ResourceStatus::CreateInProgress,
        ResourceStatus::CreateFailed,
        ResourceStatus::CreateComplete,
        ResourceStatus::DeleteInProgress,
        ResourceStatus::DeleteFailed,
        ResourceStatus::DeleteComplete,
        ResourceStatus::DeleteSkipped,
        ResourceStatus::UpdateInProgress,
        ResourceStatus::UpdateFailed,
        ResourceStatus::UpdateComplete,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::CreateInProgress => "CREATE_IN_PROGRESS",
            ResourceStatus::CreateFailed => "CREATE_FAILED",
            ResourceStatus::CreateComplete => "CREATE_COMPLETE",
            ResourceStatus::DeleteInProgress => "DELETE_IN_PROGRESS",
            ResourceStatus::DeleteFailed => "DELETE_FAILED",
            ResourceStatus::DeleteComplete => "DELETE_COMPLETE",
            ResourceStatus::DeleteSkipped => "DELETE_SKIPPED",
            ResourceStatus::UpdateInProgress => "UPDATE_IN_PROGRESS",
            ResourceStatus::UpdateFailed => "UPDATE_FAILED",
            ResourceStatus::UpdateComplete => "UPDATE_COMPLETE",
        }
    }
}

/// `OnFailure` (`DisableRollback=true` is `DoNothing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OnFailure {
    /// Delete what was created, ending in `ROLLBACK_COMPLETE` (the default).
    Rollback,
    /// Delete the stack.
    Delete,
    /// Leave everything, ending in `CREATE_FAILED`.
    DoNothing,
}

/// A stack as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StackRow {
    /// `arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID`.
    pub id: String,
    /// Its name; one live stack per name.
    pub name: String,
    /// The status.
    pub status: StackStatus,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When it reached `DELETE_COMPLETE`.
    pub deleted_ms: Option<i64>,
    /// The replica running it, while it is in progress.
    pub owner: String,
    /// Until when that replica's claim holds.
    pub lease_ms: i64,
    /// Everything else.
    pub record: StackRecord,
}

/// A stack's document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackRecord {
    /// `StackStatusReason`.
    pub status_reason: Option<String>,
    /// The template's `Description`.
    pub description: Option<String>,
    /// The template as given.
    pub template_body: String,
    /// The parameters, as given and defaulted.
    pub parameters: Vec<StackParameter>,
    /// `Capabilities` as given.
    pub capabilities: Vec<String>,
    /// The stack's tags.
    pub tags: Vec<(String, String)>,
    /// `RoleARN`: the service role its resources are made as.
    pub role_arn: Option<String>,
    /// The role's id when it was admitted.
    pub role_id: Option<String>,
    /// What a failed create does.
    pub on_failure: Option<OnFailure>,
    /// The ARN of the caller who created or last updated it (its resources are made as that
    /// caller when there is no role).
    pub caller: String,
    /// The id that caller's user or role had then (`None` for the root): one made again under
    /// the name is not the caller.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// `LastUpdatedTime`.
    pub updated_ms: Option<i64>,
    /// The outputs, evaluated.
    pub outputs: Vec<StackOutput>,
    /// The resources, in the order they were created.
    pub resources: Vec<StackResource>,
    /// The exports this stack imports (`Fn::ImportValue`).
    pub imports: Vec<String>,
    /// The update in progress: what to go back to.
    pub update: Option<PendingUpdate>,
    /// A resource failed: the reason a rollback names.
    pub failed: Vec<String>,
}

/// What an update replaces, so that a failed one can be rolled back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PendingUpdate {
    /// The template before.
    pub template_body: String,
    /// The parameters before.
    pub parameters: Vec<StackParameter>,
    /// The outputs before.
    pub outputs: Vec<StackOutput>,
    /// The resources before.
    pub resources: Vec<StackResource>,
    /// Resources to delete once the update succeeds (replaced or removed).
    pub cleanup: Vec<StackResource>,
}

/// One parameter of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackParameter {
    /// `ParameterKey`.
    pub key: String,
    /// `ParameterValue` as given (for SSM types: the parameter's name).
    pub value: String,
    /// `ResolvedValue`: an SSM parameter type's value.
    pub resolved: Option<String>,
    /// `NoEcho`: shown as `****`.
    pub no_echo: bool,
}

/// One output of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackOutput {
    /// `OutputKey`.
    pub key: String,
    /// `OutputValue`.
    pub value: String,
    /// `Description`.
    pub description: Option<String>,
    /// `ExportName`.
    pub export_name: Option<String>,
}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackResource {
    /// `LogicalResourceId`.
    pub logical_id: String,
    /// `ResourceType`.
    pub kind: String,
    /// `PhysicalResourceId` (also its `Ref`).
    pub physical_id: Option<String>,
    /// `ResourceStatus`.
    pub status: ResourceStatus,
    /// `ResourceStatusReason`.
    pub reason: Option<String>,
    /// `LastUpdatedTimestamp`.
    pub updated_ms: i64,
    /// Its `Fn::GetAtt` attributes.
    pub attributes: Map<String, Value>,
    /// The properties it was made with, evaluated.
    pub properties: Value,
    /// `DeletionPolicy: Retain`.
    pub retain: bool,
    /// The idempotency token of this attempt to make it (RunInstances' `ClientToken`): kept
    /// while the attempt is resumed, new for each new attempt.
    #[serde(default)]
    pub token: Option<String>,
}

/// One stack event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackEvent {
    /// `EventId`.
    pub event_id: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// `LogicalResourceId` (the stack's name for the stack's own events).
    pub logical_id: String,
    /// `PhysicalResourceId`.
    pub physical_id: Option<String>,
    /// `ResourceType`.
    pub kind: String,
    /// `ResourceStatus`: a stack or a resource status, as text.
    pub status: String,
    /// `ResourceStatusReason`.
    pub reason: Option<String>,
    /// `ResourceProperties` (JSON text).
    pub properties: Option<String>,
}

//! CloudFormation stacks: a template's resources made in dependency order, deleted in
//! reverse, rolled back on failure (docs/aws-facts.md, "CloudFormation stacks"). Resources
//! are made by a [`Provisioner`] that the API layer supplies, so that each call is one of the
//! API's own operations, authorized as the stack's caller (or its service role).
//!
//! Every change to a stack is written before the next step, and the runner that holds a
//! stack's lease resumes it from there: after a crash, on any replica ([`runner`]).

pub mod builtin;
pub mod intrinsics;
mod runner;
pub mod template;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use serde_json::Value;

use self::intrinsics::{Env, Provisioned, Pseudo};
use self::template::{ParameterType, Template, TemplateError, text_of};
use super::automation::Acting;
use super::{Error, Result, now_ms};
use crate::store::{
    OnFailure, PinnedRole, StackEvent, StackParameter, StackRecord, StackRow, StackStatus, Store, StoreError, WireName,
};

/// The service principal that a stack's service role must trust, and the source CloudTrail
/// shows for the calls CloudFormation makes.
pub const SERVICE_PRINCIPAL: &str = "cloudformation.amazonaws.com";
/// The stack's own events' `ResourceType`.
pub const STACK_TYPE: &str = "AWS::CloudFormation::Stack";
const MAX_STACK_NAME: usize = 128;
const MAX_TAGS: usize = 50;
/// A parameter's value, as given or as read from Parameter Store (CloudFormation quotas:
/// 4,096 bytes; an advanced Parameter Store value may be twice that).
const MAX_PARAMETER_VALUE: usize = 8 * 1024;
/// Live stacks per account and Region (CloudFormation quotas: 2,000).
pub const MAX_STACKS: usize = 2000;

/// The resource types keyfleet provisions.
pub const RESOURCE_TYPES: [&str; 10] = [
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::EC2::Instance",
    "AWS::EC2::KeyPair",
    "AWS::EC2::LaunchTemplate",
    "AWS::EC2::SecurityGroup",
    "AWS::IAM::InstanceProfile",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::SSM::Parameter",
];

/// IAM resource types and the property that gives each a custom name (CreateStack,
/// `Capabilities`).
const IAM_TYPES: [(&str, Option<&str>); 4] = [
    ("AWS::IAM::InstanceProfile", Some("InstanceProfileName")),
    ("AWS::IAM::ManagedPolicy", Some("ManagedPolicyName")),
    ("AWS::IAM::Policy", None),
    ("AWS::IAM::Role", Some("RoleName")),
];

/// A request CloudFormation refuses before it starts (`ValidationError`), each with
/// CloudFormation's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StackInvalid {
    /// The template or the parameters.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A stack name against its pattern.
    #[error(
        "1 validation error detected: Value '{0}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
    )]
    StackName(String),
    /// Neither `TemplateBody` nor `TemplateURL`, or both.
    #[error("Either Template URL or Template Body must be specified.")]
    NoTemplate,
    /// A `TemplateURL` keyfleet does not ship.
    #[error("TemplateURL must be a supported URL.")]
    TemplateUrl,
    /// `UpdateStack` on a stack that is busy or failed.
    #[error("Stack:{id} is in {status} state and can not be updated.")]
    NotUpdatable {
        /// The stack's id.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// `UpdateStack` with nothing different.
    #[error("No updates are to be performed.")]
    NoUpdates,
    /// `DeleteStack` of a stack whose export another stack imports.
    #[error("Export {export} cannot be deleted as it is in use by {importer}")]
    ExportInUse {
        /// The export's name.
        export: String,
        /// The importing stack's name.
        importer: String,
    },
    /// More than 50 tags.
    #[error(
        "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )]
    TooManyTags,
    /// `UsePreviousValue` on a create, or with a value.
    #[error(
        "Invalid input for parameter key {0}. Cannot specify usePreviousValue as true and non empty value for a parameter"
    )]
    PreviousValue(String),
    /// `RoleARN` that CloudFormation may not assume.
    #[error("Role {0} is invalid or cannot be assumed")]
    Role(String),
    /// A stack that changed under three DeleteStack tries in a row.
    #[error("Stack [{0}] is changing; call DeleteStack again.")]
    Busy(String),
    /// A stack-level validation that names its own text (`DescribeStackResource`).
    #[error("Resource {logical_id} does not exist for stack {stack}")]
    NoSuchResource {
        /// The logical id asked for.
        logical_id: String,
        /// The stack's name.
        stack: String,
    },
}

impl From<TemplateError> for Error {
    fn from(e: TemplateError) -> Self {
        Error::StackInvalid(StackInvalid::Template(e))
    }
}

impl From<StackInvalid> for Error {
    fn from(e: StackInvalid) -> Self {
        Error::StackInvalid(e)
    }
}

/// A parameter as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterInput {
    /// `ParameterValue`.
    Value(String),
    /// `UsePreviousValue=true` (updates only).
    UsePrevious,
}

/// What a template is, for `ValidateTemplate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The template, declared.
    pub template: Template,
    /// The capability it needs, and the resource types that need it.
    pub capability: Option<(&'static str, Vec<String>)>,
}

/// `CreateStack` and `UpdateStack`'s common input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRequest {
    /// `StackName` (a name or, for updates, an id).
    pub name: String,
    /// The template body (a `TemplateURL` already read); `None` for `UsePreviousTemplate`.
    pub template_body: Option<String>,
    /// `Parameters`.
    pub parameters: Vec<(String, ParameterInput)>,
    /// `Capabilities`.
    pub capabilities: Vec<String>,
    /// `Tags`; `None` keeps an updated stack's.
    pub tags: Option<Vec<(String, String)>>,
    /// `RoleARN`, admitted.
    pub role: Option<PinnedRole>,
    /// `OnFailure` / `DisableRollback`.
    pub on_failure: OnFailure,
    /// The caller's ARN.
    pub caller: String,
    /// The id of the caller's user or role (`None` for the root).
    pub caller_id: Option<String>,
}

/// A resource handler's failure: the `ResourceStatusReason` its event shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFailure(pub String);

/// One call on a resource handler.
#[derive(Debug, Clone)]
pub struct ResourceRequest<'a> {
    /// The stack's scope.
    pub scope: &'a crate::store::Scope,
    /// Whom the call is made as.
    pub acting: &'a Acting,
    /// The stack's name.
    pub stack_name: &'a str,
    /// The stack's id.
    pub stack_id: &'a str,
    /// The resource's logical id.
    pub logical_id: &'a str,
    /// Its type.
    pub kind: &'a str,
    /// Its properties, evaluated.
    pub properties: &'a Value,
    /// Its physical id, once it exists.
    pub physical_id: Option<&'a str>,
    /// Its attributes, once it exists.
    pub attributes: &'a serde_json::Map<String, Value>,
    /// The stack's tags, for the resources that take them.
    pub tags: &'a [(String, String)],
    /// This attempt's idempotency token (RunInstances' `ClientToken`): a resumed create finds
    /// what the interrupted one launched, and a new attempt launches anew.
    pub token: &'a str,
}

impl ResourceRequest<'_> {
    /// A name CloudFormation makes up for a resource whose template gives none:
    /// `STACK-LOGICALID-SUFFIX`, cut to `max` characters.
    pub fn generated_name(&self, max: usize) -> String {
        let suffix = crate::common::ids::new_id("").to_ascii_uppercase();
        let suffix: String = suffix.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
        let room = max.saturating_sub(suffix.len() + 2);
        let stack: String = self.stack_name.chars().take(room / 2).collect();
        let logical: String = self.logical_id.chars().take(room - stack.len()).collect();
        format!("{stack}-{logical}-{suffix}")
    }
}

/// Makes, changes and removes resources of the [`RESOURCE_TYPES`].
#[async_trait]
pub trait Provisioner: Send + Sync + 'static {
    /// Makes the resource.
    async fn create(&self, request: &ResourceRequest<'_>) -> std::result::Result<Provisioned, ResourceFailure>;

    /// Changes it in place to `request.properties` from `previous`; `Ok(None)` when a
    /// changed property needs a new resource instead.
    async fn update(
        &self,
        request: &ResourceRequest<'_>,
        previous: &Value,
    ) -> std::result::Result<Option<Provisioned>, ResourceFailure>;

    /// Removes it; a resource already gone is removed.
    async fn delete(&self, request: &ResourceRequest<'_>) -> std::result::Result<(), ResourceFailure>;

    /// The values of Parameter Store parameters, for `AWS::SSM::Parameter::Value<…>`
    /// parameters, read as `acting`; the error is the caller-facing message.
    async fn parameter_values(
        &self,
        scope: &crate::store::Scope,
        acting: &Acting,
        names: &[String],
    ) -> std::result::Result<BTreeMap<String, String>, ResourceFailure>;
}

/// The CloudFormation operations and the stack runner.
pub struct Stacks {
    store: Arc<dyn Store>,
    replica: String,
    provisioner: OnceLock<Arc<dyn Provisioner>>,
    running: Mutex<BTreeSet<String>>,
    /// A pause before each resource (tests stop the server in the middle of a stack).
    step_delay: std::time::Duration,
    /// How long this replica's claim on a stack lasts without renewal.
    lease: std::time::Duration,
}

impl Stacks {
    /// Stacks on `store`, run by `replica` under leases of `lease`, pausing `step_delay`
    /// before each resource. Nothing runs until [`Stacks::start`].
    pub fn new(
        store: Arc<dyn Store>,
        replica: String,
        lease: std::time::Duration,
        step_delay: std::time::Duration,
    ) -> Self {
        let running = Mutex::new(BTreeSet::new());
        Stacks { store, replica, provisioner: OnceLock::new(), running, step_delay, lease }
    }

    /// Starts running stacks with `provisioner` (supplied once the API exists).
    pub fn start(self: &Arc<Self>, provisioner: Arc<dyn Provisioner>) {
        if self.provisioner.set(provisioner).is_ok() {
            self.spawn_poller();
        }
    }

    fn provisioner(&self) -> Result<&Arc<dyn Provisioner>> {
        self.provisioner.get().ok_or_else(|| Error::Store(StoreError::Corrupt("CloudFormation has not started".into())))
    }

    /// `ValidateTemplate`.
    pub fn validate(&self, body: &str) -> Result<Validated> {
        let template = Template::parse(body)?;
        check_resources(&template)?;
        let capability = required_capability(&template);
        Ok(Validated { template, capability })
    }

    /// `CreateStack`: checks everything a create can be refused for, stores the stack and
    /// starts it.
    pub async fn create(self: &Arc<Self>, scope: &crate::store::Scope, request: StackRequest) -> Result<String> {
        check_stack_name(&request.name)?;
        let body = request.template_body.clone().ok_or(StackInvalid::NoTemplate)?;
        let tags = request.tags.clone().unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return Err(StackInvalid::TooManyTags.into());
        }
        if self.store.stack(scope, &request.name).await?.is_some() {
            return Err(Error::StackExists(request.name));
        }
        if self.live(scope).await?.len() >= MAX_STACKS {
            return Err(Error::StackLimitExceeded);
        }
        let id = format!(
            "arn:aws:cloudformation:{}:{}:stack/{}/{}",
            scope.region,
            scope.account,
            request.name,
            crate::common::ids::request_id()
        );
        let acting = acting(&request.caller, request.caller_id.as_deref(), request.role.as_ref());
        let prepared = self.prepare(scope, &acting, &request.name, &id, &body, &request, &[]).await?;
        let row = StackRow {
            id: id.clone(),
            name: request.name.clone(),
            status: StackStatus::CreateInProgress,
            created_ms: now_ms(),
            deleted_ms: None,
            owner: String::new(),
            lease_ms: 0,
            record: StackRecord {
                status_reason: Some("User Initiated".into()),
                description: prepared.template.description.clone(),
                template_body: body,
                parameters: prepared.parameters,
                capabilities: request.capabilities,
                tags,
                role_arn: request.role.as_ref().map(|r| r.arn.clone()),
                role_id: request.role.map(|r| r.role_id),
                on_failure: Some(request.on_failure),
                caller: request.caller,
                caller_id: request.caller_id,
                ..StackRecord::default()
            },
        };
        match self.store.insert_stack(scope, &row).await {
            Err(StoreError::Duplicate) => return Err(Error::StackExists(row.name)),
            other => other?,
        }
        self.stack_event(&row, StackStatus::CreateInProgress, Some("User Initiated")).await?;
        self.kick(scope, &row.id);
        Ok(id)
    }

    /// `UpdateStack`.
    pub async fn update(self: &Arc<Self>, scope: &crate::store::Scope, request: StackRequest) -> Result<String> {
        let mut row = self.find(scope, &request.name).await?;
        let updatable = [StackStatus::CreateComplete, StackStatus::UpdateComplete, StackStatus::UpdateRollbackComplete];
        // A DeleteStack that came during the last operation is still to be carried out.
        let deleting = self.store.stack_delete_requested(scope, &row.id).await?.is_some();
        if deleting {
            return Err(
                StackInvalid::NotUpdatable { id: row.id, status: StackStatus::DeleteInProgress.as_str() }.into()
            );
        }
        if !updatable.contains(&row.status) {
            return Err(StackInvalid::NotUpdatable { id: row.id, status: row.status.as_str() }.into());
        }
        let body = request.template_body.clone().unwrap_or_else(|| row.record.template_body.clone());
        let tags = request.tags.clone().unwrap_or_else(|| row.record.tags.clone());
        if tags.len() > MAX_TAGS {
            return Err(StackInvalid::TooManyTags.into());
        }
        // Without a RoleARN the stack keeps the role it has, as CloudFormation does.
        let mut request = request;
        if request.role.is_none()
            && let (Some(arn), Some(role_id)) = (&row.record.role_arn, &row.record.role_id)
        {
            request.role = Some(PinnedRole { arn: arn.clone(), role_id: role_id.clone() });
        }
        let acting = acting(&request.caller, request.caller_id.as_deref(), request.role.as_ref());
        let prepared =
            self.prepare(scope, &acting, &row.name, &row.id, &body, &request, &row.record.parameters).await?;
        let unchanged = body == row.record.template_body
            && prepared.parameters == row.record.parameters
            && tags == row.record.tags
            && request.role.as_ref().map(|r| &r.arn) == row.record.role_arn.as_ref();
        if unchanged {
            return Err(StackInvalid::NoUpdates.into());
        }
        let previous = crate::store::PendingUpdate {
            template_body: std::mem::replace(&mut row.record.template_body, body),
            parameters: std::mem::replace(&mut row.record.parameters, prepared.parameters),
            outputs: row.record.outputs.clone(),
            resources: row.record.resources.clone(),
            cleanup: Vec::new(),
        };
        let before = row.status;
        row.status = StackStatus::UpdateInProgress;
        row.record.update = Some(previous);
        row.record.description = prepared.template.description;
        row.record.tags = tags;
        row.record.capabilities = request.capabilities;
        row.record.role_arn = request.role.as_ref().map(|r| r.arn.clone());
        row.record.role_id = request.role.map(|r| r.role_id);
        row.record.caller = request.caller;
        row.record.caller_id = request.caller_id;
        row.record.status_reason = Some("User Initiated".into());
        row.record.updated_ms = Some(now_ms());
        row.record.failed.clear();
        if !self.store.save_stack(scope, &row, before).await? {
            return Err(
                StackInvalid::NotUpdatable { id: row.id, status: StackStatus::UpdateInProgress.as_str() }.into()
            );
        }
        self.stack_event(&row, StackStatus::UpdateInProgress, Some("User Initiated")).await?;
        self.kick(scope, &row.id);
        Ok(row.id)
    }

    /// `DeleteStack`: a stack that does not exist is deleted already; one in the middle of an
    /// operation is deleted when that stops.
    /// The delete runs as `caller` (its ARN and id), whenever it starts.
    pub async fn delete(
        self: &Arc<Self>,
        scope: &crate::store::Scope,
        name: &str,
        caller: &str,
        caller_id: Option<&str>,
    ) -> Result<()> {
        // Each try either starts the delete, leaves it to the running operation, or saw the
        // stack change under it; a stack that keeps changing is reported, not skipped.
        for _ in 0..3 {
            let Some(mut row) = self.store.stack(scope, name).await? else { return Ok(()) };
            if row.status == StackStatus::DeleteComplete || row.status == StackStatus::DeleteInProgress {
                return Ok(());
            }
            self.check_exports_unused(scope, &row).await?;
            if row.status.in_progress() {
                if self.store.request_stack_delete(scope, &row.id, caller, caller_id).await? {
                    self.kick(scope, &row.id);
                    return Ok(());
                }
                continue;
            }
            let before = row.status;
            row.status = StackStatus::DeleteInProgress;
            row.record.status_reason = Some("User Initiated".into());
            row.record.caller = caller.to_owned();
            row.record.caller_id = caller_id.map(str::to_owned);
            if self.store.save_stack(scope, &row, before).await? {
                self.stack_event(&row, StackStatus::DeleteInProgress, Some("User Initiated")).await?;
                self.kick(scope, &row.id);
                return Ok(());
            }
        }
        Err(StackInvalid::Busy(name.to_owned()).into())
    }

    /// A stack by name (live) or id; `ValidationError` "Stack with id … does not exist".
    pub async fn find(&self, scope: &crate::store::Scope, name_or_id: &str) -> Result<StackRow> {
        self.store.stack(scope, name_or_id).await?.ok_or_else(|| Error::StackNotFound(name_or_id.to_owned()))
    }

    /// `DescribeStacks` without a name: the live stacks.
    pub async fn live(&self, scope: &crate::store::Scope) -> Result<Vec<StackRow>> {
        Ok(self.store.stacks(scope).await?.into_iter().filter(|s| s.deleted_ms.is_none()).collect())
    }

    /// `ListStacks`: every stack, deleted ones too, newest first.
    pub async fn all(&self, scope: &crate::store::Scope) -> Result<Vec<StackRow>> {
        let mut stacks = self.store.stacks(scope).await?;
        stacks.reverse();
        Ok(stacks)
    }

    /// `DescribeStackEvents`, newest first.
    pub async fn events(&self, scope: &crate::store::Scope, name_or_id: &str) -> Result<(StackRow, Vec<StackEvent>)> {
        let row = self
            .store
            .stack(scope, name_or_id)
            .await?
            .ok_or_else(|| Error::StackEventsNotFound(name_or_id.to_owned()))?;
        let events = self.store.stack_events(&row.id).await?;
        Ok((row, events))
    }

    /// `ListExports`.
    pub async fn exports(&self, scope: &crate::store::Scope) -> Result<Vec<Export>> {
        let mut found = Vec::new();
        for stack in self.live(scope).await? {
            for output in &stack.record.outputs {
                if let Some(name) = &output.export_name {
                    found.push(Export {
                        stack_id: stack.id.clone(),
                        stack_name: stack.name.clone(),
                        name: name.clone(),
                        value: output.value.clone(),
                    });
                }
            }
        }
        Ok(found)
    }

    async fn check_exports_unused(&self, scope: &crate::store::Scope, row: &StackRow) -> Result<()> {
        let exported: BTreeSet<&String> = row.record.outputs.iter().filter_map(|o| o.export_name.as_ref()).collect();
        for other in self.live(scope).await? {
            if other.id == row.id {
                continue;
            }
            if let Some(export) = other.record.imports.iter().find(|i| exported.contains(i)) {
                return Err(StackInvalid::ExportInUse { export: export.clone(), importer: other.name }.into());
            }
        }
        Ok(())
    }

    /// Everything CreateStack and UpdateStack check before they store anything: the
    /// template, its resource types, references and order, the capabilities, the parameters
    /// (reading Parameter Store ones as the caller) and the conditions.
    #[allow(clippy::too_many_arguments)]
    async fn prepare(
        &self,
        scope: &crate::store::Scope,
        acting: &Acting,
        name: &str,
        id: &str,
        body: &str,
        request: &StackRequest,
        previous: &[StackParameter],
    ) -> Result<Prepared> {
        let validated = self.validate(body)?;
        if let Some((capability, _)) = &validated.capability {
            let given = &request.capabilities;
            let enough = given.iter().any(|c| c == capability)
                || (*capability == "CAPABILITY_IAM" && given.iter().any(|c| c == "CAPABILITY_NAMED_IAM"));
            if !enough {
                return Err(Error::InsufficientCapabilities(capability));
            }
        }
        let template = validated.template;
        let parameters = self.parameters(scope, acting, &template, &request.parameters, previous).await?;
        let pseudo = pseudo(scope, name, id);
        intrinsics::evaluate_conditions(&template, &pseudo, &parameter_values(&template, &parameters))?;
        Ok(Prepared { template, parameters })
    }

    /// The stack's parameters: given, previous or default, each checked against its
    /// declaration; Parameter Store types resolved.
    async fn parameters(
        &self,
        scope: &crate::store::Scope,
        acting: &Acting,
        template: &Template,
        given: &[(String, ParameterInput)],
        previous: &[StackParameter],
    ) -> Result<Vec<StackParameter>> {
        let unknown: Vec<String> =
            given.iter().filter(|(k, _)| template.parameter(k).is_none()).map(|(k, _)| k.clone()).collect();
        if !unknown.is_empty() {
            return Err(TemplateError::UnknownParameters(unknown).into());
        }
        let mut chosen = Vec::new();
        let mut missing = Vec::new();
        for decl in &template.parameters {
            let value = match given.iter().find(|(k, _)| *k == decl.name).map(|(_, v)| v) {
                Some(ParameterInput::Value(value)) => Some(value.clone()),
                Some(ParameterInput::UsePrevious) => Some(
                    previous
                        .iter()
                        .find(|p| p.key == decl.name)
                        .map(|p| p.value.clone())
                        .ok_or_else(|| StackInvalid::PreviousValue(decl.name.clone()))?,
                ),
                None => decl.default.clone(),
            };
            match value {
                Some(value) => chosen.push((decl, value)),
                None => missing.push(decl.name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(TemplateError::MissingParameters(missing).into());
        }
        let ssm_names: Vec<String> = chosen
            .iter()
            .filter(|(d, _)| matches!(d.kind, ParameterType::SsmValue { .. }))
            .map(|(_, v)| v.clone())
            .collect();
        let resolved = if ssm_names.is_empty() {
            BTreeMap::new()
        } else {
            self.provisioner()?
                .parameter_values(scope, acting, &ssm_names)
                .await
                .map_err(|f| TemplateError::ParameterValue(f.0))?
        };
        chosen
            .into_iter()
            .map(|(decl, value)| {
                let resolved = resolved.get(&value).cloned();
                check_parameter(decl, resolved.as_deref().unwrap_or(&value))?;
                Ok(StackParameter { key: decl.name.clone(), value, resolved, no_echo: decl.no_echo })
            })
            .collect()
    }

    async fn stack_event(&self, row: &StackRow, status: StackStatus, reason: Option<&str>) -> Result<()> {
        let event = StackEvent {
            event_id: crate::common::ids::request_id(),
            timestamp_ms: now_ms(),
            logical_id: row.name.clone(),
            physical_id: Some(row.id.clone()),
            kind: STACK_TYPE.to_owned(),
            status: status.as_str().to_owned(),
            reason: reason.map(str::to_owned),
            properties: None,
        };
        Ok(self.store.add_stack_event(&row.id, &event).await?)
    }

    /// Starts running a stack on this replica now, rather than at the poller's next look.
    fn kick(self: &Arc<Self>, scope: &crate::store::Scope, id: &str) {
        self.spawn(scope.clone(), id.to_owned());
    }
}

/// One export of a stack's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// `ExportingStackId`.
    pub stack_id: String,
    /// The exporting stack's name.
    pub stack_name: String,
    /// `Name`.
    pub name: String,
    /// `Value`.
    pub value: String,
}

struct Prepared {
    template: Template,
    parameters: Vec<StackParameter>,
}

/// Whom a stack's resource calls are made as: its service role, else its caller (pinned by
/// the id its user or role had).
fn acting(caller: &str, caller_id: Option<&str>, role: Option<&PinnedRole>) -> Acting {
    match role {
        Some(role) => Acting::Role { role: role.clone(), session: "AWSCloudFormation".into() },
        None => Acting::Caller { arn: caller.to_owned(), id: caller_id.map(str::to_owned) },
    }
}

/// The stack's pseudo-parameters.
fn pseudo(scope: &crate::store::Scope, name: &str, id: &str) -> Pseudo {
    Pseudo {
        account: scope.account.clone(),
        region: scope.region.clone(),
        stack_name: name.to_owned(),
        stack_id: id.to_owned(),
    }
}

/// Each parameter's value as `Ref` gives it: a string, or for list types a list.
fn parameter_values(template: &Template, parameters: &[StackParameter]) -> BTreeMap<String, Value> {
    parameters
        .iter()
        .map(|p| {
            let value = p.resolved.clone().unwrap_or_else(|| p.value.clone());
            let list = template
                .parameter(&p.key)
                .is_some_and(|d| matches!(d.kind, ParameterType::List | ParameterType::SsmValue { list: true }));
            let value = if list {
                Value::Array(value.split(',').map(|s| Value::String(s.trim().to_owned())).collect())
            } else {
                Value::String(value)
            };
            (p.key.clone(), value)
        })
        .collect()
}

fn check_stack_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= MAX_STACK_NAME;
    if well_formed { Ok(()) } else { Err(StackInvalid::StackName(name.to_owned()).into()) }
}

/// Every resource's type is one keyfleet makes, and every reference and `DependsOn` names
/// something declared, without cycles.
fn check_resources(template: &Template) -> Result<()> {
    let unknown: Vec<String> = template
        .resources
        .iter()
        .map(|r| r.kind.clone())
        .filter(|k| !RESOURCE_TYPES.contains(&k.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::UnrecognizedTypes(unknown).into());
    }
    creation_order(template, |_| true)?;
    Ok(())
}

/// The capability the template's IAM resources need, and those resources' types.
fn required_capability(template: &Template) -> Option<(&'static str, Vec<String>)> {
    let mut needs = None;
    let mut kinds = BTreeSet::new();
    for resource in &template.resources {
        let Some((kind, name_property)) = IAM_TYPES.iter().find(|(k, _)| *k == resource.kind) else { continue };
        kinds.insert(kind.to_string());
        let named = name_property.is_some_and(|p| resource.properties.get(p).is_some());
        if named {
            needs = Some("CAPABILITY_NAMED_IAM");
        } else if needs.is_none() {
            needs = Some("CAPABILITY_IAM");
        }
    }
    needs.map(|n| (n, kinds.into_iter().collect()))
}

/// The names a template's value may `Ref` besides resources.
fn declared_names(template: &Template) -> BTreeSet<String> {
    let pseudo = [
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NoValue",
        "AWS::NotificationARNs",
    ];
    pseudo.iter().map(|s| s.to_string()).chain(template.parameters.iter().map(|p| p.name.clone())).collect()
}

/// The resources whose condition holds, each after everything it refers to or depends on
/// (template order among equals); unresolved names and cycles are errors.
fn creation_order(
    template: &Template,
    included: impl Fn(&template::ResourceDecl) -> bool,
) -> Result<Vec<&template::ResourceDecl>> {
    let names = declared_names(template);
    let mut needs: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    for resource in &template.resources {
        let mut deps = template::references(&resource.properties);
        deps.extend(resource.depends_on.iter().cloned());
        deps.retain(|d| !names.contains(d));
        for dep in &deps {
            if template.resource(dep).is_none() {
                unresolved.insert(dep.clone());
            }
        }
        needs.insert(&resource.logical_id, deps);
    }
    for output in &template.outputs {
        let mut refs = template::references(&output.value);
        if let Some(export) = &output.export_name {
            refs.extend(template::references(export));
        }
        unresolved.extend(refs.into_iter().filter(|r| !names.contains(r) && template.resource(r).is_none()));
    }
    if !unresolved.is_empty() {
        return Err(TemplateError::Unresolved(unresolved.into_iter().collect()).into());
    }
    let mut order: Vec<&template::ResourceDecl> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while placed.len() < template.resources.len() {
        let next = template.resources.iter().find(|r| {
            !placed.contains(r.logical_id.as_str())
                && needs.get(r.logical_id.as_str()).is_none_or(|d| d.iter().all(|d| placed.contains(d.as_str())))
        });
        let Some(next) = next else {
            let cycle =
                template.resources.iter().map(|r| r.logical_id.clone()).filter(|id| !placed.contains(id.as_str()));
            return Err(TemplateError::Circular(cycle.collect()).into());
        };
        placed.insert(&next.logical_id);
        order.push(next);
    }
    Ok(order.into_iter().filter(|r| included(r)).collect())
}

/// A value against its parameter's `AllowedValues`, `AllowedPattern`, lengths and bounds.
fn check_parameter(decl: &template::ParameterDecl, value: &str) -> std::result::Result<(), TemplateError> {
    let refuse = |generic: String| {
        let message = match &decl.constraint_description {
            Some(description) => format!("Parameter {} failed to satisfy constraint: {description}", decl.name),
            None => generic,
        };
        Err(TemplateError::ParameterValue(message))
    };
    if value.len() > MAX_PARAMETER_VALUE {
        return refuse(format!("Parameter '{}' is longer than {MAX_PARAMETER_VALUE} bytes", decl.name));
    }
    let items: Vec<&str> = match decl.kind {
        ParameterType::List | ParameterType::SsmValue { list: true } => value.split(',').map(str::trim).collect(),
        _ => vec![value],
    };
    // Compiled once, linear in the value, and bounded as Parameter Store's patterns are.
    let pattern = decl.allowed_pattern.as_ref().map(|pattern| {
        regex::RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(1 << 20).dfa_size_limit(1 << 20).build()
    });
    let allowed: BTreeSet<&str> = decl.allowed_values.iter().map(String::as_str).collect();
    for item in items {
        if !allowed.is_empty() && !allowed.contains(item) {
            return refuse(format!("Parameter '{}' must be one of AllowedValues", decl.name));
        }
        if let (Some(pattern), Some(compiled)) = (&decl.allowed_pattern, &pattern) {
            let matches = compiled.as_ref().is_ok_and(|r| r.is_match(item));
            if !matches {
                return refuse(format!("Parameter '{}' must match pattern {pattern}", decl.name));
            }
        }
        let length = item.chars().count() as u64;
        if decl.length.0.is_some_and(|min| length < min) || decl.length.1.is_some_and(|max| length > max) {
            return refuse(format!("Parameter '{}' has an invalid length", decl.name));
        }
        if decl.kind == ParameterType::Number || decl.value.0.is_some() || decl.value.1.is_some() {
            let Ok(number) = item.parse::<f64>() else {
                return refuse(format!("Parameter '{}' must be a number.", decl.name));
            };
            if decl.value.0.is_some_and(|min| number < min) || decl.value.1.is_some_and(|max| number > max) {
                return refuse(format!("Parameter '{}' is out of range", decl.name));
            }
        }
    }
    Ok(())
}

/// Evaluates the outputs of a stack whose resources exist.
fn evaluate_outputs(env: &Env<'_>) -> std::result::Result<Vec<crate::store::StackOutput>, TemplateError> {
    let mut outputs = Vec::new();
    for output in &env.template.outputs {
        if output.condition.as_ref().is_some_and(|c| env.conditions.get(c) != Some(&true)) {
            continue;
        }
        let value = match env.resolve_value(&output.value)? {
            Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
            other => text_of(&other),
        };
        let export_name = output.export_name.as_ref().map(|e| env.resolve_value(e).map(|v| text_of(&v))).transpose()?;
        if let Some(name) = &export_name
            && outputs.iter().any(|o: &crate::store::StackOutput| o.export_name.as_ref() == Some(name))
        {
            return Err(TemplateError::Function(format!("Export name {name} is used by more than one output")));
        }
        outputs.push(crate::store::StackOutput {
            key: output.name.clone(),
            value,
            description: output.description.clone(),
            export_name,
        });
    }
    Ok(outputs)
}

/// The export names a template imports, as far as they can be known before its resources
/// exist.
fn imports(env: &Env<'_>) -> Vec<String> {
    fn walk(value: &Value, env: &Env<'_>, found: &mut BTreeSet<String>, depth: usize) {
        if depth > template::MAX_DEPTH {
            return;
        }
        match value {
            Value::Array(items) => items.iter().for_each(|i| walk(i, env, found, depth + 1)),
            Value::Object(map) => {
                if let (1, Some(argument)) = (map.len(), map.get("Fn::ImportValue"))
                    && let Ok(Some(name)) = env.resolve(argument)
                {
                    found.insert(text_of(&name));
                }
                map.values().for_each(|v| walk(v, env, found, depth + 1));
            }
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    for resource in &env.template.resources {
        walk(&resource.properties, env, &mut found, 0);
    }
    for output in &env.template.outputs {
        walk(&output.value, env, &mut found, 0);
    }
    found.into_iter().collect()
}

#[doc(hidden)]
pub fn provisioned_of(resource: &crate::store::StackResource) -> Option<Provisioned> {
    resource.physical_id.clone().map(|physical_id| Provisioned { physical_id, attributes: resource.attributes.clone() })
}

//! SSM Automation with the built-in runbook `AWSSupport-ResetAccess` (docs/aws-facts.md,
//! "AWSSupport-ResetAccess runbook"): for a lost key, stop the instance, take its root volume aside,
//! generate an RSA-4096 key ("Added by EC2 Rescue for Linux"), append its public half to
//! every existing `/home/*/.ssh/authorized_keys` (old keys stay), store the private key as
//! the SecureString `/ec2rl/openssh/<instance-id>/key`, reattach, and start again.
//!
//! The execution is written to the store after every step, so `GetAutomationExecution`
//! shows it progress, and a restart resumes it: every step can safely run again.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::instances::Instances;
use super::parameters::{Parameters, PutParameter};
use super::{Assertion, Error, Result, RunbookInput, now_ms};
use crate::common::ids;
use crate::store::{
    AutomationRow, AutomationStatus, PinnedRole, RunbookStep, Scope, StepExecution, StepStatus, Store, StoreError,
    WireName,
};

/// The one built-in runbook.
pub const RESET_ACCESS: &str = "AWSSupport-ResetAccess";
/// The comment of the keys ResetAccess adds, as EC2Rescue writes it.
pub const KEY_COMMENT: &str = "Added by EC2 Rescue for Linux";
const NO_OUTPUT: &str = "No output available yet because the step is not successfully executed";
const ACCEPTED_PARAMETERS: [&str; 4] = ["InstanceId", "SubnetId", "EC2RescueInstanceType", "AutomationAssumeRole"];

/// A step's or the execution's outputs: name → values.
pub type Outputs = BTreeMap<String, Vec<String>>;

/// Turns a service error into the AWS code and message a failed step reports. Supplied
/// by the API layer, which owns the one mapping to AWS codes.
pub type Describe = Arc<dyn Fn(Error) -> (String, String) + Send + Sync>;

/// What a step's call acts on, for its policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepTarget {
    /// No resource (EC2's `Describe*`).
    Any,
    /// An instance, by id.
    Instance(String),
    /// A parameter, by name.
    Parameter(String),
}

/// One call a step makes, as an IAM action on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCall {
    /// `ec2:StopInstances`, …
    pub action: &'static str,
    /// What it acts on.
    pub target: StepTarget,
}

/// A new execution's id and the role it runs as, decided before it starts (the role is
/// admitted for this very execution).
#[derive(Debug, Clone)]
pub struct Execution {
    /// A UUID ([`Execution::new_id`]).
    pub id: String,
    /// The role pinned for it.
    pub assume_role: Option<PinnedRole>,
}

impl Execution {
    /// An execution id.
    pub fn new_id() -> String {
        ids::request_id()
    }
}

/// Who an execution's steps act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acting {
    /// The caller who started it: without an `AutomationAssumeRole`, AWS runs every step with
    /// the caller's own permissions.
    Caller {
        /// Its ARN.
        arn: String,
        /// The id the user or role had when the caller asked (`AIDA…`, `AROA…`); a user or
        /// role made again under the name has another and is not the caller. `None` for the
        /// root, and for executions, which are not pinned (docs/security.md).
        id: Option<String>,
    },
    /// A session of the role pinned at the start, named after the execution.
    Role {
        /// The role, as admitted.
        role: PinnedRole,
        /// The session's name: the execution id.
        session: String,
    },
}

/// Authorizes and audits one call of a step as whom the execution acts as. Supplied by the
/// API layer, which owns policies; `Err` is the denial's AWS code and message.
pub type StepGuard = Arc<
    dyn Fn(
            Scope,
            Acting,
            StepCall,
        ) -> std::pin::Pin<Box<dyn Future<Output = std::result::Result<(), (String, String)>> + Send>>
        + Send
        + Sync,
>;

/// The calls each step makes (the runbook's `aws:changeInstanceState` also describes the
/// instance while it waits).
fn step_calls(step: RunbookStep, instance_id: &str) -> Vec<StepCall> {
    let call = |action, target| StepCall { action, target };
    let instance = || StepTarget::Instance(instance_id.to_owned());
    let describe = || call("ec2:DescribeInstances", StepTarget::Any);
    match step {
        RunbookStep::AssertInstanceIsWindows => vec![describe()],
        RunbookStep::StopInstance => vec![call("ec2:StopInstances", instance()), describe()],
        RunbookStep::DetachRootVolume => vec![call("ec2:DetachVolume", instance())],
        RunbookStep::InjectSshKey => {
            vec![call("ssm:PutParameter", StepTarget::Parameter(key_parameter(instance_id)))]
        }
        RunbookStep::AttachRootVolume => vec![call("ec2:AttachVolume", instance())],
        RunbookStep::StartInstance => vec![call("ec2:StartInstances", instance()), describe()],
        RunbookStep::GetLinuxSshKeyParameter
        | RunbookStep::GetLinuxBackupAmi
        | RunbookStep::GetEc2RescueForLinuxResult => Vec::new(),
    }
}

/// Who an execution's steps act as: a session of the role pinned when its start was admitted
/// (named after the execution, as Automation names it), or else the caller who started it.
/// An `AutomationAssumeRole` parameter alone, as executions stored before roles have it,
/// never makes a step act as a role.
fn acting_as(row: &AutomationRow) -> Acting {
    match &row.assume_role {
        Some(role) => Acting::Role { role: role.clone(), session: row.id.clone() },
        None => Acting::Caller { arn: row.executed_by.clone(), id: None },
    }
}

/// The Automation operations and the runbook runner.
pub struct Automation {
    store: Arc<dyn Store>,
    instances: Arc<Instances>,
    parameters: Arc<Parameters>,
    describe: Describe,
    guard: StepGuard,
    step_delay: Duration,
    /// Executions this process is running now.
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Automation {
    /// Creates the service. `step_delay` slows every step down (tests use it to stop the
    /// server in the middle of an execution).
    pub fn new(
        store: Arc<dyn Store>,
        instances: Arc<Instances>,
        parameters: Arc<Parameters>,
        describe: Describe,
        guard: StepGuard,
        step_delay: Duration,
    ) -> Self {
        Automation { store, instances, parameters, describe, guard, step_delay, running: Default::default() }
    }

    /// `StartAutomationExecution`: validates, stores the execution, runs it in the background.
    pub async fn start(
        self: &Arc<Self>,
        scope: &Scope,
        document: &str,
        parameters: BTreeMap<String, Vec<String>>,
        caller: &str,
        execution: Execution,
    ) -> Result<String> {
        if document != RESET_ACCESS {
            return Err(Error::AutomationDefinitionNotFound(document.to_owned()));
        }
        if let Some(unknown) = parameters.keys().find(|k| !ACCEPTED_PARAMETERS.contains(&k.as_str())) {
            return Err(Error::InvalidAutomationParameters(RunbookInput::Unknown(unknown.clone())));
        }
        let Some(instance_id) = parameters.get("InstanceId").and_then(|v| v.first()).cloned() else {
            return Err(Error::InvalidAutomationParameters(RunbookInput::MissingInstanceId));
        };
        // The runner works on the volume, so it runs on the replica that serves the instance.
        let owner = self.instances.owner_of(scope, &instance_id).await?;
        let owner = owner.filter(|o| !o.is_empty()).unwrap_or_else(|| self.instances.replica().to_owned());
        let mut all = parameters;
        all.entry("SubnetId".into()).or_insert_with(|| vec!["CreateNewVPC".into()]);
        all.entry("EC2RescueInstanceType".into()).or_insert_with(|| vec!["t2.small".into()]);
        all.entry("AutomationAssumeRole".into()).or_insert_with(|| vec![String::new()]);
        let row = AutomationRow {
            id: execution.id,
            document: document.to_owned(),
            status: AutomationStatus::InProgress,
            parameters: serde_json::to_value(&all).unwrap_or_default().to_string(),
            steps: RunbookStep::ALL.iter().copied().map(StepExecution::pending).collect(),
            outputs: "{}".into(),
            failure: None,
            start_ms: now_ms(),
            end_ms: None,
            executed_by: caller.to_owned(),
            assume_role: execution.assume_role,
            owner,
            target: Some(instance_id.clone()),
        };
        match self.store.save_execution(scope, &row).await {
            Err(StoreError::Duplicate) => return Err(Error::AutomationAlreadyRunning(instance_id)),
            other => other?,
        }
        if row.owner == self.instances.replica() {
            self.spawn(scope.clone(), row.id.clone());
        }
        Ok(row.id)
    }

    /// `GetAutomationExecution`.
    pub async fn get(&self, scope: &Scope, id: &str) -> Result<AutomationRow> {
        self.store.execution(scope, id).await?.ok_or_else(|| Error::AutomationExecutionNotFound(id.to_owned()))
    }

    /// `DescribeAutomationExecutions`.
    pub async fn list(&self, scope: &Scope) -> Result<Vec<AutomationRow>> {
        Ok(self.store.executions(scope).await?)
    }

    /// `StopAutomationExecution`: the runner cancels before its next step.
    pub async fn stop(&self, scope: &Scope, id: &str) -> Result<()> {
        let mut row = self.get(scope, id).await?;
        if row.end_ms.is_some() {
            return Err(Error::InvalidAutomationStatusUpdate(row.status.as_str().to_owned()));
        }
        row.status = AutomationStatus::Cancelling;
        Ok(self.store.save_execution(scope, &row).await?)
    }

    /// Resumes executions a stopped server left unfinished, and picks up those another
    /// replica started for an instance this one serves.
    pub async fn resume(self: &Arc<Self>) -> Result<()> {
        let me = self.instances.replica();
        for (scope, row) in self
            .store
            .executions_in_status(&[
                AutomationStatus::Pending,
                AutomationStatus::InProgress,
                AutomationStatus::Cancelling,
            ])
            .await?
        {
            if row.owner != me && !row.owner.is_empty() {
                continue;
            }
            if self.spawn(scope, row.id.clone()) {
                tracing::info!(execution = %row.id, "resuming automation execution");
            }
        }
        Ok(())
    }

    /// Looks for executions to run every second, until the process ends.
    pub fn spawn_poller(self: &Arc<Self>) {
        let automation = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(automation) = automation.upgrade() else { return };
                if let Err(e) = automation.resume().await {
                    tracing::warn!(error = %e, "looking for automation executions failed");
                }
            }
        });
    }

    /// Runs an execution in the background unless this process already runs it.
    fn spawn(self: &Arc<Self>, scope: Scope, id: String) -> bool {
        if !self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone()) {
            return false;
        }
        let runner = self.clone();
        tokio::spawn(async move {
            if let Err(e) = runner.run(&scope, &id).await {
                tracing::error!(execution = %id, error = %e, "automation runner failed");
            }
            runner.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        });
        true
    }

    async fn run(&self, scope: &Scope, id: &str) -> Result<()> {
        let mut row = self.get(scope, id).await?;
        let params: BTreeMap<String, Vec<String>> = serde_json::from_str(&row.parameters).unwrap_or_default();
        let instance_id = params.get("InstanceId").and_then(|v| v.first()).cloned().unwrap_or_default();
        for index in 0..row.steps.len() {
            let Some(step) =
                row.steps.get(index).filter(|s| !matches!(s.status, StepStatus::Success | StepStatus::Failed))
            else {
                continue;
            };
            let step = step.step;
            if self.get(scope, id).await?.status == AutomationStatus::Cancelling {
                self.restart_if_stopped(scope, &instance_id, &row.steps).await;
                return self.finish(scope, &mut row, AutomationStatus::Cancelled, None).await;
            }
            update(&mut row.steps, index, |s| {
                s.status = StepStatus::InProgress;
                s.start_ms = Some(now_ms());
            });
            self.save(scope, &mut row).await?;
            tokio::time::sleep(self.step_delay).await;
            let acting = acting_as(&row);
            let result = match self.authorize_step(scope, &acting, step, &instance_id).await {
                Ok(()) => self.execute(scope, step, &instance_id).await.map_err(|e| (self.describe)(e)),
                Err(denied) => Err(denied),
            };
            match result {
                Ok(outputs) => update(&mut row.steps, index, |s| {
                    s.status = StepStatus::Success;
                    s.outputs = Some(outputs);
                }),
                Err((code, message)) => {
                    let failure = format!(
                        "Step {} failed maximum allowed times. {message} (Service: AmazonEC2; Status Code: 400; Error Code: {code}; Request ID: {})",
                        step.as_str(),
                        ids::request_id()
                    );
                    update(&mut row.steps, index, |s| {
                        s.status = StepStatus::Failed;
                        s.failure = Some(failure.clone());
                    });
                    if step.critical() {
                        self.restart_if_stopped(scope, &instance_id, &row.steps).await;
                        return self.finish(scope, &mut row, AutomationStatus::Failed, Some(failure)).await;
                    }
                }
            }
            update(&mut row.steps, index, |s| s.end_ms = Some(now_ms()));
            self.save(scope, &mut row).await?;
        }
        self.finish(scope, &mut row, AutomationStatus::Success, None).await
    }

    /// Every call of the step, checked as the caller before the step runs.
    async fn authorize_step(
        &self,
        scope: &Scope,
        acting: &Acting,
        step: RunbookStep,
        instance_id: &str,
    ) -> std::result::Result<(), (String, String)> {
        for call in step_calls(step, instance_id) {
            (self.guard)(scope.clone(), acting.clone(), call).await?;
        }
        Ok(())
    }

    /// One step. Each is safe to run twice, which is what resuming after a restart does.
    async fn execute(&self, scope: &Scope, step: RunbookStep, instance_id: &str) -> Result<Outputs> {
        let ids = [instance_id.to_owned()];
        let output = |name: &str, value: String| Outputs::from([(name.to_owned(), vec![value])]);
        match step {
            RunbookStep::AssertInstanceIsWindows => {
                self.instances.describe(scope, &ids, &[]).await?;
                Err(Error::AssertionFailed(Assertion::NotWindows))
            }
            RunbookStep::StopInstance => {
                let changes = self.instances.stop(scope, &ids).await?;
                let state = changes.first().map(|c| c.current.as_str()).unwrap_or_default();
                Ok(output("CurrentState", state.to_owned()))
            }
            RunbookStep::DetachRootVolume | RunbookStep::AttachRootVolume => {
                Ok(output("VolumeId", self.volume_id(scope, instance_id).await?))
            }
            RunbookStep::InjectSshKey => self.inject_key(scope, instance_id).await,
            RunbookStep::StartInstance => {
                self.instances.start(scope, &ids).await?;
                Ok(output("CurrentState", "running".into()))
            }
            RunbookStep::GetLinuxSshKeyParameter => Ok(output("Name", key_parameter(instance_id))),
            RunbookStep::GetLinuxBackupAmi => Err(Error::AssertionFailed(Assertion::NoBackupImage)),
            RunbookStep::GetEc2RescueForLinuxResult => Ok(output(
                "Output",
                format!(
                    "EC2Rescue for Linux: a new SSH key was added to each /home/*/.ssh/authorized_keys of {instance_id}; \
                     its private key is the SecureString parameter {}.",
                    key_parameter(instance_id)
                ),
            )),
        }
    }

    /// Generates the key, stores it as a SecureString, and appends the public half to
    /// every existing `authorized_keys` under `/home` on the volume (never creating one).
    async fn inject_key(&self, scope: &Scope, instance_id: &str) -> Result<Outputs> {
        let key = tokio::task::spawn_blocking(|| keyfleet_keys::generate::rsa(4096))
            .await
            .map_err(|e| Error::Encode(keyfleet_keys::EncodeError::Der(e.to_string())))??;
        let private = key.to_openssh(KEY_COMMENT)?;
        let public = key.public_key()?.to_openssh_line(KEY_COMMENT)?;
        let put = PutParameter {
            name: key_parameter(instance_id),
            value: Zeroizing::new(private.to_string()),
            kind: Some("SecureString".into()),
            overwrite: true,
            description: Some(format!("Private key added to instance {instance_id} by EC2 Rescue for Linux.")),
            ..PutParameter::default()
        };
        self.parameters.put(scope, "arn:aws:iam::aws:role/AWSSupport-EC2Rescue", put).await?;
        let injected = self.instances.add_authorized_key(scope, instance_id, &public).await?;
        Ok(Outputs::from([("InjectedFiles".to_owned(), vec![injected.to_string()])]))
    }

    async fn volume_id(&self, scope: &Scope, instance_id: &str) -> Result<String> {
        let rows = self.instances.describe(scope, &[instance_id.to_owned()], &[]).await?;
        Ok(rows.first().map(|r| r.volume_id.clone()).unwrap_or_default())
    }

    /// A failed or cancelled run never leaves the instance stopped with its volume taken aside.
    async fn restart_if_stopped(&self, scope: &Scope, instance_id: &str, steps: &[StepExecution]) {
        if succeeded(steps, RunbookStep::StopInstance) && !succeeded(steps, RunbookStep::StartInstance) {
            let _ = self.instances.start(scope, &[instance_id.to_owned()]).await;
        }
    }

    async fn save(&self, scope: &Scope, row: &mut AutomationRow) -> Result<()> {
        row.status = self.get(scope, &row.id).await.map(|r| r.status).unwrap_or(row.status);
        if row.status == AutomationStatus::Pending {
            row.status = AutomationStatus::InProgress;
        }
        Ok(self.store.save_execution(scope, row).await?)
    }

    async fn finish(
        &self,
        scope: &Scope,
        row: &mut AutomationRow,
        status: AutomationStatus,
        failure: Option<String>,
    ) -> Result<()> {
        let instance_id = serde_json::from_str::<BTreeMap<String, Vec<String>>>(&row.parameters)
            .ok()
            .and_then(|p| p.get("InstanceId").and_then(|v| v.first()).cloned())
            .unwrap_or_default();
        let leftover = if status == AutomationStatus::Cancelled { StepStatus::Cancelled } else { StepStatus::Pending };
        for step in row.steps.iter_mut().filter(|s| matches!(s.status, StepStatus::Pending | StepStatus::InProgress)) {
            step.status = leftover;
        }
        row.outputs = serde_json::json!(outputs(&row.steps, &instance_id)).to_string();
        row.status = status;
        row.failure = failure;
        row.end_ms = Some(now_ms());
        Ok(self.store.save_execution(scope, row).await?)
    }
}

fn succeeded(steps: &[StepExecution], step: RunbookStep) -> bool {
    steps.iter().any(|s| s.step == step && s.status == StepStatus::Success)
}

/// The runbook's documented outputs; steps that did not succeed say so, as SSM does.
fn outputs(steps: &[StepExecution], instance_id: &str) -> Outputs {
    let value = |step: RunbookStep, v: String| vec![if succeeded(steps, step) { v } else { NO_OUTPUT.to_owned() }];
    let summary = steps
        .iter()
        .find(|s| s.step == RunbookStep::GetEc2RescueForLinuxResult)
        .and_then(|s| s.outputs.as_ref()?.get("Output")?.first().cloned())
        .unwrap_or_default();
    let mut out = Outputs::new();
    out.insert(
        "getLinuxSSHKeyParameter.Name".into(),
        value(RunbookStep::GetLinuxSshKeyParameter, key_parameter(instance_id)),
    );
    out.insert("getEC2RescueForLinuxResult.Output".into(), value(RunbookStep::GetEc2RescueForLinuxResult, summary));
    for name in [
        "getLinuxBackupAmi.ImageId",
        "getEC2RescueForWindowsResult.Output",
        "getWindowsBackupAmi.ImageId",
        "getWindowsPasswordEnabledAmi.ImageId",
    ] {
        out.insert(name.into(), vec![NO_OUTPUT.to_owned()]);
    }
    out
}

/// Where ResetAccess leaves the new private key.
pub fn key_parameter(instance_id: &str) -> String {
    format!("/ec2rl/openssh/{instance_id}/key")
}

/// Changes the step at `index`.
fn update(steps: &mut [StepExecution], index: usize, change: impl FnOnce(&mut StepExecution)) {
    if let Some(step) = steps.get_mut(index) {
        change(step);
    }
}

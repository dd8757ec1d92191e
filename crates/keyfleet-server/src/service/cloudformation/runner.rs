//! The stack runner: one replica at a time holds a stack's lease and moves it on, one resource
//! at a time, writing each step before the next. Whatever the status says is what a resumed
//! runner continues: creating, rolling back, updating, cleaning up or deleting.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::intrinsics::{self, Env, Provisioned};
use super::template::{DeletionPolicy, Template, TemplateError};
use super::{
    Provisioner, ResourceFailure, ResourceRequest, Stacks, acting, creation_order, evaluate_outputs, imports,
    parameter_values, provisioned_of, pseudo,
};
use crate::service::{Result, now_ms};
use crate::store::{OnFailure, ResourceStatus, Scope, StackEvent, StackResource, StackRow, StackStatus, WireName};

/// How long a deleted stack stays listed (ListStacks, DescribeStacks by id): CloudFormation
/// keeps them 90 days.
const DELETED_KEPT: Duration = Duration::from_secs(90 * 24 * 3600);
/// How often the poller forgets stacks deleted longer ago than [`DELETED_KEPT`].
const PRUNE_EVERY: u64 = 3600;

/// A stack's run stopped: another writer changed the stack, or it was asked to be deleted.
enum Stop {
    /// The stack is not ours any more.
    Lost,
    /// A resource failed: its logical id.
    Failed(String),
    /// `DeleteStack` came during the operation, from this caller (its ARN and id).
    DeleteRequested((String, Option<String>)),
}

type Step<T> = std::result::Result<T, Stop>;

impl Stacks {
    /// Who asked for the stack's deletion while an operation ran, if anyone did.
    async fn deletion_waits(&self, scope: &Scope, row: &StackRow) -> Result<Option<(String, Option<String>)>> {
        if row.deleted_ms.is_some() {
            return Ok(None);
        }
        Ok(self.store.stack_delete_requested(scope, &row.id).await?)
    }

    /// Looks for stacks to run every second, until the process ends.
    pub(super) fn spawn_poller(self: &Arc<Self>) {
        let stacks = Arc::downgrade(self);
        tokio::spawn(async move {
            for round in 0u64.. {
                let Some(stacks) = stacks.upgrade() else { return };
                if round % PRUNE_EVERY == 0 {
                    let kept = i64::try_from(DELETED_KEPT.as_millis()).unwrap_or(i64::MAX);
                    if let Err(e) = stacks.store.prune_stacks(now_ms().saturating_sub(kept)).await {
                        tracing::warn!(error = %e, "forgetting old deleted stacks failed");
                    }
                }
                match stacks.store.stacks_in_progress().await {
                    Ok(found) => {
                        for (scope, row) in found {
                            stacks.spawn(scope, row.id);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "looking for stacks to run failed"),
                }
                drop(stacks);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Runs a stack in the background unless this process already runs it.
    pub(super) fn spawn(self: &Arc<Self>, scope: Scope, id: String) {
        if !self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone()) {
            return;
        }
        let runner = self.clone();
        tokio::spawn(async move {
            if let Err(e) = runner.run(&scope, &id).await {
                tracing::error!(stack = %id, error = %e, "stack runner failed");
            }
            runner.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        });
    }

    async fn claim(&self, scope: &Scope, id: &str) -> Result<bool> {
        let now = now_ms();
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        Ok(self.store.claim_stack(scope, id, &self.replica, now + lease, now).await?)
    }

    async fn run(&self, scope: &Scope, id: &str) -> Result<()> {
        let provisioner = self.provisioner()?.clone();
        loop {
            if !self.claim(scope, id).await? {
                return Ok(());
            }
            let Some(mut row) = self.store.stack(scope, id).await? else { return Ok(()) };
            row.owner = self.replica.clone();
            if !row.status.in_progress() {
                // A DeleteStack that came while the last operation ran (a rollback, say) is
                // carried out once it has ended.
                let Some(deleter) = self.deletion_waits(scope, &row).await? else { return Ok(()) };
                (row.record.caller, row.record.caller_id) = deleter;
                let mut run = Run { stacks: self, provisioner: provisioner.as_ref(), scope, expected: row.status };
                let reason = Some("User Initiated".to_owned());
                if run.transition(&mut row, StackStatus::DeleteInProgress, reason).await.is_err() {
                    return Ok(());
                }
            }
            let mut run = Run { stacks: self, provisioner: provisioner.as_ref(), scope, expected: row.status };
            match run.advance(&mut row).await? {
                true => continue,
                false => return Ok(()),
            }
        }
    }
}

/// One runner's hold on one stack.
struct Run<'a> {
    stacks: &'a Stacks,
    provisioner: &'a dyn Provisioner,
    scope: &'a Scope,
    /// The status the store holds for the stack, which every save checks.
    expected: StackStatus,
}

impl Run<'_> {
    /// Moves the stack through its current phase into the next status; false if the stack
    /// is no longer this runner's to move.
    async fn advance(&mut self, row: &mut StackRow) -> Result<bool> {
        let outcome = match row.status {
            StackStatus::CreateInProgress => self.create(row).await,
            StackStatus::RollbackInProgress => {
                self.remove_all(row, StackStatus::RollbackComplete, StackStatus::RollbackFailed).await
            }
            StackStatus::DeleteInProgress => {
                self.remove_all(row, StackStatus::DeleteComplete, StackStatus::DeleteFailed).await
            }
            StackStatus::UpdateInProgress => self.update(row).await,
            StackStatus::UpdateCompleteCleanupInProgress => self.cleanup(row).await,
            StackStatus::UpdateRollbackInProgress => self.roll_back_update(row).await,
            _ => return Ok(false),
        };
        match outcome {
            Ok(()) => Ok(true),
            Err(Stop::Lost) => Ok(false),
            Err(Stop::DeleteRequested(deleter)) => {
                (row.record.caller, row.record.caller_id) = deleter;
                let reason = Some("User Initiated".to_owned());
                Ok(self.transition(row, StackStatus::DeleteInProgress, reason).await.is_ok())
            }
            Err(Stop::Failed(_)) => Ok(true),
        }
    }

    async fn save(&mut self, row: &StackRow) -> Step<()> {
        match self.stacks.store.save_stack(self.scope, row, self.expected).await {
            Ok(true) => {
                self.expected = row.status;
                Ok(())
            }
            Ok(false) => Err(Stop::Lost),
            Err(e) => {
                tracing::warn!(stack = %row.id, error = %e, "saving a stack failed");
                Err(Stop::Lost)
            }
        }
    }

    /// Renews the lease; stops if the stack was taken or must be deleted.
    async fn checkpoint(&mut self, row: &StackRow, deletable: bool) -> Step<()> {
        if !self.stacks.step_delay.is_zero() {
            tokio::time::sleep(self.stacks.step_delay).await;
        }
        match self.stacks.claim(self.scope, &row.id).await {
            Ok(true) => {}
            _ => return Err(Stop::Lost),
        }
        if deletable && let Ok(Some(deleter)) = self.stacks.store.stack_delete_requested(self.scope, &row.id).await {
            return Err(Stop::DeleteRequested(deleter));
        }
        Ok(())
    }

    async fn transition(&mut self, row: &mut StackRow, status: StackStatus, reason: Option<String>) -> Step<()> {
        row.status = status;
        row.record.status_reason = reason.clone();
        if status == StackStatus::DeleteComplete {
            row.deleted_ms = Some(now_ms());
        }
        self.save(row).await?;
        self.stack_event(row, status.as_str(), reason).await;
        Ok(())
    }

    async fn stack_event(&self, row: &StackRow, status: &str, reason: Option<String>) {
        let event = StackEvent {
            event_id: crate::common::ids::request_id(),
            timestamp_ms: now_ms(),
            logical_id: row.name.clone(),
            physical_id: Some(row.id.clone()),
            kind: super::STACK_TYPE.to_owned(),
            status: status.to_owned(),
            reason,
            properties: None,
        };
        if let Err(e) = self.stacks.store.add_stack_event(&row.id, &event).await {
            tracing::warn!(stack = %row.id, error = %e, "recording a stack event failed");
        }
    }

    async fn resource_event(&self, row: &StackRow, resource: &StackResource, reason: Option<&str>) {
        let timestamp_ms = now_ms();
        let event = StackEvent {
            event_id: format!(
                "{}-{}-{}",
                resource.logical_id,
                resource.status.as_str(),
                crate::common::time::iso8601_millis(timestamp_ms)
            ),
            timestamp_ms,
            logical_id: resource.logical_id.clone(),
            physical_id: resource.physical_id.clone(),
            kind: resource.kind.clone(),
            status: resource.status.as_str().to_owned(),
            reason: reason.map(str::to_owned).or_else(|| resource.reason.clone()).map(|r| no_echo_hidden(row, r)),
            properties: Some(no_echo_hidden(row, resource.properties.to_string())),
        };
        if let Err(e) = self.stacks.store.add_stack_event(&row.id, &event).await {
            tracing::warn!(stack = %row.id, error = %e, "recording a stack event failed");
        }
    }

    /// Runs a resource handler while renewing the stack's lease, so that a handler that takes
    /// longer than the lease (an instance booting) does not lose the stack to another replica;
    /// if another replica has taken the stack all the same, the handler is dropped here.
    async fn leased<T>(&self, id: &str, work: impl std::future::Future<Output = T>) -> Step<T> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return Ok(done),
                () = tokio::time::sleep(self.stacks.lease / 3) => {
                    match self.stacks.claim(self.scope, id).await {
                        Ok(true) => {}
                        Ok(false) => return Err(Stop::Lost),
                        Err(e) => tracing::warn!(stack = %id, error = %e, "renewing a stack's lease failed"),
                    }
                }
            }
        }
    }

    /// Sets a resource's entry (adding it if new), saves, and records its event.
    async fn put_resource(
        &mut self,
        row: &mut StackRow,
        mut resource: StackResource,
        reason: Option<&str>,
    ) -> Step<()> {
        // A handler's message may quote a NoEcho value; DescribeStackResources shows reasons.
        resource.reason = resource.reason.take().map(|r| no_echo_hidden(row, r));
        match row.record.resources.iter_mut().find(|r| r.logical_id == resource.logical_id) {
            Some(slot) => *slot = resource.clone(),
            None => row.record.resources.push(resource.clone()),
        }
        self.save(row).await?;
        self.resource_event(row, &resource, reason).await;
        Ok(())
    }

    fn template(row: &StackRow) -> std::result::Result<Template, TemplateError> {
        Template::parse(&row.record.template_body)
    }

    /// Creates every resource not yet created, then the outputs.
    async fn create(&mut self, row: &mut StackRow) -> Step<()> {
        let template = match Self::template(row) {
            Ok(t) => t,
            Err(e) => return self.fail_create(row, vec![], Some(e.to_string())).await,
        };
        let built = self.build_all(row, &template, true).await;
        match built {
            Ok(()) => self.finish(row, &template, StackStatus::CreateComplete).await,
            Err(Stop::Failed(logical_id)) => self.fail_create(row, vec![logical_id], None).await,
            Err(other) => Err(other),
        }
    }

    /// Brings every resource of `template` whose condition holds to its properties: creating
    /// what is missing, changing or replacing what differs (replaced ones are kept for the
    /// cleanup), in dependency order.
    async fn build_all(&mut self, row: &mut StackRow, template: &Template, creating: bool) -> Step<()> {
        let inputs = self.inputs(row, template).await.map_err(|_| Stop::Failed(row.name.clone()))?;
        let order = creation_order(template, |r| inputs.holds(r.condition.as_ref()))
            .map_err(|_| Stop::Failed(row.name.clone()))?;
        for decl in order {
            self.checkpoint(row, creating).await?;
            let resources = self.provisioned(row);
            let properties = inputs.env(&resources).resolve_value(&decl.properties);
            let existing = row.record.resources.iter().find(|r| r.logical_id == decl.logical_id).cloned();
            let retain = decl.deletion_policy == DeletionPolicy::Retain;
            match (existing, properties) {
                (Some(done), Ok(properties))
                    if settled(done.status) && done.kind == decl.kind && done.properties == properties =>
                {
                    continue;
                }
                (existing, Err(e)) => {
                    let mut failed = existing.unwrap_or_else(|| new_resource(&decl.logical_id, &decl.kind, retain));
                    failed.status = if creating { ResourceStatus::CreateFailed } else { ResourceStatus::UpdateFailed };
                    failed.reason = Some(e.to_string());
                    self.put_resource(row, failed, None).await?;
                    return Err(Stop::Failed(decl.logical_id.clone()));
                }
                (Some(done), Ok(properties))
                    if done.physical_id.is_some()
                        && done.kind == decl.kind
                        && (settled(done.status) || done.status == ResourceStatus::UpdateInProgress) =>
                {
                    self.change(row, done, properties).await?;
                }
                (existing, Ok(properties)) => {
                    let replacing = existing.filter(|e| e.physical_id.is_some() && !creating);
                    self.make(row, &decl.logical_id, &decl.kind, properties, retain, replacing).await?;
                }
            }
        }
        row.record.imports = imports(&inputs.env(&self.provisioned(row)));
        Ok(())
    }

    /// What the stack's template is evaluated in: its parameters, pseudo-parameters,
    /// conditions, the other stacks' exports and the Region's zones.
    async fn inputs<'t>(
        &self,
        row: &StackRow,
        template: &'t Template,
    ) -> std::result::Result<Inputs<'t>, TemplateError> {
        let parameters = parameter_values(template, &row.record.parameters);
        let pseudo = pseudo(self.scope, &row.name, &row.id);
        let conditions = intrinsics::evaluate_conditions(template, &pseudo, &parameters)?;
        let exported = self.exports_of_others(row).await;
        let exports = exported.iter().map(|(n, (v, _))| (n.clone(), v.clone())).collect();
        Ok(Inputs { template, pseudo, parameters, conditions, exported, exports, zones: self.zones() })
    }

    /// The region's Availability Zones, for `Fn::GetAZs`.
    fn zones(&self) -> Vec<String> {
        crate::service::network::zones(&self.scope.region).into_iter().map(|z| z.name).collect()
    }

    fn provisioned(&self, row: &StackRow) -> BTreeMap<String, Provisioned> {
        row.record
            .resources
            .iter()
            .filter(|r| matches!(r.status, ResourceStatus::CreateComplete | ResourceStatus::UpdateComplete))
            .filter_map(|r| provisioned_of(r).map(|p| (r.logical_id.clone(), p)))
            .collect()
    }

    /// The exports other live stacks import: name → an importing stack's name.
    async fn importers(&self, row: &StackRow) -> BTreeMap<String, String> {
        let Ok(stacks) = self.stacks.live(self.scope).await else { return BTreeMap::new() };
        stacks
            .into_iter()
            .filter(|s| s.id != row.id)
            .flat_map(|s| s.record.imports.iter().map(|i| (i.clone(), s.name.clone())).collect::<Vec<_>>())
            .collect()
    }

    /// The other stacks' exports: name → (value, exporting stack's name).
    async fn exports_of_others(&self, row: &StackRow) -> BTreeMap<String, (String, String)> {
        match self.stacks.exports(self.scope).await {
            Ok(found) => {
                found.into_iter().filter(|e| e.stack_id != row.id).map(|e| (e.name, (e.value, e.stack_name))).collect()
            }
            Err(_) => BTreeMap::new(),
        }
    }

    fn request<'r>(
        &'r self,
        row: &'r StackRow,
        resource: &'r StackResource,
        acting: &'r crate::service::automation::Acting,
    ) -> ResourceRequest<'r> {
        ResourceRequest {
            scope: self.scope,
            acting,
            stack_name: &row.name,
            stack_id: &row.id,
            logical_id: &resource.logical_id,
            kind: &resource.kind,
            properties: &resource.properties,
            physical_id: resource.physical_id.as_deref(),
            attributes: &resource.attributes,
            tags: &row.record.tags,
            token: resource.token.as_deref().unwrap_or(&resource.logical_id),
        }
    }

    fn acting(row: &StackRow) -> crate::service::automation::Acting {
        let role = match (&row.record.role_arn, &row.record.role_id) {
            (Some(arn), Some(role_id)) => Some(crate::store::PinnedRole { arn: arn.clone(), role_id: role_id.clone() }),
            _ => None,
        };
        acting(&row.record.caller, row.record.caller_id.as_deref(), role.as_ref())
    }

    /// Creates a resource (a replacement when `replacing` is the one it replaces).
    async fn make(
        &mut self,
        row: &mut StackRow,
        logical_id: &str,
        kind: &str,
        properties: Value,
        retain: bool,
        replacing: Option<StackResource>,
    ) -> Step<()> {
        let mut resource = new_resource(logical_id, kind, retain);
        // An attempt cut off before it saved what it made goes on with its own token.
        let interrupted = row.record.resources.iter().find(|r| {
            r.logical_id == logical_id
                && r.physical_id.is_none()
                && matches!(r.status, ResourceStatus::CreateInProgress | ResourceStatus::UpdateInProgress)
        });
        if let Some(token) = interrupted.and_then(|r| r.token.clone()) {
            resource.token = Some(token);
        }
        resource.properties = properties;
        resource.status =
            if replacing.is_some() { ResourceStatus::UpdateInProgress } else { ResourceStatus::CreateInProgress };
        let note = replacing
            .as_ref()
            .map(|_| "Requested update requires the creation of a new physical resource; hence creating one.");
        // The resource being replaced is kept for the cleanup before its slot is taken, so that
        // a runner that dies now leaves it to be deleted, not forgotten.
        if let (Some(old), Some(update)) = (replacing.as_ref(), row.record.update.as_mut()) {
            update.cleanup.push(old.clone());
        }
        self.put_resource(row, resource.clone(), note).await?;
        let acting = Self::acting(row);
        let outcome = self.leased(&row.id, self.provisioner.create(&self.request(row, &resource, &acting))).await?;
        match outcome {
            Ok(made) => {
                resource.physical_id = Some(made.physical_id);
                resource.attributes = made.attributes;
                resource.status = ResourceStatus::CreateInProgress;
                self.put_resource(row, resource.clone(), Some("Resource creation Initiated")).await?;
                resource.status = ResourceStatus::CreateComplete;
                resource.updated_ms = now_ms();
                self.put_resource(row, resource, None).await
            }
            Err(ResourceFailure(reason)) => {
                resource.status = ResourceStatus::CreateFailed;
                resource.reason = Some(reason);
                // A failed replacement leaves the resource it was to replace in place.
                let failed = match replacing {
                    Some(mut old) => {
                        if let Some(update) = row.record.update.as_mut() {
                            update
                                .cleanup
                                .retain(|c| c.physical_id != old.physical_id || c.logical_id != old.logical_id);
                        }
                        self.resource_event(row, &resource, None).await;
                        old.status = ResourceStatus::UpdateFailed;
                        old.reason = resource.reason.clone();
                        old
                    }
                    None => resource,
                };
                self.put_resource(row, failed, None).await?;
                Err(Stop::Failed(logical_id.to_owned()))
            }
        }
    }

    /// Changes a resource's properties in place, or replaces it when the handler says so.
    async fn change(&mut self, row: &mut StackRow, current: StackResource, properties: Value) -> Step<()> {
        // Stored with the properties it has until the change is made: a resumed runner then
        // changes it again from those.
        let mut updating = current.clone();
        updating.status = ResourceStatus::UpdateInProgress;
        updating.reason = None;
        self.put_resource(row, updating.clone(), None).await?;
        updating.properties = properties.clone();
        let acting = Self::acting(row);
        let request = self.request(row, &updating, &acting);
        let outcome = self.leased(&row.id, self.provisioner.update(&request, &current.properties)).await?;
        match outcome {
            Ok(Some(made)) => {
                updating.attributes = made.attributes;
                updating.physical_id = Some(made.physical_id);
                updating.status = ResourceStatus::UpdateComplete;
                updating.updated_ms = now_ms();
                self.put_resource(row, updating, None).await
            }
            Ok(None) => {
                let retain = current.retain;
                let (logical_id, kind) = (current.logical_id.clone(), current.kind.clone());
                self.make(row, &logical_id, &kind, properties, retain, Some(current)).await
            }
            Err(ResourceFailure(reason)) => {
                // With the properties it was being given: a rollback changes it back from them.
                let mut failed = updating;
                failed.status = ResourceStatus::UpdateFailed;
                failed.reason = Some(reason);
                let logical_id = failed.logical_id.clone();
                self.put_resource(row, failed, None).await?;
                Err(Stop::Failed(logical_id))
            }
        }
    }

    /// A failed create: rolls back, deletes or stops, as `OnFailure` says.
    async fn fail_create(&mut self, row: &mut StackRow, failed: Vec<String>, why: Option<String>) -> Step<()> {
        let listed = format!("The following resource(s) failed to create: [{}]. ", failed.join(", "));
        let reason = why.unwrap_or(listed);
        row.record.failed = failed;
        match row.record.on_failure.unwrap_or(OnFailure::Rollback) {
            OnFailure::DoNothing => self.transition(row, StackStatus::CreateFailed, Some(reason)).await,
            OnFailure::Delete => self.transition(row, StackStatus::DeleteInProgress, Some(reason)).await,
            OnFailure::Rollback => {
                let reason =
                    format!("{}Rollback requested by user.", reason.trim_end().trim_end_matches('.').to_owned() + ". ");
                self.transition(row, StackStatus::RollbackInProgress, Some(reason)).await
            }
        }
    }

    /// Evaluates the outputs and completes the stack, or fails it on an output's error.
    async fn finish(&mut self, row: &mut StackRow, template: &Template, done: StackStatus) -> Step<()> {
        let resources = self.provisioned(row);
        let evaluated = match self.inputs(row, template).await {
            Ok(inputs) => evaluate_outputs(&inputs.env(&resources)).map(|outputs| (outputs, inputs.exported)),
            Err(e) => Err(e),
        };
        let outputs = evaluated.and_then(|(outputs, exported)| {
            for name in outputs.iter().filter_map(|o| o.export_name.as_ref()) {
                if let Some((_, owner)) = exported.get(name) {
                    return Err(TemplateError::ParameterValue(format!(
                        "Export with name {name} is already exported by stack {owner}"
                    )));
                }
            }
            Ok(outputs)
        });
        let importers = self.importers(row).await;
        let outputs = outputs.and_then(|outputs| {
            // An export another stack imports keeps its value while it does.
            for before in row.record.outputs.iter().filter(|o| o.export_name.is_some()) {
                let Some(name) = before.export_name.as_ref() else { continue };
                let Some(importer) = importers.get(name) else { continue };
                let kept = outputs.iter().any(|o| o.export_name.as_ref() == Some(name) && o.value == before.value);
                if !kept {
                    return Err(TemplateError::ParameterValue(format!(
                        "Cannot update export {name} as it is in use by {importer}"
                    )));
                }
            }
            Ok(outputs)
        });
        match outputs {
            Ok(outputs) => {
                row.record.outputs = outputs;
                let reason = None;
                if done == StackStatus::UpdateCompleteCleanupInProgress {
                    return self.transition(row, done, reason).await;
                }
                row.record.update = None;
                self.transition(row, done, reason).await
            }
            Err(e) if done == StackStatus::CreateComplete => {
                self.fail_create(row, Vec::new(), Some(e.to_string())).await
            }
            Err(e) => {
                let reason = e.to_string();
                self.transition(row, StackStatus::UpdateRollbackInProgress, Some(reason)).await
            }
        }
    }

    /// Deletes every resource, newest first, then ends in `done` (or `failed` if one could
    /// not be deleted).
    async fn remove_all(&mut self, row: &mut StackRow, done: StackStatus, failed: StackStatus) -> Step<()> {
        let mut failures = Vec::new();
        let rolling_back = done == StackStatus::RollbackComplete;
        for index in (0..row.record.resources.len()).rev() {
            self.checkpoint(row, false).await?;
            let Some(resource) = row.record.resources.get(index).cloned() else { continue };
            if let Err(logical_id) = self.remove(row, resource, rolling_back).await? {
                failures.push(logical_id);
            }
        }
        if failures.is_empty() {
            let reason = if rolling_back { row.record.status_reason.clone() } else { None };
            return self.transition(row, done, reason).await;
        }
        failures.reverse();
        let reason = format!("The following resource(s) failed to delete: [{}]. ", failures.join(", "));
        self.transition(row, failed, Some(reason)).await
    }

    /// Deletes one resource; `Ok(Err(logical id))` if its handler failed.
    async fn remove(
        &mut self,
        row: &mut StackRow,
        mut resource: StackResource,
        rolling_back: bool,
    ) -> Step<std::result::Result<(), String>> {
        if matches!(resource.status, ResourceStatus::DeleteComplete | ResourceStatus::DeleteSkipped) {
            return Ok(Ok(()));
        }
        if resource.retain && resource.physical_id.is_some() {
            resource.status = ResourceStatus::DeleteSkipped;
            self.put_resource(row, resource, None).await?;
            return Ok(Ok(()));
        }
        if resource.physical_id.is_none() {
            // Never made: nothing to delete (a failed create shows its deletion as AWS does).
            resource.status = ResourceStatus::DeleteComplete;
            resource.reason = None;
            if rolling_back {
                self.put_resource(row, resource, None).await?;
            } else {
                self.put_quietly(row, resource).await?;
            }
            return Ok(Ok(()));
        }
        resource.status = ResourceStatus::DeleteInProgress;
        resource.reason = None;
        self.put_resource(row, resource.clone(), None).await?;
        let acting = Self::acting(row);
        let outcome = self.leased(&row.id, self.provisioner.delete(&self.request(row, &resource, &acting))).await?;
        match outcome {
            Ok(()) => {
                resource.status = ResourceStatus::DeleteComplete;
                resource.updated_ms = now_ms();
                self.put_resource(row, resource, None).await?;
                Ok(Ok(()))
            }
            Err(ResourceFailure(reason)) => {
                resource.status = ResourceStatus::DeleteFailed;
                resource.reason = Some(reason);
                let logical_id = resource.logical_id.clone();
                self.put_resource(row, resource, None).await?;
                Ok(Err(logical_id))
            }
        }
    }

    async fn put_quietly(&mut self, row: &mut StackRow, resource: StackResource) -> Step<()> {
        if let Some(slot) = row.record.resources.iter_mut().find(|r| r.logical_id == resource.logical_id) {
            *slot = resource;
        }
        self.save(row).await
    }

    /// Brings the resources to the new template, then cleans up; rolls back on failure.
    async fn update(&mut self, row: &mut StackRow) -> Step<()> {
        let template = match Self::template(row) {
            Ok(t) => t,
            Err(e) => return self.transition(row, StackStatus::UpdateRollbackInProgress, Some(e.to_string())).await,
        };
        match self.build_all(row, &template, false).await {
            Ok(()) => {}
            Err(Stop::Failed(logical_id)) => {
                let reason = format!("The following resource(s) failed to update: [{logical_id}]. ");
                return self.transition(row, StackStatus::UpdateRollbackInProgress, Some(reason)).await;
            }
            Err(other) => return Err(other),
        }
        // Resources the new template no longer has (or whose condition no longer holds) go too.
        let inputs = self.inputs(row, &template).await.ok();
        let kept = |r: &StackResource| {
            template.resource(&r.logical_id).is_some_and(|d| match &inputs {
                Some(inputs) => inputs.holds(d.condition.as_ref()),
                None => d.condition.is_none(),
            })
        };
        let (stay, removed): (Vec<_>, Vec<_>) = row.record.resources.drain(..).partition(|r| kept(r));
        row.record.resources = stay;
        if let Some(update) = row.record.update.as_mut() {
            update.cleanup.extend(removed.into_iter().filter(|r| r.physical_id.is_some()));
        }
        self.finish(row, &template, StackStatus::UpdateCompleteCleanupInProgress).await
    }

    /// Deletes what the update replaced or removed, then completes it.
    async fn cleanup(&mut self, row: &mut StackRow) -> Step<()> {
        let cleanup = row.record.update.as_ref().map(|u| u.cleanup.clone()).unwrap_or_default();
        for resource in cleanup.into_iter().rev() {
            self.checkpoint(row, false).await?;
            let mut resource = resource;
            let acting = Self::acting(row);
            // Never one the stack still has (a replacement that came back with the same id).
            let live =
                row.record.resources.iter().any(|r| r.kind == resource.kind && r.physical_id == resource.physical_id);
            if !resource.retain && !live {
                // A resource that will not go is left behind, as CloudFormation leaves it.
                let request = self.request(row, &resource, &acting);
                let _ = self.leased(&row.id, self.provisioner.delete(&request)).await?;
            }
            resource.status =
                if resource.retain { ResourceStatus::DeleteSkipped } else { ResourceStatus::DeleteComplete };
            self.resource_event(row, &resource, None).await;
            if let Some(update) = row.record.update.as_mut() {
                update.cleanup.retain(|c| c.physical_id != resource.physical_id || c.logical_id != resource.logical_id);
            }
            self.save(row).await?;
        }
        row.record.update = None;
        self.transition(row, StackStatus::UpdateComplete, None).await
    }

    /// Undoes a failed update: deletes what it made, changes back what it changed, and
    /// restores the template, parameters and outputs from before.
    async fn roll_back_update(&mut self, row: &mut StackRow) -> Step<()> {
        let Some(previous) = row.record.update.clone() else {
            return self.transition(row, StackStatus::UpdateRollbackComplete, None).await;
        };
        let acting = Self::acting(row);
        let mut failures = Vec::new();
        for index in (0..row.record.resources.len()).rev() {
            self.checkpoint(row, false).await?;
            let Some(current) = row.record.resources.get(index).cloned() else { continue };
            let before = previous.resources.iter().find(|r| r.logical_id == current.logical_id);
            let undone = match before {
                Some(before)
                    if before.physical_id == current.physical_id && before.properties == current.properties =>
                {
                    Ok(())
                }
                Some(before) if before.physical_id == current.physical_id => {
                    let mut back = current.clone();
                    back.properties = before.properties.clone();
                    let request = self.request(row, &back, &acting);
                    match self.leased(&row.id, self.provisioner.update(&request, &current.properties)).await? {
                        Ok(Some(_)) => Ok(()),
                        Ok(None) => Err(ResourceFailure("the change cannot be undone in place".into())),
                        Err(e) => Err(e),
                    }
                }
                _ if current.physical_id.is_some() => {
                    self.leased(&row.id, self.provisioner.delete(&self.request(row, &current, &acting))).await?
                }
                _ => Ok(()),
            };
            if let Err(ResourceFailure(reason)) = undone {
                tracing::warn!(stack = %row.id, resource = %current.logical_id, %reason, "undoing an update failed");
                failures.push(current.logical_id.clone());
            }
        }
        row.record.template_body = previous.template_body;
        row.record.parameters = previous.parameters;
        row.record.outputs = previous.outputs;
        row.record.resources = previous.resources;
        for resource in row.record.resources.iter_mut() {
            resource.status = ResourceStatus::UpdateComplete;
        }
        row.record.update = None;
        if !failures.is_empty() {
            failures.reverse();
            let reason = format!("The following resource(s) failed to update: [{}]. ", failures.join(", "));
            return self.transition(row, StackStatus::UpdateRollbackFailed, Some(reason)).await;
        }
        let reason = row.record.status_reason.clone();
        self.transition(row, StackStatus::UpdateRollbackComplete, reason).await
    }
}

/// What a stack's template is evaluated in, but for the resources made so far.
struct Inputs<'t> {
    template: &'t Template,
    pseudo: intrinsics::Pseudo,
    parameters: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
    /// The other stacks' exports: name → (value, exporting stack's name).
    exported: BTreeMap<String, (String, String)>,
    /// The same, name → value.
    exports: BTreeMap<String, String>,
    zones: Vec<String>,
}

impl Inputs<'_> {
    fn env<'e>(&'e self, resources: &'e BTreeMap<String, Provisioned>) -> Env<'e> {
        Env {
            template: self.template,
            pseudo: &self.pseudo,
            parameters: &self.parameters,
            conditions: &self.conditions,
            resources,
            exports: &self.exports,
            zones: &self.zones,
            budget: intrinsics::Budget::default(),
        }
    }

    /// Whether a resource or output with this `Condition` exists.
    fn holds(&self, condition: Option<&String>) -> bool {
        condition.is_none_or(|c| self.conditions.get(c) == Some(&true))
    }
}

/// `properties` with the values of the stack's `NoEcho` parameters shown as `****`, as
/// CloudFormation shows them wherever it shows a parameter's value.
fn no_echo_hidden(row: &StackRow, mut text: String) -> String {
    for parameter in row.record.parameters.iter().filter(|p| p.no_echo && !p.value.is_empty()) {
        for value in [Some(&parameter.value), parameter.resolved.as_ref()].into_iter().flatten() {
            // The whole value, and each item of a list value, as they appear in JSON text.
            let pieces = std::iter::once(value.as_str()).chain(value.split(',').map(str::trim));
            for piece in pieces.filter(|p| !p.is_empty()) {
                let quoted = serde_json::Value::String(piece.to_owned()).to_string();
                let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
                if !inner.is_empty() {
                    text = text.replace(inner, "****");
                }
            }
        }
    }
    text
}

/// Made and not being changed.
fn settled(status: ResourceStatus) -> bool {
    matches!(status, ResourceStatus::CreateComplete | ResourceStatus::UpdateComplete)
}

fn new_resource(logical_id: &str, kind: &str, retain: bool) -> StackResource {
    StackResource {
        logical_id: logical_id.to_owned(),
        kind: kind.to_owned(),
        physical_id: None,
        status: ResourceStatus::CreateInProgress,
        reason: None,
        updated_ms: now_ms(),
        attributes: serde_json::Map::new(),
        properties: Value::Object(serde_json::Map::new()),
        retain,
        token: Some(crate::common::ids::request_id()),
    }
}

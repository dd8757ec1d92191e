//! The reconciler: each pass, every group this replica holds (under a lease, one replica per
//! group) is brought toward its desired capacity.
//!
//! 1. **Plan**: members whose instance stopped, terminated or was marked unhealthy, members
//!    beyond the capacity, and members an instance refresh replaces are marked for removal;
//!    pending members that run are in service. The plan is saved before anything is done.
//! 2. **Remove** the marked members, each a termination activity.
//! 3. **Launch** what is missing, each a launch activity. The launch is written (with its
//!    RunInstances client token) before it is made, so that a replica that takes over after a
//!    crash finds the instance instead of launching another. A failed launch is a failed
//!    activity, and the group waits (doubling, up to [`MAX_BACKOFF_MS`]) before the next.
//! 4. A refresh that has replaced everything succeeds; a deleted group with no members goes.

use std::sync::Arc;
use std::time::Duration;

use super::activities::{self, LaunchReason};
use super::{AutoScaling, KEEP_ACTIVITIES, live_count, spec_of, uuid};
use crate::service::audit::{Actor, ApiCall, Identity, RoleSession};
use crate::service::instances::RunInstances;
use crate::service::launch_templates::{self, Given, TemplateRef, VersionSpec};
use crate::service::network::PlacementRequest;
use crate::service::tags::TagSpecification;
use crate::service::{Error, Result, now_ms};

/// Who calls EC2 for a group.
const SERVICE_PRINCIPAL: &str = "autoscaling.amazonaws.com";
const SERVICE_LINKED_ROLE: &str = "AWSServiceRoleForAutoScaling";
use crate::store::{
    GroupRow, Health, InstanceRow, InstanceState, Lifecycle, Member, PendingLaunch, RefreshStatus, Removal, Scope, Tag,
};

/// How often the reconciler looks at every group.
pub const TICK: Duration = Duration::from_millis(500);
/// The longest wait between failed launches.
pub const MAX_BACKOFF_MS: i64 = 10_000;
/// Launches one group makes in one pass, so that every group gets its turn.
const LAUNCHES_PER_PASS: usize = 10;

impl AutoScaling {
    /// Runs the reconciler for as long as the server runs.
    pub fn spawn_reconciler(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.reconcile_all().await {
                    tracing::warn!(error = %e, "auto scaling pass failed");
                }
                tokio::time::sleep(TICK).await;
            }
        });
    }

    /// One pass over every group this replica holds or may take over.
    pub async fn reconcile_all(&self) -> Result<()> {
        for (scope, row) in self.store.all_groups().await? {
            if !self.hold(&scope, &row.name).await? {
                continue;
            }
            if !row.owner.is_empty() && row.owner != self.replica {
                tracing::info!(group = %row.name, from = %row.owner, "took over an auto scaling group");
            }
            if let Err(e) = self.reconcile(&scope, &row.name).await {
                tracing::warn!(group = %row.name, error = %e, "auto scaling group not reconciled");
            }
        }
        Ok(())
    }

    /// Claims (or keeps) the group for this replica; false if another replica holds it.
    async fn hold(&self, scope: &Scope, name: &str) -> Result<bool> {
        let now = now_ms();
        Ok(self.store.claim_group(scope, name, &self.replica, now.saturating_add(self.lease_ms), now).await?)
    }

    async fn reconcile(&self, scope: &Scope, name: &str) -> Result<()> {
        let Some(mut row) = self.store.group(scope, name).await? else { return Ok(()) };
        let ids: Vec<String> = row.record.members.iter().map(|m| m.id.clone()).collect();
        let instances = self.instances.found(scope, &ids).await?;
        let target = self.resolve_version(scope, &row.record.template).await.ok();
        if !self.settle_launch(scope, &mut row).await? {
            return Ok(());
        }
        if plan(&mut row, &instances, target) && !self.save(scope, &mut row).await? {
            return Ok(());
        }
        if !self.remove_marked(scope, &mut row).await? {
            return Ok(());
        }
        if !self.launch_missing(scope, &mut row).await? {
            return Ok(());
        }
        self.finish(scope, row).await
    }

    /// Saves the group; false if another writer changed it first (the next pass goes on).
    async fn save(&self, scope: &Scope, row: &mut GroupRow) -> Result<bool> {
        let saved = self.store.save_group(scope, row).await?;
        if saved {
            row.revision += 1;
        }
        Ok(saved)
    }

    /// A launch written but not finished (the replica died, or its last save lost to the API):
    /// the instance its token launched joins the group, or, if it launched none, the launch is
    /// dropped; its activity says which. Whether more are needed is the plan's to decide.
    async fn settle_launch(&self, scope: &Scope, row: &mut GroupRow) -> Result<bool> {
        let Some(pending) = row.record.launching.clone() else { return Ok(true) };
        let launched = self.instances.launched_with_token(scope, &pending.token).await?;
        let recorded = self.store.activities(scope, Some(&row.name)).await?;
        let activity = match recorded.into_iter().find(|a| a.id == pending.activity) {
            Some(activity) => activity,
            None => activities::launching(scope, row, &pending.activity, "", String::new()),
        };
        let activity = match launched {
            Some(instance) if !row.record.members.iter().any(|m| m.id == instance.id) => {
                let zone = crate::service::network::zone_of(&scope.region, &instance.address).map(|z| z.name);
                let version = instance.tags.iter().find(|t| t.key == "aws:ec2launchtemplate:version");
                row.record.members.push(Member {
                    id: instance.id.clone(),
                    zone: zone.unwrap_or_default(),
                    instance_type: instance.instance_type.clone(),
                    lifecycle: Lifecycle::Pending,
                    health: Health::Healthy,
                    template_version: version.and_then(|t| t.value.parse().ok()).unwrap_or(0),
                    removal: None,
                    activity: None,
                    in_service_ms: None,
                });
                activities::launched(activity, &instance.id)
            }
            Some(instance) => activities::launched(activity, &instance.id),
            None => activities::launch_failed(activity, "The launch was interrupted before an instance was made"),
        };
        row.record.launching = None;
        if !self.save(scope, row).await? {
            return Ok(false);
        }
        self.store.put_activity(scope, &activity, KEEP_ACTIVITIES).await?;
        Ok(true)
    }

    /// Terminates every member marked for removal, each with its activity.
    async fn remove_marked(&self, scope: &Scope, row: &mut GroupRow) -> Result<bool> {
        let marked: Vec<Member> = row.record.members.iter().filter(|m| m.removal.is_some()).cloned().collect();
        for member in marked {
            if !self.hold(scope, &row.name).await? {
                return Ok(false);
            }
            let id = member.activity.clone().unwrap_or_else(uuid);
            let activity = activities::termination(scope, row, &member, &id);
            if member.activity.is_none() {
                self.store.put_activity(scope, &activity, KEEP_ACTIVITIES).await?;
                if let Some(m) = row.record.members.iter_mut().find(|m| m.id == member.id) {
                    m.activity = Some(id);
                }
                if !self.save(scope, row).await? {
                    return Ok(false);
                }
            }
            let terminated = self.instances.terminate(scope, std::slice::from_ref(&member.id)).await;
            let gone = matches!(terminated, Err(Error::InstanceNotFound(_)));
            let outcome = terminated.map(drop).map_err(|e| (self.describe)(e));
            let parameters = serde_json::json!({"instancesSet": {"items": [{"instanceId": member.id}]}});
            self.record(scope, "TerminateInstances", parameters, Some(&member.id), outcome.clone()).await;
            if let (Err((code, message)), false) = (&outcome, gone) {
                tracing::warn!(instance = %member.id, %code, %message, "an auto scaling member could not be terminated");
                continue;
            }
            row.record.members.retain(|m| m.id != member.id);
            if !self.save(scope, row).await? {
                return Ok(false);
            }
            self.store.put_activity(scope, &activities::terminated(activity), KEEP_ACTIVITIES).await?;
        }
        Ok(true)
    }

    /// Launches what the group lacks, one activity each, until a launch fails.
    async fn launch_missing(&self, scope: &Scope, row: &mut GroupRow) -> Result<bool> {
        let reason = launch_reason(row);
        for _ in 0..LAUNCHES_PER_PASS {
            let live = live_count(&row.record);
            if live >= capacity(row) || now_ms() < row.record.next_launch_ms || row.record.deleting {
                break;
            }
            if !self.hold(scope, &row.name).await? {
                return Ok(false);
            }
            let zone = next_zone(row);
            let pending = PendingLaunch { activity: uuid(), token: uuid() };
            let activity = activities::launching(
                scope,
                row,
                &pending.activity,
                &zone,
                activities::launch_cause(row, live, reason),
            );
            row.record.launching = Some(pending.clone());
            if !self.save(scope, row).await? {
                return Ok(false);
            }
            self.store.put_activity(scope, &activity, KEEP_ACTIVITIES).await?;
            let launched = self.launch_one(scope, row, &pending.token, &zone).await;
            row.record.launching = None;
            match launched {
                Ok(member) => {
                    let done = activities::launched(activity, &member.id);
                    row.record.members.push(member);
                    (row.record.failures, row.record.next_launch_ms) = (0, 0);
                    if !self.save(scope, row).await? {
                        return Ok(false);
                    }
                    self.store.put_activity(scope, &done, KEEP_ACTIVITIES).await?;
                }
                Err(message) => {
                    self.store
                        .put_activity(scope, &activities::launch_failed(activity, &message), KEEP_ACTIVITIES)
                        .await?;
                    row.record.failures = row.record.failures.saturating_add(1);
                    row.record.next_launch_ms = now_ms() + backoff(row.record.failures);
                    if !self.save(scope, row).await? {
                        return Ok(false);
                    }
                    break;
                }
            }
        }
        Ok(true)
    }

    /// RunInstances from the group's template into `zone`, tagged with the group's name and
    /// its propagated tags; the new member, pending, or EC2's message for why it was not made.
    async fn launch_one(
        &self,
        scope: &Scope,
        row: &GroupRow,
        token: &str,
        zone: &str,
    ) -> std::result::Result<Member, String> {
        let describe = |e: Error| (self.describe)(e).1;
        let template = &row.record.template;
        // A refresh brings every instance to its version, whatever the template names since.
        let spec = match row.record.refresh.as_ref().filter(|r| r.end_ms.is_none()) {
            Some(refresh) => Some(VersionSpec::Number(refresh.target_version)),
            None => spec_of(template).map_err(describe)?,
        };
        let version =
            self.templates.resolve(scope, &TemplateRef::Id(template.id.clone()), spec).await.map_err(describe)?;
        let tags: Vec<Tag> = row
            .record
            .tags
            .iter()
            .filter(|t| t.propagate)
            .map(|t| Tag { key: t.key.clone(), value: t.value.clone() })
            .collect();
        let subnet = (!row.record.subnets.is_empty()).then(|| crate::service::network::subnet_id(scope, zone));
        let request = RunInstances {
            min_count: 1,
            max_count: 1,
            client_token: Some(token.to_owned()),
            placement: PlacementRequest { subnet_id: subnet, zone: Some(zone.to_owned()) },
            tag_specifications: if tags.is_empty() {
                Vec::new()
            } else {
                vec![TagSpecification { resource_type: Some("instance".into()), tags }]
            },
            auto_scaling_group: Some(row.name.clone()),
            ..RunInstances::default()
        };
        let request = launch_templates::launch(&version, request, Given::default());
        if request.image_id.is_empty() {
            return Err(describe(Error::ImageNotFound(String::new())));
        }
        let parameters = serde_json::json!({
            "launchTemplate": {"launchTemplateId": template.id, "version": version.version.version.to_string()},
            "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
            "availabilityZone": zone,
            "clientToken": token,
        });
        let launched = self.instances.run(scope, request).await.map_err(|e| (self.describe)(e));
        let instance = launched.as_ref().ok().and_then(|(_, rows)| rows.first().map(|r| r.id.clone()));
        let outcome = launched.as_ref().map(drop).map_err(Clone::clone);
        self.record(scope, "RunInstances", parameters, instance.as_deref(), outcome).await;
        let (_, rows) = launched.map_err(|(_, message)| message)?;
        let instance = rows.into_iter().next().ok_or_else(|| describe(Error::InsufficientCapacity))?;
        Ok(Member {
            id: instance.id,
            zone: zone.to_owned(),
            instance_type: instance.instance_type,
            lifecycle: Lifecycle::Pending,
            health: Health::Healthy,
            template_version: version.version.version,
            removal: None,
            activity: None,
            in_service_ms: None,
        })
    }

    /// The audit record of a call the group made to EC2, as CloudTrail shows the service-linked
    /// role's calls: a session `AutoScaling` of `AWSServiceRoleForAutoScaling`, invoked by and
    /// from `autoscaling.amazonaws.com`.
    async fn record(
        &self,
        scope: &Scope,
        action: &str,
        parameters: serde_json::Value,
        instance: Option<&str>,
        outcome: std::result::Result<(), (String, String)>,
    ) {
        let actor = Actor {
            account: scope.account.clone(),
            identity: Identity::Role(RoleSession {
                role: SERVICE_LINKED_ROLE.to_owned(),
                path: "/aws-service-role/autoscaling.amazonaws.com/".to_owned(),
                role_id: String::new(),
                session: "AutoScaling".to_owned(),
            }),
            access_key_id: String::new(),
        };
        let call = ApiCall {
            actor,
            region: scope.region.clone(),
            event_source: "ec2.amazonaws.com",
            event_name: action.to_owned(),
            read_only: false,
            source_ip: SERVICE_PRINCIPAL.to_owned(),
            user_agent: SERVICE_PRINCIPAL.to_owned(),
            parameters,
            resources: instance.map(|id| ("AWS::EC2::Instance".to_owned(), id.to_owned())).into_iter().collect(),
            error: outcome.err(),
            request_id: crate::common::ids::request_id(),
        };
        self.audit.api_call(call, crate::store::UnitOfWork::alone()).await;
    }

    /// Ends a refresh that has replaced everything, and a deleted group that is empty.
    async fn finish(&self, scope: &Scope, mut row: GroupRow) -> Result<()> {
        if row.record.deleting && row.record.members.is_empty() && row.record.launching.is_none() {
            self.store.delete_group(scope, &row.name, row.revision).await?;
            return Ok(());
        }
        let Some(refresh) = &row.record.refresh else { return Ok(()) };
        if refresh.end_ms.is_some() {
            return Ok(());
        }
        let target = refresh.target_version;
        let live: Vec<&Member> = row.record.members.iter().filter(|m| m.removal.is_none()).collect();
        let done = live.iter().all(|m| m.template_version == target && m.lifecycle == Lifecycle::InService)
            && live_count(&row.record) == row.record.desired;
        if done && let Some(refresh) = row.record.refresh.as_mut() {
            refresh.status = RefreshStatus::Successful;
            refresh.end_ms = Some(now_ms());
            refresh.reason = None;
            self.save(scope, &mut row).await?;
        }
        Ok(())
    }
}

/// Marks what changes this pass; true if anything did.
fn plan(row: &mut GroupRow, instances: &[InstanceRow], target: Option<i64>) -> bool {
    let mut changed = check_health(row, instances);
    if row.record.deleting {
        for member in row.record.members.iter_mut().filter(|m| m.removal.is_none()) {
            mark(member, Removal::GroupDeleted);
            changed = true;
        }
        return changed;
    }
    changed |= start_refresh(row, target);
    changed |= scale_in(row);
    changed |= replace_for_refresh(row);
    let reason = warming(row);
    if let Some(refresh) = row.record.refresh.as_mut().filter(|r| r.end_ms.is_none() && r.reason != reason) {
        refresh.reason = reason;
        changed = true;
    }
    changed
}

/// Pending members that run are in service; members whose instance is gone, stopped or
/// marked unhealthy go.
fn check_health(row: &mut GroupRow, instances: &[InstanceRow]) -> bool {
    let mut changed = false;
    let mut replaced = false;
    for member in row.record.members.iter_mut().filter(|m| m.removal.is_none()) {
        let state = instances.iter().find(|i| i.id == member.id).map(|i| i.state);
        match state {
            Some(InstanceState::Running) if member.lifecycle == Lifecycle::Pending => {
                member.lifecycle = Lifecycle::InService;
                member.in_service_ms = Some(now_ms());
                changed = true;
            }
            Some(InstanceState::Pending) | Some(InstanceState::Running) => {}
            _ => {
                member.health = Health::Unhealthy;
                mark(member, Removal::HealthCheck);
                (changed, replaced) = (true, true);
                continue;
            }
        }
        if member.health == Health::Unhealthy {
            mark(member, Removal::UserHealthCheck);
            (changed, replaced) = (true, true);
        }
    }
    if replaced {
        // The launches that follow answer the replacement, not an earlier capacity change.
        row.record.cause = None;
    }
    changed
}

fn mark(member: &mut Member, removal: Removal) {
    member.removal = Some(removal);
    member.lifecycle = Lifecycle::Terminating;
}

fn refresh_active(row: &GroupRow) -> bool {
    row.record.refresh.as_ref().is_some_and(|r| r.end_ms.is_none())
}

fn start_refresh(row: &mut GroupRow, target: Option<i64>) -> bool {
    let Some(refresh) = row.record.refresh.as_mut().filter(|r| r.end_ms.is_none()) else { return false };
    let mut changed = false;
    if refresh.status == RefreshStatus::Pending {
        refresh.status = RefreshStatus::InProgress;
        changed = true;
    }
    // A template that can no longer be read stops the refresh rather than replacing blind.
    if target.is_none() {
        refresh.status = RefreshStatus::Failed;
        refresh.reason = Some("The launch template of the group could not be read.".into());
        refresh.end_ms = Some(now_ms());
        changed = true;
    }
    changed
}

/// In-service, healthy members not on their way out; during a refresh, only those past the
/// refresh's instance warmup.
fn healthy(row: &GroupRow) -> i64 {
    let warmup_ms = row.record.refresh.as_ref().filter(|r| r.end_ms.is_none()).map_or(0, |r| r.warmup_seconds * 1000);
    let now = now_ms();
    let warm = |m: &&Member| m.in_service_ms.is_none_or(|since| now - since >= warmup_ms);
    let count = row
        .record
        .members
        .iter()
        .filter(|m| m.removal.is_none() && m.lifecycle == Lifecycle::InService && m.health == Health::Healthy)
        .filter(warm)
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A member still warming up, as a refresh's status reason names it.
fn warming(row: &GroupRow) -> Option<String> {
    let warmup_ms = row.record.refresh.as_ref().filter(|r| r.end_ms.is_none())?.warmup_seconds * 1000;
    let now = now_ms();
    let member = row.record.members.iter().find(|m| {
        m.removal.is_none()
            && m.lifecycle == Lifecycle::InService
            && m.in_service_ms.is_some_and(|s| now - s < warmup_ms)
    })?;
    Some(format!("Waiting for instances to warm up before continuing. For example: {} is warming up.", member.id))
}

/// The in-service instances an instance refresh must keep: `MinHealthyPercentage` of the
/// desired capacity, rounded up.
fn min_healthy(row: &GroupRow) -> i64 {
    let percentage = row.record.refresh.as_ref().map_or(0, |r| r.min_healthy_percentage);
    (row.record.desired * percentage + 99) / 100
}

fn outdated(row: &GroupRow, member: &Member) -> bool {
    row.record.refresh.as_ref().is_some_and(|r| r.end_ms.is_none() && member.template_version != r.target_version)
}

/// During a refresh that may not take an instance out (MinHealthyPercentage would not
/// hold), one instance above the desired capacity is launched first, once all are in service.
fn surge(row: &GroupRow) -> bool {
    if !refresh_active(row) {
        return false;
    }
    let live: Vec<&Member> = row.record.members.iter().filter(|m| m.removal.is_none()).collect();
    let any_outdated = live.iter().any(|m| outdated(row, m));
    let all_in_service = live.iter().all(|m| m.lifecycle == Lifecycle::InService);
    let live_count = live_count(&row.record);
    // Only when taking one out could never keep MinHealthyPercentage, all are warm, and the
    // group may hold one more.
    any_outdated
        && all_in_service
        && healthy(row) == live_count
        && live_count - 1 < min_healthy(row)
        && live_count <= row.record.desired
        && row.record.desired < row.record.max_size
}

/// How many instances the group should have now.
fn capacity(row: &GroupRow) -> i64 {
    row.record.desired + i64::from(surge(row))
}

/// Members beyond the capacity go: those on an older template version first, then the
/// newest; during a refresh, only while enough stay in service.
fn scale_in(row: &mut GroupRow) -> bool {
    let mut changed = false;
    while live_count(&row.record) > capacity(row) {
        let refreshing = refresh_active(row);
        let victim = row
            .record
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.removal.is_none())
            .max_by_key(|(i, m)| (outdated(row, m), std::cmp::Reverse(m.template_version), *i))
            .map(|(i, m)| (i, outdated(row, m), m.lifecycle == Lifecycle::InService));
        let Some((index, old, in_service)) = victim else { break };
        if refreshing && in_service && healthy(row) - 1 < min_healthy(row) {
            break;
        }
        let removal = if refreshing && old { Removal::Refresh } else { Removal::ScaleIn };
        if let Some(member) = row.record.members.get_mut(index) {
            mark(member, removal);
            changed = true;
        }
    }
    changed
}

/// One outdated member at a time is taken out for a refresh, when the rest keep
/// MinHealthyPercentage and nothing else is being replaced.
fn replace_for_refresh(row: &mut GroupRow) -> bool {
    if !refresh_active(row) || row.record.launching.is_some() {
        return false;
    }
    let busy = row.record.members.iter().any(|m| m.removal.is_some() || m.lifecycle == Lifecycle::Pending);
    if busy || live_count(&row.record) < row.record.desired || healthy(row) - 1 < min_healthy(row) {
        return false;
    }
    let candidate = row.record.members.iter().position(|m| m.removal.is_none() && outdated(row, m));
    let Some(member) = candidate.and_then(|index| row.record.members.get_mut(index)) else { return false };
    mark(member, Removal::Refresh);
    true
}

fn launch_reason(row: &GroupRow) -> LaunchReason {
    if refresh_active(row) {
        LaunchReason::Refresh
    } else if row.record.cause.is_none() {
        LaunchReason::Replacement
    } else {
        LaunchReason::Capacity
    }
}

/// The group's zone with the fewest live members (the first of them on a tie), so that
/// launches spread across its zones.
fn next_zone(row: &GroupRow) -> String {
    let load = |zone: &String| row.record.members.iter().filter(|m| m.removal.is_none() && &m.zone == zone).count();
    row.record.zones.iter().min_by_key(|z| load(z)).cloned().unwrap_or_default()
}

/// 1 s, 2 s, 4 s, … up to [`MAX_BACKOFF_MS`].
fn backoff(failures: u32) -> i64 {
    let exponent = failures.saturating_sub(1).min(16);
    (1000_i64 << exponent).min(MAX_BACKOFF_MS)
}

//! EC2 Auto Scaling groups (docs/aws-facts.md, "Auto Scaling"): a group launches from a
//! launch template and is kept at its desired capacity by [`reconcile`], which launches what
//! is missing, replaces what stopped, terminated or was marked unhealthy, and carries out
//! instance refreshes, each launch and termination a scaling activity with AWS's texts.
//!
//! The API changes a group's document; the reconciler acts on it. Both save against the
//! revision they read, so neither loses the other's change: the API retries its change on
//! the new document, the reconciler acts again on its next pass.

mod activities;
pub mod reconcile;

use std::sync::Arc;

use super::instances::Instances;
use super::launch_templates::{LaunchTemplates, TemplateRef, VersionSpec};
use super::{Error, Result, now_ms};
use crate::common::time::iso8601;
use crate::store::{
    Activity, GroupRecord, GroupRow, GroupTag, GroupTemplate, Health, KeyPairQuery, Lifecycle, Member, Refresh,
    RefreshStatus, Removal, Scope, Store, StoreError,
};

pub use activities::refresh_percentage;

/// Groups per Region (EC2 Auto Scaling's default quota).
pub const MAX_GROUPS: u32 = 500;
/// The largest `MaxSize` keyfleet takes: every instance is a sandbox on this host.
pub const MAX_GROUP_SIZE: i64 = 1000;
/// Activities kept per group (AWS keeps six weeks of them).
const KEEP_ACTIVITIES: usize = 1000;
/// Tags per group (EC2 Auto Scaling's quota).
const MAX_TAGS: usize = 50;
/// A change that lost to concurrent writers this many times in a row is `ResourceContention`.
const SAVE_ATTEMPTS: usize = 8;
/// `DefaultCooldown` when none is given.
const DEFAULT_COOLDOWN: i64 = 300;

/// The service-linked role a group acts as.
pub fn service_linked_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:UUID:autoScalingGroupName/NAME`.
pub fn group_arn(scope: &Scope, uuid: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{}:{}:autoScalingGroup:{uuid}:autoScalingGroupName/{name}",
        scope.region, scope.account
    )
}

/// Why an Auto Scaling request is refused; each is one error (api/error.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A group of this name exists.
    AlreadyExists(String),
    /// No group of this name.
    NotFound,
    /// `MaxSize` below `MinSize`.
    Bounds { min: i64, max: i64 },
    /// `DesiredCapacity` outside the bounds.
    Desired { desired: i64, min: i64, max: i64 },
    /// SetDesiredCapacity above `MaxSize`.
    AboveMax { desired: i64, max: i64 },
    /// SetDesiredCapacity below `MinSize`.
    BelowMin { desired: i64, min: i64 },
    /// A size above [`MAX_GROUP_SIZE`] or below 0.
    Size(i64),
    /// Neither zones nor subnets.
    NoZones,
    /// A zone that is not the Region's.
    UnknownZone(String),
    /// A subnet that is not the default VPC's.
    UnknownSubnet(String),
    /// Subnets and zones that do not agree.
    ZonesMismatch,
    /// The launch template cannot launch: the text after "You must use a valid fully-formed
    /// launch template. ".
    Template(String),
    /// No launch template.
    NoLaunchSource,
    /// The instance is in no group.
    NotManaged(String),
    /// The instance is not in this group.
    NotInGroup { instance: String, group: String },
    /// Detaching an instance that is not in service.
    NotInService(String),
    /// The scope holds [`MAX_GROUPS`].
    TooManyGroups,
    /// A change lost to other writers [`SAVE_ATTEMPTS`] times.
    Contention,
    /// The group is being deleted.
    PendingDelete,
    /// Instances or activities are left and `ForceDelete` was not given.
    InUse,
    /// An instance refresh is running.
    RefreshInProgress,
    /// No instance refresh is running.
    NoActiveRefresh(String),
    /// A name outside 1–255 printable ASCII characters, or with a colon.
    Name,
    /// More tags than [`MAX_TAGS`], or a bad one.
    Tags(String),
    /// A preference outside its range.
    Preference(String),
    /// Attaching would pass `MaxSize`.
    AttachAboveMax,
    /// Decrementing would take the group below `MinSize`.
    AtMinSize(i64),
    /// A launch or termination is being made.
    ActivityInProgress,
    /// An instance that cannot be attached.
    NotAttachable(String),
}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Self {
        Error::AutoScaling(refused)
    }
}

/// The launch template as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateChoice {
    /// By id or name.
    pub template: TemplateRef,
    /// `Version` as given.
    pub version: Option<String>,
}

/// The template version a request was authorized on, set by the API before the call: the
/// call launches from that version or not at all, so that nothing changes between the check
/// and the group. `Err` holds why the template could not be read then.
#[derive(Debug, Clone, Default)]
pub struct Checked(pub std::sync::OnceLock<std::result::Result<(String, i64), String>>);

/// CreateAutoScalingGroup's input.
#[derive(Debug, Clone)]
pub struct CreateGroup {
    /// `AutoScalingGroupName`.
    pub name: String,
    /// `LaunchTemplate`.
    pub template: Option<TemplateChoice>,
    /// `MinSize`.
    pub min_size: i64,
    /// `MaxSize`.
    pub max_size: i64,
    /// `DesiredCapacity` (`MinSize` when absent).
    pub desired: Option<i64>,
    /// `DefaultCooldown`.
    pub default_cooldown: Option<i64>,
    /// `HealthCheckGracePeriod`.
    pub grace_period: Option<i64>,
    /// `AvailabilityZones.member.N`.
    pub zones: Vec<String>,
    /// `VPCZoneIdentifier`, split at commas.
    pub subnets: Vec<String>,
    /// `Tags.member.N`.
    pub tags: Vec<GroupTag>,
    /// The template version the request was authorized on.
    pub checked: Checked,
}

/// UpdateAutoScalingGroup's input: what it changes.
#[derive(Debug, Clone, Default)]
pub struct UpdateGroup {
    /// `LaunchTemplate`.
    pub template: Option<TemplateChoice>,
    /// `MinSize`.
    pub min_size: Option<i64>,
    /// `MaxSize`.
    pub max_size: Option<i64>,
    /// `DesiredCapacity`.
    pub desired: Option<i64>,
    /// `DefaultCooldown`.
    pub default_cooldown: Option<i64>,
    /// `HealthCheckGracePeriod`.
    pub grace_period: Option<i64>,
    /// `AvailabilityZones.member.N`.
    pub zones: Option<Vec<String>>,
    /// `VPCZoneIdentifier`.
    pub subnets: Option<Vec<String>>,
    /// The template version the request was authorized on.
    pub checked: Checked,
}

/// StartInstanceRefresh's preferences.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPreferences {
    /// `MinHealthyPercentage` (90 when absent).
    pub min_healthy_percentage: Option<i64>,
    /// `InstanceWarmup`, seconds.
    pub warmup_seconds: Option<i64>,
    /// `SkipMatching`.
    pub skip_matching: bool,
}

/// A member with its group, as DescribeAutoScalingInstances lists it.
#[derive(Debug, Clone)]
pub struct GroupMember {
    /// The group.
    pub group: String,
    /// The group's template.
    pub template: GroupTemplate,
    /// The member.
    pub member: Member,
}

/// The Auto Scaling operations and the reconciler's state.
pub struct AutoScaling {
    store: Arc<dyn Store>,
    templates: Arc<LaunchTemplates>,
    instances: Arc<Instances>,
    audit: Arc<super::audit::Audit>,
    replica: String,
    lease_ms: i64,
    describe: super::automation::Describe,
}

impl AutoScaling {
    /// The service, reconciling as `replica` under leases of `lease`.
    pub fn new(
        store: Arc<dyn Store>,
        (templates, instances, audit): (Arc<LaunchTemplates>, Arc<Instances>, Arc<super::audit::Audit>),
        replica: String,
        lease: std::time::Duration,
        describe: super::automation::Describe,
    ) -> Self {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        AutoScaling { store, templates, instances, audit, replica, lease_ms, describe }
    }

    /// `CreateAutoScalingGroup`: checked as AWS checks it (the template must be able to
    /// launch now), then left to the reconciler to fill.
    pub async fn create(&self, scope: &Scope, input: CreateGroup) -> Result<()> {
        check_name(&input.name)?;
        if self.store.group(scope, &input.name).await?.is_some() {
            return Err(Refused::AlreadyExists(input.name).into());
        }
        let desired = input.desired.unwrap_or(input.min_size);
        check_bounds(input.min_size, input.max_size, desired)?;
        let zones = resolve_zones(scope, &input.zones, &input.subnets)?;
        check_tags(&input.tags)?;
        let choice = input.template.ok_or(Refused::NoLaunchSource)?;
        let template = self.usable_template(scope, &choice, &input.checked).await?;
        let now = now_ms();
        let record = GroupRecord {
            uuid: uuid(),
            created_ms: now,
            template,
            min_size: input.min_size,
            max_size: input.max_size,
            desired,
            default_cooldown: input.default_cooldown.unwrap_or(DEFAULT_COOLDOWN),
            grace_period: input.grace_period.unwrap_or(0),
            zones,
            subnets: input.subnets,
            tags: input.tags,
            members: Vec::new(),
            launching: None,
            cause: Some(format!(
                "At {} a user request created an AutoScalingGroup changing the desired capacity from 0 to {desired}.",
                iso8601(now)
            )),
            failures: 0,
            next_launch_ms: 0,
            refresh: None,
            deleting: false,
        };
        let row = GroupRow { name: input.name.clone(), revision: 0, owner: String::new(), lease_ms: 0, record };
        match self.store.insert_group(scope, &row, MAX_GROUPS).await {
            Err(StoreError::Duplicate) => Err(Refused::AlreadyExists(input.name).into()),
            Err(StoreError::QuotaExceeded(_)) => Err(Refused::TooManyGroups.into()),
            other => Ok(other?),
        }
    }

    /// `UpdateAutoScalingGroup`.
    pub async fn update(&self, scope: &Scope, name: &str, input: UpdateGroup) -> Result<()> {
        let template = match &input.template {
            Some(choice) => Some(self.usable_template(scope, choice, &input.checked).await?),
            None => None,
        };
        self.change(scope, name, |record| {
            let min = input.min_size.unwrap_or(record.min_size);
            let max = input.max_size.unwrap_or(record.max_size);
            // A new minimum or maximum moves the desired capacity inside it, as on AWS.
            let desired = input.desired.unwrap_or_else(|| record.desired.clamp(min, max.max(min)));
            check_bounds(min, max, desired)?;
            if input.zones.is_some() || input.subnets.is_some() {
                let subnets = input.subnets.clone().unwrap_or_else(|| record.subnets.clone());
                let zones = input.zones.clone().unwrap_or_default();
                record.zones = resolve_zones(scope, &zones, &subnets)?;
                record.subnets = subnets;
            }
            if desired != record.desired {
                record.cause = Some(format!(
                    "At {} a user request update of AutoScalingGroup constraints to min: {min}, max: {max}, desired: {desired} changing the desired capacity from {} to {desired}.",
                    iso8601(now_ms()),
                    record.desired
                ));
            }
            (record.min_size, record.max_size, record.desired) = (min, max, desired);
            if let Some(template) = &template {
                // A refresh toward the old template's version stops: the group now launches
                // something else.
                if record.template != *template
                    && let Some(refresh) = record.refresh.as_mut().filter(|r| r.end_ms.is_none())
                {
                    refresh.status = RefreshStatus::Cancelled;
                    refresh.reason = Some("The group's launch template was changed.".into());
                    refresh.end_ms = Some(now_ms());
                }
                record.template = template.clone();
            }
            record.default_cooldown = input.default_cooldown.unwrap_or(record.default_cooldown);
            record.grace_period = input.grace_period.unwrap_or(record.grace_period);
            // A changed group may launch again at once.
            (record.failures, record.next_launch_ms) = (0, 0);
            Ok(())
        })
        .await
    }

    /// `SetDesiredCapacity`.
    pub async fn set_desired(&self, scope: &Scope, name: &str, desired: i64) -> Result<()> {
        self.change(scope, name, |record| {
            if desired > record.max_size {
                return Err(Refused::AboveMax { desired, max: record.max_size }.into());
            }
            if desired < record.min_size {
                return Err(Refused::BelowMin { desired, min: record.min_size }.into());
            }
            if desired != record.desired {
                record.cause = Some(format!(
                    "At {} a user request explicitly set group desired capacity changing the desired capacity from {} to {desired}.",
                    iso8601(now_ms()),
                    record.desired
                ));
                record.desired = desired;
                (record.failures, record.next_launch_ms) = (0, 0);
            }
            Ok(())
        })
        .await
    }

    /// `DeleteAutoScalingGroup`: at once when empty, else (with `ForceDelete`) once the
    /// reconciler has terminated its instances.
    pub async fn delete(&self, scope: &Scope, name: &str, force: bool) -> Result<()> {
        for _ in 0..SAVE_ATTEMPTS {
            let mut row = self.store.group(scope, name).await?.ok_or(Refused::NotFound)?;
            let busy = row.record.launching.is_some() || row.record.members.iter().any(|m| m.removal.is_some());
            if row.record.members.is_empty() && !busy {
                if self.store.delete_group(scope, name, row.revision).await? {
                    return Ok(());
                }
                continue;
            }
            if !force {
                return Err(
                    if row.record.members.is_empty() { Refused::ActivityInProgress } else { Refused::InUse }.into()
                );
            }
            row.record.deleting = true;
            row.record.desired = 0;
            row.record.min_size = 0;
            if self.store.save_group(scope, &row).await? {
                return Ok(());
            }
        }
        Err(Refused::Contention.into())
    }

    /// `DescribeAutoScalingGroups`: by name (unknown names are left out, as on AWS).
    pub async fn describe(&self, scope: &Scope, names: &[String]) -> Result<Vec<GroupRow>> {
        let all = self.store.groups(scope).await?;
        Ok(all.into_iter().filter(|g| names.is_empty() || names.contains(&g.name)).collect())
    }

    /// One group.
    pub async fn group(&self, scope: &Scope, name: &str) -> Result<GroupRow> {
        Ok(self.store.group(scope, name).await?.ok_or(Refused::NotFound)?)
    }

    /// `DescribeAutoScalingInstances`: members of every group, or those named.
    pub async fn members(&self, scope: &Scope, ids: &[String]) -> Result<Vec<GroupMember>> {
        let mut found = Vec::new();
        for group in self.store.groups(scope).await? {
            for member in group.record.members {
                if ids.is_empty() || ids.contains(&member.id) {
                    found.push(GroupMember {
                        group: group.name.clone(),
                        template: group.record.template.clone(),
                        member,
                    });
                }
            }
        }
        Ok(found)
    }

    /// The group an instance is in, if any.
    pub async fn group_of(&self, scope: &Scope, instance_id: &str) -> Result<Option<String>> {
        let groups = self.store.groups(scope).await?;
        Ok(groups.into_iter().find(|g| g.record.members.iter().any(|m| m.id == instance_id)).map(|g| g.name))
    }

    /// `TerminateInstanceInAutoScalingGroup`: the activity that takes the instance out.
    pub async fn terminate_instance(&self, scope: &Scope, instance_id: &str, decrement: bool) -> Result<Activity> {
        let group = self.group_of(scope, instance_id).await?.ok_or_else(|| Refused::NotManaged(instance_id.into()))?;
        let activity_id = uuid();
        let mut removed = None;
        self.change(scope, &group, |record| {
            removed = None;
            if decrement && record.desired <= record.min_size {
                return Err(Refused::AtMinSize(record.min_size).into());
            }
            let member = record
                .members
                .iter_mut()
                .find(|m| m.id == instance_id && m.removal.is_none())
                .ok_or(Refused::NotInService(instance_id.into()))?;
            member.removal = Some(Removal::UserRequest { shrinking: decrement });
            member.lifecycle = Lifecycle::Terminating;
            member.activity = Some(activity_id.clone());
            removed = Some(member.clone());
            if decrement {
                record.desired -= 1;
            }
            Ok(())
        })
        .await?;
        let row = self.group(scope, &group).await?;
        let member = removed.ok_or_else(|| Refused::NotManaged(instance_id.into()))?;
        let activity = activities::termination(scope, &row, &member, &activity_id);
        self.store.put_activity(scope, &activity, KEEP_ACTIVITIES).await?;
        Ok(activity)
    }

    /// `SetInstanceHealth`: an unhealthy instance is replaced by the reconciler, unless
    /// (`respect_grace`) it came into service within the group's grace period.
    pub async fn set_health(
        &self,
        scope: &Scope,
        instance_id: &str,
        health: Health,
        respect_grace: bool,
    ) -> Result<()> {
        let group = self.group_of(scope, instance_id).await?.ok_or_else(|| Refused::NotManaged(instance_id.into()))?;
        self.change(scope, &group, |record| {
            let grace_ms = record.grace_period.saturating_mul(1000);
            let member = record
                .members
                .iter_mut()
                .find(|m| m.id == instance_id)
                .ok_or(Refused::NotManaged(instance_id.into()))?;
            if member.removal.is_some() && health == Health::Healthy {
                return Err(Refused::NotInService(instance_id.into()).into());
            }
            let in_grace = member.in_service_ms.is_none_or(|since| now_ms().saturating_sub(since) < grace_ms);
            if respect_grace && health == Health::Unhealthy && grace_ms > 0 && in_grace {
                return Ok(());
            }
            member.health = health;
            Ok(())
        })
        .await
    }

    /// `DetachInstances`: the instances leave the group but keep running.
    pub async fn detach(&self, scope: &Scope, name: &str, ids: &[String], decrement: bool) -> Result<Vec<Activity>> {
        let mut detached = Vec::new();
        let before = self.group(scope, name).await?;
        self.change(scope, name, |record| {
            detached.clear();
            for id in ids {
                let not_in_group = || Refused::NotInGroup { instance: id.clone(), group: name.to_owned() };
                let index = record.members.iter().position(|m| &m.id == id).ok_or_else(not_in_group)?;
                if record.members.get(index).is_some_and(|m| m.lifecycle != Lifecycle::InService) {
                    return Err(Refused::NotInService(id.clone()).into());
                }
                detached.push(record.members.remove(index));
            }
            if decrement {
                let shrunk = record.desired - i64::try_from(ids.len()).unwrap_or(i64::MAX);
                if shrunk < record.min_size {
                    return Err(Refused::BelowMin { desired: shrunk, min: record.min_size }.into());
                }
                record.desired = shrunk;
            }
            Ok(())
        })
        .await?;
        let mut made = Vec::new();
        let mut live = live_count(&before.record);
        for member in &detached {
            self.instances.untag_group(scope, &member.id).await?;
            let activity = activities::detachment(scope, &before, member, live, decrement);
            live -= 1;
            self.store.put_activity(scope, &activity, KEEP_ACTIVITIES).await?;
            made.push(activity);
        }
        Ok(made)
    }

    /// `AttachInstances`: running instances join the group, which grows by as many.
    pub async fn attach(&self, scope: &Scope, name: &str, ids: &[String]) -> Result<()> {
        let rows = self.instances.found(scope, ids).await?;
        let mut joining = Vec::new();
        for id in ids {
            let row = rows.iter().find(|r| &r.id == id).ok_or_else(|| Refused::NotAttachable(id.clone()))?;
            if row.state != crate::store::InstanceState::Running || self.group_of(scope, id).await?.is_some() {
                return Err(Refused::NotAttachable(id.clone()).into());
            }
            let zone = super::network::zone_of(&scope.region, &row.address).map(|z| z.name).unwrap_or_default();
            joining.push(Member {
                id: id.clone(),
                zone,
                instance_type: row.instance_type.clone(),
                lifecycle: Lifecycle::InService,
                health: Health::Healthy,
                template_version: 0,
                removal: None,
                activity: None,
                in_service_ms: Some(now_ms()),
            });
        }
        self.change(scope, name, |record| {
            if let Some(twice) = joining.iter().find(|j| record.members.iter().any(|m| m.id == j.id)) {
                return Err(Refused::NotAttachable(twice.id.clone()).into());
            }
            let grown = record.desired + i64::try_from(joining.len()).unwrap_or(i64::MAX);
            if grown > record.max_size {
                return Err(Refused::AttachAboveMax.into());
            }
            record.desired = grown;
            record.members.extend(joining.iter().cloned());
            Ok(())
        })
        .await?;
        for id in ids {
            self.instances.tag_group(scope, id, name).await?;
        }
        Ok(())
    }

    /// `DescribeScalingActivities`, newest first.
    pub async fn activities(&self, scope: &Scope, group: Option<&str>) -> Result<Vec<Activity>> {
        Ok(self.store.activities(scope, group).await?)
    }

    /// `StartInstanceRefresh`: every instance not on the template's version (all of them
    /// without `SkipMatching`) is replaced, keeping `MinHealthyPercentage` in service.
    pub async fn start_refresh(&self, scope: &Scope, name: &str, preferences: RefreshPreferences) -> Result<String> {
        let row = self.group(scope, name).await?;
        let version = self.resolve_version(scope, &row.record.template).await?;
        let id = uuid();
        let min_healthy = preferences.min_healthy_percentage.unwrap_or(90);
        if !(0..=100).contains(&min_healthy) {
            return Err(Refused::Preference("MinHealthyPercentage".into()).into());
        }
        let warmup = preferences.warmup_seconds.unwrap_or(row.record.grace_period);
        if !(0..=172_800).contains(&warmup) {
            return Err(Refused::Preference("InstanceWarmup".into()).into());
        }
        self.change(scope, name, |record| {
            if record.refresh.as_ref().is_some_and(|r| r.end_ms.is_none()) {
                return Err(Refused::RefreshInProgress.into());
            }
            let outdated = |m: &&Member| !preferences.skip_matching || m.template_version != version;
            let to_replace = record.members.iter().filter(|m| m.removal.is_none()).filter(outdated).count();
            record.refresh = Some(Refresh {
                id: id.clone(),
                status: RefreshStatus::Pending,
                reason: None,
                start_ms: now_ms(),
                end_ms: None,
                min_healthy_percentage: min_healthy,
                warmup_seconds: warmup,
                skip_matching: preferences.skip_matching,
                target_version: version,
                to_replace: i64::try_from(to_replace).unwrap_or(i64::MAX),
            });
            // Without SkipMatching every instance is replaced, even one already on the version.
            if !preferences.skip_matching {
                for member in record.members.iter_mut().filter(|m| m.template_version == version) {
                    member.template_version = -1;
                }
            }
            Ok(())
        })
        .await?;
        Ok(id)
    }

    /// `CancelInstanceRefresh`: the refresh stops where it is.
    pub async fn cancel_refresh(&self, scope: &Scope, name: &str) -> Result<String> {
        let mut cancelled = String::new();
        self.change(scope, name, |record| {
            let refresh = record.refresh.as_mut().filter(|r| r.end_ms.is_none());
            let refresh = refresh.ok_or_else(|| Refused::NoActiveRefresh(name.to_owned()))?;
            refresh.status = RefreshStatus::Cancelled;
            refresh.end_ms = Some(now_ms());
            cancelled = refresh.id.clone();
            Ok(())
        })
        .await?;
        Ok(cancelled)
    }

    /// Applies `change` to the group's document and saves it, again on the newer document
    /// when another writer saved first.
    async fn change(
        &self,
        scope: &Scope,
        name: &str,
        mut change: impl FnMut(&mut GroupRecord) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..SAVE_ATTEMPTS {
            let mut row = self.store.group(scope, name).await?.ok_or(Refused::NotFound)?;
            if row.record.deleting {
                return Err(Refused::PendingDelete.into());
            }
            change(&mut row.record)?;
            if self.store.save_group(scope, &row).await? {
                return Ok(());
            }
        }
        Err(Refused::Contention.into())
    }

    /// The template and version as stored, once the version it names could launch: its key
    /// pair exists (AWS checks a group's template when the group is made or changed).
    async fn usable_template(
        &self,
        scope: &Scope,
        choice: &TemplateChoice,
        checked: &Checked,
    ) -> Result<GroupTemplate> {
        let spec = choice
            .version
            .as_deref()
            .map(VersionSpec::parse)
            .transpose()
            .map_err(|e| template_refusal(&self.describe, e))?;
        let version = self
            .templates
            .resolve(scope, &choice.template, spec)
            .await
            .map_err(|e| template_refusal(&self.describe, e))?;
        match checked.0.get() {
            Some(Err(why)) => return Err(Refused::Template(why.clone()).into()),
            Some(Ok((id, number))) if *id != version.template.id || *number != version.version.version => {
                return Err(Refused::Template(
                    "The launch template changed while the request was checked; call again.".into(),
                )
                .into());
            }
            _ => {}
        }
        if let Some(key) = &version.version.data.key_name {
            let query = KeyPairQuery { names: vec![key.clone()], ids: Vec::new() };
            if self.store.key_pairs(scope, &query).await?.is_empty() {
                return Err(Refused::Template(format!("The key pair '{key}' does not exist")).into());
            }
        }
        if version.version.data.image_id.is_none() {
            return Err(Refused::Template("The image id '[]' does not exist".into()).into());
        }
        Ok(GroupTemplate {
            id: version.template.id.clone(),
            name: version.template.name.clone(),
            version: choice.version.clone(),
        })
    }

    /// The version number a group's template currently names.
    async fn resolve_version(&self, scope: &Scope, template: &GroupTemplate) -> Result<i64> {
        Ok(self
            .templates
            .resolve(scope, &TemplateRef::Id(template.id.clone()), spec_of(template)?)
            .await?
            .version
            .version)
    }
}

fn spec_of(template: &GroupTemplate) -> Result<Option<VersionSpec>> {
    template.version.as_deref().map(VersionSpec::parse).transpose()
}

/// A template error as the group's ValidationError.
fn template_refusal(describe: &super::automation::Describe, e: Error) -> Error {
    let (_, message) = describe(e);
    Refused::Template(message).into()
}

/// Members that count toward the capacity: those not on their way out.
pub(crate) fn live_count(record: &GroupRecord) -> i64 {
    let live = record.members.iter().filter(|m| m.removal.is_none()).count();
    i64::try_from(live).unwrap_or(i64::MAX)
}

/// Groups, activities and refreshes are named by UUIDs, as request ids are.
fn uuid() -> String {
    crate::common::ids::request_id()
}

fn check_name(name: &str) -> Result<()> {
    let printable = |c: char| ('!'..='~').contains(&c) && c != ':';
    if (1..=255).contains(&name.len()) && name.chars().all(printable) { Ok(()) } else { Err(Refused::Name.into()) }
}

fn check_bounds(min: i64, max: i64, desired: i64) -> Result<()> {
    for size in [min, max, desired] {
        if !(0..=MAX_GROUP_SIZE).contains(&size) {
            return Err(Refused::Size(size).into());
        }
    }
    if max < min {
        return Err(Refused::Bounds { min, max }.into());
    }
    if !(min..=max).contains(&desired) {
        return Err(Refused::Desired { desired, min, max }.into());
    }
    Ok(())
}

fn check_tags(tags: &[GroupTag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Refused::Tags(format!("You may only have {MAX_TAGS} tags per Auto Scaling group")).into());
    }
    let as_tags: Vec<crate::store::Tag> =
        tags.iter().map(|t| crate::store::Tag { key: t.key.clone(), value: t.value.clone() }).collect();
    super::tags::validate(&as_tags)
}

/// The zones a group launches into: those named, or those of its subnets (which must agree
/// with the zones when both are given).
fn resolve_zones(scope: &Scope, zones: &[String], subnets: &[String]) -> Result<Vec<String>> {
    let all = super::network::zones(&scope.region);
    for zone in zones {
        if !all.iter().any(|z| &z.name == zone) {
            return Err(Refused::UnknownZone(zone.clone()).into());
        }
    }
    if subnets.is_empty() {
        if zones.is_empty() {
            return Err(Refused::NoZones.into());
        }
        return Ok(zones.to_vec());
    }
    let mut of_subnets = Vec::new();
    for subnet in subnets {
        let zone = all.iter().find(|z| super::network::subnet_id(scope, &z.name) == *subnet);
        let zone = zone.ok_or_else(|| Refused::UnknownSubnet(subnet.clone()))?;
        if !of_subnets.contains(&zone.name) {
            of_subnets.push(zone.name.clone());
        }
    }
    if !zones.is_empty() && zones.iter().any(|z| !of_subnets.contains(z)) {
        return Err(Refused::ZonesMismatch.into());
    }
    Ok(of_subnets)
}

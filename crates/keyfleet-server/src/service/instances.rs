//! Built-in instances as EC2 reports them: `RunInstances`, `DescribeInstances`,
//! `Stop/Start/Reboot/TerminateInstances`, the built-in images and root volumes. State
//! changes go through the store (compare-and-set), then the runtime.
//!
//! States and codes follow EC2 (pending 0, running 16, shutting-down 32, terminated 48,
//! stopping 64, stopped 80). The transitional states are real but brief: a call returns
//! the transitional state, as EC2 does, and the next describe shows where it settled.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::filter::{Filter, FilterField, Typed, all_match, tag_values, typed};
use super::network::{self, Network, PlacementRequest};
use super::security_groups::{GroupRef, SecurityGroups};
use super::tags::{self, TagSpecification};
use super::{Error, Invalid, Result, now_ms};
use crate::common::ids;
use crate::runtime::imds::Metadata;
use crate::runtime::{BootSpec, Runtime, free_addresses};
use crate::store::InstanceState::{self, Pending, Running, ShuttingDown, Stopped, Stopping, Terminated};
use crate::store::{
    InstanceAttribute, InstanceRow, KeyPairQuery, LaunchLimits, Scope, ShutdownBehavior, Store, StoreError, Tag,
    VolumeLife, WireName,
};

pub use super::images::{IMAGE_ARCHITECTURE, IMAGES, Image, ROOT_DEVICE};

/// The instance type when RunInstances names none (EC2's documented default).
pub const DEFAULT_INSTANCE_TYPE: &str = "m1.small";
const MAX_INSTANCES_PER_CALL: u32 = 100;
/// Instances per (account, region) that are not terminated (`--instance-quota`): each holds
/// listeners and a volume, so the server's descriptors and disk set the real bound.
pub const DEFAULT_INSTANCE_QUOTA: u32 = 256;

/// `RunInstances` input.
#[derive(Debug, Clone, Default)]
pub struct RunInstances {
    /// The root volume's size, GiB (`BlockDeviceMapping.N.Ebs.VolumeSize` of [`ROOT_DEVICE`]);
    /// the image's when absent.
    pub root_volume_gib: Option<u64>,
    /// `ImageId`.
    pub image_id: String,
    /// `ClientToken`: a retry with the same token answers the first launch, launching nothing.
    pub client_token: Option<String>,
    /// `InstanceType`.
    pub instance_type: Option<String>,
    /// `KeyName`.
    pub key_name: Option<String>,
    /// `MinCount`.
    pub min_count: u32,
    /// `MaxCount`.
    pub max_count: u32,
    /// `TagSpecification.N` (resource types `instance` and `volume`).
    pub tag_specifications: Vec<TagSpecification>,
    /// `UserData`, stored as given.
    pub user_data: Option<String>,
    /// `MetadataOptions.HttpTokens` = `required`: IMDSv2 only.
    pub tokens_required: bool,
    /// `SubnetId` and `Placement.AvailabilityZone`: the zone the instances go to.
    pub placement: PlacementRequest,
    /// `SecurityGroupId.N` and `SecurityGroup.N`; none means the default group.
    pub security_groups: Vec<GroupRef>,
    /// `DisableApiTermination`.
    pub disable_api_termination: bool,
    /// `InstanceInitiatedShutdownBehavior`.
    pub shutdown_behavior: ShutdownBehavior,
    /// The root volume's `Ebs.DeleteOnTermination`: `Keep` leaves it, available, after the
    /// instance.
    pub volume_life: VolumeLife,
    /// The launch template and version the launch came from, tagged on each instance as
    /// `aws:ec2launchtemplate:id` and `aws:ec2launchtemplate:version`.
    pub launched_from: Option<(String, i64)>,
    /// The Auto Scaling group launching it, tagged on each instance as
    /// `aws:autoscaling:groupName`.
    pub auto_scaling_group: Option<String>,
}

/// What ModifyInstanceAttribute changes: an attribute as stored, or the security groups as
/// the caller names them.
#[derive(Debug, Clone)]
pub enum Modification {
    /// Stored as given (after checks).
    Set(InstanceAttribute),
    /// `GroupId.N`, resolved to the instance's groups.
    SecurityGroups(Vec<GroupRef>),
}

/// The root volume's size: the image's unless asked for, never below it (EC2 cannot shrink
/// a snapshot) nor above EBS's largest gp2/gp3 volume.
fn root_volume_gib(image: &Image, asked: Option<u64>) -> Result<u32> {
    let max = crate::runtime::disk::MAX_ROOT_GIB;
    match asked {
        None => Ok(image.root_gib),
        Some(gib) if gib < u64::from(image.root_gib) => {
            Err(Error::RootVolumeTooSmall { asked: gib, snapshot_gib: image.root_gib })
        }
        Some(gib) => u32::try_from(gib).ok().filter(|g| *g <= max).ok_or(Error::RootVolumeTooLarge { asked: gib, max }),
    }
}

/// What RunInstances settled before making rows: the same for every instance it launches.
struct Resolved {
    /// The instances' security groups, by id.
    security_groups: Vec<String>,
    /// The zone's default subnet: where the addresses come from.
    subnet: (Ipv4Addr, u8),
    tags: Vec<crate::store::Tag>,
    /// The key pair's `authorized_keys` line.
    launch_key: Option<String>,
    volume_gib: u32,
}

/// One instance's move between states.
#[derive(Debug, Clone)]
pub struct StateChange {
    /// The instance.
    pub instance_id: String,
    /// Where it was.
    pub previous: InstanceState,
    /// Where this call put it.
    pub current: InstanceState,
}

/// How long an owner's claim on its instances lasts without renewal, by default.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);
/// How often the owner renews its leases, and looks for work other replicas left it.
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The instance operations.
///
/// With several replicas, an instance is served by the replica that owns it (it launched it,
/// or took it over). Any replica changes the state in the store; the owner's runtime acts:
/// at once when the call reached the owner, otherwise on its next reconcile pass (within a
/// second), which moves `pending`, `stopping` and `shutting-down` on and honours reboots.
pub struct Instances {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    /// This replica's id (stable across restarts of the same data dir).
    replica: String,
    /// Serialises this process's runtime actions, so a call and a reconcile pass never boot
    /// the same instance twice.
    acting: tokio::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// The lease length, milliseconds; renewed every third of it.
    lease_ms: i64,
    /// Live instances allowed per (account, region).
    quota: u32,
    volume_capacity_gib: u64,
    network: Arc<Network>,
    security_groups: Arc<SecurityGroups>,
}

impl Instances {
    /// The port every instance's SSH server listens on (rules and ssh lines name it).
    pub fn ssh_port(&self) -> u16 {
        self.runtime.ssh_port()
    }

    /// Creates the service for replica `replica`.
    pub fn new(
        store: Arc<dyn Store>,
        runtime: Arc<Runtime>,
        replica: String,
        lease: std::time::Duration,
        quota: u32,
        (network, security_groups): (Arc<Network>, Arc<SecurityGroups>),
    ) -> Self {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(3_000);
        Instances {
            store,
            runtime,
            replica,
            acting: Default::default(),
            lease_ms,
            quota,
            volume_capacity_gib: u64::MAX,
            network,
            security_groups,
        }
    }

    /// Promises no more than `gib` GiB of root volumes in all (`--volume-capacity-gib`):
    /// volumes are thin, so this is what bounds the host disk they can take together.
    pub fn with_volume_capacity(mut self, gib: u64) -> Self {
        self.volume_capacity_gib = gib;
        self
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The instances among `instance_ids` that exist (no error for the others), for
    /// authorization on their tags.
    pub async fn found(&self, scope: &Scope, instance_ids: &[String]) -> Result<Vec<InstanceRow>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.instances(scope, instance_ids).await?)
    }

    /// The owner of an instance (for automations, which run where the volume is).
    pub async fn owner_of(&self, scope: &Scope, instance_id: &str) -> Result<Option<String>> {
        let rows = self.store.instances(scope, &[instance_id.to_owned()]).await?;
        Ok(rows.into_iter().next().map(|r| r.owner))
    }

    /// `RunInstances`: validates, stores the instances as pending, boots them.
    pub async fn run(&self, scope: &Scope, input: RunInstances) -> Result<(String, Vec<InstanceRow>)> {
        let Some(image) = super::images::find(&input.image_id) else {
            return Err(Error::ImageNotFound(input.image_id));
        };
        let volume_gib = root_volume_gib(image, input.root_volume_gib)?;
        let instance_type = input.instance_type.as_deref().unwrap_or(DEFAULT_INSTANCE_TYPE);
        super::instance_types::for_launch(instance_type, IMAGE_ARCHITECTURE)?;
        let zone = self.network.placement(scope, &input.placement)?;
        let groups = self.security_groups.for_launch(scope, &input.security_groups).await?;
        if let Some(earlier) = self.earlier_launch(scope, &input).await? {
            return Ok(earlier);
        }
        if input.min_count < 1 || input.max_count < input.min_count {
            return Err(Error::InvalidParameterValue(Invalid::InstanceCount {
                min: input.min_count,
                max: input.max_count,
            }));
        }
        let mut tags = instance_tags(&input.tag_specifications)?;
        if let Some((template_id, version)) = &input.launched_from {
            tags.push(Tag { key: "aws:ec2launchtemplate:id".into(), value: template_id.clone() });
            tags.push(Tag { key: "aws:ec2launchtemplate:version".into(), value: version.to_string() });
        }
        if let Some(group) = &input.auto_scaling_group {
            tags.push(Tag { key: GROUP_TAG.into(), value: group.clone() });
        }
        tags.sort();
        let volume_tags = volume_tags(&input.tag_specifications)?;
        let launch_key = match &input.key_name {
            None => None,
            Some(name) => Some(self.launch_key_line(scope, name).await?),
        };
        let live = self.store.instances(scope, &[]).await?.iter().filter(|r| r.state != Terminated).count();
        let room = (self.quota as usize).saturating_sub(live);
        if room < input.min_count as usize {
            return Err(Error::VcpuLimitExceeded(self.quota));
        }
        let volumes_room = self.volumes_room(volume_gib).await?;
        if volumes_room < u64::from(input.min_count) {
            return Err(Error::VolumeLimitExceeded(self.volume_capacity_gib));
        }
        let count = input
            .max_count
            .min(MAX_INSTANCES_PER_CALL)
            .min(u32::try_from(room).unwrap_or(u32::MAX))
            .min(u32::try_from(volumes_room).unwrap_or(u32::MAX));
        let reservation_id = ids::new_id("r");
        let resolved = Resolved {
            tags,
            launch_key,
            volume_gib,
            subnet: self.network.subnet_block(&zone),
            security_groups: groups.into_iter().map(|g| g.id).collect(),
        };
        let rows = self.insert_pending(scope, &input, &reservation_id, count, &resolved).await?;
        if !volume_tags.is_empty() {
            let volumes: Vec<(String, String)> =
                rows.iter().map(|r| (r.volume_id.clone(), VOLUME.to_owned())).collect();
            self.store.put_tags(scope, &volumes, &volume_tags, tags::MAX_TAGS).await?;
        }
        let _acting = self.acting.lock().await;
        for row in &rows {
            if self.create_volume(scope, row).await? {
                self.boot(scope, row).await?;
            }
        }
        Ok((reservation_id, rows))
    }

    /// The instance a RunInstances with this `ClientToken` launched, if one did.
    pub async fn launched_with_token(&self, scope: &Scope, token: &str) -> Result<Option<InstanceRow>> {
        let rows = self.store.instances(scope, &[]).await?;
        Ok(rows.into_iter().find(|r| r.client_token.as_deref() == Some(token)))
    }

    /// Tags an instance that joins an Auto Scaling group with the group's name.
    pub async fn tag_group(&self, scope: &Scope, id: &str, group: &str) -> Result<()> {
        let tag = Tag { key: GROUP_TAG.into(), value: group.to_owned() };
        self.store.put_tags(scope, &[(id.to_owned(), "instance".to_owned())], &[tag], tags::MAX_TAGS).await?;
        Ok(())
    }

    /// Takes the group's tag off an instance that leaves it.
    pub async fn untag_group(&self, scope: &Scope, id: &str) -> Result<()> {
        let removal = crate::store::TagRemoval { key: GROUP_TAG.into(), value: None };
        Ok(self.store.delete_tags(scope, &[id.to_owned()], &[removal]).await?)
    }

    /// `DescribeInstances`: by id (each must exist) and filters.
    pub async fn describe(
        &self,
        scope: &Scope,
        instance_ids: &[String],
        filters: &[Filter],
    ) -> Result<Vec<InstanceRow>> {
        let filters: Vec<Typed<InstanceFilter>> = typed(filters)?;
        let rows = self.existing(scope, instance_ids).await?;
        Ok(rows.into_iter().filter(|row| all_match(&filters, &Placed::new(scope, row))).collect())
    }

    /// `DescribeVolumes`: the root volumes of the instances that are not terminated, and those
    /// kept after their instance, by volume id (each must exist) and filters, with their tags.
    pub async fn describe_volumes(
        &self,
        scope: &Scope,
        volume_ids: &[String],
        filters: &[Filter],
    ) -> Result<Vec<Volume>> {
        let filters: Vec<Typed<VolumeFilter>> = typed(filters)?;
        let live: Vec<InstanceRow> = self
            .store
            .instances(scope, &[])
            .await?
            .into_iter()
            .filter(|r| r.has_volume() && (volume_ids.is_empty() || volume_ids.contains(&r.volume_id)))
            .collect();
        if let Some(missing) = volume_ids.iter().find(|v| !live.iter().any(|r| &&r.volume_id == v)) {
            return Err(Error::VolumeNotFound(missing.clone()));
        }
        let tags: Vec<crate::store::ResourceTag> =
            self.store.tags(scope).await?.into_iter().filter(|t| t.resource_type == VOLUME).collect();
        let volumes = live.into_iter().map(|row| {
            let tags = tags.iter().filter(|t| t.resource_id == row.volume_id).map(|t| t.tag.clone()).collect();
            Volume { row, tags }
        });
        Ok(volumes.filter(|volume| all_match(&filters, volume)).collect())
    }

    /// `StopInstances`.
    pub async fn stop(&self, scope: &Scope, instance_ids: &[String]) -> Result<Vec<StateChange>> {
        let rows = self.existing(scope, instance_ids).await?;
        check_states(&rows, &[Pending, Running, Stopping, Stopped], "stopped")?;
        let mut changes = Vec::new();
        for row in rows {
            let Some(previous) = self.store.transition_instance(scope, &row.id, &[Pending, Running], Stopping).await?
            else {
                changes.push(StateChange { instance_id: row.id.clone(), previous: row.state, current: row.state });
                continue;
            };
            if row.owner == self.replica {
                let _acting = self.acting.lock().await;
                self.settle_stop(scope, &row).await?;
            }
            changes.push(StateChange { instance_id: row.id, previous, current: Stopping });
        }
        Ok(changes)
    }

    /// `StartInstances`.
    pub async fn start(&self, scope: &Scope, instance_ids: &[String]) -> Result<Vec<StateChange>> {
        let rows = self.existing(scope, instance_ids).await?;
        check_states(&rows, &[Pending, Running, Stopped], "started")?;
        let mut changes = Vec::new();
        for row in rows {
            let Some(previous) = self.store.transition_instance(scope, &row.id, &[Stopped], Pending).await? else {
                changes.push(StateChange { instance_id: row.id.clone(), previous: row.state, current: row.state });
                continue;
            };
            // Read again: a type or user data changed while stopped boots with the instance.
            let row =
                self.store.instances(scope, std::slice::from_ref(&row.id)).await?.into_iter().next().unwrap_or(row);
            if self.claim(scope, &row).await? {
                let _acting = self.acting.lock().await;
                self.boot(scope, &row).await?;
            }
            changes.push(StateChange { instance_id: row.id, previous, current: Pending });
        }
        Ok(changes)
    }

    /// `ModifyInstanceAttribute`: one attribute. The instance type and user data change only
    /// while the instance is stopped (checked in the store's update itself); they take effect
    /// at its next start.
    pub async fn modify_attribute(&self, scope: &Scope, instance_id: &str, attribute: Modification) -> Result<()> {
        let rows = self.existing(scope, &[instance_id.to_owned()]).await?;
        check_states(&rows, &[Pending, Running, Stopping, Stopped], "modified")?;
        let attribute = match attribute {
            Modification::Set(InstanceAttribute::InstanceType(name)) => {
                super::instance_types::for_launch(&name, IMAGE_ARCHITECTURE)?;
                InstanceAttribute::InstanceType(name)
            }
            Modification::Set(other) => other,
            Modification::SecurityGroups(groups) => {
                let groups = self.security_groups.for_launch(scope, &groups).await?;
                InstanceAttribute::SecurityGroups(groups.into_iter().map(|g| g.id).collect())
            }
        };
        if self.store.modify_instance(scope, instance_id, &attribute).await? {
            return Ok(());
        }
        if let InstanceAttribute::DeleteOnTermination(_) = attribute {
            // Terminated since the check above: the state says so.
            let rows = self.existing(scope, &[instance_id.to_owned()]).await?;
            check_states(&rows, &[Pending, Running, Stopping, Stopped], "modified")?;
        }
        Err(match attribute.needs_stopped() {
            true => Error::NotStopped(instance_id.to_owned()),
            false => Error::InstanceNotFound(vec![instance_id.to_owned()]),
        })
    }

    /// `RebootInstances`: ends every session and restarts the SSH server.
    pub async fn reboot(&self, scope: &Scope, instance_ids: &[String]) -> Result<()> {
        let rows = self.existing(scope, instance_ids).await?;
        check_states(&rows, &[Pending, Running, Stopping, Stopped], "rebooted")?;
        for row in rows.iter().filter(|r| r.state == Running) {
            if row.owner == self.replica {
                let _acting = self.acting.lock().await;
                self.runtime.halt(&row.id).await;
                self.boot(scope, row).await?;
            } else {
                self.store.request_reboot(scope, &row.id).await?;
            }
        }
        Ok(())
    }

    /// `TerminateInstances`: idempotent; the root volume is deleted. An instance with
    /// `disableApiTermination` fails the whole call, before any instance changes.
    pub async fn terminate(&self, scope: &Scope, instance_ids: &[String]) -> Result<Vec<StateChange>> {
        let rows = self.existing(scope, instance_ids).await?;
        // EC2 keeps every named instance in a protected instance's zone, terminates the others,
        // and fails the call.
        let zone = |row: &InstanceRow| network::zone_of(&scope.region, &row.address).map(|z| z.name);
        let protected: Vec<&InstanceRow> =
            rows.iter().filter(|r| r.disable_api_termination && r.state != Terminated).collect();
        let kept_zones: Vec<Option<String>> = protected.iter().map(|r| zone(r)).collect();
        let refusal = protected.first().map(|r| Error::TerminationProtected(r.id.clone()));
        let mut changes = Vec::new();
        for row in rows.iter().filter(|r| !kept_zones.contains(&zone(r))).cloned().collect::<Vec<_>>() {
            let Some(previous) =
                self.store.transition_instance(scope, &row.id, &InstanceState::LIVE, ShuttingDown).await?
            else {
                changes.push(StateChange { instance_id: row.id, previous: Terminated, current: Terminated });
                continue;
            };
            if row.owner == self.replica || self.runtime.has_volume(&row.volume_id) {
                let _acting = self.acting.lock().await;
                self.settle_termination(scope, &row).await?;
            }
            changes.push(StateChange { instance_id: row.id, previous, current: ShuttingDown });
        }
        match refusal {
            Some(refused) => Err(refused),
            None => Ok(changes),
        }
    }

    /// Appends `line` to every `authorized_keys` under `/home/*/.ssh/` on an instance's volume
    /// that lacks it (ResetAccess); how many files changed.
    pub async fn add_authorized_key(&self, scope: &Scope, instance_id: &str, line: &str) -> Result<usize> {
        let rows = self.existing(scope, &[instance_id.to_owned()]).await?;
        let Some(row) = rows.first().filter(|r| !matches!(r.state, ShuttingDown | Terminated)) else { return Ok(0) };
        // Not while this replica terminates or boots it: a volume being deleted stays deleted.
        let _acting = self.acting.lock().await;
        let (runtime, volume, line) = (self.runtime.clone(), row.volume_id.clone(), line.to_owned());
        tokio::task::spawn_blocking(move || runtime.add_authorized_key(&volume, &line))
            .await
            .map_err(|e| Error::VolumeIo(std::io::Error::other(e.to_string())))?
            .map_err(Error::VolumeIo)
    }

    /// `--dev`'s reset: stops serving every instance, deletes their volumes and empties the
    /// store, all while the reconciler is held off (it would boot them again).
    pub async fn reset_everything(&self) -> Result<()> {
        let _acting = self.acting.lock().await;
        let rows = self.store.instances_in_states(&[Pending, Running, Stopping, Stopped, ShuttingDown]).await?;
        for (_, row) in rows.iter().filter(|(_, r)| r.owner == self.replica || r.owner.is_empty()) {
            self.runtime.halt(&row.id).await;
            self.runtime.destroy_volume(&row.volume_id).map_err(Error::Runtime)?;
        }
        for life in [VolumeLife::Keep, VolumeLife::Deleting] {
            for (_, row) in self.store.volumes_after_termination(life).await? {
                self.runtime.destroy_volume(&row.volume_id).map_err(Error::Runtime)?;
            }
        }
        Ok(self.store.reset().await?)
    }

    /// Brings back what this replica was serving when it stopped, settles half-done
    /// transitions (a crash mid-stop leaves `stopping`, mid-terminate `shutting-down`), and
    /// takes over instances whose owner is gone when their volume is here.
    pub async fn resume(&self) -> Result<()> {
        self.reconcile().await
    }

    /// Keeps reconciling and renewing this replica's leases until the process ends.
    pub fn spawn_reconciler(self: &Arc<Self>) {
        let instances = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = 0u32;
            loop {
                tokio::time::sleep(RECONCILE_EVERY).await;
                let Some(instances) = instances.upgrade() else { return };
                ticks = ticks.wrapping_add(1);
                let renew_every = u32::try_from(instances.lease_ms / 3_000).unwrap_or(10).max(1);
                if ticks.is_multiple_of(renew_every)
                    && let Err(e) =
                        instances.store.renew_instance_leases(&instances.replica, now_ms() + instances.lease_ms).await
                {
                    tracing::warn!(error = %e, "instance leases not renewed");
                }
                if let Err(e) = instances.reconcile().await {
                    tracing::warn!(error = %e, "reconciling instances failed");
                }
            }
        });
    }

    /// One pass: claim what may be claimed, then make this process serve exactly the
    /// instances it owns in the states that need serving.
    async fn reconcile(&self) -> Result<()> {
        // The rows are read under the lock: a snapshot taken before it could be one that a
        // reset or a termination made stale while this pass waited, and would boot again an
        // instance that is gone, on an address that is handed out again.
        let mut acting = self.acting.lock().await;
        let rows = self.store.instances_in_states(&InstanceState::LIVE).await?;
        for (scope, row) in rows {
            if row.owner != self.replica && !self.claim(&scope, &row).await? {
                continue;
            }
            match row.state {
                Stopping => self.settle_stop(&scope, &row).await?,
                ShuttingDown => self.settle_termination(&scope, &row).await?,
                Stopped => self.runtime.halt(&row.id).await,
                Pending | Running | Terminated => {
                    let seen = acting.insert(row.id.clone(), row.reboots);
                    let reboot = seen.is_some_and(|s| s < row.reboots);
                    if reboot {
                        self.runtime.halt(&row.id).await;
                    }
                    if reboot || !self.runtime.is_running(&row.id).await {
                        self.boot(&scope, &row).await?;
                    }
                }
            }
        }
        for (scope, row) in self.store.volumes_after_termination(VolumeLife::Deleting).await? {
            if self.holds_kept_volume(&row)
                && let Err(e) = self.remove_kept_volume(&scope, &row.volume_id).await
            {
                // One volume that cannot go does not hold up the others.
                tracing::warn!(volume = %row.volume_id, error = %e, "a deleted volume was not removed");
            }
        }
        Ok(())
    }

    /// Takes an instance over when nobody holds it (or the holder's lease ran out) and its
    /// volume is here; without the volume the takeover is refused and the instance waits
    /// for its owner.
    async fn claim(&self, scope: &Scope, row: &InstanceRow) -> Result<bool> {
        if row.owner == self.replica {
            return Ok(true);
        }
        let now = now_ms();
        let claimable = row.owner.is_empty() || row.lease_ms < now;
        if !claimable || !self.runtime.has_volume(&row.volume_id) {
            return Ok(false);
        }
        let claimed = self.store.claim_instance(scope, &row.id, now, &self.replica, now + self.lease_ms).await?;
        if claimed && !row.owner.is_empty() {
            tracing::warn!(instance = %row.id, previous = %row.owner, "took over an instance whose replica is gone");
        }
        Ok(claimed)
    }

    async fn settle_stop(&self, scope: &Scope, row: &InstanceRow) -> Result<()> {
        self.runtime.halt(&row.id).await;
        self.store.transition_instance(scope, &row.id, &[Stopping], Stopped).await?;
        Ok(())
    }

    async fn settle_termination(&self, scope: &Scope, row: &InstanceRow) -> Result<()> {
        self.runtime.halt(&row.id).await;
        // The life read now, not the caller's: ModifyInstanceAttribute may have changed it
        // until the instance was shutting down, and no longer can. A volume that never was
        // made (its boot failed) is not kept: there would be nothing behind it.
        let life = self.store.instances(scope, std::slice::from_ref(&row.id)).await?.first().map(|r| r.volume_life);
        let kept = life == Some(VolumeLife::Keep) && self.runtime.has_volume(&row.volume_id);
        if !kept {
            self.runtime.destroy_volume(&row.volume_id).map_err(Error::Runtime)?;
        }
        self.store.transition_instance(scope, &row.id, &[ShuttingDown], Terminated).await?;
        if !kept {
            if life == Some(VolumeLife::Keep) {
                self.store.move_volume_life(scope, &row.volume_id, VolumeLife::Keep, VolumeLife::Deleted).await?;
            }
            // The volume's tags go with it (the instance's stay, as a terminated instance's
            // do); after the move, so that no CreateTags of a live volume lands behind it.
            self.store.delete_tags(scope, std::slice::from_ref(&row.volume_id), &[]).await?;
        }
        Ok(())
    }

    /// `DeleteVolume`: a volume kept after its instance is removed (at once when it is on
    /// this replica's host, else by the replica that holds it); an attached one is in use.
    pub async fn delete_volume(&self, scope: &Scope, volume_id: &str) -> Result<()> {
        let rows = self.store.instances(scope, &[]).await?;
        let row = rows.into_iter().find(|r| r.volume_id == volume_id && r.has_volume());
        let row = row.ok_or_else(|| Error::VolumeNotFound(volume_id.to_owned()))?;
        if row.state != Terminated {
            return Err(Error::VolumeInUse { volume: row.volume_id, instance: row.id });
        }
        self.store.move_volume_life(scope, volume_id, VolumeLife::Keep, VolumeLife::Deleting).await?;
        if self.holds_kept_volume(&row) {
            let _acting = self.acting.lock().await;
            self.remove_kept_volume(scope, volume_id).await?;
        }
        Ok(())
    }

    /// Whether this replica removes a kept volume: it is on this host, or this replica owned
    /// its instance (and a missing volume is then simply gone).
    fn holds_kept_volume(&self, row: &InstanceRow) -> bool {
        row.owner == self.replica || self.runtime.has_volume(&row.volume_id)
    }

    /// Removes a volume DeleteVolume asked for, then its tags (after the move, so that no
    /// CreateTags lands behind it).
    async fn remove_kept_volume(&self, scope: &Scope, volume_id: &str) -> Result<()> {
        let (runtime, volume) = (self.runtime.clone(), volume_id.to_owned());
        tokio::task::spawn_blocking(move || runtime.destroy_volume(&volume))
            .await
            .map_err(|e| Error::VolumeIo(std::io::Error::other(e.to_string())))?
            .map_err(Error::Runtime)?;
        self.store.move_volume_life(scope, volume_id, VolumeLife::Deleting, VolumeLife::Deleted).await?;
        self.store.delete_tags(scope, &[volume_id.to_owned()], &[]).await?;
        Ok(())
    }

    /// How many more volumes of `gib` GiB fit in the capacity, with every live instance's.
    async fn volumes_room(&self, gib: u32) -> Result<u64> {
        let mut held = self.store.instances_in_states(&InstanceState::LIVE).await?;
        held.extend(self.store.volumes_after_termination(VolumeLife::Keep).await?);
        held.extend(self.store.volumes_after_termination(VolumeLife::Deleting).await?);
        let promised: u64 = held.iter().map(|(_, row)| u64::try_from(row.volume_gib).unwrap_or(0)).sum();
        Ok(self.volume_capacity_gib.saturating_sub(promised) / u64::from(gib.max(1)))
    }

    /// The launch an earlier RunInstances with the same `ClientToken` made, as it answered
    /// then; the same token with other parameters is refused, as on EC2.
    async fn earlier_launch(&self, scope: &Scope, input: &RunInstances) -> Result<Option<(String, Vec<InstanceRow>)>> {
        let Some(token) = &input.client_token else { return Ok(None) };
        let rows: Vec<InstanceRow> = self
            .store
            .instances(scope, &[])
            .await?
            .into_iter()
            .filter(|r| r.client_token.as_ref() == Some(token))
            .collect();
        let Some(first) = rows.first() else { return Ok(None) };
        let same = rows.iter().all(|r| {
            super::images::canonical(&r.image_id) == super::images::canonical(&input.image_id)
                && r.key_name == input.key_name
                && input.instance_type.as_ref().is_none_or(|t| t == &r.instance_type)
        });
        if !same {
            return Err(Error::IdempotentParameterMismatch);
        }
        Ok(Some((first.reservation_id.clone(), rows)))
    }

    /// A new instance's volume, at its size; false if it could not be made. Then the instance
    /// fails as a boot does: it stops, and the launch of the others goes on.
    async fn create_volume(&self, scope: &Scope, row: &InstanceRow) -> Result<bool> {
        let (runtime, volume_id) = (self.runtime.clone(), row.volume_id.clone());
        let gib = u32::try_from(row.volume_gib).unwrap_or(crate::runtime::disk::DEFAULT_ROOT_GIB);
        let made = tokio::task::spawn_blocking(move || runtime.create_volume(&volume_id, gib))
            .await
            .map_err(|e| Error::VolumeIo(std::io::Error::other(e.to_string())))?;
        let Err(e) = made else { return Ok(true) };
        tracing::warn!(instance = %row.id, error = %e, "instance volume not made; it is stopped");
        self.store.transition_instance(scope, &row.id, &[Pending, Running], Stopped).await?;
        Ok(false)
    }

    async fn boot(&self, scope: &Scope, row: &InstanceRow) -> Result<()> {
        let address: Ipv4Addr =
            row.address.parse().map_err(|_| StoreError::Corrupt(format!("instance address {:?}", row.address)))?;
        let metadata = Metadata {
            instance_id: row.id.clone(),
            reservation_id: row.reservation_id.clone(),
            account: scope.account.clone(),
            region: scope.region.clone(),
            image_id: row.image_id.clone(),
            instance_type: row.instance_type.clone(),
            address: row.address.clone(),
            zone: network::zone_of(&scope.region, &row.address).map(|z| z.name).unwrap_or_default(),
            private_dns: network::private_dns_name(&scope.region, &row.address),
            public_dns: network::public_dns_name(&scope.region, &row.address),
            launch_key: row.key_name.clone().zip(row.launch_key.clone()),
            user_data: row.user_data.clone(),
            tokens_required: row.http_tokens == "required",
            launch_ms: row.launch_ms,
        };
        let spec = BootSpec {
            instance_id: row.id.clone(),
            volume_id: row.volume_id.clone(),
            address,
            launch_key: row.launch_key.clone(),
            metadata,
            resources: super::instance_types::resources(&row.instance_type),
            volume_gib: u32::try_from(row.volume_gib).unwrap_or(crate::runtime::disk::DEFAULT_ROOT_GIB),
        };
        // A volume the instance user broke (a directory where a socket goes, a file where a
        // directory goes) fails that instance alone: it stops, and the others, the reconcile
        // loop and start-up carry on.
        if let Err(e) = self.runtime.boot(&spec).await {
            tracing::warn!(instance = %row.id, error = %e, "instance failed to boot; it is stopped");
            self.runtime.halt(&row.id).await;
            self.store.transition_instance(scope, &row.id, &[Pending, Running], Stopped).await?;
            return Ok(());
        }
        self.store.transition_instance(scope, &row.id, &[Pending, Running], Running).await?;
        Ok(())
    }

    /// The `authorized_keys` line cloud-init would write: the public key and the key name.
    async fn launch_key_line(&self, scope: &Scope, name: &str) -> Result<String> {
        let query = KeyPairQuery { names: vec![name.to_owned()], ids: Vec::new() };
        match self.store.key_pairs(scope, &query).await?.pop() {
            // Names are checked on the way in; a stored one is still never trusted to be one line.
            Some(pair) => Ok(format!("{} {}", pair.public_key, one_line(&pair.name))),
            None => Err(Error::KeyPairNotFound(name.to_owned())),
        }
    }

    async fn insert_pending(
        &self,
        scope: &Scope,
        input: &RunInstances,
        reservation_id: &str,
        count: u32,
        resolved: &Resolved,
    ) -> Result<Vec<InstanceRow>> {
        // Two launches can race for the same free address: the store's unique index
        // refuses the loser, which simply picks again.
        for _ in 0..5 {
            let taken: HashSet<Ipv4Addr> =
                self.store.live_addresses().await?.iter().filter_map(|a| a.parse().ok()).collect();
            let (first, prefix) = resolved.subnet;
            let addresses = free_addresses(first, prefix, &taken, count as usize);
            if addresses.len() < count as usize {
                return Err(Error::InsufficientCapacity);
            }
            let launch_ms = now_ms();
            let rows: Vec<InstanceRow> = addresses
                .iter()
                .enumerate()
                .map(|(i, address)| InstanceRow {
                    id: ids::new_id("i"),
                    reservation_id: reservation_id.to_owned(),
                    image_id: super::images::canonical(&input.image_id).to_owned(),
                    instance_type: input.instance_type.clone().unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.to_owned()),
                    key_name: input.key_name.clone(),
                    state: Pending,
                    address: address.to_string(),
                    volume_id: ids::new_id("vol"),
                    volume_gib: i64::from(resolved.volume_gib),
                    client_token: input.client_token.clone(),
                    launch_index: i64::try_from(i).unwrap_or(i64::MAX),
                    launch_ms,
                    user_data: input.user_data.clone(),
                    launch_key: resolved.launch_key.clone(),
                    owner: self.replica.clone(),
                    lease_ms: launch_ms + self.lease_ms,
                    reboots: 0,
                    http_tokens: if input.tokens_required { "required" } else { "optional" }.to_owned(),
                    security_groups: resolved.security_groups.clone(),
                    disable_api_termination: input.disable_api_termination,
                    shutdown_behavior: input.shutdown_behavior,
                    user_transition_ms: None,
                    volume_life: input.volume_life,
                    tags: resolved.tags.clone(),
                })
                .collect();
            let limits = LaunchLimits { instances: self.quota, volume_gib: self.volume_capacity_gib };
            match self.store.insert_instances(scope, &rows, limits).await {
                Ok(()) => return Ok(rows),
                Err(StoreError::Duplicate) => continue,
                Err(StoreError::QuotaExceeded(quota)) => return Err(Error::VcpuLimitExceeded(quota)),
                Err(StoreError::VolumeCapacityExceeded(gib)) => return Err(Error::VolumeLimitExceeded(gib)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::InsufficientCapacity)
    }

    /// Loads the named instances (all when none are named); every named id must exist.
    async fn existing(&self, scope: &Scope, instance_ids: &[String]) -> Result<Vec<InstanceRow>> {
        if let Some(bad) = instance_ids.iter().find(|id| !ids::is_well_formed(id, "i")) {
            return Err(Error::InstanceIdMalformed(bad.clone()));
        }
        let rows = self.store.instances(scope, instance_ids).await?;
        let missing: Vec<String> =
            instance_ids.iter().filter(|id| !rows.iter().any(|r| &r.id == *id)).cloned().collect();
        if missing.is_empty() { Ok(rows) } else { Err(Error::InstanceNotFound(missing)) }
    }
}

/// The tags a launch puts on its instances' root volumes (`TagSpecification` `volume`).
fn volume_tags(specs: &[TagSpecification]) -> Result<Vec<crate::store::Tag>> {
    let for_volume: Vec<TagSpecification> =
        specs.iter().filter(|s| s.resource_type.as_deref() == Some(VOLUME)).cloned().collect();
    tags::from_specifications(&for_volume, VOLUME)
}

/// The tag Auto Scaling puts on the instances of a group.
pub const GROUP_TAG: &str = "aws:autoscaling:groupName";

/// A root volume's resource type, for its tags.
const VOLUME: &str = "volume";

/// A root volume as DescribeVolumes reports it: its instance's row, and its own tags.
pub struct Volume {
    /// The instance it is (or was, for a kept volume) the root volume of.
    pub row: InstanceRow,
    /// The volume's tags.
    pub tags: Vec<crate::store::Tag>,
}

/// A volume's `status` (EC2's `VolumeState`, of those a root volume passes through here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeStatus {
    /// Attached to its instance.
    InUse,
    /// Kept after its instance was terminated.
    Available,
    /// DeleteVolume asked, and the replica that holds it has not removed it yet.
    Deleting,
}

impl WireName for VolumeStatus {
    const ALL: &'static [Self] = &[VolumeStatus::InUse, VolumeStatus::Available, VolumeStatus::Deleting];

    fn as_str(self) -> &'static str {
        match self {
            VolumeStatus::InUse => "in-use",
            VolumeStatus::Available => "available",
            VolumeStatus::Deleting => "deleting",
        }
    }
}

impl Volume {
    /// Its status: in use while its instance is not terminated.
    pub fn status(&self) -> VolumeStatus {
        match (self.row.state, self.row.volume_life) {
            (Terminated, VolumeLife::Deleting) => VolumeStatus::Deleting,
            (Terminated, _) => VolumeStatus::Available,
            _ => VolumeStatus::InUse,
        }
    }

    /// Whether it is attached to its instance (and has an attachment to report).
    pub fn attached(&self) -> bool {
        self.status() == VolumeStatus::InUse
    }

    /// Its attachment's `deleteOnTermination`.
    pub fn deletes_on_termination(&self) -> bool {
        self.row.volume_life == VolumeLife::DeleteOnTermination
    }
}

fn wire_bool(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The tags a launch puts on its instances (every `TagSpecification` but `volume`'s).
fn instance_tags(specs: &[TagSpecification]) -> Result<Vec<crate::store::Tag>> {
    let for_instance: Vec<TagSpecification> =
        specs.iter().filter(|s| s.resource_type.as_deref() != Some("volume")).cloned().collect();
    tags::from_specifications(&for_instance, "instance")
}

/// Refuses the whole call if any instance is in a state the action cannot leave from.
fn check_states(rows: &[InstanceRow], allowed: &[InstanceState], verb: &'static str) -> Result<()> {
    match rows.iter().find(|r| !allowed.contains(&r.state)) {
        Some(row) => Err(Error::IncorrectInstanceState { instance_id: row.id.clone(), verb }),
        None => Ok(()),
    }
}

/// An instance with what EC2 derives from its address and its caller: the names and ids
/// filters match that are not columns.
pub struct Placed<'a> {
    /// The instance.
    pub row: &'a InstanceRow,
    /// Its owner.
    pub account: &'a str,
    /// Its Availability Zone, by its address.
    pub zone: network::Zone,
    /// The default VPC.
    pub vpc_id: String,
    /// Its zone's default subnet.
    pub subnet_id: String,
    /// `ip-….ec2.internal`.
    pub private_dns: String,
    /// `ec2-….compute-1.amazonaws.com`, empty when stopped.
    pub public_dns: String,
    launch_index: String,
}

impl<'a> Placed<'a> {
    /// The row, placed in the caller's default network.
    pub fn new(scope: &'a Scope, row: &'a InstanceRow) -> Self {
        let zone = network::zone_of(&scope.region, &row.address).unwrap_or_else(|| network::Zone {
            name: String::new(),
            id: String::new(),
            region: scope.region.clone(),
            group: String::new(),
            index: 0,
        });
        let public = matches!(row.state, Pending | Running);
        Placed {
            row,
            account: &scope.account,
            vpc_id: network::vpc_id(scope),
            subnet_id: network::subnet_id(scope, &zone.name),
            zone,
            private_dns: network::private_dns_name(&scope.region, &row.address),
            public_dns: if public { network::public_dns_name(&scope.region, &row.address) } else { String::new() },
            launch_index: row.launch_index.to_string(),
        }
    }
}

/// DescribeInstances' filters.
enum InstanceFilter {
    Id,
    StateName,
    StateCode,
    KeyName,
    ImageId,
    InstanceType,
    Address,
    Zone,
    VpcId,
    SubnetId,
    DnsName,
    PrivateDnsName,
    OwnerId,
    ReservationId,
    LaunchIndex,
    ClientToken,
    HttpTokens,
    Fixed(&'static str),
    TagKey,
    Tag(String),
}

impl FilterField<Placed<'_>> for InstanceFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "instance-id" => InstanceFilter::Id,
            "instance-state-name" => InstanceFilter::StateName,
            "instance-state-code" => InstanceFilter::StateCode,
            "key-name" => InstanceFilter::KeyName,
            "image-id" => InstanceFilter::ImageId,
            "instance-type" => InstanceFilter::InstanceType,
            "ip-address" | "private-ip-address" | "network-interface.addresses.private-ip-address" => {
                InstanceFilter::Address
            }
            "availability-zone" => InstanceFilter::Zone,
            "vpc-id" | "network-interface.vpc-id" => InstanceFilter::VpcId,
            "subnet-id" | "network-interface.subnet-id" => InstanceFilter::SubnetId,
            "dns-name" => InstanceFilter::DnsName,
            "private-dns-name" => InstanceFilter::PrivateDnsName,
            "owner-id" | "network-interface.owner-id" => InstanceFilter::OwnerId,
            "reservation-id" => InstanceFilter::ReservationId,
            "ami-launch-index" => InstanceFilter::LaunchIndex,
            "client-token" => InstanceFilter::ClientToken,
            "metadata-options.http-tokens" => InstanceFilter::HttpTokens,
            "architecture" => InstanceFilter::Fixed(IMAGE_ARCHITECTURE),
            "hypervisor" => InstanceFilter::Fixed("xen"),
            "virtualization-type" => InstanceFilter::Fixed("hvm"),
            "root-device-type" => InstanceFilter::Fixed("ebs"),
            "root-device-name" => InstanceFilter::Fixed(ROOT_DEVICE),
            "tenancy" | "placement-tenancy" => InstanceFilter::Fixed("default"),
            "monitoring-state" => InstanceFilter::Fixed("disabled"),
            "source-dest-check" => InstanceFilter::Fixed("true"),
            "ebs-optimized" => InstanceFilter::Fixed("false"),
            "tag-key" => InstanceFilter::TagKey,
            other => InstanceFilter::Tag(other.strip_prefix("tag:")?.to_owned()),
        })
    }

    fn candidates<'r>(&self, placed: &'r Placed<'_>) -> Vec<&'r str> {
        let row = placed.row;
        match self {
            InstanceFilter::Id => vec![&row.id],
            InstanceFilter::StateName => vec![row.state.as_str()],
            InstanceFilter::StateCode => vec![row.state.code_name()],
            InstanceFilter::KeyName => row.key_name.as_deref().into_iter().collect(),
            InstanceFilter::ImageId => super::images::ids_of(&row.image_id),
            InstanceFilter::InstanceType => vec![&row.instance_type],
            InstanceFilter::Address => vec![&row.address],
            InstanceFilter::Zone => vec![&placed.zone.name],
            InstanceFilter::VpcId => vec![&placed.vpc_id],
            InstanceFilter::SubnetId => vec![&placed.subnet_id],
            InstanceFilter::DnsName => vec![&placed.public_dns],
            InstanceFilter::PrivateDnsName => vec![&placed.private_dns],
            InstanceFilter::OwnerId => vec![placed.account],
            InstanceFilter::ReservationId => vec![&row.reservation_id],
            InstanceFilter::LaunchIndex => vec![&placed.launch_index],
            InstanceFilter::ClientToken => row.client_token.as_deref().into_iter().collect(),
            InstanceFilter::HttpTokens => vec![&row.http_tokens],
            InstanceFilter::Fixed(value) => vec![value],
            InstanceFilter::TagKey => row.tags.iter().map(|t| t.key.as_str()).collect(),
            InstanceFilter::Tag(key) => tag_values(&row.tags, key),
        }
    }
}

/// DescribeVolumes' filters, on the root volume an instance row describes.
enum VolumeFilter {
    Id,
    InstanceId,
    Status,
    AttachmentStatus,
    Device,
    DeleteOnTermination,
    VolumeType,
    Encrypted,
    TagKey,
    Tag(String),
}

impl FilterField<Volume> for VolumeFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "volume-id" => VolumeFilter::Id,
            "attachment.instance-id" => VolumeFilter::InstanceId,
            "status" => VolumeFilter::Status,
            "attachment.status" => VolumeFilter::AttachmentStatus,
            "attachment.device" => VolumeFilter::Device,
            "attachment.delete-on-termination" => VolumeFilter::DeleteOnTermination,
            "volume-type" => VolumeFilter::VolumeType,
            "encrypted" => VolumeFilter::Encrypted,
            "tag-key" => VolumeFilter::TagKey,
            other => VolumeFilter::Tag(other.strip_prefix("tag:")?.to_owned()),
        })
    }

    fn candidates<'r>(&self, volume: &'r Volume) -> Vec<&'r str> {
        let row = &volume.row;
        match self {
            VolumeFilter::Id => vec![&row.volume_id],
            VolumeFilter::Status => vec![volume.status().as_str()],
            VolumeFilter::VolumeType => vec!["gp3"],
            VolumeFilter::Encrypted => vec!["false"],
            VolumeFilter::TagKey => volume.tags.iter().map(|t| t.key.as_str()).collect(),
            VolumeFilter::Tag(key) => tag_values(&volume.tags, key),
            // A kept volume has no attachment to match.
            _ if !volume.attached() => Vec::new(),
            VolumeFilter::InstanceId => vec![&row.id],
            VolumeFilter::AttachmentStatus => vec!["attached"],
            VolumeFilter::Device => vec![ROOT_DEVICE],
            VolumeFilter::DeleteOnTermination => vec![wire_bool(volume.deletes_on_termination())],
        }
    }
}

/// `text` with every control character replaced, for a line of a line-oriented file.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// One status check's summary (`SummaryStatus` in EC2's model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// The instance runs and its SSH server answers.
    Ok,
    /// The instance is booting.
    Initializing,
    /// The instance does not run.
    NotApplicable,
}

impl CheckStatus {
    /// The check of an instance in `state`: `running` is set only once its servers listen.
    pub fn of(state: InstanceState) -> Self {
        match state {
            Running => CheckStatus::Ok,
            Pending => CheckStatus::Initializing,
            Stopping | Stopped | ShuttingDown | Terminated => CheckStatus::NotApplicable,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Initializing => "initializing",
            CheckStatus::NotApplicable => "not-applicable",
        }
    }

    /// The `reachability` detail's status; a check that does not apply has none.
    pub fn reachability(self) -> Option<&'static str> {
        match self {
            CheckStatus::Ok => Some("passed"),
            CheckStatus::Initializing => Some("initializing"),
            CheckStatus::NotApplicable => None,
        }
    }
}

/// `DescribeInstanceStatus`' input.
#[derive(Debug, Clone, Default)]
pub struct DescribeStatus {
    /// `InstanceId.N` (each must exist).
    pub instance_ids: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
    /// `IncludeAllInstances`: not only the running ones.
    pub include_all: bool,
}

/// DescribeInstanceStatus' filters. Events and operators are known filters that match
/// nothing but `false` for `operator.managed`: keyfleet schedules no events and no service
/// manages its instances.
enum StatusFilter {
    Zone,
    ZoneId,
    StateName,
    StateCode,
    Status,
    Reachability,
    Unmanaged,
    Nothing,
}

impl FilterField<Placed<'_>> for StatusFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "availability-zone" => StatusFilter::Zone,
            "availability-zone-id" => StatusFilter::ZoneId,
            "instance-state-name" => StatusFilter::StateName,
            "instance-state-code" => StatusFilter::StateCode,
            "instance-status.status" | "system-status.status" | "attached-ebs-status.status" => StatusFilter::Status,
            "instance-status.reachability" | "system-status.reachability" => StatusFilter::Reachability,
            "operator.managed" => StatusFilter::Unmanaged,
            "operator.principal"
            | "event.code"
            | "event.description"
            | "event.instance-event-id"
            | "event.not-after"
            | "event.not-before"
            | "event.not-before-deadline" => StatusFilter::Nothing,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, placed: &'r Placed<'_>) -> Vec<&'r str> {
        let check = CheckStatus::of(placed.row.state);
        match self {
            StatusFilter::Zone => vec![&placed.zone.name],
            StatusFilter::ZoneId => vec![&placed.zone.id],
            StatusFilter::StateName => vec![placed.row.state.as_str()],
            StatusFilter::StateCode => vec![placed.row.state.code_name()],
            StatusFilter::Status => vec![check.as_str()],
            StatusFilter::Reachability => check.reachability().into_iter().collect(),
            StatusFilter::Unmanaged => vec!["false"],
            StatusFilter::Nothing => Vec::new(),
        }
    }
}

impl Instances {
    /// `DescribeInstanceStatus`: the running instances (all of them with `include_all`), by
    /// id and filters.
    pub async fn describe_status(&self, scope: &Scope, input: &DescribeStatus) -> Result<Vec<InstanceRow>> {
        let filters: Vec<Typed<StatusFilter>> = typed(&input.filters)?;
        let rows = self.existing(scope, &input.instance_ids).await?;
        Ok(rows
            .into_iter()
            .filter(|row| input.include_all || row.state == Running)
            .filter(|row| all_match(&filters, &Placed::new(scope, row)))
            .collect())
    }
}

impl Instances {
    /// `GetConsoleOutput`: the instance and its boot log, or `None` for the log when its
    /// volume is on another host or it has not booted.
    pub async fn console_output(&self, scope: &Scope, instance_id: &str) -> Result<(InstanceRow, Option<String>)> {
        let row = self.existing(scope, &[instance_id.to_owned()]).await?.into_iter().next();
        let row = row.ok_or_else(|| Error::InstanceNotFound(vec![instance_id.to_owned()]))?;
        let hostname = network::private_dns_name(&scope.region, &row.address);
        let hostname = hostname.split('.').next().unwrap_or_default().to_owned();
        let (runtime, volume, launched) = (self.runtime.clone(), row.volume_id.clone(), row.launch_ms);
        let output = tokio::task::spawn_blocking(move || runtime.console_output(&volume, &hostname, launched))
            .await
            .map_err(|e| Error::VolumeIo(std::io::Error::other(e.to_string())))?;
        Ok((row, output))
    }
}

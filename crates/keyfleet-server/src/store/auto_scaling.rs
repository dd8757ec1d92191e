//! Auto Scaling groups as stored. A group is one aggregate: its settings, its members and
//! its instance refresh are one JSON document ([`GroupRecord`]), saved against the revision it
//! was read at, so that the API and the reconciler never overwrite each other's change.
//! Scaling activities are kept beside it.

use serde::{Deserialize, Serialize};

use super::WireName;

/// A group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// Unique in its scope.
    pub name: String,
    /// Bumped by every save.
    pub revision: i64,
    /// The replica reconciling it.
    pub owner: String,
    /// Until when that replica's claim holds.
    pub lease_ms: i64,
    /// Everything else.
    pub record: GroupRecord,
}

/// The launch template a group launches from, as the request named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTemplate {
    /// Its id (resolved when the group is made or changed).
    pub id: String,
    /// Its name.
    pub name: String,
    /// `Version` as given (`$Latest`, `$Default` or a number); `None`: the default, not shown.
    pub version: Option<String>,
}

/// A tag of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// Given to the instances it launches.
    pub propagate: bool,
}

/// Where an instance of a group is in its life (`LifecycleState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Lifecycle {
    Pending,
    InService,
    Terminating,
    Detaching,
}

impl WireName for Lifecycle {
    const ALL: &'static [Self] =
        &[Lifecycle::Pending, Lifecycle::InService, Lifecycle::Terminating, Lifecycle::Detaching];

    fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Pending => "Pending",
            Lifecycle::InService => "InService",
            Lifecycle::Terminating => "Terminating",
            Lifecycle::Detaching => "Detaching",
        }
    }
}

/// `HealthStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Health {
    Healthy,
    Unhealthy,
}

impl WireName for Health {
    const ALL: &'static [Self] = &[Health::Healthy, Health::Unhealthy];

    fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Unhealthy => "Unhealthy",
        }
    }
}

/// Why a member is being taken out: each is one of AWS's causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Removal {
    /// TerminateInstanceInAutoScalingGroup; `true`: the desired capacity went down with it.
    UserRequest { shrinking: bool },
    /// Stopped or terminated.
    HealthCheck,
    /// Marked unhealthy with SetInstanceHealth.
    UserHealthCheck,
    /// More instances than desired.
    ScaleIn,
    /// Replaced by an instance refresh.
    Refresh,
    /// The group is being deleted.
    GroupDeleted,
}

/// An instance in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `i-…`.
    pub id: String,
    /// Its Availability Zone.
    pub zone: String,
    /// Its instance type.
    pub instance_type: String,
    /// `LifecycleState`.
    pub lifecycle: Lifecycle,
    /// `HealthStatus`.
    pub health: Health,
    /// The template version it was launched from.
    pub template_version: i64,
    /// Why it is going, once it is.
    pub removal: Option<Removal>,
    /// The activity that takes it out, once there is one.
    pub activity: Option<String>,
    /// When it came into service.
    #[serde(default)]
    pub in_service_ms: Option<i64>,
}

/// An instance refresh's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RefreshStatus {
    Pending,
    InProgress,
    Successful,
    Failed,
    Cancelling,
    Cancelled,
}

impl WireName for RefreshStatus {
    const ALL: &'static [Self] = &[
        RefreshStatus::Pending,
        RefreshStatus::InProgress,
        RefreshStatus::Successful,
        RefreshStatus::Failed,
        RefreshStatus::Cancelling,
        RefreshStatus::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RefreshStatus::Pending => "Pending",
            RefreshStatus::InProgress => "InProgress",
            RefreshStatus::Successful => "Successful",
            RefreshStatus::Failed => "Failed",
            RefreshStatus::Cancelling => "Cancelling",
            RefreshStatus::Cancelled => "Cancelled",
        }
    }
}

/// An instance refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh {
    /// A UUID.
    pub id: String,
    /// Its status.
    pub status: RefreshStatus,
    /// `StatusReason`.
    pub reason: Option<String>,
    /// Milliseconds since the epoch.
    pub start_ms: i64,
    /// When it ended.
    pub end_ms: Option<i64>,
    /// `Preferences.MinHealthyPercentage`.
    pub min_healthy_percentage: i64,
    /// `Preferences.InstanceWarmup`, seconds.
    pub warmup_seconds: i64,
    /// `Preferences.SkipMatching`.
    pub skip_matching: bool,
    /// The template version every instance is brought to.
    pub target_version: i64,
    /// How many instances it had to replace when it started.
    pub to_replace: i64,
}

/// A launch in flight: written before RunInstances, so that a replica that takes over after a
/// crash finds the instance by its client token instead of launching another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLaunch {
    /// The activity that reports it.
    pub activity: String,
    /// RunInstances' `ClientToken`.
    pub token: String,
}

/// A group's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The UUID in its ARN.
    pub uuid: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// What it launches.
    pub template: GroupTemplate,
    /// `MinSize`.
    pub min_size: i64,
    /// `MaxSize`.
    pub max_size: i64,
    /// `DesiredCapacity`.
    pub desired: i64,
    /// `DefaultCooldown`, seconds.
    pub default_cooldown: i64,
    /// `HealthCheckGracePeriod`, seconds.
    pub grace_period: i64,
    /// `AvailabilityZones`.
    pub zones: Vec<String>,
    /// `VPCZoneIdentifier`, split.
    pub subnets: Vec<String>,
    /// `Tags`.
    pub tags: Vec<GroupTag>,
    /// Its instances.
    pub members: Vec<Member>,
    /// A launch being made.
    pub launching: Option<PendingLaunch>,
    /// The cause of the capacity change the next launches answer.
    pub cause: Option<String>,
    /// Failed launches in a row, for the backoff.
    pub failures: u32,
    /// No launch before this time.
    pub next_launch_ms: i64,
    /// The latest instance refresh.
    pub refresh: Option<Refresh>,
    /// DeleteAutoScalingGroup was called (with `ForceDelete`).
    pub deleting: bool,
}

/// `StatusCode` of a scaling activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ActivityStatus {
    InProgress,
    Successful,
    Failed,
    Cancelled,
}

impl WireName for ActivityStatus {
    const ALL: &'static [Self] =
        &[ActivityStatus::InProgress, ActivityStatus::Successful, ActivityStatus::Failed, ActivityStatus::Cancelled];

    fn as_str(self) -> &'static str {
        match self {
            ActivityStatus::InProgress => "InProgress",
            ActivityStatus::Successful => "Successful",
            ActivityStatus::Failed => "Failed",
            ActivityStatus::Cancelled => "Cancelled",
        }
    }
}

/// A scaling activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// A UUID.
    pub id: String,
    /// The group's name.
    pub group: String,
    /// `Description`.
    pub description: String,
    /// `Cause`.
    pub cause: String,
    /// Milliseconds since the epoch.
    pub start_ms: i64,
    /// When it ended.
    pub end_ms: Option<i64>,
    /// `StatusCode`.
    pub status: ActivityStatus,
    /// `StatusMessage`, for a failure.
    pub message: Option<String>,
    /// `Progress`, 0–100.
    pub progress: i64,
    /// `Details`: a JSON object as text.
    pub details: String,
}

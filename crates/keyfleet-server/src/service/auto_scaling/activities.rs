//! Scaling activities as AWS words them (docs/aws-facts.md, "Auto Scaling", "Activities"):
//! a description, a cause of one or more sentences `At TIME …` joined by two spaces, a status,
//! and details naming the subnet and zone.

use crate::common::time::iso8601;
use crate::service::now_ms;
use crate::store::{Activity, ActivityStatus, GroupRow, Member, Removal, Scope};

fn at(ms: i64) -> String {
    format!("At {}", iso8601(ms))
}

/// `{"Subnet ID":"subnet-…","Availability Zone":"us-east-1a"}`.
pub(super) fn details(scope: &Scope, zone: &str) -> String {
    if zone.is_empty() {
        return "{}".to_owned();
    }
    let subnet = crate::service::network::subnet_id(scope, zone);
    serde_json::json!({"Subnet ID": subnet, "Availability Zone": zone}).to_string()
}

/// Why launches are being made: the capacity change that asked for them, then the launch.
pub(super) fn launch_cause(row: &GroupRow, live: i64, reason: LaunchReason) -> String {
    let now = at(now_ms());
    match reason {
        LaunchReason::Capacity => {
            let started = format!(
                "{now} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {live} to {}.",
                row.record.desired
            );
            match &row.record.cause {
                Some(cause) => format!("{cause}  {started}"),
                None => started,
            }
        }
        LaunchReason::Replacement => {
            format!("{now} an instance was launched in response to an unhealthy instance needing to be replaced.")
        }
        LaunchReason::Refresh => format!("{now} an instance was launched in response to an instance refresh."),
    }
}

/// What a launch answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LaunchReason {
    /// Fewer instances than desired.
    Capacity,
    /// An instance was taken out for its health.
    Replacement,
    /// An instance refresh replaces an instance.
    Refresh,
}

/// A launch that is being made.
pub(super) fn launching(scope: &Scope, row: &GroupRow, id: &str, zone: &str, cause: String) -> Activity {
    Activity {
        id: id.to_owned(),
        group: row.name.clone(),
        description: "Launching a new EC2 instance".to_owned(),
        cause,
        start_ms: now_ms(),
        end_ms: None,
        status: ActivityStatus::InProgress,
        message: None,
        progress: 30,
        details: details(scope, zone),
    }
}

/// The launch made `instance`.
pub(super) fn launched(mut activity: Activity, instance: &str) -> Activity {
    activity.description = format!("Launching a new EC2 instance: {instance}");
    activity.status = ActivityStatus::Successful;
    activity.progress = 100;
    activity.end_ms = Some(now_ms());
    activity
}

/// The launch failed with EC2's `message`.
pub(super) fn launch_failed(mut activity: Activity, message: &str) -> Activity {
    let message = format!("{} Launching EC2 instance failed.", sentence(message));
    activity.description = format!("Launching a new EC2 instance.  Status Reason: {message}");
    activity.status = ActivityStatus::Failed;
    activity.message = Some(message);
    activity.progress = 100;
    activity.details = "{}".to_owned();
    activity.end_ms = Some(now_ms());
    activity
}

/// `text` ending with a full stop.
fn sentence(text: &str) -> String {
    if text.ends_with('.') { text.to_owned() } else { format!("{text}.") }
}

/// A member being taken out, with the cause its removal names.
pub(super) fn termination(scope: &Scope, row: &GroupRow, member: &Member, id: &str) -> Activity {
    let now = at(now_ms());
    let live = super::live_count(&row.record);
    let instance = &member.id;
    let cause = match member.removal {
        Some(Removal::UserRequest { shrinking: true }) => format!(
            "{now} instance {instance} was taken out of service in response to a user request, shrinking the capacity from {} to {live}.",
            live + 1
        ),
        Some(Removal::UserRequest { shrinking: false }) => {
            format!("{now} instance {instance} was taken out of service in response to a user request.")
        }
        Some(Removal::HealthCheck) => format!(
            "{now} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped."
        ),
        Some(Removal::UserHealthCheck) => {
            format!("{now} an instance was taken out of service in response to a user health-check.")
        }
        Some(Removal::ScaleIn) => {
            let shrinking = format!(
                "{now} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from {} to {}.  {now} instance {instance} was selected for termination.",
                live + 1,
                row.record.desired
            );
            match &row.record.cause {
                Some(cause) => format!("{cause}  {shrinking}"),
                None => shrinking,
            }
        }
        Some(Removal::Refresh) => format!(
            "{now} an instance was taken out of service in response to an instance refresh.  {now} instance {instance} was selected for termination."
        ),
        Some(Removal::GroupDeleted) | None => format!(
            "{now} an instance was taken out of service in response to a user request to delete the group.  {now} instance {instance} was selected for termination."
        ),
    };
    Activity {
        id: id.to_owned(),
        group: row.name.clone(),
        description: format!("Terminating EC2 instance: {instance}"),
        cause,
        start_ms: now_ms(),
        end_ms: None,
        status: ActivityStatus::InProgress,
        message: None,
        progress: 0,
        details: details(scope, &member.zone),
    }
}

/// The termination is done.
pub(super) fn terminated(mut activity: Activity) -> Activity {
    activity.status = ActivityStatus::Successful;
    activity.progress = 100;
    activity.end_ms = Some(now_ms());
    activity
}

/// A member detached at a user's request.
pub(super) fn detachment(scope: &Scope, row: &GroupRow, member: &Member, live: i64, decrement: bool) -> Activity {
    let now = at(now_ms());
    let instance = &member.id;
    let cause = if decrement {
        format!(
            "{now} instance {instance} was detached in response to a user request, shrinking the capacity from {live} to {}.",
            live - 1
        )
    } else {
        format!("{now} instance {instance} was detached in response to a user request.")
    };
    Activity {
        id: crate::common::ids::request_id(),
        group: row.name.clone(),
        description: format!("Detaching EC2 instance: {instance}"),
        cause,
        start_ms: now_ms(),
        end_ms: Some(now_ms()),
        status: ActivityStatus::Successful,
        message: None,
        progress: 100,
        details: details(scope, &member.zone),
    }
}

/// How far a refresh is: the share of the instances it had to replace that now run the
/// target version.
pub fn refresh_percentage(row: &GroupRow) -> i64 {
    let Some(refresh) = &row.record.refresh else { return 0 };
    if refresh.end_ms.is_some() && refresh.status == crate::store::RefreshStatus::Successful {
        return 100;
    }
    if refresh.to_replace == 0 {
        return 100;
    }
    let outdated =
        row.record.members.iter().filter(|m| m.removal.is_none() && m.template_version != refresh.target_version);
    let left = i64::try_from(outdated.count()).unwrap_or(i64::MAX).min(refresh.to_replace);
    (refresh.to_replace - left) * 100 / refresh.to_replace
}

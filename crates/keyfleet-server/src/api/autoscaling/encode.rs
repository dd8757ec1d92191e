//! The XML of groups, their instances, activities and refreshes, members in the model's
//! order (`botocore/data/autoscaling/2011-01-01/service-2.json`).

use crate::api::protocol::ec2_query::timestamp;
use crate::api::protocol::xml::XmlWriter;
use crate::common::time::iso8601;
use crate::service::auto_scaling::{GroupMember, group_arn, refresh_percentage, service_linked_role};
use crate::store::{Activity, GroupRow, GroupTemplate, Scope, WireName};

fn list(w: &mut XmlWriter, name: &str, items: &[String]) {
    if items.is_empty() {
        w.empty(name);
        return;
    }
    w.start(name);
    for item in items {
        w.text("member", item);
    }
    w.end(name);
}

fn template(w: &mut XmlWriter, template: &GroupTemplate) {
    w.start("LaunchTemplate").text("LaunchTemplateId", &template.id).text("LaunchTemplateName", &template.name);
    if let Some(version) = &template.version {
        w.text("Version", version);
    }
    w.end("LaunchTemplate");
}

/// One `member` of DescribeAutoScalingGroups.
pub(super) fn group(w: &mut XmlWriter, scope: &Scope, row: &GroupRow) {
    let record = &row.record;
    w.start("member")
        .text("AutoScalingGroupName", &row.name)
        .text("AutoScalingGroupARN", &group_arn(scope, &record.uuid, &row.name));
    template(w, &record.template);
    w.text("MinSize", &record.min_size.to_string())
        .text("MaxSize", &record.max_size.to_string())
        .text("DesiredCapacity", &record.desired.to_string())
        .text("DefaultCooldown", &record.default_cooldown.to_string());
    list(w, "AvailabilityZones", &record.zones);
    w.empty("LoadBalancerNames").empty("TargetGroupARNs").text("HealthCheckType", "EC2");
    w.text("HealthCheckGracePeriod", &record.grace_period.to_string());
    if record.members.is_empty() {
        w.empty("Instances");
    } else {
        w.start("Instances");
        for member in &record.members {
            let member =
                GroupMember { group: row.name.clone(), template: record.template.clone(), member: member.clone() };
            w.start("member");
            self::member(w, &member, false);
            w.end("member");
        }
        w.end("Instances");
    }
    w.text("CreatedTime", &timestamp(record.created_ms)).empty("SuspendedProcesses");
    if !record.subnets.is_empty() {
        w.text("VPCZoneIdentifier", &record.subnets.join(","));
    }
    w.empty("EnabledMetrics");
    if record.deleting {
        w.text("Status", "Delete in progress");
    }
    if record.tags.is_empty() {
        w.empty("Tags");
    } else {
        w.start("Tags");
        for tag in &record.tags {
            w.start("member")
                .text("ResourceId", &row.name)
                .text("ResourceType", "auto-scaling-group")
                .text("Key", &tag.key)
                .text("Value", &tag.value)
                .text("PropagateAtLaunch", if tag.propagate { "true" } else { "false" })
                .end("member");
        }
        w.end("Tags");
    }
    w.start("TerminationPolicies").text("member", "Default").end("TerminationPolicies");
    w.text("NewInstancesProtectedFromScaleIn", "false")
        .text("ServiceLinkedRoleARN", &service_linked_role(&scope.account))
        .empty("TrafficSources")
        .end("member");
}

/// An instance's members (`Instance`, or with its group `AutoScalingInstanceDetails`).
pub(super) fn member(w: &mut XmlWriter, found: &GroupMember, with_group: bool) {
    let member = &found.member;
    w.text("InstanceId", &member.id).text("InstanceType", &member.instance_type);
    if with_group {
        w.text("AutoScalingGroupName", &found.group);
    }
    w.text("AvailabilityZone", &member.zone)
        .text("LifecycleState", member.lifecycle.as_str())
        .text("HealthStatus", member.health.as_str());
    // An attached instance was launched from no version of the group's template.
    if member.template_version > 0 {
        let launched = GroupTemplate { version: Some(member.template_version.to_string()), ..found.template.clone() };
        template(w, &launched);
    }
    w.text("ProtectedFromScaleIn", "false");
}

/// An `Activity`'s members.
pub(super) fn activity_members(w: &mut XmlWriter, activity: &Activity, arn: Option<&str>) {
    w.text("ActivityId", &activity.id)
        .text("AutoScalingGroupName", &activity.group)
        .text("Description", &activity.description)
        .text("Cause", &activity.cause)
        .text("StartTime", &timestamp(activity.start_ms));
    if let Some(end) = activity.end_ms {
        w.text("EndTime", &iso8601(end));
    }
    w.text("StatusCode", activity.status.as_str());
    if let Some(message) = &activity.message {
        w.text("StatusMessage", message);
    }
    w.text("Progress", &activity.progress.to_string()).text("Details", &activity.details);
    if let Some(arn) = arn {
        w.text("AutoScalingGroupARN", arn);
    }
}

/// The group's refresh as one `member` of `InstanceRefreshes`.
pub(super) fn refresh(w: &mut XmlWriter, row: &GroupRow) {
    let Some(refresh) = &row.record.refresh else { return };
    let percentage = refresh_percentage(row);
    let left = (refresh.to_replace * (100 - percentage) + 99) / 100;
    w.start("member")
        .text("InstanceRefreshId", &refresh.id)
        .text("AutoScalingGroupName", &row.name)
        .text("Status", refresh.status.as_str());
    if let Some(reason) = &refresh.reason {
        w.text("StatusReason", reason);
    }
    w.text("StartTime", &timestamp(refresh.start_ms));
    if let Some(end) = refresh.end_ms {
        w.text("EndTime", &timestamp(end));
    }
    w.text("PercentageComplete", &percentage.to_string()).text("InstancesToUpdate", &left.to_string());
    w.start("ProgressDetails")
        .start("LivePoolProgress")
        .text("PercentageComplete", &percentage.to_string())
        .text("InstancesToUpdate", &left.to_string())
        .end("LivePoolProgress")
        .end("ProgressDetails");
    w.start("Preferences")
        .text("MinHealthyPercentage", &refresh.min_healthy_percentage.to_string())
        .text("InstanceWarmup", &refresh.warmup_seconds.to_string())
        .text("SkipMatching", if refresh.skip_matching { "true" } else { "false" })
        .text("AutoRollback", "false")
        .text("ScaleInProtectedInstances", "Ignore")
        .text("StandbyInstances", "Ignore")
        .text("MaxHealthyPercentage", "100")
        .end("Preferences");
    w.text("Strategy", "Rolling").end("member");
}

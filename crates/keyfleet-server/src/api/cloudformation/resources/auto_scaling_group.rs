//! `AWS::AutoScaling::AutoScalingGroup`: made with CreateAutoScalingGroup and complete once
//! `MinSize` instances are in service (what the group-in-service waiter waits for); its
//! capacity, template and zones change in place with UpdateAutoScalingGroup; deleted with
//! ForceDelete, complete once the group is gone. `Ref` is the group's name.

use std::time::Duration;

use serde_json::Value;

use super::{Handlers, Pairs, Props, attributes, failure, gone_ok, params};
use crate::api::authorize::Service;
use crate::api::autoscaling as asg;
use crate::service::cloudformation::intrinsics::Provisioned;
use crate::service::cloudformation::template::text_of;
use crate::service::cloudformation::{ResourceFailure, ResourceRequest};
use crate::store::Lifecycle;

const PROPERTIES: [&str; 10] = [
    "AutoScalingGroupName",
    "LaunchTemplate",
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "AvailabilityZones",
    "VPCZoneIdentifier",
    "Tags",
    "HealthCheckGracePeriod",
    "Cooldown",
];

/// Properties UpdateAutoScalingGroup changes in place; any other change replaces the group.
const IN_PLACE: [&str; 8] = [
    "LaunchTemplate",
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "AvailabilityZones",
    "VPCZoneIdentifier",
    "HealthCheckGracePeriod",
    "Cooldown",
];

/// How long a group may take to put `MinSize` instances in service, or to go.
const GROUP_WAIT: Duration = Duration::from_secs(300);

impl Handlers {
    pub(super) async fn create_group(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &PROPERTIES)?;
        let name = props.text("AutoScalingGroupName").unwrap_or_else(|| call.generated_name(255));
        let mut pairs = params([("AutoScalingGroupName", name.clone())]);
        pairs.extend(group_pairs(&props, true)?);
        for (n, tag) in props.list("Tags").iter().enumerate() {
            let member = |key: &str| {
                tag.get(key)
                    .map(text_of)
                    .ok_or_else(|| props.invalid(format!("#/Tags/{n}: required key [{key}] not found")))
            };
            pairs.push((format!("Tags.member.{}.Key", n + 1), member("Key")?));
            pairs.push((format!("Tags.member.{}.Value", n + 1), member("Value")?));
            pairs.push((format!("Tags.member.{}.PropagateAtLaunch", n + 1), member("PropagateAtLaunch")?));
        }
        self.query::<asg::CreateAutoScalingGroup>(call, Service::AutoScaling, pairs).await.map_err(|e| failure(&e))?;
        self.wait_for_group(call, &name, false).await?;
        Ok(Provisioned { physical_id: name, attributes: attributes(&[]) })
    }

    /// In place when only [`IN_PLACE`] properties changed; `None` (replace) otherwise.
    pub(super) async fn update_group(
        &self,
        call: &ResourceRequest<'_>,
        previous: &Value,
    ) -> Result<Option<Provisioned>, ResourceFailure> {
        let changed = |key: &str| call.properties.get(key) != previous.get(key);
        if PROPERTIES.into_iter().any(|key| changed(key) && !IN_PLACE.contains(&key)) {
            return Ok(None);
        }
        let Some(name) = call.physical_id else { return Ok(None) };
        let props = Props::of(call, &PROPERTIES)?;
        let mut pairs = params([("AutoScalingGroupName", name.to_owned())]);
        pairs.extend(group_pairs(&props, false)?);
        self.query::<asg::UpdateAutoScalingGroup>(call, Service::AutoScaling, pairs).await.map_err(|e| failure(&e))?;
        self.wait_for_group(call, name, false).await?;
        Ok(Some(Provisioned { physical_id: name.to_owned(), attributes: attributes(&[]) }))
    }

    pub(super) async fn delete_group(&self, call: &ResourceRequest<'_>, name: &str) -> Result<(), ResourceFailure> {
        let pairs = params([("AutoScalingGroupName", name.to_owned()), ("ForceDelete", "true".to_owned())]);
        let outcome = self.query::<asg::DeleteAutoScalingGroup>(call, Service::AutoScaling, pairs).await;
        let gone = matches!(&outcome, Err(e) if e.message.starts_with("AutoScalingGroup name not found"));
        if gone {
            return Ok(());
        }
        gone_ok(outcome, &[])?;
        self.wait_for_group(call, name, true).await
    }

    /// Waits until the group has `MinSize` instances in service, or (`gone`) no longer exists.
    async fn wait_for_group(&self, call: &ResourceRequest<'_>, name: &str, gone: bool) -> Result<(), ResourceFailure> {
        let deadline = tokio::time::Instant::now() + GROUP_WAIT;
        let mut pause = Duration::from_millis(200);
        loop {
            let pairs = params([("AutoScalingGroupNames.member.1", name.to_owned())]);
            let (groups, _) = self
                .query::<asg::DescribeAutoScalingGroups>(call, Service::AutoScaling, pairs)
                .await
                .map_err(|e| failure(&e))?;
            let done = match groups.first() {
                None => gone,
                Some(_) if gone => false,
                Some(group) => {
                    let serving = group.record.members.iter().filter(|m| m.lifecycle == Lifecycle::InService).count();
                    i64::try_from(serving).unwrap_or(i64::MAX) >= group.record.min_size
                }
            };
            if done {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ResourceFailure(format!("Group {name} did not stabilize in time")));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// The group's settings as Create/UpdateAutoScalingGroup parameters (`required`: MinSize and
/// MaxSize must be there).
fn group_pairs(props: &Props<'_>, required: bool) -> Result<Pairs, ResourceFailure> {
    let mut pairs = Pairs::new();
    for (key, param) in [
        ("MinSize", "MinSize"),
        ("MaxSize", "MaxSize"),
        ("DesiredCapacity", "DesiredCapacity"),
        ("HealthCheckGracePeriod", "HealthCheckGracePeriod"),
        ("Cooldown", "DefaultCooldown"),
    ] {
        match props.text(key) {
            Some(value) => pairs.push((param.to_owned(), value)),
            None if required && (key == "MinSize" || key == "MaxSize") => {
                return Err(props.invalid(format!("#: required key [{key}] not found")));
            }
            None => {}
        }
    }
    match props.map.get("LaunchTemplate") {
        Some(Value::Object(spec)) => {
            for key in ["LaunchTemplateId", "LaunchTemplateName", "Version"] {
                if let Some(value) = spec.get(key).filter(|v| !v.is_null()) {
                    pairs.push((format!("LaunchTemplate.{key}"), text_of(value)));
                }
            }
            if spec.get("Version").is_none() {
                return Err(props.invalid("#/LaunchTemplate: required key [Version] not found".into()));
            }
        }
        Some(_) => return Err(props.invalid("#/LaunchTemplate: expected type: JSONObject".into())),
        None if required => return Err(props.invalid("#: required key [LaunchTemplate] not found".into())),
        None => {}
    }
    for (n, zone) in props.strings("AvailabilityZones").into_iter().enumerate() {
        pairs.push((format!("AvailabilityZones.member.{}", n + 1), zone));
    }
    let subnets = props.strings("VPCZoneIdentifier");
    if !subnets.is_empty() {
        pairs.push(("VPCZoneIdentifier".to_owned(), subnets.join(",")));
    }
    Ok(pairs)
}

//! EC2 → Auto Scaling Groups: each group with its capacity, its instances and its activity
//! history (failed activities in red, with their message); create a group from a launch
//! template, set its desired capacity, start an instance refresh, delete it. Each change is
//! one form whose `Action` field names the Auto Scaling action it becomes.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_ec2, call_query, render, see_other};
use crate::api::authorize::Service;
use crate::api::autoscaling::{
    CreateAutoScalingGroup, DeleteAutoScalingGroup, DescribeAutoScalingGroups, DescribeScalingActivities,
    SetDesiredCapacity, StartInstanceRefresh,
};
use crate::api::ec2::launch_templates::DescribeLaunchTemplates;
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::QueryParams;
use crate::common::time::iso8601;
use crate::store::{ActivityStatus, GroupRow, WireName};

/// One instance of a group as the page shows it.
pub struct InstanceRow {
    pub id: String,
    pub zone: String,
    pub lifecycle: &'static str,
    pub health: &'static str,
    pub version: String,
}

/// One activity as the page shows it.
pub struct ActivityRow {
    pub status: &'static str,
    pub failed: bool,
    pub description: String,
    pub cause: String,
    pub message: String,
    pub started: String,
}

/// One group as the page shows it.
pub struct GroupView {
    pub name: String,
    pub template: String,
    pub min: i64,
    pub max: i64,
    pub desired: i64,
    pub zones: String,
    pub deleting: bool,
    pub refresh: String,
    pub instances: Vec<InstanceRow>,
    pub activities: Result<Vec<ActivityRow>, Problem>,
}

#[derive(Template)]
#[template(path = "console/auto_scaling.html")]
pub struct Page {
    pub shell: Shell,
    pub groups: Result<Vec<GroupView>, Problem>,
    /// The launch templates a new group may launch from.
    pub templates: Vec<String>,
    /// The Region's zones.
    pub zones: Vec<String>,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
}

/// The activities of a group shown on the page, newest first.
const ACTIVITIES_SHOWN: usize = 20;

async fn activities(request: &ConsoleRequest<'_>, signed: &Signed, group: &str) -> Result<Vec<ActivityRow>, Problem> {
    let params = QueryParams::from_pairs([("AutoScalingGroupName", group)]);
    let (found, _) = call_query::<DescribeScalingActivities>(request, signed, Service::AutoScaling, params).await?;
    Ok(found
        .into_iter()
        .take(ACTIVITIES_SHOWN)
        .map(|(a, _)| ActivityRow {
            status: a.status.as_str(),
            failed: a.status == ActivityStatus::Failed,
            description: a.description,
            cause: a.cause,
            message: a.message.unwrap_or_default(),
            started: iso8601(a.start_ms),
        })
        .collect())
}

async fn view(request: &ConsoleRequest<'_>, signed: &Signed, row: GroupRow) -> GroupView {
    let record = &row.record;
    let refresh = match &record.refresh {
        Some(r) => format!("{} ({}%)", r.status.as_str(), crate::service::auto_scaling::refresh_percentage(&row)),
        None => String::new(),
    };
    GroupView {
        template: format!("{} ({})", record.template.name, record.template.version.as_deref().unwrap_or("$Default")),
        min: record.min_size,
        max: record.max_size,
        desired: record.desired,
        zones: record.zones.join(", "),
        deleting: record.deleting,
        refresh,
        instances: record
            .members
            .iter()
            .map(|m| InstanceRow {
                id: m.id.clone(),
                zone: m.zone.clone(),
                lifecycle: m.lifecycle.as_str(),
                health: m.health.as_str(),
                version: if m.template_version > 0 { m.template_version.to_string() } else { String::new() },
            })
            .collect(),
        activities: activities(request, signed, &row.name).await,
        name: row.name,
    }
}

async fn page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Page {
    let listed = call_query::<DescribeAutoScalingGroups>(request, signed, Service::AutoScaling, QueryParams::default());
    let groups = match listed.await {
        Err(e) => Err(Problem::from(e)),
        Ok((rows, _)) => {
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                views.push(view(request, signed, row).await);
            }
            Ok(views)
        }
    };
    let templates = match call_ec2::<DescribeLaunchTemplates>(request, signed, QueryParams::default()).await {
        Ok((found, _)) => found.into_iter().map(|t| t.row.name).collect(),
        Err(_) => Vec::new(),
    };
    let zones = crate::service::network::zones(&request.region()).into_iter().map(|z| z.name).collect();
    let notice = request
        .query("done")
        .and_then(|action| FORM_ACTIONS.iter().find(|a| **a == action))
        .map(|action| format!("{action} succeeded."));
    Page { shell: Shell::new(request, signed, "auto-scaling"), groups, templates, zones, problem, notice }
}

/// `GET /console/ec2/auto-scaling`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// The actions the page's forms name.
const FORM_ACTIONS: [&str; 4] =
    ["CreateAutoScalingGroup", "SetDesiredCapacity", "StartInstanceRefresh", "DeleteAutoScalingGroup"];

/// `POST /console/ec2/auto-scaling`: the form's `Action`, with its parameters.
pub async fn act(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let action = request.field("Action").unwrap_or_default();
    let region = request.region();
    let field = |name: &str| request.field(name).unwrap_or_default();
    let group = ("AutoScalingGroupName".to_owned(), field("AutoScalingGroupName"));
    let params = match action.as_str() {
        "CreateAutoScalingGroup" => {
            let mut params = vec![
                group,
                ("LaunchTemplate.LaunchTemplateName".to_owned(), field("LaunchTemplateName")),
                ("LaunchTemplate.Version".to_owned(), field("Version")),
                ("MinSize".to_owned(), field("MinSize")),
                ("MaxSize".to_owned(), field("MaxSize")),
                ("DesiredCapacity".to_owned(), field("DesiredCapacity")),
            ];
            let zones = crate::service::network::zones(&region);
            let chosen = zones.iter().filter(|z| request.field(&format!("zone-{}", z.name)).is_some());
            params.extend(
                chosen.enumerate().map(|(n, z)| (format!("AvailabilityZones.member.{}", n + 1), z.name.clone())),
            );
            params
        }
        "SetDesiredCapacity" => vec![group, ("DesiredCapacity".to_owned(), field("DesiredCapacity"))],
        "StartInstanceRefresh" => {
            vec![group, ("Preferences.MinHealthyPercentage".to_owned(), field("MinHealthyPercentage"))]
        }
        "DeleteAutoScalingGroup" => vec![group, ("ForceDelete".to_owned(), "true".to_owned())],
        _ => return see_other(&format!("/console/ec2/auto-scaling?region={region}")),
    };
    let params = QueryParams::from_pairs(params);
    let service = Service::AutoScaling;
    let done: Result<(), ApiError> = match action.as_str() {
        "CreateAutoScalingGroup" => call_query::<CreateAutoScalingGroup>(request, &signed, service, params).await,
        "SetDesiredCapacity" => call_query::<SetDesiredCapacity>(request, &signed, service, params).await,
        "StartInstanceRefresh" => call_query::<StartInstanceRefresh>(request, &signed, service, params).await.map(drop),
        _ => call_query::<DeleteAutoScalingGroup>(request, &signed, service, params).await,
    };
    match done {
        Ok(()) => see_other(&format!("/console/ec2/auto-scaling?region={region}&done={action}")),
        Err(e) => render(e.status, &page(request, &signed, Some(e.into())).await),
    }
}

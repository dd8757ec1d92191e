//! EC2 → Launch Templates: each template with its versions; create a template, add a version
//! (from the default one, with a new key pair or instance type), make a version the default,
//! delete a version or the template, and launch an instance from a template. Each change is
//! one form whose `Action` field names the EC2 action it becomes.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_ec2, render, see_other};
use crate::api::ec2::instances::RunInstances;
use crate::api::ec2::key_pairs::DescribeKeyPairs;
use crate::api::ec2::launch_templates::{
    CreateLaunchTemplate, CreateLaunchTemplateVersion, DeleteLaunchTemplate, DeleteLaunchTemplateVersions,
    DescribeLaunchTemplateVersions, DescribeLaunchTemplates, ModifyLaunchTemplate,
};
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::QueryParams;
use crate::common::time::iso8601;

/// One version as the page shows it.
pub struct VersionRow {
    pub number: i64,
    pub default: bool,
    pub description: String,
    pub image: String,
    pub instance_type: String,
    pub key_name: String,
}

/// One template as the page shows it.
pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub default_version: i64,
    pub latest_version: i64,
    pub versions: Result<Vec<VersionRow>, Problem>,
}

#[derive(Template)]
#[template(path = "console/launch_templates.html")]
pub struct Page {
    pub shell: Shell,
    pub templates: Result<Vec<TemplateRow>, Problem>,
    /// The key pairs a form may name.
    pub key_names: Vec<String>,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
}

async fn versions(request: &ConsoleRequest<'_>, signed: &Signed, id: &str) -> Result<Vec<VersionRow>, Problem> {
    let params = QueryParams::from_pairs([("LaunchTemplateId", id)]);
    let (versions, _) = call_ec2::<DescribeLaunchTemplateVersions>(request, signed, params).await?;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    Ok(versions
        .into_iter()
        .map(|v| VersionRow {
            number: v.version.version,
            default: v.is_default(),
            description: text(&v.version.description),
            image: text(&v.version.data.image_id),
            instance_type: text(&v.version.data.instance_type),
            key_name: text(&v.version.data.key_name),
        })
        .collect())
}

async fn page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Page {
    let listed = call_ec2::<DescribeLaunchTemplates>(request, signed, QueryParams::default()).await;
    let templates = match listed {
        Err(e) => Err(Problem::from(e)),
        Ok((templates, _)) => {
            let mut rows = Vec::with_capacity(templates.len());
            for template in templates {
                let row = template.row;
                rows.push(TemplateRow {
                    versions: versions(request, signed, &row.id).await,
                    created: iso8601(row.created_ms),
                    default_version: row.default_version,
                    latest_version: row.latest_version,
                    id: row.id,
                    name: row.name,
                });
            }
            Ok(rows)
        }
    };
    let key_names = match call_ec2::<DescribeKeyPairs>(request, signed, QueryParams::default()).await {
        Ok(keys) => keys.into_iter().map(|k| k.name).collect(),
        Err(_) => Vec::new(),
    };
    let notice = request
        .query("done")
        .and_then(|action| FORM_ACTIONS.iter().find(|a| **a == action))
        .map(|action| format!("{action} succeeded."));
    Page { shell: Shell::new(request, signed, "launch-templates"), templates, key_names, problem, notice }
}

/// `GET /console/ec2/launch-templates`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// The actions the page's forms name.
const FORM_ACTIONS: [&str; 6] = [
    "CreateLaunchTemplate",
    "CreateLaunchTemplateVersion",
    "ModifyLaunchTemplate",
    "DeleteLaunchTemplateVersions",
    "DeleteLaunchTemplate",
    "RunInstances",
];

/// The form's launch data, as `LaunchTemplateData.*`: only what it filled in.
fn data(request: &ConsoleRequest<'_>) -> Vec<(String, String)> {
    ["ImageId", "InstanceType", "KeyName"]
        .into_iter()
        .filter_map(|name| {
            let value = request.field(name).filter(|v| !v.is_empty())?;
            Some((format!("LaunchTemplateData.{name}"), value))
        })
        .collect()
}

/// `POST /console/ec2/launch-templates`: the form's `Action`, with its parameters.
pub async fn act(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let action = request.field("Action").unwrap_or_default();
    let region = request.region();
    let field = |name: &str| request.field(name).unwrap_or_default();
    let id = ("LaunchTemplateId".to_owned(), field("LaunchTemplateId"));
    let done: Result<(), ApiError> = match action.as_str() {
        "CreateLaunchTemplate" => {
            let mut params = vec![("LaunchTemplateName".to_owned(), field("LaunchTemplateName"))];
            if let Some(description) = request.field("VersionDescription").filter(|d| !d.is_empty()) {
                params.push(("VersionDescription".to_owned(), description));
            }
            params.extend(data(request));
            call_ec2::<CreateLaunchTemplate>(request, &signed, QueryParams::from_pairs(params)).await.map(drop)
        }
        "CreateLaunchTemplateVersion" => {
            let mut params = vec![id, ("SourceVersion".to_owned(), field("SourceVersion"))];
            if let Some(description) = request.field("VersionDescription").filter(|d| !d.is_empty()) {
                params.push(("VersionDescription".to_owned(), description));
            }
            params.extend(data(request));
            call_ec2::<CreateLaunchTemplateVersion>(request, &signed, QueryParams::from_pairs(params)).await.map(drop)
        }
        "ModifyLaunchTemplate" => {
            let params = QueryParams::from_pairs([id, ("SetDefaultVersion".to_owned(), field("Version"))]);
            call_ec2::<ModifyLaunchTemplate>(request, &signed, params).await.map(drop)
        }
        "DeleteLaunchTemplateVersions" => {
            let params = QueryParams::from_pairs([id, ("LaunchTemplateVersion.1".to_owned(), field("Version"))]);
            match call_ec2::<DeleteLaunchTemplateVersions>(request, &signed, params).await {
                // A version that stays is this page's refusal, as the API answers it per version.
                Ok((_, outcomes)) if outcomes.iter().any(|(_, o)| *o != crate::store::VersionDeletion::Deleted) => {
                    Err(ApiError::bad_request(
                        "unexpectedError",
                        "The default version of a launch template cannot be deleted.",
                    ))
                }
                other => other.map(drop),
            }
        }
        "DeleteLaunchTemplate" => {
            call_ec2::<DeleteLaunchTemplate>(request, &signed, QueryParams::from_pairs([id])).await.map(drop)
        }
        "RunInstances" => {
            let params = QueryParams::from_pairs([
                ("LaunchTemplate.LaunchTemplateId".to_owned(), field("LaunchTemplateId")),
                ("MinCount".to_owned(), "1".to_owned()),
                ("MaxCount".to_owned(), "1".to_owned()),
            ]);
            call_ec2::<RunInstances>(request, &signed, params).await.map(drop)
        }
        _ => return see_other(&format!("/console/ec2/launch-templates?region={region}")),
    };
    match done {
        Ok(()) => see_other(&format!("/console/ec2/launch-templates?region={region}&done={action}")),
        Err(e) => render(e.status, &page(request, &signed, Some(e.into())).await),
    }
}

//! EC2 → Volumes: every root volume, attached or kept after its instance
//! (`DeleteOnTermination=false`), and DeleteVolume for a kept one.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_ec2, render, see_other};
use crate::api::ec2::instances::{DeleteVolume, DescribeVolumes};
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::QueryParams;
use crate::service::instances::Volume;
use crate::store::WireName;

/// One volume as the page shows it.
pub struct VolumeRow {
    pub id: String,
    pub gib: i64,
    pub status: &'static str,
    /// The instance it is attached to; empty when kept after it.
    pub instance: String,
    pub delete_on_termination: bool,
    pub name: String,
}

#[derive(Template)]
#[template(path = "console/volumes.html")]
pub struct Page {
    pub shell: Shell,
    pub volumes: Result<Vec<VolumeRow>, Problem>,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
}

fn volume_row(volume: Volume) -> VolumeRow {
    let attached = volume.attached();
    VolumeRow {
        status: volume.status().as_str(),
        delete_on_termination: volume.deletes_on_termination(),
        name: volume.tags.iter().find(|t| t.key == "Name").map(|t| t.value.clone()).unwrap_or_default(),
        instance: if attached { volume.row.id } else { String::new() },
        id: volume.row.volume_id,
        gib: volume.row.volume_gib,
    }
}

async fn page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Page {
    let volumes = call_ec2::<DescribeVolumes>(request, signed, QueryParams::default())
        .await
        .map(|(volumes, _)| volumes.into_iter().map(volume_row).collect())
        .map_err(Problem::from);
    let notice = request
        .query("deleted")
        .filter(|id| crate::common::ids::is_well_formed(id, "vol"))
        .map(|id| format!("Volume {id} is being deleted."));
    Page { shell: Shell::new(request, signed, "volumes"), volumes, problem, notice }
}

/// `GET /console/ec2/volumes`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// `POST /console/ec2/volumes`: DeleteVolume of the form's `VolumeId`.
pub async fn delete(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let id = request.field("VolumeId").unwrap_or_default();
    let params = QueryParams::from_pairs([("VolumeId", id.clone())]);
    let done: Result<(), ApiError> = call_ec2::<DeleteVolume>(request, &signed, params).await;
    match done {
        Ok(()) => see_other(&format!("/console/ec2/volumes?region={}&deleted={id}", request.region())),
        Err(e) => render(e.status, &page(request, &signed, Some(e.into())).await),
    }
}

//! EC2 → Instances: the table with stop, start, reboot and terminate (each confirmed), an
//! instance's details with its key pair and the exact ssh lines, and the launch wizard of
//! seed 001, whose "Create new key pair" downloads the key and then launches with it.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::key_pairs::private_key_download;
use super::pages::{Problem, Shell, shell_word};
use super::session;
use super::{ConsoleRequest, call_ec2, render, see_other};
use crate::api::ec2::instances::{
    DescribeInstances, GetConsoleOutput, GroupNames, ModifyInstanceAttribute, RebootInstances, RunInstances, Start,
    Stop, Terminate, Transition, groups_of, state_reasons,
};
use crate::api::ec2::key_pairs::{CreateKeyPair, DescribeKeyPairs};
use crate::api::ec2::security_groups::{Authorize, CreateSecurityGroup, DescribeSecurityGroups, Ingress};
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::{QueryParams, timestamp};
use crate::service::instances::{CheckStatus, IMAGES, Placed};
use crate::store::{InstanceRow, InstanceState, Scope, WireName};

/// The instance types the wizard offers (any other can be launched through the API).
const WIZARD_TYPES: [&str; 6] = ["t2.micro", "t2.small", "t3.micro", "t3.small", "m5.large", "c5.large"];
/// The launch wizard's `KeyName` choice that creates a key pair first.
const CREATE_NEW_KEY: &str = "::create-new";
/// The launch wizard's `KeyName` choice for no key pair.
const NO_KEY: &str = "::none";

/// A row of the table, and the details page.
pub struct Row {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub instance_type: String,
    pub image_id: String,
    pub key_name: String,
    pub address: String,
    pub launched: String,
    pub volume_gib: i64,
    pub volume_id: String,
    pub delete_on_termination: bool,
    /// The key pair's file as a shell word, for the `chmod` and `ssh -i` lines.
    pub key_file: String,
    pub zone: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_dns: String,
    pub public_dns: String,
    /// The status checks as the console's column words them.
    pub checks: &'static str,
    /// Its security groups' names.
    pub groups: Vec<String>,
    /// `disableApiTermination`.
    pub termination_protected: bool,
    /// Why it is in its state ("User initiated (… GMT)"), or empty.
    pub state_reason: String,
}

impl Row {
    /// An instance row as the caller's pages show it, placed in the caller's default VPC.
    pub fn new(row: InstanceRow, scope: &Scope, group_names: &GroupNames) -> Self {
        let groups = groups_of(&row, group_names).map(|(_, name)| name.clone()).collect();
        let placed = Placed::new(scope, &row);
        let (zone, vpc_id, subnet_id) = (placed.zone.name.clone(), placed.vpc_id.clone(), placed.subnet_id.clone());
        let (private_dns, public_dns) = (placed.private_dns.clone(), placed.public_dns.clone());
        let checks = match CheckStatus::of(row.state) {
            CheckStatus::Ok => "2/2 checks passed",
            CheckStatus::Initializing => "Initializing",
            CheckStatus::NotApplicable => "",
        };
        let name = row.tags.iter().find(|t| t.key == "Name").map(|t| t.value.clone()).unwrap_or_default();
        let public = !matches!(row.state, InstanceState::Stopped | InstanceState::Terminated);
        let (state_reason, _) = state_reasons(&row);
        Row {
            termination_protected: row.disable_api_termination,
            state_reason,
            id: row.id,
            name,
            state: row.state.as_str(),
            instance_type: row.instance_type,
            image_id: row.image_id,
            key_file: shell_word(&format!("{}.pem", row.key_name.as_deref().unwrap_or_default())),
            key_name: row.key_name.unwrap_or_default(),
            address: if public { row.address } else { String::new() },
            launched: timestamp(row.launch_ms),
            volume_gib: row.volume_gib,
            volume_id: row.volume_id.clone(),
            delete_on_termination: row.volume_life == crate::store::VolumeLife::DeleteOnTermination,
            zone,
            vpc_id,
            subnet_id,
            private_dns,
            public_dns,
            checks,
            groups,
        }
    }
}

#[derive(Template)]
#[template(path = "console/instances.html")]
pub struct List {
    pub shell: Shell,
    pub rows: Result<Vec<Row>, Problem>,
    pub notice: Option<String>,
}

/// `GET /console/ec2/instances`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let scope = request.scope(&signed);
    let described = call_ec2::<DescribeInstances>(request, &signed, QueryParams::default()).await;
    let rows: Result<Vec<Row>, Problem> = described
        .map(|(rows, _, groups)| rows.into_iter().map(|r| Row::new(r, &scope, &groups)).collect())
        .map_err(Problem::from);
    // Notices come from links, so they speak only of what is so: instances in the table, a
    // known change, an error code.
    let launched = request.query("launched").map(|ids| {
        let known = |id: &&str| rows.as_ref().is_ok_and(|rows| rows.iter().any(|r| r.id == *id));
        ids.split(", ").filter(known).collect::<Vec<_>>().join(", ")
    });
    let notice = launched
        .filter(|ids| !ids.is_empty())
        .map(|ids| format!("Launched {ids}."))
        .or_else(|| request.query("changed").and_then(|v| Change::from_verb(&v)).map(|c| format!("{}: requested.", c.verb())))
        .or_else(|| {
            let code = request.query("launch_failed")?;
            let plain = !code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
            plain.then(|| format!("The key pair was created and downloaded, but the launch failed ({code}); Event history has the details."))
        });
    render(StatusCode::OK, &List { shell: Shell::new(request, &signed, "instances"), rows, notice })
}

/// A state change the table's Actions offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Stop,
    Start,
    Reboot,
    Terminate,
}

impl Change {
    fn parse(action: &str) -> Option<Change> {
        Some(match action {
            "StopInstances" => Change::Stop,
            "StartInstances" => Change::Start,
            "RebootInstances" => Change::Reboot,
            "TerminateInstances" => Change::Terminate,
            _ => return None,
        })
    }

    pub fn action(self) -> &'static str {
        match self {
            Change::Stop => "StopInstances",
            Change::Start => "StartInstances",
            Change::Reboot => "RebootInstances",
            Change::Terminate => "TerminateInstances",
        }
    }

    fn from_verb(verb: &str) -> Option<Change> {
        [Change::Stop, Change::Start, Change::Reboot, Change::Terminate].into_iter().find(|c| c.verb() == verb)
    }

    pub fn verb(self) -> &'static str {
        match self {
            Change::Stop => "Stop",
            Change::Start => "Start",
            Change::Reboot => "Reboot",
            Change::Terminate => "Terminate",
        }
    }

    pub fn warning(self) -> &'static str {
        match self {
            Change::Stop => "Stopped instances keep their volume and can be started again.",
            Change::Start => "The instances boot again from their volumes.",
            Change::Reboot => "The instances restart; open SSH sessions end.",
            Change::Terminate => {
                "Terminated instances are deleted, with their root volumes unless launched to keep them. This cannot be \
                 undone."
            }
        }
    }
}

#[derive(Template)]
#[template(path = "console/instances_confirm.html")]
pub struct Confirm {
    pub shell: Shell,
    pub change: Change,
    pub ids: Vec<String>,
    pub problem: Option<Problem>,
}

/// `POST /console/ec2/instances/state`: confirms, then makes the change.
pub async fn change_state(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let ids = request.all("InstanceId");
    let region = request.region();
    let Some(change) = request.field("Action").as_deref().and_then(Change::parse) else {
        return see_other(&format!("/console/ec2/instances?region={region}"));
    };
    if ids.is_empty() {
        return see_other(&format!("/console/ec2/instances?region={region}"));
    }
    let shell = || Shell::new(request, &signed, "instances");
    if request.field("confirm").as_deref() != Some("yes") {
        return render(StatusCode::OK, &Confirm { shell: shell(), change, ids, problem: None });
    }
    let params =
        QueryParams::from_pairs(ids.iter().enumerate().map(|(i, id)| (format!("InstanceId.{}", i + 1), id.clone())));
    let done = match change {
        Change::Stop => call_ec2::<Transition<Stop>>(request, &signed, params).await.map(drop),
        Change::Start => call_ec2::<Transition<Start>>(request, &signed, params).await.map(drop),
        Change::Terminate => call_ec2::<Transition<Terminate>>(request, &signed, params).await.map(drop),
        Change::Reboot => call_ec2::<RebootInstances>(request, &signed, params).await,
    };
    match done {
        Ok(()) => see_other(&format!("/console/ec2/instances?region={region}&changed={}", change.verb())),
        Err(e) => {
            let status = e.status;
            render(status, &Confirm { shell: shell(), change, ids, problem: Some(e.into()) })
        }
    }
}

#[derive(Template)]
#[template(path = "console/instance.html")]
pub struct Details {
    pub shell: Shell,
    pub instance: Result<Row, Problem>,
    /// The instance's key pair no longer exists (launches naming it would fail).
    pub key_missing: bool,
    pub ssh_port: u16,
    /// The system log (GetConsoleOutput): the host key fingerprints to check before the
    /// first ssh. `Ok(None)` before the instance first booted here.
    pub system_log: Result<Option<String>, Problem>,
    /// Why a change asked for on this page failed.
    pub problem: Option<Problem>,
}

/// `POST /console/ec2/instances/i-…/termination-protection`: ModifyInstanceAttribute
/// `disableApiTermination`, through the pipeline.
pub async fn termination_protection(request: &ConsoleRequest<'_>, id: &str) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let on = request.field("Enable").as_deref() == Some("true");
    let params =
        QueryParams::from_pairs([("InstanceId", id.to_owned()), ("DisableApiTermination.Value", on.to_string())]);
    match call_ec2::<ModifyInstanceAttribute>(request, &signed, params).await {
        Ok(()) => see_other(&format!("/console/ec2/instances/{id}?region={}", request.region())),
        Err(e) => {
            let status = e.status;
            render(status, &details_page(request, &signed, id, Some(e.into())).await)
        }
    }
}

/// `GET /console/ec2/instances/i-…`.
pub async fn details(request: &ConsoleRequest<'_>, id: &str) -> Response {
    let signed = or_answer!(session::require(request).await);
    render(StatusCode::OK, &details_page(request, &signed, id, None).await)
}

async fn details_page(
    request: &ConsoleRequest<'_>,
    signed: &session::Signed,
    id: &str,
    problem: Option<Problem>,
) -> Details {
    let scope = request.scope(signed);
    let params = QueryParams::from_pairs([("InstanceId.1", id)]);
    let instance = match call_ec2::<DescribeInstances>(request, signed, params).await {
        Ok((rows, _, groups)) => rows.into_iter().next().map(|r| Row::new(r, &scope, &groups)).ok_or_else(|| Problem {
            code: "InvalidInstanceID.NotFound".into(),
            message: format!("The instance ID '{id}' does not exist"),
            denied: false,
        }),
        Err(e) => Err(e.into()),
    };
    let key_missing = match &instance {
        Ok(row) if !row.key_name.is_empty() => {
            let params = QueryParams::from_pairs([("KeyName.1", row.key_name.as_str())]);
            matches!(
                call_ec2::<DescribeKeyPairs>(request, signed, params).await,
                Err(e) if e.code == "InvalidKeyPair.NotFound"
            )
        }
        _ => false,
    };
    let ssh_port = request.state.instances.ssh_port();
    let system_log = match &instance {
        Ok(_) => call_ec2::<GetConsoleOutput>(request, signed, QueryParams::from_pairs([("InstanceId", id)]))
            .await
            .map(|(_, log)| log)
            .map_err(Problem::from),
        Err(_) => Ok(None),
    };
    let shell = Shell::new(request, signed, "instances");
    Details { shell, instance, key_missing, ssh_port, system_log, problem }
}

#[derive(Template)]
#[template(path = "console/launch.html")]
pub struct Launch {
    pub shell: Shell,
    pub problem: Option<Problem>,
    pub images: Vec<(&'static str, &'static str)>,
    pub types: Vec<&'static str>,
    /// The region's key pairs, or why they cannot be listed.
    pub key_names: Result<Vec<String>, Problem>,
    pub create_new: &'static str,
    pub no_key: &'static str,
    /// The region's security groups (id, name), or why they cannot be listed.
    pub groups: Result<Vec<(String, String)>, Problem>,
}

async fn launch_page(request: &ConsoleRequest<'_>, signed: &session::Signed, problem: Option<Problem>) -> Launch {
    let key_names = call_ec2::<DescribeKeyPairs>(request, signed, QueryParams::default())
        .await
        .map(|pairs| pairs.into_iter().map(|p| p.name).collect())
        .map_err(Problem::from);
    let groups = call_ec2::<DescribeSecurityGroups>(request, signed, QueryParams::default())
        .await
        .map(|(groups, _)| groups.into_iter().map(|g| (g.id, g.name)).collect())
        .map_err(Problem::from);
    Launch {
        groups,
        shell: Shell::new(request, signed, "instances"),
        problem,
        images: IMAGES.iter().map(|i| (i.id, i.description)).collect(),
        types: WIZARD_TYPES.to_vec(),
        key_names,
        create_new: CREATE_NEW_KEY,
        no_key: NO_KEY,
    }
}

/// `GET /console/ec2/instances/launch`.
pub async fn launch_form(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &launch_page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// `POST /console/ec2/instances/launch`: RunInstances with the wizard's fields. With "Create
/// new key pair", CreateKeyPair first: the answer is then the private key file, and the
/// page's script goes on to the instances.
pub async fn launch(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let field = |name: &str| request.field(name).unwrap_or_default();
    let region = request.region();
    let count = field("MinCount");
    let count = if count.is_empty() { "1".to_owned() } else { count };
    let mut run = vec![
        ("ImageId".to_owned(), field("ImageId")),
        ("InstanceType".to_owned(), field("InstanceType")),
        ("MinCount".to_owned(), count.clone()),
        ("MaxCount".to_owned(), count),
    ];
    let name = field("Name");
    if !name.is_empty() {
        run.extend([
            ("TagSpecification.1.ResourceType".to_owned(), "instance".to_owned()),
            ("TagSpecification.1.Tag.1.Key".to_owned(), "Name".to_owned()),
            ("TagSpecification.1.Tag.1.Value".to_owned(), name),
        ]);
    }
    match wizard_security_group(request, &signed).await {
        Ok(group) => run.push(("SecurityGroupId.1".to_owned(), group)),
        Err(e) => return render(e.status, &launch_page(request, &signed, Some(e.into())).await),
    }
    let key_choice = field("KeyName");
    if key_choice != CREATE_NEW_KEY {
        if key_choice != NO_KEY {
            run.push(("KeyName".to_owned(), key_choice));
        }
        return match call_ec2::<RunInstances>(request, &signed, QueryParams::from_pairs(run)).await {
            Ok((_, rows, _)) => see_other(&launched(&region, &rows)),
            Err(e) => render(e.status, &launch_page(request, &signed, Some(e.into())).await),
        };
    }
    let new_key = QueryParams::from_pairs([
        ("KeyName", field("NewKeyName")),
        ("KeyType", field("NewKeyType")),
        ("KeyFormat", field("NewKeyFormat")),
    ]);
    let format = new_key.get("KeyFormat").unwrap_or("pem").to_owned();
    let created = match call_ec2::<CreateKeyPair>(request, &signed, new_key).await {
        Ok(created) => created,
        Err(e) => return render(e.status, &launch_page(request, &signed, Some(e.into())).await),
    };
    run.push(("KeyName".to_owned(), created.info.name.clone()));
    let next = match call_ec2::<RunInstances>(request, &signed, QueryParams::from_pairs(run)).await {
        Ok((_, rows, _)) => launched(&region, &rows),
        Err(e) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("region", &region)
                .append_pair("launch_failed", &e.code)
                .finish();
            format!("/console/ec2/instances?{query}")
        }
    };
    private_key_download(created, &format, &next)
}

/// The wizard's "Network settings": an existing group, or a new `launch-wizard-N` (the next
/// free N, described with its creation time as AWS's wizard does) that lets SSH in from
/// anywhere unless that box is cleared.
async fn wizard_security_group(request: &ConsoleRequest<'_>, signed: &session::Signed) -> Result<String, ApiError> {
    let field = |name: &str| request.field(name).unwrap_or_default();
    if field("SecurityGroupChoice") == "existing" {
        return Ok(field("SecurityGroupId"));
    }
    let (groups, _) = call_ec2::<DescribeSecurityGroups>(request, signed, QueryParams::default()).await?;
    let taken = |n: &usize| groups.iter().any(|g| g.name == format!("launch-wizard-{n}"));
    let number = (1..).find(|n| !taken(n)).unwrap_or(1);
    let name = format!("launch-wizard-{number}");
    let description = format!("{name} created {}", crate::common::time::iso8601_millis(crate::service::now_ms()));
    let create = QueryParams::from_pairs([("GroupName", name.as_str()), ("GroupDescription", description.as_str())]);
    let group = call_ec2::<CreateSecurityGroup>(request, signed, create).await?;
    if field("AllowSsh") == "0.0.0.0/0" {
        let ssh = QueryParams::from_pairs([
            ("GroupId", group.id.as_str()),
            ("IpPermissions.1.IpProtocol", "tcp"),
            ("IpPermissions.1.FromPort", "22"),
            ("IpPermissions.1.ToPort", "22"),
            ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
        ]);
        call_ec2::<Authorize<Ingress>>(request, signed, ssh).await?;
    }
    Ok(group.id)
}

fn launched(region: &str, rows: &[InstanceRow]) -> String {
    let ids = rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ");
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("region", region)
        .append_pair("launched", &ids)
        .finish();
    format!("/console/ec2/instances?{query}")
}

//! IAM → Roles: the roles, and a role's trust policy, attached managed policies (AWS's and the
//! account's) and inline policies. Each change is one form whose `Action` names the IAM
//! action it becomes, with that action's parameters beside it.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::iam::pretty;
use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_iam, render, see_other};
use crate::api::iam::instance_profiles::{
    AddRoleToInstanceProfile, CreateInstanceProfile, DeleteInstanceProfile, ListInstanceProfilesForRole,
    RemoveRoleFromInstanceProfile, profile_arn,
};
use crate::api::iam::policies::{Attach, Detach, ListAttached, ListPolicies, ToRole};
use crate::api::iam::roles::{
    CreateRole, DeleteRole, DeleteRolePolicy, GetRole, GetRolePolicy, ListRolePolicies, ListRoles, PutRolePolicy,
    UpdateAssumeRolePolicy,
};
use crate::api::protocol::ec2_query::{QueryParams, timestamp};
use crate::service::roles::ManagedPolicy;

/// A role in the list.
pub struct RoleRow {
    pub name: String,
    pub arn: String,
    pub trusted: String,
    pub created: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "console/iam_roles.html")]
pub struct Roles {
    pub shell: Shell,
    pub account: String,
    pub rows: Result<Vec<RoleRow>, Problem>,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
}

/// The role's page.
pub struct RoleView {
    pub name: String,
    pub arn: String,
    pub created: String,
    pub max_session: i64,
    pub trust: String,
    pub attached: Vec<(String, String)>,
    pub inline: Vec<(String, String)>,
    /// Managed policies that may be attached: `(ARN, name)`.
    pub attachable: Vec<(String, String)>,
    /// The ARNs of the instance profiles it is in.
    pub profiles: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/iam_role.html")]
pub struct RolePage {
    pub shell: Shell,
    pub role: Result<RoleView, Problem>,
    pub name: String,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
}

/// The principals the create form offers: who may assume the new role.
const TRUSTED: [(&str, &str); 3] =
    [("ssm.amazonaws.com", "Systems Manager (Automation)"), ("ec2.amazonaws.com", "EC2"), ("account", "This account")];

fn role_link(name: &str, region: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("region", region)
        .append_pair("RoleName", name)
        .finish();
    format!("/console/iam/roles/view?{query}")
}

/// Who a trust policy admits, in a few words, for the list.
fn trusted_entities(document: &str) -> String {
    use serde_json::Value;
    let value: Value = serde_json::from_str(document).unwrap_or_default();
    let statements = match value.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    };
    let mut names = Vec::new();
    for principal in statements.iter().filter_map(|s| s.get("Principal")) {
        if principal.as_str() == Some("*") {
            names.push("*".to_owned());
        }
        for kind in ["Service", "AWS"] {
            match principal.get(kind) {
                Some(Value::String(name)) => names.push(name.clone()),
                Some(Value::Array(list)) => names.extend(list.iter().filter_map(Value::as_str).map(str::to_owned)),
                _ => {}
            }
        }
    }
    names.join(", ")
}

async fn roles_page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Roles {
    let region = request.region();
    let account = signed.session.owner.account.clone();
    let rows = call_iam::<ListRoles>(request, signed, QueryParams::from_pairs([("MaxItems", "1000")]))
        .await
        .map(|(roles, _)| {
            roles
                .into_iter()
                .map(|r| RoleRow {
                    arn: format!("arn:aws:iam::{account}:role{}{}", r.path, r.name),
                    trusted: trusted_entities(&r.trust_policy),
                    created: timestamp(r.created_ms),
                    link: role_link(&r.name, &region),
                    name: r.name,
                })
                .collect()
        })
        .map_err(Problem::from);
    let iam_name =
        |name: &String| name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    let notice = request.query("deleted").filter(iam_name).map(|name| format!("Deleted role {name}."));
    Roles { shell: Shell::new(request, signed, "roles"), account, rows, problem, notice }
}

/// `GET /console/iam/roles`.
pub async fn roles(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &roles_page(request, &signed, None).await),
        Err(response) => response,
    }
}

async fn load_role(request: &ConsoleRequest<'_>, signed: &Signed, name: &str) -> Result<RoleView, Problem> {
    let by_name = || QueryParams::from_pairs([("RoleName", name)]);
    let role = call_iam::<GetRole>(request, signed, by_name()).await?;
    let (attached, _) = call_iam::<ListAttached<ToRole>>(request, signed, by_name()).await?;
    let (names, _) = call_iam::<ListRolePolicies>(request, signed, by_name()).await?;
    let mut inline = Vec::new();
    for policy in names {
        let params = QueryParams::from_pairs([("RoleName", name), ("PolicyName", policy.as_str())]);
        let (_, _, document) = call_iam::<GetRolePolicy>(request, signed, params).await?;
        inline.push((policy, pretty(&document)));
    }
    let (policies, _) =
        call_iam::<ListPolicies>(request, signed, QueryParams::from_pairs([("MaxItems", "1000")])).await?;
    let attachable = policies
        .iter()
        .map(|p| (p.arn(), policy_name(p)))
        .filter(|(arn, _)| !attached.iter().any(|(_, a)| a == arn))
        .collect();
    let account = &signed.session.owner.account;
    let (profiles, _) = call_iam::<ListInstanceProfilesForRole>(request, signed, by_name()).await?;
    let profiles = profiles.iter().map(|(p, _)| profile_arn(account, p)).collect();
    let arn = format!("arn:aws:iam::{account}:role{}{}", role.path, role.name);
    Ok(RoleView {
        profiles,
        arn,
        created: timestamp(role.created_ms),
        max_session: role.max_session_seconds,
        trust: pretty(&role.trust_policy),
        name: role.name,
        attached,
        inline,
        attachable,
    })
}

fn policy_name(policy: &ManagedPolicy) -> String {
    match policy {
        ManagedPolicy::Aws(aws, _) => format!("{} (AWS managed)", aws.name),
        ManagedPolicy::Local(row) => row.name.clone(),
    }
}

async fn role_page(request: &ConsoleRequest<'_>, signed: &Signed, name: &str, problem: Option<Problem>) -> RolePage {
    RolePage {
        shell: Shell::new(request, signed, "roles"),
        role: load_role(request, signed, name).await,
        name: name.to_owned(),
        problem,
        notice: request.query("done").filter(|a| FORM_ACTIONS.contains(&a.as_str())).map(|a| format!("{a}: done.")),
    }
}

/// `GET /console/iam/roles/view?RoleName=…`.
pub async fn role(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let name = request.query("RoleName").unwrap_or_default();
    render(StatusCode::OK, &role_page(request, &signed, &name, None).await)
}

/// The IAM actions the roles pages' forms may name.
const FORM_ACTIONS: [&str; 7] = [
    "CreateRole",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "DeleteRolePolicy",
];

/// CreateRole's trust policy from the form's choice of trusted entity.
fn trust_policy(choice: &str, account: &str) -> String {
    let principal = match choice {
        "account" => format!(r#"{{"AWS":"arn:aws:iam::{account}:root"}}"#),
        service => format!(r#"{{"Service":"{service}"}}"#),
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// A role for EC2 comes with an instance profile of its name, as AWS's console makes it, so
/// that instances can be launched with it.
async fn create_ec2_role(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    name: &str,
    params: QueryParams,
) -> Result<(), crate::api::error::ApiError> {
    call_iam::<CreateRole>(request, signed, params).await?;
    let profile = || QueryParams::from_pairs([("InstanceProfileName", name)]);
    call_iam::<CreateInstanceProfile>(request, signed, profile()).await?;
    let both = QueryParams::from_pairs([("InstanceProfileName", name), ("RoleName", name)]);
    call_iam::<AddRoleToInstanceProfile>(request, signed, both).await
}

/// Deleting a role in the console also deletes the instance profile of its name that holds
/// it (the one the console made with it), as AWS's console does; any other profile stays
/// and DeleteRole says so.
async fn delete_role(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    name: &str,
    params: QueryParams,
) -> Result<(), crate::api::error::ApiError> {
    let by_name = QueryParams::from_pairs([("RoleName", name)]);
    let (profiles, _) = call_iam::<ListInstanceProfilesForRole>(request, signed, by_name).await?;
    for (profile, _) in profiles.iter().filter(|(p, _)| p.name.eq_ignore_ascii_case(name)) {
        let both = QueryParams::from_pairs([("InstanceProfileName", profile.name.as_str()), ("RoleName", name)]);
        call_iam::<RemoveRoleFromInstanceProfile>(request, signed, both).await?;
        let one = QueryParams::from_pairs([("InstanceProfileName", profile.name.as_str())]);
        call_iam::<DeleteInstanceProfile>(request, signed, one).await?;
    }
    call_iam::<DeleteRole>(request, signed, params).await
}

/// `POST /console/iam/roles`: the form's `Action` with its parameters.
pub async fn act(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let action = request.field("Action").unwrap_or_default();
    let name = request.field("RoleName").unwrap_or_default();
    let region = request.region();
    if !FORM_ACTIONS.contains(&action.as_str()) {
        return see_other(&format!("/console/iam/roles?region={region}"));
    }
    let mut pairs: Vec<(String, String)> = request
        .form()
        .iter()
        .filter(|(k, v)| !matches!(k.as_str(), "csrf" | "region" | "Action" | "Trusted") && !v.is_empty())
        .cloned()
        .collect();
    if action == "CreateRole" {
        let choice = request.field("Trusted").unwrap_or_default();
        if !TRUSTED.iter().any(|(value, _)| *value == choice) {
            return see_other(&format!("/console/iam/roles?region={region}"));
        }
        pairs.push(("AssumeRolePolicyDocument".into(), trust_policy(&choice, &signed.session.owner.account)));
    }
    let params = QueryParams::from_pairs(pairs);
    let ec2 = request.field("Trusted").as_deref() == Some("ec2.amazonaws.com");
    let done = match action.as_str() {
        "CreateRole" if ec2 => create_ec2_role(request, &signed, &name, params).await,
        "CreateRole" => call_iam::<CreateRole>(request, &signed, params).await.map(drop),
        "DeleteRole" => delete_role(request, &signed, &name, params).await,
        "UpdateAssumeRolePolicy" => call_iam::<UpdateAssumeRolePolicy>(request, &signed, params).await,
        "AttachRolePolicy" => call_iam::<Attach<ToRole>>(request, &signed, params).await,
        "DetachRolePolicy" => call_iam::<Detach<ToRole>>(request, &signed, params).await,
        "PutRolePolicy" => call_iam::<PutRolePolicy>(request, &signed, params).await,
        _ => call_iam::<DeleteRolePolicy>(request, &signed, params).await,
    };
    match (done, action.as_str()) {
        (Ok(()), "CreateRole") => see_other(&role_link(&name, &region)),
        (Ok(()), "DeleteRole") => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("region", &region)
                .append_pair("deleted", &name)
                .finish();
            see_other(&format!("/console/iam/roles?{query}"))
        }
        (Ok(()), _) => see_other(&format!("{}&done={action}", role_link(&name, &region))),
        (Err(e), "CreateRole") => render(e.status, &roles_page(request, &signed, Some(e.into())).await),
        (Err(e), _) => {
            let problem: Problem = e.into();
            let status = if problem.denied { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            render(status, &role_page(request, &signed, &name, Some(problem)).await)
        }
    }
}

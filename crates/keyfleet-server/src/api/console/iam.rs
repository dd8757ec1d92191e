//! IAM → Users: the users, and a user's access keys (a new secret shown once), console
//! password and inline policies (edited as JSON, with IAM's `MalformedPolicyDocument`).
//!
//! Every change on a user's page is one form whose `Action` field names the IAM action it
//! becomes, with the action's own parameters beside it.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use zeroize::Zeroizing;

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_iam, render, see_other};
use crate::api::iam::{
    CreateAccessKey, CreateLoginProfile, CreateUser, DeleteAccessKey, DeleteLoginProfile, DeleteUser, DeleteUserPolicy,
    GetLoginProfile, GetUser, GetUserPolicy, ListAccessKeys, ListUserPolicies, ListUsers, PutUserPolicy,
    UpdateLoginProfile,
};
use crate::api::protocol::ec2_query::{QueryParams, timestamp};
use crate::store::WireName;

/// A user in the list.
pub struct UserRow {
    pub name: String,
    pub arn: String,
    pub created: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "console/iam_users.html")]
pub struct Users {
    pub shell: Shell,
    pub rows: Result<Vec<UserRow>, Problem>,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
}

fn user_link(name: &str, region: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("region", region)
        .append_pair("UserName", name)
        .finish();
    format!("/console/iam/users/view?{query}")
}

async fn users_page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Users {
    let region = request.region();
    let account = &signed.session.owner.account;
    let rows = call_iam::<ListUsers>(request, signed, QueryParams::default())
        .await
        .map(|users| {
            users
                .into_iter()
                .map(|u| UserRow {
                    arn: format!("arn:aws:iam::{account}:user/{}", u.name),
                    created: timestamp(u.created_ms),
                    link: user_link(&u.name, &region),
                    name: u.name,
                })
                .collect()
        })
        .map_err(Problem::from);
    let iam_name =
        |name: &String| name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    let notice = request.query("deleted").filter(iam_name).map(|name| format!("Deleted user {name}."));
    Users { shell: Shell::new(request, signed, "users"), rows, problem, notice }
}

/// `GET /console/iam/users`.
pub async fn users(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &users_page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// An access key on the user's page.
pub struct KeyRow {
    pub id: String,
    pub status: &'static str,
    pub created: String,
}

/// The user's page.
pub struct UserView {
    pub name: String,
    pub arn: String,
    pub created: String,
    pub keys: Result<Vec<KeyRow>, Problem>,
    /// `Some(reset required)` when the user has a console password.
    pub password: Result<Option<bool>, Problem>,
    pub policies: Result<Vec<(String, String)>, Problem>,
}

#[derive(Template)]
#[template(path = "console/iam_user.html")]
pub struct UserPage {
    pub shell: Shell,
    pub user: Result<UserView, Problem>,
    pub name: String,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
    /// A key just created: its id and secret, shown this once (the answer to a POST).
    pub new_key: Option<(String, Zeroizing<String>)>,
    /// The policy being edited when a PutUserPolicy was refused: its name and text.
    pub draft: Option<(String, String)>,
}

async fn load_user(request: &ConsoleRequest<'_>, signed: &Signed, name: &str) -> Result<UserView, Problem> {
    let by_name = || QueryParams::from_pairs([("UserName", name)]);
    let user = call_iam::<GetUser>(request, signed, by_name()).await.map_err(Problem::from)?;
    let keys = call_iam::<ListAccessKeys>(request, signed, by_name())
        .await
        .map(|(_, keys)| {
            keys.into_iter()
                .map(|k| KeyRow { id: k.id, status: k.status.as_str(), created: timestamp(k.created_ms) })
                .collect()
        })
        .map_err(Problem::from);
    let password = match call_iam::<GetLoginProfile>(request, signed, by_name()).await {
        Ok(profile) => Ok(Some(profile.reset_required)),
        Err(e) if e.code == "NoSuchEntity" => Ok(None),
        Err(e) => Err(e.into()),
    };
    let policies = match call_iam::<ListUserPolicies>(request, signed, by_name()).await {
        Ok(names) => {
            let mut documents = Vec::new();
            for policy in names {
                let params = QueryParams::from_pairs([("UserName", name), ("PolicyName", policy.as_str())]);
                match call_iam::<GetUserPolicy>(request, signed, params).await {
                    Ok((_, document)) => documents.push((policy, pretty(&document))),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(documents)
        }
        Err(e) => Err(e.into()),
    };
    let arn = format!("arn:aws:iam::{}:user/{}", signed.session.owner.account, user.name);
    Ok(UserView { name: user.name, arn, created: timestamp(user.created_ms), keys, password, policies })
}

/// A policy document indented for a text area (as given when it is not JSON).
pub(super) fn pretty(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

async fn user_page(request: &ConsoleRequest<'_>, signed: &Signed, name: &str) -> UserPage {
    UserPage {
        shell: Shell::new(request, signed, "users"),
        user: load_user(request, signed, name).await,
        name: name.to_owned(),
        problem: None,
        notice: request.query("done").filter(|a| FORM_ACTIONS.contains(&a.as_str())).map(|a| format!("{a}: done.")),
        new_key: None,
        draft: None,
    }
}

/// `GET /console/iam/users/view?UserName=…`.
pub async fn user(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let name = request.query("UserName").unwrap_or_default();
    render(StatusCode::OK, &user_page(request, &signed, &name).await)
}

/// The IAM actions the users pages' forms may name.
const FORM_ACTIONS: [&str; 9] = [
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "PutUserPolicy",
    "DeleteUserPolicy",
];

/// `POST /console/iam/users`: the form's `Action` with its parameters.
pub async fn act(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let action = request.field("Action").unwrap_or_default();
    let name = request.field("UserName").unwrap_or_default();
    let region = request.region();
    if !FORM_ACTIONS.contains(&action.as_str()) {
        return see_other(&format!("/console/iam/users?region={region}"));
    }
    let params = QueryParams::from_pairs(
        request
            .form()
            .iter()
            .filter(|(k, v)| !matches!(k.as_str(), "csrf" | "region" | "Action") && !v.is_empty())
            .cloned(),
    );
    let done = match action.as_str() {
        "CreateUser" => call_iam::<CreateUser>(request, &signed, params).await.map(drop),
        "DeleteUser" => call_iam::<DeleteUser>(request, &signed, params).await,
        "DeleteAccessKey" => call_iam::<DeleteAccessKey>(request, &signed, params).await,
        "CreateLoginProfile" => call_iam::<CreateLoginProfile>(request, &signed, params).await.map(drop),
        "UpdateLoginProfile" => call_iam::<UpdateLoginProfile>(request, &signed, params).await,
        "DeleteLoginProfile" => call_iam::<DeleteLoginProfile>(request, &signed, params).await,
        "PutUserPolicy" => call_iam::<PutUserPolicy>(request, &signed, params).await,
        "DeleteUserPolicy" => call_iam::<DeleteUserPolicy>(request, &signed, params).await,
        _ => {
            // CreateAccessKey: the secret is shown on this answer only.
            return match call_iam::<CreateAccessKey>(request, &signed, params).await {
                Ok(created) => {
                    let mut page = user_page(request, &signed, &name).await;
                    page.new_key = Some((created.row.id, created.secret));
                    render(StatusCode::OK, &page)
                }
                Err(e) => refused(request, &signed, &name, e.into()).await,
            };
        }
    };
    match (done, action.as_str()) {
        (Ok(()), "CreateUser") => see_other(&user_link(&name, &region)),
        (Ok(()), "DeleteUser") => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("region", &region)
                .append_pair("deleted", &name)
                .finish();
            see_other(&format!("/console/iam/users?{query}"))
        }
        (Ok(()), _) => see_other(&format!("{}&done={action}", user_link(&name, &region))),
        (Err(e), "CreateUser") => render(e.status, &users_page(request, &signed, Some(e.into())).await),
        (Err(e), "PutUserPolicy") => {
            let draft =
                (request.field("PolicyName").unwrap_or_default(), request.field("PolicyDocument").unwrap_or_default());
            let mut page = user_page(request, &signed, &name).await;
            page.problem = Some(e.into());
            page.draft = Some(draft);
            render(StatusCode::BAD_REQUEST, &page)
        }
        (Err(e), _) => refused(request, &signed, &name, e.into()).await,
    }
}

async fn refused(request: &ConsoleRequest<'_>, signed: &Signed, name: &str, problem: Problem) -> Response {
    let status = if problem.denied { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
    let mut page = user_page(request, signed, name).await;
    page.problem = Some(problem);
    render(status, &page)
}

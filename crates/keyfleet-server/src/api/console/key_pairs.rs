//! EC2 → Key Pairs: the table (filtered, sorted and paged on the server, so that 5000 key
//! pairs stay usable), create with a one-time download, import, and delete with confirmation.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_keys::KeyFormat;

use super::pages::{Problem, Shell, shell_word};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_ec2, render, see_other};
use crate::api::ZeroizingBody;
use crate::api::ec2::key_pairs::{CreateKeyPair, DeleteKeyPair, DescribeKeyPairs, ImportKeyPair};
use crate::api::protocol::ec2_query::{QueryParams, timestamp};
use crate::service::key_pairs::{CreatedKeyPair, KeyPairInfo};

/// Rows per page.
const PAGE_ROWS: usize = 50;
/// The most tag rows a create or import form sends.
const FORM_TAGS: usize = 5;

/// A row of the table.
pub struct Row {
    pub name: String,
    pub key_type: &'static str,
    pub fingerprint: String,
    pub id: String,
    pub created: String,
    pub tags: String,
}

impl From<KeyPairInfo> for Row {
    fn from(info: KeyPairInfo) -> Self {
        let tags = info.tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect::<Vec<_>>().join(", ");
        Row {
            name: info.name,
            key_type: info.key_type.as_str(),
            fingerprint: info.fingerprint,
            id: info.id,
            created: timestamp(info.created_ms),
            tags,
        }
    }
}

/// The table's sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Type,
    Id,
    Created,
}

impl SortBy {
    const ALL: [(SortBy, &'static str); 4] =
        [(SortBy::Name, "name"), (SortBy::Type, "type"), (SortBy::Id, "id"), (SortBy::Created, "created")];

    fn parse(text: &str) -> SortBy {
        SortBy::ALL.iter().find(|(_, name)| *name == text).map_or(SortBy::Name, |(sort, _)| *sort)
    }

    pub fn name(self) -> &'static str {
        SortBy::ALL.iter().find(|(sort, _)| *sort == self).map_or("name", |(_, name)| name)
    }

    fn key(self, row: &KeyPairInfo) -> (String, i64) {
        match self {
            SortBy::Name => (row.name.to_lowercase(), 0),
            SortBy::Type => (row.key_type.as_str().to_owned(), 0),
            SortBy::Id => (row.id.clone(), 0),
            SortBy::Created => (String::new(), row.created_ms),
        }
    }
}

#[derive(Template)]
#[template(path = "console/key_pairs.html")]
pub struct List {
    pub shell: Shell,
    pub rows: Result<Vec<Row>, Problem>,
    pub filter: String,
    pub sort: SortBy,
    pub descending: bool,
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    /// Just created: its name and file, for the `chmod` and `ssh` lines.
    pub created: Option<(String, String)>,
    /// What the last change did.
    pub notice: Option<String>,
}

impl List {
    /// The table's URL with other settings.
    fn link(&self, sort: SortBy, descending: bool, page: usize) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("region", &self.shell.region)
            .append_pair("filter", &self.filter)
            .append_pair("sort", sort.name())
            .append_pair("order", if descending { "desc" } else { "asc" })
            .append_pair("page", &page.to_string())
            .finish();
        format!("/console/ec2/key-pairs?{query}")
    }

    /// The previous page's link.
    pub fn prev_link(&self) -> String {
        self.link(self.sort, self.descending, self.page.saturating_sub(1).max(1))
    }

    /// The next page's link.
    pub fn next_link(&self) -> String {
        self.link(self.sort, self.descending, self.page + 1)
    }

    /// A column header's link: sorts by it, or flips the order if it is the sort already.
    pub fn sort_link(&self, column: &str) -> String {
        let sort = SortBy::parse(column);
        self.link(sort, sort == self.sort && !self.descending, 1)
    }

    pub fn sort_mark(&self, column: &str) -> &'static str {
        match (SortBy::parse(column) == self.sort, self.descending) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        }
    }
}

/// `GET /console/ec2/key-pairs`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let filter = request.query("filter").unwrap_or_default();
    let sort = SortBy::parse(&request.query("sort").unwrap_or_default());
    let descending = request.query("order").as_deref() == Some("desc");
    let asked_page = request.query("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let described = call_ec2::<DescribeKeyPairs>(request, &signed, QueryParams::default()).await;
    let mut list = List {
        shell: Shell::new(request, &signed, "key-pairs"),
        rows: Ok(Vec::new()),
        filter,
        sort,
        descending,
        page: 1,
        pages: 1,
        total: 0,
        created: None,
        notice: request
            .query("deleted")
            .and_then(|n| n.parse::<usize>().ok())
            .map(|n| format!("Deleted {n} key pair(s).")),
    };
    match described {
        Ok(pairs) => {
            // The link names the key pair just made; only one that exists is spoken of.
            let created = request.query("created").filter(|name| pairs.iter().any(|p| &p.name == name));
            list.created = created.map(|name| {
                let format = if request.query("format").as_deref() == Some("ppk") { "ppk" } else { "pem" };
                (name.clone(), shell_word(&format!("{name}.{format}")))
            });
            let mut matching: Vec<KeyPairInfo> = pairs.into_iter().filter(|p| matches(p, &list.filter)).collect();
            matching.sort_by_cached_key(|p| sort.key(p));
            if descending {
                matching.reverse();
            }
            list.total = matching.len();
            list.pages = matching.len().div_ceil(PAGE_ROWS).max(1);
            list.page = asked_page.min(list.pages);
            let start = (list.page - 1) * PAGE_ROWS;
            list.rows = Ok(matching.into_iter().skip(start).take(PAGE_ROWS).map(Row::from).collect());
        }
        Err(e) => list.rows = Err(e.into()),
    }
    render(StatusCode::OK, &list)
}

/// The text filter: a case-insensitive match on any column or tag.
fn matches(pair: &KeyPairInfo, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let needle = filter.to_lowercase();
    let columns = [pair.name.as_str(), pair.id.as_str(), pair.fingerprint.as_str(), pair.key_type.as_str()];
    columns.iter().any(|c| c.to_lowercase().contains(&needle))
        || pair.tags.iter().any(|t| t.key.to_lowercase().contains(&needle) || t.value.to_lowercase().contains(&needle))
}

#[derive(Template)]
#[template(path = "console/key_pair_create.html")]
pub struct CreateForm {
    pub shell: Shell,
    pub problem: Option<Problem>,
    pub name: String,
    pub tag_rows: Vec<usize>,
}

#[derive(Template)]
#[template(path = "console/key_pair_import.html")]
pub struct ImportForm {
    pub shell: Shell,
    pub problem: Option<Problem>,
    pub name: String,
    pub material: String,
    pub tag_rows: Vec<usize>,
}

/// `GET /console/ec2/key-pairs/create`.
pub async fn create_form(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &create_page(request, &signed, None)),
        Err(response) => response,
    }
}

fn create_page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> CreateForm {
    CreateForm {
        shell: Shell::new(request, signed, "key-pairs"),
        problem,
        name: request.field("KeyName").unwrap_or_default(),
        tag_rows: (1..=FORM_TAGS).collect(),
    }
}

/// The API parameters a create or import form carries: the form's own fields (the CSRF
/// token, the region) left out, and empty tag rows dropped.
fn api_params(request: &ConsoleRequest<'_>) -> QueryParams {
    const TAG: &str = "TagSpecification.1.Tag.";
    let form = request.form();
    let row_of = |key: &str| key.strip_prefix(TAG).and_then(|rest| rest.split_once('.')).map(|(row, _)| row.to_owned());
    // The rows whose key is filled in, found in one pass.
    let filled: std::collections::HashSet<String> =
        form.iter().filter(|(k, v)| k.ends_with(".Key") && !v.is_empty()).filter_map(|(k, _)| row_of(k)).collect();
    QueryParams::from_pairs(
        form.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "region"))
            .filter(|(k, _)| row_of(k).is_none_or(|row| filled.contains(&row)))
            .filter(|(k, _)| !filled.is_empty() || k != "TagSpecification.1.ResourceType")
            .cloned(),
    )
}

/// `POST /console/ec2/key-pairs/create`: the answer is the private key file itself, sent
/// once and never stored or cached; the page's script then moves on to the table.
pub async fn create(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let params = api_params(request);
    let format = if params.get("KeyFormat") == Some(KeyFormat::Ppk.as_str()) { "ppk" } else { "pem" };
    match call_ec2::<CreateKeyPair>(request, &signed, params).await {
        Ok(created) => {
            let next = form_urlencoded::Serializer::new(String::new())
                .append_pair("region", &request.region())
                .append_pair("created", &created.info.name)
                .append_pair("format", format)
                .finish();
            private_key_download(created, format, &format!("/console/ec2/key-pairs?{next}"))
        }
        Err(e) => render(e.status, &create_page(request, &signed, Some(e.into()))),
    }
}

/// A new private key as a file download (`NAME.pem` or `NAME.ppk`): never cached, its bytes
/// zeroized once sent, and `X-Keyfleet-Next` naming the page the script goes on to.
pub fn private_key_download(created: CreatedKeyPair, format: &str, next: &str) -> Response {
    let file = format!("{}.{format}", created.info.name).replace(['"', '\\'], "");
    let body = Body::from(Bytes::from_owner(ZeroizingBody(created.material)));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(next) {
        headers.insert("x-keyfleet-next", value);
    }
    response
}

/// `GET /console/ec2/key-pairs/import`.
pub async fn import_form(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &import_page(request, &signed, None)),
        Err(response) => response,
    }
}

fn import_page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> ImportForm {
    ImportForm {
        shell: Shell::new(request, signed, "key-pairs"),
        problem,
        name: request.field("KeyName").unwrap_or_default(),
        material: request.field("PublicKeyMaterial").unwrap_or_default(),
        tag_rows: (1..=FORM_TAGS).collect(),
    }
}

/// `POST /console/ec2/key-pairs/import`. The form carries the public key as text (pasted,
/// or read from the chosen `.pub` file); the API takes it base64-encoded, as the SDKs send it.
pub async fn import(request: &ConsoleRequest<'_>) -> Response {
    use base64::Engine as _;
    let signed = or_answer!(session::require_change(request).await);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (key, value) in api_params(request).pairs() {
        let value = match key.as_str() {
            "PublicKeyMaterial" => base64::engine::general_purpose::STANDARD.encode(value.trim().as_bytes()),
            _ => value.clone(),
        };
        pairs.push((key.clone(), value));
    }
    match call_ec2::<ImportKeyPair>(request, &signed, QueryParams::from_pairs(pairs)).await {
        Ok(info) => {
            let next = form_urlencoded::Serializer::new(String::new())
                .append_pair("region", &request.region())
                .append_pair("filter", &info.name)
                .finish();
            see_other(&format!("/console/ec2/key-pairs?{next}"))
        }
        Err(e) => render(e.status, &import_page(request, &signed, Some(e.into()))),
    }
}

#[derive(Template)]
#[template(path = "console/key_pair_delete.html")]
pub struct DeleteConfirm {
    pub shell: Shell,
    pub names: Vec<String>,
    pub problem: Option<Problem>,
}

/// `POST /console/ec2/key-pairs/delete`: first the confirmation (type "delete"), then one
/// DeleteKeyPair per chosen key pair.
pub async fn delete(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let names = request.all("KeyName");
    let region = request.region();
    if names.is_empty() {
        return see_other(&format!("/console/ec2/key-pairs?region={region}"));
    }
    if request.field("confirm").as_deref() != Some("delete") {
        let page = DeleteConfirm { shell: Shell::new(request, &signed, "key-pairs"), names, problem: None };
        return render(StatusCode::OK, &page);
    }
    for (done, name) in names.iter().enumerate() {
        let params = QueryParams::from_pairs([("KeyName", name.as_str())]);
        if let Err(e) = call_ec2::<DeleteKeyPair>(request, &signed, params).await {
            let left = names.get(done..).unwrap_or_default().to_vec();
            let page = DeleteConfirm {
                shell: Shell::new(request, &signed, "key-pairs"),
                names: left,
                problem: Some(e.into()),
            };
            return render(e_status(&page), &page);
        }
    }
    see_other(&format!("/console/ec2/key-pairs?region={region}&deleted={}", names.len()))
}

fn e_status(page: &DeleteConfirm) -> StatusCode {
    match &page.problem {
        Some(p) if p.denied => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A key pair on the tags page: its id, name and tags.
pub struct Tagged {
    pub id: String,
    pub name: String,
    pub tags: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/key_pair_tags.html")]
pub struct TagsPage {
    pub shell: Shell,
    pub pairs: Result<Vec<Tagged>, Problem>,
    pub problem: Option<Problem>,
    /// Every tag key on the chosen pairs, for removal.
    pub keys: Vec<String>,
    pub tag_rows: Vec<usize>,
}

/// `POST /console/ec2/key-pairs/tags`: the chosen key pairs' tags, then (with `apply`) one
/// CreateTags for the rows filled in and one DeleteTags for the keys ticked for removal.
pub async fn tags(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let form = request.form();
    let names: Vec<&str> =
        form.iter().filter(|(k, v)| k == "KeyName" && !v.is_empty()).map(|(_, v)| v.as_str()).collect();
    let region = request.region();
    if names.is_empty() {
        return see_other(&format!("/console/ec2/key-pairs?region={region}"));
    }
    let lookup =
        QueryParams::from_pairs(names.iter().enumerate().map(|(i, n)| (format!("KeyName.{}", i + 1), n.to_string())));
    let pairs = match call_ec2::<DescribeKeyPairs>(request, &signed, lookup).await {
        Ok(pairs) => pairs,
        Err(e) => return render(e.status, &tags_page(request, &signed, Err(e.into()), None)),
    };
    if request.field("apply").as_deref() == Some("yes") {
        if let Err(e) = apply_tags(request, &signed, &pairs).await {
            return render(e.status, &tags_page(request, &signed, Ok(pairs), Some(e.into())));
        }
        let filter = if names.len() == 1 { names.first().copied().unwrap_or_default() } else { "" };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("region", &region)
            .append_pair("filter", filter)
            .finish();
        return see_other(&format!("/console/ec2/key-pairs?{query}"));
    }
    render(StatusCode::OK, &tags_page(request, &signed, Ok(pairs), None))
}

fn tags_page(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    pairs: Result<Vec<KeyPairInfo>, Problem>,
    problem: Option<Problem>,
) -> TagsPage {
    let pairs = pairs.map(|pairs| {
        pairs
            .into_iter()
            .map(|p| Tagged { id: p.id, name: p.name, tags: p.tags.into_iter().map(|t| (t.key, t.value)).collect() })
            .collect::<Vec<_>>()
    });
    let mut keys: Vec<String> = pairs.iter().flatten().flat_map(|p| p.tags.iter().map(|(k, _)| k.clone())).collect();
    keys.sort();
    keys.dedup();
    TagsPage {
        shell: Shell::new(request, signed, "key-pairs"),
        pairs,
        problem,
        keys,
        tag_rows: (1..=FORM_TAGS).collect(),
    }
}

async fn apply_tags(
    request: &ConsoleRequest<'_>,
    signed: &Signed,
    pairs: &[KeyPairInfo],
) -> Result<(), crate::api::error::ApiError> {
    use crate::api::ec2::tags::{CreateTags, DeleteTags};
    let form = request.form();
    let resources = || pairs.iter().enumerate().map(|(i, p)| (format!("ResourceId.{}", i + 1), p.id.clone()));
    let mut added = Vec::new();
    for row in 1..=FORM_TAGS {
        let get = |field: &str| form.iter().find(|(k, _)| k == &format!("Tag.{row}.{field}")).map(|(_, v)| v.clone());
        if let Some(key) = get("Key").filter(|k| !k.is_empty()) {
            let n = added.len() / 2 + 1;
            added.push((format!("Tag.{n}.Key"), key));
            added.push((format!("Tag.{n}.Value"), get("Value").unwrap_or_default()));
        }
    }
    if !added.is_empty() {
        call_ec2::<CreateTags>(request, signed, QueryParams::from_pairs(resources().chain(added))).await?;
    }
    let removed: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| k == "RemoveTag")
        .enumerate()
        .map(|(i, (_, key))| (format!("Tag.{}.Key", i + 1), key.clone()))
        .collect();
    if !removed.is_empty() {
        call_ec2::<DeleteTags>(request, signed, QueryParams::from_pairs(resources().chain(removed))).await?;
    }
    Ok(())
}

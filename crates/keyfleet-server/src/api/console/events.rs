//! CloudTrail → Event history: LookupEvents with one lookup attribute and a time range, as
//! AWS's console offers it, and each event's JSON record. SSH logins are events too.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::pages::{Problem, Shell};
use super::{ConsoleRequest, call_json, render, session};
use crate::api::authorize::Service;
use crate::api::cloudtrail::LookupEvents;
use crate::common::time::{iso8601, minutes, now_ms, parse_minutes};
use crate::store::AuditRow;

/// The lookup attributes the filter offers: the API's key and the console's label.
pub const ATTRIBUTES: [(&str, &str); 8] = [
    ("EventName", "Event name"),
    ("Username", "User name"),
    ("ResourceName", "Resource name"),
    ("ResourceType", "Resource type"),
    ("EventSource", "Event source"),
    ("EventId", "Event ID"),
    ("AccessKeyId", "AWS access key"),
    ("ReadOnly", "Read-only"),
];

/// One row of the history.
pub struct Row {
    pub event_id: String,
    pub time: String,
    pub name: String,
    pub user: String,
    pub source: String,
    pub resources: String,
    pub error: String,
}

impl From<AuditRow> for Row {
    fn from(row: AuditRow) -> Self {
        let record: Value = serde_json::from_str(&row.record).unwrap_or(Value::Null);
        let resources =
            row.resources.iter().map(|(kind, name)| format!("{kind} {name}")).collect::<Vec<_>>().join(", ");
        Row {
            event_id: row.event_id,
            time: iso8601(row.time_ms),
            name: row.event_name,
            user: row.username,
            source: row.event_source,
            resources,
            error: record.get("errorCode").and_then(Value::as_str).unwrap_or_default().to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/events.html")]
pub struct History {
    pub shell: Shell,
    pub rows: Result<Vec<Row>, Problem>,
    pub attributes: Vec<(&'static str, &'static str)>,
    pub key: String,
    pub value: String,
    pub start: String,
    pub end: String,
    pub next: Option<String>,
}

impl History {
    pub fn is_key(&self, key: &str) -> bool {
        self.key == key
    }

    /// The next page's link: the same filter, from the token.
    pub fn next_link(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("region", &self.shell.region)
            .append_pair("AttributeKey", &self.key)
            .append_pair("AttributeValue", &self.value)
            .append_pair("StartTime", &self.start)
            .append_pair("EndTime", &self.end);
        if let Some(token) = &self.next {
            query.append_pair("NextToken", token);
        }
        format!("/console/cloudtrail/events?{}", query.finish())
    }
}

/// `GET /console/cloudtrail/events`.
pub async fn history(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require(request).await);
    let key = request.query("AttributeKey").filter(|k| ATTRIBUTES.iter().any(|(a, _)| a == k)).unwrap_or_default();
    let value = request.query("AttributeValue").unwrap_or_default();
    let now = now_ms();
    let start =
        request.query("StartTime").filter(|t| parse_minutes(t).is_some()).unwrap_or_else(|| minutes(now - DAY_MS));
    // The end is inclusive of its minute.
    let end = request.query("EndTime").filter(|t| parse_minutes(t).is_some()).unwrap_or_else(|| minutes(now));
    let mut input = serde_json::Map::new();
    input.insert("StartTime".into(), json!(parse_minutes(&start).unwrap_or(now - DAY_MS) as f64 / 1000.0));
    input.insert("EndTime".into(), json!((parse_minutes(&end).unwrap_or(now) + 59_999) as f64 / 1000.0));
    input.insert("MaxResults".into(), json!(50));
    if !key.is_empty() && !value.is_empty() {
        input.insert("LookupAttributes".into(), json!([{"AttributeKey": key, "AttributeValue": value}]));
    }
    if let Some(token) = request.query("NextToken") {
        input.insert("NextToken".into(), json!(token));
    }
    let input = Value::Object(input);
    let looked_up = call_json::<LookupEvents>(request, &signed, Service::CloudTrail, input).await;
    let (rows, next) = match looked_up {
        Ok((rows, next)) => (Ok(rows.into_iter().map(Row::from).collect()), next),
        Err(e) => (Err(e.into()), None),
    };
    let page = History {
        shell: Shell::new(request, &signed, "events"),
        rows,
        attributes: ATTRIBUTES.to_vec(),
        key,
        value,
        start,
        end,
        next,
    };
    render(StatusCode::OK, &page)
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Template)]
#[template(path = "console/event.html")]
pub struct Event {
    pub shell: Shell,
    pub record: Result<String, Problem>,
    pub event_id: String,
}

/// `GET /console/cloudtrail/events/ID`: the event's CloudTrail record.
pub async fn event(request: &ConsoleRequest<'_>, event_id: &str) -> Response {
    let signed = or_answer!(session::require(request).await);
    // Event history covers the last 90 days, as CloudTrail's does.
    let input = json!({
        "LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": event_id}],
        "StartTime": (now_ms() - 90 * DAY_MS) as f64 / 1000.0,
    });
    let record = match call_json::<LookupEvents>(request, &signed, Service::CloudTrail, input).await {
        Ok((rows, _)) => rows.into_iter().next().map(|row| pretty(&row.record)).ok_or_else(|| Problem {
            code: "ResourceNotFound".into(),
            message: format!("No event {event_id} in this region in the last 90 days."),
            denied: false,
        }),
        Err(e) => Err(e.into()),
    };
    render(
        StatusCode::OK,
        &Event { shell: Shell::new(request, &signed, "events"), record, event_id: event_id.to_owned() },
    )
}

fn pretty(record: &str) -> String {
    serde_json::from_str::<Value>(record)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| record.to_owned())
}

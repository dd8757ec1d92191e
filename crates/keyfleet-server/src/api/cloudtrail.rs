//! CloudTrail's `LookupEvents` (JSON 1.1) over the audit log, so that
//! `aws cloudtrail lookup-events` shows who did what with which key. Events are those of
//! the caller's account and region, newest first, as CloudTrail returns them.

use serde_json::{Value, json};

use super::Context;
use super::error::ApiError;
use super::operation::{Authorization, Endpoint, Json11, Operation};
use super::protocol::json11::{JsonInput, epoch_seconds};
use crate::service::now_ms;
use crate::store::{AuditAttribute, AuditQuery, AuditRow};

/// The `X-Amz-Target` service prefix.
pub const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101";
/// The same prefix as the JavaScript and Go SDKs send it.
pub const SHORT_TARGET_PREFIX: &str = "CloudTrail_20131101";

/// How far back events are kept visible by default (CloudTrail: 90 days).
const DEFAULT_LOOKBACK_MS: i64 = 90 * 24 * 3600 * 1000;

/// Every CloudTrail operation keyfleet implements.
pub static OPERATIONS: &[Endpoint<Json11>] = &[Endpoint::of::<LookupEvents>()];

pub(crate) struct LookupEvents;

impl Operation for LookupEvents {
    type Protocol = Json11;
    const NAME: &'static str = "LookupEvents";
    const ACTION: &'static str = "cloudtrail:LookupEvents";
    const READ_ONLY: bool = true;
    type Input = AuditQuery;
    /// A page of events, and the token of the next when there is one.
    type Output = (Vec<AuditRow>, Option<String>);

    fn decode(_: &Context<'_>, input: &JsonInput) -> Result<AuditQuery, ApiError> {
        lookup_query(input)
    }

    async fn authorization(_: &Context<'_>, _: &AuditQuery) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, mut query: AuditQuery) -> Result<Self::Output, ApiError> {
        let limit = query.limit as usize;
        // One more than the page, to know whether there is a next.
        query.limit += 1;
        let mut events = ctx.state.audit.lookup(&ctx.scope, &query).await?;
        let next = (events.len() > limit).then(|| {
            events.truncate(limit);
            events.last().map(|e| e.seq.to_string())
        });
        Ok((events, next.flatten()))
    }

    fn encode(_: &Context<'_>, (events, next): Self::Output) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("Events".into(), Value::Array(events.iter().map(event).collect()));
        if let Some(token) = next {
            body.insert("NextToken".into(), json!(token));
        }
        Value::Object(body)
    }
}

fn lookup_query(input: &JsonInput) -> Result<AuditQuery, ApiError> {
    let attributes = input.array("LookupAttributes").cloned().unwrap_or_default();
    if attributes.len() > 1 {
        return Err(invalid("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."));
    }
    let attribute = match attributes.first() {
        None => None,
        Some(a) => {
            let key = a["AttributeKey"].as_str().unwrap_or_default();
            let value = a["AttributeValue"].as_str().unwrap_or_default().to_owned();
            Some((attribute_key(key)?, value))
        }
    };
    let now = now_ms();
    let time = |name: &str| input.float(name).map(|seconds| (seconds * 1000.0) as i64);
    let (start_ms, end_ms) = (time("StartTime").unwrap_or(now - DEFAULT_LOOKBACK_MS), time("EndTime").unwrap_or(now));
    if start_ms > end_ms {
        return Err(invalid("InvalidTimeRangeException", "Start time must be before end time."));
    }
    let limit = match input.int("MaxResults") {
        None => 50,
        Some(n @ 1..=50) => u32::try_from(n).unwrap_or(50),
        Some(_) => return Err(invalid("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")),
    };
    let before_seq = match input.str("NextToken") {
        None => None,
        Some(token) => {
            Some(token.parse::<i64>().map_err(|_| invalid("InvalidNextTokenException", "Invalid NextToken."))?)
        }
    };
    Ok(AuditQuery { attribute, start_ms, end_ms, before_seq, limit })
}

fn attribute_key(key: &str) -> Result<AuditAttribute, ApiError> {
    Ok(match key {
        "EventId" => AuditAttribute::EventId,
        "EventName" => AuditAttribute::EventName,
        "EventSource" => AuditAttribute::EventSource,
        "Username" => AuditAttribute::Username,
        "AccessKeyId" => AuditAttribute::AccessKeyId,
        "ReadOnly" => AuditAttribute::ReadOnly,
        "ResourceName" => AuditAttribute::ResourceName,
        "ResourceType" => AuditAttribute::ResourceType,
        other => {
            return Err(invalid(
                "InvalidLookupAttributesException",
                &format!("Lookup attribute key {other} is not valid."),
            ));
        }
    })
}

fn invalid(code: &'static str, message: &str) -> ApiError {
    ApiError::custom(code, message.to_owned(), axum::http::StatusCode::BAD_REQUEST)
}

fn event(row: &AuditRow) -> Value {
    json!({
        "EventId": row.event_id,
        "EventName": row.event_name,
        "ReadOnly": row.read_only.to_string(),
        "AccessKeyId": row.access_key,
        "EventTime": epoch_seconds(row.time_ms),
        "EventSource": row.event_source,
        "Username": row.username,
        "Resources": row.resources.iter().map(|(kind, name)| json!({"ResourceType": kind, "ResourceName": name})).collect::<Vec<_>>(),
        "CloudTrailEvent": row.record,
    })
}

//! `keyfleet audit`: who did what with which key, from the server's audit log through
//! CloudTrail's LookupEvents: API calls and SSH logins, newest first.

// Only `serde_json::Value` is indexed here: a missing member or element reads as `Null`, and
// the objects written to are built here as objects, so none of it can panic.
#![allow(clippy::indexing_slicing)]

use anyhow::bail;
use clap::Args;
use comfy_table::Table;
use serde_json::{Value, json};

use super::client::{ClientArgs, Ec2Client};

const TARGET: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events about this instance (API calls and SSH logins).
    #[arg(long)]
    instance: Option<String>,
    /// Only events about this key pair.
    #[arg(long)]
    key: Option<String>,
    /// Only events by this IAM user (or `root`, or an OS user for SSH logins).
    #[arg(long)]
    user: Option<String>,
    /// How far back: e.g. 90s, 15m, 1h, 7d.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    since: u64,
    /// At most this many events.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[command(flatten)]
    client: ClientArgs,
}

/// `90s`, `15m`, `1h`, `7d` → seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 15m, 1h or 7d"))?;
    let scale = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    Ok(n * scale)
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    // LookupEvents takes one attribute; a second criterion is applied here.
    let attribute = match (&args.instance, &args.key, &args.user) {
        (Some(instance), _, _) => Some(("ResourceName", instance.as_str())),
        (None, Some(key), _) => Some(("ResourceName", key.as_str())),
        (None, None, Some(user)) => Some(("Username", user.as_str())),
        (None, None, None) => None,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let mut request = json!({"StartTime": now.saturating_sub(args.since), "EndTime": now + 1, "MaxResults": 50});
    if let Some((key, value)) = attribute {
        request["LookupAttributes"] = json!([{"AttributeKey": key, "AttributeValue": value}]);
    }
    let mut events = Vec::new();
    loop {
        let page = client.call_json("cloudtrail", TARGET, &request)?;
        let batch = page["Events"].as_array().cloned().unwrap_or_default();
        events.extend(batch.into_iter().filter(|e| matches_all(e, &args)));
        match page["NextToken"].as_str() {
            Some(token) if events.len() < args.limit => request["NextToken"] = json!(token),
            _ => break,
        }
    }
    events.truncate(args.limit);
    if events.is_empty() && attribute.is_some() {
        bail!("no events match");
    }
    print_table(&events);
    Ok(())
}

fn matches_all(event: &Value, args: &AuditArgs) -> bool {
    let names: Vec<&str> = event["Resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["ResourceName"].as_str()).collect())
        .unwrap_or_default();
    args.instance.as_deref().is_none_or(|i| names.contains(&i))
        && args.key.as_deref().is_none_or(|k| names.contains(&k))
        && args.user.as_deref().is_none_or(|u| event["Username"].as_str() == Some(u))
}

fn print_table(events: &[Value]) {
    let mut table = Table::new();
    table.set_header(["Time (UTC)", "Event", "User", "Source", "Resources", "Result", "Fingerprint"]);
    for event in events {
        let record: Value =
            event["CloudTrailEvent"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
        let resources: Vec<&str> = event["Resources"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["ResourceName"].as_str()).collect())
            .unwrap_or_default();
        let result = record["errorCode"].as_str().map_or_else(|| "OK".to_owned(), str::to_owned);
        let fingerprint = record["additionalEventData"]["fingerprint"].as_str().unwrap_or_default();
        table.add_row([
            record["eventTime"].as_str().unwrap_or_default().to_owned(),
            event["EventName"].as_str().unwrap_or_default().to_owned(),
            event["Username"].as_str().unwrap_or_default().to_owned(),
            record["sourceIPAddress"].as_str().unwrap_or_default().to_owned(),
            resources.join(" "),
            result,
            fingerprint.to_owned(),
        ]);
    }
    println!("{table}");
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}

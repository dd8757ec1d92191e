//! The timestamp forms AWS's wire formats use, from milliseconds since the epoch (UTC).

use time::OffsetDateTime;
use time::macros::format_description;

/// `2022-04-28T11:37:26.000Z`: EC2's and IAM's XML (milliseconds always `.000`).
pub fn iso8601_millis(ms: i64) -> String {
    format(ms, format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z"))
}

/// `2022-04-28T11:37:26Z`: CloudTrail's `eventTime` and instance metadata.
pub fn iso8601(ms: i64) -> String {
    format(ms, format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
}

/// `2022-04-28 11:37:26`: EC2's StateTransitionReason ("User initiated (… GMT)").
pub fn date_and_time(ms: i64) -> String {
    format(ms, format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Seconds since the epoch with milliseconds: JSON 1.1 timestamps.
pub fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Milliseconds since the epoch of `2022-04-28T11:37` (an HTML `datetime-local` field's
/// value, taken as UTC), or `None` if it is not one.
pub fn parse_minutes(text: &str) -> Option<i64> {
    let description = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let at = time::PrimitiveDateTime::parse(text, description).ok()?.assume_utc();
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `2022-04-28T11:37` (UTC): the form `parse_minutes` reads.
pub fn minutes(ms: i64) -> String {
    format(ms, format_description!("[year]-[month]-[day]T[hour]:[minute]"))
}

fn format(ms: i64, description: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(description).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{epoch_seconds, iso8601, iso8601_millis};

    #[test]
    fn minutes_read_back() {
        let ms = 1_651_145_820_000;
        assert_eq!(super::minutes(ms), "2022-04-28T11:37");
        assert_eq!(super::parse_minutes("2022-04-28T11:37"), Some(ms));
        assert_eq!(super::parse_minutes("yesterday"), None);
    }

    #[test]
    fn the_three_forms() {
        let ms = 1_651_145_846_789;
        assert_eq!(iso8601_millis(ms), "2022-04-28T11:37:26.000Z");
        assert_eq!(iso8601(ms), "2022-04-28T11:37:26Z");
        assert!((epoch_seconds(ms) - 1_651_145_846.789).abs() < 1e-6);
    }
}

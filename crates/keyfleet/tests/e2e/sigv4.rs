//! Authentication as real clients experience it: boto3's signatures (header and
//! presigned forms) are accepted, and each kind of failure gets EC2's error.

use crate::support::{TestServer, json, require};

#[test]
fn boto3_signatures_verify_and_failures_get_ec2_codes() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    let r = json(&server.boto3("boto3_cases.py", &["auth"]));
    assert_eq!(r["presigned"], serde_json::json!([200, true]), "{r}");
    let denied =
        serde_json::json!(["AuthFailure", "AWS was not able to validate the provided access credentials", 401]);
    assert_eq!(r["wrong_secret"], denied);
    assert_eq!(r["unknown_key"], denied);
    assert_eq!(r["skewed"], serde_json::json!(["RequestExpired", "Request has expired.", 400]));
}

#[test]
fn unsigned_request_is_refused_unless_dev() {
    let enforcing = TestServer::start();
    let body = "Action=DescribeKeyPairs&Version=2016-11-15";
    let response = ureq::post(format!("{}/", enforcing.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .config()
        .http_status_as_error(false)
        .build()
        .send(body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let text = response.into_body().read_to_string().unwrap();
    assert!(text.contains("<Code>MissingAuthenticationToken</Code>"), "{text}");

    let dev = TestServer::dev();
    let response = ureq::post(format!("{}/", dev.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn wrong_expired_replayed_unknown_and_deleted_keys_are_refused_and_audited() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    let r = json(&server.boto3("boto3_cases.py", &["refusals"]));
    let denied =
        serde_json::json!(["AuthFailure", "AWS was not able to validate the provided access credentials", 401]);
    assert_eq!(r["accepted"], true, "{r}");
    assert_eq!(r["wrong_secret"], denied);
    assert_eq!(r["expired"], serde_json::json!(["RequestExpired", "Request has expired.", 400]));
    assert_eq!(r["replay_statuses"], serde_json::json!([200, 401]), "{r}");
    assert!(r["replay_body"].as_str().unwrap().contains("<Code>AuthFailure</Code>"), "{r}");
    assert_eq!(r["unknown_key"], denied);
    assert_eq!(r["deleted_key"], denied);
    assert_eq!(
        r["audited"],
        serde_json::json!(["OK", "OK", "OK", "AuthFailure", "RequestExpired", "OK", "AuthFailure", "AuthFailure"]),
        "every attempt with the key is in the log, in order"
    );
    assert_eq!(r["audited_unknown"], serde_json::json!(["AuthFailure"]));
}

/// A signature covers the whole request: a captured one is refused on any other body, a
/// presigned URL carries no body and lives a week at most, `host` and `X-Amz-Target` must be
/// signed, and a verbatim replay of a change is refused.
#[test]
fn captured_signatures_cannot_carry_another_request() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    let r = json(&server.boto3("boto3_cases.py", &["forgery"]));
    assert_eq!(r["other_body"], serde_json::json!([401, "AuthFailure"]), "{r}");
    assert_eq!(r["declared_hash_ok"], serde_json::json!([200, ""]), "{r}");
    assert_eq!(r["presigned_with_body"], serde_json::json!([400, "IncompleteSignature"]), "{r}");
    assert_eq!(r["presigned_week_plus"], serde_json::json!([400, "IncompleteSignature"]), "{r}");
    assert_eq!(r["host_unsigned"], serde_json::json!([400, "IncompleteSignature"]), "{r}");
    assert_eq!(r["target_unsigned"], serde_json::json!([400, true]), "{r}");
    assert_eq!(r["change_replayed"], serde_json::json!([[200, ""], [401, "AuthFailure"]]), "{r}");
    assert_eq!(r["key_pairs"], serde_json::json!(["once"]), "nothing forged was created: {r}");
}

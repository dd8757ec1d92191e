//! boto3 scripts (`clients/boto3_cases.py`): what infrastructure code sees, including
//! exact behaviour under concurrency.

use crate::support::{Options, TestServer, json, require};

#[test]
fn boto3_sees_aws_shapes_errors_waiters_and_paging() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    assert_eq!(json(&server.boto3("boto3_cases.py", &["suite"]))["ok"], true);
}

#[test]
fn sixty_four_concurrent_creates_of_one_name_give_one_success() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    let result = json(&server.boto3("boto3_cases.py", &["same-name", "64"]));
    assert_eq!(result["outcomes"], serde_json::json!({"ok": 1, "InvalidKeyPair.Duplicate": 63}), "{result}");
    assert_eq!(result["stored"], 1);
}

#[test]
fn concurrent_creates_never_exceed_the_quota() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start_with(Options { quota: Some(10), ..Options::default() });
    let result = json(&server.boto3("boto3_cases.py", &["distinct-names", "40"]));
    assert_eq!(result["outcomes"], serde_json::json!({"ok": 10, "KeyPairLimitExceeded": 30}), "{result}");
    assert_eq!(result["stored"], 10);
}

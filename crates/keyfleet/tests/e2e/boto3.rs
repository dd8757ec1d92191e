//! boto3 scripts (`clients/boto3_cases.py`): what infrastructure code sees, including
//! exact behaviour under concurrency.

use std::io::{BufRead, BufReader};

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

#[test]
fn every_acknowledged_create_survives_kill_9_in_the_middle_of_a_burst() {
    if !require(&["boto3"]) {
        return;
    }
    let mut server = TestServer::start();
    let mut burst = server.boto3_spawn("boto3_cases.py", &["create-until-refused", "8"]);
    let mut acknowledged = BufReader::new(burst.stdout.take().expect("piped")).lines();
    let mut names: Vec<String> = acknowledged.by_ref().take(300).map(|line| line.expect("utf-8")).collect();
    assert_eq!(names.len(), 300, "the burst ended early: {}", server.log());
    // Killed while eight creates are in flight; whatever was answered must be on disk.
    server.crash_and_restart();
    names.extend(acknowledged.map(|line| line.expect("utf-8")));
    assert!(burst.wait().expect("python3").success());

    let described = server.aws_ok("ec2 describe-key-pairs --query KeyPairs[].KeyName --output text");
    let stored: std::collections::HashSet<&str> = described.split_whitespace().collect();
    let lost: Vec<&String> = names.iter().filter(|name| !stored.contains(name.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged creates lost: {lost:?}", lost.len(), names.len());
    assert!(stored.len() >= names.len());
}

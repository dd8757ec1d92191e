//! The AWS SDK for JavaScript v3 (`clients/js`, installed by `.ci/run` with `npm ci`): EC2
//! over its Query protocol (key pairs, the default VPC, a launch and its status waiter),
//! CloudTrail with the short `X-Amz-Target` prefix (`CloudTrail_20131101.LookupEvents`)
//! that it and the Go SDK send, SSM parameter tags, STS over Query, and EC2 Instance Connect's
//! SendSSHPublicKey.

use std::path::Path;
use std::process::Command;

use crate::support::{TestServer, json, require};

#[test]
fn the_javascript_sdk_creates_lists_and_looks_up() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/js");
    if !require(&["node"]) || !require_installed(&clients) {
        return;
    }
    let server = TestServer::start();
    let mut command = Command::new("node");
    command.arg(clients.join("sdk.mjs")).arg(&server.url);
    server.aws_env(&mut command);
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(r["created"], "from-js");
    assert_eq!(r["material"], true);
    assert_eq!(r["listed"], serde_json::json!(["from-js"]));
    assert_eq!(r["events"], serde_json::json!(["CreateKeyPair"]));
    assert_eq!(r["zones"], 6);
    assert_eq!(r["defaultVpc"], true);
    assert_eq!(r["instanceStatus"], "ok");
    assert_eq!(r["pushed"], true, "SendSSHPublicKey through @aws-sdk/client-ec2-instance-connect");
    assert_eq!(r["tags"], serde_json::json!([{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ops"}]));
    assert_eq!(r["account"].as_str().map(str::len), Some(12));
}

/// The npm packages of `clients/js`: skipped with a reason on a laptop, a failure under CI.
fn require_installed(clients: &Path) -> bool {
    let packages = ["client-ec2", "client-cloudtrail", "client-ssm", "client-sts", "client-ec2-instance-connect"];
    if packages.iter().all(|p| clients.join("node_modules/@aws-sdk").join(p).is_dir()) {
        return true;
    }
    let why = format!("SKIPPED: run `npm ci --prefix {}` for the JavaScript SDK tests", clients.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("{why}");
    false
}

//! `serve --tls-cert/--tls-key`: the API over HTTPS with a certificate from a private CA, as
//! the aws CLI (`--ca-bundle`), boto3 and `keyfleet` reach it, and `aws:SecureTransport` in
//! policies.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Options, TestServer, json, require, sh};

/// A CA and a server certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    sh(&format!(
        "cd '{dir}' && echo subjectAltName=IP:127.0.0.1,DNS:localhost > server.ext \
         && openssl req -x509 {ec} -keyout ca-key.pem -out ca.pem -days 2 -subj '/CN=keyfleet test CA' 2>/dev/null \
         && openssl req {ec} -keyout key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null \
         && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
              -extfile server.ext -out cert.pem 2>/dev/null",
        dir = dir.display()
    ));
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

fn tls_server(dir: &Path) -> TestServer {
    let (ca, cert, key) = certificates(dir);
    let args = vec!["--tls-cert".into(), cert.display().to_string(), "--tls-key".into(), key.display().to_string()];
    TestServer::start_with(Options { args, ca_bundle: Some(ca), ..Options::default() })
}

#[test]
fn aws_cli_boto3_and_keyfleet_reach_the_api_over_https_only() {
    if !require(&["aws", "openssl", "curl", "python3"]) {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let server = tls_server(certs.path());
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);

    server.aws_ok("ec2 create-key-pair --key-name over-tls --query KeyFingerprint");
    let listed = json(&server.aws_ok("ec2 describe-key-pairs"));
    assert_eq!(listed["KeyPairs"][0]["KeyName"], "over-tls");
    // boto3 takes the bundle from AWS_CA_BUNDLE, as the harness sets it.
    let mut boto3 = Command::new("python3");
    boto3.args(["-c", "import boto3, sys; print(boto3.client('ec2', endpoint_url=sys.argv[1]).describe_key_pairs())"]);
    server.aws_env(boto3.arg(&server.url));
    let boto3 = boto3.output().unwrap();
    assert!(String::from_utf8_lossy(&boto3.stdout).contains("over-tls"), "{}", String::from_utf8_lossy(&boto3.stderr));

    // The certificate is checked: without the CA bundle, the aws CLI refuses the server.
    let mut untrusted = Command::new("aws");
    untrusted.args(["--endpoint-url", &server.url, "ec2", "describe-key-pairs"]);
    server.aws_env(&mut untrusted);
    let untrusted = untrusted.env_remove("AWS_CA_BUNDLE").output().unwrap();
    assert!(!untrusted.status.success());
    assert!(
        String::from_utf8_lossy(&untrusted.stderr).contains("SSL"),
        "{}",
        String::from_utf8_lossy(&untrusted.stderr)
    );

    // No plain HTTP on the TLS port.
    let plain = server.url.replace("https://", "http://");
    let out = Command::new("curl").args(["-sS", "--max-time", "10", &format!("{plain}/healthz")]).output().unwrap();
    assert!(!out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("ok"), "plain HTTP answered");

    // keyfleet's own client, told the CA the way the aws CLI is.
    let home = certs.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let keyfleet = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_keyfleet"))
            .args(args)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
            .env("AWS_CONFIG_FILE", home.join("config"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .unwrap()
    };
    let data_dir = server.data_dir();
    let ca = certs.path().join("ca.pem");
    let configured = keyfleet(&[
        "configure",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--endpoint-url",
        &server.url,
        "--ca-bundle",
        ca.to_str().unwrap(),
    ]);
    assert!(configured.status.success(), "{}", String::from_utf8_lossy(&configured.stderr));
    let config = std::fs::read_to_string(home.join("config")).unwrap();
    assert!(config.contains(&format!("ca_bundle = {}", ca.display())), "{config}");
    let listed = keyfleet(&["key", "ls"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("over-tls"));
    // The system's bundle does not hold the test CA: refused, with the reason.
    let system = keyfleet(&["key", "ls", "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]);
    assert!(!system.status.success(), "a certificate from an unknown CA was accepted");
}

/// The deny that security teams write first: nothing without TLS.
const DENY_PLAIN_HTTP: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
  {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}"#;

#[test]
fn a_deny_on_aws_secure_transport_false_refuses_plain_http_and_allows_https() {
    if !require(&["aws", "openssl"]) {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let over_tls = tls_server(certs.path());
    let user = over_tls.create_user("tls-only", Some(DENY_PLAIN_HTTP));
    over_tls.aws_ok_as(&user, "ec2 describe-key-pairs");

    let plain = TestServer::start();
    let user = plain.create_user("tls-only", Some(DENY_PLAIN_HTTP));
    let message = plain.aws_err_as(&user, "ec2 describe-key-pairs", "UnauthorizedOperation");
    assert!(message.contains("with an explicit deny"), "{message}");
}

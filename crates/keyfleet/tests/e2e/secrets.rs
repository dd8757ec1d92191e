//! The private key is returned once and never stored or logged: after creating keys of
//! every type and format, no piece of them is in the data dir's files or the log.

use base64::Engine as _;

use crate::support::{TestServer, json, require};

/// The base64 body lines of a PEM, OpenSSH or PPK private key (PPK: only Private-Lines).
fn secret_lines(material: &str) -> Vec<String> {
    if material.starts_with("PuTTY-User-Key-File") {
        let mut lines = material.lines().skip_while(|l| !l.starts_with("Private-Lines:"));
        let count: usize = lines.next().unwrap().split_whitespace().last().unwrap().parse().unwrap();
        return lines.take(count).map(str::to_owned).collect();
    }
    material.lines().filter(|l| !l.starts_with("-----")).map(str::to_owned).collect()
}

#[test]
fn no_private_key_bytes_reach_the_database_or_logs() {
    if !require(&["aws"]) {
        return;
    }
    let mut server = TestServer::start();
    let mut secrets: Vec<String> = Vec::new();
    for (name, key_type, format) in
        [("a", "rsa", "pem"), ("b", "ed25519", "pem"), ("c", "rsa", "ppk"), ("d", "ed25519", "ppk")]
    {
        let created = json(&server.aws_ok(&format!(
            "ec2 create-key-pair --key-name {} --key-type {} --key-format {}",
            name, key_type, format
        )));
        secrets.push(created["KeyMaterial"].as_str().unwrap().to_owned());
    }
    // Key pairs made by a stack: their private keys go to Parameter Store only, sealed.
    let template = server.dir.path().join("keys.json");
    std::fs::write(
        &template,
        r#"{"Resources": {"R": {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": "stack-rsa"}},
            "E": {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": "stack-ed", "KeyType": "ed25519"}}}}"#,
    )
    .unwrap();
    server.aws_ok(&format!(
        "cloudformation create-stack --stack-name keys --template-body file://{}",
        template.display()
    ));
    let stack = crate::cloudformation::settled(&server, "keys");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    for name in ["stack-rsa", "stack-ed"] {
        let described = json(&server.aws_ok(&format!("ec2 describe-key-pairs --key-names {name}")));
        let id = described["KeyPairs"][0]["KeyPairId"].as_str().unwrap().to_owned();
        let stored = json(&server.aws_ok(&format!("ssm get-parameter --name /ec2/keypair/{id} --with-decryption")));
        secrets.push(stored["Parameter"]["Value"].as_str().unwrap().to_owned());
    }
    server.aws_ok("ec2 describe-key-pairs --include-public-key");
    server.stop();

    let mut haystacks: Vec<(String, Vec<u8>)> = vec![("serve.log".into(), server.log().into_bytes())];
    for entry in std::fs::read_dir(server.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        haystacks.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(haystacks.iter().any(|(n, _)| n.ends_with("keyfleet.db")));
    let log = String::from_utf8_lossy(&haystacks[0].1).into_owned();
    assert!(log.contains("CreateKeyPair"), "the log records the calls");
    assert!(!log.contains("PRIVATE KEY") && !log.contains("Private-Lines"));

    for material in &secrets {
        let lines = secret_lines(material);
        let der = base64::engine::general_purpose::STANDARD.decode(lines.concat()).unwrap();
        let windows: Vec<&[u8]> = der.chunks(24).filter(|c| c.len() == 24).collect();
        for (name, bytes) in &haystacks {
            for line in lines.iter().filter(|l| l.len() >= 24) {
                assert!(!contains(bytes, line.as_bytes()), "private key text found in {name}");
            }
            for window in &windows {
                assert!(!contains(bytes, window), "private key bytes found in {name}");
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The data dir is 0700 and the database, its WAL and the audit log 0600, even when they
/// already existed with looser modes; RunInstances' UserData is hidden in audit records.
#[test]
fn files_at_rest_are_private_and_user_data_is_not_audited() {
    use std::os::unix::fs::PermissionsExt;
    if !require(&["aws"]) {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let audit_log = outer.path().join("audit.jsonl");
    std::fs::write(&audit_log, "").unwrap();
    std::fs::set_permissions(&audit_log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let options = crate::support::Options {
        data_dir: Some(data.clone()),
        args: vec!["--audit-log".into(), audit_log.display().to_string()],
        ..Default::default()
    };
    let server = TestServer::start_with(options);
    server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --user-data DB_PASSWORD=hunter2");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("keyfleet.db")), 0o600);
    assert_eq!(mode(&data.join("keyfleet.db-wal")), 0o600);
    assert_eq!(mode(&audit_log), 0o600);
    let events = json(
        &server
            .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=RunInstances"),
    );
    let event = events["Events"][0]["CloudTrailEvent"].as_str().unwrap();
    assert!(event.contains("HIDDEN_DUE_TO_SECURITY_REASONS"), "{event}");
    assert!(!event.contains("hunter2") && !event.contains("aHVudGVyMg"), "{event}");
    assert!(!std::fs::read_to_string(&audit_log).unwrap().contains("hunter2"));
}

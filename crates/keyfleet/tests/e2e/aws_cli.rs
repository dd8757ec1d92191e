//! The tutorials' commands (shared/seeds, issue 2's block) with the real aws CLI, and the
//! results checked with ssh-keygen, openssl and puttygen.

use std::os::unix::fs::PermissionsExt;

use crate::support::{TestServer, json, require, run_ok, sh};

fn write_private(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400)).unwrap();
}

/// `ssh-rsa AAAA… comment` without the comment.
fn key_part(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn public_key_of(server: &TestServer, name: &str) -> String {
    let out = server.aws_ok(&format!("ec2 describe-key-pairs --key-names {} --include-public-key", name));
    json(&out)["KeyPairs"][0]["PublicKey"].as_str().unwrap().to_owned()
}

#[test]
fn tutorial_flow_create_chmod_ssh_keygen_import_filter_delete() {
    if !require(&["aws", "ssh-keygen", "openssl"]) {
        return;
    }
    let server = TestServer::start();
    let dir = server.dir.path();
    let material = server.aws_ok("ec2 create-key-pair --key-name demo --region us-east-1 --tag-specifications ResourceType=key-pair,Tags=[{Key=project,Value=demo}] --query KeyMaterial --output text");
    let pem = dir.join("demo.pem");
    write_private(&pem, &material);
    assert!(material.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    run_ok("openssl", &["rsa", "-check", "-noout", "-in", pem.to_str().unwrap()]);

    // ssh-keygen -y gives the same public key as describe-key-pairs --include-public-key.
    let derived = run_ok("ssh-keygen", &["-y", "-f", pem.to_str().unwrap()]);
    let described = public_key_of(&server, "demo");
    assert_eq!(key_part(&derived), key_part(&described));
    assert!(described.ends_with(" demo"), "the key name is the comment: {described}");

    // The fingerprint is SHA-1 of the PKCS#8 DER, as `openssl pkcs8 | openssl sha1 -c` computes.
    let info = json(&server.aws_ok("ec2 describe-key-pairs --key-names demo"));
    let expected = sh(&format!("openssl pkcs8 -in {} -topk8 -nocrypt -outform DER | openssl sha1 -c", pem.display()));
    assert_eq!(info["KeyPairs"][0]["KeyFingerprint"].as_str().unwrap(), expected.split_whitespace().last().unwrap());
    assert_eq!(info["KeyPairs"][0]["KeyType"], "rsa");
    assert_eq!(info["KeyPairs"][0]["Tags"], serde_json::json!([{"Key": "project", "Value": "demo"}]));

    // Import a key from ssh-keygen: MD5 of the SPKI DER.
    let k = dir.join("k");
    run_ok("ssh-keygen", &["-t", "rsa", "-b", "2048", "-N", "", "-q", "-f", k.to_str().unwrap()]);
    let imported =
        json(&server.aws_ok(&format!(
            "ec2 import-key-pair --key-name imported --public-key-material fileb://{}.pub",
            k.display()
        )));
    let md5 = sh(&format!(
        "ssh-keygen -e -m PKCS8 -f {}.pub | openssl pkey -pubin -outform DER | openssl md5 -c",
        k.display()
    ));
    assert_eq!(imported["KeyFingerprint"].as_str().unwrap(), md5.split_whitespace().last().unwrap());
    assert!(imported["KeyPairId"].as_str().unwrap().starts_with("key-"));
    assert_eq!(imported["KeyPairId"].as_str().unwrap().len(), 21);

    let tagged =
        server.aws_ok("ec2 describe-key-pairs --filters Name=tag:project,Values=demo --query KeyPairs[].KeyName");
    assert_eq!(json(&tagged), serde_json::json!(["demo"]));

    let deleted = json(&server.aws_ok("ec2 delete-key-pair --key-name demo"));
    assert_eq!(deleted["Return"], true);
    assert_eq!(deleted["KeyPairId"], info["KeyPairs"][0]["KeyPairId"]);
    let again = json(&server.aws_ok("ec2 delete-key-pair --key-name demo"));
    assert_eq!(again, serde_json::json!({"Return": true}), "deleting a missing key pair succeeds without an id");
    let left = server.aws_ok("ec2 describe-key-pairs --query KeyPairs[].KeyName");
    assert_eq!(json(&left), serde_json::json!(["imported"]));
}

#[test]
fn ed25519_and_ppk_keys_check_out_with_reference_tools() {
    if !require(&["aws", "ssh-keygen", "puttygen"]) {
        return;
    }
    let server = TestServer::start();
    let dir = server.dir.path();

    let created = json(&server.aws_ok("ec2 create-key-pair --key-name ed --key-type ed25519"));
    let pem = dir.join("ed.pem");
    write_private(&pem, created["KeyMaterial"].as_str().unwrap());
    let derived = run_ok("ssh-keygen", &["-y", "-f", pem.to_str().unwrap()]);
    assert_eq!(key_part(&derived), key_part(&public_key_of(&server, "ed")));
    std::fs::write(dir.join("ed.pub"), &derived).unwrap();
    let listed = run_ok("ssh-keygen", &["-l", "-f", dir.join("ed.pub").to_str().unwrap()]);
    let sha256 = listed.split_whitespace().nth(1).unwrap().trim_start_matches("SHA256:");
    assert_eq!(created["KeyFingerprint"].as_str().unwrap(), format!("{sha256}="));

    for (name, key_type) in [("rsa-ppk", "rsa"), ("ed-ppk", "ed25519")] {
        let created = json(
            &server
                .aws_ok(&format!("ec2 create-key-pair --key-name {} --key-type {} --key-format ppk", name, key_type)),
        );
        let material = created["KeyMaterial"].as_str().unwrap();
        assert!(material.starts_with("PuTTY-User-Key-File-2: "), "{material}");
        let ppk = dir.join(format!("{name}.ppk"));
        write_private(&ppk, material);
        let converted = run_ok("puttygen", &[ppk.to_str().unwrap(), "-O", "public-openssh"]);
        assert_eq!(key_part(&converted), key_part(&public_key_of(&server, name)), "{name}");
    }

    // An imported Ed25519 key has the same fingerprint as ssh-keygen's, padded.
    let e = dir.join("e");
    run_ok("ssh-keygen", &["-t", "ed25519", "-N", "", "-q", "-f", e.to_str().unwrap()]);
    let imported = json(
        &server.aws_ok(&format!("ec2 import-key-pair --key-name e --public-key-material fileb://{}.pub", e.display())),
    );
    let listed = run_ok("ssh-keygen", &["-l", "-f", &format!("{}.pub", e.display())]);
    let sha256 = listed.split_whitespace().nth(1).unwrap().trim_start_matches("SHA256:");
    assert_eq!(imported["KeyFingerprint"].as_str().unwrap(), format!("{sha256}="));

    // The RFC 4716 form of an RSA key imports with the same fingerprint as its OpenSSH form.
    let r = dir.join("r");
    run_ok("ssh-keygen", &["-t", "rsa", "-b", "3072", "-N", "", "-q", "-f", r.to_str().unwrap()]);
    std::fs::write(dir.join("r.rfc"), run_ok("ssh-keygen", &["-e", "-f", &format!("{}.pub", r.display())])).unwrap();
    let a = json(
        &server.aws_ok(&format!("ec2 import-key-pair --key-name r1 --public-key-material fileb://{}.pub", r.display())),
    );
    let b =
        json(&server.aws_ok(&format!(
            "ec2 import-key-pair --key-name r2 --public-key-material fileb://{}/r.rfc",
            dir.display()
        )));
    assert_eq!(a["KeyFingerprint"], b["KeyFingerprint"]);
    assert_eq!(
        key_part(&public_key_of(&server, "r2")),
        key_part(&std::fs::read_to_string(format!("{}.pub", r.display())).unwrap())
    );
}

#[test]
fn errors_have_aws_codes_and_messages() {
    if !require(&["aws", "ssh-keygen"]) {
        return;
    }
    let server = TestServer::start();
    let stderr = server.aws_err("ec2 describe-key-pairs --key-names nope", "InvalidKeyPair.NotFound");
    assert!(stderr.contains("The key pair 'nope' does not exist\n"), "{stderr}");

    server.aws_ok("ec2 create-key-pair --key-name dup --key-type ed25519");
    let stderr = server.aws_err("ec2 create-key-pair --key-name dup", "InvalidKeyPair.Duplicate");
    assert!(stderr.contains("The keypair 'dup' already exists."), "{stderr}");

    let ecdsa = server.dir.path().join("ecdsa");
    run_ok("ssh-keygen", &["-t", "ecdsa", "-N", "", "-q", "-f", ecdsa.to_str().unwrap()]);
    let stderr = server.aws_err(
        &format!("ec2 import-key-pair --key-name ec --public-key-material fileb://{}.pub", ecdsa.display()),
        "InvalidKey.Format",
    );
    assert!(stderr.contains("Key is not in valid OpenSSH public key format"), "{stderr}");

    let stderr = server.aws_err("ec2 create-key-pair --key-name dry --dry-run", "DryRunOperation");
    assert!(stderr.contains("Request would have succeeded, but DryRun flag is set."));
    server.aws_err("ec2 describe-key-pairs --key-names dry", "InvalidKeyPair.NotFound");

    let long = "n".repeat(256);
    let stderr = server.aws_err(&format!("ec2 create-key-pair --key-name {}", long), "InvalidParameterValue");
    assert!(stderr.contains("Length exceeds maximum of 255"), "{stderr}");
    server.aws_ok(&format!("ec2 create-key-pair --key-name {} --key-type ed25519", "n".repeat(255)));

    let stderr = server.aws_err(
        "ec2 create-key-pair --key-name t --tag-specifications ResourceType=instance,Tags=[{Key=a,Value=b}]",
        "InvalidParameterValue",
    );
    assert!(stderr.contains("'instance' is not a valid taggable resource type for this operation."), "{stderr}");

    server.aws_err("ec2 describe-key-pairs --filters Name=owner,Values=x", "InvalidParameterValue");
    server.aws_err("ec2 create-key-pair --key-name x --key-type dsa", "InvalidParameterValue");
}

#[test]
fn regions_are_independent() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let east = json(&server.aws_ok("ec2 create-key-pair --key-name same --key-type ed25519 --region us-east-1"));
    let west = json(&server.aws_ok("ec2 create-key-pair --key-name same --key-type ed25519 --region eu-west-1"));
    assert_ne!(east["KeyPairId"], west["KeyPairId"]);
    let listed = json(&server.aws_ok("ec2 describe-key-pairs --region eu-west-1"));
    assert_eq!(listed["KeyPairs"].as_array().unwrap().len(), 1);
    assert_eq!(listed["KeyPairs"][0]["KeyPairId"], west["KeyPairId"]);
    server.aws_ok("ec2 delete-key-pair --key-name same --region eu-west-1");
    let east_list = json(&server.aws_ok("ec2 describe-key-pairs --region us-east-1 --query KeyPairs[].KeyPairId"));
    assert_eq!(east_list, serde_json::json!([east["KeyPairId"]]));
}

#[test]
fn tags_are_created_filtered_and_deleted_by_key_pair_id() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let id = json(&server.aws_ok("ec2 create-key-pair --key-name t --key-type ed25519"))["KeyPairId"]
        .as_str()
        .unwrap()
        .to_owned();
    server.aws_ok(&format!("ec2 create-tags --resources {} --tags Key=env,Value=prod Key=team,Value=", id));
    let tags = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=key-pair"));
    assert_eq!(
        tags["Tags"],
        serde_json::json!([
            {"Key": "env", "ResourceId": id, "ResourceType": "key-pair", "Value": "prod"},
            {"Key": "team", "ResourceId": id, "ResourceType": "key-pair", "Value": ""}
        ])
    );
    let by_key =
        json(&server.aws_ok("ec2 describe-key-pairs --filters Name=tag-key,Values=te* --query KeyPairs[].KeyName"));
    assert_eq!(by_key, serde_json::json!(["t"]));
    server.aws_ok(&format!("ec2 delete-tags --resources {} --tags Key=env,Value=dev", id));
    assert_eq!(
        json(&server.aws_ok("ec2 describe-tags"))["Tags"].as_array().unwrap().len(),
        2,
        "value mismatch keeps the tag"
    );
    server.aws_ok(&format!("ec2 delete-tags --resources {} --tags Key=env", id));
    assert_eq!(json(&server.aws_ok("ec2 describe-tags"))["Tags"].as_array().unwrap().len(), 1);
    server.aws_err("ec2 create-tags --resources bogus --tags Key=a,Value=b", "InvalidID");
    server.aws_err("ec2 create-tags --resources key-0123456789abcdef0 --tags Key=a,Value=b", "InvalidKeyPair.NotFound");
}

/// EC2 (through OpenSSL) writes RSA keys with p > q; PuTTY keeps its keys that way too, so a
/// key with p < q changes when PuTTY converts it, and its PKCS#8 SHA-1 no longer matches the
/// KeyFingerprint. Sixteen keys: with p < q half the time, all sixteen would pass by chance
/// once in 65,536 runs.
#[test]
fn rsa_keys_survive_a_round_trip_through_puttygen_with_their_fingerprint() {
    if !require(&["aws", "puttygen", "openssl"]) {
        return;
    }
    let server = TestServer::start();
    let dir = server.dir.path();
    for n in 0..16 {
        let created = json(&server.aws_ok(&format!("ec2 create-key-pair --key-name rsa-{n}")));
        let pem = dir.join(format!("rsa-{n}.pem"));
        write_private(&pem, created["KeyMaterial"].as_str().unwrap());
        let (ppk, back) = (dir.join(format!("rsa-{n}.ppk")), dir.join(format!("rsa-{n}-back.pem")));
        run_ok("puttygen", &[pem.to_str().unwrap(), "-O", "private", "-o", ppk.to_str().unwrap()]);
        run_ok("puttygen", &[ppk.to_str().unwrap(), "-O", "private-openssh", "-o", back.to_str().unwrap()]);
        let digest = sh(&format!(
            "openssl pkcs8 -topk8 -nocrypt -in '{}' -outform DER | openssl sha1 -c | awk '{{print $NF}}'",
            back.display()
        ));
        assert_eq!(digest.trim(), created["KeyFingerprint"], "rsa-{n} changed in PuTTY's hands");
    }
}

/// `aws ec2 describe-regions`, as inventories and `--region` pickers call it: the Regions
/// keyfleet lists, by name and by filter, and AWS's refusals.
#[test]
fn describe_regions_lists_names_and_filters() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let all = json(&server.aws_ok("ec2 describe-regions"));
    let names: Vec<&str> =
        all["Regions"].as_array().unwrap().iter().map(|r| r["RegionName"].as_str().unwrap()).collect();
    assert!(names.contains(&"us-east-1") && names.contains(&"eu-west-1"), "{names:?}");
    assert_eq!(all["Regions"][0]["OptInStatus"], "opt-in-not-required");
    let one = json(&server.aws_ok("ec2 describe-regions --region-names eu-west-1 --all-regions"));
    assert_eq!(
        one["Regions"],
        serde_json::json!([{"RegionName": "eu-west-1", "Endpoint": "ec2.eu-west-1.amazonaws.com", "OptInStatus": "opt-in-not-required"}])
    );
    let us = json(&server.aws_ok("ec2 describe-regions --filters Name=region-name,Values=us-*"));
    assert_eq!(us["Regions"].as_array().unwrap().len(), 4);
    server.aws_err("ec2 describe-regions --filters Name=zone-name,Values=a", "InvalidParameterValue");
    server.aws_err("ec2 describe-regions --region-names mars-north-1", "InvalidParameterValue");
    server.aws_err("ec2 describe-regions --dry-run", "DryRunOperation");
}

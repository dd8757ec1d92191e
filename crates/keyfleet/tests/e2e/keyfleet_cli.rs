//! `keyfleet configure` and `keyfleet key …` against a real server, with the aws CLI
//! reading the profile that `configure` wrote.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{TestServer, json, require, run_ok};

/// Runs `keyfleet` with the aws files inside `home`, and nothing else from the host.
pub(crate) fn keyfleet(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyfleet"))
        .args(args)
        .current_dir(home)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .expect("run keyfleet")
}

pub(crate) fn ok(out: Output) -> String {
    assert!(out.status.success(), "keyfleet failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn configure_then_aws_profile_and_key_commands_work() {
    if !require(&["aws", "ssh-keygen"]) {
        return;
    }
    let server = TestServer::start();
    let home = server.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let data_dir = server.data_dir();
    let admin_mode = std::fs::metadata(data_dir.join("admin-credentials")).unwrap().permissions().mode() & 0o777;
    assert_eq!(admin_mode, 0o600, "the first start saves the admin key privately");
    ok(keyfleet(&home, &["configure", "--data-dir", data_dir.to_str().unwrap(), "--endpoint-url", &server.url]));
    let credentials_mode = std::fs::metadata(home.join("credentials")).unwrap().permissions().mode() & 0o777;
    assert_eq!(credentials_mode, 0o600);

    // The aws CLI finds the endpoint, region and keys in the profile alone.
    let aws = Command::new("aws")
        .args(["--profile", "keyfleet", "ec2", "describe-key-pairs"])
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap();
    assert!(aws.status.success(), "{}", String::from_utf8_lossy(&aws.stderr));
    assert_eq!(json(&String::from_utf8_lossy(&aws.stdout))["KeyPairs"], serde_json::json!([]));

    let out = ok(keyfleet(&home, &["key", "create", "demo", "--tag", "project=demo"]));
    assert!(out.contains("demo.pem"), "{out}");
    let pem = home.join("demo.pem");
    assert_eq!(std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777, 0o400);
    run_ok("ssh-keygen", &["-y", "-f", pem.to_str().unwrap()]);

    let refused = keyfleet(&home, &["key", "create", "demo2", "-o", "demo.pem"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to overwrite"));

    let failed = keyfleet(&home, &["key", "create", "demo", "-o", "other.pem"]);
    assert!(
        String::from_utf8_lossy(&failed.stderr)
            .contains("InvalidKeyPair.Duplicate: The keypair 'demo' already exists.")
    );
    assert!(!home.join("other.pem").exists(), "a failed create leaves no file");

    run_ok("ssh-keygen", &["-t", "ed25519", "-N", "", "-q", "-f", home.join("k").to_str().unwrap()]);
    let imported = ok(keyfleet(&home, &["key", "import", "imp", "k.pub"]));

    let listed = ok(keyfleet(&home, &["key", "ls"]));
    assert!(listed.contains("demo") && listed.contains("imp") && listed.contains("project=demo"), "{listed}");
    assert!(!listed.contains("demo2"), "the refused create made no key pair");

    // Offline fingerprints match what the server computed.
    let described = json(&server.aws_ok("ec2 describe-key-pairs"));
    let fp = |name: &str| {
        described["KeyPairs"].as_array().unwrap().iter().find(|k| k["KeyName"] == name).unwrap()["KeyFingerprint"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(ok(keyfleet(&home, &["key", "fingerprint", "demo.pem"])).trim(), fp("demo"));
    assert_eq!(ok(keyfleet(&home, &["key", "fingerprint", "k.pub"])).trim(), fp("imp"));
    assert!(imported.contains(&fp("imp")));

    ok(keyfleet(&home, &["key", "rm", "demo"]));
    let imp_id = described["KeyPairs"].as_array().unwrap().iter().find(|k| k["KeyName"] == "imp").unwrap()["KeyPairId"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(keyfleet(&home, &["key", "rm", &imp_id]));
    assert_eq!(json(&server.aws_ok("ec2 describe-key-pairs"))["KeyPairs"], serde_json::json!([]));
}

#[test]
fn unreachable_server_is_a_one_line_error() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("credentials"),
        "[keyfleet]\naws_access_key_id = AKIA\naws_secret_access_key = s\n",
    )
    .unwrap();
    let out = keyfleet(home.path(), &["key", "ls", "--endpoint-url", "http://127.0.0.1:9"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("keyfleet: cannot reach http://127.0.0.1:9") && stderr.lines().count() == 1, "{stderr}");
}

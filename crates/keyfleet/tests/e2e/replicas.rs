//! Two keyfleet processes on one PostgreSQL database, as behind a load balancer: the boto3
//! key-pair suite with requests alternating between them, concurrent duplicate creates (one
//! wins), the quota held across both, and a change on one seen on the other at once.

use crate::support::{Options, TestServer, json, postgres_database, require, run_ok};

/// Two replicas on a fresh database; `None` when there is no PostgreSQL (skipped off CI).
fn pair(quota: Option<u32>) -> Option<(TestServer, TestServer)> {
    if !require(&["boto3", "aws"]) {
        return None;
    }
    let url = postgres_database()?;
    let first = TestServer::start_with(Options { database_url: Some(url), quota, ..Options::default() });
    let second = first.replica();
    Some((first, second))
}

#[test]
fn the_boto3_suite_passes_alternating_between_two_replicas() {
    let Some((a, b)) = pair(None) else { return };
    assert_eq!(json(&a.boto3_across(&[&b], "boto3_cases.py", &["suite"]))["ok"], true);
}

#[test]
fn concurrent_duplicate_creates_across_replicas_give_one_success() {
    let Some((a, b)) = pair(None) else { return };
    let result = json(&a.boto3_across(&[&b], "boto3_cases.py", &["same-name", "64"]));
    assert_eq!(result["outcomes"], serde_json::json!({"ok": 1, "InvalidKeyPair.Duplicate": 63}), "{result}");
    assert_eq!(result["stored"], 1);
}

#[test]
fn the_quota_holds_across_replicas() {
    let Some((a, b)) = pair(Some(10)) else { return };
    let result = json(&a.boto3_across(&[&b], "boto3_cases.py", &["distinct-names", "40"]));
    assert_eq!(result["outcomes"], serde_json::json!({"ok": 10, "KeyPairLimitExceeded": 30}), "{result}");
    assert_eq!(result["stored"], 10);
}

#[test]
fn a_change_on_one_replica_is_seen_on_the_other_at_once() {
    let Some((a, b)) = pair(None) else { return };
    a.aws_ok("ec2 create-key-pair --key-name shared --key-type ed25519");
    let on_b = json(&b.aws_ok("ec2 describe-key-pairs --key-names shared"));
    assert_eq!(on_b["KeyPairs"][0]["KeyName"], "shared");
    let id = on_b["KeyPairs"][0]["KeyPairId"].as_str().unwrap().to_owned();
    b.aws_ok(&format!("ec2 create-tags --resources {id} --tags Key=team,Value=blue"));
    assert_eq!(json(&a.aws_ok("ec2 describe-key-pairs --key-names shared"))["KeyPairs"][0]["Tags"][0]["Value"], "blue");
    b.aws_ok("ec2 delete-key-pair --key-name shared");
    a.aws_err("ec2 describe-key-pairs --key-names shared", "InvalidKeyPair.NotFound");

    // Users, policies, parameters and the audit log are shared too.
    let user = a
        .create_user("rita", Some(r#"{"Statement": {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}}"#));
    b.aws_ok_as(&user, "ec2 describe-key-pairs");
    b.aws_err_as(&user, "ec2 create-key-pair --key-name nope", "UnauthorizedOperation");
    a.aws_ok("ssm put-parameter --name /shared/secret --type SecureString --value s3cr3t");
    let value = json(&b.aws_ok("ssm get-parameter --name /shared/secret --with-decryption"));
    assert_eq!(value["Parameter"]["Value"], "s3cr3t", "the replicas share the master key");
    let events =
        json(&b.aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=Username,AttributeValue=rita"));
    assert_eq!(events["Events"].as_array().unwrap().len(), 2, "{events}");
    let ready = json(&ureq::get(format!("{}/readyz", b.url)).call().unwrap().into_body().read_to_string().unwrap());
    assert_eq!(ready["store"], "postgres");

    // An account made beside them (`admin account create --database-url`) works on both.
    let (_, root) = a.create_account();
    b.aws_ok_as(&root, "ec2 create-key-pair --key-name theirs --key-type ed25519");
    assert_eq!(json(&a.aws_ok_as(&root, "ec2 describe-key-pairs"))["KeyPairs"][0]["KeyName"], "theirs");
    a.aws_err("ec2 describe-key-pairs --key-names theirs", "InvalidKeyPair.NotFound");
}

#[test]
fn an_instance_is_served_by_its_owner_whichever_replica_is_asked() {
    if !require(&crate::instances::TOOLS) {
        return;
    }
    let Some((a, b)) = pair(None) else { return };
    let key = crate::instances::create_key(&a, "fleet");
    let (id, ip) = crate::instances::launch(&a, "fleet");
    assert_eq!(crate::instances::ssh_ok(&a, &key, &ip, "whoami"), "ec2-user\n");

    // B changes the state in the store; A, the owner, acts on it.
    b.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
    crate::instances::wait_for_state(&b, &id, "stopped");
    assert_eq!(crate::instances::ssh(&a, &key, &ip, "true").status.code(), Some(255), "stopped means no SSH");
    b.aws_ok(&format!("ec2 start-instances --instance-ids {id}"));
    crate::instances::wait_for_state(&a, &id, "running");
    let mut login = String::new();
    for _ in 0..50 {
        login = String::from_utf8_lossy(&crate::instances::ssh(&a, &key, &ip, "whoami").stdout).into_owned();
        if login == "ec2-user\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(login, "ec2-user\n", "served again by its owner after a start through the other replica");
    b.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}"));
    crate::instances::wait_for_state(&a, &id, "terminated");
}

/// A key pushed with Instance Connect through one replica opens the instance another
/// replica serves: the key is in the store, not in the receiving replica's memory.
#[test]
fn an_instance_connect_key_works_whichever_replica_received_it() {
    if !require(&crate::instances::TOOLS) {
        return;
    }
    let Some((a, b)) = pair(None) else { return };
    crate::instances::create_key(&a, "fleet");
    let (id, ip) = crate::instances::launch(&a, "fleet");
    let eph = a.dir.path().join("eph");
    run_ok("ssh-keygen", &["-t", "ed25519", "-f", eph.to_str().unwrap(), "-N", "", "-q"]);
    crate::instances::ssh_refused(&a, &eph, &ip);
    b.aws_ok(&format!(
        "ec2-instance-connect send-ssh-public-key --instance-id {id} --instance-os-user ec2-user --ssh-public-key file://{}.pub",
        eph.display()
    ));
    assert_eq!(crate::instances::ssh_ok(&a, &eph, &ip, "whoami"), "ec2-user\n");
    a.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}"));
}

#[test]
fn a_replica_takes_over_only_the_instances_whose_volumes_it_can_reach() {
    if !require(&crate::instances::TOOLS) {
        return;
    }
    let Some(url) = postgres_database() else { return };
    let lease = |id: &str| {
        vec!["--replica-id".to_owned(), id.to_owned(), "--instance-lease-seconds".to_owned(), "3".to_owned()]
    };
    let options = |id: &str| Options { database_url: Some(url.clone()), args: lease(id), ..Options::default() };
    let mut a = TestServer::start_with(options("a"));
    let elsewhere = a.replica_with(options("elsewhere"));
    let key = crate::instances::create_key(&a, "survivor");
    let (id, ip) = crate::instances::launch(&a, "survivor");
    assert_eq!(crate::instances::ssh_ok(&a, &key, &ip, "echo before > ~/mark; whoami"), "ec2-user\n");

    a.kill();
    // The lease runs out; the other replica has no copy of the volume and must not take over.
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(crate::instances::ssh(&a, &key, &ip, "true").status.code(), Some(255));
    assert!(elsewhere.log().contains("replica"), "the other replica is up");

    // A replica on the same data dir (shared storage) takes it over, volume and host key included.
    let heir = a.replica_with(Options { data_dir: Some(a.data_dir()), ..options("heir") });
    let mut out = String::new();
    for _ in 0..100 {
        out = String::from_utf8_lossy(&crate::instances::ssh(&a, &key, &ip, "cat ~/mark").stdout).into_owned();
        if out == "before\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(out, "before\n", "the heir serves the same volume");
    assert!(heir.log().contains("took over an instance"), "{}", heir.log());
    assert_eq!(crate::instances::describe(&elsewhere, &id)["State"]["Name"], "running");
}

/// A console session started on one replica is accepted by the other, and signing out on
/// the other ends it for both.
#[test]
fn a_console_session_is_good_on_every_replica_until_sign_out() {
    if !require(&["curl"]) {
        return;
    }
    let Some((a, b)) = pair(None) else { return };
    let admin = a.admin();
    let signed_in = run_ok(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--data-urlencode",
            &format!("AccessKeyId={}", admin.id),
            "--data-urlencode",
            &format!("SecretAccessKey={}", admin.secret),
            &format!("{}/console/signin", a.url),
        ],
    );
    let cookie = signed_in
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("a session cookie: {signed_in}"))
        .to_owned();
    let page =
        |server: &TestServer| run_ok("curl", &["-s", "-b", &cookie, &format!("{}/console/ec2/key-pairs", server.url)]);
    let on_b = page(&b);
    assert!(on_b.contains("Key pairs <span class=\"total\">(0)</span>"), "{on_b}");
    let csrf = crate::support::csrf_token(&on_b);
    run_ok("curl", &["-s", "-b", &cookie, "-d", &format!("csrf={csrf}"), &format!("{}/console/signout", b.url)]);
    for server in [&a, &b] {
        assert!(page(server).is_empty(), "signed out: the page redirects to sign-in");
    }
}

/// A stack is run by one replica at a time: when the replica running it dies in the middle,
/// the other takes it over once the lease lapses and finishes it, each resource made once.
#[test]
fn a_stack_is_finished_by_the_other_replica_when_its_runner_dies() {
    if !require(&["aws"]) {
        return;
    }
    let Some(url) = postgres_database() else { return };
    let args = |id: &str| {
        ["--replica-id", id, "--instance-lease-seconds", "3", "--stack-step-delay-ms", "1000"]
            .map(str::to_owned)
            .to_vec()
    };
    let options = |id: &str| Options { database_url: Some(url.clone()), args: args(id), ..Options::default() };
    let mut a = TestServer::start_with(options("a"));
    let b = a.replica_with(options("b"));
    let resources: Vec<String> = (0..4)
        .map(|n| format!(r#""P{n}": {{"Type": "AWS::SSM::Parameter", "Properties": {{"Name": "/relay/p{n}", "Type": "String", "Value": "{n}"}}}}"#))
        .collect();
    let path = a.dir.path().join("relay.json");
    std::fs::write(&path, format!(r#"{{"Resources": {{{}}}}}"#, resources.join(","))).unwrap();
    a.aws_ok(&format!("cloudformation create-stack --stack-name relay --template-body file://{}", path.display()));
    let completes = |server: &TestServer| {
        let got = json(&server.aws_ok("cloudformation describe-stack-events --stack-name relay"));
        got["StackEvents"].as_array().unwrap().iter().filter(|e| e["ResourceStatus"] == "CREATE_COMPLETE").count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while completes(&b) < 1 {
        assert!(std::time::Instant::now() < deadline, "the stack never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    a.kill();
    let stack = crate::cloudformation::settled(&b, "relay");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    assert_eq!(completes(&b), 5, "four resources and the stack, each once");
    let made = json(&b.aws_ok("ssm get-parameters-by-path --path /relay"));
    assert_eq!(made["Parameters"].as_array().unwrap().len(), 4);
}

//! Who may do what: two IAM users with different policies, driven by the real aws CLI. Each
//! allow and deny path of the policy evaluator shows up as EC2, SSM and IAM report it, and
//! every call lands in the audit log (LookupEvents and the JSON-lines file).

use crate::support::{Options, TestServer, json, require};

/// Alice: her own `dev-*` key pairs; any key pair tagged `team=blue` on creation; deleting
/// key pairs tagged `team=blue`; and never `dev-protected`.
const ALICE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "ec2:*KeyPair*", "Resource": "arn:aws:ec2:*:*:key-pair/dev-*"},
    {"Effect": "Allow", "Action": ["ec2:CreateKeyPair", "ec2:ImportKeyPair"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
    {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
     "Condition": {"StringEquals": {"ec2:CreateAction": ["CreateKeyPair", "ImportKeyPair"]}}},
    {"Effect": "Allow", "Action": "ec2:DeleteKeyPair", "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}},
    {"Effect": "Deny", "Action": "ec2:DeleteKeyPair", "Resource": "arn:aws:ec2:*:*:key-pair/dev-protected"}
  ]
}"#;

/// Bob: everything except IAM (NotAction), but never deleting a key pair.
const BOB: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "NotAction": ["iam:*", "cloudtrail:*"], "Resource": "*"},
    {"Effect": "Deny", "Action": "ec2:DeleteKeyPair", "Resource": "*"}
  ]
}"#;

fn key_names(server: &TestServer) -> Vec<String> {
    let out = json(&server.aws_ok("ec2 describe-key-pairs"));
    out["KeyPairs"].as_array().unwrap().iter().map(|k| k["KeyName"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn policies_allow_and_deny_as_iam_does() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let alice = server.create_user("alice", Some(ALICE));
    let bob = server.create_user("bob", Some(BOB));
    let nobody = server.create_user("nobody", None);

    // Resource patterns: her prefix only.
    server.aws_ok_as(&alice, "ec2 create-key-pair --key-name dev-alice");
    let denied = server.aws_err_as(&alice, "ec2 create-key-pair --key-name prod-db", "UnauthorizedOperation");
    assert!(
        denied.contains("You are not authorized to perform this operation. User: arn:aws:iam::")
            && denied.contains(
                ":user/alice is not authorized to perform: ec2:CreateKeyPair on resource: arn:aws:ec2:us-east-1:"
            )
            && denied
                .contains(":key-pair/prod-db because no identity-based policy allows the ec2:CreateKeyPair action"),
        "{denied}"
    );
    server.aws_ok("ec2 create-key-pair --key-name prod-db");
    server.aws_err_as(&alice, "ec2 delete-key-pair --key-name prod-db", "UnauthorizedOperation");
    // DescribeKeyPairs has no resource-level permissions: a policy on key-pair ARNs grants none of it.
    server.aws_err_as(&alice, "ec2 describe-key-pairs --key-names prod-db", "UnauthorizedOperation");
    assert!(key_names(&server).contains(&"prod-db".to_owned()), "a denied delete deletes nothing");

    // Explicit deny beats the allow on dev-*.
    server.aws_ok_as(&alice, "ec2 create-key-pair --key-name dev-protected");
    let explicit = server.aws_err_as(&alice, "ec2 delete-key-pair --key-name dev-protected", "UnauthorizedOperation");
    assert!(explicit.contains("with an explicit deny in an identity-based policy"), "{explicit}");
    server.aws_ok_as(&alice, "ec2 delete-key-pair --key-name dev-alice");

    // aws:RequestTag on creation (and ec2:CreateTags with ec2:CreateAction for the tags).
    server.aws_ok_as(
        &alice,
        "ec2 create-key-pair --key-name team-blue --tag-specifications ResourceType=key-pair,Tags=[{Key=team,Value=blue}]",
    );
    server.aws_err_as(
        &alice,
        "ec2 create-key-pair --key-name team-red --tag-specifications ResourceType=key-pair,Tags=[{Key=team,Value=red}]",
        "UnauthorizedOperation",
    );
    server.aws_err_as(&alice, "ec2 create-key-pair --key-name team-none", "UnauthorizedOperation");

    // aws:ResourceTag on existing key pairs.
    server.aws_ok(
        "ec2 create-key-pair --key-name ops-red --tag-specifications ResourceType=key-pair,Tags=[{Key=team,Value=red}]",
    );
    server.aws_err_as(&alice, "ec2 delete-key-pair --key-name ops-red", "UnauthorizedOperation");
    server.aws_ok_as(&alice, "ec2 delete-key-pair --key-name team-blue");

    // DryRun answers from the policy, both ways.
    server.aws_err_as(&alice, "ec2 create-key-pair --key-name dev-dry --dry-run", "DryRunOperation");
    server.aws_err_as(&alice, "ec2 create-key-pair --key-name prod-dry --dry-run", "UnauthorizedOperation");
    assert!(!key_names(&server).iter().any(|n| n.ends_with("-dry")), "a dry run creates nothing");

    // Bob: NotAction allows EC2 and SSM, the explicit deny stops deletes, IAM stays closed.
    let listed = json(&server.aws_ok_as(&bob, "ec2 describe-key-pairs --query KeyPairs[].KeyName"));
    assert!(listed.as_array().unwrap().contains(&serde_json::json!("prod-db")), "{listed}");
    server.aws_err_as(&bob, "ec2 delete-key-pair --key-name prod-db", "UnauthorizedOperation");
    server.aws_err_as(&bob, "ssm get-parameter --name /nothing", "ParameterNotFound");
    let iam = server.aws_err_as(&bob, "iam list-users", "AccessDenied");
    assert!(iam.contains("is not authorized to perform: iam:ListUsers"), "{iam}");

    // No policy at all: denied by default, in each service's own shape.
    server.aws_err_as(&nobody, "ec2 describe-instances", "UnauthorizedOperation");
    let ssm = server.aws_err_as(&nobody, "ssm get-parameter --name /x", "AccessDeniedException");
    assert!(ssm.contains("ssm:GetParameter on resource: arn:aws:ssm:us-east-1:"), "{ssm}");
    server.aws_err_as(&nobody, "cloudtrail lookup-events", "AccessDeniedException");

    // Every call above is in the audit log, denied ones with their error code.
    let events = json(&server.aws_ok(
        "cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=prod-db --max-results 50",
    ));
    let summary: Vec<(String, String, String)> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let record = json(e["CloudTrailEvent"].as_str().unwrap());
            (
                e["EventName"].as_str().unwrap().to_owned(),
                e["Username"].as_str().unwrap().to_owned(),
                record["errorCode"].as_str().unwrap_or("OK").to_owned(),
            )
        })
        .collect();
    let has =
        |name: &str, user: &str, code: &str| summary.iter().any(|s| s == &(name.into(), user.into(), code.into()));
    assert!(has("CreateKeyPair", "alice", "UnauthorizedOperation"), "{summary:?}");
    assert!(has("CreateKeyPair", "root", "OK"), "{summary:?}");
    assert!(has("DeleteKeyPair", "alice", "UnauthorizedOperation"), "{summary:?}");
    assert!(has("DeleteKeyPair", "bob", "UnauthorizedOperation"), "{summary:?}");
    assert!(has("DescribeKeyPairs", "alice", "UnauthorizedOperation"), "{summary:?}");
}

#[test]
fn iam_api_manages_users_keys_and_policies_with_iams_errors() {
    if !require(&["aws"]) {
        return;
    }
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = TestServer::start_with(Options {
        args: vec!["--audit-log".into(), log.path().display().to_string()],
        ..Options::default()
    });
    let carol = server.create_user(
        "carol",
        Some(r#"{"Statement": {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}}"#),
    );
    server.aws_err("iam create-user --user-name carol", "EntityAlreadyExists");
    server.aws_err("iam create-user --user-name CAROL", "EntityAlreadyExists");
    server.aws_err("iam create-user --user-name bad/name", "ValidationError");
    server.aws_err("iam get-user --user-name nobody", "NoSuchEntity");
    let policy = json(&server.aws_ok("iam get-user-policy --user-name carol --policy-name main"));
    assert_eq!(
        policy["PolicyDocument"]["Statement"]["Action"], "ec2:Describe*",
        "the CLI decodes IAM's URL-encoded document"
    );
    assert_eq!(
        json(&server.aws_ok("iam list-user-policies --user-name carol"))["PolicyNames"],
        serde_json::json!(["main"])
    );
    let bad = server.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"Statement": {"Effect": "Perhaps", "Action": "*", "Resource": "*"}}"#).unwrap();
    server.aws_err(
        &format!("iam put-user-policy --user-name carol --policy-name bad --policy-document file://{}", bad.display()),
        "MalformedPolicyDocument",
    );

    server.aws_ok_as(&carol, "ec2 describe-key-pairs");
    server.aws_ok("iam create-access-key --user-name carol");
    server.aws_err("iam create-access-key --user-name carol", "LimitExceeded");
    let keys = json(&server.aws_ok("iam list-access-keys --user-name carol"));
    assert_eq!(keys["AccessKeyMetadata"].as_array().unwrap().len(), 2);
    server.aws_err("iam delete-user --user-name carol", "DeleteConflict");

    // A deleted key stops working at once; the user's other key still works.
    server.aws_ok(&format!("iam delete-access-key --user-name carol --access-key-id {}", carol.id));
    server.aws_err_as(&carol, "ec2 describe-key-pairs", "AuthFailure");
    for key in json(&server.aws_ok("iam list-access-keys --user-name carol"))["AccessKeyMetadata"].as_array().unwrap() {
        server.aws_ok(&format!(
            "iam delete-access-key --user-name carol --access-key-id {}",
            key["AccessKeyId"].as_str().unwrap()
        ));
    }
    server.aws_err("iam delete-user --user-name carol", "DeleteConflict");
    server.aws_ok("iam delete-user-policy --user-name carol --policy-name main");
    server.aws_ok("iam delete-user --user-name carol");
    assert_eq!(json(&server.aws_ok("iam list-users"))["Users"], serde_json::json!([]));

    // The JSON-lines file holds the same records as the store, secrets redacted.
    let lines = std::fs::read_to_string(log.path()).unwrap();
    let records: Vec<serde_json::Value> = lines.lines().map(json).collect();
    assert!(records.iter().any(|r| r["eventName"] == "CreateAccessKey" && r["eventSource"] == "iam.amazonaws.com"));
    assert!(records.iter().any(|r| r["eventName"] == "DescribeKeyPairs" && r["errorCode"] == "AuthFailure"));
    assert!(!lines.contains(&carol.secret), "no secret reaches the audit log");
}

#[test]
fn keyfleet_admin_and_audit_commands() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let keyfleet = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keyfleet"));
        command.args(args).arg("--endpoint-url").arg(&server.url);
        server.aws_env(&mut command);
        let out = command.output().unwrap();
        assert!(out.status.success(), "keyfleet {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(keyfleet(&["admin", "user", "create", "dave"]).contains(":user/dave"));
    let created = keyfleet(&["admin", "access-key", "create", "dave"]);
    let field =
        |name: &str| created.lines().find_map(|l| l.strip_prefix(&format!("{name} = "))).unwrap().trim().to_owned();
    let dave = crate::support::Identity::key(field("aws_access_key_id"), field("aws_secret_access_key"));
    let policy = server.dir.path().join("dave.json");
    std::fs::write(&policy, r#"{"Statement": {"Effect": "Allow", "Action": "ec2:CreateKeyPair", "Resource": "*"}}"#)
        .unwrap();
    keyfleet(&["admin", "policy", "put", "dave", "create-only", policy.to_str().unwrap()]);
    assert!(keyfleet(&["admin", "policy", "get", "dave", "create-only"]).contains(r#""Action": "ec2:CreateKeyPair""#));
    assert_eq!(keyfleet(&["admin", "policy", "ls", "dave"]).trim(), "create-only");
    assert!(keyfleet(&["admin", "user", "ls"]).contains("dave"));
    assert!(keyfleet(&["admin", "access-key", "ls", "dave"]).contains(&dave.id));

    // The console password comes on standard input; setting it again changes it.
    let set_password = |password: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keyfleet"));
        command.args(["admin", "password", "set", "dave", "--endpoint-url", &server.url]);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        server.aws_env(&mut command);
        let mut child = command.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{password}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(set_password("Daves-first-passw0rd").status.success());
    assert!(set_password("Daves-second-passw0rd").status.success());
    let weak = set_password("weak");
    assert!(String::from_utf8_lossy(&weak.stderr).contains("PasswordPolicyViolation"), "{weak:?}");
    assert_eq!(json(&server.aws_ok("iam get-login-profile --user-name dave"))["LoginProfile"]["UserName"], "dave");
    keyfleet(&["admin", "password", "rm", "dave"]);
    server.aws_err("iam get-login-profile --user-name dave", "NoSuchEntity");

    server.aws_ok_as(&dave, "ec2 create-key-pair --key-name daves");
    server.aws_err_as(&dave, "ec2 delete-key-pair --key-name daves", "UnauthorizedOperation");
    let audit = keyfleet(&["audit", "--key", "daves", "--since", "1h"]);
    assert!(audit.contains("CreateKeyPair") && audit.contains("DeleteKeyPair"), "{audit}");
    assert!(audit.contains("UnauthorizedOperation") && audit.contains("dave"), "{audit}");
    let by_user = keyfleet(&["audit", "--user", "dave"]);
    assert!(by_user.contains("daves") && !by_user.contains("PutUserPolicy"), "{by_user}");

    // A second account, created beside the running server: its own key pairs, users and log.
    let (account_id, other) = server.create_account();
    assert_eq!(account_id.len(), 12);
    assert_eq!(json(&server.aws_ok_as(&other, "ec2 describe-key-pairs"))["KeyPairs"], serde_json::json!([]));
    server.aws_ok_as(&other, "ec2 create-key-pair --key-name daves");
    server.aws_ok_as(&other, "iam create-user --user-name dave");
    let arn =
        json(&server.aws_ok_as(&other, "iam get-user --user-name dave"))["User"]["Arn"].as_str().unwrap().to_owned();
    assert!(arn.contains(&account_id), "{arn}");
    let events = json(&server.aws_ok_as(&other, "cloudtrail lookup-events"));
    assert!(events["Events"].as_array().unwrap().iter().all(|e| e["Username"] == "root"), "only its own events");
}

/// DeleteKeyPair with both a name and an id is authorized on exactly the key pair it
/// deletes: a user allowed only `dev-*` cannot delete `prod` by pairing its name with the
/// id of a `dev-` key pair (or the reverse).
#[test]
fn delete_key_pair_authorizes_what_it_deletes() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let alice = server.create_user("alice", Some(ALICE));
    let id_of = |name: &str| {
        json(&server.aws_ok(&format!("ec2 create-key-pair --key-name {name} --key-type ed25519")))["KeyPairId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let dev = id_of("dev-a");
    let prod = id_of("prod");
    server.aws_err_as(
        &alice,
        &format!("ec2 delete-key-pair --key-name prod --key-pair-id {dev}"),
        "InvalidParameterCombination",
    );
    server.aws_err_as(
        &alice,
        &format!("ec2 delete-key-pair --key-name dev-a --key-pair-id {prod}"),
        "InvalidParameterCombination",
    );
    server.aws_err_as(&alice, &format!("ec2 delete-key-pair --key-pair-id {prod}"), "UnauthorizedOperation");
    assert_eq!(key_names(&server), ["dev-a", "prod"]);
    server.aws_ok_as(&alice, &format!("ec2 delete-key-pair --key-name dev-a --key-pair-id {dev}"));
    assert_eq!(key_names(&server), ["prod"]);
    // With neither a name nor an id nothing is looked up: no key pair's name shows in the answer.
    let message = server.aws_err_as(&alice, "ec2 delete-key-pair", "UnauthorizedOperation");
    assert!(!message.contains("prod"), "{message}");
}

/// Names are normalized before they are authorized: a deny on `parameter/prod/*` holds for
/// ` /prod/db-url` too, which PutParameter would store as `/prod/db-url`.
#[test]
fn parameter_names_are_normalized_before_the_policy_check() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let policy = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
      {"Effect": "Deny", "Action": "ssm:PutParameter", "Resource": "arn:aws:ssm:*:*:parameter/prod/*"}]}"#;
    let carol = server.create_user("carol", Some(policy));
    server.aws_ok_as(&carol, "ssm put-parameter --name /dev/db-url --value x --type String");
    for name in ["/prod/db-url", "%20/prod/db-url", "/prod/db-url%20"] {
        let name = name.replace("%20", " ");
        let out =
            server.aws_argv_as(&carol, &["ssm", "put-parameter", "--name", &name, "--value", "x", "--type", "String"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("AccessDeniedException"), "{name:?}: {stderr}");
    }
    let names = json(&server.aws_ok("ssm describe-parameters"))["Parameters"].as_array().unwrap().len();
    assert_eq!(names, 1, "only /dev/db-url was stored");
}

/// Tagging a parameter at creation needs `ssm:AddTagsToResource` as well, so a policy that
/// keeps a user from tagging cannot be side-stepped through PutParameter.
#[test]
fn tags_at_put_parameter_need_the_tagging_permission() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let policy = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["ssm:PutParameter", "ssm:ListTagsForResource"], "Resource": "*"}]}"#;
    let erin = server.create_user("erin", Some(policy));
    server.aws_err_as(
        &erin,
        "ssm put-parameter --name /team/x --value v --type String --tags Key=owner,Value=erin",
        "AccessDeniedException",
    );
    server.aws_err("ssm get-parameter --name /team/x", "ParameterNotFound");
    server.aws_ok_as(&erin, "ssm put-parameter --name /team/x --value v --type String");
    server.aws_err_as(
        &erin,
        "ssm add-tags-to-resource --resource-type Parameter --resource-id /team/x --tags Key=owner,Value=erin",
        "AccessDeniedException",
    );
    let tags =
        json(&server.aws_ok_as(&erin, "ssm list-tags-for-resource --resource-type Parameter --resource-id /team/x"));
    assert_eq!(tags["TagList"], serde_json::json!([]));
}

/// A condition on a key keyfleet never fills (here `aws:MultiFactorAuthPresent`: keyfleet has
/// no MFA) is refused when the policy is put, not evaluated as silently false.
#[test]
fn policies_on_condition_keys_keyfleet_does_not_fill_are_refused() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.aws_ok("iam create-user --user-name dave");
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
      "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]}"#;
    let file = server.dir.path().join("no-mfa.json");
    std::fs::write(&file, policy).unwrap();
    let message = server.aws_err(
        &format!("iam put-user-policy --user-name dave --policy-name p --policy-document file://{}", file.display()),
        "MalformedPolicyDocument",
    );
    assert!(message.contains("aws:MultiFactorAuthPresent"), "{message}");
}

/// Tagging at launch needs `ec2:CreateTags` as well as `ec2:RunInstances`, as on EC2: a user
/// allowed only to launch cannot tag what it launches (and nothing is launched).
#[test]
fn tags_at_launch_need_create_tags() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let launcher = server.create_user(
        "launcher",
        Some(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:DescribeInstances"], "Resource": "*"}]}"#),
    );
    let message = server.aws_err_as(
        &launcher,
        "ec2 run-instances --image-id ami-keyfleet-linux --count 1 --tag-specifications ResourceType=instance,Tags=[{Key=team,Value=a}]",
        "UnauthorizedOperation",
    );
    assert!(message.contains("ec2:CreateTags"), "{message}");
    // Volume tags too: CreateTags on the new volume, which this policy allows on instances only.
    let instances_only = server.create_user(
        "instances-only",
        Some(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:DescribeInstances"], "Resource": "*"}, {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*:*:instance/*"}]}"#),
    );
    let volume = server.aws_err_as(
        &instances_only,
        "ec2 run-instances --image-id ami-keyfleet-linux --count 1 --tag-specifications ResourceType=volume,Tags=[{Key=team,Value=a}]",
        "UnauthorizedOperation",
    );
    assert!(volume.contains("ec2:CreateTags"), "{volume}");
    server.aws_ok_as(
        &instances_only,
        "ec2 run-instances --image-id ami-keyfleet-linux --count 1 --tag-specifications ResourceType=instance,Tags=[{Key=team,Value=a}]",
    );
    let described = json(&server.aws_ok_as(&launcher, "ec2 describe-instances"));
    assert_eq!(described["Reservations"].as_array().map(Vec::len), Some(1), "only the allowed launch happened");
}

/// A tag condition holds for the tags the resource gets: with a key given twice (in two
/// specifications, or a launch template's and the request's), the last value is kept, and
/// that value is what `aws:RequestTag` sees.
#[test]
fn a_request_tag_condition_sees_the_value_that_is_kept() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let dev_only = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:CreateTags"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}}},
        {"Effect": "Allow", "Action": ["ec2:RunInstances"], "Resource": ["arn:aws:ec2:*::image/*", "arn:aws:ec2:*:*:security-group/*", "arn:aws:ec2:*:*:launch-template/*"]},
        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateLaunchTemplate"], "Resource": "*"}]}"#;
    let dev = server.create_user("dev", Some(dev_only));
    server.aws_ok_as(
        &dev,
        "ec2 run-instances --image-id ami-keyfleet-linux --tag-specifications ResourceType=instance,Tags=[{Key=env,Value=dev}]",
    );
    server.aws_err_as(
        &dev,
        "ec2 run-instances --image-id ami-keyfleet-linux --tag-specifications ResourceType=instance,Tags=[{Key=env,Value=dev}] ResourceType=instance,Tags=[{Key=env,Value=prod}]",
        "UnauthorizedOperation",
    );
    // The same through a launch template: its env=dev, then the request's env=prod.
    server.aws_ok_as(
        &dev,
        r#"ec2 create-launch-template --launch-template-name tagged --launch-template-data {"ImageId":"ami-keyfleet-linux","TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"env","Value":"dev"}]}]}"#,
    );
    server.aws_ok_as(&dev, "ec2 run-instances --launch-template LaunchTemplateName=tagged");
    server.aws_err_as(
        &dev,
        "ec2 run-instances --launch-template LaunchTemplateName=tagged --tag-specifications ResourceType=instance,Tags=[{Key=env,Value=prod}]",
        "UnauthorizedOperation",
    );
    let prod = json(&server.aws_ok("ec2 describe-instances --filters Name=tag:env,Values=prod"));
    assert_eq!(prod["Reservations"], serde_json::json!([]), "no instance tagged env=prod was launched");

    // CreateTags with the key twice: the kept value is checked.
    let id = json(&server.aws_ok("ec2 describe-instances"))["Reservations"][0]["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_owned();
    server.aws_ok_as(&dev, &format!("ec2 create-tags --resources {id} --tags Key=env,Value=dev"));
    server.aws_err_as(
        &dev,
        &format!("ec2 create-tags --resources {id} --tags Key=env,Value=dev Key=env,Value=prod"),
        "UnauthorizedOperation",
    );
    let prod = json(&server.aws_ok("ec2 describe-instances --filters Name=tag:env,Values=prod"));
    assert_eq!(prod["Reservations"], serde_json::json!([]), "no instance tagged env=prod afterwards");
}

/// `aws:` tags are AWS's, whatever their case: none can be made (so none can pose as
/// `aws:autoscaling:groupName`), and those AWS put on can't be taken off.
#[test]
fn aws_tags_cannot_be_made_or_removed_in_any_case() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name tpl --launch-template-data ImageId=ami-keyfleet-linux",
    );
    let out = json(&server.aws_ok("ec2 run-instances --launch-template LaunchTemplateName=tpl"));
    let id = out["Instances"][0]["InstanceId"].as_str().unwrap().to_owned();
    for key in ["aws:autoscaling:groupName", "AWS:autoscaling:groupName", "Aws:team"] {
        server
            .aws_err(&format!("ec2 create-tags --resources {id} --tags Key={key},Value=web"), "InvalidParameterValue");
    }
    server.aws_err(
        &format!("ec2 delete-tags --resources {id} --tags Key=aws:ec2launchtemplate:id"),
        "InvalidParameterValue",
    );
    let tags = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {id}")));
    let tags = tags["Reservations"][0]["Instances"][0]["Tags"].as_array().cloned().unwrap_or_default();
    assert!(tags.iter().any(|t| t["Key"] == "aws:ec2launchtemplate:id"), "{tags:?}");
    assert!(
        !tags.iter().any(|t| t["Key"].as_str().unwrap().eq_ignore_ascii_case("aws:autoscaling:groupName")),
        "{tags:?}"
    );
}

/// `aws sts get-caller-identity` answers every caller, whatever its policies, as AWS does:
/// the root with its account id, a user with its `AIDA…` id; and the call is audited.
#[test]
fn sts_get_caller_identity_names_the_caller_without_a_policy() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let root = json(&server.aws_ok("sts get-caller-identity"));
    let account = root["Account"].as_str().unwrap().to_owned();
    assert_eq!(account.len(), 12);
    assert_eq!(root["UserId"], account.as_str());
    assert_eq!(root["Arn"], format!("arn:aws:iam::{account}:root"));

    let nobody = server.create_user("nobody", None);
    let user = json(&server.aws_ok_as(&nobody, "sts get-caller-identity"));
    let user_id = json(&server.aws_ok("iam get-user --user-name nobody"))["User"]["UserId"].clone();
    assert_eq!(user["UserId"], user_id);
    assert_eq!(user["Arn"], format!("arn:aws:iam::{account}:user/nobody"));
    server.aws_err_as(&nobody, "ec2 describe-key-pairs", "UnauthorizedOperation");
    server.aws_err("sts get-federation-token --name xy", "InvalidAction");

    let events = json(&server.aws_ok(
        "cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=GetCallerIdentity",
    ));
    let sources: Vec<&str> =
        events["Events"].as_array().unwrap().iter().map(|e| e["EventSource"].as_str().unwrap()).collect();
    assert_eq!(sources, ["sts.amazonaws.com", "sts.amazonaws.com"]);
}

/// A policy on a security group's ARN, or on its tags, holds whichever way a request names
/// the group (by id or by name) and for launches into it.
#[test]
fn security_group_policies_hold_by_name_and_at_launch() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let created = json(&server.aws_ok(
        "ec2 create-security-group --group-name locked --description locked \
         --tag-specifications ResourceType=security-group,Tags=[{Key=locked,Value=yes}]",
    ));
    let locked = created["GroupId"].as_str().unwrap().to_owned();
    server.aws_ok("ec2 create-security-group --group-name open --description open");
    let policy = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
          {{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}},
          {{"Effect": "Deny", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:security-group/{locked}"}},
          {{"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
            "Condition": {{"StringEquals": {{"aws:ResourceTag/locked": "yes"}}}}}}]}}"#
    );
    let frank = server.create_user("frank", Some(&policy));
    for command in [
        "ec2 delete-security-group --group-name locked".to_owned(),
        format!("ec2 delete-security-group --group-id {locked}"),
        "ec2 authorize-security-group-ingress --group-name LOCKED --protocol tcp --port 22 --cidr 0.0.0.0/0".to_owned(),
        "ec2 run-instances --image-id ami-keyfleet-linux --security-groups locked".to_owned(),
        format!("ec2 run-instances --image-id ami-keyfleet-linux --security-group-ids {locked}"),
    ] {
        server.aws_err_as(&frank, &command, "UnauthorizedOperation");
    }
    server.aws_ok_as(
        &frank,
        "ec2 authorize-security-group-ingress --group-name open --protocol tcp --port 22 --cidr 0.0.0.0/0",
    );
    server.aws_ok_as(&frank, "ec2 run-instances --image-id ami-keyfleet-linux --security-groups open");
    server.aws_ok("ec2 describe-security-groups --group-names locked");
}

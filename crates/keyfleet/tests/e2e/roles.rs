//! IAM roles, managed policies and STS sessions with the real aws CLI and boto3: IAM's answers
//! and errors, policies attached to users and roles holding, trust policies, and temporary
//! credentials that act as the role until they expire.

use crate::support::{Identity, TestServer, json, require};

const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"ACCOUNT"},"Action":"sts:AssumeRole"}]}"#;
const READ_KEYS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeKeyPairs","Resource":"*"}]}"#;
const READ_PARAMETERS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}]}"#;

fn account(server: &TestServer) -> String {
    json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned()
}

/// Writes a document to a file for `file://` (the CLI's way with JSON arguments).
fn document(server: &TestServer, name: &str, text: &str) -> String {
    let path = server.dir.path().join(format!("{name}.json"));
    std::fs::write(&path, text).unwrap();
    format!("file://{}", path.display())
}

#[test]
fn roles_and_managed_policies_answer_as_iam_does() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let account = account(&server);
    let trust = document(&server, "trust", &TRUST_ACCOUNT.replace("ACCOUNT", &account));
    let created = json(&server.aws_ok(&format!(
        "iam create-role --role-name Ops --path /team/ --assume-role-policy-document {trust} --description on-call"
    )));
    let role = &created["Role"];
    assert_eq!(role["Arn"], format!("arn:aws:iam::{account}:role/team/Ops"));
    assert!(role["RoleId"].as_str().unwrap().starts_with("AROA"));
    assert_eq!(role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"], account.as_str());
    assert!(role.get("MaxSessionDuration").is_none(), "CreateRole's answer has none: {role}");
    let got = json(&server.aws_ok("iam get-role --role-name ops"));
    assert_eq!(got["Role"]["MaxSessionDuration"], 3600);
    assert_eq!(got["Role"]["Description"], "on-call");
    let stderr = server.aws_err(
        &format!("iam create-role --role-name OPS --assume-role-policy-document {trust}"),
        "EntityAlreadyExists",
    );
    assert!(stderr.contains("Role with name OPS already exists."), "{stderr}");
    let with_resource = document(
        &server,
        "bad-trust",
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    );
    let stderr = server.aws_err(
        &format!("iam create-role --role-name bad --assume-role-policy-document {with_resource}"),
        "MalformedPolicyDocument",
    );
    assert!(stderr.contains("Has prohibited field Resource"), "{stderr}");
    server.aws_err(
        &format!("iam create-role --role-name long --assume-role-policy-document {trust} --max-session-duration 50000"),
        "ValidationError",
    );
    let listed = json(&server.aws_ok("iam list-roles --path-prefix /team/"));
    assert_eq!(listed["Roles"].as_array().map(Vec::len), Some(1));

    // Inline policies.
    let keys = document(&server, "keys", READ_KEYS);
    server.aws_ok(&format!("iam put-role-policy --role-name Ops --policy-name keys --policy-document {keys}"));
    let inline = json(&server.aws_ok("iam get-role-policy --role-name Ops --policy-name keys"));
    assert_eq!(inline["PolicyDocument"]["Statement"][0]["Action"], "ec2:DescribeKeyPairs");
    assert_eq!(
        json(&server.aws_ok("iam list-role-policies --role-name Ops"))["PolicyNames"],
        serde_json::json!(["keys"])
    );
    let stderr = server.aws_err("iam delete-role --role-name Ops", "DeleteConflict");
    assert!(stderr.contains("Cannot delete entity, must delete policies first."), "{stderr}");
    server.aws_ok("iam delete-role-policy --role-name Ops --policy-name keys");
    let stderr = server.aws_err("iam get-role-policy --role-name Ops --policy-name keys", "NoSuchEntity");
    assert!(stderr.contains("The role policy with name keys cannot be found."), "{stderr}");

    // Managed policies and their versions.
    let policy = json(&server.aws_ok(&format!("iam create-policy --policy-name key-readers --policy-document {keys}")));
    let arn = policy["Policy"]["Arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, format!("arn:aws:iam::{account}:policy/key-readers"));
    assert_eq!(policy["Policy"]["DefaultVersionId"], "v1");
    let parameters = document(&server, "parameters", READ_PARAMETERS);
    let v2 = json(&server.aws_ok(&format!(
        "iam create-policy-version --policy-arn {arn} --policy-document {parameters} --set-as-default"
    )));
    assert_eq!(v2["PolicyVersion"]["VersionId"], "v2");
    assert_eq!(v2["PolicyVersion"]["IsDefaultVersion"], true);
    let got = json(&server.aws_ok(&format!("iam get-policy-version --policy-arn {arn} --version-id v2")));
    assert_eq!(got["PolicyVersion"]["Document"]["Statement"][0]["Action"], "ssm:GetParameter");
    for _ in 0..3 {
        server.aws_ok(&format!("iam create-policy-version --policy-arn {arn} --policy-document {keys}"));
    }
    let stderr = server
        .aws_err(&format!("iam create-policy-version --policy-arn {arn} --policy-document {keys}"), "LimitExceeded");
    assert!(stderr.contains("A managed policy can have up to 5 versions."), "{stderr}");
    let stderr =
        server.aws_err(&format!("iam delete-policy-version --policy-arn {arn} --version-id v2"), "DeleteConflict");
    assert!(stderr.contains("Cannot delete the default version of a policy."), "{stderr}");
    server.aws_ok(&format!("iam set-default-policy-version --policy-arn {arn} --version-id v1"));
    let versions = json(&server.aws_ok(&format!("iam list-policy-versions --policy-arn {arn}")));
    let ids: Vec<&str> =
        versions["Versions"].as_array().unwrap().iter().map(|v| v["VersionId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["v5", "v4", "v3", "v2", "v1"]);

    // Attachments, AWS managed policies included.
    let read_only = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess";
    server.aws_ok(&format!("iam attach-role-policy --role-name Ops --policy-arn {arn}"));
    server.aws_ok(&format!("iam attach-role-policy --role-name Ops --policy-arn {read_only}"));
    let attached = json(&server.aws_ok("iam list-attached-role-policies --role-name Ops"));
    let mut names: Vec<&str> =
        attached["AttachedPolicies"].as_array().unwrap().iter().map(|p| p["PolicyName"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["AmazonEC2ReadOnlyAccess", "key-readers"]);
    assert_eq!(
        json(&server.aws_ok(&format!("iam get-policy --policy-arn {read_only}")))["Policy"]["AttachmentCount"],
        1
    );
    let aws_scope = json(&server.aws_ok("iam list-policies --scope AWS --path-prefix /service-role/"));
    assert_eq!(aws_scope["Policies"][0]["PolicyName"], "AmazonSSMAutomationRole");
    let local = json(&server.aws_ok("iam list-policies --scope Local"));
    assert_eq!(local["Policies"].as_array().map(Vec::len), Some(1));
    let stderr = server.aws_err("iam delete-role --role-name Ops", "DeleteConflict");
    assert!(stderr.contains("Cannot delete entity, must detach all policies first."), "{stderr}");
    let stderr = server.aws_err(&format!("iam delete-policy --policy-arn {arn}"), "DeleteConflict");
    assert!(stderr.contains("Cannot delete a policy attached to entities."), "{stderr}");
    let missing = format!("arn:aws:iam::{account}:policy/nope");
    let stderr =
        server.aws_err(&format!("iam attach-role-policy --role-name Ops --policy-arn {missing}"), "NoSuchEntity");
    assert!(stderr.contains(&format!("Policy {missing} does not exist or is not attachable.")), "{stderr}");
    server.aws_err(
        "iam attach-role-policy --role-name Ops --policy-arn arn:aws:iam::acct:not-a-policy",
        "ValidationError",
    );

    // A user is held to an attached policy's default version, read at each request.
    let carol = server.create_user("carol", None);
    server.aws_err_as(&carol, "ec2 describe-key-pairs", "UnauthorizedOperation");
    server.aws_ok(&format!("iam attach-user-policy --user-name carol --policy-arn {arn}"));
    server.aws_ok_as(&carol, "ec2 describe-key-pairs");
    server.aws_ok(&format!("iam set-default-policy-version --policy-arn {arn} --version-id v2"));
    server.aws_err_as(&carol, "ec2 describe-key-pairs", "UnauthorizedOperation");
    server.aws_ok(&format!("iam detach-user-policy --user-name carol --policy-arn {arn}"));
    server.aws_err(&format!("iam detach-user-policy --user-name carol --policy-arn {arn}"), "NoSuchEntity");

    // Taken apart in IAM's order.
    server.aws_ok(&format!("iam detach-role-policy --role-name Ops --policy-arn {arn}"));
    server.aws_ok(&format!("iam detach-role-policy --role-name Ops --policy-arn {read_only}"));
    let stderr = server.aws_err(&format!("iam delete-policy --policy-arn {arn}"), "DeleteConflict");
    assert!(stderr.contains("This policy has more than one version."), "{stderr}");
    for version in ["v1", "v3", "v4", "v5"] {
        server.aws_ok(&format!("iam delete-policy-version --policy-arn {arn} --version-id {version}"));
    }
    server.aws_ok(&format!("iam delete-policy --policy-arn {arn}"));
    let stderr = server.aws_err(&format!("iam get-policy --policy-arn {arn}"), "NoSuchEntity");
    assert!(stderr.contains(&format!("Policy {arn} was not found.")), "{stderr}");
    server.aws_ok("iam delete-role --role-name Ops");
    let stderr = server.aws_err("iam get-role --role-name Ops", "NoSuchEntity");
    assert!(stderr.contains("The role with name Ops cannot be found."), "{stderr}");
}

#[test]
fn assumed_roles_act_as_the_role_until_their_session_expires() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let account = account(&server);
    let role_arn = format!("arn:aws:iam::{account}:role/ops");
    let assume = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{role_arn}"}}]}}"#
    );
    let dev = server.create_user("dev", Some(&assume));
    let trust_dev = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:user/dev"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let trust = document(&server, "trust-dev", &trust_dev);
    let role_id =
        json(&server.aws_ok(&format!("iam create-role --role-name ops --assume-role-policy-document {trust}")))["Role"]
            ["RoleId"]
            .as_str()
            .unwrap()
            .to_owned();
    server
        .aws_ok("iam attach-role-policy --role-name ops --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess");

    let assumed = json(
        &server.aws_ok_as(&dev, &format!("sts assume-role --role-arn {role_arn} --role-session-name night-shift")),
    );
    assert_eq!(assumed["AssumedRoleUser"]["Arn"], format!("arn:aws:sts::{account}:assumed-role/ops/night-shift"));
    assert_eq!(assumed["AssumedRoleUser"]["AssumedRoleId"], format!("{role_id}:night-shift"));
    assert!(assumed["Credentials"]["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let session = Identity::from_credentials(&assumed["Credentials"]);
    let me = json(&server.aws_ok_as(&session, "sts get-caller-identity"));
    assert_eq!(me["Arn"], format!("arn:aws:sts::{account}:assumed-role/ops/night-shift"));
    assert_eq!(me["UserId"], format!("{role_id}:night-shift"));
    server.aws_ok_as(&session, "ec2 describe-key-pairs");
    let stderr = server.aws_err_as(&session, "ec2 create-key-pair --key-name nope", "UnauthorizedOperation");
    assert!(
        stderr.contains(&format!(
            "User: arn:aws:sts::{account}:assumed-role/ops/night-shift is not authorized to perform: ec2:CreateKeyPair"
        )),
        "{stderr}"
    );
    // The session is audited as the role's, as CloudTrail records it.
    let events = json(
        &server
            .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=CreateKeyPair"),
    );
    let record = json(events["Events"][0]["CloudTrailEvent"].as_str().unwrap());
    assert_eq!(record["userIdentity"]["type"], "AssumedRole");
    assert_eq!(record["userIdentity"]["principalId"], format!("{role_id}:night-shift"));
    assert_eq!(record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"], role_arn.as_str());
    assert_eq!(record["errorCode"], "UnauthorizedOperation");

    // Who may not: the root, a user the trust policy does not name, a too-long session.
    let stderr =
        server.aws_err(&format!("sts assume-role --role-arn {role_arn} --role-session-name root"), "AccessDenied");
    assert!(stderr.contains("Roles may not be assumed by root accounts."), "{stderr}");
    let eve = server.create_user("eve", Some(&assume));
    let stderr = server.aws_err_as(
        &eve,
        &format!("sts assume-role --role-arn {role_arn} --role-session-name bad:name"),
        "ValidationError",
    );
    assert!(stderr.contains("roleSessionName"), "{stderr}");
    let stderr = server.aws_err_as(
        &eve,
        &format!("sts assume-role --role-arn {role_arn} --role-session-name eve"),
        "AccessDenied",
    );
    assert!(
        stderr.contains(&format!(
            "User: arn:aws:iam::{account}:user/eve is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )),
        "{stderr}"
    );
    let stderr = server.aws_err_as(
        &dev,
        &format!("sts assume-role --role-arn {role_arn} --role-session-name long --duration-seconds 7200"),
        "ValidationError",
    );
    assert!(
        stderr.contains("The requested DurationSeconds exceeds the MaxSessionDuration set for this role."),
        "{stderr}"
    );
    let nobody = server.create_user("nobody", None);
    server.aws_err_as(
        &nobody,
        &format!("sts assume-role --role-arn {role_arn} --role-session-name n1"),
        "AccessDenied",
    );

    // An external id the trust policy asks for.
    let vendor_trust = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{account}"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"k-42"}}}}}}]}}"#
    );
    let vendor = document(&server, "vendor", &vendor_trust);
    server.aws_ok(&format!("iam create-role --role-name vendor --assume-role-policy-document {vendor}"));
    let vendor_arn = format!("arn:aws:iam::{account}:role/vendor");
    let anything = r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let partner = server.create_user("partner", Some(anything));
    server.aws_err_as(
        &partner,
        &format!("sts assume-role --role-arn {vendor_arn} --role-session-name p1"),
        "AccessDenied",
    );
    server.aws_ok_as(
        &partner,
        &format!("sts assume-role --role-arn {vendor_arn} --role-session-name p1 --external-id k-42"),
    );

    // GetSessionToken: a session of the user itself, which cannot make another.
    let own = json(&server.aws_ok_as(&dev, "sts get-session-token --duration-seconds 900"));
    let own = Identity::from_credentials(&own["Credentials"]);
    assert_eq!(
        json(&server.aws_ok_as(&own, "sts get-caller-identity"))["Arn"],
        format!("arn:aws:iam::{account}:user/dev")
    );
    let stderr = server.aws_err_as(&own, "sts get-session-token", "AccessDenied");
    assert!(stderr.contains("Cannot call GetSessionToken with session credentials"), "{stderr}");
    // Without MFA, IAM does not take them; AssumeRole does.
    server.aws_err_as(&own, "iam create-access-key --user-name dev", "InvalidClientTokenId");
    server.aws_ok_as(&own, &format!("sts assume-role --role-arn {role_arn} --role-session-name from-own"));
    // Role names match ignoring case, ARNs in policies do not: `OPS` is not what dev may assume.
    let upper = role_arn.replace("role/ops", "role/OPS");
    server.aws_err_as(&dev, &format!("sts assume-role --role-arn {upper} --role-session-name s2"), "AccessDenied");

    // A token that is not the session's.
    let forged = Identity { token: Some("forged".into()), ..session.clone() };
    server.aws_err_as(&forged, "sts get-caller-identity", "InvalidClientTokenId");
    server.aws_err_as(&forged, "ec2 describe-key-pairs", "AuthFailure");

    // Expiry: the session's end is moved into the past in the server's own database (what
    // fifteen minutes would do), and the same credentials are refused as expired.
    crate::support::sql_on_data_dir(
        &server,
        &format!("UPDATE sts_sessions SET expires_ms = 0 WHERE access_key_id = '{}'", session.id),
    );
    let stderr = server.aws_err_as(&session, "sts get-caller-identity", "ExpiredToken");
    assert!(stderr.contains("The security token included in the request is expired"), "{stderr}");
    server.aws_err_as(&session, "ec2 describe-key-pairs", "RequestExpired");
}

#[test]
fn boto3_sessions_sign_headers_and_presigned_urls_with_their_token() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    let r = json(&server.boto3("boto3_cases.py", &["sessions"]));
    assert_eq!(r["key_prefix"], "ASIA", "{r}");
    assert!(r["identity"].as_str().unwrap().ends_with(":assumed-role/reader/py"), "{r}");
    assert_eq!(r["describe"], true);
    assert_eq!(r["presigned_has_token"], true);
    assert_eq!(r["presigned"], serde_json::json!([200, true]), "{r}");
    assert_eq!(
        r["ec2_wrong_token"],
        serde_json::json!(["AuthFailure", "AWS was not able to validate the provided access credentials", 401])
    );
    assert_eq!(
        r["sts_wrong_token"],
        serde_json::json!(["InvalidClientTokenId", "The security token included in the request is invalid.", 403])
    );
    assert_eq!(r["ec2_no_token"][0], "AuthFailure");
    assert_eq!(r["create_denied"], "UnauthorizedOperation");
}

/// Policies compare ARNs with case while role names match without: a Deny on `role/Admin`
/// holds for `role/admin` too. And `aws:username` is a user's only: a role session named
/// after a user does not pass for that user.
#[test]
fn role_names_and_session_names_cannot_pass_for_others() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let account = account(&server);
    let trust = document(&server, "trust", &TRUST_ACCOUNT.replace("ACCOUNT", &account));
    server.aws_ok(&format!("iam create-role --role-name Admin --assume-role-policy-document {trust}"));
    server.aws_ok(&format!("iam create-role --role-name helper --assume-role-policy-document {trust}"));
    let policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}},
            {{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{account}:role/Admin"}}]}}"#
    );
    let mallory = server.create_user("mallory", Some(&policy));
    for name in ["Admin", "admin", "ADMIN"] {
        let arn = format!("arn:aws:iam::{account}:role/{name}");
        server.aws_err_as(
            &mallory,
            &format!("sts assume-role --role-arn {arn} --role-session-name m1"),
            "AccessDenied",
        );
    }

    // A policy for alice alone, attached to the helper role as well.
    let alice_only = document(
        &server,
        "alice-only",
        r#"{"Statement":[{"Effect":"Allow","Action":"ec2:CreateKeyPair","Resource":"*","Condition":{"StringEquals":{"aws:username":"alice"}}}]}"#,
    );
    let arn = json(
        &server.aws_ok(&format!("iam create-policy --policy-name alice-only --policy-document {alice_only}")),
    )["Policy"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    server.aws_ok(&format!("iam attach-role-policy --role-name helper --policy-arn {arn}"));
    let alice = server.create_user("alice", None);
    server.aws_ok(&format!("iam attach-user-policy --user-name alice --policy-arn {arn}"));
    server.aws_ok_as(&alice, "ec2 create-key-pair --key-name alices");
    let session = json(&server.aws_ok_as(
        &mallory,
        &format!("sts assume-role --role-arn arn:aws:iam::{account}:role/helper --role-session-name alice"),
    ));
    let session = Identity::from_credentials(&session["Credentials"]);
    server.aws_err_as(&session, "ec2 create-key-pair --key-name not-alice", "UnauthorizedOperation");
}

/// Instance profiles as IAM has them: one role each, which putting in needs `iam:PassRole`;
/// a role in a profile and a profile with a role cannot be deleted.
#[test]
fn instance_profiles_hold_one_role_and_passing_it_needs_pass_role() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let account = account(&server);
    let trust = document(
        &server,
        "ec2-trust",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    server.aws_ok(&format!("iam create-role --role-name web --assume-role-policy-document {trust}"));
    server.aws_ok(&format!("iam create-role --role-name other --assume-role-policy-document {trust}"));
    let made = json(&server.aws_ok("iam create-instance-profile --instance-profile-name web-profile --path /apps/"));
    let profile = &made["InstanceProfile"];
    assert_eq!(profile["Arn"], format!("arn:aws:iam::{account}:instance-profile/apps/web-profile"));
    assert!(profile["InstanceProfileId"].as_str().unwrap().starts_with("AIPA"), "{profile}");
    assert_eq!(profile["Roles"], serde_json::json!([]));
    let duplicate =
        server.aws_err("iam create-instance-profile --instance-profile-name WEB-PROFILE", "EntityAlreadyExists");
    assert!(duplicate.contains("Instance Profile WEB-PROFILE already exists."), "{duplicate}");

    // Without iam:PassRole on the role, it cannot go into a profile.
    let no_pass = r#"{"Statement":[{"Effect":"Allow","Action":"iam:*InstanceProfile*","Resource":"*"}]}"#;
    let operator = server.create_user("operator", Some(no_pass));
    let refused = server.aws_err_as(
        &operator,
        "iam add-role-to-instance-profile --instance-profile-name web-profile --role-name web",
        "AccessDenied",
    );
    assert!(refused.contains(&format!("iam:PassRole on resource: arn:aws:iam::{account}:role/web")), "{refused}");
    server.aws_ok("iam add-role-to-instance-profile --instance-profile-name web-profile --role-name web");
    let full = server.aws_err(
        "iam add-role-to-instance-profile --instance-profile-name web-profile --role-name other",
        "LimitExceeded",
    );
    assert!(full.contains("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"), "{full}");
    let got = json(&server.aws_ok("iam get-instance-profile --instance-profile-name web-profile"));
    assert_eq!(got["InstanceProfile"]["Roles"][0]["RoleName"], "web");
    let listed = json(&server.aws_ok("iam list-instance-profiles-for-role --role-name web"));
    assert_eq!(listed["InstanceProfiles"][0]["InstanceProfileName"], "web-profile");
    let listed = json(&server.aws_ok("iam list-instance-profiles --path-prefix /apps/"));
    assert_eq!(listed["InstanceProfiles"].as_array().unwrap().len(), 1);

    // A Deny on the profile's ARN holds whatever case the request spells its name in.
    let deny = r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},
        {"Effect":"Deny","Action":"iam:GetInstanceProfile","Resource":"arn:aws:iam::*:instance-profile/apps/web-profile"}]}"#;
    let denied = server.create_user("denied", Some(deny));
    server.aws_err_as(&denied, "iam get-instance-profile --instance-profile-name WEB-PROFILE", "AccessDenied");

    let held = server.aws_err("iam delete-role --role-name web", "DeleteConflict");
    assert!(held.contains("Cannot delete entity, must remove roles from instance profile first."), "{held}");
    server.aws_err("iam delete-instance-profile --instance-profile-name web-profile", "DeleteConflict");
    server.aws_ok("iam remove-role-from-instance-profile --instance-profile-name web-profile --role-name web");
    server.aws_ok("iam delete-instance-profile --instance-profile-name web-profile");
    server.aws_ok("iam delete-role --role-name web");
    let gone = server.aws_err("iam get-instance-profile --instance-profile-name web-profile", "NoSuchEntity");
    assert!(gone.contains("Instance Profile web-profile cannot be found."), "{gone}");
}

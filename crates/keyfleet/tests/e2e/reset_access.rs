//! Lost keys (shared/seeds/004): the `AWSSupport-ResetAccess` automation with the real
//! aws CLI, the key it leaves in Parameter Store, and `ssh` with that key. Also the
//! failures, a crash in the middle of an execution, and `keyfleet reset-access`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Options, TestServer, json, require};

const TOOLS: [&str; 4] = ["aws", "ssh", "ssh-keygen", "bwrap"];

pub(crate) fn ssh(server: &TestServer, key: &std::path::Path, ip: &str, command: &str) -> std::process::Output {
    Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", server.dir.path().join("known_hosts").display()))
        .args(["-p", &server.ssh_port.to_string(), "-i"])
        .arg(key)
        .arg(format!("ec2-user@{ip}"))
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Creates a key pair, launches an instance with it, and "loses" the private key.
pub(crate) fn launch_and_lose_key(server: &TestServer) -> (String, String) {
    server.aws_ok("ec2 create-key-pair --key-name demo --key-type ed25519");
    let out = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --key-name demo"));
    let instance = &out["Instances"][0];
    (instance["InstanceId"].as_str().unwrap().to_owned(), instance["PublicIpAddress"].as_str().unwrap().to_owned())
}

/// Polls GetAutomationExecution until the execution ends (bounded: 120 s).
pub(crate) fn wait_for_end(server: &TestServer, execution: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = json(&server.aws_ok(&format!("ssm get-automation-execution --automation-execution-id {execution}")));
        if got["AutomationExecution"].get("ExecutionEndTime").is_some() {
            return got["AutomationExecution"].clone();
        }
        assert!(Instant::now() < deadline, "execution {execution} did not end: {got}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Polls until `step` has succeeded (bounded: 60 s). A finished step stays finished, so a
/// slow poll cannot miss it, unlike "the step running now".
fn wait_for_step(server: &TestServer, execution: &str, step: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = json(&server.aws_ok(&format!("ssm get-automation-execution --automation-execution-id {execution}")));
        let steps = got["AutomationExecution"]["StepExecutions"].as_array().cloned().unwrap_or_default();
        if steps.iter().any(|s| s["StepName"] == step && s["StepStatus"] == "Success") {
            assert!(got["AutomationExecution"].get("ExecutionEndTime").is_none(), "ended too soon: {got}");
            return;
        }
        assert!(Instant::now() < deadline, "never reached {step}: {got}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn start(server: &TestServer, instance: &str) -> String {
    let out = server.aws_ok(&format!(
        "ssm start-automation-execution --document-name AWSSupport-ResetAccess --parameters InstanceId={instance}"
    ));
    json(&out)["AutomationExecutionId"].as_str().unwrap().to_owned()
}

fn recovered_key(server: &TestServer, instance: &str) -> std::path::PathBuf {
    let key = server.aws_ok(&format!(
        "ssm get-parameter --name /ec2rl/openssh/{instance}/key --with-decryption --query Parameter.Value --output text"
    ));
    let path = server.dir.path().join(format!("recovered-{}.pem", Instant::now().elapsed().as_nanos()));
    std::fs::write(&path, key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    path
}

#[test]
fn reset_access_puts_a_new_key_on_the_instance_and_in_parameter_store() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let (instance, ip) = launch_and_lose_key(&server);
    let execution = wait_for_end(&server, &start(&server, &instance));
    assert_eq!(execution["AutomationExecutionStatus"], "Success", "{execution}");
    let steps: Vec<(String, String)> = execution["StepExecutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["StepName"].as_str().unwrap().to_owned(), s["StepStatus"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(steps[0], ("assertInstanceIsWindows".to_owned(), "Failed".to_owned()), "Linux takes the other branch");
    for step in ["stopInstance", "detachRootVolume", "injectSSHKey", "attachRootVolume", "startInstance"] {
        assert!(steps.contains(&(step.to_owned(), "Success".to_owned())), "{step}: {steps:?}");
    }
    let name = format!("/ec2rl/openssh/{instance}/key");
    assert_eq!(execution["Outputs"]["getLinuxSSHKeyParameter.Name"], serde_json::json!([name]));
    assert_eq!(execution["Parameters"]["SubnetId"], serde_json::json!(["CreateNewVPC"]));

    let parameter = json(&server.aws_ok("ssm describe-parameters --query Parameters[0]"));
    assert_eq!((parameter["Name"].as_str(), parameter["Type"].as_str()), (Some(name.as_str()), Some("SecureString")));
    let key = recovered_key(&server, &instance);
    assert!(std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let out = ssh(&server, &key, &ip, "cat ~/.ssh/authorized_keys");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(keys.lines().any(|l| l.ends_with(" demo")), "the old key stays: {keys}");
    assert!(keys.lines().any(|l| l.starts_with("ssh-rsa ") && l.ends_with("Added by EC2 Rescue for Linux")), "{keys}");
    let bits = Command::new("ssh-keygen").arg("-lf").arg(&key).output().unwrap();
    assert!(String::from_utf8_lossy(&bits.stdout).starts_with("4096 "));

    // Running it again overwrites the parameter with a new version.
    assert_eq!(wait_for_end(&server, &start(&server, &instance))["AutomationExecutionStatus"], "Success");
    assert_eq!(json(&server.aws_ok(&format!("ssm get-parameter --name {name}")))["Parameter"]["Version"], 2);
    let listed = json(&server.aws_ok("ssm describe-automation-executions"));
    assert_eq!(listed["AutomationExecutionMetadataList"].as_array().unwrap().len(), 2);
    let count = |filter: &str| {
        let out = json(&server.aws_ok(&format!("ssm describe-automation-executions --filters {filter}")));
        out["AutomationExecutionMetadataList"].as_array().unwrap().len()
    };
    assert_eq!(count("Key=ExecutionStatus,Values=Success"), 2);
    assert_eq!(count("Key=ExecutionStatus,Values=Failed"), 0);
    assert_eq!(count("Key=DocumentNamePrefix,Values=AWSSupport-Reset"), 2);
    let first = listed["AutomationExecutionMetadataList"][0]["AutomationExecutionId"].as_str().unwrap().to_owned();
    assert_eq!(count(&format!("Key=ExecutionId,Values={first}")), 1);
    server.aws_err("ssm describe-automation-executions --filters Key=TagKey,Values=x", "InvalidFilterKey");

    // Neither the recovered private key nor any other secret is readable in the database.
    let text = std::fs::read_to_string(&key).unwrap();
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----") && l.len() > 40).collect();
    let files = std::fs::read_dir(server.data_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file());
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        for line in &body {
            assert!(!bytes.windows(line.len()).any(|w| w == line.as_bytes()), "private key text in the data dir");
        }
    }
}

#[test]
fn unknown_and_wrong_region_instances_fail_the_execution_with_ec2s_error() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let (instance, _) = launch_and_lose_key(&server);
    let missing = wait_for_end(&server, &start(&server, "i-0123456789abcdef0"));
    assert_eq!(missing["AutomationExecutionStatus"], "Failed");
    let failure = missing["FailureMessage"].as_str().unwrap();
    assert!(
        failure.contains("Error Code: InvalidInstanceID.NotFound") && failure.contains("i-0123456789abcdef0"),
        "{failure}"
    );

    let id = json(&server.aws_ok(&format!(
        "ssm start-automation-execution --region eu-west-1 --document-name AWSSupport-ResetAccess --parameters InstanceId={instance}"
    )))["AutomationExecutionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let elsewhere = loop {
        let got = json(
            &server.aws_ok(&format!("ssm get-automation-execution --region eu-west-1 --automation-execution-id {id}")),
        );
        if got["AutomationExecution"].get("ExecutionEndTime").is_some() || Instant::now() > deadline {
            break got["AutomationExecution"].clone();
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(elsewhere["AutomationExecutionStatus"], "Failed", "instances belong to their region");
    assert!(elsewhere["FailureMessage"].as_str().unwrap().contains("InvalidInstanceID.NotFound"));
    let described = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {instance}")));
    assert_eq!(described["Reservations"][0]["Instances"][0]["State"]["Name"], "running", "the instance was left alone");

    server.aws_err(
        "ssm start-automation-execution --document-name AWS-Nope --parameters InstanceId=i-0",
        "AutomationDefinitionNotFoundException",
    );
    let stderr = server.aws_err(
        "ssm start-automation-execution --document-name AWSSupport-ResetAccess --parameters SubnetId=x",
        "InvalidAutomationExecutionParametersException",
    );
    assert!(stderr.contains("Missing required parameter: InstanceId"));
    server.aws_err(
        "ssm get-automation-execution --automation-execution-id 00000000-0000-4000-8000-000000000000",
        "AutomationExecutionNotFoundException",
    );
}

#[test]
fn an_execution_survives_a_crash_in_the_middle() {
    if !require(&TOOLS) {
        return;
    }
    let args = vec!["--automation-step-delay-ms".to_owned(), "2000".to_owned()];
    let mut server = TestServer::start_with(Options { args, ..Options::default() });
    let (instance, ip) = launch_and_lose_key(&server);
    let execution = start(&server, &instance);
    // Once the instance is stopped and its volume aside, kill -9.
    wait_for_step(&server, &execution, "detachRootVolume");
    server.crash_and_restart();
    let done = wait_for_end(&server, &execution);
    assert_eq!(done["AutomationExecutionStatus"], "Success", "{done}");
    let described = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {instance}")));
    assert_eq!(described["Reservations"][0]["Instances"][0]["State"]["Name"], "running");
    let key = recovered_key(&server, &instance);
    assert_eq!(String::from_utf8_lossy(&ssh(&server, &key, &ip, "whoami").stdout), "ec2-user\n");
}

#[test]
fn keyfleet_reset_access_writes_the_new_key_0400() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let (instance, ip) = launch_and_lose_key(&server);
    let out_path = server.dir.path().join("recovered.pem");
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyfleet"));
    command.args(["reset-access", &instance, "-o"]).arg(&out_path).env("AWS_ENDPOINT_URL", &server.url);
    server.aws_env(&mut command);
    let out = command.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777, 0o400);
    assert_eq!(String::from_utf8_lossy(&ssh(&server, &out_path, &ip, "whoami").stdout), "ec2-user\n");
    let again = command.output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

#[test]
fn a_stopped_execution_is_cancelled_and_the_instance_runs_again() {
    if !require(&TOOLS) {
        return;
    }
    let args = vec!["--automation-step-delay-ms".to_owned(), "2000".to_owned()];
    let server = TestServer::start_with(Options { args, ..Options::default() });
    let (instance, _) = launch_and_lose_key(&server);
    let execution = start(&server, &instance);
    wait_for_step(&server, &execution, "stopInstance");
    server.aws_ok(&format!("ssm stop-automation-execution --automation-execution-id {execution}"));
    let done = wait_for_end(&server, &execution);
    assert_eq!(done["AutomationExecutionStatus"], "Cancelled", "{done}");
    let described = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {instance}")));
    assert_eq!(described["Reservations"][0]["Instances"][0]["State"]["Name"], "running", "not left stopped");
    server.aws_err(
        &format!("ssm stop-automation-execution --automation-execution-id {execution}"),
        "InvalidAutomationStatusUpdateException",
    );
}

/// Without an AutomationAssumeRole every step runs with the caller's own permissions: a user
/// who may start the runbook but is denied StopInstances on production instances cannot
/// reset one. The step fails with EC2's denial, nothing is changed or stored, and the
/// step's call is in the audit log as the user's.
#[test]
fn reset_access_steps_run_with_the_callers_permissions() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    server.aws_ok("ec2 create-key-pair --key-name demo --key-type ed25519");
    let out = json(&server.aws_ok(
        "ec2 run-instances --image-id ami-keyfleet-linux --key-name demo \
         --tag-specifications ResourceType=instance,Tags=[{Key=env,Value=prod}]",
    ));
    let instance = out["Instances"][0]["InstanceId"].as_str().unwrap().to_owned();
    let policy = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["ssm:*", "ec2:*"], "Resource": "*"},
      {"Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*",
       "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}}]}"#;
    let mallory = server.create_user("mallory", Some(policy));
    let execution = json(&server.aws_ok_as(
        &mallory,
        &format!(
            "ssm start-automation-execution --document-name AWSSupport-ResetAccess --parameters InstanceId={instance}"
        ),
    ))["AutomationExecutionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = wait_for_end(&server, &execution);
    assert_eq!(ended["AutomationExecutionStatus"], "Failed", "{ended}");
    let failure = ended["FailureMessage"].as_str().unwrap_or_default();
    assert!(
        failure.contains("Step stopInstance failed")
            && failure.contains("UnauthorizedOperation")
            && failure
                .contains(":user/mallory is not authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:"),
        "{failure}"
    );
    let state = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {instance}")));
    assert_eq!(state["Reservations"][0]["Instances"][0]["State"]["Name"], "running");
    server.aws_err(&format!("ssm get-parameter --name /ec2rl/openssh/{instance}/key"), "ParameterNotFound");
    let events = json(
        &server
            .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=StopInstances"),
    );
    let event: serde_json::Value =
        serde_json::from_str(events["Events"][0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(event["userIdentity"]["userName"], "mallory", "{event}");
    assert_eq!(event["errorCode"], "UnauthorizedOperation", "{event}");
}

/// With `AutomationAssumeRole`, the caller needs `iam:PassRole` on the role, the role must
/// trust Systems Manager, and the steps run as the role's session: a role without
/// `ec2:StopInstances` fails at stopInstance with EC2's text naming the session; one with
/// AmazonSSMAutomationRole and the volume actions (as EC2Rescue's role has) succeeds, audited
/// as the assumed role.
#[test]
fn reset_access_runs_as_the_automation_assume_role() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let (instance, _) = launch_and_lose_key(&server);
    let account = json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned();
    let trust = |service: &str| {
        let path = server.dir.path().join(format!("trust-{service}.json"));
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        std::fs::write(&path, text).unwrap();
        format!("file://{}", path.display())
    };
    let ssm = trust("ssm.amazonaws.com");
    // The trust policy the Systems Manager User Guide recommends for Automation roles.
    let recommended = server.dir.path().join("trust-recommended.json");
    std::fs::write(
        &recommended,
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"ssm.amazonaws.com"}},"Action":"sts:AssumeRole",
                "Condition":{{"StringEquals":{{"aws:SourceAccount":"{account}"}},"ArnLike":{{"aws:SourceArn":"arn:aws:ssm:*:{account}:automation-execution/*"}}}}}}]}}"#
        ),
    )
    .unwrap();
    server.aws_ok(&format!(
        "iam create-role --role-name rescue --assume-role-policy-document file://{}",
        recommended.display()
    ));
    server.aws_ok(&format!("iam create-role --role-name weak --assume-role-policy-document {ssm}"));
    let ec2 = trust("ec2.amazonaws.com");
    server.aws_ok(&format!("iam create-role --role-name untrusting --assume-role-policy-document {ec2}"));
    let automation = "arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole";
    server.aws_ok(&format!("iam attach-role-policy --role-name rescue --policy-arn {automation}"));
    // What the EC2Rescue role adds to AmazonSSMAutomationRole: the volume moves and the reads.
    let volumes = server.dir.path().join("rescue-volumes.json");
    std::fs::write(
        &volumes,
        r#"{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances","ec2:DetachVolume","ec2:AttachVolume"],"Resource":"*"}]}"#,
    )
    .unwrap();
    server.aws_ok(&format!(
        "iam put-role-policy --role-name rescue --policy-name volumes --policy-document file://{}",
        volumes.display()
    ));
    server.aws_ok(&format!("iam attach-role-policy --role-name untrusting --policy-arn {automation}"));
    server
        .aws_ok("iam attach-role-policy --role-name weak --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess");
    let role = |name: &str| format!("arn:aws:iam::{account}:role/{name}");
    let run = |who: &crate::support::Identity, role: &str| {
        server.aws_as(
            who,
            &format!(
                "ssm start-automation-execution --document-name AWSSupport-ResetAccess \
                 --parameters InstanceId={instance},AutomationAssumeRole={role}"
            ),
        )
    };

    // The caller may start automations but not pass the role.
    let no_pass = r#"{"Statement":[{"Effect":"Allow","Action":["ssm:*","ec2:*"],"Resource":"*"}]}"#;
    let operator = server.create_user("operator", Some(no_pass));
    let refused = run(&operator, &role("rescue"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("(AccessDeniedException)")
            && stderr.contains(&format!(
                "user/operator is not authorized to perform: iam:PassRole on resource: {}",
                role("rescue")
            )),
        "{stderr}"
    );
    // A role that does not trust Systems Manager cannot be assumed by it.
    let refused = run(&server.admin(), &role("untrusting"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("(InvalidAutomationExecutionParametersException)")
            && stderr.contains("The defined assume role is unable to be assumed."),
        "{stderr}"
    );

    // A role without ec2:StopInstances: the run fails there, as the role's session.
    let weak = json(&String::from_utf8_lossy(&run(&server.admin(), &role("weak")).stdout))["AutomationExecutionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = wait_for_end(&server, &weak);
    assert_eq!(ended["AutomationExecutionStatus"], "Failed", "{ended}");
    let failure = ended["FailureMessage"].as_str().unwrap_or_default();
    assert!(
        failure.contains("Step stopInstance failed")
            && failure.contains(&format!(
                "User: arn:aws:sts::{account}:assumed-role/weak/{weak} is not authorized to perform: ec2:StopInstances"
            )),
        "{failure}"
    );

    // The automation role: the run succeeds, each step audited as the role's session.
    let passer = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":["ssm:*","ec2:*"],"Resource":"*"}},
            {{"Effect":"Allow","Action":"iam:PassRole","Resource":"{}","Condition":{{"StringEquals":{{"iam:PassedToService":"ssm.amazonaws.com"}}}}}}]}}"#,
        role("rescue")
    );
    let admin = server.create_user("admin", Some(&passer));
    let out = run(&admin, &role("rescue"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let execution = json(&String::from_utf8_lossy(&out.stdout))["AutomationExecutionId"].as_str().unwrap().to_owned();
    let ended = wait_for_end(&server, &execution);
    assert_eq!(ended["AutomationExecutionStatus"], "Success", "{ended}");
    assert_eq!(ended["ExecutedBy"], format!("arn:aws:iam::{account}:user/admin"));
    let events =
        json(&server.aws_ok(
            "cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=StartInstances",
        ));
    let event: serde_json::Value =
        serde_json::from_str(events["Events"][0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(event["userIdentity"]["type"], "AssumedRole", "{event}");
    assert_eq!(event["userIdentity"]["arn"], format!("arn:aws:sts::{account}:assumed-role/rescue/{execution}"));
    assert_eq!(event["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"], "rescue");
}

/// The role an execution runs as is pinned at its start: one deleted and made again under the
/// same name, with the same trust and policies, is another role, and the remaining steps fail.
#[test]
fn an_execution_does_not_run_as_a_role_made_again_under_its_name() {
    if !require(&TOOLS) {
        return;
    }
    let args = vec!["--automation-step-delay-ms".to_owned(), "3000".to_owned()];
    let server = TestServer::start_with(Options { args, ..Options::default() });
    let (instance, _) = launch_and_lose_key(&server);
    let account = json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned();
    let file = |name: &str, text: &str| {
        let path = server.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        format!("file://{}", path.display())
    };
    let trust = file(
        "trust.json",
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    let everything =
        file("all.json", r#"{"Statement":[{"Effect":"Allow","Action":["ec2:*","ssm:*"],"Resource":"*"}]}"#);
    let make_role = || {
        server.aws_ok(&format!("iam create-role --role-name rescue --assume-role-policy-document {trust}"));
        server.aws_ok(&format!(
            "iam put-role-policy --role-name rescue --policy-name all --policy-document {everything}"
        ));
    };
    make_role();
    let out = server.aws_ok(&format!(
        "ssm start-automation-execution --document-name AWSSupport-ResetAccess \
         --parameters InstanceId={instance},AutomationAssumeRole=arn:aws:iam::{account}:role/rescue"
    ));
    let execution = json(&out)["AutomationExecutionId"].as_str().unwrap().to_owned();
    wait_for_step(&server, &execution, "stopInstance");
    server.aws_ok("iam delete-role-policy --role-name rescue --policy-name all");
    server.aws_ok("iam delete-role --role-name rescue");
    make_role();
    let ended = wait_for_end(&server, &execution);
    assert_eq!(ended["AutomationExecutionStatus"], "Failed", "{ended}");
    let failure = ended["FailureMessage"].as_str().unwrap_or_default();
    assert!(
        failure.contains(&format!("The provided role: arn:aws:iam::{account}:role/rescue can't be assumed.")),
        "{failure}"
    );
}

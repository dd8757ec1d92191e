//! CloudFormation with the real aws CLI and boto3: seed 004 (shared/seeds/004) from its first step, the
//! `AWS::EC2::KeyPair` stacks teams use instead of CreateKeyPair, rollbacks that leave nothing
//! behind, updates, CloudFormation's errors, service roles, and a crash in the middle of a
//! stack.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::reset_access::{launch_and_lose_key, ssh, wait_for_end};
use crate::support::{Options, TestServer, json, require};

const TOOLS: [&str; 4] = ["aws", "ssh", "ssh-keygen", "bwrap"];
const RESCUE_URL: &str =
    "https://s3.amazonaws.com/awssupport-ssm.us-east-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template";

/// Writes a template into the test's dir; returns its `file://` URL for `--template-body`.
fn template(server: &TestServer, name: &str, body: &str) -> String {
    let path = server.dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    format!("file://{}", path.display())
}

/// Polls DescribeStacks until the stack's status is no longer `*_IN_PROGRESS` (bounded:
/// 120 s); returns the stack.
pub(crate) fn settled(server: &TestServer, stack: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = json(&server.aws_ok(&format!("cloudformation describe-stacks --stack-name {stack}")));
        let status = got["Stacks"][0]["StackStatus"].as_str().unwrap_or_default().to_owned();
        if !status.ends_with("_IN_PROGRESS") {
            return got["Stacks"][0].clone();
        }
        assert!(Instant::now() < deadline, "stack {stack} did not settle: {got}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn output(stack: &Value, key: &str) -> String {
    let outputs = stack["Outputs"].as_array().cloned().unwrap_or_default();
    let found = outputs.iter().find(|o| o["OutputKey"] == key).unwrap_or_else(|| panic!("no output {key}: {stack}"));
    found["OutputValue"].as_str().unwrap().to_owned()
}

/// `(LogicalResourceId, ResourceStatus, ResourceStatusReason)`, oldest first.
fn events(server: &TestServer, stack: &str) -> Vec<(String, String, String)> {
    let got = json(&server.aws_ok(&format!("cloudformation describe-stack-events --stack-name {stack}")));
    let mut found: Vec<(String, String, String)> = got["StackEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("LogicalResourceId"), text("ResourceStatus"), text("ResourceStatusReason"))
        })
        .collect();
    found.reverse();
    found
}

fn private_key_file(server: &TestServer, name: &str, text: &str) -> std::path::PathBuf {
    let path = server.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    path
}

/// Seed 004 as written: the EC2Rescue role stack from its S3 URL with CAPABILITY_IAM, its
/// AssumeRole output given to AWSSupport-ResetAccess with the SubnetId and t2.small, the new
/// key from Parameter Store, and ssh; CloudTrail shows the steps as the assumed role.
#[test]
fn seed_004_runs_from_its_first_step() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let (instance, ip) = launch_and_lose_key(&server);

    // 1. The stack needs CAPABILITY_IAM, as the console's acknowledgement says.
    let create = format!("cloudformation create-stack --stack-name EC2RescueRole --template-url {RESCUE_URL}");
    let refused = server.aws_err(&create, "InsufficientCapabilitiesException");
    assert!(refused.contains("Requires capabilities : [CAPABILITY_IAM]"), "{refused}");
    let created = json(&server.aws_ok(&format!("{create} --capabilities CAPABILITY_IAM")));
    assert!(created["StackId"].as_str().unwrap().starts_with("arn:aws:cloudformation:us-east-1:"), "{created}");
    server.aws_ok("cloudformation wait stack-create-complete --stack-name EC2RescueRole");

    // 2. Copy the AssumeRole output.
    let stack = settled(&server, "EC2RescueRole");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    let role = output(&stack, "AssumeRole");
    let account = json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned();
    assert!(role.starts_with(&format!("arn:aws:iam::{account}:role/EC2RescueRole-AssumeRole-")), "{role}");
    let role_name = role.rsplit('/').next().unwrap().to_owned();
    let trust = json(&server.aws_ok(&format!("iam get-role --role-name {role_name}")));
    assert_eq!(trust["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"], "ssm.amazonaws.com");

    // 3. Run AWSSupport-ResetAccess with the instance, its subnet, t2.small and the role.
    let subnet = server
        .aws_ok(&format!(
            "ec2 describe-instances --instance-ids {instance} --query Reservations[0].Instances[0].SubnetId --output text"
        ))
        .trim()
        .to_owned();
    let started = json(&server.aws_ok(&format!(
        "ssm start-automation-execution --document-name AWSSupport-ResetAccess --parameters \
         InstanceId={instance},EC2RescueInstanceType=t2.small,SubnetId={subnet},AutomationAssumeRole={role}"
    )));
    let execution = started["AutomationExecutionId"].as_str().unwrap().to_owned();
    let ended = wait_for_end(&server, &execution);
    assert_eq!(ended["AutomationExecutionStatus"], "Success", "{ended}");

    // 4. The regenerated key is in Parameter Store; chmod 400 and log in.
    let key = server.aws_ok(&format!(
        "ssm get-parameter --name /ec2rl/openssh/{instance}/key --with-decryption --query Parameter.Value --output text"
    ));
    let key = private_key_file(&server, "recovered.pem", &key);
    let out = ssh(&server, &key, &ip, "id -un");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ec2-user");

    // 5. The steps ran as the role CloudFormation made, and the role was made by the caller
    // through CloudFormation.
    let events = json(
        &server
            .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=StopInstances"),
    );
    let event: Value = serde_json::from_str(events["Events"][0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(event["userIdentity"]["type"], "AssumedRole", "{event}");
    assert_eq!(event["userIdentity"]["arn"], format!("arn:aws:sts::{account}:assumed-role/{role_name}/{execution}"));
    let made = json(
        &server.aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=CreateRole"),
    );
    let made: Value = serde_json::from_str(made["Events"][0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(made["sourceIPAddress"], "cloudformation.amazonaws.com", "{made}");
    assert_eq!(made["userIdentity"]["arn"], format!("arn:aws:iam::{account}:root"));
}

const KEY_PAIR_STACK: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: A key pair, a group that lets SSH in, and an instance that uses both
Parameters:
  KeyName:
    Type: String
    AllowedPattern: "[a-z][a-z0-9-]*"
  ImageId:
    Type: AWS::EC2::Image::Id
    Default: ami-keyfleet-linux
Resources:
  Key:
    Type: AWS::EC2::KeyPair
    Properties:
      KeyName: !Ref KeyName
      KeyType: ed25519
      Tags:
        - Key: team
          Value: ops
  Ssh:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: !Sub "SSH into ${AWS::StackName}"
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 22
          ToPort: 22
          CidrIp: 0.0.0.0/0
  Server:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref ImageId
      InstanceType: t3.micro
      KeyName: !Ref Key
      SecurityGroupIds:
        - !GetAtt Ssh.GroupId
      Tags:
        - Key: Name
          Value: !Join ["-", [!Ref "AWS::StackName", server]]
Outputs:
  KeyPairId:
    Value: !GetAtt Key.KeyPairId
  Fingerprint:
    Value: !GetAtt Key.KeyFingerprint
  Address:
    Value: !GetAtt Server.PublicIp
  InstanceId:
    Value: !Ref Server
  GroupId:
    Value: !GetAtt Ssh.GroupId
"#;

/// The way many teams make key pairs: `AWS::EC2::KeyPair` in a template. Its private key is
/// the SecureString `/ec2/keypair/<key-pair-id>`, an instance of the stack takes it, and
/// deleting the stack takes the key pair, the parameter, the group and the instance away.
#[test]
fn a_key_pair_stack_keeps_its_private_key_in_parameter_store_until_deleted() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let body = template(&server, "key-pair.yaml", KEY_PAIR_STACK);
    let refused = server.aws_err(
        &format!("cloudformation create-stack --stack-name fleet --template-body {body} --parameters ParameterKey=KeyName,ParameterValue=Fleet_Key"),
        "ValidationError",
    );
    assert!(refused.contains("Parameter 'KeyName' must match pattern [a-z][a-z0-9-]*"), "{refused}");
    server.aws_ok(&format!(
        "cloudformation create-stack --stack-name fleet --template-body {body} --parameters ParameterKey=KeyName,ParameterValue=fleet-key"
    ));
    let stack = settled(&server, "fleet");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    let key_pair_id = output(&stack, "KeyPairId");
    let described = json(&server.aws_ok("ec2 describe-key-pairs --key-names fleet-key"));
    assert_eq!(described["KeyPairs"][0]["KeyPairId"], key_pair_id.as_str());
    assert_eq!(described["KeyPairs"][0]["KeyFingerprint"], output(&stack, "Fingerprint").as_str());
    assert_eq!(described["KeyPairs"][0]["Tags"], serde_json::json!([{"Key": "team", "Value": "ops"}]));

    let parameter = format!("/ec2/keypair/{key_pair_id}");
    let stored = json(&server.aws_ok(&format!("ssm get-parameter --name {parameter} --with-decryption")));
    assert_eq!(stored["Parameter"]["Type"], "SecureString");
    let key = private_key_file(&server, "fleet-key.pem", stored["Parameter"]["Value"].as_str().unwrap());
    let public = crate::support::run_ok("ssh-keygen", &["-y", "-f", key.to_str().unwrap()]);
    assert!(public.starts_with("ssh-ed25519 "), "{public}");

    let instance = output(&stack, "InstanceId");
    let running = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {instance}")));
    let running = &running["Reservations"][0]["Instances"][0];
    assert_eq!(running["KeyName"], "fleet-key");
    assert_eq!(running["SecurityGroups"][0]["GroupId"], output(&stack, "GroupId").as_str());
    assert!(running["Tags"].as_array().unwrap().contains(&serde_json::json!({"Key": "Name", "Value": "fleet-server"})));
    let out = ssh(&server, &key, &output(&stack, "Address"), "hostname -s");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let resources = json(&server.aws_ok("cloudformation list-stack-resources --stack-name fleet"));
    let physical: Vec<(String, String)> = resources["StackResourceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["LogicalResourceId"].as_str().unwrap().into(), r["PhysicalResourceId"].as_str().unwrap().into()))
        .collect();
    assert!(physical.contains(&("Key".into(), "fleet-key".into())), "{physical:?}");
    assert!(physical.contains(&("Server".into(), instance.clone())), "{physical:?}");
    let template_back = json(&server.aws_ok("cloudformation get-template --stack-name fleet"));
    assert_eq!(template_back["TemplateBody"], KEY_PAIR_STACK, "YAML comes back as given");

    server.aws_ok("cloudformation delete-stack --stack-name fleet");
    server.aws_ok("cloudformation wait stack-delete-complete --stack-name fleet");
    server.aws_err("ec2 describe-key-pairs --key-names fleet-key", "InvalidKeyPair.NotFound");
    server.aws_err(&format!("ssm get-parameter --name {parameter}"), "ParameterNotFound");
    let gone = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {instance}")));
    assert_eq!(gone["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated");
    server.aws_err(
        &format!("ec2 describe-security-groups --group-ids {}", output(&stack, "GroupId")),
        "InvalidGroup.NotFound",
    );
    let missing = server.aws_err("cloudformation describe-stacks --stack-name fleet", "ValidationError");
    assert!(missing.contains("Stack with id fleet does not exist"), "{missing}");
    let listed = json(&server.aws_ok("cloudformation list-stacks --stack-status-filter DELETE_COMPLETE"));
    assert_eq!(listed["StackSummaries"][0]["StackName"], "fleet");
}

/// A resource that fails rolls the stack back: what was made is deleted, in reverse, and
/// nothing is left; the failing resource's event carries EC2's message. With
/// `--on-failure DO_NOTHING` what was made stays until the stack is deleted.
#[test]
fn a_failing_resource_rolls_the_stack_back_and_leaves_nothing() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let body = template(
        &server,
        "broken.json",
        r#"{"Resources": {
            "Key": {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": "doomed"}},
            "Setting": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/app/key", "Type": "String", "Value": {"Ref": "Key"}}},
            "Server": {"Type": "AWS::EC2::Instance", "DependsOn": "Setting", "Properties": {"ImageId": "ami-00000000000000000", "KeyName": {"Ref": "Key"}}}
        }}"#,
    );
    server.aws_ok(&format!("cloudformation create-stack --stack-name broken --template-body {body}"));
    let waited = server.aws("cloudformation wait stack-create-complete --stack-name broken");
    assert!(!waited.status.success(), "the waiter sees the rollback");
    let stack = settled(&server, "broken");
    assert_eq!(stack["StackStatus"], "ROLLBACK_COMPLETE", "{stack}");
    assert_eq!(
        stack["StackStatusReason"],
        "The following resource(s) failed to create: [Server]. Rollback requested by user."
    );
    let seen = events(&server, "broken");
    let failed = seen.iter().find(|(l, s, _)| l == "Server" && s == "CREATE_FAILED").expect("Server failed");
    assert!(failed.2.contains("InvalidAMIID.NotFound"), "{failed:?}");
    let order: Vec<(&str, &str)> =
        seen.iter().filter(|(_, s, _)| s.ends_with("_COMPLETE")).map(|(l, s, _)| (l.as_str(), s.as_str())).collect();
    assert_eq!(
        order,
        [
            ("Key", "CREATE_COMPLETE"),
            ("Setting", "CREATE_COMPLETE"),
            ("Server", "DELETE_COMPLETE"),
            ("Setting", "DELETE_COMPLETE"),
            ("Key", "DELETE_COMPLETE"),
            ("broken", "ROLLBACK_COMPLETE"),
        ]
    );
    server.aws_err("ec2 describe-key-pairs --key-names doomed", "InvalidKeyPair.NotFound");
    server.aws_err("ssm get-parameter --name /app/key", "ParameterNotFound");
    let parameters = json(&server.aws_ok("ssm describe-parameters"));
    assert_eq!(parameters["Parameters"], serde_json::json!([]), "no /ec2/keypair/ parameter is left either");
    server
        .aws_err(&format!("cloudformation update-stack --stack-name broken --template-body {body}"), "ValidationError");

    // DO_NOTHING: the made resources stay, the stack is CREATE_FAILED; deleting takes them.
    server.aws_ok("cloudformation delete-stack --stack-name broken");
    server.aws_ok("cloudformation wait stack-delete-complete --stack-name broken");
    server.aws_ok(&format!(
        "cloudformation create-stack --stack-name kept --template-body {body} --on-failure DO_NOTHING"
    ));
    let stack = settled(&server, "kept");
    assert_eq!(stack["StackStatus"], "CREATE_FAILED", "{stack}");
    server.aws_ok("ec2 describe-key-pairs --key-names doomed");
    server.aws_ok("cloudformation delete-stack --stack-name kept");
    assert_eq!(
        settled(
            &server,
            json(&server.aws_ok("cloudformation list-stacks"))["StackSummaries"][0]["StackId"].as_str().unwrap()
        )["StackStatus"],
        "DELETE_COMPLETE"
    );
    server.aws_err("ec2 describe-key-pairs --key-names doomed", "InvalidKeyPair.NotFound");
}

/// Updates: a parameter changed in place, nothing to update, `UsePreviousValue`, and a
/// failed update rolled back to what was there.
#[test]
fn updates_change_resources_in_place_and_roll_back_when_one_fails() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let body = |extra: &str| {
        let text = format!(
            r#"{{"Parameters": {{"Greeting": {{"Type": "String", "AllowedValues": ["hello", "bonjour"]}}}},
                "Resources": {{"Setting": {{"Type": "AWS::SSM::Parameter", "Properties": {{"Name": "/app/greeting", "Type": "String", "Value": {{"Ref": "Greeting"}}}}}}{extra}}},
                "Outputs": {{"Greeting": {{"Value": {{"Fn::GetAtt": ["Setting", "Value"]}}}}}}}}"#
        );
        template(&server, &format!("update-{}.json", extra.len()), &text)
    };
    let first = body("");
    server.aws_ok(&format!(
        "cloudformation create-stack --stack-name app --template-body {first} --parameters ParameterKey=Greeting,ParameterValue=hello"
    ));
    assert_eq!(settled(&server, "app")["StackStatus"], "CREATE_COMPLETE");
    let refused = server.aws_err(
        &format!("cloudformation update-stack --stack-name app --template-body {first} --parameters ParameterKey=Greeting,ParameterValue=salut"),
        "ValidationError",
    );
    assert!(refused.contains("Parameter 'Greeting' must be one of AllowedValues"), "{refused}");
    server.aws_ok(&format!(
        "cloudformation update-stack --stack-name app --template-body {first} --parameters ParameterKey=Greeting,ParameterValue=bonjour"
    ));
    let stack = settled(&server, "app");
    assert_eq!(stack["StackStatus"], "UPDATE_COMPLETE", "{stack}");
    assert_eq!(output(&stack, "Greeting"), "bonjour");
    let value = json(&server.aws_ok("ssm get-parameter --name /app/greeting"));
    assert_eq!(
        (value["Parameter"]["Value"].as_str(), value["Parameter"]["Version"].as_i64()),
        (Some("bonjour"), Some(2))
    );
    let none = server.aws_err(
        "cloudformation update-stack --stack-name app --use-previous-template --parameters ParameterKey=Greeting,UsePreviousValue=true",
        "ValidationError",
    );
    assert!(none.contains("No updates are to be performed."), "{none}");

    // An added resource that fails: the update is undone and the parameter keeps its value.
    let failing =
        body(r#", "Server": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-00000000000000000"}}"#);
    server.aws_ok(&format!(
        "cloudformation update-stack --stack-name app --template-body {failing} --parameters ParameterKey=Greeting,ParameterValue=hello"
    ));
    let stack = settled(&server, "app");
    assert_eq!(stack["StackStatus"], "UPDATE_ROLLBACK_COMPLETE", "{stack}");
    assert_eq!(output(&stack, "Greeting"), "bonjour");
    let value = json(&server.aws_ok("ssm get-parameter --name /app/greeting"));
    assert_eq!(value["Parameter"]["Value"], "bonjour", "changed back: {value}");
    let template_back = json(&server.aws_ok("cloudformation get-template --stack-name app"));
    // The CLI shows a JSON template as the object it parses it into.
    assert!(!template_back["TemplateBody"].to_string().contains("Server"), "the old template is back");
}

/// CloudFormation's own errors, as the aws CLI shows them.
#[test]
fn templates_and_requests_are_refused_with_cloudformations_errors() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let refuse = |name: &str, body: &str, code: &str, message: &str| {
        let url = template(&server, name, body);
        let stderr = server.aws_err(&format!("cloudformation create-stack --stack-name s --template-body {url}"), code);
        assert!(stderr.contains(message), "{name}: {stderr}");
    };
    refuse(
        "typo.json",
        r#"{"Resources": {"A": {"Type": "AWS::TypoHere::VPC"}}}"#,
        "ValidationError",
        "Template format error: Unrecognized resource types: [AWS::TypoHere::VPC]",
    );
    refuse(
        "none.json",
        r#"{"Description": "x"}"#,
        "ValidationError",
        "Template format error: At least one Resources member must be defined.",
    );
    refuse(
        "unresolved.yaml",
        "Resources:\n  A:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: !Ref Nope\n",
        "ValidationError",
        "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template",
    );
    refuse(
        "cycle.json",
        r#"{"Resources": {"A": {"Type": "AWS::SSM::Parameter", "DependsOn": "B"}, "B": {"Type": "AWS::SSM::Parameter", "DependsOn": "A"}}}"#,
        "ValidationError",
        "Circular dependency between resources: [A, B]",
    );
    refuse(
        "params.json",
        r#"{"Parameters": {"A": {"Type": "String"}, "B": {"Type": "Number"}}, "Resources": {"P": {"Type": "AWS::SSM::Parameter"}}}"#,
        "ValidationError",
        "Parameters: [A, B] must have values",
    );
    refuse("yaml.yaml", "Resources: [\n", "ValidationError", "Template format error: YAML not well-formed.");
    refuse(
        "named.json",
        r#"{"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}"#,
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_NAMED_IAM]",
    );
    let url = template(
        &server,
        "ok.json",
        r#"{"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}}}}"#,
    );
    let bad_name = server
        .aws_err(&format!("cloudformation create-stack --stack-name 1st --template-body {url}"), "ValidationError");
    assert!(bad_name.contains("Value '1st' at 'stackName' failed to satisfy constraint"), "{bad_name}");
    let unknown_url = server.aws_err(
        "cloudformation create-stack --stack-name s --template-url https://s3.amazonaws.com/my-bucket/app.template",
        "ValidationError",
    );
    assert!(unknown_url.contains("TemplateURL must be a supported URL."), "{unknown_url}");
    server.aws_ok(&format!("cloudformation create-stack --stack-name s --template-body {url}"));
    let exists = server.aws_err(
        &format!("cloudformation create-stack --stack-name s --template-body {url}"),
        "AlreadyExistsException",
    );
    assert!(exists.contains("Stack [s] already exists"), "{exists}");
    let missing = server.aws_err("cloudformation describe-stack-events --stack-name nope", "ValidationError");
    assert!(missing.contains("Stack [nope] does not exist"), "{missing}");
    let resource = server
        .aws_err("cloudformation describe-stack-resource --stack-name s --logical-resource-id Q", "ValidationError");
    assert!(resource.contains("Resource Q does not exist for stack s"), "{resource}");
    let unimplemented = server.aws_err(
        &format!("cloudformation create-stack --stack-name t --template-body {url} --notification-arns arn:aws:sns:us-east-1:123456789012:x"),
        "ValidationError",
    );
    assert!(unimplemented.contains("NotificationARNs"), "refused, not ignored: {unimplemented}");

    // ValidateTemplate tells the parameters and the capability the rescue template needs.
    let validated = json(&server.aws_ok(&format!("cloudformation validate-template --template-url {RESCUE_URL}")));
    assert_eq!(validated["Capabilities"], serde_json::json!(["CAPABILITY_IAM"]));
    assert_eq!(validated["CapabilitiesReason"], "The following resource(s) require capabilities: [AWS::IAM::Role]");
    let with_parameters = template(&server, "validate.yaml", KEY_PAIR_STACK);
    let validated =
        json(&server.aws_ok(&format!("cloudformation validate-template --template-body {with_parameters}")));
    let keys: Vec<&str> =
        validated["Parameters"].as_array().unwrap().iter().map(|p| p["ParameterKey"].as_str().unwrap()).collect();
    assert_eq!(keys, ["ImageId", "KeyName"]);
    assert_eq!(validated["Parameters"][0]["DefaultValue"], "ami-keyfleet-linux");
}

/// Outputs built with every intrinsic function, each against the User Guide's example, and
/// an export imported by a second stack (which then keeps the first from being deleted).
#[test]
fn intrinsic_functions_and_exports_give_the_documented_values() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let body = template(
        &server,
        "functions.yaml",
        r#"Parameters:
  Env:
    Type: String
    Default: prod
  Subnets:
    Type: CommaDelimitedList
    Default: subnet-a,subnet-b
Mappings:
  RegionMap:
    us-east-1:
      HVM64: ami-0ff8a91507f77f867
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Or [!Condition IsDev, !Equals [a, a]]]
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !If [IsProd, large, small]
  DevOnly:
    Type: AWS::SSM::Parameter
    Condition: IsDev
    Properties:
      Type: String
      Value: dev
Outputs:
  Join:
    Value: !Join [":", [a, b, c]]
  Select:
    Value: !Select [1, [apples, grapes, oranges]]
  SplitSelect:
    Value: !Select [2, !Split [",", "a,b,c"]]
  Sub:
    Value: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${Setting}"
  SubLiteral:
    Value: !Sub ["${!Literal}-${Name}", {Name: !GetAtt Setting.Value}]
  Base64:
    Value: !Base64 "AWS CloudFormation"
  FindInMap:
    Value: !FindInMap [RegionMap, !Ref "AWS::Region", HVM64]
  Zone:
    Value: !Select [0, !GetAZs ""]
  Subnets:
    Value: !Join [",", !Ref Subnets]
  Both:
    Value: !If [Both, yes, no]
  Exported:
    Value: !Ref Setting
    Export:
      Name: !Sub "${AWS::StackName}-setting"
"#,
    );
    server.aws_ok(&format!("cloudformation create-stack --stack-name functions --template-body {body}"));
    let stack = settled(&server, "functions");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    let account = json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned();
    let setting = output(&stack, "Exported");
    assert!(setting.starts_with("CFN-Setting-"), "a generated name: {setting}");
    let expected = [
        ("Join", "a:b:c".to_owned()),
        ("Select", "grapes".to_owned()),
        ("SplitSelect", "c".to_owned()),
        ("Sub", format!("arn:aws:ssm:us-east-1:{account}:parameter/{setting}")),
        ("SubLiteral", "${Literal}-large".to_owned()),
        ("Base64", "QVdTIENsb3VkRm9ybWF0aW9u".to_owned()),
        ("FindInMap", "ami-0ff8a91507f77f867".to_owned()),
        ("Zone", "us-east-1a".to_owned()),
        ("Subnets", "subnet-a,subnet-b".to_owned()),
        ("Both", "yes".to_owned()),
    ];
    for (key, value) in expected {
        assert_eq!(output(&stack, key), value, "{key}");
    }
    let resources = json(&server.aws_ok("cloudformation describe-stack-resources --stack-name functions"));
    assert_eq!(resources["StackResources"].as_array().unwrap().len(), 1, "DevOnly's condition is false");

    let importer = template(
        &server,
        "importer.json",
        r#"{"Resources": {"Copy": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Fn::ImportValue": "functions-setting"}}}}}"#,
    );
    server.aws_ok(&format!("cloudformation create-stack --stack-name importer --template-body {importer}"));
    assert_eq!(settled(&server, "importer")["StackStatus"], "CREATE_COMPLETE");
    let exports = json(&server.aws_ok("cloudformation list-exports"));
    assert_eq!(exports["Exports"][0]["Name"], "functions-setting");
    assert_eq!(exports["Exports"][0]["Value"], setting.as_str());
    let in_use = server.aws_err("cloudformation delete-stack --stack-name functions", "ValidationError");
    assert!(in_use.contains("Export functions-setting cannot be deleted as it is in use by importer"), "{in_use}");
}

/// With `--role-arn`, the caller needs `iam:PassRole` to CloudFormation and the role must
/// trust it; the resources are then made as the role's session. Without one, they are made
/// as the caller, whose missing permission fails the resource and rolls the stack back.
#[test]
fn resources_are_made_as_the_caller_or_the_stacks_service_role() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let account = json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned();
    let trust = template(
        &server,
        "trust.json",
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    server.aws_ok(&format!("iam create-role --role-name deployer --assume-role-policy-document {trust}"));
    let ssm_only =
        template(&server, "ssm.json", r#"{"Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*"}]}"#);
    server.aws_ok(&format!("iam put-role-policy --role-name deployer --policy-name ssm --policy-document {ssm_only}"));
    let role = format!("arn:aws:iam::{account}:role/deployer");
    let body = template(
        &server,
        "param.json",
        r#"{"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/deployed", "Type": "String", "Value": "v"}}}}"#,
    );
    let cfn_only = r#"{"Statement":[{"Effect":"Allow","Action":"cloudformation:*","Resource":"*"}]}"#;
    let operator = server.create_user("operator", Some(cfn_only));
    let create = |who, name: &str, extra: &str| {
        server.aws_as(who, &format!("cloudformation create-stack --stack-name {name} --template-body {body} {extra}"))
    };

    // Without PassRole the role cannot be given.
    let refused = create(&operator, "denied", &format!("--role-arn {role}"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("(AccessDenied)") && stderr.contains("iam:PassRole"), "{stderr}");

    // As the caller, without ssm:PutParameter: the resource fails and the stack rolls back.
    assert!(create(&operator, "as-caller", "").status.success());
    let stack = settled(&server, "as-caller");
    assert_eq!(stack["StackStatus"], "ROLLBACK_COMPLETE", "{stack}");
    let reason = events(&server, "as-caller").into_iter().find(|(l, s, _)| l == "P" && s == "CREATE_FAILED").unwrap().2;
    assert!(reason.contains("user/operator is not authorized to perform: ssm:PutParameter"), "{reason}");

    // With the role (and PassRole): made as the role's session.
    let passer = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"cloudformation:*","Resource":"*"}},
            {{"Effect":"Allow","Action":"iam:PassRole","Resource":"{role}","Condition":{{"StringEquals":{{"iam:PassedToService":"cloudformation.amazonaws.com"}}}}}}]}}"#
    );
    let deployer = server.create_user("deployer-user", Some(&passer));
    let out = create(&deployer, "as-role", &format!("--role-arn {role}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stack = settled(&server, "as-role");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    assert_eq!(stack["RoleARN"], role.as_str());
    let put = json(
        &server
            .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=PutParameter"),
    );
    let put: Value = serde_json::from_str(put["Events"][0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(put["userIdentity"]["type"], "AssumedRole", "{put}");
    assert_eq!(put["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"], "deployer");

    // GetSessionToken's own credentials change no stack: it would act as the long-term user.
    let session = json(&server.aws_ok_as(&deployer, "sts get-session-token"));
    let own = crate::support::Identity::from_credentials(&session["Credentials"]);
    let refused = server.aws_err_as(
        &own,
        &format!("cloudformation create-stack --stack-name own --template-body {body}"),
        "AccessDenied",
    );
    assert!(refused.contains("Credentials from GetSessionToken cannot create, update or delete stacks."), "{refused}");
    server.aws_err_as(&own, "cloudformation delete-stack --stack-name as-role", "AccessDenied");

    // A role that does not trust CloudFormation is refused at once.
    let ec2_trust = template(
        &server,
        "ec2-trust.json",
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    server.aws_ok(&format!("iam create-role --role-name ec2-only --assume-role-policy-document {ec2_trust}"));
    let refused = server.aws_err(
        &format!("cloudformation create-stack --stack-name untrusting --template-body {body} --role-arn arn:aws:iam::{account}:role/ec2-only"),
        "ValidationError",
    );
    assert!(refused.contains("is invalid or cannot be assumed"), "{refused}");
}

/// A stack in the middle of being made when the server is killed (between two of its
/// resources: each is preceded by a 2 s pause) is finished by the restarted server: every
/// resource exists once, and the stack completes.
#[test]
fn a_stack_survives_a_crash_in_the_middle() {
    if !require(&["aws"]) {
        return;
    }
    let args = vec!["--stack-step-delay-ms".to_owned(), "2000".to_owned()];
    let mut server = TestServer::start_with(Options { args, ..Options::default() });
    let resources: Vec<String> = (0..4)
        .map(|n| format!(r#""P{n}": {{"Type": "AWS::SSM::Parameter", "Properties": {{"Name": "/crash/p{n}", "Type": "String", "Value": "{n}"}}}}"#))
        .collect();
    let body = template(&server, "many.json", &format!(r#"{{"Resources": {{{}}}}}"#, resources.join(",")));
    server.aws_ok(&format!("cloudformation create-stack --stack-name many --template-body {body}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let complete =
        |server: &TestServer| events(server, "many").into_iter().filter(|(_, s, _)| s == "CREATE_COMPLETE").count();
    while complete(&server) < 2 {
        assert!(Instant::now() < deadline, "the stack never got half way");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.crash_and_restart();
    let stack = settled(&server, "many");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    assert!(complete(&server) > 2, "the restarted server made the rest");
    let names = json(&server.aws_ok("ssm get-parameters-by-path --path /crash"));
    assert_eq!(names["Parameters"].as_array().unwrap().len(), 4);
    let seen = events(&server, "many");
    for n in 0..4 {
        let done = seen.iter().filter(|(l, s, _)| *l == format!("P{n}") && s == "CREATE_COMPLETE").count();
        assert_eq!(done, 1, "P{n} completed once: {seen:?}");
    }
}

/// DeleteStack while the stack is still being made: the create stops at its next resource and
/// the stack is deleted with what it had made.
#[test]
fn a_stack_deleted_while_being_made_is_deleted_when_its_resource_is_done() {
    if !require(&["aws"]) {
        return;
    }
    let args = vec!["--stack-step-delay-ms".to_owned(), "1000".to_owned()];
    let server = TestServer::start_with(Options { args, ..Options::default() });
    let resources: Vec<String> = (0..4)
        .map(|n| format!(r#""P{n}": {{"Type": "AWS::SSM::Parameter", "Properties": {{"Name": "/doomed/p{n}", "Type": "String", "Value": "{n}"}}}}"#))
        .collect();
    let body = template(&server, "doomed.json", &format!(r#"{{"Resources": {{{}}}}}"#, resources.join(",")));
    let id = json(&server.aws_ok(&format!("cloudformation create-stack --stack-name doomed --template-body {body}")))
        ["StackId"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events(&server, "doomed").iter().any(|(_, s, _)| s == "CREATE_COMPLETE") {
        assert!(Instant::now() < deadline, "no resource was made");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.aws_ok("cloudformation delete-stack --stack-name doomed");
    let stack = settled(&server, &id);
    assert_eq!(stack["StackStatus"], "DELETE_COMPLETE", "{stack}");
    let left = json(&server.aws_ok("ssm get-parameters-by-path --path /doomed"));
    assert_eq!(left["Parameters"], serde_json::json!([]), "what was made went with the stack");
    let made = events(&server, &id).iter().filter(|(_, s, _)| s == "CREATE_COMPLETE").count();
    assert!(made < 4, "the create stopped early: {made} made");
}

/// The IAM resource types and a Parameter Store parameter type: a named role with an inline
/// policy from `AWS::IAM::Policy`, a managed policy attached to it and to a user, an instance
/// profile holding it, and the image id read from Parameter Store; deleting the stack takes
/// them all.
#[test]
fn iam_resources_and_parameter_store_parameters_are_made_and_taken_away() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.create_user("auditor", None);
    server.aws_ok("ssm put-parameter --name /images/linux --type String --value ami-keyfleet-linux");
    let body = template(
        &server,
        "iam.yaml",
        r#"Parameters:
  Image:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /images/linux
Resources:
  Deployer:
    Type: AWS::IAM::Role
    Properties:
      RoleName: deployer
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: ec2.amazonaws.com}
            Action: sts:AssumeRole
  Describe:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: describe
      Roles: [!Ref Deployer]
      PolicyDocument:
        Statement:
          - {Effect: Allow, Action: "ec2:Describe*", Resource: "*"}
  ReadKeys:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Description: read key pairs
      Roles: [!Ref Deployer]
      Users: [auditor]
      PolicyDocument:
        Statement:
          - {Effect: Allow, Action: "ec2:DescribeKeyPairs", Resource: "*"}
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Ref Image
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Roles: [!Ref Deployer]
Outputs:
  ProfileArn: {Value: !GetAtt Profile.Arn}
  RoleArn: {Value: !GetAtt Deployer.Arn}
  PolicyArn: {Value: !Ref ReadKeys}
  Image: {Value: !Ref Image}
"#,
    );
    let create = format!("cloudformation create-stack --stack-name iam --template-body {body}");
    let refused =
        server.aws_err(&format!("{create} --capabilities CAPABILITY_IAM"), "InsufficientCapabilitiesException");
    assert!(refused.contains("[CAPABILITY_NAMED_IAM]"), "{refused}");
    server.aws_ok(&format!("{create} --capabilities CAPABILITY_NAMED_IAM"));
    let stack = settled(&server, "iam");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    assert_eq!(output(&stack, "Image"), "ami-keyfleet-linux", "the parameter's value");
    assert_eq!(stack["Parameters"][0]["ResolvedValue"], "ami-keyfleet-linux");
    let account = json(&server.aws_ok("sts get-caller-identity"))["Account"].as_str().unwrap().to_owned();
    assert_eq!(output(&stack, "RoleArn"), format!("arn:aws:iam::{account}:role/deployer"));
    let policy_arn = output(&stack, "PolicyArn");
    assert!(policy_arn.starts_with(&format!("arn:aws:iam::{account}:policy/iam-ReadKeys-")), "{policy_arn}");

    let profiles = json(&server.aws_ok("iam list-instance-profiles-for-role --role-name deployer"));
    assert_eq!(profiles["InstanceProfiles"][0]["Arn"], output(&stack, "ProfileArn").as_str());
    let inline = json(&server.aws_ok("iam list-role-policies --role-name deployer"));
    assert_eq!(inline["PolicyNames"], serde_json::json!(["describe"]));
    let attached = json(&server.aws_ok("iam list-attached-user-policies --user-name auditor"));
    assert_eq!(attached["AttachedPolicies"][0]["PolicyArn"], policy_arn.as_str());
    let attached = json(&server.aws_ok("iam list-attached-role-policies --role-name deployer"));
    assert_eq!(attached["AttachedPolicies"][0]["PolicyArn"], policy_arn.as_str());

    server.aws_ok("cloudformation delete-stack --stack-name iam");
    server.aws_ok("cloudformation wait stack-delete-complete --stack-name iam");
    server.aws_err("iam get-role --role-name deployer", "NoSuchEntity");
    let profiles = json(&server.aws_ok("iam list-instance-profiles"));
    assert_eq!(profiles["InstanceProfiles"], serde_json::json!([]), "the profile went with the stack");
    server.aws_err(&format!("iam get-policy --policy-arn {policy_arn}"), "NoSuchEntity");
    let attached = json(&server.aws_ok("iam list-attached-user-policies --user-name auditor"));
    assert_eq!(attached["AttachedPolicies"], serde_json::json!([]));
    let missing = server.aws_err(
        &format!(
            "{create} --capabilities CAPABILITY_NAMED_IAM --parameters ParameterKey=Image,ParameterValue=/images/none"
        ),
        "ValidationError",
    );
    assert!(missing.contains("/images/none"), "{missing}");
}

/// boto3 as infrastructure code drives CloudFormation: create_stack with a YAML key pair
/// template, its waiters, outputs and exports, the private key from Parameter Store,
/// botocore's modeled exceptions, and delete_stack with its waiter.
#[test]
fn boto3_creates_waits_for_and_deletes_a_key_pair_stack() {
    if !require(&["boto3"]) {
        return;
    }
    let server = TestServer::start();
    let got = json(&server.boto3("boto3_cases.py", &["stacks"]));
    assert_eq!(got["stack_id"], true, "{got}");
    assert_eq!(got["status"], "CREATE_COMPLETE", "{got}");
    assert_eq!(got["private_key"], true, "{got}");
    assert_eq!(got["key_pair"], true, "{got}");
    assert_eq!(got["exports"], serde_json::json!(["py-key-id"]), "{got}");
    assert_eq!(got["duplicate"], "Stack [py] already exists", "{got}");
    assert_eq!(got["capabilities"], "Requires capabilities : [CAPABILITY_NAMED_IAM]", "{got}");
    assert_eq!(got["events"], true, "{got}");
    assert_eq!(got["after_delete"], serde_json::json!(["ValidationError", "Stack with id py does not exist", 400]));
    assert_eq!(got["key_after_delete"], "InvalidKeyPair.NotFound");
}

/// A stack goes on as the user who asked, pinned by the user's id: a user deleted and made
/// again under the same name in the middle of the stack is someone else, and nothing more
/// is made (or deleted) as them.
#[test]
fn a_user_made_again_under_the_callers_name_does_not_carry_on_its_stack() {
    if !require(&["aws"]) {
        return;
    }
    // Each resource waits 5 s: the user is replaced (a few calls) within one such pause, so
    // the next resource meets the new user with all its rights.
    let args = vec!["--stack-step-delay-ms".to_owned(), "5000".to_owned()];
    let server = TestServer::start_with(Options { args, ..Options::default() });
    let policy = r#"{"Statement":[{"Effect":"Allow","Action":["ssm:*","cloudformation:*"],"Resource":"*"}]}"#;
    let dev = server.create_user("dev", Some(policy));
    let resources: Vec<String> = (0..3)
        .map(|n| format!(r#""P{n}": {{"Type": "AWS::SSM::Parameter", "Properties": {{"Name": "/pinned/p{n}", "Type": "String", "Value": "{n}"}}}}"#))
        .collect();
    let body = template(&server, "pinned.json", &format!(r#"{{"Resources": {{{}}}}}"#, resources.join(",")));
    server.aws_ok_as(&dev, &format!("cloudformation create-stack --stack-name pinned --template-body {body}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events(&server, "pinned").iter().any(|(_, s, _)| s == "CREATE_COMPLETE") {
        assert!(Instant::now() < deadline, "no resource was made");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The user goes, and another of the same name comes, with the same rights.
    let key = json(&server.aws_ok("iam list-access-keys --user-name dev"))["AccessKeyMetadata"][0]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    server.aws_ok(&format!("iam delete-access-key --user-name dev --access-key-id {key}"));
    server.aws_ok("iam delete-user-policy --user-name dev --policy-name main");
    server.aws_ok("iam delete-user --user-name dev");
    server.create_user("dev", Some(policy));

    let stack = settled(&server, "pinned");
    assert_eq!(stack["StackStatus"], "ROLLBACK_FAILED", "nothing is made or deleted as the new dev: {stack}");
    let seen = events(&server, "pinned");
    let refused = seen.iter().find(|(_, s, _)| s == "CREATE_FAILED").expect("a resource failed");
    assert!(refused.2.contains("user/dev is no longer the identity that made the request"), "{refused:?}");
    let made = json(&server.aws_ok("ssm get-parameters-by-path --path /pinned"));
    assert!(made["Parameters"].as_array().unwrap().len() < 3, "{made}");
}

/// A policy on a stack's id holds whether a request names the stack by its id or its name.
#[test]
fn a_deny_on_a_stacks_id_holds_when_the_stack_is_named() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let body = template(
        &server,
        "kept.json",
        r#"{"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}}}}"#,
    );
    let id = json(&server.aws_ok(&format!("cloudformation create-stack --stack-name kept --template-body {body}")))
        ["StackId"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"cloudformation:*","Resource":"*"}},
            {{"Effect":"Deny","Action":"cloudformation:DeleteStack","Resource":"{id}"}}]}}"#
    );
    let operator = server.create_user("operator", Some(&policy));
    let refused = server.aws_err_as(&operator, "cloudformation delete-stack --stack-name kept", "AccessDenied");
    assert!(refused.contains(&format!("cloudformation:DeleteStack on resource: {id}")), "{refused}");
    server.aws_err_as(&operator, &format!("cloudformation delete-stack --stack-name {id}"), "AccessDenied");
    assert_eq!(settled(&server, "kept")["StackStatus"], "CREATE_COMPLETE");
}

const LAUNCH_TEMPLATE_STACK: &str = r#"Parameters:
  Size:
    Type: String
    Default: t3.micro
Resources:
  Key:
    Type: AWS::EC2::KeyPair
    Properties:
      KeyName: fleet-key
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateName: !Sub "${AWS::StackName}-web"
      VersionDescription: first
      TagSpecifications:
        - ResourceType: launch-template
          Tags:
            - Key: team
              Value: ops
      LaunchTemplateData:
        ImageId: ami-keyfleet-linux
        InstanceType: !Ref Size
        KeyName: !Ref Key
        MetadataOptions:
          HttpTokens: required
        TagSpecifications:
          - ResourceType: instance
            Tags:
              - Key: role
                Value: web
  Server:
    Type: AWS::EC2::Instance
    Properties:
      LaunchTemplate:
        LaunchTemplateId: !Ref Template
        Version: !GetAtt Template.LatestVersionNumber
Outputs:
  TemplateId:
    Value: !GetAtt Template.LaunchTemplateId
  Default:
    Value: !GetAtt Template.DefaultVersionNumber
  Latest:
    Value: !GetAtt Template.LatestVersionNumber
  Server:
    Value: !Ref Server
"#;

/// `AWS::EC2::LaunchTemplate`: made with its data and tags, launched from by an instance of
/// the stack; a changed data block is a new version that does not become the default, as on
/// CloudFormation; deleting the stack deletes the template.
#[test]
fn a_launch_template_stack_versions_its_template_and_launches_from_it() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let body = template(&server, "launch-template.yaml", LAUNCH_TEMPLATE_STACK);
    server.aws_ok(&format!("cloudformation create-stack --stack-name fleet --template-body {body}"));
    let stack = settled(&server, "fleet");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    let id = output(&stack, "TemplateId");
    assert!(id.starts_with("lt-"), "{id}");
    assert_eq!((output(&stack, "Default"), output(&stack, "Latest")), ("1".into(), "1".into()));
    let described = json(&server.aws_ok("ec2 describe-launch-templates --launch-template-names fleet-web"));
    assert_eq!(described["LaunchTemplates"][0]["LaunchTemplateId"], id.as_str());
    assert!(
        described["LaunchTemplates"][0]["Tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"Key": "team", "Value": "ops"}))
    );
    let server_id = output(&stack, "Server");
    let instance = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {server_id}")));
    let instance = &instance["Reservations"][0]["Instances"][0];
    assert_eq!(instance["KeyName"], "fleet-key");
    assert_eq!(instance["MetadataOptions"]["HttpTokens"], "required");
    let tags = instance["Tags"].as_array().unwrap();
    assert!(tags.contains(&serde_json::json!({"Key": "aws:ec2launchtemplate:id", "Value": id})), "{tags:?}");
    assert!(tags.contains(&serde_json::json!({"Key": "role", "Value": "web"})), "{tags:?}");

    server.aws_ok(&format!(
        "cloudformation update-stack --stack-name fleet --template-body {body} --parameters ParameterKey=Size,ParameterValue=t3.small"
    ));
    let stack = settled(&server, "fleet");
    assert_eq!(stack["StackStatus"], "UPDATE_COMPLETE", "{stack}");
    assert_eq!(output(&stack, "TemplateId"), id, "the same template, not a replacement");
    assert_eq!((output(&stack, "Default"), output(&stack, "Latest")), ("1".into(), "2".into()));
    let latest = json(
        &server.aws_ok(&format!("ec2 describe-launch-template-versions --launch-template-id {id} --versions $Latest")),
    );
    assert_eq!(latest["LaunchTemplateVersions"][0]["LaunchTemplateData"]["InstanceType"], "t3.small");
    assert_eq!(latest["LaunchTemplateVersions"][0]["DefaultVersion"], false);

    server.aws_ok("cloudformation delete-stack --stack-name fleet");
    server.aws_ok("cloudformation wait stack-delete-complete --stack-name fleet");
    server
        .aws_err(&format!("ec2 delete-launch-template --launch-template-id {id}"), "InvalidLaunchTemplateId.NotFound");
}

const GROUP_STACK: &str = r#"Parameters:
  Size:
    Type: String
    Default: "2"
Resources:
  Key:
    Type: AWS::EC2::KeyPair
    Properties:
      KeyName: fleet-key
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        ImageId: ami-keyfleet-linux
        InstanceType: t3.micro
        KeyName: !Ref Key
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      LaunchTemplate:
        LaunchTemplateId: !Ref Template
        Version: !GetAtt Template.LatestVersionNumber
      MinSize: !Ref Size
      MaxSize: "4"
      AvailabilityZones: !GetAZs ""
      Tags:
        - Key: stack
          Value: !Ref AWS::StackName
          PropagateAtLaunch: true
Outputs:
  Group:
    Value: !Ref Group
"#;

/// `AWS::AutoScaling::AutoScalingGroup` from a stack's launch template: the stack completes
/// once MinSize instances are in service, an update changes the group in place, and deleting
/// the stack deletes the group and terminates its instances.
#[test]
fn a_group_stack_fills_its_group_changes_it_in_place_and_deletes_it() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let body = template(&server, "group.yaml", GROUP_STACK);
    server.aws_ok(&format!("cloudformation create-stack --stack-name fleet --template-body {body}"));
    let stack = settled(&server, "fleet");
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack}");
    let name = output(&stack, "Group");
    assert!(name.starts_with("fleet-Group-"), "{name}");
    let group =
        json(&server.aws_ok(&format!("autoscaling describe-auto-scaling-groups --auto-scaling-group-names {name}")));
    let group = &group["AutoScalingGroups"][0];
    let serving: Vec<&Value> =
        group["Instances"].as_array().unwrap().iter().filter(|i| i["LifecycleState"] == "InService").collect();
    assert_eq!(serving.len(), 2, "{group}");
    let first = serving[0]["InstanceId"].as_str().unwrap().to_owned();
    let tags = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {first}")));
    let tags = tags["Reservations"][0]["Instances"][0]["Tags"].as_array().unwrap().clone();
    assert!(tags.contains(&serde_json::json!({"Key": "stack", "Value": "fleet"})), "{tags:?}");

    server.aws_ok(&format!(
        "cloudformation update-stack --stack-name fleet --template-body {body} --parameters ParameterKey=Size,ParameterValue=3"
    ));
    let stack = settled(&server, "fleet");
    assert_eq!(stack["StackStatus"], "UPDATE_COMPLETE", "{stack}");
    assert_eq!(output(&stack, "Group"), name, "changed in place");
    let group =
        json(&server.aws_ok(&format!("autoscaling describe-auto-scaling-groups --auto-scaling-group-names {name}")));
    assert_eq!(group["AutoScalingGroups"][0]["MinSize"], 3);

    server.aws_ok("cloudformation delete-stack --stack-name fleet");
    server.aws_ok("cloudformation wait stack-delete-complete --stack-name fleet");
    let gone =
        json(&server.aws_ok(&format!("autoscaling describe-auto-scaling-groups --auto-scaling-group-names {name}")));
    assert_eq!(gone["AutoScalingGroups"], serde_json::json!([]));
    let instance = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {first}")));
    let state = instance["Reservations"][0]["Instances"][0]["State"]["Name"].as_str().unwrap().to_owned();
    assert!(state == "shutting-down" || state == "terminated", "{state}");
}

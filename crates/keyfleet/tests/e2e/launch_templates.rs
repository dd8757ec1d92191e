//! EC2 launch templates with the aws CLI: versions, `$Latest` / `$Default`, launches from a
//! template with the request's values on top, and a deleted key pair failing the launch
//! rather than the template (seed 003's warning, without Auto Scaling).

use crate::instances::{TOOLS, create_key, describe, ssh_ok, ssh_refused, wait_for_state};
use crate::support::{TestServer, json, require};

fn text(value: &serde_json::Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("{pointer} in {value}")).to_owned()
}

/// The instance a `run-instances` answer launched, once it runs: (id, address).
fn launched(server: &TestServer, answer: &str) -> (String, String) {
    let id = text(&json(answer), "/Instances/0/InstanceId");
    wait_for_state(server, &id, "running");
    let ip = text(&describe(server, &id), "/PublicIpAddress");
    (id, ip)
}

fn tag(instance: &serde_json::Value, key: &str) -> Option<String> {
    instance["Tags"].as_array()?.iter().find(|t| t["Key"] == key).map(|t| text(t, "/Value"))
}

const WEB_DATA: &str = r#"{"ImageId":"ami-keyfleet-linux","InstanceType":"t3.micro","KeyName":"fleet-a","MetadataOptions":{"HttpTokens":"required"},"TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"role","Value":"web"}]}]}"#;

#[test]
fn templates_are_versioned_and_launch_with_the_requests_values_on_top() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key_a = create_key(&server, "fleet-a");
    let key_b = create_key(&server, "fleet-b");

    let created = json(&server.aws_ok(&format!(
        "ec2 create-launch-template --launch-template-name web --version-description first \
         --launch-template-data {WEB_DATA} --tag-specifications ResourceType=launch-template,Tags=[{{Key=team,Value=ops}}]"
    )));
    let template = &created["LaunchTemplate"];
    let id = text(template, "/LaunchTemplateId");
    assert!(id.starts_with("lt-") && id.len() == 20, "{id}");
    assert_eq!(
        (template["DefaultVersionNumber"].as_i64(), template["LatestVersionNumber"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(text(template, "/CreatedBy").starts_with("arn:aws:iam::"), "{template}");
    assert_eq!(template["Tags"], serde_json::json!([{"Key": "team", "Value": "ops"}]));

    let taken = server.aws_err(
        "ec2 create-launch-template --launch-template-name web --launch-template-data ImageId=ami-keyfleet-linux",
        "InvalidLaunchTemplateName.AlreadyExistsException",
    );
    assert!(taken.contains("Launch template name already in use."), "{taken}");
    server.aws_err(
        "ec2 create-launch-template --launch-template-name web* --launch-template-data ImageId=ami-keyfleet-linux",
        "InvalidLaunchTemplateName.MalformedException",
    );
    // Not implemented, so refused rather than dropped.
    server.aws_err(
        "ec2 create-launch-template --launch-template-name spot --launch-template-data InstanceMarketOptions={MarketType=spot}",
        "UnsupportedOperation",
    );

    // Version 2 starts from version 1 and changes the key; the default stays at 1.
    let v2 = json(&server.aws_ok(
        "ec2 create-launch-template-version --launch-template-name web --source-version 1 \
         --version-description rotate --launch-template-data KeyName=fleet-b",
    ));
    let v2 = &v2["LaunchTemplateVersion"];
    assert_eq!(v2["VersionNumber"], 2);
    assert_eq!(v2["DefaultVersion"], false);
    assert_eq!(text(v2, "/LaunchTemplateData/KeyName"), "fleet-b");
    assert_eq!(text(v2, "/LaunchTemplateData/ImageId"), "ami-keyfleet-linux");
    assert_eq!(text(v2, "/LaunchTemplateData/MetadataOptions/HttpTokens"), "required");

    let listed = json(&server.aws_ok("ec2 describe-launch-templates --launch-template-names web"));
    assert_eq!(listed["LaunchTemplates"][0]["LatestVersionNumber"], 2);
    assert_eq!(listed["LaunchTemplates"][0]["DefaultVersionNumber"], 1);
    let filtered = json(&server.aws_ok("ec2 describe-launch-templates --filters Name=tag:team,Values=ops"));
    assert_eq!(text(&filtered, "/LaunchTemplates/0/LaunchTemplateId"), id);
    server.aws_ok(&format!("ec2 create-tags --resources {id} --tags Key=stage,Value=prod"));
    let tags = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=launch-template"));
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2, "{tags}");
    server.aws_err(
        "ec2 create-tags --resources lt-0123456789abcdef0 --tags Key=a,Value=b",
        "InvalidLaunchTemplateId.NotFound",
    );
    let missing = server.aws_err(
        "ec2 describe-launch-templates --launch-template-names nope",
        "InvalidLaunchTemplateName.NotFoundException",
    );
    assert!(missing.contains("At least one of the launch templates specified in the request does not exist."));

    let version_of = |spec: &str| -> Vec<i64> {
        let out =
            json(&server.aws_ok(&format!("ec2 describe-launch-template-versions --launch-template-id {id} {spec}")));
        out["LaunchTemplateVersions"].as_array().unwrap().iter().map(|v| v["VersionNumber"].as_i64().unwrap()).collect()
    };
    assert_eq!(version_of("--versions $Latest"), [2]);
    assert_eq!(version_of("--versions $Default"), [1]);
    assert_eq!(version_of(""), [2, 1]);
    assert_eq!(version_of("--min-version 2"), [2]);
    assert_eq!(version_of("--filters Name=key-name,Values=fleet-a"), [1]);
    let every = json(&server.aws_ok("ec2 describe-launch-template-versions --versions $Latest"));
    assert_eq!(every["LaunchTemplateVersions"].as_array().unwrap().len(), 1);
    server.aws_err("ec2 describe-launch-template-versions --versions 1", "InvalidParameterValue");
    let absent = server.aws_err(
        &format!("ec2 describe-launch-template-versions --launch-template-id {id} --versions 9"),
        "InvalidLaunchTemplateId.VersionNotFound",
    );
    assert!(absent.contains(&format!("Could not find the specified version 9 for the launch template with ID {id}.")));

    // Without a version the default (1) launches: its key, type, tags and IMDS setting.
    let (first, first_ip) =
        launched(&server, &server.aws_ok("ec2 run-instances --launch-template LaunchTemplateName=web"));
    let instance = describe(&server, &first);
    assert_eq!(text(&instance, "/KeyName"), "fleet-a");
    assert_eq!(text(&instance, "/InstanceType"), "t3.micro");
    assert_eq!(text(&instance, "/MetadataOptions/HttpTokens"), "required");
    assert_eq!(tag(&instance, "role").as_deref(), Some("web"));
    assert_eq!(tag(&instance, "aws:ec2launchtemplate:id"), Some(id.clone()));
    assert_eq!(tag(&instance, "aws:ec2launchtemplate:version").as_deref(), Some("1"));
    assert_eq!(ssh_ok(&server, &key_a, &first_ip, "whoami"), "ec2-user\n");

    // $Latest, with the request's instance type over the template's.
    let (second, second_ip) = launched(
        &server,
        &server.aws_ok(&format!(
            "ec2 run-instances --launch-template LaunchTemplateId={id},Version=$Latest --instance-type t3.small"
        )),
    );
    let instance = describe(&server, &second);
    assert_eq!(text(&instance, "/KeyName"), "fleet-b");
    assert_eq!(text(&instance, "/InstanceType"), "t3.small");
    assert_eq!(tag(&instance, "aws:ec2launchtemplate:version").as_deref(), Some("2"));
    assert_eq!(ssh_ok(&server, &key_b, &second_ip, "whoami"), "ec2-user\n");
    ssh_refused(&server, &key_a, &second_ip);

    // The default moves to 2; the default version cannot be deleted, others can.
    let modified = json(&server.aws_ok("ec2 modify-launch-template --launch-template-name web --default-version 2"));
    assert_eq!(modified["LaunchTemplate"]["DefaultVersionNumber"], 2);
    server.aws_err(
        "ec2 modify-launch-template --launch-template-name web --default-version 5",
        "InvalidLaunchTemplateId.VersionNotFound",
    );
    let deleted = json(
        &server.aws_ok(&format!("ec2 delete-launch-template-versions --launch-template-id {id} --versions 2 1 7")),
    );
    let ok: Vec<i64> = deleted["SuccessfullyDeletedLaunchTemplateVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VersionNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(ok, [1]);
    let refused = deleted["UnsuccessfullyDeletedLaunchTemplateVersions"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{deleted}");
    assert_eq!(refused[1]["ResponseError"]["Code"], "launchTemplateVersionDoesNotExist");

    // The template is not checked against the key pair; the launch is.
    server.aws_ok("ec2 delete-key-pair --key-name fleet-b");
    let gone = server.aws_err("ec2 run-instances --launch-template LaunchTemplateName=web", "InvalidKeyPair.NotFound");
    assert!(gone.contains("The key pair 'fleet-b' does not exist"), "{gone}");
    // Instances already running keep their key.
    assert_eq!(ssh_ok(&server, &key_b, &second_ip, "whoami"), "ec2-user\n");

    // A template without an image launches only with the request's.
    server
        .aws_ok("ec2 create-launch-template --launch-template-name bare --launch-template-data InstanceType=t3.micro");
    server.aws_err("ec2 run-instances --launch-template LaunchTemplateName=bare", "MissingParameter");
    server.aws_ok("ec2 run-instances --launch-template LaunchTemplateName=bare --image-id ami-keyfleet-linux");

    let gone = json(&server.aws_ok("ec2 delete-launch-template --launch-template-name web"));
    assert_eq!(text(&gone, "/LaunchTemplate/LaunchTemplateId"), id);
    let unknown = server.aws_err(
        "ec2 run-instances --launch-template LaunchTemplateName=web",
        "InvalidLaunchTemplateName.NotFoundException",
    );
    assert!(unknown.contains("The specified launch template, with template name web, does not exist."), "{unknown}");
    server
        .aws_err(&format!("ec2 delete-launch-template --launch-template-id {id}"), "InvalidLaunchTemplateId.NotFound");
    server.aws_err("ec2 delete-launch-template --launch-template-id lt-nothex", "InvalidLaunchTemplateId.Malformed");
}

#[test]
fn a_deny_on_a_templates_id_holds_when_it_is_named() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let created = json(&server.aws_ok(
        "ec2 create-launch-template --launch-template-name locked --launch-template-data ImageId=ami-keyfleet-linux",
    ));
    let id = text(&created, "/LaunchTemplate/LaunchTemplateId");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ec2:*","Resource":"*"}},{{"Effect":"Deny","Action":["ec2:RunInstances","ec2:DeleteLaunchTemplate","ec2:CreateLaunchTemplateVersion"],"Resource":"arn:aws:ec2:us-east-1:*:launch-template/{id}"}}]}}"#
    );
    let dev = server.create_user("dev", Some(&policy));
    server.aws_err_as(&dev, "ec2 run-instances --launch-template LaunchTemplateName=locked", "UnauthorizedOperation");
    server.aws_err_as(&dev, "ec2 delete-launch-template --launch-template-name locked", "UnauthorizedOperation");
    server.aws_err_as(
        &dev,
        "ec2 create-launch-template-version --launch-template-name locked --launch-template-data InstanceType=t3.small",
        "UnauthorizedOperation",
    );
    // Other templates and plain launches are the user's to use.
    server.aws_ok_as(
        &dev,
        "ec2 create-launch-template --launch-template-name open --launch-template-data ImageId=ami-keyfleet-linux",
    );
    server.aws_ok_as(&dev, "ec2 run-instances --launch-template LaunchTemplateName=open");
}

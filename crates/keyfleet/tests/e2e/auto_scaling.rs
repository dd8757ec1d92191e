//! EC2 Auto Scaling with the aws CLI: a group kept at its capacity, seed 003's warning made
//! real (a deleted key pair fails every launch, with AWS's message, while the running
//! instances keep answering ssh), and a fleet's key rotated by an instance refresh while
//! MinHealthyPercentage holds.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::instances::{TOOLS, create_key, ssh_ok, ssh_refused};
use crate::support::{TestServer, json, require, run_ok};

/// Polls a group until `ready` holds for it (bounded: 120 s); returns the group.
pub(crate) fn group_until(server: &TestServer, name: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = json(
            &server.aws_ok(&format!("autoscaling describe-auto-scaling-groups --auto-scaling-group-names {name}")),
        );
        let group = got["AutoScalingGroups"][0].clone();
        if ready(&group) {
            return group;
        }
        assert!(Instant::now() < deadline, "group {name} never reached {what}: {got}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The ids of the group's instances in service.
pub(crate) fn in_service(group: &Value) -> Vec<String> {
    group["Instances"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|i| i["LifecycleState"] == "InService")
                .map(|i| i["InstanceId"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn address(server: &TestServer, id: &str) -> String {
    let out = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {id}")));
    out["Reservations"][0]["Instances"][0]["PublicIpAddress"].as_str().unwrap().to_owned()
}

/// ssh into an instance that may have an address an earlier instance had (and so another
/// host key): forgets that host key first, as a user would.
fn ssh_new_host_ok(server: &TestServer, key: &Path, ip: &str) -> String {
    let known_hosts = server.dir.path().join("known_hosts");
    if known_hosts.exists() {
        let host = format!("[{ip}]:{}", server.ssh_port);
        run_ok("ssh-keygen", &["-f", known_hosts.to_str().unwrap(), "-R", &host]);
    }
    ssh_ok(server, key, ip, "whoami")
}

fn activities(server: &TestServer, group: &str) -> Vec<Value> {
    let out =
        json(&server.aws_ok(&format!("autoscaling describe-scaling-activities --auto-scaling-group-name {group}")));
    out["Activities"].as_array().cloned().unwrap_or_default()
}

fn public_key_file(server: &TestServer, key: &Path, name: &str) -> PathBuf {
    let public = run_ok("ssh-keygen", &["-y", "-f", key.to_str().unwrap()]);
    let path = server.dir.path().join(format!("{name}.pub"));
    std::fs::write(&path, public).unwrap();
    path
}

#[test]
fn a_group_stays_at_capacity_and_a_deleted_key_pair_fails_its_launches() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "fleet");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name web \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=fleet",
    );
    server.aws_ok(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name web \
         --launch-template LaunchTemplateName=web,Version=$Latest --min-size 3 --max-size 5 --desired-capacity 3 \
         --availability-zones us-east-1a us-east-1b --tags Key=team,Value=ops,PropagateAtLaunch=true",
    );
    let taken = server.aws_err(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name web --launch-template LaunchTemplateName=web \
         --min-size 1 --max-size 1 --availability-zones us-east-1a",
        "AlreadyExists",
    );
    assert!(taken.contains("AutoScalingGroup by this name already exists"), "{taken}");
    let bounds = server.aws_err(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name other --launch-template LaunchTemplateName=web \
         --min-size 1 --max-size 3 --desired-capacity 5 --availability-zones us-east-1a",
        "ValidationError",
    );
    assert!(bounds.contains("Desired capacity:5 must be between the specified min size:1 and max size:3"), "{bounds}");

    let group = group_until(&server, "web", "3 in service", |g| in_service(g).len() == 3);
    assert_eq!(group["DesiredCapacity"], 3);
    assert_eq!(group["LaunchTemplate"]["LaunchTemplateName"], "web");
    assert!(group["AutoScalingGroupARN"].as_str().unwrap().contains(":autoScalingGroupName/web"), "{group}");
    let zones: Vec<&str> =
        group["Instances"].as_array().unwrap().iter().map(|i| i["AvailabilityZone"].as_str().unwrap()).collect();
    assert!(zones.contains(&"us-east-1a") && zones.contains(&"us-east-1b"), "spread over both zones: {zones:?}");
    let ids = in_service(&group);
    for id in &ids {
        assert_eq!(ssh_ok(&server, &key, &address(&server, id), "whoami"), "ec2-user\n");
    }
    let tagged = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {}", ids[0])));
    let tags = tagged["Reservations"][0]["Instances"][0]["Tags"].as_array().unwrap().clone();
    assert!(tags.contains(&serde_json::json!({"Key": "aws:autoscaling:groupName", "Value": "web"})), "{tags:?}");
    assert!(tags.contains(&serde_json::json!({"Key": "team", "Value": "ops"})), "{tags:?}");
    let launches = activities(&server, "web");
    assert!(launches.iter().all(|a| a["StatusCode"] == "Successful"), "{launches:?}");
    assert!(
        launches[0]["Cause"]
            .as_str()
            .unwrap()
            .contains("a user request created an AutoScalingGroup changing the desired capacity from 0 to 3.  At "),
        "{launches:?}"
    );

    // Seed 003: the key pair goes; running instances are untouched, but the group cannot
    // replace one that goes.
    server.aws_ok("ec2 delete-key-pair --key-name fleet");
    let (victim, survivors) = ids.split_first().unwrap();
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {victim}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let found = activities(&server, "web").into_iter().find(|a| a["StatusCode"] == "Failed");
        if let Some(failed) = found {
            break failed;
        }
        assert!(Instant::now() < deadline, "no failed launch: {:?}", activities(&server, "web"));
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(failed["StatusMessage"], "The key pair 'fleet' does not exist. Launching EC2 instance failed.");
    assert_eq!(
        failed["Description"],
        "Launching a new EC2 instance.  Status Reason: The key pair 'fleet' does not exist. Launching EC2 instance failed."
    );
    let replaced = activities(&server, "web")
        .into_iter()
        .find(|a| a["Description"] == format!("Terminating EC2 instance: {victim}").as_str())
        .expect("the terminated instance's activity");
    assert!(
        replaced["Cause"].as_str().unwrap().ends_with("an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped."),
        "{replaced}"
    );
    let group = group_until(&server, "web", "2 in service", |g| in_service(g).len() == 2);
    assert_eq!(group["DesiredCapacity"], 3, "still wanting 3");
    // CloudTrail shows the group's calls as its service-linked role's, the failed ones too.
    let events = json(
        &server
            .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=RunInstances"),
    );
    let calls: Vec<Value> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .collect();
    let refused = calls.iter().find(|c| c["errorCode"] == "InvalidKeyPair.NotFound").expect("a refused launch");
    assert_eq!(refused["sourceIPAddress"], "autoscaling.amazonaws.com", "{refused}");
    assert_eq!(refused["userIdentity"]["type"], "AssumedRole", "{refused}");
    let arn = refused["userIdentity"]["arn"].as_str().unwrap();
    assert!(arn.ends_with(":assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"), "{arn}");
    assert_eq!(calls.iter().filter(|c| c["errorCode"].is_null()).count(), 3, "the three launches that worked");
    for id in survivors {
        assert_eq!(ssh_ok(&server, &key, &address(&server, id), "whoami"), "ec2-user\n");
    }
    // Changing the group to a template whose key is gone is refused at once.
    let refused = server.aws_err(
        "autoscaling update-auto-scaling-group --auto-scaling-group-name web --launch-template LaunchTemplateName=web",
        "ValidationError",
    );
    assert!(
        refused.contains("You must use a valid fully-formed launch template. The key pair 'fleet' does not exist"),
        "{refused}"
    );

    // The key pair back: the next attempt launches, and the group is whole again.
    let public = public_key_file(&server, &key, "fleet");
    server.aws_ok(&format!("ec2 import-key-pair --key-name fleet --public-key-material fileb://{}", public.display()));
    let group = group_until(&server, "web", "3 in service again", |g| in_service(g).len() == 3);
    let newest = in_service(&group).into_iter().find(|id| !ids.contains(id)).expect("a new instance");
    assert_eq!(ssh_new_host_ok(&server, &key, &address(&server, &newest)), "ec2-user\n");

    // A user's termination with a decrement shrinks the group, but not below its minimum;
    // a delete needs ForceDelete.
    let at_min = server.aws_err(
        &format!("autoscaling terminate-instance-in-auto-scaling-group --instance-id {newest} --should-decrement-desired-capacity"),
        "ValidationError",
    );
    assert!(at_min.contains("Currently, desiredSize equals minSize (3)."), "{at_min}");
    server.aws_ok("autoscaling update-auto-scaling-group --auto-scaling-group-name web --min-size 2");
    let out = json(&server.aws_ok(&format!(
        "autoscaling terminate-instance-in-auto-scaling-group --instance-id {newest} --should-decrement-desired-capacity"
    )));
    assert_eq!(out["Activity"]["Description"], format!("Terminating EC2 instance: {newest}").as_str());
    assert!(
        out["Activity"]["Cause"]
            .as_str()
            .unwrap()
            .contains("in response to a user request, shrinking the capacity from 3 to 2.")
    );
    server.aws_err(
        "autoscaling terminate-instance-in-auto-scaling-group --instance-id i-0123456789abcdef0 --no-should-decrement-desired-capacity",
        "ValidationError",
    );
    server.aws_err(
        "autoscaling set-desired-capacity --auto-scaling-group-name web --desired-capacity 9",
        "ValidationError",
    );
    let group = group_until(&server, "web", "2 in service", |g| {
        in_service(g).len() == 2 && g["Instances"].as_array().is_some_and(|i| i.len() == 2)
    });
    assert_eq!((group["MinSize"].as_i64(), group["DesiredCapacity"].as_i64()), (Some(2), Some(2)), "{group}");
    assert!(!in_service(&group).contains(&newest), "not replaced: {group}");
    server.aws_err("autoscaling delete-auto-scaling-group --auto-scaling-group-name web", "ResourceInUse");
    server.aws_ok("autoscaling delete-auto-scaling-group --auto-scaling-group-name web --force-delete");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = json(&server.aws_ok("autoscaling describe-auto-scaling-groups --auto-scaling-group-names web"));
        if got["AutoScalingGroups"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the group was not deleted: {got}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for id in ids.iter().skip(1) {
        let out = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {id}")));
        let state = out["Reservations"][0]["Instances"][0]["State"]["Name"].as_str().unwrap().to_owned();
        assert!(state == "shutting-down" || state == "terminated", "{id} is {state}");
    }
}

#[test]
fn an_instance_refresh_rotates_the_fleets_key_keeping_min_healthy() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let old = create_key(&server, "fleet-2025");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name app \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=fleet-2025",
    );
    let subnets =
        json(&server.aws_ok("ec2 describe-subnets --filters Name=availability-zone,Values=us-east-1a,us-east-1c"));
    let subnets: Vec<&str> =
        subnets["Subnets"].as_array().unwrap().iter().map(|s| s["SubnetId"].as_str().unwrap()).collect();
    server.aws_ok(&format!(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name app \
         --launch-template LaunchTemplateName=app,Version=$Latest --min-size 3 --max-size 4 \
         --vpc-zone-identifier {}",
        subnets.join(",")
    ));
    let group = group_until(&server, "app", "3 in service", |g| in_service(g).len() == 3);
    let before = in_service(&group);

    // The rotation: a new key, a template version with it, then the refresh.
    let new = create_key(&server, "fleet-2026");
    server.aws_ok(
        "ec2 create-launch-template-version --launch-template-name app --source-version $Latest \
         --launch-template-data KeyName=fleet-2026",
    );
    let started = json(&server.aws_ok(
        "autoscaling start-instance-refresh --auto-scaling-group-name app --preferences MinHealthyPercentage=66,InstanceWarmup=2",
    ));
    let refresh_id = started["InstanceRefreshId"].as_str().unwrap().to_owned();
    server.aws_err("autoscaling start-instance-refresh --auto-scaling-group-name app", "InstanceRefreshInProgress");

    // Sampled throughout: at least 2 of 3 (66%, rounded up) stay in service.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut samples = 0;
    loop {
        let got = json(&server.aws_ok("autoscaling describe-instance-refreshes --auto-scaling-group-name app"));
        let refresh = &got["InstanceRefreshes"][0];
        assert_eq!(refresh["InstanceRefreshId"], refresh_id.as_str());
        let group = group_until(&server, "app", "any state", |_| true);
        let serving = in_service(&group).len();
        assert!(serving >= 2, "MinHealthyPercentage broken: {serving} in service: {group}");
        samples += 1;
        if refresh["Status"] == "Successful" {
            assert_eq!(refresh["PercentageComplete"], 100);
            break;
        }
        assert!(Instant::now() < deadline, "the refresh did not end: {got}");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(samples > 3, "the refresh was sampled while it ran");
    let group = group_until(&server, "app", "3 in service", |g| in_service(g).len() == 3);
    let after = in_service(&group);
    assert!(after.iter().all(|id| !before.contains(id)), "every instance replaced: {before:?} → {after:?}");
    for id in &after {
        let ip = address(&server, id);
        assert_eq!(ssh_new_host_ok(&server, &new, &ip), "ec2-user\n");
        ssh_refused(&server, &old, &ip);
    }
    // The old key pair can now go without stranding the fleet.
    server.aws_ok("ec2 delete-key-pair --key-name fleet-2025");
    server
        .aws_err("autoscaling cancel-instance-refresh --auto-scaling-group-name app", "ActiveInstanceRefreshNotFound");
    let refreshed = activities(&server, "app");
    assert!(
        refreshed
            .iter()
            .any(|a| a["Cause"].as_str().unwrap_or_default().contains("in response to an instance refresh")),
        "{refreshed:?}"
    );
}

/// The README's way to rotate a fleet's key: one command makes the new key pair, a template
/// version with it, runs the refresh, and deletes the old key pair once nothing uses it.
#[test]
fn keyfleet_rotate_fleet_moves_a_group_to_a_new_key_and_deletes_the_old() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let home = server.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let data_dir = server.data_dir();
    let configure = ["configure", "--data-dir", data_dir.to_str().unwrap(), "--endpoint-url", &server.url];
    crate::keyfleet_cli::ok(crate::keyfleet_cli::keyfleet(&home, &configure));
    let old = create_key(&server, "fleet-old");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name api \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=fleet-old",
    );
    server.aws_ok(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name api --launch-template LaunchTemplateName=api \
         --min-size 2 --max-size 3 --availability-zones us-east-1a",
    );
    group_until(&server, "api", "2 in service", |g| in_service(g).len() == 2);

    let out = crate::keyfleet_cli::ok(crate::keyfleet_cli::keyfleet(
        &home,
        &["key", "rotate-fleet", "api", "--new-key", "fleet-new", "--min-healthy", "50"],
    ));
    assert!(out.contains("Created key pair fleet-new"), "{out}");
    assert!(out.contains("Deleted the old key pair fleet-old"), "{out}");
    let new = home.join("fleet-new.pem");
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o400);
    server.aws_err("ec2 describe-key-pairs --key-names fleet-old", "InvalidKeyPair.NotFound");
    let template = json(&server.aws_ok("ec2 describe-launch-templates --launch-template-names api"));
    assert_eq!(template["LaunchTemplates"][0]["DefaultVersionNumber"], 2, "the group launches $Default: it moved");
    let group = group_until(&server, "api", "2 in service", |g| in_service(g).len() == 2);
    for id in in_service(&group) {
        let ip = address(&server, &id);
        assert_eq!(ssh_new_host_ok(&server, &new, &ip), "ec2-user\n");
        ssh_refused(&server, &old, &ip);
    }
    // Nothing to rotate to twice.
    let again = crate::keyfleet_cli::keyfleet(&home, &["key", "rotate-fleet", "api", "--new-key", "fleet-new"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already launches with key pair fleet-new"));
}

/// A group launches nothing its maker could not launch by hand: making (or changing) a group
/// is checked as the caller's RunInstances from the template version it names, key pair
/// included, as AWS checks it when a group is created or updated.
#[test]
fn a_group_cannot_launch_with_a_key_pair_its_maker_may_not_use() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    create_key(&server, "secret-key");
    create_key(&server, "open-key");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name locked \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=secret-key",
    );
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name open \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=open-key",
    );
    let policy = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["autoscaling:*", "ec2:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*:*:key-pair/secret-key"}]}"#;
    let dev = server.create_user("dev", Some(policy));
    server.aws_err_as(&dev, "ec2 run-instances --launch-template LaunchTemplateName=locked", "UnauthorizedOperation");
    let denied = server.aws_err_as(
        &dev,
        "autoscaling create-auto-scaling-group --auto-scaling-group-name sneaky --launch-template LaunchTemplateName=locked \
         --min-size 1 --max-size 1 --availability-zones us-east-1a",
        "AccessDenied",
    );
    assert!(denied.contains("ec2:RunInstances") && denied.contains("key-pair/secret-key"), "{denied}");
    server.aws_ok_as(
        &dev,
        "autoscaling create-auto-scaling-group --auto-scaling-group-name open --launch-template LaunchTemplateName=open \
         --min-size 0 --max-size 1 --availability-zones us-east-1a",
    );
    server.aws_err_as(
        &dev,
        "autoscaling update-auto-scaling-group --auto-scaling-group-name open --launch-template LaunchTemplateName=locked",
        "AccessDenied",
    );
    // A tag key given twice keeps its last value, which is the one checked.
    let tagged = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "autoscaling:CreateAutoScalingGroup", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}}}]}"#;
    let dev_only = server.create_user("dev-only", Some(tagged));
    server.aws_err_as(
        &dev_only,
        "autoscaling create-auto-scaling-group --auto-scaling-group-name twice --launch-template LaunchTemplateName=open \
         --min-size 0 --max-size 1 --availability-zones us-east-1a \
         --tags Key=env,Value=dev,PropagateAtLaunch=true Key=env,Value=prod,PropagateAtLaunch=true",
        "AccessDenied",
    );
    let groups = json(&server.aws_ok("autoscaling describe-auto-scaling-groups"));
    let names: Vec<&str> = groups["AutoScalingGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["AutoScalingGroupName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["open"]);
    assert_eq!(groups["AutoScalingGroups"][0]["LaunchTemplate"]["LaunchTemplateName"], "open");
}

/// An instance set unhealthy is replaced; a detached one keeps running outside the group
/// (without the group's tag), and attached again it is a member once more.
#[test]
fn unhealthy_instances_are_replaced_and_detached_ones_can_come_back() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "pool");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name pool \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=pool",
    );
    server.aws_ok(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name pool --launch-template LaunchTemplateName=pool \
         --min-size 1 --max-size 3 --desired-capacity 2 --availability-zones us-east-1a --health-check-grace-period 300",
    );
    let group = group_until(&server, "pool", "2 in service", |g| in_service(g).len() == 2);
    let ids = in_service(&group);

    // Within the grace period an unhealthy mark is ignored, unless told not to respect it.
    server.aws_ok(&format!("autoscaling set-instance-health --instance-id {} --health-status Unhealthy", ids[0]));
    // Ignored means never stored: the instance reads Healthy at once, before any pass.
    let health =
        json(&server.aws_ok(&format!("autoscaling describe-auto-scaling-instances --instance-ids {}", ids[0])));
    assert_eq!(health["AutoScalingInstances"][0]["HealthStatus"], "Healthy", "{health}");
    assert_eq!(health["AutoScalingInstances"][0]["LifecycleState"], "InService", "{health}");
    server.aws_ok(&format!(
        "autoscaling set-instance-health --instance-id {} --health-status Unhealthy --no-should-respect-grace-period",
        ids[0]
    ));
    let group =
        group_until(&server, "pool", "a replacement", |g| in_service(g).len() == 2 && !in_service(g).contains(&ids[0]));
    let replaced = activities(&server, "pool")
        .into_iter()
        .find(|a| a["Description"] == format!("Terminating EC2 instance: {}", ids[0]).as_str())
        .expect("the unhealthy instance's activity");
    assert!(replaced["Cause"].as_str().unwrap().ends_with("in response to a user health-check."), "{replaced}");

    // Detached, it runs on without the group's tag; the group shrinks with it.
    let keep = in_service(&group)[0].clone();
    let out = json(&server.aws_ok(&format!(
        "autoscaling detach-instances --auto-scaling-group-name pool --instance-ids {keep} --should-decrement-desired-capacity"
    )));
    assert_eq!(out["Activities"][0]["Description"], format!("Detaching EC2 instance: {keep}").as_str());
    let group = group_until(&server, "pool", "1 desired", |g| g["DesiredCapacity"] == 1);
    assert!(!in_service(&group).contains(&keep));
    let tags = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {keep}")));
    let tags = tags["Reservations"][0]["Instances"][0]["Tags"].as_array().cloned().unwrap_or_default();
    assert!(!tags.iter().any(|t| t["Key"] == "aws:autoscaling:groupName"), "{tags:?}");
    assert_eq!(ssh_ok(&server, &key, &address(&server, &keep), "whoami"), "ec2-user\n");
    server.aws_err(
        &format!("autoscaling detach-instances --auto-scaling-group-name pool --instance-ids {keep} --no-should-decrement-desired-capacity"),
        "ValidationError",
    );

    // Attached again, it is a member and the group grows by one.
    server.aws_ok(&format!("autoscaling attach-instances --auto-scaling-group-name pool --instance-ids {keep}"));
    let group = group_until(&server, "pool", "2 desired", |g| g["DesiredCapacity"] == 2);
    assert!(in_service(&group).contains(&keep), "{group}");
    let listed = json(&server.aws_ok(&format!("autoscaling describe-auto-scaling-instances --instance-ids {keep}")));
    assert_eq!(listed["AutoScalingInstances"][0]["AutoScalingGroupName"], "pool");
    server.aws_err(
        &format!("autoscaling attach-instances --auto-scaling-group-name pool --instance-ids {keep}"),
        "ValidationError",
    );
}

#[test]
fn a_group_scales_from_0_to_20_and_back() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "wide");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name wide \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.nano,KeyName=wide",
    );
    server.aws_ok(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name wide --launch-template LaunchTemplateName=wide \
         --min-size 0 --max-size 20 --desired-capacity 0 --availability-zones us-east-1a us-east-1b us-east-1c",
    );
    server.aws_ok("autoscaling set-desired-capacity --auto-scaling-group-name wide --desired-capacity 20");
    let group = group_until(&server, "wide", "20 in service", |g| in_service(g).len() == 20);
    let ids = in_service(&group);
    let zones: std::collections::BTreeMap<String, usize> =
        group["Instances"].as_array().unwrap().iter().fold(Default::default(), |mut by, i| {
            *by.entry(i["AvailabilityZone"].as_str().unwrap().to_owned()).or_default() += 1;
            by
        });
    assert!(zones.values().all(|n| (6..=7).contains(n)), "balanced over three zones: {zones:?}");
    for id in [&ids[0], &ids[19]] {
        assert_eq!(ssh_ok(&server, &key, &address(&server, id), "whoami"), "ec2-user\n");
    }
    let listed = json(&server.aws_ok("autoscaling describe-auto-scaling-instances --max-records 50"));
    assert_eq!(listed["AutoScalingInstances"].as_array().unwrap().len(), 20);

    server.aws_ok("autoscaling set-desired-capacity --auto-scaling-group-name wide --desired-capacity 0");
    group_until(&server, "wide", "no instances", |g| g["Instances"].as_array().is_some_and(|i| i.is_empty()));
    let terminations = activities(&server, "wide")
        .into_iter()
        .filter(|a| a["Description"].as_str().unwrap_or_default().starts_with("Terminating EC2 instance"))
        .count();
    assert_eq!(terminations, 20);
    let out = json(&server.aws_ok(&format!("ec2 describe-instances --instance-ids {}", ids.join(" "))));
    let states: Vec<&str> = out["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Instances"].as_array().unwrap())
        .map(|i| i["State"]["Name"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 20);
    assert!(states.iter().all(|s| *s == "shutting-down" || *s == "terminated"), "{states:?}");
}

/// One replica runs a group at a time; when it dies in the middle of a refresh, the other
/// (on the same database and storage) takes the group over once the lease lapses and
/// finishes the refresh.
#[test]
fn a_refresh_is_finished_by_the_other_replica_when_its_reconciler_dies() {
    if !require(&TOOLS) {
        return;
    }
    let Some(url) = crate::support::postgres_database() else { return };
    let args = |id: &str| ["--replica-id", id, "--instance-lease-seconds", "3"].map(str::to_owned).to_vec();
    let options =
        |id: &str| crate::support::Options { database_url: Some(url.clone()), args: args(id), ..Default::default() };
    let mut a = TestServer::start_with(options("a"));
    let old = create_key(&a, "relay-old");
    a.aws_ok(
        "ec2 create-launch-template --launch-template-name relay \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=relay-old",
    );
    a.aws_ok(
        "autoscaling create-auto-scaling-group --auto-scaling-group-name relay \
         --launch-template LaunchTemplateName=relay,Version=$Latest --min-size 3 --max-size 3 --availability-zones us-east-1a",
    );
    group_until(&a, "relay", "3 in service", |g| in_service(g).len() == 3);
    let new = create_key(&a, "relay-new");
    a.aws_ok("ec2 create-launch-template-version --launch-template-name relay --source-version 1 --launch-template-data KeyName=relay-new");
    a.aws_ok(
        "autoscaling start-instance-refresh --auto-scaling-group-name relay --preferences MinHealthyPercentage=66,InstanceWarmup=3",
    );
    // The other replica starts only now: the group is `a`'s, renewed every pass.
    let b = a.replica_with(crate::support::Options { data_dir: Some(a.data_dir()), ..options("b") });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = json(&b.aws_ok("autoscaling describe-instance-refreshes --auto-scaling-group-name relay"));
        if got["InstanceRefreshes"][0]["PercentageComplete"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the refresh never got going: {got}");
        std::thread::sleep(Duration::from_millis(100));
    }
    a.kill();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = json(&b.aws_ok("autoscaling describe-instance-refreshes --auto-scaling-group-name relay"));
        if got["InstanceRefreshes"][0]["Status"] == "Successful" {
            break;
        }
        assert!(Instant::now() < deadline, "the other replica did not finish the refresh: {got}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let group = group_until(&b, "relay", "3 in service", |g| in_service(g).len() == 3);
    for id in in_service(&group) {
        let ip = address(&b, &id);
        assert_eq!(ssh_new_host_ok(&b, &new, &ip), "ec2-user\n");
        ssh_refused(&b, &old, &ip);
    }
    assert!(b.log().contains("took over an auto scaling group"), "{}", b.log());
}

/// boto3 parses every answer (timestamps, activities' details, refreshes), its paginator
/// walks the activities, and AWS's errors arrive as botocore's modeled exceptions.
#[test]
fn boto3_drives_templates_and_a_group_with_modeled_errors() {
    if !require(&["boto3", "bwrap"]) {
        return;
    }
    let server = TestServer::start();
    let got = json(&server.boto3("boto3_cases.py", &["fleet"]));
    assert_eq!(got["template_id"], true, "{got}");
    assert_eq!(got["version"], serde_json::json!([2, "py-fleet"]));
    assert_eq!(got["versions"], serde_json::json!([2, 1]));
    assert_eq!(got["duplicate_template"], "InvalidLaunchTemplateName.AlreadyExistsException");
    assert_eq!(got["in_service"], serde_json::json!(["InService", "InService"]));
    assert_eq!(got["instance_template"], serde_json::json!(["2"]));
    assert_eq!(got["created_time"], true);
    assert_eq!(got["activities"], serde_json::json!(["Successful"]));
    assert_eq!(got["activity_details"], true);
    assert_eq!(got["instances"], serde_json::json!(["py-fleet"]));
    assert_eq!(got["refresh"], true);
    assert_eq!(got["second_refresh"], "InstanceRefreshInProgress");
    assert_eq!(got["duplicate_group"], "AlreadyExists");
    assert_eq!(
        got["bounds"],
        serde_json::json!([
            "ValidationError",
            "New SetDesiredCapacity value 9 is above max value 4 for the AutoScalingGroup.",
            400
        ])
    );
    assert_eq!(got["deleted"], true);
}

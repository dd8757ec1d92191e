//! The default VPC, its subnets and zones, and instance status, as the aws CLI and the
//! tools that launch with it (Ansible's `ec2_instance`) ask for them.

use crate::instances::{TOOLS, create_key, describe, ssh_ok, ssh_refused, wait_for_state};
use crate::support::{TestServer, json, require};

/// The string at a JSON pointer.
fn text(value: &serde_json::Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("{pointer} in {value}")).to_owned()
}

#[test]
fn the_default_vpc_has_a_subnet_per_zone_and_launches_go_where_asked() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start();
    let zones = json(&server.aws_ok("ec2 describe-availability-zones"));
    let names: Vec<String> =
        zones["AvailabilityZones"].as_array().unwrap().iter().map(|z| text(z, "/ZoneName")).collect();
    assert_eq!(names, ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"]);
    assert_eq!(text(&zones, "/AvailabilityZones/0/State"), "available");
    assert_eq!(text(&zones, "/AvailabilityZones/0/ZoneId"), "use1-az1");
    let west = json(
        &server.aws_ok("ec2 describe-availability-zones --region eu-west-1 --filters Name=zone-id,Values=euw1-az2"),
    );
    assert_eq!(text(&west, "/AvailabilityZones/0/ZoneName"), "eu-west-1b");
    let stderr = server.aws_err("ec2 describe-availability-zones --zone-names us-east-1z", "InvalidParameterValue");
    assert!(stderr.contains("Invalid availability zone: [us-east-1z]"), "{stderr}");

    let attributes = json(&server.aws_ok("ec2 describe-account-attributes --attribute-names default-vpc"));
    let vpc_id = text(&attributes, "/AccountAttributes/0/AttributeValues/0/AttributeValue");
    let vpcs = json(&server.aws_ok("ec2 describe-vpcs --filters Name=is-default,Values=true"));
    assert_eq!(text(&vpcs, "/Vpcs/0/VpcId"), vpc_id);
    assert_eq!(vpcs["Vpcs"][0]["IsDefault"], true);
    let vpc_cidr = text(&vpcs, "/Vpcs/0/CidrBlock");
    assert!(vpc_cidr.starts_with("127.") && vpc_cidr.ends_with(".0.0/16"), "{vpc_cidr}");
    let other_region = json(&server.aws_ok("ec2 describe-vpcs --region us-west-2"));
    assert_ne!(text(&other_region, "/Vpcs/0/VpcId"), vpc_id, "a default VPC per Region");
    server.aws_err("ec2 describe-vpcs --vpc-ids vpc-0123456789abcdef0", "InvalidVpcID.NotFound");

    let subnets = json(&server.aws_ok(&format!("ec2 describe-subnets --filters Name=vpc-id,Values={vpc_id}")));
    let subnets = subnets["Subnets"].as_array().unwrap().clone();
    assert_eq!(subnets.len(), 6);
    let zone_c = subnets.iter().find(|s| s["AvailabilityZone"] == "us-east-1c").unwrap();
    let subnet_c = text(zone_c, "/SubnetId");
    assert_eq!(zone_c["DefaultForAz"], true);
    let free_before = zone_c["AvailableIpAddressCount"].as_u64().unwrap();
    server.aws_err("ec2 describe-subnets --subnet-ids subnet-0123456789abcdef0", "InvalidSubnetID.NotFound");

    // A launch into zone c's subnet gets an address of that subnet, and ssh reaches it there.
    let key = create_key(&server, "net");
    let out = json(
        &server
            .aws_ok(&format!("ec2 run-instances --image-id ami-keyfleet-linux --key-name net --subnet-id {subnet_c}")),
    );
    let id = text(&out, "/Instances/0/InstanceId");
    let instance = describe(&server, &id);
    assert_eq!(text(&instance, "/Placement/AvailabilityZone"), "us-east-1c");
    assert_eq!(text(&instance, "/SubnetId"), subnet_c);
    assert_eq!(text(&instance, "/VpcId"), vpc_id);
    let ip = text(&instance, "/PrivateIpAddress");
    let prefix = vpc_cidr.trim_end_matches(".0.0/16");
    assert!(ip.starts_with(&format!("{prefix}.32.")), "{ip} in zone c's /20");
    let dashed = ip.replace('.', "-");
    assert_eq!(text(&instance, "/PrivateDnsName"), format!("ip-{dashed}.ec2.internal"));
    assert_eq!(text(&instance, "/PublicDnsName"), format!("ec2-{dashed}.compute-1.amazonaws.com"));
    assert_eq!(text(&instance, "/NetworkInterfaces/0/SubnetId"), subnet_c);
    assert_eq!(instance["SourceDestCheck"], true);
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n");

    let subnet = json(&server.aws_ok(&format!("ec2 describe-subnets --subnet-ids {subnet_c}")));
    assert_eq!(subnet["Subnets"][0]["AvailableIpAddressCount"].as_u64(), Some(free_before - 1));
    for filter in [
        "Name=availability-zone,Values=us-east-1c".to_owned(),
        format!("Name=subnet-id,Values={subnet_c}"),
        format!("Name=vpc-id,Values={vpc_id}"),
        format!("Name=dns-name,Values=ec2-{dashed}.*"),
        format!("Name=private-dns-name,Values=ip-{dashed}.ec2.internal"),
        "Name=architecture,Values=x86_64".to_owned(),
    ] {
        let found = json(&server.aws_ok(&format!("ec2 describe-instances --filters {filter}")));
        assert_eq!(found["Reservations"].as_array().unwrap().len(), 1, "{filter}");
    }
    let none = json(&server.aws_ok("ec2 describe-instances --filters Name=availability-zone,Values=us-east-1a"));
    assert_eq!(none["Reservations"], serde_json::json!([]));

    let by_zone = json(&server.aws_ok(
        "ec2 run-instances --image-id ami-keyfleet-linux --placement AvailabilityZone=us-east-1b --query Instances[0].Placement",
    ));
    assert_eq!(by_zone["AvailabilityZone"], "us-east-1b");
    server.aws_err(
        &format!("ec2 run-instances --image-id ami-keyfleet-linux --subnet-id {subnet_c} --placement AvailabilityZone=us-east-1a"),
        "InvalidParameterValue",
    );
    server.aws_err(
        "ec2 run-instances --image-id ami-keyfleet-linux --subnet-id subnet-12345678",
        "InvalidSubnetID.NotFound",
    );
}

#[test]
fn instance_status_reaches_ok_for_the_cli_waiters() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let id = text(&json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux")), "/Instances/0/InstanceId");
    server.aws_ok(&format!("ec2 wait instance-status-ok --instance-ids {id}"));
    server.aws_ok(&format!("ec2 wait system-status-ok --instance-ids {id}"));
    let status = json(&server.aws_ok(&format!("ec2 describe-instance-status --instance-ids {id}")));
    let item = &status["InstanceStatuses"][0];
    assert_eq!(item["InstanceState"]["Name"], "running");
    assert_eq!(item["InstanceStatus"]["Status"], "ok");
    assert_eq!(item["SystemStatus"]["Details"][0], serde_json::json!({"Name": "reachability", "Status": "passed"}));
    assert_eq!(item["AvailabilityZone"], "us-east-1a");

    server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
    crate::instances::wait_for_state(&server, &id, "stopped");
    let running_only = json(&server.aws_ok(&format!("ec2 describe-instance-status --instance-ids {id}")));
    assert_eq!(running_only["InstanceStatuses"], serde_json::json!([]));
    let all = json(&server.aws_ok(&format!(
        "ec2 describe-instance-status --instance-ids {id} --include-all-instances --filters Name=instance-status.status,Values=not-applicable"
    )));
    assert_eq!(all["InstanceStatuses"][0]["InstanceStatus"], serde_json::json!({"Status": "not-applicable"}));
    server.aws_err("ec2 describe-instance-status --instance-ids i-0123456789abcdef0", "InvalidInstanceID.NotFound");
    server.aws_err("ec2 describe-instance-status --filters Name=colour,Values=red", "InvalidParameterValue");
}

/// Seed 003's access control: an instance's SSH port answers only sources its security
/// groups let in. The default group admits only its own members, so a CLI launch needs an
/// ingress rule; a rule change holds for the next connection, and refusals are audited.
#[test]
fn security_groups_gate_ssh_as_on_ec2() {
    if !require(&TOOLS) {
        return;
    }
    let server = TestServer::start_with(crate::support::Options { firewalled: true, ..Default::default() });
    let key = create_key(&server, "gate");
    let out = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --key-name gate --count 2"));
    let (id, ip) = (text(&out, "/Instances/0/InstanceId"), text(&out, "/Instances/0/PrivateIpAddress"));
    let peer_ip = text(&out, "/Instances/1/PrivateIpAddress");
    let default = json(&server.aws_ok("ec2 describe-security-groups --group-names DEFAULT"));
    let default_id = text(&default, "/SecurityGroups/0/GroupId");
    assert_eq!(text(&describe(&server, &id), "/SecurityGroups/0/GroupId"), default_id);
    assert_eq!(default["SecurityGroups"][0]["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"], default_id.as_str());

    // No rule admits the host: the connection is closed before the SSH banner.
    let refused = ssh_refused(&server, &key, &ip);
    assert!(!refused.contains("Permission denied"), "refused before authentication: {refused}");
    // The default group's rule names the group, and no connection comes from a member:
    // instances have no network, and a host process claiming a member's (or the
    // instance's own) loopback address as its source is still refused.
    for source in [&peer_ip, &ip] {
        let claimed = ssh_from(&server, &key, &ip, source);
        assert_eq!(claimed.status.code(), Some(255), "from {source}: {}", String::from_utf8_lossy(&claimed.stderr));
    }

    let rule = json(&server.aws_ok(&format!(
        "ec2 authorize-security-group-ingress --group-id {default_id} --protocol tcp --port 22 --cidr 0.0.0.0/0"
    )));
    let rule_id = text(&rule, "/SecurityGroupRules/0/SecurityGroupRuleId");
    assert_eq!(ssh_ok(&server, &key, &ip, "whoami"), "ec2-user\n");
    let stderr = server.aws_err(
        &format!(
            "ec2 authorize-security-group-ingress --group-id {default_id} --protocol tcp --port 22 --cidr 0.0.0.0/0"
        ),
        "InvalidPermission.Duplicate",
    );
    assert!(
        stderr
            .contains(r#"the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW" already exists"#),
        "{stderr}"
    );

    // A rule for another source, or another port, does not admit the host.
    server.aws_ok(&format!(
        "ec2 revoke-security-group-ingress --group-id {default_id} --security-group-rule-ids {rule_id}"
    ));
    server.aws_ok(&format!(
        "ec2 authorize-security-group-ingress --group-id {default_id} --protocol tcp --port 22 --cidr 10.0.0.0/8"
    ));
    server.aws_ok(&format!(
        "ec2 authorize-security-group-ingress --group-id {default_id} --protocol tcp --port 80 --cidr 0.0.0.0/0"
    ));
    ssh_refused(&server, &key, &ip);

    // A group of its own, chosen at launch, with SSH from the host's address only.
    let created = json(&server.aws_ok("ec2 create-security-group --group-name ssh-in --description ssh-from-host"));
    let group = text(&created, "/GroupId");
    server.aws_ok(&format!(
        "ec2 authorize-security-group-ingress --group-id {group} --protocol tcp --port 22 --cidr 127.0.0.1/32"
    ));
    let launched = json(&server.aws_ok(&format!(
        "ec2 run-instances --image-id ami-keyfleet-linux --key-name gate --security-group-ids {group}"
    )));
    let own_ip = text(&launched, "/Instances/0/PrivateIpAddress");
    assert_eq!(text(&launched, "/Instances/0/SecurityGroups/0/GroupName"), "ssh-in");
    assert_eq!(ssh_ok(&server, &key, &own_ip, "whoami"), "ec2-user\n");
    let stderr = server.aws_err(&format!("ec2 delete-security-group --group-id {group}"), "DependencyViolation");
    assert!(stderr.contains(&format!("resource {group} has a dependent object")), "{stderr}");
    server.aws_err(&format!("ec2 delete-security-group --group-id {default_id}"), "CannotDelete");
    server.aws_err("ec2 create-security-group --group-name ssh-in --description again", "InvalidGroup.Duplicate");
    server.aws_err(
        "ec2 run-instances --image-id ami-keyfleet-linux --security-group-ids sg-0123456789abcdef0",
        "InvalidGroup.NotFound",
    );
    let filtered = json(&server.aws_ok(
        "ec2 describe-security-groups --filters Name=ip-permission.from-port,Values=22 Name=ip-permission.cidr,Values=127.0.0.1/32",
    ));
    assert_eq!(filtered["SecurityGroups"].as_array().unwrap().len(), 1, "{filtered}");
    let rules =
        json(&server.aws_ok(&format!("ec2 describe-security-group-rules --filters Name=group-id,Values={group}")));
    assert_eq!(rules["SecurityGroupRules"].as_array().unwrap().len(), 2, "one in, one out: {rules}");

    // Revoking the rule closes the door for the next connection.
    server.aws_ok(&format!(
        "ec2 revoke-security-group-ingress --group-id {group} --protocol tcp --port 22 --cidr 127.0.0.1/32"
    ));
    ssh_refused(&server, &key, &own_ip);
    let audited = server
        .aws_ok("cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=SSHAuthentication");
    assert!(audited.contains("no security group rule allows TCP port 22"), "refusals are audited: {audited}");

    // Once the instance is gone, the group can go.
    let own_id = text(&launched, "/Instances/0/InstanceId");
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {own_id}"));
    crate::instances::wait_for_state(&server, &own_id, "terminated");
    server.aws_ok(&format!("ec2 delete-security-group --group-id {group}"));
    server.aws_err(&format!("ec2 describe-security-groups --group-ids {group}"), "InvalidGroup.NotFound");
}

/// `ssh` with its source address bound to `source` (another instance's loopback address).
fn ssh_from(server: &TestServer, key: &std::path::Path, ip: &str, source: &str) -> std::process::Output {
    let mut command = std::process::Command::new("ssh");
    command
        .args(crate::instances::ssh_options(server))
        .args(["-p", &server.ssh_port.to_string(), "-b", source, "-i"])
        .arg(key);
    command.arg(format!("ec2-user@{ip}")).arg("true");
    command.output().unwrap()
}

/// The console output carries cloud-init's block of host key fingerprints: each matches
/// what `ssh-keyscan` sees, so a user can check the host key before the first ssh. RSA,
/// ECDSA and Ed25519 host keys all serve, and SHA-1 `ssh-rsa` is refused as OpenSSH 8.8+ does.
#[test]
fn console_output_shows_the_host_keys_ssh_sees() {
    if !require(&TOOLS) || !require(&["ssh-keyscan"]) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "boot");
    let out = json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --key-name boot"));
    let (id, ip) = (text(&out, "/Instances/0/InstanceId"), text(&out, "/Instances/0/PrivateIpAddress"));
    let console = json(&server.aws_ok(&format!("ec2 get-console-output --instance-id {id} --latest")));
    assert_eq!(text(&console, "/InstanceId"), id);
    let log = text(&console, "/Output");
    assert!(log.contains("-----BEGIN SSH HOST KEY FINGERPRINTS-----"), "{log}");
    let listed: Vec<String> = log
        .lines()
        .filter_map(|l| l.strip_prefix("ec2: "))
        .filter(|l| l.contains("SHA256:"))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(listed.len(), 3, "ECDSA, ED25519 and RSA: {log}");
    assert!(listed.iter().any(|l| l.starts_with("3072 ")), "{listed:?}");

    let scanned = crate::support::sh(&format!(
        "ssh-keyscan -p {} -t ecdsa,ed25519,rsa {ip} 2>/dev/null | ssh-keygen -lf -",
        server.ssh_port
    ));
    let mut seen: Vec<String> =
        scanned.lines().map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).collect();
    let mut expected = listed.clone();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "ssh-keyscan: {scanned}");
    let keys_block = log.split("-----BEGIN SSH HOST KEY KEYS-----").nth(1).unwrap();
    assert!(keys_block.contains("ssh-ed25519 AAAA") && keys_block.contains("ecdsa-sha2-nistp256 AAAA"), "{log}");

    for algorithms in ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"] {
        let out = ssh_with_options(&server, &key, &ip, &["-o", &format!("HostKeyAlgorithms={algorithms}")]);
        assert!(out.status.success(), "{algorithms}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let sha1 = ssh_with_options(&server, &key, &ip, &["-o", "HostKeyAlgorithms=ssh-rsa"]);
    assert!(!sha1.status.success(), "SHA-1 ssh-rsa host keys are refused");
    assert!(String::from_utf8_lossy(&sha1.stderr).contains("no matching host key type"), "{sha1:?}");
    server.aws_err("ec2 get-console-output --instance-id i-0123456789abcdef0", "InvalidInstanceID.NotFound");
}

/// `ssh … true` with extra options (known hosts kept apart, since host key types change).
fn ssh_with_options(server: &TestServer, key: &std::path::Path, ip: &str, extra: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new("ssh");
    // ssh keeps the first value of an option: these go before the shared ones.
    command.args(["-o", "UserKnownHostsFile=/dev/null"]).args(extra).args(crate::instances::ssh_options(server));
    command.args(["-p", &server.ssh_port.to_string(), "-i"]).arg(key);
    command.arg(format!("ec2-user@{ip}")).arg("true");
    command.output().unwrap()
}

/// DescribeInstanceTypes lists the types keyfleet launches, with what each gets; RunInstances
/// refuses a type EC2 does not have, and one whose architecture is not the image's.
/// The built-in image as the aws CLI finds it: by owner alias and name (as tutorials and
/// Terraform's `aws_ami` look for Amazon Linux), by its id or its old one, and not at all by
/// a name it lacks or an unknown id.
#[test]
fn the_built_in_image_is_found_by_owner_name_and_id() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let found = json(&server.aws_ok("ec2 describe-images --owners amazon --filters Name=name,Values=keyfleet-*"));
    assert_eq!(found["Images"][0]["ImageId"], "ami-0f5e8a2b9c3d71e46", "{found}");
    assert_eq!(found["Images"][0]["ImageOwnerAlias"], "amazon");
    let by_old_id = json(&server.aws_ok("ec2 describe-images --image-ids ami-keyfleet-linux"));
    assert_eq!(by_old_id["Images"][0]["ImageId"], "ami-0f5e8a2b9c3d71e46");
    let none = json(&server.aws_ok("ec2 describe-images --owners self"));
    assert_eq!(none["Images"], serde_json::json!([]));
    let other = json(&server.aws_ok("ec2 describe-images --filters Name=name,Values=al2023-ami-*"));
    assert_eq!(other["Images"], serde_json::json!([]));
    server.aws_err("ec2 describe-images --image-ids ami-0123456789abcdef0", "InvalidAMIID.NotFound");
    server.aws_err("ec2 describe-images --filters Name=colour,Values=x", "InvalidParameterValue");
}

#[test]
fn instance_types_are_described_and_unknown_ones_refused() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let micro = json(&server.aws_ok("ec2 describe-instance-types --instance-types t3.micro"));
    let micro = &micro["InstanceTypes"][0];
    assert_eq!(micro["VCpuInfo"]["DefaultVCpus"], 2);
    assert_eq!(micro["MemoryInfo"]["SizeInMiB"], 1024);
    assert_eq!(micro["ProcessorInfo"]["SupportedArchitectures"], serde_json::json!(["x86_64"]));
    assert_eq!(micro["FreeTierEligible"], true);
    let arm = json(
        &server.aws_ok("ec2 describe-instance-types --filters Name=processor-info.supported-architecture,Values=arm64"),
    );
    assert!(
        arm["InstanceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["InstanceType"].as_str().unwrap().starts_with("t4g."))
    );
    let all = json(&server.aws_ok("ec2 describe-instance-types"));
    assert!(all["InstanceTypes"].as_array().unwrap().len() > 50, "the CLI pages through them all");
    let stderr = server.aws_err("ec2 describe-instance-types --instance-types t3.bogus", "InvalidInstanceType");
    assert!(stderr.contains("The following supplied instance types do not exist: [t3.bogus]"), "{stderr}");
    let stderr = server
        .aws_err("ec2 run-instances --image-id ami-keyfleet-linux --instance-type t3.bogus", "InvalidParameterValue");
    assert!(stderr.contains("Invalid value 't3.bogus' for InstanceType."), "{stderr}");
    let stderr = server
        .aws_err("ec2 run-instances --image-id ami-keyfleet-linux --instance-type t4g.micro", "InvalidParameterValue");
    assert!(stderr.contains("does not match the architecture 'x86_64' of the specified AMI"), "{stderr}");
    assert_eq!(
        json(&server.aws_ok("ec2 describe-instances"))["Reservations"],
        serde_json::json!([]),
        "nothing launched"
    );
}

/// Security groups take tags with CreateTags and DeleteTags, as Ansible's and Terraform's
/// group modules set them, and DescribeTags and the groups' `tag:` filters see them.
#[test]
fn security_groups_are_tagged_with_create_tags() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let group = text(&json(&server.aws_ok("ec2 create-security-group --group-name web --description web")), "/GroupId");
    let default = json(&server.aws_ok("ec2 describe-security-groups --group-names default"));
    let default = text(&default, "/SecurityGroups/0/GroupId");
    server.aws_ok(&format!("ec2 create-tags --resources {group} {default} --tags Key=team,Value=ops"));
    let tagged = json(&server.aws_ok("ec2 describe-security-groups --filters Name=tag:team,Values=ops"));
    assert_eq!(tagged["SecurityGroups"].as_array().unwrap().len(), 2, "{tagged}");
    let tags = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=security-group"));
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2, "{tags}");
    server.aws_ok(&format!("ec2 delete-tags --resources {group} --tags Key=team"));
    let left = json(&server.aws_ok("ec2 describe-security-groups --filters Name=tag-key,Values=team"));
    assert_eq!(text(&left, "/SecurityGroups/0/GroupId"), default);
    server.aws_err("ec2 create-tags --resources sg-0123456789abcdef0 --tags Key=a,Value=b", "InvalidGroup.NotFound");
}

/// DescribeInstanceAttribute answers the attributes tools read after a launch (Terraform
/// reads disableApiTermination and instanceInitiatedShutdownBehavior) with the instance's values.
#[test]
fn instance_attributes_are_described() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let out = json(
        &server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --instance-type t3.small --user-data hello"),
    );
    let id = text(&out, "/Instances/0/InstanceId");
    let attribute = |name: &str| {
        json(&server.aws_ok(&format!("ec2 describe-instance-attribute --instance-id {id} --attribute {name}")))
    };
    assert_eq!(attribute("instanceType")["InstanceType"]["Value"], "t3.small");
    assert_eq!(attribute("disableApiTermination")["DisableApiTermination"]["Value"], false);
    assert_eq!(attribute("instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"]["Value"], "stop");
    let user_data = attribute("userData")["UserData"]["Value"].as_str().unwrap().to_owned();
    assert_eq!(base64_decode(&user_data), "hello");
    assert_eq!(attribute("groupSet")["Groups"][0]["GroupName"], "default");
    assert_eq!(attribute("blockDeviceMapping")["BlockDeviceMappings"][0]["DeviceName"], "/dev/xvda");
    assert_eq!(attribute("rootDeviceName")["RootDeviceName"]["Value"], "/dev/xvda");
    server.aws_err(
        "ec2 describe-instance-attribute --instance-id i-0123456789abcdef0 --attribute userData",
        "InvalidInstanceID.NotFound",
    );
}

/// ModifyInstanceAttribute as the aws CLI sends it, each attribute with EC2's state rules:
/// termination protection holds against TerminateInstances, the type and user data change
/// only while stopped, and the instance reports why it last changed state.
#[test]
fn instance_attributes_are_modified_and_termination_protection_holds() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let out = json(&server.aws_ok(
        "ec2 run-instances --image-id ami-keyfleet-linux --disable-api-termination \
         --instance-initiated-shutdown-behavior terminate",
    ));
    let id = text(&out, "/Instances/0/InstanceId");
    assert_eq!(out["Instances"][0]["StateReason"]["Code"], "pending", "{out}");
    let attribute = |name: &str| {
        json(&server.aws_ok(&format!("ec2 describe-instance-attribute --instance-id {id} --attribute {name}")))
    };
    assert_eq!(attribute("disableApiTermination")["DisableApiTermination"]["Value"], true);
    assert_eq!(
        attribute("instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"]["Value"],
        "terminate"
    );

    let refused = server.aws_err(&format!("ec2 terminate-instances --instance-ids {id}"), "OperationNotPermitted");
    assert!(
        refused.contains(&format!(
            "The instance '{id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and \
             try again."
        )),
        "{refused}"
    );
    let running = server.aws_err(
        &format!("ec2 modify-instance-attribute --instance-id {id} --instance-type t3.small"),
        "IncorrectInstanceState",
    );
    assert!(running.contains(&format!("The instance '{id}' is not in the 'stopped' state.")), "{running}");
    server.aws_err(
        &format!("ec2 modify-instance-attribute --instance-id {id} --instance-type t3.small --disable-api-termination"),
        "InvalidParameterCombination",
    );

    server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
    wait_for_state(&server, &id, "stopped");
    let stopped = describe(&server, &id);
    assert_eq!(stopped["StateReason"]["Code"], "Client.UserInitiatedShutdown", "{stopped}");
    let reason = text(&stopped, "/StateTransitionReason");
    assert!(reason.starts_with("User initiated (20") && reason.ends_with(" GMT)") && reason.len() == 40, "{reason}");

    server.aws_ok(&format!("ec2 modify-instance-attribute --instance-id {id} --instance-type t3.small"));
    server.aws_ok(&format!("ec2 modify-instance-attribute --instance-id {id} --attribute userData --value aGk="));
    let group = json(&server.aws_ok("ec2 create-security-group --group-name second --description second"));
    let group = text(&group, "/GroupId");
    server.aws_ok(&format!("ec2 modify-instance-attribute --instance-id {id} --groups {group}"));
    server.aws_err(
        &format!("ec2 modify-instance-attribute --instance-id {id} --groups sg-0123456789abcdef0"),
        "InvalidGroup.NotFound",
    );
    server.aws_ok(&format!("ec2 start-instances --instance-ids {id}"));
    wait_for_state(&server, &id, "running");
    let started = describe(&server, &id);
    assert_eq!(started["InstanceType"], "t3.small", "{started}");
    assert_eq!(started["StateTransitionReason"], "", "a start forgets the stop: {started}");
    assert!(started.get("StateReason").is_none(), "{started}");
    assert_eq!(started["SecurityGroups"][0]["GroupId"], group.as_str(), "{started}");
    assert_eq!(base64_decode(attribute("userData")["UserData"]["Value"].as_str().unwrap()), "hi");

    // Named together, an unprotected instance in another zone goes; the protected one stays.
    let other =
        json(&server.aws_ok("ec2 run-instances --image-id ami-keyfleet-linux --placement AvailabilityZone=us-east-1c"));
    let other = text(&other, "/Instances/0/InstanceId");
    assert_ne!(describe(&server, &other)["Placement"]["AvailabilityZone"], started["Placement"]["AvailabilityZone"]);
    server.aws_err(&format!("ec2 terminate-instances --instance-ids {id} {other}"), "OperationNotPermitted");
    wait_for_state(&server, &other, "terminated");
    assert_eq!(describe(&server, &id)["State"]["Name"], "running");
    server.aws_ok(&format!("ec2 modify-instance-attribute --instance-id {id} --no-disable-api-termination"));
    server.aws_ok(&format!("ec2 modify-instance-attribute --instance-id {id} --source-dest-check"));
    server.aws_err(
        &format!("ec2 modify-instance-attribute --instance-id {id} --no-source-dest-check"),
        "UnsupportedOperation",
    );
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}"));
    wait_for_state(&server, &id, "terminated");
    let terminated = describe(&server, &id);
    assert_eq!(terminated["StateReason"]["Message"], "Client.UserInitiatedShutdown: User initiated shutdown");
    assert!(text(&terminated, "/StateTransitionReason").starts_with("User initiated ("), "{terminated}");
}

/// Ansible's ec2_instance names the subnet and groups on the network interface; EC2 refuses
/// them at both levels at once.
#[test]
fn a_launch_takes_its_subnet_and_groups_from_its_network_interface() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let subnets = json(&server.aws_ok("ec2 describe-subnets --filters Name=availability-zone,Values=us-east-1b"));
    let subnet = text(&subnets, "/Subnets/0/SubnetId");
    let group = text(&json(&server.aws_ok("ec2 create-security-group --group-name nic --description nic")), "/GroupId");
    let out = json(&server.aws_ok(&format!(
        "ec2 run-instances --image-id ami-keyfleet-linux \
         --network-interfaces DeviceIndex=0,SubnetId={subnet},Groups={group},DeleteOnTermination=true"
    )));
    assert_eq!(out["Instances"][0]["Placement"]["AvailabilityZone"], "us-east-1b", "{out}");
    assert_eq!(out["Instances"][0]["SecurityGroups"][0]["GroupId"], group.as_str(), "{out}");
    server.aws_err(
        &format!(
            "ec2 run-instances --image-id ami-keyfleet-linux --subnet-id {subnet} \
             --network-interfaces DeviceIndex=0,Groups={group}"
        ),
        "InvalidParameterCombination",
    );
    let second = format!("DeviceIndex=0,Groups={group} DeviceIndex=1,Groups={group}");
    server.aws_err(
        &format!("ec2 run-instances --image-id ami-keyfleet-linux --network-interfaces {second}"),
        "UnsupportedOperation",
    );
}

/// Volume TagSpecifications (as Ansible's ec2_instance sends its Name tag) tag the root
/// volume: DescribeVolumes shows and filters them, DescribeTags lists them, CreateTags and
/// DeleteTags take volume ids, and the tags go with the volume at termination.
#[test]
fn root_volumes_carry_their_own_tags() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let out = json(&server.aws_ok(
        "ec2 run-instances --image-id ami-0f5e8a2b9c3d71e46 \
         --tag-specifications ResourceType=volume,Tags=[{Key=Name,Value=root}] ResourceType=instance,Tags=[{Key=Name,Value=box}]",
    ));
    let id = text(&out, "/Instances/0/InstanceId");
    let volume = text(&out, "/Instances/0/BlockDeviceMappings/0/Ebs/VolumeId");
    let by_tag = json(&server.aws_ok("ec2 describe-volumes --filters Name=tag:Name,Values=root"));
    assert_eq!(by_tag["Volumes"][0]["VolumeId"], volume.as_str(), "{by_tag}");
    assert_eq!(by_tag["Volumes"][0]["Tags"], serde_json::json!([{"Key": "Name", "Value": "root"}]));
    assert_eq!(describe(&server, &id)["Tags"], serde_json::json!([{"Key": "Name", "Value": "box"}]));
    server.aws_ok(&format!("ec2 create-tags --resources {volume} --tags Key=team,Value=db"));
    let listed = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=volume"));
    assert_eq!(listed["Tags"].as_array().map(Vec::len), Some(2), "{listed}");
    server.aws_ok(&format!("ec2 delete-tags --resources {volume} --tags Key=team"));
    server.aws_err("ec2 create-tags --resources vol-0123456789abcdef0 --tags Key=a,Value=b", "InvalidVolume.NotFound");
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}"));
    wait_for_state(&server, &id, "terminated");
    let left = json(&server.aws_ok("ec2 describe-tags --filters Name=resource-type,Values=volume"));
    assert_eq!(left["Tags"], serde_json::json!([]), "a deleted volume's tags go with it");
}

fn base64_decode(text: &str) -> String {
    crate::support::sh(&format!("printf %s '{text}' | base64 -d"))
}

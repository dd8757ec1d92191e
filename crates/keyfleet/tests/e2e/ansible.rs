//! Ansible (pip `ansible`, with its bundled amazon.aws and community.aws collections) as a
//! new user runs it against EC2: the playbook in `clients/ansible/` launches an instance into
//! the default VPC behind a security group that allows SSH, configures it over real ssh with
//! `become: true`, and manages parameters. Checked afterwards with the aws CLI and ssh.

use std::process::Command;

use crate::instances::{TOOLS, create_key, ssh_ok};
use crate::support::{TestServer, json, require};

#[test]
fn a_playbook_launches_configures_with_become_and_keeps_parameters() {
    if !require(&TOOLS) || !require(&["ansible-playbook"]) {
        return;
    }
    let server = TestServer::start();
    let key = create_key(&server, "ansible");
    let marker = format!("configured-{}", std::process::id());
    let vars = serde_json::json!({
        "endpoint": server.url,
        "key_name": "ansible",
        "key_file": key,
        "ssh_port": server.ssh_port,
        "marker": marker,
    });
    let mut playbook = Command::new("ansible-playbook");
    playbook
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/ansible/playbook.yml"))
        .args(["-e", &vars.to_string()])
        .env("ANSIBLE_PIPELINING", "True")
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .env("ANSIBLE_SSH_ARGS", "-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes")
        .env("ANSIBLE_LOCAL_TEMP", server.dir.path().join("ansible-tmp"))
        .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent");
    server.aws_env(&mut playbook);
    let out = playbook.output().expect("ansible-playbook runs");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "playbook failed:\n{log}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("failed=0") && !log.contains("[WARNING]: Unable"), "{log}");

    // The instance is in the group Ansible made, and what it wrote as root is there.
    let found = json(&server.aws_ok("ec2 describe-instances --filters Name=tag:Name,Values=ansible-demo"));
    let instance = &found["Reservations"][0]["Instances"][0];
    assert_eq!(instance["State"]["Name"], "running", "{found}");
    assert_eq!(instance["SecurityGroups"][0]["GroupName"], "ansible-ssh", "{found}");
    let ip = instance["PublicIpAddress"].as_str().unwrap();
    // ec2_instance names the root volume too (a volume TagSpecification).
    let volumes = json(&server.aws_ok("ec2 describe-volumes --filters Name=tag:Name,Values=ansible-demo"));
    assert_eq!(volumes["Volumes"][0]["Attachments"][0]["InstanceId"], instance["InstanceId"], "{volumes}");
    let written = ssh_ok(&server, &key, ip, "cat configured-by-ansible; stat -c %U configured-by-ansible");
    assert_eq!(written, format!("{marker}\nec2-user\n"));

    let parameters = json(&server.aws_ok("ssm get-parameters-by-path --path /ansible/demo"));
    let parameters = parameters["Parameters"].as_array().unwrap();
    assert_eq!(parameters.len(), 1, "{parameters:?}");
    assert_eq!(parameters[0]["Value"], marker.as_str());
    assert_eq!(parameters[0]["Version"], 2);
}

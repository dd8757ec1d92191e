//! `keyfleet instances ls` and `keyfleet ssh INSTANCE`: find an instance's address, user
//! and key file, then hand over to the real OpenSSH client.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use comfy_table::Table;

use super::client::{ClientArgs, Ec2Client};
use super::xml::Element;

#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// List instances.
    Ls(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
}

/// What `keyfleet ssh` and `keyfleet connect` both take.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// The instances' SSH port (the server's --ssh-port).
    #[arg(short, long, env = "KEYFLEET_SSH_PORT", default_value_t = 22)]
    port: u16,
    /// An ssh option, as `ssh -o` takes it (repeatable).
    #[arg(short = 'o', long = "ssh-option")]
    ssh_options: Vec<String>,
    /// A command to run instead of a login shell.
    #[arg(last = true)]
    command: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

impl SessionArgs {
    /// `ssh` with the options both commands pass, up to (not including) the destination.
    fn ssh(&self, key: &std::path::Path) -> std::process::Command {
        let mut command = std::process::Command::new("ssh");
        command.arg("-i").arg(key).args(["-p", &self.port.to_string(), "-o", "IdentitiesOnly=yes"]);
        // A new instance has a new host key: trust it on first use, as people answer "yes"
        // on EC2, and insist on it afterwards.
        command.args(["-o", "StrictHostKeyChecking=accept-new"]);
        command.args(self.ssh_options.iter().flat_map(|o| ["-o", o.as_str()]));
        command
    }
}

#[derive(Debug, Args)]
pub struct SshArgs {
    /// The instance id (i-…).
    instance_id: String,
    /// The private key file (default: <key name>.pem in --key-dir, then ~/.ssh).
    #[arg(short = 'i', long)]
    identity: Option<PathBuf>,
    /// Where to look for <key name>.pem.
    #[arg(long, env = "KEYFLEET_KEY_DIR", default_value = ".")]
    key_dir: PathBuf,
    #[command(flatten)]
    session: SessionArgs,
}

pub fn run(command: InstancesCommand) -> anyhow::Result<()> {
    match command {
        InstancesCommand::Ls(args) => list(&args),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<()> {
    let response = Ec2Client::new(&args.client)?.call("DescribeInstances", &[])?;
    let mut table = Table::new();
    table.set_header(["ID", "State", "Key", "Address", "Type", "Launched"]);
    for instance in instances(&response) {
        table.add_row([
            instance.text_of("instanceId").unwrap_or_default(),
            instance.child("instanceState").and_then(|s| s.text_of("name")).unwrap_or_default(),
            instance.text_of("keyName").unwrap_or("-"),
            instance.text_of("privateIpAddress").unwrap_or_default(),
            instance.text_of("instanceType").unwrap_or_default(),
            instance.text_of("launchTime").unwrap_or_default(),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn instances(response: &Element) -> impl Iterator<Item = &Element> {
    response.items("reservationSet").flat_map(|r| r.items("instancesSet"))
}

/// Resolves the instance and replaces this process with `ssh`.
pub fn ssh(args: SshArgs) -> anyhow::Result<()> {
    let response =
        Ec2Client::new(&args.session.client)?.call("DescribeInstances", &[("InstanceId.1", &args.instance_id)])?;
    let instance = instances(&response).next().context("no such instance")?;
    let state = instance.child("instanceState").and_then(|s| s.text_of("name")).unwrap_or_default();
    let Some(address) = instance.text_of("ipAddress").filter(|_| state == "running") else {
        bail!("{} is {state}: start it first (aws ec2 start-instances --instance-ids {0})", args.instance_id);
    };
    let key = match &args.identity {
        Some(path) => path.clone(),
        None => find_key(&args.key_dir, instance.text_of("keyName").context("the instance has no key pair; pass -i")?)?,
    };
    check_key_permissions(&key)?;
    let error = args.session.ssh(&key).arg(format!("ec2-user@{address}")).args(&args.session.command).exec();
    Err(error).context("running ssh")
}

fn find_key(key_dir: &std::path::Path, key_name: &str) -> anyhow::Result<PathBuf> {
    let file = format!("{key_name}.pem");
    let home_ssh = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh"));
    let candidates: Vec<PathBuf> =
        std::iter::once(key_dir.join(&file)).chain(home_ssh.map(|d| d.join(&file))).collect();
    candidates.iter().find(|p| p.exists()).cloned().with_context(|| {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        format!("no key file for key pair '{key_name}' (looked for {}); pass -i FILE", looked.join(", "))
    })
}

/// ssh refuses private keys that others can read; say so before it does, with the fix.
fn check_key_permissions(key: &std::path::Path) -> anyhow::Result<()> {
    let mode = std::fs::metadata(key).with_context(|| format!("reading {}", key.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); ssh will refuse it. Run: chmod 400 {0}",
            key.display(),
            mode & 0o777
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The instance id (i-…).
    instance_id: String,
    /// The OS user.
    #[arg(long, default_value = "ec2-user")]
    os_user: String,
    #[command(flatten)]
    session: SessionArgs,
}

/// EC2 Instance Connect: a fresh Ed25519 key, pushed for its short window, used once by
/// ssh, then deleted. Nothing is left behind to lose.
pub fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.session.client)?;
    let response = client.call("DescribeInstances", &[("InstanceId.1", &args.instance_id)])?;
    let instance = instances(&response).next().context("no such instance")?;
    let address = instance.text_of("ipAddress").context("the instance is not running")?.to_owned();
    let key = keyfleet_keys::generate::generate(keyfleet_keys::KeyType::Ed25519)?;
    let public = key.public_key()?.to_openssh_line("keyfleet-connect")?;
    let dir = private_temp_dir()?;
    let key_path = dir.join("id_ed25519");
    write_private(&key_path, key.to_material(keyfleet_keys::KeyFormat::Pem, "keyfleet-connect")?.as_bytes())?;
    let body =
        serde_json::json!({"InstanceId": args.instance_id, "InstanceOSUser": args.os_user, "SSHPublicKey": public});
    let pushed = client.call_json("ec2-instance-connect", "AWSEC2InstanceConnectService.SendSSHPublicKey", &body);
    let status = pushed.map_err(anyhow::Error::from).and_then(|_| {
        args.session
            .ssh(&key_path)
            .arg(format!("{}@{address}", args.os_user))
            .args(&args.session.command)
            .status()
            .context("running ssh")
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(status?.code().unwrap_or(255));
}

fn private_temp_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("keyfleet-connect-{name}"));
    std::fs::DirBuilder::new().mode(0o700).create(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    Ok(())
}

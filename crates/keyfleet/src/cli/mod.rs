//! Command-line parsing and the commands. `serve` runs the server; every other command
//! is a client that signs its requests with the server's own SigV4 code.

mod admin;
mod audit;
mod aws_files;
mod client;
mod configure;
mod instances;
mod key;
mod reset_access;
mod rotate_fleet;
mod serve;
mod ssh_config;
mod xml;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// keyfleet: EC2 key pairs, self-hosted.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Create or upgrade the database schema and exit (the server also does this at start).
    Migrate(serve::MigrateArgs),
    /// Write the aws CLI profile for this server (credentials, region, endpoint_url).
    Configure(configure::ConfigureArgs),
    /// Create, import, list, delete and fingerprint key pairs.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// List instances.
    #[command(subcommand)]
    Instances(instances::InstancesCommand),
    /// Open an SSH session to an instance (its address, ec2-user, and its key file).
    Ssh(instances::SshArgs),
    /// Open an SSH session with a fresh one-time key pushed by EC2 Instance Connect.
    Connect(instances::ConnectArgs),
    /// Print an ssh config snippet that reaches instances by id and by EC2 DNS name.
    SshConfig(ssh_config::SshConfigArgs),
    /// Relay a connection to an instance (the snippet's ProxyCommand: `keyfleet proxy %h %p`).
    Proxy(ssh_config::ProxyArgs),
    /// Recover a lost key: run AWSSupport-ResetAccess and save the new private key (0400).
    ResetAccess(reset_access::ResetAccessArgs),
    /// Manage users, their access keys and policies (the IAM API).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Show the audit log: API calls and SSH logins, newest first.
    Audit(audit::AuditArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Migrate(args) => serve::migrate(args),
        Command::Configure(args) => configure::run(args),
        Command::Key(command) => key::run(command),
        Command::Instances(command) => instances::run(command),
        Command::Ssh(args) => instances::ssh(args),
        Command::Connect(args) => instances::connect(args),
        Command::SshConfig(args) => ssh_config::ssh_config(args),
        Command::Proxy(args) => ssh_config::proxy(args),
        Command::ResetAccess(args) => reset_access::run(args),
        Command::Admin(command) => admin::run(command),
        Command::Audit(args) => audit::run(args),
    }
}

/// The data dir when none is given: `$KEYFLEET_DATA_DIR`, else `$XDG_DATA_HOME/keyfleet`,
/// else `~/.local/share/keyfleet`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("keyfleet");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/keyfleet"),
        None => PathBuf::from("keyfleet-data"),
    }
}

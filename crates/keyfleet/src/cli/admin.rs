//! `keyfleet admin …`: users, their access keys and policies, through the server's IAM API
//! (the same calls as `aws iam …`), signed with the admin profile's credentials.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use comfy_table::Table;

use super::client::{ClientArgs, ClientError, Ec2Client, read_file};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Accounts on this server (run where the server's data dir is).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// A user's access keys.
    #[command(subcommand)]
    AccessKey(AccessKeyCommand),
    /// A user's inline policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// A user's console password (IAM's login profile).
    #[command(subcommand)]
    Password(PasswordCommand),
}

#[derive(Debug, Subcommand)]
pub enum PasswordCommand {
    /// Set a user's console password, read from the first line of standard input (never from
    /// the command line, which other local users can see).
    Set(PasswordArgs),
    /// Remove a user's console password: the user can no longer sign in to the console.
    Rm(UserArgs),
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The user name.
    user: String,
    /// The user must choose a new password at the next sign-in.
    #[arg(long)]
    reset_required: bool,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (a new 12-digit id) and print its root access key, once.
    Create(AccountArgs),
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The server's data dir.
    #[arg(long, env = "KEYFLEET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The server's master key file (default: <data dir>/master.key).
    #[arg(long, env = "KEYFLEET_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// The server's PostgreSQL database, when it runs on one (default: SQLite in the data dir).
    #[arg(long, env = "KEYFLEET_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (no access until a policy allows it).
    Create(UserArgs),
    /// Delete a user that has no access keys or policies left.
    Rm(UserArgs),
    /// List users.
    Ls(ClientOnly),
}

#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Create an access key; its secret is printed this once.
    Create(UserArgs),
    /// Delete an access key: requests signed with it are refused at once.
    Rm(AccessKeyArgs),
    /// List a user's access keys.
    Ls(UserArgs),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create or replace an inline policy from a JSON file.
    Put(PutPolicyArgs),
    /// Print a policy document.
    Get(PolicyArgs),
    /// Delete a policy.
    Rm(PolicyArgs),
    /// List a user's policy names.
    Ls(UserArgs),
}

#[derive(Debug, Args)]
pub struct ClientOnly {
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user name.
    user: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct AccessKeyArgs {
    /// The user name.
    user: String,
    /// The access key id (AKIA…).
    access_key_id: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The user name.
    user: String,
    /// The policy name.
    policy: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct PutPolicyArgs {
    /// The user name.
    user: String,
    /// The policy name.
    policy: String,
    /// The policy document (JSON).
    file: PathBuf,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Account(AccountCommand::Create(a)) => create_account(a),
        AdminCommand::User(c) => user(c),
        AdminCommand::AccessKey(c) => access_key(c),
        AdminCommand::Policy(c) => policy(c),
        AdminCommand::Password(c) => password(c),
    }
}

fn create_account(args: AccountArgs) -> anyhow::Result<()> {
    let mut config = keyfleet_server::ServerConfig::new(args.data_dir.unwrap_or_else(super::default_data_dir));
    config.master_key_file = args.master_key_file;
    config.database_url = args.database_url;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (account, id, secret) = runtime.block_on(keyfleet_server::create_account(&config))?;
    println!("account_id = {account}");
    println!("aws_access_key_id = {id}");
    println!("aws_secret_access_key = {}", secret.as_str());
    eprintln!("This is the new account's root key: full access to it. The secret is shown only now.");
    Ok(())
}

fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create(a) => {
            let result = Ec2Client::new(&a.client)?.call_iam("CreateUser", &[("UserName", &a.user)])?;
            println!("{}", result.child("User").and_then(|u| u.text_of("Arn")).unwrap_or_default());
        }
        UserCommand::Rm(a) => {
            Ec2Client::new(&a.client)?.call_iam("DeleteUser", &[("UserName", &a.user)])?;
        }
        UserCommand::Ls(a) => {
            let result = Ec2Client::new(&a.client)?.call_iam("ListUsers", &[])?;
            let mut table = Table::new();
            table.set_header(["User", "ARN", "Created"]);
            for u in result.members("Users") {
                let field = |n: &str| u.text_of(n).unwrap_or_default().to_owned();
                table.add_row([field("UserName"), field("Arn"), field("CreateDate")]);
            }
            println!("{table}");
        }
    }
    Ok(())
}

fn access_key(command: AccessKeyCommand) -> anyhow::Result<()> {
    match command {
        AccessKeyCommand::Create(a) => {
            let result = Ec2Client::new(&a.client)?.call_iam("CreateAccessKey", &[("UserName", &a.user)])?;
            let key = result.child("AccessKey");
            let field = |n: &str| key.and_then(|k| k.text_of(n)).unwrap_or_default();
            println!("aws_access_key_id = {}", field("AccessKeyId"));
            println!("aws_secret_access_key = {}", field("SecretAccessKey"));
            eprintln!("The secret is shown only now. Store it in the user's aws credentials file.");
        }
        AccessKeyCommand::Rm(a) => {
            let params = [("UserName", a.user.as_str()), ("AccessKeyId", a.access_key_id.as_str())];
            Ec2Client::new(&a.client)?.call_iam("DeleteAccessKey", &params)?;
        }
        AccessKeyCommand::Ls(a) => {
            let result = Ec2Client::new(&a.client)?.call_iam("ListAccessKeys", &[("UserName", &a.user)])?;
            let mut table = Table::new();
            table.set_header(["Access key", "Status", "Created"]);
            for k in result.members("AccessKeyMetadata") {
                let field = |n: &str| k.text_of(n).unwrap_or_default().to_owned();
                table.add_row([field("AccessKeyId"), field("Status"), field("CreateDate")]);
            }
            println!("{table}");
        }
    }
    Ok(())
}

fn policy(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Put(a) => {
            let document = String::from_utf8(read_file(&a.file)?)?;
            let params =
                [("UserName", a.user.as_str()), ("PolicyName", a.policy.as_str()), ("PolicyDocument", &document)];
            Ec2Client::new(&a.client)?.call_iam("PutUserPolicy", &params)?;
        }
        PolicyCommand::Get(a) => {
            let params = [("UserName", a.user.as_str()), ("PolicyName", a.policy.as_str())];
            let result = Ec2Client::new(&a.client)?.call_iam("GetUserPolicy", &params)?;
            let encoded = result.text_of("PolicyDocument").unwrap_or_default();
            let document: String = form_urlencoded::parse(format!("d={}", encoded.replace('+', "%2B")).as_bytes())
                .map(|(_, v)| v.into_owned())
                .collect();
            println!("{document}");
        }
        PolicyCommand::Rm(a) => {
            let params = [("UserName", a.user.as_str()), ("PolicyName", a.policy.as_str())];
            Ec2Client::new(&a.client)?.call_iam("DeleteUserPolicy", &params)?;
        }
        PolicyCommand::Ls(a) => {
            let result = Ec2Client::new(&a.client)?.call_iam("ListUserPolicies", &[("UserName", &a.user)])?;
            let names =
                result.child("PolicyNames").map(|n| n.children.iter().map(|c| c.text.clone()).collect::<Vec<_>>());
            for name in names.unwrap_or_default() {
                println!("{name}");
            }
        }
    }
    Ok(())
}

fn password(command: PasswordCommand) -> anyhow::Result<()> {
    match command {
        PasswordCommand::Set(a) => {
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin().read_line(&mut line)?;
            let password = line.trim_end_matches(['\n', '\r']);
            anyhow::ensure!(!password.is_empty(), "give the password on standard input");
            let reset = if a.reset_required { "true" } else { "false" };
            let params = [("UserName", a.user.as_str()), ("Password", password), ("PasswordResetRequired", reset)];
            let client = Ec2Client::new(&a.client)?;
            // Create the login profile, or change the password of the one there is.
            match client.call_iam("CreateLoginProfile", &params) {
                Err(ClientError::Aws { code, .. }) if code == "EntityAlreadyExists" => {
                    client.call_iam("UpdateLoginProfile", &params)?;
                }
                other => drop(other?),
            }
            println!("{}: console password set", a.user);
        }
        PasswordCommand::Rm(a) => {
            Ec2Client::new(&a.client)?.call_iam("DeleteLoginProfile", &[("UserName", &a.user)])?;
        }
    }
    Ok(())
}

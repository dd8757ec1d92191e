//! `keyfleet configure`: the aws CLI profile (default `keyfleet`) for this server, made
//! from the admin credentials in the data dir, so `aws --profile keyfleet …` just works.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use keyfleet_server::credentials_file;

use super::aws_files;

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// The server's data dir (where `serve` saved the admin credentials).
    #[arg(long, env = "KEYFLEET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The server's URL.
    #[arg(long, default_value = "http://127.0.0.1:8773")]
    endpoint_url: String,
    /// The profile's default region.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The CA certificates (PEM) the server's certificate chains to, for an https endpoint
    /// (saved as the profile's ca_bundle, which the aws CLI and keyfleet read).
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// The profile name.
    #[arg(long, default_value = "keyfleet")]
    profile: String,
}

pub fn run(args: ConfigureArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(super::default_data_dir);
    let key = credentials_file::read(&data_dir.join(credentials_file::FILE_NAME))
        .context("no admin credentials found: start the server once with `keyfleet serve` (same --data-dir)")?;
    let credentials = aws_files::credentials_path();
    aws_files::write_section(
        &credentials,
        &args.profile,
        &[("aws_access_key_id", &key.id), ("aws_secret_access_key", key.secret.expose())],
    )?;
    let config = aws_files::config_path();
    let section = if args.profile == "default" { "default".to_owned() } else { format!("profile {}", args.profile) };
    let ca_bundle = match &args.ca_bundle {
        Some(path) => Some(std::fs::canonicalize(path).with_context(|| format!("--ca-bundle {}", path.display()))?),
        None => None,
    };
    let ca_bundle = ca_bundle.as_ref().map(|p| p.to_string_lossy());
    let mut entries = vec![("region", args.region.as_str()), ("endpoint_url", args.endpoint_url.as_str())];
    entries.extend(ca_bundle.as_deref().map(|path| ("ca_bundle", path)));
    aws_files::write_section(&config, &section, &entries)?;
    println!("Wrote profile '{}' to {} and {}.", args.profile, credentials.display(), config.display());
    println!("Try: aws --profile {} ec2 describe-key-pairs", args.profile);
    Ok(())
}

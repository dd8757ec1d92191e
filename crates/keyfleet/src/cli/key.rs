//! `keyfleet key …`: key pairs from the command line. `create` writes the private key
//! the server returns straight to a new file with mode 0400, and never over an existing one.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use comfy_table::Table;
use keyfleet_keys::{PrivateKey, fingerprint, import::parse_public_key_material};

use super::client::{ClientArgs, Ec2Client, read_file};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key pair and save its private key (mode 0400).
    Create(CreateArgs),
    /// Import a public key (OpenSSH, RFC 4716 or base64 DER).
    Import(ImportArgs),
    /// List key pairs.
    Ls(ListArgs),
    /// Delete a key pair by name or id.
    Rm(RemoveArgs),
    /// Print the AWS fingerprint of a local key file (offline).
    Fingerprint(FingerprintArgs),
    /// Move an Auto Scaling group's instances to a new key pair: a new launch template
    /// version with the key, an instance refresh, then the old key pair deleted if nothing
    /// uses it.
    RotateFleet(super::rotate_fleet::RotateFleetArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    name: String,
    /// rsa or ed25519.
    #[arg(long = "type", default_value = "rsa")]
    key_type: String,
    /// pem or ppk.
    #[arg(long, default_value = "pem")]
    format: String,
    /// A tag, as key=value (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Where to write the private key (default: NAME.pem or NAME.ppk).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    name: String,
    /// The public key file, e.g. ~/.ssh/id_ed25519.pub.
    file: PathBuf,
    /// A tag, as key=value (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// A key pair name, or an id (key-…).
    name_or_id: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// A private key (.pem, OpenSSH) or a public key (.pub, RFC 4716, base64 DER).
    file: PathBuf,
}

pub fn run(command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create(args) => create(args),
        KeyCommand::Import(args) => import(args),
        KeyCommand::Ls(args) => list(args),
        KeyCommand::Rm(args) => remove(args),
        KeyCommand::Fingerprint(args) => print_fingerprint(&args.file),
        KeyCommand::RotateFleet(args) => super::rotate_fleet::run(args),
    }
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("expected key=value, got '{s}'"))
}

/// `TagSpecification.1.*` parameters for a key pair.
fn tag_params(tags: &[(String, String)]) -> Vec<(String, String)> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut params = vec![("TagSpecification.1.ResourceType".to_owned(), "key-pair".to_owned())];
    for (i, (k, v)) in tags.iter().enumerate() {
        params.push((format!("TagSpecification.1.Tag.{}.Key", i + 1), k.clone()));
        params.push((format!("TagSpecification.1.Tag.{}.Value", i + 1), v.clone()));
    }
    params
}

fn as_refs(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn create(args: CreateArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    let path = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.{}", args.name, args.format)));
    let mut params = vec![
        ("KeyName".to_owned(), args.name.clone()),
        ("KeyType".to_owned(), args.key_type.clone()),
        ("KeyFormat".to_owned(), args.format.clone()),
    ];
    params.extend(tag_params(&args.tags));
    let response = create_into(&client, &params, &path)?;
    println!(
        "Created key pair {} ({}), fingerprint {}",
        response.text_of("keyName").unwrap_or_default(),
        response.text_of("keyPairId").unwrap_or_default(),
        response.text_of("keyFingerprint").unwrap_or_default()
    );
    println!("Private key saved to {} (mode 0400). It cannot be downloaded again.", path.display());
    Ok(())
}

/// CreateKeyPair with `params`, its private key written to a new file at `path` (mode 0400).
pub(super) fn create_into(
    client: &Ec2Client,
    params: &[(String, String)],
    path: &Path,
) -> anyhow::Result<super::xml::Element> {
    // Claim the file first: if it exists we stop before a key pair is created and lost.
    let mut file = create_private_file(path)?;
    let response = match client.call("CreateKeyPair", &as_refs(params)) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
    };
    let material = response.text_of("keyMaterial").unwrap_or_default();
    file.write_all(material.as_bytes())
        .and_then(|()| if material.ends_with('\n') { Ok(()) } else { file.write_all(b"\n") })
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(response)
}

fn create_private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o400);
    options.open(path).with_context(|| {
        if path.exists() {
            format!("{} already exists; refusing to overwrite it", path.display())
        } else {
            format!("creating {}", path.display())
        }
    })
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    let material = base64::engine::general_purpose::STANDARD.encode(read_file(&args.file)?);
    let mut params = vec![("KeyName".to_owned(), args.name.clone()), ("PublicKeyMaterial".to_owned(), material)];
    params.extend(tag_params(&args.tags));
    let response = client.call("ImportKeyPair", &as_refs(&params))?;
    println!(
        "Imported key pair {} ({}), fingerprint {}",
        response.text_of("keyName").unwrap_or_default(),
        response.text_of("keyPairId").unwrap_or_default(),
        response.text_of("keyFingerprint").unwrap_or_default()
    );
    Ok(())
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    let response = client.call("DescribeKeyPairs", &[])?;
    let mut table = Table::new();
    table.set_header(["Name", "ID", "Type", "Fingerprint", "Created", "Tags"]);
    for item in response.items("keySet") {
        let tags: Vec<String> = item
            .items("tagSet")
            .map(|t| format!("{}={}", t.text_of("key").unwrap_or_default(), t.text_of("value").unwrap_or_default()))
            .collect();
        table.add_row([
            item.text_of("keyName").unwrap_or_default(),
            item.text_of("keyPairId").unwrap_or_default(),
            item.text_of("keyType").unwrap_or_default(),
            item.text_of("keyFingerprint").unwrap_or_default(),
            item.text_of("createTime").unwrap_or_default(),
            &tags.join(", "),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    let by_id = args.name_or_id.starts_with("key-") && args.name_or_id.len() == 21;
    let param = if by_id { "KeyPairId" } else { "KeyName" };
    let response = client.call("DeleteKeyPair", &[(param, &args.name_or_id)])?;
    match response.text_of("keyPairId") {
        Some(id) => println!("Deleted key pair {} ({id})", args.name_or_id),
        None => println!("No key pair {}; nothing to delete", args.name_or_id),
    }
    Ok(())
}

/// A private key gets the fingerprint EC2 shows for a key it created; a public key the
/// one EC2 shows for an import.
fn print_fingerprint(path: &PathBuf) -> anyhow::Result<()> {
    let bytes = zeroize::Zeroizing::new(read_file(path)?);
    let text = String::from_utf8_lossy(&bytes);
    let fp = if text.contains("PRIVATE KEY-----") {
        let key = PrivateKey::from_pem(&text).context("not an unencrypted RSA (PKCS#1) or OpenSSH private key")?;
        fingerprint::of_created(&key)?
    } else {
        let key = parse_public_key_material(&bytes)
            .with_context(|| format!("{}: not a public key EC2 accepts", path.display()))?;
        fingerprint::of_imported(&key)?
    };
    println!("{fp}");
    Ok(())
}

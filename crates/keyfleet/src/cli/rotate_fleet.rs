//! `keyfleet key rotate-fleet GROUP --new-key NAME`: the way to change the key of a fleet
//! behind an Auto Scaling group, as AWS users do it by hand.
//!
//! 1. The new key pair: created (its private key saved, mode 0400) unless it exists already
//!    (imported, say).
//! 2. A new version of the group's launch template, from the version the group launches,
//!    with the new key; the group is pointed at it (the template's default moves when the
//!    group launches `$Default`, the group's version when it names a number).
//! 3. An instance refresh replaces every instance, keeping `--min-healthy` percent in
//!    service; a bar shows its progress.
//! 4. The old key pair is deleted once no instance, no launch template's default or latest
//!    version and no group's template version uses it.
//!
//! A group that launches its template's `$Default` moves the template's default: every other
//! user of the template's default launches with the new key too.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::client::{ClientArgs, ClientError, Ec2Client};
use super::xml::Element;

#[derive(Debug, Args)]
pub struct RotateFleetArgs {
    /// The Auto Scaling group.
    group: String,
    /// The key pair the fleet moves to; created if it does not exist.
    #[arg(long)]
    new_key: String,
    /// Where to write the new private key when it is created (default: NAME.pem).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The share of the group that stays in service during the refresh.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(0..=100))]
    min_healthy: u8,
    /// Seconds a new instance warms up before the next is replaced.
    #[arg(long, default_value_t = 0)]
    warmup: u32,
    /// Keep the old key pair.
    #[arg(long)]
    keep_old: bool,
    /// Give up waiting after this many seconds (the refresh goes on).
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    #[command(flatten)]
    client: ClientArgs,
}

/// The group's launch template as DescribeAutoScalingGroups names it.
struct GroupTemplate {
    id: String,
    /// `Version` as the group gives it (`$Default` when it gives none).
    version: String,
}

pub fn run(args: RotateFleetArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    let template = group_template(&client, &args.group)?;
    let old_key = version_key(&client, &template.id, &template.version)?;
    if old_key.as_deref() == Some(args.new_key.as_str()) {
        bail!("group {} already launches with key pair {}", args.group, args.new_key);
    }
    ensure_key(&client, &args)?;
    let version = new_version(&client, &template, &args.new_key)?;
    point_group_at(&client, &args.group, &template, &version)?;
    println!("Launch template {} version {version} uses key pair {}.", template.id, args.new_key);
    let refresh = start_refresh(&client, &args)?;
    follow(&client, &args.group, &refresh, Duration::from_secs(args.timeout))?;
    println!("Every instance of {} now accepts key pair {}.", args.group, args.new_key);
    match old_key {
        Some(old) if !args.keep_old => delete_if_unused(&client, &old),
        _ => Ok(()),
    }
}

fn group_template(client: &Ec2Client, group: &str) -> anyhow::Result<GroupTemplate> {
    let answer = client.call_autoscaling("DescribeAutoScalingGroups", &[("AutoScalingGroupNames.member.1", group)])?;
    let found = answer.members("AutoScalingGroups").next().with_context(|| format!("no Auto Scaling group {group}"))?;
    let template = found.child("LaunchTemplate").with_context(|| format!("group {group} has no launch template"))?;
    Ok(GroupTemplate {
        id: template.text_of("LaunchTemplateId").unwrap_or_default().to_owned(),
        version: template.text_of("Version").unwrap_or("$Default").to_owned(),
    })
}

/// The key pair a version of the template launches with.
fn version_key(client: &Ec2Client, template: &str, version: &str) -> anyhow::Result<Option<String>> {
    let answer = client.call(
        "DescribeLaunchTemplateVersions",
        &[("LaunchTemplateId", template), ("LaunchTemplateVersion.1", version)],
    )?;
    let found = answer.items("launchTemplateVersionSet").next().context("the group's template version is gone")?;
    Ok(found.child("launchTemplateData").and_then(|d| d.text_of("keyName")).map(str::to_owned))
}

fn ensure_key(client: &Ec2Client, args: &RotateFleetArgs) -> anyhow::Result<()> {
    match client.call("DescribeKeyPairs", &[("KeyName.1", &args.new_key)]) {
        Ok(_) => {
            println!("Using the existing key pair {}.", args.new_key);
            return Ok(());
        }
        Err(ClientError::Aws { code, .. }) if code == "InvalidKeyPair.NotFound" => {}
        Err(e) => return Err(e.into()),
    }
    let path = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.pem", args.new_key)));
    let params = [("KeyName".to_owned(), args.new_key.clone())];
    super::key::create_into(client, &params, &path)?;
    println!("Created key pair {}; its private key is in {} (mode 0400).", args.new_key, path.display());
    Ok(())
}

/// A new version from the one the group launches, with `key`; its number.
fn new_version(client: &Ec2Client, template: &GroupTemplate, key: &str) -> anyhow::Result<String> {
    let description = format!("keyfleet rotate-fleet to {key}");
    let answer = client.call(
        "CreateLaunchTemplateVersion",
        &[
            ("LaunchTemplateId", &template.id),
            ("SourceVersion", &template.version),
            ("VersionDescription", &description),
            ("LaunchTemplateData.KeyName", key),
        ],
    )?;
    let version = answer.child("launchTemplateVersion").and_then(|v| v.text_of("versionNumber"));
    Ok(version.context("no version number in the answer")?.to_owned())
}

fn point_group_at(client: &Ec2Client, group: &str, template: &GroupTemplate, version: &str) -> anyhow::Result<()> {
    match template.version.as_str() {
        "$Latest" => Ok(()),
        "$Default" => {
            client
                .call("ModifyLaunchTemplate", &[("LaunchTemplateId", &template.id), ("SetDefaultVersion", version)])?;
            Ok(())
        }
        _ => {
            client.call_autoscaling(
                "UpdateAutoScalingGroup",
                &[
                    ("AutoScalingGroupName", group),
                    ("LaunchTemplate.LaunchTemplateId", &template.id),
                    ("LaunchTemplate.Version", version),
                ],
            )?;
            Ok(())
        }
    }
}

fn start_refresh(client: &Ec2Client, args: &RotateFleetArgs) -> anyhow::Result<String> {
    let (min, warmup) = (args.min_healthy.to_string(), args.warmup.to_string());
    let answer = client.call_autoscaling(
        "StartInstanceRefresh",
        &[
            ("AutoScalingGroupName", &args.group),
            ("Preferences.MinHealthyPercentage", &min),
            ("Preferences.InstanceWarmup", &warmup),
        ],
    )?;
    Ok(answer.text_of("InstanceRefreshId").context("no refresh id in the answer")?.to_owned())
}

/// Polls the refresh, drawing its percentage, until it ends.
fn follow(client: &Ec2Client, group: &str, id: &str, timeout: Duration) -> anyhow::Result<()> {
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}% {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let deadline = Instant::now() + timeout;
    loop {
        let answer = client.call_autoscaling(
            "DescribeInstanceRefreshes",
            &[("AutoScalingGroupName", group), ("InstanceRefreshIds.member.1", id)],
        )?;
        let refresh = answer.members("InstanceRefreshes").next().context("the refresh is gone")?;
        let status = refresh.text_of("Status").unwrap_or_default().to_owned();
        bar.set_position(refresh.text_of("PercentageComplete").and_then(|p| p.parse().ok()).unwrap_or(0));
        bar.set_message(refresh_message(refresh, &status));
        match status.as_str() {
            "Successful" => {
                bar.finish_with_message("Successful");
                return Ok(());
            }
            "Failed" | "Cancelled" => {
                bar.abandon();
                bail!(
                    "the instance refresh {id} ended {status}: {}",
                    refresh.text_of("StatusReason").unwrap_or("no reason given")
                );
            }
            _ => {}
        }
        if Instant::now() > deadline {
            bar.abandon();
            bail!(
                "the instance refresh {id} is still running; follow it with aws autoscaling describe-instance-refreshes"
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The groups whose template version (a pinned number included) launches with `key`.
fn groups_launching_with(client: &Ec2Client, key: &str) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut token = String::new();
    loop {
        let mut params = vec![("MaxRecords", "100")];
        if !token.is_empty() {
            params.push(("NextToken", &token));
        }
        let answer = client.call_autoscaling("DescribeAutoScalingGroups", &params)?;
        for group in answer.members("AutoScalingGroups") {
            let Some(template) = group.child("LaunchTemplate") else { continue };
            let id = template.text_of("LaunchTemplateId").unwrap_or_default();
            let version = template.text_of("Version").unwrap_or("$Default");
            if version_key(client, id, version)?.as_deref() == Some(key) {
                found.push(group.text_of("AutoScalingGroupName").unwrap_or_default().to_owned());
            }
        }
        match answer.text_of("NextToken") {
            Some(next) if !next.is_empty() => token = next.to_owned(),
            _ => return Ok(found),
        }
    }
}

fn refresh_message(refresh: &Element, status: &str) -> String {
    match (refresh.text_of("InstancesToUpdate"), refresh.text_of("StatusReason")) {
        (_, Some(reason)) => reason.to_owned(),
        (Some(left), None) => format!("{status}, {left} to replace"),
        (None, None) => status.to_owned(),
    }
}

/// Deletes `key` when no instance that is not terminated and no launch template's default
/// or latest version uses it; otherwise says what still does.
fn delete_if_unused(client: &Ec2Client, key: &str) -> anyhow::Result<()> {
    let instances = client.call(
        "DescribeInstances",
        &[
            ("Filter.1.Name", "key-name"),
            ("Filter.1.Value.1", key),
            ("Filter.2.Name", "instance-state-name"),
            ("Filter.2.Value.1", "pending"),
            ("Filter.2.Value.2", "running"),
            ("Filter.2.Value.3", "stopping"),
            ("Filter.2.Value.4", "stopped"),
        ],
    )?;
    let users: Vec<String> = instances
        .items("reservationSet")
        .flat_map(|r| r.items("instancesSet"))
        .filter_map(|i| i.text_of("instanceId").map(str::to_owned))
        .collect();
    if !users.is_empty() {
        println!("Kept key pair {key}: instances still use it ({}).", users.join(", "));
        return Ok(());
    }
    let versions = client.call(
        "DescribeLaunchTemplateVersions",
        &[("LaunchTemplateVersion.1", "$Latest"), ("LaunchTemplateVersion.2", "$Default")],
    )?;
    let templates: Vec<String> = versions
        .items("launchTemplateVersionSet")
        .filter(|v| v.child("launchTemplateData").and_then(|d| d.text_of("keyName")) == Some(key))
        .filter_map(|v| v.text_of("launchTemplateName").map(str::to_owned))
        .collect();
    if !templates.is_empty() {
        println!("Kept key pair {key}: launch templates still launch with it ({}).", templates.join(", "));
        return Ok(());
    }
    let groups = groups_launching_with(client, key)?;
    if !groups.is_empty() {
        println!("Kept key pair {key}: Auto Scaling groups still launch with it ({}).", groups.join(", "));
        return Ok(());
    }
    client.call("DeleteKeyPair", &[("KeyName", key)])?;
    println!("Deleted the old key pair {key}: nothing uses it any more.");
    Ok(())
}

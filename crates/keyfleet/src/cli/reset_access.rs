//! `keyfleet reset-access INSTANCE`: the lost-key recovery in one command. Starts the
//! `AWSSupport-ResetAccess` automation, shows its steps as they run, then fetches and
//! decrypts the new private key and writes it with mode 0400.

// Only `serde_json::Value` is indexed here: a missing member or element reads as `Null`, and
// the objects written to are built here as objects, so none of it can panic.
#![allow(clippy::indexing_slicing)]

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::client::{ClientArgs, Ec2Client};

#[derive(Debug, Args)]
pub struct ResetAccessArgs {
    /// The instance whose key was lost.
    instance_id: String,
    /// Where to write the new private key (default: <instance-id>.pem); never overwritten.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[command(flatten)]
    client: ClientArgs,
}

const SSM: &str = "ssm";

pub fn run(args: ResetAccessArgs) -> anyhow::Result<()> {
    let client = Ec2Client::new(&args.client)?;
    let path = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.pem", args.instance_id)));
    if path.exists() {
        bail!("{} already exists; refusing to overwrite it", path.display());
    }
    let started = client.call_json(
        SSM,
        "AmazonSSM.StartAutomationExecution",
        &json!({"DocumentName": "AWSSupport-ResetAccess", "Parameters": {"InstanceId": [args.instance_id]}}),
    )?;
    let id = started["AutomationExecutionId"].as_str().context("no execution id in the answer")?.to_owned();
    let execution = follow(&client, &id, Duration::from_secs(args.timeout))?;
    if execution["AutomationExecutionStatus"] != "Success" {
        bail!(
            "ResetAccess {}: {}",
            execution["AutomationExecutionStatus"].as_str().unwrap_or("ended"),
            execution["FailureMessage"].as_str().unwrap_or("no reason given")
        );
    }
    let name =
        execution["Outputs"]["getLinuxSSHKeyParameter.Name"][0].as_str().context("no key parameter in the outputs")?;
    let parameter = client.call_json(SSM, "AmazonSSM.GetParameter", &json!({"Name": name, "WithDecryption": true}))?;
    let key = zeroize::Zeroizing::new(parameter["Parameter"]["Value"].as_str().unwrap_or_default().to_owned());
    write_private_key(&path, &key)?;
    println!("Wrote the new private key to {} (mode 0400). Execution {id}.", path.display());
    println!("Log in: keyfleet ssh {} -i {}", args.instance_id, path.display());
    Ok(())
}

/// Polls the execution, drawing a bar of its steps, until it ends.
fn follow(client: &Ec2Client, id: &str, timeout: Duration) -> anyhow::Result<Value> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let deadline = Instant::now() + timeout;
    loop {
        let answer =
            client.call_json(SSM, "AmazonSSM.GetAutomationExecution", &json!({"AutomationExecutionId": id}))?;
        let execution = answer["AutomationExecution"].clone();
        let steps = execution["StepExecutions"].as_array().cloned().unwrap_or_default();
        let done = steps
            .iter()
            .filter(|s| matches!(s["StepStatus"].as_str(), Some("Success" | "Failed" | "Cancelled")))
            .count();
        bar.set_length(steps.len() as u64);
        bar.set_position(done as u64);
        bar.set_message(execution["CurrentStepName"].as_str().unwrap_or_default().to_owned());
        if execution.get("ExecutionEndTime").is_some() {
            bar.finish_with_message(execution["AutomationExecutionStatus"].as_str().unwrap_or_default().to_owned());
            return Ok(execution);
        }
        if Instant::now() > deadline {
            bar.abandon();
            bail!("execution {id} still running after the timeout; check it with aws ssm get-automation-execution");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn write_private_key(path: &std::path::Path, key: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(key.as_bytes())?;
    if !key.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    Ok(file.sync_all()?)
}

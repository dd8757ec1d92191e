//! keyfleet's one end-to-end test binary. Every test starts the real `keyfleet` binary on
//! port 0 with a temporary data dir and drives it with real clients.
//!
//! Where tests go:
//! - `ansible.rs`: a playbook with amazon.aws and community.aws modules and `become: true`;
//! - `attacks.rs`: a hostile instance user against the host, over real ssh;
//! - `aws_cli.rs`: the tutorials' commands with the real `aws` CLI, checked with
//!   `ssh-keygen`, `openssl` and `puttygen`;
//! - `boto3.rs`: boto3 scripts (in `clients/`): error shapes, waiters, paging, concurrency;
//! - `cloudformation.rs`: stacks with the aws CLI and boto3: seed 004 from its first step,
//!   key pair stacks, rollbacks, updates, errors, service roles and a crash in the middle;
//! - `keyfleet_cli.rs`: the `keyfleet key …` and `configure` commands;
//! - `console.rs`: the web console in headless Chromium through chromedriver;
//! - `edge.rs`: body, parameter and rate limits, and slow clients;
//! - `golden.rs`: raw request/response pairs against `golden/*.xml` (ids and times normalized);
//! - `secrets.rs`: no private key byte reaches the database or the logs;
//! - `sigv4.rs`: authentication failures as real clients see them, and their audit records;
//! - `iam.rs`: users, access keys and policies: every allow and deny path, and the audit log;
//! - `js_sdk.rs`: the AWS SDK for JavaScript v3 (`clients/js`);
//! - `instances.rs`: built-in instances with the real `ssh`, `scp` and `sftp`;
//! - `network.rs`: the default VPC, subnets and zones, and instance status checks;
//! - `ssm.rs`: Parameter Store with the aws CLI;
//! - `tls.rs`: the API over HTTPS, and `aws:SecureTransport`;
//! - `replicas.rs`: two servers on one PostgreSQL database;
//! - `reset_access.rs`: the AWSSupport-ResetAccess automation and `keyfleet reset-access`.
//!
//! A test that needs a missing tool prints why and passes on a laptop, and fails when
//! `CI=true` (see `support::require`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests fail loudly by design

mod support;

mod ansible;
mod attacks;
mod auto_scaling;
mod aws_cli;
mod boto3;
mod cloudformation;
mod console;
mod edge;
mod golden;
mod iam;
mod instances;
mod js_sdk;
mod keyfleet_cli;
mod launch_templates;
mod network;
mod replicas;
mod reset_access;
mod roles;
mod secrets;
mod sigv4;
mod ssm;
mod tls;

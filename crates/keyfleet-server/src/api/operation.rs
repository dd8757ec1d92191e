//! One pipeline for every action of every service: decode → targets → authorize (and
//! DryRun) → service → encode. An action is one [`Operation`] value; what it may not do is
//! skip a step, because it never runs one itself: handlers get a [`Context`] that has no way
//! to authorize, and only [`run`] reaches `authorize::check`.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::authorize::{self, Target, Trail};
use super::error::ApiError;
use super::protocol::ec2_query::QueryParams;
use super::protocol::json11::JsonInput;
use super::{Context, Reply};

/// How a service's requests arrive and its answers leave.
pub trait Protocol: 'static {
    /// The decoded request every operation of the protocol reads its input from.
    type Request: Sync;
    /// A successful answer, before the edge frames it.
    type Response: Send;

    /// `DryRun=true`: authorize, then answer `DryRunOperation` instead of acting. Only
    /// EC2 has it.
    fn dry_run(_request: &Self::Request) -> Result<bool> {
        Ok(false)
    }
}

/// EC2's Query protocol, answered in EC2's XML.
pub struct Ec2Query;

impl Protocol for Ec2Query {
    type Request = QueryParams;
    type Response = Reply;

    fn dry_run(request: &QueryParams) -> Result<bool> {
        request.dry_run()
    }
}

/// The AWS Query protocol as IAM speaks it, answered in its XML.
pub struct AwsQuery;

impl Protocol for AwsQuery {
    type Request = QueryParams;
    type Response = Reply;
}

/// JSON 1.1 (`X-Amz-Target`): SSM, Instance Connect, CloudTrail.
pub struct Json11;

impl Protocol for Json11 {
    type Request = JsonInput;
    type Response = Value;
}

type Result<T> = std::result::Result<T, ApiError>;

/// One action: its names, its typed input and output, what it is authorized on, and the
/// service call. Each step is a function of the step before, so that the pipeline, not the
/// action, decides the order.
pub trait Operation: Send + Sync + 'static {
    /// The protocol it is spoken in.
    type Protocol: Protocol;
    /// The wire name (`Action=` or the operation after `X-Amz-Target`'s prefix).
    const NAME: &'static str;
    /// The IAM action it is authorized as.
    const ACTION: &'static str;
    /// CloudTrail's `readOnly`: the action changes nothing, so its audit record is not
    /// waited for.
    const READ_ONLY: bool;
    /// The request, decoded and validated.
    type Input: Send + Sync;
    /// What the service answered.
    type Output: Send;

    /// Reads and validates the request (the caller is known: some inputs default to it).
    fn decode(ctx: &Context<'_>, request: &<Self::Protocol as Protocol>::Request) -> Result<Self::Input>;

    /// The resources the action touches, with their condition keys.
    fn authorization(ctx: &Context<'_>, input: &Self::Input) -> impl Future<Output = Result<Authorization>> + Send;

    /// The service call, once authorized.
    fn call(ctx: &Context<'_>, input: Self::Input) -> impl Future<Output = Result<Self::Output>> + Send;

    /// The answer in the protocol's shape.
    fn encode(ctx: &Context<'_>, output: Self::Output) -> <Self::Protocol as Protocol>::Response;

    /// Resources that exist only once the call has made them (RunInstances' instances), for
    /// the audit record, as `(type, name)`.
    fn created(_output: &Self::Output) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// Everything an action is checked on: each check is an IAM action on targets, in order.
/// Every authorization starts with the action itself, except [`Authorization::none_required`]
/// for the one action AWS lets everyone call.
#[derive(Debug)]
pub struct Authorization {
    checks: Vec<(Option<&'static str>, Vec<Target>)>,
    noted: Vec<(&'static str, String)>,
}

impl Authorization {
    /// The action itself on `targets`.
    pub fn on(targets: Vec<Target>) -> Self {
        Authorization { checks: Vec::new(), noted: Vec::new() }.and_on(targets)
    }

    /// The action itself on one target.
    pub fn on_one(target: Target) -> Self {
        Authorization::on(vec![target])
    }

    /// No check at all: for `sts:GetCallerIdentity`, which AWS answers whatever the caller's
    /// policies say ("No permissions are required to perform this operation"), and
    /// `sts:GetSessionToken`, which any identity may call for itself.
    pub fn none_required() -> Self {
        Authorization { checks: Vec::new(), noted: Vec::new() }
    }

    /// Actions without resource-level permissions (every `Describe*`, `List*`) are checked
    /// on `*`.
    pub fn any() -> Self {
        Authorization::on_one(Target::any())
    }

    /// Also the action itself on `targets`, after the checks so far.
    pub fn and_on(mut self, targets: Vec<Target>) -> Self {
        self.checks.push((None, targets));
        self
    }

    /// Another IAM action the request also needs (`ec2:CreateTags` on create-with-tags),
    /// after the checks so far.
    pub fn and_as(mut self, action: &'static str, targets: Vec<Target>) -> Self {
        self.checks.push((Some(action), targets));
        self
    }

    /// Resources the request names without being authorized on each (the names a
    /// `Describe*` call asks for), so that lookups by resource name find the call.
    pub fn noting(mut self, kind: &'static str, names: &[String]) -> Self {
        self.noted.extend(names.iter().map(|n| (kind, n.clone())));
        self
    }
}

/// A boxed run of the pipeline, so that one table holds operations of different types.
type Running<'a, P> = Pin<Box<dyn Future<Output = Result<<P as Protocol>::Response>> + Send + 'a>>;

type Run<P> = for<'a> fn(&'a Context<'a>, &'a Trail, &'a <P as Protocol>::Request) -> Running<'a, P>;

/// An operation as a row of its service's table.
pub struct Endpoint<P: Protocol> {
    /// The wire name.
    pub name: &'static str,
    /// The IAM action.
    pub action: &'static str,
    /// CloudTrail's `readOnly`.
    pub read_only: bool,
    run: Run<P>,
}

impl<P: Protocol> Endpoint<P> {
    /// The row for `O`.
    pub const fn of<O: Operation<Protocol = P>>() -> Self {
        Endpoint { name: O::NAME, action: O::ACTION, read_only: O::READ_ONLY, run: boxed::<O> }
    }

    /// Runs the request through the pipeline.
    pub async fn run(&self, ctx: &Context<'_>, trail: &Trail, request: &P::Request) -> Result<P::Response> {
        (self.run)(ctx, trail, request).await
    }
}

/// The row of `table` with this wire name (case-sensitive, as AWS's are).
pub fn find<'t, P: Protocol>(table: &'t [Endpoint<P>], name: &str) -> Option<&'t Endpoint<P>> {
    table.iter().find(|e| e.name == name)
}

fn boxed<'a, O: Operation>(
    ctx: &'a Context<'a>,
    trail: &'a Trail,
    request: &'a <O::Protocol as Protocol>::Request,
) -> Running<'a, O::Protocol> {
    Box::pin(run::<O>(ctx, trail, request))
}

/// The pipeline.
async fn run<O: Operation>(
    ctx: &Context<'_>,
    trail: &Trail,
    request: &<O::Protocol as Protocol>::Request,
) -> Result<<O::Protocol as Protocol>::Response> {
    let output = execute::<O>(ctx, trail, request).await?;
    Ok(O::encode(ctx, output))
}

/// The pipeline up to the typed output, for a front end that renders it itself (the
/// console): decode → targets → authorize (and DryRun) → service.
pub async fn execute<O: Operation>(
    ctx: &Context<'_>,
    trail: &Trail,
    request: &<O::Protocol as Protocol>::Request,
) -> Result<O::Output> {
    // GetSessionToken's credentials are no key to IAM: refused before IAM reads anything.
    authorize::refuse_own_session_in_iam(ctx.principal, ctx.service)?;
    let input = O::decode(ctx, request)?;
    let authorization = O::authorization(ctx, &input).await?;
    for (kind, name) in &authorization.noted {
        trail.note(kind, name);
    }
    for (action, targets) in &authorization.checks {
        // A request that names no resource (an empty list) is still checked, on `*`.
        let any = [Target::any()];
        let targets = if targets.is_empty() { &any[..] } else { targets };
        authorize::check(ctx.principal, ctx.service, &ctx.scope, trail, action.unwrap_or(O::ACTION), targets)?;
    }
    if <O::Protocol as Protocol>::dry_run(request)? {
        return Err(ApiError::dry_run());
    }
    let output = O::call(ctx, input).await?;
    for (kind, name) in O::created(&output) {
        trail.note(kind, &name);
    }
    Ok(output)
}

//! STS (`Version=2011-06-15`, the AWS Query protocol in STS's namespace): `GetCallerIdentity`,
//! the first command people run against an endpoint, and temporary credentials: `AssumeRole`
//! and `GetSessionToken` (docs/aws-facts.md, "STS").

use super::authorize::Target;
use super::error::ApiError;
use super::iam::refuse_unimplemented;
use super::operation::{Authorization, AwsQuery, Endpoint, Operation};
use super::protocol::aws_query;
use super::protocol::ec2_query::{Accepted, QueryParams};
use super::protocol::xml::XmlWriter;
use super::{Context, Reply};
use crate::service::StsInvalid;
use crate::service::audit::Identity;
use crate::service::sts::{self, Credentials, SHORTEST_SESSION_SECONDS};
use crate::store::RoleRow;

/// Every STS action keyfleet implements.
pub static ACTIONS: &[Endpoint<AwsQuery>] =
    &[Endpoint::of::<GetCallerIdentity>(), Endpoint::of::<AssumeRole>(), Endpoint::of::<GetSessionToken>()];

/// Who is calling: the account, the ARN and the unique id.
pub struct CallerIdentity {
    account: String,
    arn: String,
    user_id: String,
}

pub(crate) struct GetCallerIdentity;

impl Operation for GetCallerIdentity {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetCallerIdentity";
    const ACTION: &'static str = "sts:GetCallerIdentity";
    const READ_ONLY: bool = true;
    type Input = ();
    type Output = CallerIdentity;

    fn decode(_: &Context<'_>, _: &QueryParams) -> Result<(), ApiError> {
        Ok(())
    }

    /// AWS answers it for every caller, whatever its policies say.
    async fn authorization(_: &Context<'_>, (): &()) -> Result<Authorization, ApiError> {
        Ok(Authorization::none_required())
    }

    /// A user's id is IAM's `AIDA…`; the root's is its account id; a role session's is the
    /// role's `AROA…` id and the session's name.
    async fn call(ctx: &Context<'_>, (): ()) -> Result<CallerIdentity, ApiError> {
        let actor = &ctx.principal.actor;
        let user_id = match &actor.identity {
            Identity::User(user) => ctx.state.iam.user(&actor.account, user).await?.user_id,
            Identity::Root => actor.account.clone(),
            Identity::Role(session) => format!("{}:{}", session.role_id, session.session),
        };
        Ok(CallerIdentity { account: actor.account.clone(), arn: actor.arn(), user_id })
    }

    fn encode(ctx: &Context<'_>, who: CallerIdentity) -> Reply {
        aws_query::success_in(
            aws_query::STS_NAMESPACE,
            Self::NAME,
            ctx.request_id,
            Some(&|w| {
                w.text("Arn", &who.arn).text("UserId", &who.user_id).text("Account", &who.account);
            }),
        )
    }
}

fn duration(p: &QueryParams) -> Result<Option<i64>, ApiError> {
    match p.get("DurationSeconds") {
        None => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            crate::service::Error::StsValidation(StsInvalid::Duration {
                value: 0,
                min: SHORTEST_SESSION_SECONDS,
                max: 0,
            })
            .into()
        }),
    }
}

fn credentials_element(w: &mut XmlWriter, credentials: &Credentials) {
    w.start("Credentials")
        .text("AccessKeyId", &credentials.access_key_id)
        .text("SecretAccessKey", &credentials.secret)
        .text("SessionToken", &credentials.token)
        .text("Expiration", &crate::common::time::iso8601(credentials.expires_ms))
        .end("Credentials");
}

pub(crate) struct AssumeRole;

impl Operation for AssumeRole {
    type Protocol = AwsQuery;
    const NAME: &'static str = "AssumeRole";
    const ACTION: &'static str = "sts:AssumeRole";
    const READ_ONLY: bool = false;
    type Input = sts::AssumeRole;
    /// The role, its account, its session's name, and the credentials.
    type Output = (RoleRow, String, String, Credentials);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<sts::AssumeRole, ApiError> {
        let accepted = [
            Accepted::any("RoleArn"),
            Accepted::any("RoleSessionName"),
            Accepted::any("DurationSeconds"),
            Accepted::any("ExternalId"),
        ];
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok(sts::AssumeRole {
            role_arn: p.required("RoleArn")?.to_owned(),
            session_name: p.required("RoleSessionName")?.to_owned(),
            duration_seconds: duration(p)?,
            external_id: p.get("ExternalId").map(str::to_owned),
            context: Default::default(),
        })
    }

    /// The caller's own policies must allow `sts:AssumeRole` on the role, and then the role's
    /// trust policy must admit the caller (checked by the call).
    async fn authorization(_: &Context<'_>, input: &sts::AssumeRole) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(Target::role_arn(&input.role_arn)))
    }

    async fn call(ctx: &Context<'_>, input: sts::AssumeRole) -> Result<Self::Output, ApiError> {
        let assumer = sts::Assumer::Principal(&ctx.principal.actor);
        let mut input = input;
        crate::api::authorize::add_request_keys(&mut input.context, ctx.principal, &ctx.scope);
        let (role, credentials) = ctx.state.iam.assume_role(assumer, &input).await?;
        let account = sts::parse_role_arn(&input.role_arn).map_or_else(String::new, |(a, ..)| a.to_owned());
        Ok((role, account, input.session_name, credentials))
    }

    fn encode(ctx: &Context<'_>, (role, account, session, credentials): Self::Output) -> Reply {
        aws_query::success_in(
            aws_query::STS_NAMESPACE,
            Self::NAME,
            ctx.request_id,
            Some(&|w| {
                credentials_element(w, &credentials);
                w.start("AssumedRoleUser")
                    .text("AssumedRoleId", &format!("{}:{session}", role.role_id))
                    .text("Arn", &format!("arn:aws:sts::{account}:assumed-role/{}/{session}", role.name))
                    .end("AssumedRoleUser");
            }),
        )
    }
}

pub(crate) struct GetSessionToken;

impl Operation for GetSessionToken {
    type Protocol = AwsQuery;
    const NAME: &'static str = "GetSessionToken";
    const ACTION: &'static str = "sts:GetSessionToken";
    const READ_ONLY: bool = false;
    type Input = Option<i64>;
    type Output = Credentials;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Option<i64>, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("DurationSeconds")])?;
        duration(p)
    }

    /// Any identity may make a session of itself; its policies do not govern this action.
    async fn authorization(_: &Context<'_>, _: &Option<i64>) -> Result<Authorization, ApiError> {
        Ok(Authorization::none_required())
    }

    async fn call(ctx: &Context<'_>, duration: Option<i64>) -> Result<Credentials, ApiError> {
        Ok(ctx.state.iam.session_token(&ctx.principal.actor, duration).await?)
    }

    fn encode(ctx: &Context<'_>, credentials: Credentials) -> Reply {
        aws_query::success_in(
            aws_query::STS_NAMESPACE,
            Self::NAME,
            ctx.request_id,
            Some(&|w| credentials_element(w, &credentials)),
        )
    }
}

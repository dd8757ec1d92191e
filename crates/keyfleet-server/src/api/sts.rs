//! STS (`Version=2011-06-15`, the AWS Query protocol in STS's namespace): `GetCallerIdentity`,
//! the first command people run against an endpoint (docs/aws-facts.md, "STS").

use super::error::ApiError;
use super::operation::{Authorization, AwsQuery, Endpoint, Operation};
use super::protocol::aws_query;
use super::protocol::ec2_query::QueryParams;
use super::{Context, Reply};

/// Every STS action keyfleet implements.
pub static ACTIONS: &[Endpoint<AwsQuery>] = &[Endpoint::of::<GetCallerIdentity>()];

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

    /// A user's id is IAM's `AIDA…`; the root's is its account id.
    async fn call(ctx: &Context<'_>, (): ()) -> Result<CallerIdentity, ApiError> {
        let actor = &ctx.principal.actor;
        let user_id = match &actor.user {
            Some(user) => ctx.state.iam.user(&actor.account, user).await?.user_id,
            None => actor.account.clone(),
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

//! Wire side of `DescribeRegions` (its shapes: the EC2 API Reference, "DescribeRegions" and
//! "Region").

use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, QueryParams};
use crate::api::{Context, Reply};
use crate::service::regions::{self, OPT_IN_STATUS, Region};

pub(super) struct DescribeRegions;

impl Operation for DescribeRegions {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeRegions";
    const ACTION: &'static str = "ec2:DescribeRegions";
    const READ_ONLY: bool = true;
    type Input = regions::DescribeRegions;
    type Output = Vec<Region>;

    /// `AllRegions` adds the Regions an account has not opted into; keyfleet lists none
    /// such, so it changes nothing.
    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        p.flag("AllRegions")?;
        Ok(regions::DescribeRegions { names: p.list("RegionName"), filters: p.filters()? })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(_: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(regions::describe(&input)?)
    }

    fn encode(ctx: &Context<'_>, found: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, found.len() * 200, |w| {
            w.start("regionInfo");
            for region in &found {
                w.start("item")
                    .text("regionName", region.name)
                    .text("regionEndpoint", &region.endpoint)
                    .text("optInStatus", OPT_IN_STATUS)
                    .end("item");
            }
            w.end("regionInfo");
        })
    }
}

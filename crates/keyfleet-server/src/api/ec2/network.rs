//! Wire side of the default network: `DescribeVpcs`, `DescribeSubnets`,
//! `DescribeAvailabilityZones` and `DescribeAccountAttributes` (shapes: the EC2 API
//! Reference pages of each action, and docs/aws-facts.md, "The default VPC").

use super::{NETWORK_PAGES, page, refuse_unimplemented};
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, Accepted, QueryParams};
use crate::api::{Context, Reply};
use crate::common::page::Page;
use crate::service::network::{self, AccountAttribute, Lookup, Subnet, Vpc, Zone};
use crate::service::regions::OPT_IN_STATUS;

/// Ids, filters and the page of a Describe that pages.
pub(crate) struct PagedLookup {
    lookup: Lookup,
    page: Page,
}

/// `ids` is the id list's name, `VpcId`; `id_list` its pattern, `VpcId.N`.
fn paged_lookup(
    p: &QueryParams,
    action: &'static str,
    ids: &str,
    id_list: &'static str,
) -> Result<PagedLookup, ApiError> {
    let accepted = [
        Accepted::any(id_list),
        Accepted::any("MaxResults"),
        Accepted::any("NextToken"),
        Accepted::any("Filter.N.Name"),
        Accepted::any("Filter.N.Value.N"),
    ];
    refuse_unimplemented(p, action, &accepted)?;
    let lookup = Lookup { ids: p.list(ids), filters: p.filters()? };
    // EC2 pages these two even when given ids.
    let page = page(p, false, &NETWORK_PAGES)?;
    Ok(PagedLookup { lookup, page })
}

pub(super) struct DescribeVpcs;

impl Operation for DescribeVpcs {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeVpcs";
    const ACTION: &'static str = "ec2:DescribeVpcs";
    const READ_ONLY: bool = true;
    type Input = PagedLookup;
    type Output = (Vec<Vpc>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        paged_lookup(p, Self::NAME, "VpcId", "VpcId.N")
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(input.page.take(ctx.state.network.describe_vpcs(&ctx.scope, &input.lookup)?))
    }

    fn encode(ctx: &Context<'_>, (vpcs, next_token): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 800, |w| {
            w.start("vpcSet");
            for vpc in &vpcs {
                w.start("item")
                    .text("cidrBlock", &vpc.cidr)
                    .text("dhcpOptionsId", &vpc.dhcp_options_id)
                    .text("state", "available")
                    .text("vpcId", &vpc.id)
                    .text("ownerId", &vpc.owner)
                    .text("instanceTenancy", "default")
                    .start("cidrBlockAssociationSet")
                    .start("item")
                    .text("associationId", &vpc.association_id)
                    .text("cidrBlock", &vpc.cidr)
                    .start("cidrBlockState")
                    .text("state", "associated")
                    .end("cidrBlockState")
                    .end("item")
                    .end("cidrBlockAssociationSet")
                    .text("isDefault", "true")
                    .end("item");
            }
            w.end("vpcSet");
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
        })
    }
}

pub(super) struct DescribeSubnets;

impl Operation for DescribeSubnets {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeSubnets";
    const ACTION: &'static str = "ec2:DescribeSubnets";
    const READ_ONLY: bool = true;
    type Input = PagedLookup;
    type Output = (Vec<Subnet>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        paged_lookup(p, Self::NAME, "SubnetId", "SubnetId.N")
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(input.page.take(ctx.state.network.describe_subnets(&ctx.scope, &input.lookup).await?))
    }

    fn encode(ctx: &Context<'_>, (subnets, next_token): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, subnets.len() * 900, |w| {
            w.start("subnetSet");
            for subnet in &subnets {
                w.start("item")
                    .text("subnetId", &subnet.id)
                    .text("subnetArn", &subnet.arn)
                    .text("state", "available")
                    .text("ownerId", &subnet.owner)
                    .text("vpcId", &subnet.vpc_id)
                    .text("cidrBlock", &subnet.cidr)
                    .empty("ipv6CidrBlockAssociationSet")
                    .text("availableIpAddressCount", &subnet.available.to_string())
                    .text("availabilityZone", &subnet.zone.name)
                    .text("availabilityZoneId", &subnet.zone.id)
                    .text("defaultForAz", "true")
                    .text("mapPublicIpOnLaunch", "true")
                    .text("mapCustomerOwnedIpOnLaunch", "false")
                    .text("assignIpv6AddressOnCreation", "false")
                    .text("enableDns64", "false")
                    .text("ipv6Native", "false")
                    .start("privateDnsNameOptionsOnLaunch")
                    .text("hostnameType", "ip-name")
                    .text("enableResourceNameDnsARecord", "false")
                    .text("enableResourceNameDnsAAAARecord", "false")
                    .end("privateDnsNameOptionsOnLaunch")
                    .end("item");
            }
            w.end("subnetSet");
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
        })
    }
}

pub(super) struct DescribeAvailabilityZones;

const ZONE_PARAMETERS: [Accepted; 5] = [
    Accepted::any("ZoneName.N"),
    Accepted::any("ZoneId.N"),
    // Adds the zones an account has not opted into; keyfleet's Regions have none.
    Accepted::any("AllAvailabilityZones"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
];

impl Operation for DescribeAvailabilityZones {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeAvailabilityZones";
    const ACTION: &'static str = "ec2:DescribeAvailabilityZones";
    const READ_ONLY: bool = true;
    type Input = network::DescribeZones;
    type Output = Vec<Zone>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &ZONE_PARAMETERS)?;
        p.flag("AllAvailabilityZones")?;
        Ok(network::DescribeZones { names: p.list("ZoneName"), ids: p.list("ZoneId"), filters: p.filters()? })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.network.describe_zones(&ctx.scope, &input)?)
    }

    fn encode(ctx: &Context<'_>, zones: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, zones.len() * 400, |w| {
            w.start("availabilityZoneInfo");
            for zone in &zones {
                w.start("item")
                    .text("zoneName", &zone.name)
                    .text("zoneState", network::ZONE_STATE)
                    .text("regionName", &zone.region)
                    .empty("messageSet")
                    .text("optInStatus", OPT_IN_STATUS)
                    .text("zoneId", &zone.id)
                    .text("groupName", &zone.group)
                    .text("networkBorderGroup", &zone.region)
                    .text("zoneType", network::ZONE_TYPE)
                    .end("item");
            }
            w.end("availabilityZoneInfo");
        })
    }
}

pub(super) struct DescribeAccountAttributes;

const ATTRIBUTE_PARAMETERS: [Accepted; 1] = [Accepted::any("AttributeName.N")];

impl Operation for DescribeAccountAttributes {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeAccountAttributes";
    const ACTION: &'static str = "ec2:DescribeAccountAttributes";
    const READ_ONLY: bool = true;
    type Input = Vec<String>;
    type Output = Vec<(AccountAttribute, String)>;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &ATTRIBUTE_PARAMETERS)?;
        Ok(p.list("AttributeName"))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, names: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.network.account_attributes(&ctx.scope, &names)?)
    }

    fn encode(ctx: &Context<'_>, attributes: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 1000, |w| {
            w.start("accountAttributeSet");
            for (attribute, value) in &attributes {
                w.start("item")
                    .text("attributeName", attribute.as_str())
                    .start("attributeValueSet")
                    .start("item")
                    .text("attributeValue", value)
                    .end("item")
                    .end("attributeValueSet")
                    .end("item");
            }
            w.end("accountAttributeSet");
        })
    }
}

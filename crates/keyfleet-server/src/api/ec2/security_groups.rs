//! Wire side of security groups (shapes: the EC2 model's `SecurityGroup`,
//! `SecurityGroupRule` and `IpPermission`; docs/aws-facts.md, "Security groups").

use std::marker::PhantomData;

use super::{NETWORK_PAGES, page, refuse_unimplemented, targets};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, Accepted, QueryParams};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::common::page::Page;
use crate::service::filter::Filter;
use crate::service::network;
use crate::service::security_groups::{self as service, GroupRef, Permission, Revocation, Revoked};
use crate::store::{IpProtocol, RulePeer, SecurityGroupRow, SecurityGroupRuleRow, WireName};

/// The group a request names, as a policy sees it: its ARN by id (a name is resolved, so
/// that a policy on `security-group/sg-…` holds whichever way the group is named) and its
/// tags. A group that does not exist is checked under what the caller sent; the call then
/// fails with EC2's not-found error.
pub(crate) async fn group_target(ctx: &Context<'_>, group: &GroupRef) -> Result<Target, ApiError> {
    let arn_target = |id: &str| Target::ec2_resource(&ctx.scope, "security-group", id);
    match ctx.state.security_groups.find(&ctx.scope, group).await {
        Ok(found) => Ok(arn_target(&found.id).with_resource_tags(&found.tags)),
        Err(
            crate::service::Error::SecurityGroupNotFound(_) | crate::service::Error::SecurityGroupNameNotFound { .. },
        ) => Ok(match group {
            GroupRef::Id(id) => arn_target(id),
            GroupRef::Name(_) => arn_target("*"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// `GroupId`, else `GroupName`.
fn group_ref(p: &QueryParams) -> Result<GroupRef, ApiError> {
    match (p.get("GroupId"), p.get("GroupName")) {
        (Some(id), _) => Ok(GroupRef::Id(id.to_owned())),
        (None, Some(name)) => Ok(GroupRef::Name(name.to_owned())),
        (None, None) => Err(ApiError::missing_parameter("GroupId")),
    }
}

pub(crate) struct CreateSecurityGroup;

const CREATE_PARAMETERS: [Accepted; 6] = [
    Accepted::any("GroupName"),
    Accepted::any("GroupDescription"),
    Accepted::any("VpcId"),
    Accepted::any("TagSpecification.N.ResourceType"),
    Accepted::any("TagSpecification.N.Tag.N.Key"),
    Accepted::any("TagSpecification.N.Tag.N.Value"),
];

impl Operation for CreateSecurityGroup {
    type Protocol = Ec2Query;
    const NAME: &'static str = "CreateSecurityGroup";
    const ACTION: &'static str = "ec2:CreateSecurityGroup";
    const READ_ONLY: bool = false;
    type Input = service::CreateGroup;
    type Output = SecurityGroupRow;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &CREATE_PARAMETERS)?;
        Ok(service::CreateGroup {
            name: p.required("GroupName")?.to_owned(),
            description: p.required("GroupDescription")?.to_owned(),
            vpc_id: p.get("VpcId").map(str::to_owned),
            tag_specifications: p.tag_specifications(),
        })
    }

    /// On the new group (with its requested tags) and the VPC it goes into.
    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        let tags = targets::requested_tags(&input.tag_specifications, "security-group");
        let group = Target::ec2_resource(&ctx.scope, "security-group", "*").with_request_tags(&tags);
        let vpc = Target::ec2_resource(&ctx.scope, "vpc", &network::vpc_id(&ctx.scope));
        let authorization = Authorization::on(vec![group, vpc]);
        if tags.is_empty() {
            return Ok(authorization);
        }
        let tagging = Target::ec2_resource(&ctx.scope, "security-group", "*")
            .with_request_tags(&tags)
            .with_key("ec2:CreateAction", Self::NAME);
        Ok(authorization.and_as("ec2:CreateTags", vec![tagging]))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.security_groups.create(&ctx.scope, input).await?)
    }

    fn encode(ctx: &Context<'_>, group: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 600, |w| {
            w.text("return", "true").text("groupId", &group.id).text("securityGroupArn", &group_arn(ctx, &group.id));
            tag_set(w, &group.tags);
        })
    }

    fn created(group: &Self::Output) -> Vec<(&'static str, String)> {
        vec![("securityGroup", group.id.clone())]
    }
}

pub(crate) struct DeleteSecurityGroup;

const DELETE_PARAMETERS: [Accepted; 2] = [Accepted::any("GroupId"), Accepted::any("GroupName")];

impl Operation for DeleteSecurityGroup {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DeleteSecurityGroup";
    const ACTION: &'static str = "ec2:DeleteSecurityGroup";
    const READ_ONLY: bool = false;
    type Input = GroupRef;
    type Output = String;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &DELETE_PARAMETERS)?;
        group_ref(p)
    }

    async fn authorization(ctx: &Context<'_>, group: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, group).await?))
    }

    async fn call(ctx: &Context<'_>, group: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.security_groups.delete(&ctx.scope, &group).await?)
    }

    fn encode(ctx: &Context<'_>, id: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 200, |w| {
            w.text("return", "true").text("groupId", &id);
        })
    }
}

pub(crate) struct DescribeSecurityGroups;

/// Ids, names, filters and the page.
pub(crate) struct DescribeGroupsInput {
    ids: Vec<String>,
    names: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
}

const DESCRIBE_PARAMETERS: [Accepted; 6] = [
    Accepted::any("GroupId.N"),
    Accepted::any("GroupName.N"),
    Accepted::any("MaxResults"),
    Accepted::any("NextToken"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
];

impl Operation for DescribeSecurityGroups {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeSecurityGroups";
    const ACTION: &'static str = "ec2:DescribeSecurityGroups";
    const READ_ONLY: bool = true;
    type Input = DescribeGroupsInput;
    type Output = (Vec<SecurityGroupRow>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &DESCRIBE_PARAMETERS)?;
        let page = page(p, false, &NETWORK_PAGES)?;
        Ok(DescribeGroupsInput { ids: p.list("GroupId"), names: p.list("GroupName"), filters: p.filters()?, page })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        let groups = ctx.state.security_groups.describe(&ctx.scope, &input.ids, &input.names, &input.filters).await?;
        Ok(input.page.take(groups))
    }

    fn encode(ctx: &Context<'_>, (groups, next_token): Self::Output) -> Reply {
        let vpc_id = network::vpc_id(&ctx.scope);
        ec2_query::success(Self::NAME, ctx.request_id, groups.len() * 1200, |w| {
            w.start("securityGroupInfo");
            for group in &groups {
                w.start("item")
                    .text("ownerId", &ctx.scope.account)
                    .text("groupName", &group.name)
                    .text("groupId", &group.id)
                    .text("groupDescription", &group.description);
                for (element, egress) in [("ipPermissions", false), ("ipPermissionsEgress", true)] {
                    w.start(element);
                    for rule in group.rules.iter().filter(|r| r.egress == egress) {
                        permission_item(w, ctx, rule);
                    }
                    w.end(element);
                }
                w.text("vpcId", &vpc_id).text("securityGroupArn", &group_arn(ctx, &group.id));
                tag_set(w, &group.tags);
                w.end("item");
            }
            w.end("securityGroupInfo");
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
        })
    }
}

/// Ingress or egress: which [`Authorize`] or [`Revoke`] a type stands for.
pub(crate) trait Direction: Send + Sync + 'static {
    const EGRESS: bool;
    const AUTHORIZE: &'static str;
    const AUTHORIZE_ACTION: &'static str;
    const REVOKE: &'static str;
    const REVOKE_ACTION: &'static str;
}

pub(crate) struct Ingress;
pub(crate) struct Egress;

impl Direction for Ingress {
    const EGRESS: bool = false;
    const AUTHORIZE: &'static str = "AuthorizeSecurityGroupIngress";
    const AUTHORIZE_ACTION: &'static str = "ec2:AuthorizeSecurityGroupIngress";
    const REVOKE: &'static str = "RevokeSecurityGroupIngress";
    const REVOKE_ACTION: &'static str = "ec2:RevokeSecurityGroupIngress";
}

impl Direction for Egress {
    const EGRESS: bool = true;
    const AUTHORIZE: &'static str = "AuthorizeSecurityGroupEgress";
    const AUTHORIZE_ACTION: &'static str = "ec2:AuthorizeSecurityGroupEgress";
    const REVOKE: &'static str = "RevokeSecurityGroupEgress";
    const REVOKE_ACTION: &'static str = "ec2:RevokeSecurityGroupEgress";
}

const PERMISSION_PARAMETERS: [Accepted; 14] = [
    Accepted::any("GroupId"),
    Accepted::any("GroupName"),
    Accepted::any("SecurityGroupRuleId.N"),
    Accepted::any("IpPermissions.N.IpProtocol"),
    Accepted::any("IpPermissions.N.FromPort"),
    Accepted::any("IpPermissions.N.ToPort"),
    Accepted::any("IpPermissions.N.IpRanges.N.CidrIp"),
    Accepted::any("IpPermissions.N.IpRanges.N.Description"),
    Accepted::any("IpPermissions.N.Ipv6Ranges.N.CidrIpv6"),
    Accepted::any("IpPermissions.N.Ipv6Ranges.N.Description"),
    Accepted::any("IpPermissions.N.Groups.N.GroupId"),
    Accepted::any("IpPermissions.N.Groups.N.GroupName"),
    Accepted::any("IpPermissions.N.Groups.N.UserId"),
    Accepted::any("IpPermissions.N.Groups.N.Description"),
];

/// `IpPermissions.N`. A `UserId` other than the caller's account is refused: groups of
/// other accounts are not in keyfleet's default VPC.
fn permissions(ctx: &Context<'_>, p: &QueryParams) -> Result<Vec<Permission>, ApiError> {
    let mut list = Vec::new();
    for i in p.indices("IpPermissions") {
        let field = |name: &str| p.get(&format!("IpPermissions.{i}.{name}"));
        let port = |name: &str| -> Result<Option<i64>, ApiError> {
            field(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::invalid_parameter_value(format!("Invalid value '{v}' for {name}.")))
                })
                .transpose()
        };
        let mut ranges = Vec::new();
        for (list_name, member) in [("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")] {
            let prefix = format!("IpPermissions.{i}.{list_name}");
            for j in p.indices(&prefix) {
                let block = p
                    .get(&format!("{prefix}.{j}.{member}"))
                    .ok_or_else(|| ApiError::missing_parameter(&format!("{list_name}.{member}")))?;
                let description = p.get(&format!("{prefix}.{j}.Description")).unwrap_or_default();
                ranges.push((block.to_owned(), description.to_owned()));
            }
        }
        let mut groups = Vec::new();
        let prefix = format!("IpPermissions.{i}.Groups");
        for j in p.indices(&prefix) {
            let member = |name: &str| p.get(&format!("{prefix}.{j}.{name}"));
            if let Some(user) = member("UserId").filter(|u| *u != ctx.scope.account) {
                return Err(ApiError::invalid_parameter_value(format!(
                    "Groups of account {user} are not in this VPC."
                )));
            }
            let group = match (member("GroupId"), member("GroupName")) {
                (Some(id), _) => GroupRef::Id(id.to_owned()),
                (None, Some(name)) => GroupRef::Name(name.to_owned()),
                (None, None) => return Err(ApiError::missing_parameter("Groups.GroupId")),
            };
            groups.push((group, member("Description").unwrap_or_default().to_owned()));
        }
        list.push(Permission {
            protocol: field("IpProtocol").ok_or_else(|| ApiError::missing_parameter("IpProtocol"))?.to_owned(),
            from_port: port("FromPort")?,
            to_port: port("ToPort")?,
            ranges,
            groups,
        });
    }
    Ok(list)
}

/// `AuthorizeSecurityGroupIngress` and `…Egress`.
pub(crate) struct Authorize<D>(PhantomData<D>);

impl<D: Direction> Operation for Authorize<D> {
    type Protocol = Ec2Query;
    const NAME: &'static str = D::AUTHORIZE;
    const ACTION: &'static str = D::AUTHORIZE_ACTION;
    const READ_ONLY: bool = false;
    type Input = (GroupRef, Vec<Permission>);
    type Output = Vec<SecurityGroupRuleRow>;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &PERMISSION_PARAMETERS)?;
        if !p.list("SecurityGroupRuleId").is_empty() {
            return Err(super::unsupported(Self::NAME, "SecurityGroupRuleId"));
        }
        Ok((group_ref(p)?, permissions(ctx, p)?))
    }

    async fn authorization(ctx: &Context<'_>, (group, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, group).await?))
    }

    async fn call(ctx: &Context<'_>, (group, permissions): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.security_groups.authorize(&ctx.scope, &group, D::EGRESS, &permissions).await?)
    }

    fn encode(ctx: &Context<'_>, rules: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, rules.len() * 500, |w| {
            w.text("return", "true");
            rule_set(w, ctx, "securityGroupRuleSet", &rules);
        })
    }
}

/// `RevokeSecurityGroupIngress` and `…Egress`.
pub(crate) struct Revoke<D>(PhantomData<D>);

impl<D: Direction> Operation for Revoke<D> {
    type Protocol = Ec2Query;
    const NAME: &'static str = D::REVOKE;
    const ACTION: &'static str = D::REVOKE_ACTION;
    const READ_ONLY: bool = false;
    type Input = (GroupRef, Revocation);
    type Output = Revoked;

    fn decode(ctx: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &PERMISSION_PARAMETERS)?;
        let rule_ids = p.list("SecurityGroupRuleId");
        let revocation = if rule_ids.is_empty() {
            Revocation::Permissions(permissions(ctx, p)?)
        } else {
            Revocation::RuleIds(rule_ids)
        };
        Ok((group_ref(p)?, revocation))
    }

    async fn authorization(ctx: &Context<'_>, (group, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(group_target(ctx, group).await?))
    }

    async fn call(ctx: &Context<'_>, (group, revocation): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.security_groups.revoke(&ctx.scope, &group, D::EGRESS, &revocation).await?)
    }

    fn encode(ctx: &Context<'_>, revoked: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, revoked.rules.len() * 500 + 200, |w| {
            w.text("return", "true");
            if !revoked.unknown.is_empty() {
                w.start("unknownIpPermissionSet");
                for rule in &revoked.unknown {
                    permission_item(w, ctx, rule);
                }
                w.end("unknownIpPermissionSet");
            }
            rule_set(w, ctx, "revokedSecurityGroupRuleSet", &revoked.rules);
        })
    }
}

pub(crate) struct DescribeSecurityGroupRules;

/// Rule ids, filters and the page.
pub(crate) struct DescribeRulesInput {
    ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
}

const RULES_PARAMETERS: [Accepted; 5] = [
    Accepted::any("SecurityGroupRuleId.N"),
    Accepted::any("MaxResults"),
    Accepted::any("NextToken"),
    Accepted::any("Filter.N.Name"),
    Accepted::any("Filter.N.Value.N"),
];

impl Operation for DescribeSecurityGroupRules {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeSecurityGroupRules";
    const ACTION: &'static str = "ec2:DescribeSecurityGroupRules";
    const READ_ONLY: bool = true;
    type Input = DescribeRulesInput;
    type Output = (Vec<SecurityGroupRuleRow>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &RULES_PARAMETERS)?;
        let page = page(p, false, &NETWORK_PAGES)?;
        Ok(DescribeRulesInput { ids: p.list("SecurityGroupRuleId"), filters: p.filters()?, page })
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(input.page.take(ctx.state.security_groups.rules(&ctx.scope, &input.ids, &input.filters).await?))
    }

    fn encode(ctx: &Context<'_>, (rules, next_token): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, rules.len() * 500, |w| {
            rule_set(w, ctx, "securityGroupRuleSet", &rules);
            if let Some(token) = &next_token {
                w.text("nextToken", token);
            }
        })
    }
}

fn group_arn(ctx: &Context<'_>, id: &str) -> String {
    format!("arn:aws:ec2:{}:{}:security-group/{id}", ctx.scope.region, ctx.scope.account)
}

pub(super) fn tag_set(w: &mut XmlWriter, tags: &[crate::store::Tag]) {
    if tags.is_empty() {
        return;
    }
    w.start("tagSet");
    for tag in tags {
        w.start("item").text("key", &tag.key).text("value", &tag.value).end("item");
    }
    w.end("tagSet");
}

/// Ports as EC2 reports them: none at all for all traffic.
fn ports(w: &mut XmlWriter, rule: &SecurityGroupRuleRow) {
    w.text("ipProtocol", rule.protocol.as_str());
    if rule.protocol != IpProtocol::All {
        w.text("fromPort", &rule.from_port.to_string()).text("toPort", &rule.to_port.to_string());
    }
}

/// A rule as one `IpPermission` of DescribeSecurityGroups.
fn permission_item(w: &mut XmlWriter, ctx: &Context<'_>, rule: &SecurityGroupRuleRow) {
    w.start("item");
    ports(w, rule);
    let (mut v4, mut v6, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    match &rule.peer {
        RulePeer::Cidr(block) if block.contains(':') => v6.push(block),
        RulePeer::Cidr(block) => v4.push(block),
        RulePeer::Group(id) => groups.push(id),
    }
    w.start("groups");
    for id in groups {
        w.start("item").text("userId", &ctx.scope.account).text("groupId", id);
        description(w, rule);
        w.end("item");
    }
    w.end("groups").start("ipRanges");
    for block in v4 {
        w.start("item").text("cidrIp", block);
        description(w, rule);
        w.end("item");
    }
    w.end("ipRanges").start("ipv6Ranges");
    for block in v6 {
        w.start("item").text("cidrIpv6", block);
        description(w, rule);
        w.end("item");
    }
    w.end("ipv6Ranges").empty("prefixListIds").end("item");
}

fn description(w: &mut XmlWriter, rule: &SecurityGroupRuleRow) {
    if !rule.description.is_empty() {
        w.text("description", &rule.description);
    }
}

/// Rules as `SecurityGroupRule` items.
fn rule_set(w: &mut XmlWriter, ctx: &Context<'_>, element: &str, rules: &[SecurityGroupRuleRow]) {
    w.start(element);
    for rule in rules {
        w.start("item")
            .text("securityGroupRuleId", &rule.id)
            .text("groupId", &rule.group_id)
            .text("groupOwnerId", &ctx.scope.account)
            .text("isEgress", if rule.egress { "true" } else { "false" })
            .text("ipProtocol", rule.protocol.as_str())
            .text("fromPort", &rule.from_port.to_string())
            .text("toPort", &rule.to_port.to_string());
        match &rule.peer {
            RulePeer::Cidr(block) if block.contains(':') => {
                w.text("cidrIpv6", block);
            }
            RulePeer::Cidr(block) => {
                w.text("cidrIpv4", block);
            }
            RulePeer::Group(id) => {
                w.start("referencedGroupInfo").text("groupId", id).text("userId", &ctx.scope.account);
                w.end("referencedGroupInfo");
            }
        }
        description(w, rule);
        w.text(
            "securityGroupRuleArn",
            &format!("arn:aws:ec2:{}:{}:security-group-rule/{}", ctx.scope.region, ctx.scope.account, rule.id),
        );
        w.end("item");
    }
    w.end(element);
}

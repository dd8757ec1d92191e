//! EC2 → Security Groups: the groups of the default VPC with their rules; create and delete
//! a group, add and remove inbound rules. Each change is one form whose `Action` field names
//! the EC2 action it becomes, its other fields that action's parameters.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Problem, Shell};
use super::session::{self, Signed};
use super::{ConsoleRequest, call_ec2, render, see_other};
use crate::api::ec2::security_groups::{
    Authorize, CreateSecurityGroup, DeleteSecurityGroup, DescribeSecurityGroups, Ingress, Revoke,
};
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::QueryParams;
use crate::store::{IpProtocol, RulePeer, SecurityGroupRow, SecurityGroupRuleRow, WireName};

/// One rule as the page shows it.
pub struct RuleRow {
    pub id: String,
    pub protocol: &'static str,
    pub ports: String,
    pub peer: String,
    pub description: String,
}

/// One group as the page shows it.
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub inbound: Vec<RuleRow>,
    pub outbound: Vec<RuleRow>,
}

#[derive(Template)]
#[template(path = "console/security_groups.html")]
pub struct Page {
    pub shell: Shell,
    pub groups: Result<Vec<GroupRow>, Problem>,
    pub problem: Option<Problem>,
    pub notice: Option<String>,
    /// The port rules name for SSH, and the port keyfleet's servers listen on.
    pub ssh_port: u16,
}

fn rule_row(rule: &SecurityGroupRuleRow) -> RuleRow {
    let protocol = match rule.protocol {
        IpProtocol::All => "All traffic",
        IpProtocol::Tcp => "TCP",
        IpProtocol::Udp => "UDP",
        IpProtocol::Icmp => "ICMP",
    };
    let ports = match (rule.protocol, rule.from_port == rule.to_port) {
        (IpProtocol::All, _) => "All".to_owned(),
        (_, true) => rule.from_port.to_string(),
        (_, false) => format!("{}-{}", rule.from_port, rule.to_port),
    };
    let peer = match &rule.peer {
        RulePeer::Cidr(block) => block.clone(),
        RulePeer::Group(id) => id.clone(),
    };
    RuleRow { id: rule.id.clone(), protocol, ports, peer, description: rule.description.clone() }
}

fn group_row(group: SecurityGroupRow) -> GroupRow {
    let rows = |egress: bool| group.rules.iter().filter(|r| r.egress == egress).map(rule_row).collect();
    GroupRow {
        inbound: rows(false),
        outbound: rows(true),
        id: group.id,
        name: group.name,
        description: group.description,
    }
}

async fn page(request: &ConsoleRequest<'_>, signed: &Signed, problem: Option<Problem>) -> Page {
    let groups = call_ec2::<DescribeSecurityGroups>(request, signed, QueryParams::default())
        .await
        .map(|(groups, _)| groups.into_iter().map(group_row).collect())
        .map_err(Problem::from);
    let notice = request
        .query("done")
        .and_then(|action| FORM_ACTIONS.iter().find(|a| **a == action))
        .map(|action| format!("{action} succeeded."));
    Page {
        shell: Shell::new(request, signed, "security-groups"),
        groups,
        problem,
        notice,
        ssh_port: request.state.instances.ssh_port(),
    }
}

/// `GET /console/ec2/security-groups`.
pub async fn list(request: &ConsoleRequest<'_>) -> Response {
    match session::require(request).await {
        Ok(signed) => render(StatusCode::OK, &page(request, &signed, None).await),
        Err(response) => response,
    }
}

/// The actions the page's forms name.
const FORM_ACTIONS: [&str; 4] =
    ["CreateSecurityGroup", "DeleteSecurityGroup", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"];

/// `POST /console/ec2/security-groups`: the form's `Action`, with its parameters.
pub async fn act(request: &ConsoleRequest<'_>) -> Response {
    let signed = or_answer!(session::require_change(request).await);
    let action = request.field("Action").unwrap_or_default();
    let region = request.region();
    let field = |name: &str| request.field(name).unwrap_or_default();
    let done: Result<(), ApiError> = match action.as_str() {
        "CreateSecurityGroup" => {
            let params = QueryParams::from_pairs([
                ("GroupName", field("GroupName")),
                ("GroupDescription", field("GroupDescription")),
            ]);
            call_ec2::<CreateSecurityGroup>(request, &signed, params).await.map(drop)
        }
        "DeleteSecurityGroup" => {
            let params = QueryParams::from_pairs([("GroupId", field("GroupId"))]);
            call_ec2::<DeleteSecurityGroup>(request, &signed, params).await.map(drop)
        }
        "AuthorizeSecurityGroupIngress" => match inbound_rule(request) {
            Ok(params) => call_ec2::<Authorize<Ingress>>(request, &signed, params).await.map(drop),
            Err(e) => Err(e),
        },
        "RevokeSecurityGroupIngress" => {
            let params = QueryParams::from_pairs([
                ("GroupId", field("GroupId")),
                ("SecurityGroupRuleId.1", field("SecurityGroupRuleId")),
            ]);
            call_ec2::<Revoke<Ingress>>(request, &signed, params).await.map(drop)
        }
        _ => return see_other(&format!("/console/ec2/security-groups?region={region}")),
    };
    match done {
        Ok(()) => see_other(&format!("/console/ec2/security-groups?region={region}&done={action}")),
        Err(e) => render(e.status, &page(request, &signed, Some(e.into())).await),
    }
}

/// The add-rule form as `IpPermissions.1`: a protocol, a port or `FROM-TO` range (none for
/// all traffic) and one source block.
fn inbound_rule(request: &ConsoleRequest<'_>) -> Result<QueryParams, ApiError> {
    let field = |name: &str| request.field(name).unwrap_or_default();
    let protocol = field("IpProtocol");
    let mut params = vec![
        ("GroupId".to_owned(), field("GroupId")),
        ("IpPermissions.1.IpProtocol".to_owned(), protocol.clone()),
        ("IpPermissions.1.IpRanges.1.CidrIp".to_owned(), field("CidrIp")),
    ];
    let description = field("Description");
    if !description.is_empty() {
        params.push(("IpPermissions.1.IpRanges.1.Description".to_owned(), description));
    }
    if protocol != IpProtocol::All.as_str() {
        let range = field("PortRange");
        let (from, to) = range.split_once('-').unwrap_or((range.as_str(), range.as_str()));
        if from.trim().is_empty() {
            return Err(ApiError::missing_parameter("PortRange"));
        }
        params.push(("IpPermissions.1.FromPort".to_owned(), from.trim().to_owned()));
        params.push(("IpPermissions.1.ToPort".to_owned(), to.trim().to_owned()));
    }
    Ok(QueryParams::from_pairs(params))
}

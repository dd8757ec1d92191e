//! Security groups of the default VPC, and the one question the SSH servers ask of them:
//! may this source reach this instance's SSH port? (docs/aws-facts.md, "Security groups").

use std::net::IpAddr;
use std::sync::Arc;

use super::filter::{Filter, FilterField, Typed, all_match, tag_values, typed};
use super::network;
use super::tags::{self, TagSpecification};
use super::{Error, Result, now_ms};
use crate::common::{cidr, ids};
use crate::store::{
    AddRulesOutcome, DeleteGroupOutcome, InstanceRow, IpProtocol, RulePeer, Scope, SecurityGroupRow,
    SecurityGroupRuleRow, Store, StoreError, WireName,
};

/// The default group's name; no other group may take it.
pub const DEFAULT_GROUP: &str = "default";
/// Rules per group and direction (EC2's default quota).
pub const MAX_RULES: usize = 60;
/// Groups per scope (EC2's default quota per VPC).
pub const MAX_GROUPS: usize = 2500;
/// Groups per instance (per network interface on EC2).
pub const MAX_GROUPS_PER_INSTANCE: usize = 5;
/// SSH's port as rules name it, whatever port keyfleet's servers listen on (`--ssh-port`).
pub const SSH_PORT: i64 = 22;
const MAX_NAME: usize = 255;

/// A group as a request names it: by id, or by name in the default VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// `sg-…`.
    Id(String),
    /// Its name.
    Name(String),
}

/// `CreateSecurityGroup`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreateGroup {
    /// `GroupName`.
    pub name: String,
    /// `GroupDescription`.
    pub description: String,
    /// `VpcId`: the default VPC's, when given.
    pub vpc_id: Option<String>,
    /// `TagSpecification.N`.
    pub tag_specifications: Vec<TagSpecification>,
}

/// One `IpPermissions` item as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    /// `IpProtocol`: `tcp`, `udp`, `icmp`, `-1` or their numbers.
    pub protocol: String,
    /// `FromPort`.
    pub from_port: Option<i64>,
    /// `ToPort`.
    pub to_port: Option<i64>,
    /// `IpRanges` and `Ipv6Ranges`: (block, description).
    pub ranges: Vec<(String, String)>,
    /// `UserIdGroupPairs`: (group, description).
    pub groups: Vec<(GroupRef, String)>,
}

/// What a revoke names: permissions, or rule ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// `IpPermissions`.
    Permissions(Vec<Permission>),
    /// `SecurityGroupRuleId.N`.
    RuleIds(Vec<String>),
}

/// What a revoke did.
#[derive(Debug, Clone, Default)]
pub struct Revoked {
    /// The rules removed.
    pub rules: Vec<SecurityGroupRuleRow>,
    /// The permissions asked for that the group did not have, one rule each.
    pub unknown: Vec<SecurityGroupRuleRow>,
}

/// The security group operations.
pub struct SecurityGroups {
    store: Arc<dyn Store>,
}

impl SecurityGroups {
    /// Creates the service.
    pub fn new(store: Arc<dyn Store>) -> Self {
        SecurityGroups { store }
    }

    /// Every group of the caller's default VPC, the default group made on first use.
    pub async fn all(&self, scope: &Scope) -> Result<Vec<SecurityGroupRow>> {
        let groups = self.store.security_groups(scope).await?;
        if groups.iter().any(|g| g.name == DEFAULT_GROUP) {
            return Ok(groups);
        }
        match self.store.insert_security_group(scope, &default_group(scope)).await {
            Ok(()) | Err(StoreError::Duplicate) => Ok(self.store.security_groups(scope).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// `CreateSecurityGroup`: the new group, with EC2's one egress rule (all traffic out).
    pub async fn create(&self, scope: &Scope, mut input: CreateGroup) -> Result<SecurityGroupRow> {
        // EC2 trims trailing spaces from names.
        input.name.truncate(input.name.trim_end().len());
        validate_name(&input.name)?;
        validate_text("GroupDescription", &input.description)?;
        let vpc_id = network::vpc_id(scope);
        if let Some(asked) = input.vpc_id.as_ref().filter(|v| **v != vpc_id) {
            return Err(Error::VpcNotFound(asked.clone()));
        }
        let tags = tags::from_specifications(&input.tag_specifications, "security-group")?;
        let existing = self.all(scope).await?;
        if existing.len() >= MAX_GROUPS {
            return Err(Error::SecurityGroupLimitExceeded(vpc_id));
        }
        let id = ids::new_id("sg");
        let group = SecurityGroupRow {
            rules: vec![everything_out(&id, "0.0.0.0/0")],
            id,
            name: input.name,
            description: input.description,
            created_ms: now_ms(),
            tags,
        };
        match self.store.insert_security_group(scope, &group).await {
            Ok(()) => Ok(group),
            Err(StoreError::Duplicate) => Err(Error::SecurityGroupDuplicate { name: group.name, vpc_id }),
            Err(e) => Err(e.into()),
        }
    }

    /// `DeleteSecurityGroup`: not the default group, nor one in use; the deleted group's id.
    pub async fn delete(&self, scope: &Scope, group: &GroupRef) -> Result<String> {
        let found = self.find(scope, group).await?;
        if found.name == DEFAULT_GROUP {
            return Err(Error::CannotDeleteDefaultGroup(found.id));
        }
        match self.store.delete_security_group(scope, &found.id).await? {
            DeleteGroupOutcome::Deleted => Ok(found.id),
            DeleteGroupOutcome::NotFound => Err(Error::SecurityGroupNotFound(found.id)),
            DeleteGroupOutcome::InUse => Err(Error::SecurityGroupInUse(found.id)),
        }
    }

    /// `DescribeSecurityGroups`: by id and name (each must exist) and filters.
    pub async fn describe(
        &self,
        scope: &Scope,
        ids: &[String],
        names: &[String],
        filters: &[Filter],
    ) -> Result<Vec<SecurityGroupRow>> {
        let filters: Vec<Typed<GroupFilter>> = typed(filters)?;
        let groups = self.all(scope).await?;
        if let Some(missing) = ids.iter().find(|id| !groups.iter().any(|g| &&g.id == id)) {
            return Err(Error::SecurityGroupNotFound(missing.clone()));
        }
        if let Some(missing) = names.iter().find(|n| !groups.iter().any(|g| g.name.eq_ignore_ascii_case(n))) {
            return Err(Error::SecurityGroupNameNotFound { name: missing.clone(), vpc_id: network::vpc_id(scope) });
        }
        let vpc_id = network::vpc_id(scope);
        Ok(groups
            .into_iter()
            .filter(|g| ids.is_empty() || ids.contains(&g.id))
            .filter(|g| names.is_empty() || names.iter().any(|n| g.name.eq_ignore_ascii_case(n)))
            .filter(|g| {
                let permissions = permission_values(g, &scope.account);
                all_match(&filters, &Described { group: g, vpc_id: &vpc_id, account: &scope.account, permissions })
            })
            .collect())
    }

    /// `AuthorizeSecurityGroupIngress` / `Egress`: the rules added, all or none.
    pub async fn authorize(
        &self,
        scope: &Scope,
        group: &GroupRef,
        egress: bool,
        permissions: &[Permission],
    ) -> Result<Vec<SecurityGroupRuleRow>> {
        let groups = self.all(scope).await?;
        let target = find_in(&groups, group, scope)?;
        let rules = expand(&groups, target, egress, permissions, scope)?;
        if rules.is_empty() {
            return Err(Error::MissingParameter("IpPermissions"));
        }
        match self.store.add_security_group_rules(scope, &target.id, &rules, MAX_RULES).await? {
            AddRulesOutcome::Added => Ok(rules),
            AddRulesOutcome::NotFound => Err(Error::SecurityGroupNotFound(target.id.clone())),
            AddRulesOutcome::Duplicate(rule) => Err(Error::PermissionDuplicate(describe_rule(&rule))),
            AddRulesOutcome::TooMany => Err(Error::RulesPerGroupLimitExceeded),
        }
    }

    /// `RevokeSecurityGroupIngress` / `Egress`: the rules removed, and the permissions the
    /// group did not have (in a default VPC these are reported, not refused). A rule id the
    /// group does not have fails the whole call, and nothing is removed.
    pub async fn revoke(
        &self,
        scope: &Scope,
        group: &GroupRef,
        egress: bool,
        revocation: &Revocation,
    ) -> Result<Revoked> {
        let groups = self.all(scope).await?;
        let target = find_in(&groups, group, scope)?;
        let own: Vec<&SecurityGroupRuleRow> = target.rules.iter().filter(|r| r.egress == egress).collect();
        let mut revoked = Revoked::default();
        match revocation {
            Revocation::RuleIds(rule_ids) => {
                let mut unique: Vec<&String> = rule_ids.iter().collect();
                unique.sort_unstable();
                unique.dedup();
                for id in unique {
                    let rule = own.iter().find(|r| &r.id == id);
                    revoked
                        .rules
                        .push(rule.map(|r| (*r).clone()).ok_or_else(|| Error::SecurityGroupRuleNotFound(id.clone()))?);
                }
            }
            Revocation::Permissions(permissions) => {
                for wanted in expand(&groups, target, egress, permissions, scope)? {
                    match own.iter().find(|r| r.same_permission(&wanted)) {
                        Some(rule) if !revoked.rules.iter().any(|r| r.id == rule.id) => {
                            revoked.rules.push((*rule).clone())
                        }
                        Some(_) => {}
                        None => revoked.unknown.push(wanted),
                    }
                }
            }
        }
        let rule_ids: Vec<String> = revoked.rules.iter().map(|r| r.id.clone()).collect();
        self.store.delete_security_group_rules(scope, &target.id, &rule_ids).await?;
        Ok(revoked)
    }

    /// `DescribeSecurityGroupRules`: by rule id (each must exist) and filters.
    pub async fn rules(
        &self,
        scope: &Scope,
        rule_ids: &[String],
        filters: &[Filter],
    ) -> Result<Vec<SecurityGroupRuleRow>> {
        let filters: Vec<Typed<RuleFilter>> = typed(filters)?;
        let rules: Vec<SecurityGroupRuleRow> = self.all(scope).await?.into_iter().flat_map(|g| g.rules).collect();
        if let Some(missing) = rule_ids.iter().find(|id| !rules.iter().any(|r| &&r.id == id)) {
            return Err(Error::SecurityGroupRuleNotFound(missing.clone()));
        }
        Ok(rules
            .into_iter()
            .filter(|r| rule_ids.is_empty() || rule_ids.contains(&r.id))
            .filter(|r| all_match(&filters, r))
            .collect())
    }

    /// The groups a launch goes into: those named (each must exist), else the default group.
    pub async fn for_launch(&self, scope: &Scope, named: &[GroupRef]) -> Result<Vec<SecurityGroupRow>> {
        let groups = self.all(scope).await?;
        if named.len() > MAX_GROUPS_PER_INSTANCE {
            return Err(Error::SecurityGroupsPerInstanceExceeded);
        }
        if named.is_empty() {
            return Ok(groups.into_iter().filter(|g| g.name == DEFAULT_GROUP).collect());
        }
        let mut chosen: Vec<SecurityGroupRow> = Vec::new();
        for group in named {
            let found = find_in(&groups, group, scope)?;
            if !chosen.iter().any(|c| c.id == found.id) {
                chosen.push(found.clone());
            }
        }
        Ok(chosen)
    }

    /// The groups of an instance, by id (the default group for instances launched before
    /// groups existed).
    pub async fn of_instance(&self, scope: &Scope, instance: &InstanceRow) -> Result<Vec<SecurityGroupRow>> {
        let groups = self.all(scope).await?;
        Ok(groups.into_iter().filter(|g| member_of(instance, g)).collect())
    }

    /// True if one of the instance's groups lets `source` in on TCP port 22: a CIDR rule
    /// that holds the address. Asked at every connection, so a rule change holds for the
    /// next one. A rule naming a group admits no one: instances have no network of their
    /// own, so no connection comes from a member, and on loopback any host process can
    /// claim a member's address as its source.
    pub async fn admits_ssh(&self, scope: &Scope, instance: &InstanceRow, source: IpAddr) -> Result<bool> {
        let groups = self.all(scope).await?;
        Ok(groups
            .iter()
            .filter(|g| member_of(instance, g))
            .flat_map(|g| &g.rules)
            .filter(|rule| !rule.egress && allows_tcp(rule, SSH_PORT))
            .any(|rule| matches!(&rule.peer, RulePeer::Cidr(block) if cidr::contains(block, source))))
    }

    /// The group a request names (by id, or by name ignoring case), for its authorization.
    pub async fn find(&self, scope: &Scope, group: &GroupRef) -> Result<SecurityGroupRow> {
        let groups = self.all(scope).await?;
        find_in(&groups, group, scope).cloned()
    }
}

/// True if the rule lets TCP traffic to `port` through.
fn allows_tcp(rule: &SecurityGroupRuleRow, port: i64) -> bool {
    match rule.protocol {
        IpProtocol::All => true,
        IpProtocol::Tcp => rule.from_port <= port && port <= rule.to_port,
        IpProtocol::Udp | IpProtocol::Icmp => false,
    }
}

/// An instance is in a group when its row names it, or, for instances launched before
/// groups existed, when the group is the default group.
fn member_of(instance: &InstanceRow, group: &SecurityGroupRow) -> bool {
    if instance.security_groups.is_empty() {
        group.name == DEFAULT_GROUP
    } else {
        instance.security_groups.contains(&group.id)
    }
}

fn find_in<'g>(groups: &'g [SecurityGroupRow], group: &GroupRef, scope: &Scope) -> Result<&'g SecurityGroupRow> {
    match group {
        GroupRef::Id(id) => groups.iter().find(|g| &g.id == id).ok_or_else(|| Error::SecurityGroupNotFound(id.clone())),
        GroupRef::Name(name) => groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::SecurityGroupNameNotFound { name: name.clone(), vpc_id: network::vpc_id(scope) }),
    }
}

/// The default group: members reach each other on everything, and everything goes out.
fn default_group(scope: &Scope) -> SecurityGroupRow {
    let id = default_group_id(scope);
    let from_members = SecurityGroupRuleRow {
        id: derived_rule_id(scope, "ingress"),
        group_id: id.clone(),
        egress: false,
        protocol: IpProtocol::All,
        from_port: -1,
        to_port: -1,
        peer: RulePeer::Group(id.clone()),
        description: String::new(),
    };
    let mut out = everything_out(&id, "0.0.0.0/0");
    out.id = derived_rule_id(scope, "egress");
    SecurityGroupRow {
        rules: vec![from_members, out],
        id,
        name: DEFAULT_GROUP.to_owned(),
        description: "default VPC security group".to_owned(),
        created_ms: 0,
        tags: Vec::new(),
    }
}

/// The default group's id: derived from the scope, so that replicas making it at once make
/// the same group.
pub fn default_group_id(scope: &Scope) -> String {
    network::derived_id("sg", &[&scope.account, &scope.region, DEFAULT_GROUP])
}

fn derived_rule_id(scope: &Scope, which: &str) -> String {
    network::derived_id("sgr", &[&scope.account, &scope.region, DEFAULT_GROUP, which])
}

fn everything_out(group_id: &str, block: &str) -> SecurityGroupRuleRow {
    SecurityGroupRuleRow {
        id: ids::new_id("sgr"),
        group_id: group_id.to_owned(),
        egress: true,
        protocol: IpProtocol::All,
        from_port: -1,
        to_port: -1,
        peer: RulePeer::Cidr(block.to_owned()),
        description: String::new(),
    }
}

/// The rules a list of permissions stands for, one per (permission, peer), checked.
fn expand(
    groups: &[SecurityGroupRow],
    target: &SecurityGroupRow,
    egress: bool,
    permissions: &[Permission],
    scope: &Scope,
) -> Result<Vec<SecurityGroupRuleRow>> {
    let mut rules: Vec<SecurityGroupRuleRow> = Vec::new();
    for permission in permissions {
        let (protocol, from_port, to_port) = ports(permission)?;
        let rule = |peer: RulePeer, description: &String| -> Result<SecurityGroupRuleRow> {
            validate_text("Description", description)?;
            Ok(SecurityGroupRuleRow {
                id: ids::new_id("sgr"),
                group_id: target.id.clone(),
                egress,
                protocol,
                from_port,
                to_port,
                peer,
                description: description.clone(),
            })
        };
        if permission.ranges.is_empty() && permission.groups.is_empty() {
            return Err(Error::InvalidPermission("a permission needs an IP range or a group".into()));
        }
        for (block, description) in &permission.ranges {
            rules.push(rule(RulePeer::Cidr(canonical_cidr(block)?), description)?);
        }
        for (group, description) in &permission.groups {
            let peer = find_in(groups, group, scope)?;
            rules.push(rule(RulePeer::Group(peer.id.clone()), description)?);
        }
        // A request can name no more rules than a group may hold: the checks after this
        // are then bounded, whatever the body's size.
        if rules.len() > MAX_RULES {
            return Err(Error::RulesPerGroupLimitExceeded);
        }
    }
    Ok(rules)
}

/// The protocol and the port range of a permission, as EC2 stores them: `-1` for all
/// traffic (its ports are ignored), both ports for TCP and UDP, type and code for ICMP.
fn ports(permission: &Permission) -> Result<(IpProtocol, i64, i64)> {
    let protocol = match permission.protocol.to_ascii_lowercase().as_str() {
        "-1" | "all" => IpProtocol::All,
        "tcp" | "6" => IpProtocol::Tcp,
        "udp" | "17" => IpProtocol::Udp,
        "icmp" | "1" => IpProtocol::Icmp,
        other => return Err(Error::InvalidPermission(format!("Invalid value '{other}' for IP protocol."))),
    };
    let (from, to) = (permission.from_port, permission.to_port);
    match protocol {
        IpProtocol::All => Ok((protocol, -1, -1)),
        IpProtocol::Icmp => Ok((protocol, from.unwrap_or(-1), to.unwrap_or(-1))),
        IpProtocol::Tcp | IpProtocol::Udp => match (from, to) {
            (Some(from), Some(to)) if (0..=65535).contains(&from) && (from..=65535).contains(&to) => {
                Ok((protocol, from, to))
            }
            (Some(from), Some(to)) => {
                Err(Error::InvalidPermission(format!("Invalid port range {from}-{to}: ports are 0-65535, from <= to.")))
            }
            _ => Err(Error::InvalidPermission("TCP and UDP permissions need FromPort and ToPort.".into())),
        },
    }
}

/// A block as EC2 keeps it: an address of the right family with a prefix length, no host
/// bits set (`10.0.0.1/8` is refused, not widened), in its shortest spelling, so that one
/// range has one text for the duplicate and revoke comparisons.
fn canonical_cidr(block: &str) -> Result<String> {
    let malformed = || Error::InvalidPermission(format!("CIDR block {block} is malformed"));
    let (address, bits) = block.split_once('/').ok_or_else(malformed)?;
    let bits: u8 = if bits.len() <= 3 && bits.bytes().all(|b| b.is_ascii_digit()) {
        bits.parse().map_err(|_| malformed())?
    } else {
        return Err(malformed());
    };
    match address.parse::<IpAddr>().map_err(|_| malformed())? {
        IpAddr::V4(v4) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            if u32::from(v4) & !mask != 0 {
                return Err(malformed());
            }
            Ok(format!("{v4}/{bits}"))
        }
        IpAddr::V6(v6) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            if u128::from(v6) & !mask != 0 {
                return Err(malformed());
            }
            Ok(format!("{v6}/{bits}"))
        }
        _ => Err(malformed()),
    }
}

/// EC2's rules for group names in a VPC: 1–255 characters of a-z, A-Z, 0-9, spaces and
/// `._-:/()#,@[]+=&;{}!$*`, not beginning with `sg-`, and not `default`.
fn validate_name(name: &str) -> Result<()> {
    validate_text("GroupName", name)?;
    if name.is_empty() {
        return Err(Error::MissingParameter("GroupName"));
    }
    if name.to_ascii_lowercase().starts_with("sg-") {
        return Err(Error::InvalidPermission(format!(
            "Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*."
        )));
    }
    if name.eq_ignore_ascii_case(DEFAULT_GROUP) {
        return Err(Error::InvalidPermission(format!("Cannot use reserved security group name: {name}")));
    }
    Ok(())
}

fn validate_text(field: &'static str, text: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c);
    if text.chars().count() > MAX_NAME || !text.chars().all(allowed) {
        return Err(Error::InvalidSecurityGroupText { field, text: text.to_owned() });
    }
    Ok(())
}

/// A rule as EC2's duplicate error words it: `peer: 0.0.0.0/0, TCP, from port: 22, to port:
/// 22, ALLOW`, or `peer: …, ALL, ALLOW` for all traffic.
fn describe_rule(rule: &SecurityGroupRuleRow) -> String {
    let peer = match &rule.peer {
        RulePeer::Cidr(block) => block.as_str(),
        RulePeer::Group(group) => group.as_str(),
    };
    match rule.protocol {
        IpProtocol::All => format!("peer: {peer}, ALL, ALLOW"),
        other => format!(
            "peer: {peer}, {}, from port: {}, to port: {}, ALLOW",
            other.as_str().to_ascii_uppercase(),
            rule.from_port,
            rule.to_port
        ),
    }
}

/// A group with what DescribeSecurityGroups' filters read besides it.
struct Described<'a> {
    group: &'a SecurityGroupRow,
    vpc_id: &'a str,
    account: &'a str,
    permissions: Vec<(bool, RuleField, String)>,
}

/// DescribeSecurityGroups' filters.
enum GroupFilter {
    Description,
    GroupId,
    GroupName,
    OwnerId,
    VpcId,
    TagKey,
    Tag(String),
    /// `ip-permission.*` and `egress.ip-permission.*`: matched on the group's rules.
    Permission {
        egress: bool,
        field: RuleField,
    },
}

/// What an `ip-permission.*` filter reads of a rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RuleField {
    Cidr,
    FromPort,
    ToPort,
    Protocol,
    GroupId,
    UserId,
}

impl FilterField<Described<'_>> for GroupFilter {
    fn named(name: &str) -> Option<Self> {
        let permission = |egress: bool, field: &str| {
            let field = match field {
                "cidr" | "ipv6-cidr" => RuleField::Cidr,
                "from-port" => RuleField::FromPort,
                "to-port" => RuleField::ToPort,
                "protocol" => RuleField::Protocol,
                "group-id" => RuleField::GroupId,
                "user-id" => RuleField::UserId,
                _ => return None,
            };
            Some(GroupFilter::Permission { egress, field })
        };
        match name {
            "description" => Some(GroupFilter::Description),
            "group-id" => Some(GroupFilter::GroupId),
            "group-name" => Some(GroupFilter::GroupName),
            "owner-id" => Some(GroupFilter::OwnerId),
            "vpc-id" => Some(GroupFilter::VpcId),
            "tag-key" => Some(GroupFilter::TagKey),
            other => {
                if let Some(key) = other.strip_prefix("tag:") {
                    return Some(GroupFilter::Tag(key.to_owned()));
                }
                if let Some(field) = other.strip_prefix("egress.ip-permission.") {
                    return permission(true, field);
                }
                permission(false, other.strip_prefix("ip-permission.")?)
            }
        }
    }

    fn candidates<'r>(&self, d: &'r Described<'_>) -> Vec<&'r str> {
        let group = d.group;
        match self {
            GroupFilter::Description => vec![&group.description],
            GroupFilter::GroupId => vec![&group.id],
            GroupFilter::GroupName => vec![&group.name],
            GroupFilter::OwnerId => vec![d.account],
            GroupFilter::VpcId => vec![d.vpc_id],
            GroupFilter::TagKey => group.tags.iter().map(|t| t.key.as_str()).collect(),
            GroupFilter::Tag(key) => tag_values(&group.tags, key),
            GroupFilter::Permission { egress, field } => d
                .permissions
                .iter()
                .filter(|(e, f, _)| e == egress && f == field)
                .map(|(_, _, value)| value.as_str())
                .collect(),
        }
    }
}

/// What the `ip-permission.*` filters read of a group's rules, as text.
fn permission_values(group: &SecurityGroupRow, account: &str) -> Vec<(bool, RuleField, String)> {
    let mut values = Vec::new();
    for rule in &group.rules {
        let mut add = |field, value: String| values.push((rule.egress, field, value));
        add(RuleField::FromPort, rule.from_port.to_string());
        add(RuleField::ToPort, rule.to_port.to_string());
        add(RuleField::Protocol, rule.protocol.as_str().to_owned());
        match &rule.peer {
            RulePeer::Cidr(block) => add(RuleField::Cidr, block.clone()),
            RulePeer::Group(id) => {
                add(RuleField::GroupId, id.clone());
                add(RuleField::UserId, account.to_owned());
            }
        }
    }
    values
}

/// DescribeSecurityGroupRules' filters.
enum RuleFilter {
    GroupId,
    RuleId,
}

impl FilterField<SecurityGroupRuleRow> for RuleFilter {
    fn named(name: &str) -> Option<Self> {
        match name {
            "group-id" => Some(RuleFilter::GroupId),
            "security-group-rule-id" => Some(RuleFilter::RuleId),
            _ => None,
        }
    }

    fn candidates<'r>(&self, rule: &'r SecurityGroupRuleRow) -> Vec<&'r str> {
        match self {
            RuleFilter::GroupId => vec![&rule.group_id],
            RuleFilter::RuleId => vec![&rule.id],
        }
    }
}

/// The SSH servers' question, answered from the store: is `source` let in to the instance?
/// An instance the store does not know, or a store that fails, is a refusal.
pub fn ssh_admission(groups: Arc<SecurityGroups>) -> crate::runtime::ConnectionCheck {
    Arc::new(move |account: String, region: String, instance_id: String, source: IpAddr| {
        let groups = groups.clone();
        Box::pin(async move {
            let scope = Scope { account, region };
            let found = groups.store.instances(&scope, std::slice::from_ref(&instance_id)).await;
            let verdict = match found {
                Ok(rows) => match rows.first() {
                    Some(instance) => groups.admits_ssh(&scope, instance, source).await,
                    None => Ok(false),
                },
                Err(e) => Err(e.into()),
            };
            verdict.unwrap_or_else(|e| {
                tracing::warn!(instance = %instance_id, error = %e, "security groups could not be read; refused");
                false
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::canonical_cidr;

    #[test]
    fn blocks_are_kept_in_one_spelling_and_host_bits_are_refused() {
        assert_eq!(canonical_cidr("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        assert_eq!(canonical_cidr("2001:db8:0:0::/64").unwrap(), "2001:db8::/64");
        for bad in [
            "10.0.0.1/8",
            "192.168.1.10/0",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "::1/129",
            "x/8",
            "10.0.0.0/0008",
        ] {
            assert!(canonical_cidr(bad).is_err(), "{bad}");
        }
    }
}

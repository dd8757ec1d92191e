//! The default network of each (account, Region), as a new AWS account has it: one default
//! VPC and a default subnet in each Availability Zone (docs/aws-facts.md, "The default VPC").
//!
//! Nothing of it is stored. Ids are derived from (account, Region, zone), so that every
//! replica answers the same ones. The address ranges are the instance network's
//! (`--instance-network`, a loopback /16), because instance addresses are real loopback
//! addresses: the VPC is that /16, and zone N's default subnet is its Nth /20, the way AWS
//! carves 172.31.0.0/16 (docs/aws-choices.md, "The default VPC").

use super::filter::{Filter, FilterField, Typed, all_match, typed};
use super::regions::REGIONS;
use super::{Error, Invalid, Result};
use crate::store::{Scope, Store};
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The zone group of every zone of a Region: its first, as AWS names it.
pub fn zone_group(region: &str) -> String {
    format!("{region}-zg-1")
}

/// The zone letters of each Region that has other than `a`, `b`, `c` (docs/aws-facts.md).
const ZONE_LETTERS: [(&str, &str); 6] = [
    ("us-east-1", "abcdef"),
    ("us-west-1", "ab"),
    ("us-west-2", "abcd"),
    ("ap-northeast-1", "acd"),
    ("ap-northeast-2", "abcd"),
    ("ca-central-1", "abd"),
];

/// A default subnet is a /20: the third octet steps by 16 from one zone to the next.
const SUBNET_OCTETS: u8 = 16;
/// The addresses of a default subnet an instance can get: 16 /24s of 253 (`.0`, `.1` and
/// `.255` are never handed out).
const SUBNET_ADDRESSES: u32 = 16 * 253;

/// What every listed zone answers as its state, type and opt-in status.
pub const ZONE_STATE: &str = "available";
/// EC2's `zoneType` of an Availability Zone (not a Local or Wavelength Zone).
pub const ZONE_TYPE: &str = "availability-zone";

/// One Availability Zone of the caller's Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// `us-east-1a`.
    pub name: String,
    /// `use1-az1`.
    pub id: String,
    /// The Region.
    pub region: String,
    /// `us-east-1-zg-1`.
    pub group: String,
    /// Its place in the Region's list, which is also its default subnet's /20.
    pub index: u8,
}

/// The default VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: String,
    /// The instance network's /16.
    pub cidr: String,
    /// `dopt-…`.
    pub dhcp_options_id: String,
    /// `vpc-cidr-assoc-…`: the association of its one CIDR block.
    pub association_id: String,
    /// The owning account.
    pub owner: String,
}

/// A default subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    /// `arn:aws:ec2:REGION:ACCOUNT:subnet/subnet-…`.
    pub arn: String,
    /// Its zone.
    pub zone: Zone,
    /// Its /20.
    pub cidr: String,
    /// The default VPC's id.
    pub vpc_id: String,
    /// Addresses not taken by a live instance.
    pub available: u32,
    /// The owning account.
    pub owner: String,
    available_text: String,
}

/// `DescribeVpcs`' and `DescribeSubnets`' input: ids (each must exist) and filters.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// `VpcId.N` / `SubnetId.N`.
    pub ids: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
}

/// `DescribeAvailabilityZones`' input.
#[derive(Debug, Clone, Default)]
pub struct DescribeZones {
    /// `ZoneName.N`.
    pub names: Vec<String>,
    /// `ZoneId.N`.
    pub ids: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
}

/// The attributes `DescribeAccountAttributes` answers, in EC2's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAttribute {
    /// `supported-platforms`: `VPC` only, as for every account made since 2013.
    SupportedPlatforms,
    /// `default-vpc`: the default VPC's id.
    DefaultVpc,
    /// `max-instances`: the server's instance quota.
    MaxInstances,
    /// `vpc-max-security-groups-per-interface`.
    SecurityGroupsPerInterface,
    /// `max-elastic-ips`.
    MaxElasticIps,
    /// `vpc-max-elastic-ips`.
    VpcMaxElasticIps,
}

impl AccountAttribute {
    /// Every attribute, in the order EC2 lists them.
    pub const ALL: [AccountAttribute; 6] = [
        AccountAttribute::SupportedPlatforms,
        AccountAttribute::SecurityGroupsPerInterface,
        AccountAttribute::MaxElasticIps,
        AccountAttribute::MaxInstances,
        AccountAttribute::VpcMaxElasticIps,
        AccountAttribute::DefaultVpc,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountAttribute::SupportedPlatforms => "supported-platforms",
            AccountAttribute::DefaultVpc => "default-vpc",
            AccountAttribute::MaxInstances => "max-instances",
            AccountAttribute::SecurityGroupsPerInterface => "vpc-max-security-groups-per-interface",
            AccountAttribute::MaxElasticIps => "max-elastic-ips",
            AccountAttribute::VpcMaxElasticIps => "vpc-max-elastic-ips",
        }
    }

    /// The attribute of a wire name.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Where a launch goes: the zone asked for, by subnet or by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementRequest {
    /// `SubnetId`.
    pub subnet_id: Option<String>,
    /// `Placement.AvailabilityZone`.
    pub zone: Option<String>,
}

/// The default network, per caller.
pub struct Network {
    store: Arc<dyn Store>,
    /// The instance network's first address (a /16).
    base: Ipv4Addr,
    /// Live instances allowed per (account, Region), for `max-instances`.
    quota: u32,
}

impl Network {
    /// The default network over the instance network `base` (its /16).
    pub fn new(store: Arc<dyn Store>, base: Ipv4Addr, quota: u32) -> Self {
        let [a, b, _, _] = base.octets();
        Network { store, base: Ipv4Addr::new(a, b, 0, 0), quota }
    }

    /// The caller's default VPC.
    pub fn default_vpc(&self, scope: &Scope) -> Vpc {
        Vpc {
            id: vpc_id(scope),
            cidr: format!("{}/16", self.base),
            dhcp_options_id: derived_id("dopt", &[&scope.account, &scope.region]),
            association_id: derived_id("vpc-cidr-assoc", &[&scope.account, &scope.region]),
            owner: scope.account.clone(),
        }
    }

    /// `DescribeVpcs`.
    pub fn describe_vpcs(&self, scope: &Scope, input: &Lookup) -> Result<Vec<Vpc>> {
        let filters: Vec<Typed<VpcFilter>> = typed(&input.filters)?;
        let vpc = self.default_vpc(scope);
        if let Some(missing) = input.ids.iter().find(|id| **id != vpc.id) {
            return Err(Error::VpcNotFound(missing.clone()));
        }
        Ok(Some(vpc).into_iter().filter(|vpc| all_match(&filters, vpc)).collect())
    }

    /// `DescribeSubnets`, with each subnet's free addresses counted from the live instances.
    pub async fn describe_subnets(&self, scope: &Scope, input: &Lookup) -> Result<Vec<Subnet>> {
        let filters: Vec<Typed<SubnetFilter>> = typed(&input.filters)?;
        let subnets = self.subnets(scope).await?;
        if let Some(missing) = input.ids.iter().find(|id| !subnets.iter().any(|s| &&s.id == id)) {
            return Err(Error::SubnetNotFound(missing.clone()));
        }
        Ok(subnets
            .into_iter()
            .filter(|s| input.ids.is_empty() || input.ids.contains(&s.id))
            .filter(|s| all_match(&filters, s))
            .collect())
    }

    /// `DescribeAvailabilityZones`: the caller's Region's zones.
    pub fn describe_zones(&self, scope: &Scope, input: &DescribeZones) -> Result<Vec<Zone>> {
        let filters: Vec<Typed<ZoneFilter>> = typed(&input.filters)?;
        let zones = zones(&scope.region);
        let unknown = input.names.iter().find(|n| !zones.iter().any(|z| &&z.name == n));
        if let Some(name) = unknown.or_else(|| input.ids.iter().find(|i| !zones.iter().any(|z| &&z.id == i))) {
            return Err(Error::InvalidParameterValue(Invalid::UnknownZone(name.clone())));
        }
        Ok(zones
            .into_iter()
            .filter(|z| input.names.is_empty() || input.names.contains(&z.name))
            .filter(|z| input.ids.is_empty() || input.ids.contains(&z.id))
            .filter(|z| all_match(&filters, z))
            .collect())
    }

    /// `DescribeAccountAttributes`: the attributes asked for (all without names), each with
    /// its values.
    pub fn account_attributes(&self, scope: &Scope, names: &[String]) -> Result<Vec<(AccountAttribute, String)>> {
        let asked: Vec<AccountAttribute> = if names.is_empty() {
            AccountAttribute::ALL.to_vec()
        } else {
            names
                .iter()
                .map(|n| {
                    AccountAttribute::named(n)
                        .ok_or_else(|| Error::InvalidParameterValue(Invalid::UnknownAccountAttribute(n.clone())))
                })
                .collect::<Result<_>>()?
        };
        Ok(asked
            .into_iter()
            .map(|attribute| {
                let value = match attribute {
                    AccountAttribute::SupportedPlatforms => "VPC".to_owned(),
                    AccountAttribute::DefaultVpc => self.default_vpc(scope).id,
                    AccountAttribute::MaxInstances => self.quota.to_string(),
                    AccountAttribute::SecurityGroupsPerInterface
                    | AccountAttribute::MaxElasticIps
                    | AccountAttribute::VpcMaxElasticIps => "5".to_owned(),
                };
                (attribute, value)
            })
            .collect())
    }

    /// The zone a launch goes to: the subnet's, the one named, or the Region's first.
    /// A subnet and a zone that disagree are refused, as EC2 does.
    pub fn placement(&self, scope: &Scope, request: &PlacementRequest) -> Result<Zone> {
        let zones = zones(&scope.region);
        let by_subnet = match &request.subnet_id {
            None => None,
            Some(id) => Some(
                zones
                    .iter()
                    .find(|z| subnet_id(scope, &z.name) == *id)
                    .ok_or_else(|| Error::SubnetNotFound(id.clone()))?,
            ),
        };
        let by_name = match &request.zone {
            None => None,
            Some(name) => Some(
                zones
                    .iter()
                    .find(|z| &z.name == name)
                    .ok_or_else(|| Error::InvalidParameterValue(Invalid::UnknownZone(name.clone())))?,
            ),
        };
        match (by_subnet, by_name) {
            (Some(subnet), Some(named)) if subnet != named => {
                Err(Error::InvalidParameterValue(Invalid::SubnetNotInZone {
                    subnet: subnet_id(scope, &subnet.name),
                    zone: named.name.clone(),
                }))
            }
            (Some(zone), _) | (None, Some(zone)) => Ok(zone.clone()),
            (None, None) => zones.into_iter().next().ok_or(Error::InsufficientCapacity),
        }
    }

    /// The first address and prefix length of a zone's default subnet.
    pub fn subnet_block(&self, zone: &Zone) -> (Ipv4Addr, u8) {
        let [a, b, _, _] = self.base.octets();
        (Ipv4Addr::new(a, b, zone.index.saturating_mul(SUBNET_OCTETS), 0), 20)
    }

    async fn subnets(&self, scope: &Scope) -> Result<Vec<Subnet>> {
        let live = self.store.live_addresses().await?;
        let vpc_id = vpc_id(scope);
        Ok(zones(&scope.region)
            .into_iter()
            .map(|zone| {
                let (first, bits) = self.subnet_block(&zone);
                let cidr = format!("{first}/{bits}");
                let used = live
                    .iter()
                    .filter_map(|a| a.parse::<Ipv4Addr>().ok())
                    .filter(|a| crate::common::cidr::contains(&cidr, (*a).into()))
                    .count();
                let available = SUBNET_ADDRESSES.saturating_sub(u32::try_from(used).unwrap_or(u32::MAX));
                let id = subnet_id(scope, &zone.name);
                Subnet {
                    arn: format!("arn:aws:ec2:{}:{}:subnet/{id}", scope.region, scope.account),
                    id,
                    zone,
                    cidr,
                    vpc_id: vpc_id.clone(),
                    available,
                    owner: scope.account.clone(),
                    available_text: available.to_string(),
                }
            })
            .collect())
    }
}

/// Where an instance at `address` is: its zone, by the /20 its address falls in. An address
/// past the Region's zones (another Region's zone range) is put in the first zone.
pub fn zone_of(region: &str, address: &str) -> Option<Zone> {
    let [_, _, third, _] = address.parse::<Ipv4Addr>().ok()?.octets();
    let mut zones = zones(region);
    let index = usize::from(third / SUBNET_OCTETS);
    if index < zones.len() { Some(zones.swap_remove(index)) } else { zones.into_iter().next() }
}

/// The private DNS name EC2 gives an address: `ip-10-0-0-1.ec2.internal` in us-east-1,
/// `ip-10-0-0-1.REGION.compute.internal` elsewhere.
pub fn private_dns_name(region: &str, address: &str) -> String {
    let dashed = address.replace('.', "-");
    match region {
        "us-east-1" => format!("ip-{dashed}.ec2.internal"),
        _ => format!("ip-{dashed}.{region}.compute.internal"),
    }
}

/// The public DNS name EC2 gives a public address: `ec2-203-0-113-1.compute-1.amazonaws.com`
/// in us-east-1, `ec2-203-0-113-1.REGION.compute.amazonaws.com` elsewhere.
pub fn public_dns_name(region: &str, address: &str) -> String {
    let dashed = address.replace('.', "-");
    match region {
        "us-east-1" => format!("ec2-{dashed}.compute-1.amazonaws.com"),
        _ => format!("ec2-{dashed}.{region}.compute.amazonaws.com"),
    }
}

/// The default VPC's id of a caller.
pub fn vpc_id(scope: &Scope) -> String {
    derived_id("vpc", &[&scope.account, &scope.region])
}

/// The default subnet's id of a zone.
pub fn subnet_id(scope: &Scope, zone: &str) -> String {
    derived_id("subnet", &[&scope.account, &scope.region, zone])
}

/// A Region's Availability Zones; none for a name that is not a Region.
pub fn zones(region: &str) -> Vec<Zone> {
    if !REGIONS.contains(&region) {
        return Vec::new();
    }
    let letters = ZONE_LETTERS.iter().find(|(r, _)| *r == region).map_or("abc", |(_, l)| l);
    let short = zone_id_prefix(region);
    letters
        .chars()
        .zip(0u8..)
        .map(|(letter, index)| Zone {
            name: format!("{region}{letter}"),
            id: format!("{short}-az{}", index + 1),
            region: region.to_owned(),
            group: zone_group(region),
            index,
        })
        .collect()
}

/// `use1` for `us-east-1`: the area, the direction's initials and the number, as AWS
/// writes zone ids.
fn zone_id_prefix(region: &str) -> String {
    let mut parts = region.split('-');
    let area = parts.next().unwrap_or_default();
    let direction = parts.next().unwrap_or_default();
    let number = parts.next().unwrap_or_default();
    let initials: String = ["north", "south", "east", "west", "central"]
        .iter()
        .fold(direction.to_owned(), |d, word| d.replace(word, word.get(..1).unwrap_or_default()));
    format!("{area}{initials}{number}")
}

/// `PREFIX-` and 17 hex digits of a hash of the parts: stable across replicas and restarts.
pub(super) fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(prefix.as_bytes());
    for part in parts {
        hash.update([0]);
        hash.update(part.as_bytes());
    }
    let hex: String = hash.finalize().iter().take(9).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{}", hex.get(..17).unwrap_or_default())
}

/// DescribeVpcs' filters. The IPv6 ones are known and match nothing: the VPC has no IPv6 block.
enum VpcFilter {
    Cidr,
    AssociationId,
    AssociationState,
    DhcpOptionsId,
    Ipv6,
    IsDefault,
    OwnerId,
    State,
    VpcId,
    TagKey,
    Tag,
}

impl FilterField<Vpc> for VpcFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "cidr" | "cidr-block-association.cidr-block" => VpcFilter::Cidr,
            "cidr-block-association.association-id" => VpcFilter::AssociationId,
            "cidr-block-association.state" => VpcFilter::AssociationState,
            "dhcp-options-id" => VpcFilter::DhcpOptionsId,
            "ipv6-cidr-block-association.ipv6-cidr-block"
            | "ipv6-cidr-block-association.ipv6-pool"
            | "ipv6-cidr-block-association.association-id"
            | "ipv6-cidr-block-association.state" => VpcFilter::Ipv6,
            // `isDefault`: the older spelling EC2 still takes, and Ansible's ec2_instance sends.
            "is-default" | "isDefault" => VpcFilter::IsDefault,
            "owner-id" => VpcFilter::OwnerId,
            "state" => VpcFilter::State,
            "vpc-id" => VpcFilter::VpcId,
            "tag-key" => VpcFilter::TagKey,
            other if other.starts_with("tag:") => VpcFilter::Tag,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, vpc: &'r Vpc) -> Vec<&'r str> {
        match self {
            VpcFilter::Cidr => vec![&vpc.cidr],
            VpcFilter::AssociationId => vec![&vpc.association_id],
            VpcFilter::AssociationState => vec!["associated"],
            VpcFilter::DhcpOptionsId => vec![&vpc.dhcp_options_id],
            VpcFilter::IsDefault => vec!["true"],
            VpcFilter::OwnerId => vec![&vpc.owner],
            VpcFilter::State => vec!["available"],
            VpcFilter::VpcId => vec![&vpc.id],
            // The default VPC carries no tags.
            VpcFilter::Ipv6 | VpcFilter::TagKey | VpcFilter::Tag => Vec::new(),
        }
    }
}

/// DescribeSubnets' filters. Those of features keyfleet's subnets lack (IPv6, Outposts,
/// customer-owned pools) are known and match only the value the subnet has (`false`) or
/// nothing.
enum SubnetFilter {
    Zone,
    ZoneId,
    Available,
    Cidr,
    DefaultForAz,
    False,
    Nothing,
    MapPublicIp,
    OwnerId,
    State,
    Arn,
    SubnetId,
    VpcId,
    HostnameType,
    TagKey,
    Tag,
}

impl FilterField<Subnet> for SubnetFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "availability-zone" | "availabilityZone" => SubnetFilter::Zone,
            "availability-zone-id" | "availabilityZoneId" => SubnetFilter::ZoneId,
            "available-ip-address-count" => SubnetFilter::Available,
            "cidr-block" | "cidr" | "cidrBlock" => SubnetFilter::Cidr,
            "default-for-az" | "defaultForAz" => SubnetFilter::DefaultForAz,
            "enable-dns64"
            | "ipv6-native"
            | "map-customer-owned-ip-on-launch"
            | "private-dns-name-options-on-launch.enable-resource-name-dns-a-record"
            | "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record" => SubnetFilter::False,
            "customer-owned-ipv4-pool"
            | "enable-lni-at-device-index"
            | "ipv6-cidr-block-association.ipv6-cidr-block"
            | "ipv6-cidr-block-association.association-id"
            | "ipv6-cidr-block-association.state"
            | "outpost-arn" => SubnetFilter::Nothing,
            "map-public-ip-on-launch" => SubnetFilter::MapPublicIp,
            "owner-id" => SubnetFilter::OwnerId,
            "private-dns-name-options-on-launch.hostname-type" => SubnetFilter::HostnameType,
            "state" => SubnetFilter::State,
            "subnet-arn" => SubnetFilter::Arn,
            "subnet-id" => SubnetFilter::SubnetId,
            "vpc-id" => SubnetFilter::VpcId,
            "tag-key" => SubnetFilter::TagKey,
            other if other.starts_with("tag:") => SubnetFilter::Tag,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, subnet: &'r Subnet) -> Vec<&'r str> {
        match self {
            SubnetFilter::Zone => vec![&subnet.zone.name],
            SubnetFilter::ZoneId => vec![&subnet.zone.id],
            SubnetFilter::Available => vec![&subnet.available_text],
            SubnetFilter::Cidr => vec![&subnet.cidr],
            SubnetFilter::DefaultForAz | SubnetFilter::MapPublicIp => vec!["true"],
            SubnetFilter::False => vec!["false"],
            SubnetFilter::OwnerId => vec![&subnet.owner],
            SubnetFilter::State => vec!["available"],
            SubnetFilter::Arn => vec![&subnet.arn],
            SubnetFilter::SubnetId => vec![&subnet.id],
            SubnetFilter::VpcId => vec![&subnet.vpc_id],
            SubnetFilter::HostnameType => vec!["ip-name"],
            // Default subnets carry no tags.
            SubnetFilter::Nothing | SubnetFilter::TagKey | SubnetFilter::Tag => Vec::new(),
        }
    }
}

/// DescribeAvailabilityZones' filters.
enum ZoneFilter {
    GroupName,
    Message,
    OptInStatus,
    ParentZone,
    RegionName,
    State,
    ZoneId,
    ZoneName,
    ZoneType,
}

impl FilterField<Zone> for ZoneFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "group-name" | "group-long-name" => ZoneFilter::GroupName,
            "message" => ZoneFilter::Message,
            "opt-in-status" => ZoneFilter::OptInStatus,
            "parent-zone-id" | "parent-zone-name" => ZoneFilter::ParentZone,
            "region-name" => ZoneFilter::RegionName,
            "state" => ZoneFilter::State,
            "zone-id" => ZoneFilter::ZoneId,
            "zone-name" => ZoneFilter::ZoneName,
            "zone-type" => ZoneFilter::ZoneType,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, zone: &'r Zone) -> Vec<&'r str> {
        match self {
            ZoneFilter::GroupName => vec![&zone.group],
            ZoneFilter::RegionName => vec![&zone.region],
            ZoneFilter::Message | ZoneFilter::ParentZone => Vec::new(),
            ZoneFilter::OptInStatus => vec![super::regions::OPT_IN_STATUS],
            ZoneFilter::State => vec![ZONE_STATE],
            ZoneFilter::ZoneId => vec![&zone.id],
            ZoneFilter::ZoneName => vec![&zone.name],
            ZoneFilter::ZoneType => vec![ZONE_TYPE],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_have_aws_names_and_ids() {
        let east = zones("us-east-1");
        assert_eq!(east.len(), 6);
        assert_eq!((east[0].name.as_str(), east[0].id.as_str()), ("us-east-1a", "use1-az1"));
        assert_eq!(zones("ap-northeast-1")[1].id, "apne1-az2");
        assert_eq!(zones("ap-northeast-1")[1].name, "ap-northeast-1c");
        assert_eq!(zones("eu-central-1")[2].id, "euc1-az3");
        assert_eq!(zones("ca-central-1")[0].id, "cac1-az1");
        assert!(zones("mars-1").is_empty());
    }

    #[test]
    fn addresses_fall_in_their_zones_subnet() {
        assert_eq!(zone_of("us-east-1", "127.77.0.9").unwrap().name, "us-east-1a");
        assert_eq!(zone_of("us-east-1", "127.77.33.9").unwrap().name, "us-east-1c");
        assert_eq!(zone_of("eu-west-1", "127.77.200.9").unwrap().name, "eu-west-1a");
        let scope = Scope { account: "123456789012".into(), region: "us-east-1".into() };
        assert_eq!(vpc_id(&scope).len(), "vpc-".len() + 17);
        assert_ne!(subnet_id(&scope, "us-east-1a"), subnet_id(&scope, "us-east-1b"));
        let other = Scope { account: "123456789012".into(), region: "us-west-2".into() };
        assert_ne!(vpc_id(&scope), vpc_id(&other));
    }
}

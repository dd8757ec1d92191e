//! The Regions DescribeRegions lists. keyfleet serves every Region on one endpoint (the
//! Region comes from each request's signature), so the list is AWS's Regions that need no
//! opting in (docs/aws-facts.md, "Regions").

use super::filter::{Filter, FilterField, Typed, all_match, typed};
use super::{Error, Invalid, Result};

/// AWS's Regions that are enabled for every account.
pub const REGIONS: [&str; 17] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// What every listed Region answers as its opt-in status.
pub const OPT_IN_STATUS: &str = "opt-in-not-required";

/// One listed Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// `us-east-1`.
    pub name: &'static str,
    /// `ec2.us-east-1.amazonaws.com`: the name AWS gives the Region's endpoint.
    pub endpoint: String,
}

/// `DescribeRegions`' input.
#[derive(Debug, Clone, Default)]
pub struct DescribeRegions {
    /// `RegionName.N`: only these (each must be a Region).
    pub names: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
}

/// DescribeRegions' filters.
enum RegionFilter {
    RegionName,
    Endpoint,
    OptInStatus,
}

impl FilterField<Region> for RegionFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "region-name" => RegionFilter::RegionName,
            "endpoint" => RegionFilter::Endpoint,
            "opt-in-status" => RegionFilter::OptInStatus,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, region: &'r Region) -> Vec<&'r str> {
        match self {
            RegionFilter::RegionName => vec![region.name],
            RegionFilter::Endpoint => vec![&region.endpoint],
            RegionFilter::OptInStatus => vec![OPT_IN_STATUS],
        }
    }
}

/// `DescribeRegions`: the Regions asked for, in name order.
pub fn describe(input: &DescribeRegions) -> Result<Vec<Region>> {
    let filters: Vec<Typed<RegionFilter>> = typed(&input.filters)?;
    if let Some(unknown) = input.names.iter().find(|n| !REGIONS.contains(&n.as_str())) {
        return Err(Error::InvalidParameterValue(Invalid::UnknownRegion(unknown.clone())));
    }
    Ok(REGIONS
        .iter()
        .filter(|name| input.names.is_empty() || input.names.iter().any(|n| n == *name))
        .map(|name| Region { name, endpoint: format!("ec2.{name}.amazonaws.com") })
        .filter(|region| all_match(&filters, region))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{DescribeRegions, REGIONS, describe};
    use crate::service::filter::Filter;

    fn filter(name: &str, value: &str) -> Filter {
        Filter { name: name.into(), values: vec![value.into()] }
    }

    #[test]
    fn names_filters_and_refusals() {
        assert_eq!(describe(&DescribeRegions::default()).unwrap().len(), REGIONS.len());
        let named = DescribeRegions { names: vec!["eu-west-1".into()], ..Default::default() };
        assert_eq!(describe(&named).unwrap()[0].endpoint, "ec2.eu-west-1.amazonaws.com");
        let us = DescribeRegions { filters: vec![filter("region-name", "us-*")], ..Default::default() };
        assert_eq!(describe(&us).unwrap().len(), 4);
        let by_endpoint = DescribeRegions { filters: vec![filter("endpoint", "*ca-*")], ..Default::default() };
        assert_eq!(describe(&by_endpoint).unwrap()[0].name, "ca-central-1");
        let opted = DescribeRegions { filters: vec![filter("opt-in-status", "not-opted-in")], ..Default::default() };
        assert!(describe(&opted).unwrap().is_empty());
        assert!(describe(&DescribeRegions { names: vec!["mars-1".into()], ..Default::default() }).is_err());
        assert!(describe(&DescribeRegions { filters: vec![filter("zone", "a")], ..Default::default() }).is_err());
    }
}

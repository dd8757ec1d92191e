//! The EC2 service: every action it answers, one [`Operation`](super::operation::Operation)
//! each, in one table.

pub(crate) mod instances;
pub(crate) mod key_pairs;
pub(crate) mod launch_templates;
mod network;
mod regions;
pub(crate) mod security_groups;
pub(crate) mod tags;
pub(super) mod targets;

use super::error::ApiError;
use super::operation::{Ec2Query, Endpoint};
use super::protocol::ec2_query::{Accepted, QueryParams};
use crate::common::page::{Limits, Page};

/// Every EC2 action keyfleet implements. Anything else is `InvalidAction`.
pub static ACTIONS: &[Endpoint<Ec2Query>] = &[
    Endpoint::of::<key_pairs::CreateKeyPair>(),
    Endpoint::of::<key_pairs::ImportKeyPair>(),
    Endpoint::of::<key_pairs::DescribeKeyPairs>(),
    Endpoint::of::<key_pairs::DeleteKeyPair>(),
    Endpoint::of::<tags::CreateTags>(),
    Endpoint::of::<tags::DeleteTags>(),
    Endpoint::of::<tags::DescribeTags>(),
    Endpoint::of::<instances::RunInstances>(),
    Endpoint::of::<instances::DescribeInstances>(),
    Endpoint::of::<instances::DescribeInstanceStatus>(),
    Endpoint::of::<instances::GetConsoleOutput>(),
    Endpoint::of::<instances::DescribeInstanceTypes>(),
    Endpoint::of::<instances::DescribeInstanceAttribute>(),
    Endpoint::of::<instances::Transition<instances::Stop>>(),
    Endpoint::of::<instances::Transition<instances::Start>>(),
    Endpoint::of::<instances::RebootInstances>(),
    Endpoint::of::<instances::Transition<instances::Terminate>>(),
    Endpoint::of::<instances::DescribeImages>(),
    Endpoint::of::<instances::ModifyInstanceAttribute>(),
    Endpoint::of::<instances::DescribeVolumes>(),
    Endpoint::of::<instances::DeleteVolume>(),
    Endpoint::of::<launch_templates::CreateLaunchTemplate>(),
    Endpoint::of::<launch_templates::CreateLaunchTemplateVersion>(),
    Endpoint::of::<launch_templates::DescribeLaunchTemplates>(),
    Endpoint::of::<launch_templates::DescribeLaunchTemplateVersions>(),
    Endpoint::of::<launch_templates::ModifyLaunchTemplate>(),
    Endpoint::of::<launch_templates::DeleteLaunchTemplate>(),
    Endpoint::of::<launch_templates::DeleteLaunchTemplateVersions>(),
    Endpoint::of::<regions::DescribeRegions>(),
    Endpoint::of::<network::DescribeAvailabilityZones>(),
    Endpoint::of::<network::DescribeAccountAttributes>(),
    Endpoint::of::<network::DescribeVpcs>(),
    Endpoint::of::<network::DescribeSubnets>(),
    Endpoint::of::<security_groups::CreateSecurityGroup>(),
    Endpoint::of::<security_groups::DeleteSecurityGroup>(),
    Endpoint::of::<security_groups::DescribeSecurityGroups>(),
    Endpoint::of::<security_groups::DescribeSecurityGroupRules>(),
    Endpoint::of::<security_groups::Authorize<security_groups::Ingress>>(),
    Endpoint::of::<security_groups::Authorize<security_groups::Egress>>(),
    Endpoint::of::<security_groups::Revoke<security_groups::Ingress>>(),
    Endpoint::of::<security_groups::Revoke<security_groups::Egress>>(),
];

/// How a Describe action pages: the name EC2 gives its id list in the combination error,
/// and its limits (DescribeVolumes cuts a larger `MaxResults` to 500: the aws CLI asks for 1000).
pub(super) struct Paging {
    pub(super) ids: &'static str,
    pub(super) limits: Limits,
}

pub(super) const INSTANCE_PAGES: Paging =
    Paging { ids: "instancesSet", limits: Limits { min: 5, max: 1000, default: None, cuts_larger: false } };
pub(super) const VOLUME_PAGES: Paging =
    Paging { ids: "volumeIds", limits: Limits { min: 5, max: 500, default: None, cuts_larger: true } };
pub(super) const IMAGE_PAGES: Paging =
    Paging { ids: "imageIds", limits: Limits { min: 5, max: 1000, default: None, cuts_larger: false } };
/// DescribeVpcs and DescribeSubnets page with or without ids.
pub(super) const NETWORK_PAGES: Paging =
    Paging { ids: "", limits: Limits { min: 5, max: 1000, default: None, cuts_larger: false } };

/// `MaxResults` (not with ids) and `NextToken`.
pub(super) fn page(p: &QueryParams, by_id: bool, paging: &Paging) -> Result<Page, ApiError> {
    let request = p.page_request();
    if by_id && request.max_results.is_some() {
        return Err(ApiError::bad_request(
            "InvalidParameterCombination",
            format!("The parameter {} cannot be used with the parameter maxResults", paging.ids),
        ));
    }
    Ok(request.check(&paging.limits).map_err(crate::service::Error::Ec2Page)?)
}

/// Refuses the first parameter of `action` that `accepted` does not take: keyfleet says what
/// it does not implement.
pub(super) fn refuse_unimplemented(
    p: &QueryParams,
    action: &'static str,
    accepted: &[Accepted],
) -> Result<(), ApiError> {
    match p.first_unaccepted(accepted) {
        Some(parameter) => Err(unsupported(action, &parameter)),
        None => Ok(()),
    }
}

pub(super) fn unsupported(action: &'static str, parameter: &str) -> ApiError {
    crate::service::Error::UnsupportedParameter { action, parameter: parameter.to_owned() }.into()
}

#[cfg(test)]
mod tests {
    use super::ACTIONS;
    use crate::api::operation::find;

    #[test]
    fn action_table_names_iam_actions_once_each() {
        for endpoint in ACTIONS {
            assert_eq!(endpoint.action, format!("ec2:{}", endpoint.name));
            assert!(std::ptr::eq(find(ACTIONS, endpoint.name).unwrap(), endpoint), "{} twice", endpoint.name);
            let reads = ["Describe", "Get"].iter().any(|p| endpoint.name.starts_with(p));
            assert_eq!(endpoint.read_only, reads, "{}", endpoint.name);
        }
        assert!(find(ACTIONS, "createkeypair").is_none());
    }
}

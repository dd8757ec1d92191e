//! The EC2 service: every action it answers, one [`Operation`](super::operation::Operation)
//! each, in one table.

pub(crate) mod instances;
pub(crate) mod key_pairs;
mod regions;
pub(crate) mod tags;
pub(super) mod targets;

use super::operation::{Ec2Query, Endpoint};

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
    Endpoint::of::<instances::Transition<instances::Stop>>(),
    Endpoint::of::<instances::Transition<instances::Start>>(),
    Endpoint::of::<instances::RebootInstances>(),
    Endpoint::of::<instances::Transition<instances::Terminate>>(),
    Endpoint::of::<instances::DescribeImages>(),
    Endpoint::of::<instances::DescribeVolumes>(),
    Endpoint::of::<regions::DescribeRegions>(),
];

#[cfg(test)]
mod tests {
    use super::ACTIONS;
    use crate::api::operation::find;

    #[test]
    fn action_table_names_iam_actions_once_each() {
        for endpoint in ACTIONS {
            assert_eq!(endpoint.action, format!("ec2:{}", endpoint.name));
            assert!(std::ptr::eq(find(ACTIONS, endpoint.name).unwrap(), endpoint), "{} twice", endpoint.name);
            assert_eq!(endpoint.read_only, endpoint.name.starts_with("Describe"), "{}", endpoint.name);
        }
        assert!(find(ACTIONS, "createkeypair").is_none());
    }
}

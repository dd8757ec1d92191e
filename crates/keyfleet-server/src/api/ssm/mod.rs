//! The SSM service (`X-Amz-Target: AmazonSSM.<Op>`): every operation keyfleet answers, in
//! one table.

pub mod automation;
pub(crate) mod parameters;
mod tags;

use super::operation::{Endpoint, Json11};

/// Every SSM operation keyfleet implements.
pub static OPERATIONS: &[Endpoint<Json11>] = &[
    Endpoint::of::<parameters::PutParameter>(),
    Endpoint::of::<parameters::GetParameter>(),
    Endpoint::of::<parameters::GetParameters>(),
    Endpoint::of::<parameters::GetParametersByPath>(),
    Endpoint::of::<parameters::DescribeParameters>(),
    Endpoint::of::<parameters::DeleteParameter>(),
    Endpoint::of::<parameters::DeleteParameters>(),
    Endpoint::of::<parameters::GetParameterHistory>(),
    Endpoint::of::<parameters::LabelParameterVersion>(),
    Endpoint::of::<parameters::UnlabelParameterVersion>(),
    Endpoint::of::<tags::AddTagsToResource>(),
    Endpoint::of::<tags::ListTagsForResource>(),
    Endpoint::of::<tags::RemoveTagsFromResource>(),
    Endpoint::of::<automation::StartAutomationExecution>(),
    Endpoint::of::<automation::GetAutomationExecution>(),
    Endpoint::of::<automation::DescribeAutomationExecutions>(),
    Endpoint::of::<automation::StopAutomationExecution>(),
];

/// The target prefix of SSM operations.
pub const TARGET_PREFIX: &str = "AmazonSSM.";

#[cfg(test)]
mod tests {
    use super::OPERATIONS;
    use crate::api::operation::find;

    #[test]
    fn operation_table_names_iam_actions_once_each() {
        for endpoint in OPERATIONS {
            assert_eq!(endpoint.action, format!("ssm:{}", endpoint.name));
            assert!(std::ptr::eq(find(OPERATIONS, endpoint.name).unwrap(), endpoint), "{} twice", endpoint.name);
            let reads = ["Get", "Describe", "List"].iter().any(|p| endpoint.name.starts_with(p));
            assert_eq!(endpoint.read_only, reads, "{}", endpoint.name);
        }
    }
}

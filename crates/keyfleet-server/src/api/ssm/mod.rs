//! The SSM service (`X-Amz-Target: AmazonSSM.<Op>`): every operation keyfleet answers,
//! each beside its IAM action name.

pub mod automation;
mod parameters;

use serde_json::Value;

use super::Context;
use super::error::ApiError;
use super::protocol::json11::JsonInput;

/// Every SSM operation keyfleet implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    PutParameter,
    GetParameter,
    GetParameters,
    GetParametersByPath,
    DescribeParameters,
    DeleteParameter,
    DeleteParameters,
    GetParameterHistory,
    StartAutomationExecution,
    GetAutomationExecution,
    DescribeAutomationExecutions,
    StopAutomationExecution,
}

impl Operation {
    /// All operations, for lookup and for the table test.
    pub const ALL: [Operation; 12] = [
        Operation::PutParameter,
        Operation::GetParameter,
        Operation::GetParameters,
        Operation::GetParametersByPath,
        Operation::DescribeParameters,
        Operation::DeleteParameter,
        Operation::DeleteParameters,
        Operation::GetParameterHistory,
        Operation::StartAutomationExecution,
        Operation::GetAutomationExecution,
        Operation::DescribeAutomationExecutions,
        Operation::StopAutomationExecution,
    ];

    /// The wire name (after `AmazonSSM.`) and the IAM action.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Operation::PutParameter => ("PutParameter", "ssm:PutParameter"),
            Operation::GetParameter => ("GetParameter", "ssm:GetParameter"),
            Operation::GetParameters => ("GetParameters", "ssm:GetParameters"),
            Operation::GetParametersByPath => ("GetParametersByPath", "ssm:GetParametersByPath"),
            Operation::DescribeParameters => ("DescribeParameters", "ssm:DescribeParameters"),
            Operation::DeleteParameter => ("DeleteParameter", "ssm:DeleteParameter"),
            Operation::DeleteParameters => ("DeleteParameters", "ssm:DeleteParameters"),
            Operation::GetParameterHistory => ("GetParameterHistory", "ssm:GetParameterHistory"),
            Operation::StartAutomationExecution => ("StartAutomationExecution", "ssm:StartAutomationExecution"),
            Operation::GetAutomationExecution => ("GetAutomationExecution", "ssm:GetAutomationExecution"),
            Operation::DescribeAutomationExecutions => {
                ("DescribeAutomationExecutions", "ssm:DescribeAutomationExecutions")
            }
            Operation::StopAutomationExecution => ("StopAutomationExecution", "ssm:StopAutomationExecution"),
        }
    }

    /// Looks up a wire name.
    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.names().0 == name)
    }
}

/// The target prefix of SSM operations.
pub const TARGET_PREFIX: &str = "AmazonSSM.";

/// Runs one SSM request.
pub async fn dispatch(ctx: &Context<'_>, operation: &str, input: &JsonInput) -> Result<Value, ApiError> {
    let op = Operation::parse(operation).ok_or_else(|| ApiError::unknown_operation(operation))?;
    let ctx = &ctx.for_action(op.names().1);
    match op {
        Operation::PutParameter => parameters::put(ctx, input).await,
        Operation::GetParameter => parameters::get(ctx, input).await,
        Operation::GetParameters => parameters::get_many(ctx, input).await,
        Operation::GetParametersByPath => parameters::by_path(ctx, input).await,
        Operation::DescribeParameters => parameters::describe(ctx, input).await,
        Operation::DeleteParameter => parameters::delete(ctx, input).await,
        Operation::DeleteParameters => parameters::delete_many(ctx, input).await,
        Operation::GetParameterHistory => parameters::history(ctx, input).await,
        Operation::StartAutomationExecution => automation::start(ctx, input).await,
        Operation::GetAutomationExecution => automation::get(ctx, input).await,
        Operation::DescribeAutomationExecutions => automation::describe(ctx, input).await,
        Operation::StopAutomationExecution => automation::stop(ctx, input).await,
    }
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn operation_table_round_trips_and_names_iam_actions() {
        for op in Operation::ALL {
            let (wire, iam) = op.names();
            assert_eq!(Operation::parse(wire), Some(op));
            assert_eq!(iam, format!("ssm:{wire}"));
        }
    }
}

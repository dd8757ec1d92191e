//! The EC2 service: every action it answers, each beside its IAM action name, and the
//! dispatch from a decoded request to the resource module that handles it.

mod instances;
mod key_pairs;
mod tags;
mod targets;

use super::authorize::Target;
use super::error::ApiError;
use super::protocol::ec2_query::QueryParams;
use super::{Context, Reply};

/// Every EC2 action keyfleet implements. Anything else is `InvalidAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateKeyPair,
    ImportKeyPair,
    DescribeKeyPairs,
    DeleteKeyPair,
    CreateTags,
    DeleteTags,
    DescribeTags,
    RunInstances,
    DescribeInstances,
    StopInstances,
    StartInstances,
    RebootInstances,
    TerminateInstances,
    DescribeImages,
    DescribeVolumes,
}

impl Action {
    /// All actions, for lookup and for the table test.
    pub const ALL: [Action; 15] = [
        Action::CreateKeyPair,
        Action::ImportKeyPair,
        Action::DescribeKeyPairs,
        Action::DeleteKeyPair,
        Action::CreateTags,
        Action::DeleteTags,
        Action::DescribeTags,
        Action::RunInstances,
        Action::DescribeInstances,
        Action::StopInstances,
        Action::StartInstances,
        Action::RebootInstances,
        Action::TerminateInstances,
        Action::DescribeImages,
        Action::DescribeVolumes,
    ];

    /// The wire name (`Action=` value) and the IAM action it is authorized as.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Action::CreateKeyPair => ("CreateKeyPair", "ec2:CreateKeyPair"),
            Action::ImportKeyPair => ("ImportKeyPair", "ec2:ImportKeyPair"),
            Action::DescribeKeyPairs => ("DescribeKeyPairs", "ec2:DescribeKeyPairs"),
            Action::DeleteKeyPair => ("DeleteKeyPair", "ec2:DeleteKeyPair"),
            Action::CreateTags => ("CreateTags", "ec2:CreateTags"),
            Action::DeleteTags => ("DeleteTags", "ec2:DeleteTags"),
            Action::DescribeTags => ("DescribeTags", "ec2:DescribeTags"),
            Action::RunInstances => ("RunInstances", "ec2:RunInstances"),
            Action::DescribeInstances => ("DescribeInstances", "ec2:DescribeInstances"),
            Action::StopInstances => ("StopInstances", "ec2:StopInstances"),
            Action::StartInstances => ("StartInstances", "ec2:StartInstances"),
            Action::RebootInstances => ("RebootInstances", "ec2:RebootInstances"),
            Action::TerminateInstances => ("TerminateInstances", "ec2:TerminateInstances"),
            Action::DescribeImages => ("DescribeImages", "ec2:DescribeImages"),
            Action::DescribeVolumes => ("DescribeVolumes", "ec2:DescribeVolumes"),
        }
    }

    /// Looks up a wire name (case-sensitive).
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.names().0 == name)
    }
}

/// Runs one EC2 request.
pub async fn dispatch(ctx: &Context<'_>, params: &QueryParams) -> Result<Reply, ApiError> {
    let name = params.required("Action")?;
    let action = Action::parse(name).ok_or_else(|| ApiError::invalid_action(name))?;
    let ctx = &ctx.for_action(action.names().1);
    match action {
        Action::CreateKeyPair => key_pairs::create(ctx, params).await,
        Action::ImportKeyPair => key_pairs::import(ctx, params).await,
        Action::DescribeKeyPairs => key_pairs::describe(ctx, params).await,
        Action::DeleteKeyPair => key_pairs::delete(ctx, params).await,
        Action::CreateTags => tags::create(ctx, params).await,
        Action::DeleteTags => tags::delete(ctx, params).await,
        Action::DescribeTags => tags::describe(ctx, params).await,
        Action::RunInstances => instances::run(ctx, params).await,
        Action::DescribeInstances => instances::describe(ctx, params).await,
        Action::StopInstances => instances::stop(ctx, params).await,
        Action::StartInstances => instances::start(ctx, params).await,
        Action::RebootInstances => instances::reboot(ctx, params).await,
        Action::TerminateInstances => instances::terminate(ctx, params).await,
        Action::DescribeImages => instances::describe_images(ctx, params).await,
        Action::DescribeVolumes => instances::describe_volumes(ctx, params).await,
    }
}

/// Checks the action on `targets` once the request has decoded and validated; then answers
/// `DryRun=true` with 412 `DryRunOperation` (allowed) where a denial has already answered
/// `UnauthorizedOperation`, as EC2 does.
fn authorized(ctx: &Context<'_>, params: &QueryParams, targets: &[Target]) -> Result<(), ApiError> {
    ctx.authorize(targets)?;
    if params.dry_run()? { Err(ApiError::dry_run()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn action_table_round_trips_and_names_iam_actions() {
        for action in Action::ALL {
            let (wire, iam) = action.names();
            assert_eq!(Action::parse(wire), Some(action));
            assert_eq!(iam, format!("ec2:{wire}"));
        }
        assert_eq!(Action::parse("createkeypair"), None);
    }
}

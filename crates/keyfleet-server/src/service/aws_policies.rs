//! The AWS managed policies keyfleet has built in: the few that key pair work uses. AWS owns
//! them (`arn:aws:iam::aws:policy/…`), every account can attach them, and none can change
//! them. The documents are keyfleet's own, granting the same actions as AWS's current
//! versions for the services keyfleet has (docs/aws-facts.md, "AWS managed policies").

/// One built-in AWS managed policy.
#[derive(Debug)]
pub struct AwsPolicy {
    /// `AdministratorAccess`.
    pub name: &'static str,
    /// `/` or `/service-role/`.
    pub path: &'static str,
    /// `ANPA…`, AWS's id for it.
    pub id: &'static str,
    /// Its description.
    pub description: &'static str,
    /// The default version's id (`v1`).
    pub version: &'static str,
    /// When AWS created it, milliseconds since the epoch.
    pub created_ms: i64,
    /// Its document.
    pub document: &'static str,
}

impl AwsPolicy {
    /// `arn:aws:iam::aws:policy{path}{name}`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

/// Every built-in AWS managed policy, by name.
pub static AWS_POLICIES: [AwsPolicy; 4] = [
    AwsPolicy {
        name: "AdministratorAccess",
        path: "/",
        id: "ANPAIWMBCKSKIEE64ZLYK",
        description: "Provides full access to AWS services and resources.",
        version: "v1",
        created_ms: 1_423_247_986_000, // 2015-02-06T18:39:46Z
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    AwsPolicy {
        name: "AmazonEC2ReadOnlyAccess",
        path: "/",
        id: "ANPAIGDT4SV4GSETWTBZK",
        description: "Provides read only access to Amazon EC2 via the AWS Management Console.",
        version: "v5",
        created_ms: 1_423_248_017_000, // 2015-02-06T18:40:17Z
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*","Action":["ec2:Describe*","ec2:GetSecurityGroupsForVpc","elasticloadbalancing:Describe*","cloudwatch:ListMetrics","cloudwatch:GetMetricStatistics","cloudwatch:Describe*","autoscaling:Describe*"]}]}"#,
    },
    AwsPolicy {
        name: "AmazonSSMAutomationRole",
        path: "/service-role/",
        id: "ANPAJIBQCTBCXD2XRNB6W",
        description: "Provides permissions for EC2 Automation service to execute activities defined within Automation documents",
        version: "v9",
        created_ms: 1_480_975_795_000, // 2016-12-05T22:09:55Z
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:*:function:Automation*"},{"Effect":"Allow","Resource":"*","Action":["ec2:CreateImage","ec2:CopyImage","ec2:DeregisterImage","ec2:DescribeImages","ec2:DeleteSnapshot","ec2:StartInstances","ec2:RunInstances","ec2:StopInstances","ec2:TerminateInstances","ec2:DescribeInstanceStatus","ec2:CreateTags","ec2:DeleteTags","ec2:DescribeTags","cloudformation:CreateStack","cloudformation:DescribeStackEvents","cloudformation:DescribeStacks","cloudformation:UpdateStack","cloudformation:DeleteStack","cloudformation:TagResource","cloudformation:UntagResource"]},{"Effect":"Allow","Action":"ssm:*","Resource":"*"},{"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:*:*:Automation*"},{"Effect":"Allow","Action":"ssmmessages:OpenDataChannel","Resource":"arn:*:ssm:*:*:session/*"}]}"#,
    },
    AwsPolicy {
        name: "AmazonSSMReadOnlyAccess",
        path: "/",
        id: "ANPAJODSKQGGJTHRYZ5FC",
        description: "Provides read only access to Amazon SSM.",
        version: "v1",
        created_ms: 1_432_921_459_000, // 2015-05-29T17:44:19Z
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:Describe*","ssm:Get*","ssm:List*"],"Resource":"*"}]}"#,
    },
];

/// The built-in policy with this ARN.
pub fn by_arn(arn: &str) -> Option<&'static AwsPolicy> {
    AWS_POLICIES.iter().find(|p| p.arn() == arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::policy::Policy;

    #[test]
    fn every_built_in_document_parses_and_is_found_by_its_arn() {
        for policy in &AWS_POLICIES {
            Policy::parse(policy.document).unwrap_or_else(|e| panic!("{}: {e}", policy.name));
            assert_eq!(by_arn(&policy.arn()).map(|p| p.name), Some(policy.name));
        }
        assert!(by_arn("arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole").is_some());
    }
}

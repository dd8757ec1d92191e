//! The templates keyfleet ships for the `TemplateURL`s that tutorials use: keyfleet has no S3,
//! so a URL is one of these or an error (docs/aws-choices.md, "CloudFormation TemplateURL").

/// The EC2Rescue role stack that the Systems Manager guide's EC2Rescue and ResetAccess
/// pages launch: a role that Automation may assume, with what `AWSSupport-ResetAccess` needs,
/// and its ARN as the `AssumeRole` output. keyfleet's own document; the role's rights are
/// AWS's managed `AmazonSSMAutomationRole` plus the EC2 and Parameter Store calls the
/// runbook's steps make.
const EC2_RESCUE_ROLE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  IAM role that AWS Systems Manager Automation assumes to run AWSSupport-ExecuteEC2Rescue and
  AWSSupport-ResetAccess (keyfleet's built-in copy of AWSSupport-EC2RescueRole.template).
Resources:
  AssumeRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: ssm.amazonaws.com
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole
      Policies:
        - PolicyName: EC2RescueAutomation
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action:
                  - ec2:DescribeInstances
                  - ec2:StopInstances
                  - ec2:StartInstances
                  - ec2:DetachVolume
                  - ec2:AttachVolume
                Resource: "*"
              - Effect: Allow
                Action:
                  - ssm:PutParameter
                  - ssm:GetParameter
                Resource: !Sub "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter/ec2rl/*"
Outputs:
  AssumeRole:
    Description: The ARN of the role to give as AutomationAssumeRole.
    Value: !GetAtt AssumeRole.Arn
"#;

/// The URLs of the EC2Rescue role template: the one the guides link (us-east-2) and its
/// twins in other regions' buckets.
fn is_ec2_rescue_role(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let Some((host, path)) = rest.split_once('/') else { return false };
    let path_style = host == "s3.amazonaws.com" || (host.starts_with("s3.") && host.ends_with(".amazonaws.com"));
    let object = if path_style {
        path.split_once('/').filter(|(bucket, _)| bucket.starts_with("awssupport-ssm.")).map(|(_, key)| key)
    } else {
        host.starts_with("awssupport-ssm.").then_some(path)
    };
    object == Some("cfn/EC2Rescue/AWSSupport-EC2RescueRole.template")
}

/// The body of the built-in template at `url`.
pub fn template_at(url: &str) -> Option<&'static str> {
    is_ec2_rescue_role(url).then_some(EC2_RESCUE_ROLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_url_and_its_region_twins_name_the_rescue_template() {
        for url in [
            "https://s3.amazonaws.com/awssupport-ssm.us-east-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template",
            "https://s3.us-west-2.amazonaws.com/awssupport-ssm.us-west-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template",
            "https://awssupport-ssm.eu-west-1.s3.amazonaws.com/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template",
        ] {
            assert!(template_at(url).is_some(), "{url}");
        }
        for url in [
            "http://s3.amazonaws.com/awssupport-ssm.us-east-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template",
            "https://s3.amazonaws.com/my-bucket/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template",
            "https://evil.example/awssupport-ssm.us-east-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template",
        ] {
            assert!(template_at(url).is_none(), "{url}");
        }
    }

    #[test]
    fn the_rescue_template_declares_the_assume_role_output() {
        let template = super::super::template::Template::parse(EC2_RESCUE_ROLE).unwrap();
        assert_eq!(template.outputs.first().map(|o| o.name.as_str()), Some("AssumeRole"));
        assert_eq!(template.resources.first().map(|r| r.kind.as_str()), Some("AWS::IAM::Role"));
    }
}

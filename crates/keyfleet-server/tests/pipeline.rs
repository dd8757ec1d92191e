//! The operation pipeline in-process: a request in, the bytes out, no child process and no
//! socket. Every case has its own golden file (`tests/golden/<case>.txt`: status, content
//! type, body) and every mismatch is reported, not only the first.
//! `UPDATE_GOLDEN=1 cargo test -p keyfleet-server --test pipeline` rewrites the files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests fail loudly by design

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use keyfleet_server::{ServerConfig, start};
use tower_service::Service;

/// An Ed25519 key from `ssh-keygen`, base64 as the SDKs send `PublicKeyMaterial`.
const PUBLIC_KEY_B64: &str =
    "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUxSK3pOUWJZWTVPUnVoWVhHTVRTbmpSTHpTOUM1ZFVkV1JLZGxxaTIwcTI%3D";

/// How a case's request is spoken.
enum Wire {
    /// EC2's Query protocol (`Version=2016-11-15`).
    Ec2(&'static str),
    /// IAM's (`Version=2010-05-08`).
    Iam(&'static str),
    /// STS's (`Version=2011-06-15`).
    Sts(&'static str),
    /// CloudFormation's (`Version=2010-05-15`).
    Cfn(&'static str),
    /// EC2 Auto Scaling's (`Version=2011-01-01`).
    Asg(&'static str),
    /// JSON 1.1: the `X-Amz-Target` and the body.
    Json(&'static str, &'static str),
}

/// Every case, in order: later ones see what earlier ones made.
const CASES: &[(&str, Wire)] = &[
    ("ec2_import_key_pair", Wire::Ec2("Action=ImportKeyPair&KeyName=imported&PublicKeyMaterial=KEY")),
    ("ec2_import_key_pair_duplicate", Wire::Ec2("Action=ImportKeyPair&KeyName=imported&PublicKeyMaterial=KEY")),
    ("ec2_create_key_pair_bad_type", Wire::Ec2("Action=CreateKeyPair&KeyName=k&KeyType=dsa")),
    ("ec2_create_tags", Wire::Ec2("Action=CreateTags&ResourceId.1=KEY_ID&Tag.1.Key=env&Tag.1.Value=dev")),
    (
        "ec2_create_tags_unknown_key_pair",
        Wire::Ec2("Action=CreateTags&ResourceId.1=key-0123456789abcdef0&Tag.1.Key=a&Tag.1.Value=b"),
    ),
    ("ec2_describe_tags", Wire::Ec2("Action=DescribeTags")),
    ("ec2_describe_tags_bad_token", Wire::Ec2("Action=DescribeTags&MaxResults=5&NextToken=forged")),
    ("ec2_describe_key_pairs", Wire::Ec2("Action=DescribeKeyPairs&IncludePublicKey=true")),
    ("ec2_describe_key_pairs_missing", Wire::Ec2("Action=DescribeKeyPairs&KeyName.1=nope")),
    (
        "ec2_describe_key_pairs_bad_filter",
        Wire::Ec2("Action=DescribeKeyPairs&Filter.1.Name=colour&Filter.1.Value.1=red"),
    ),
    ("ec2_describe_key_pairs_dry_run", Wire::Ec2("Action=DescribeKeyPairs&DryRun=true")),
    ("ec2_delete_tags", Wire::Ec2("Action=DeleteTags&ResourceId.1=KEY_ID&Tag.1.Key=env")),
    ("ec2_delete_key_pair", Wire::Ec2("Action=DeleteKeyPair&KeyName=imported")),
    ("ec2_delete_key_pair_bad_id", Wire::Ec2("Action=DeleteKeyPair&KeyPairId=abc")),
    ("ec2_describe_regions", Wire::Ec2("Action=DescribeRegions&RegionName.1=eu-west-1")),
    ("ec2_describe_regions_bad_filter", Wire::Ec2("Action=DescribeRegions&Filter.1.Name=zone&Filter.1.Value.1=a")),
    ("ec2_describe_availability_zones", Wire::Ec2("Action=DescribeAvailabilityZones&ZoneName.1=us-east-1b")),
    ("ec2_describe_availability_zones_unknown", Wire::Ec2("Action=DescribeAvailabilityZones&ZoneName.1=us-east-1z")),
    (
        "ec2_describe_account_attributes",
        Wire::Ec2("Action=DescribeAccountAttributes&AttributeName.1=supported-platforms"),
    ),
    ("ec2_describe_account_attributes_unknown", Wire::Ec2("Action=DescribeAccountAttributes&AttributeName.1=colour")),
    ("ec2_describe_vpcs", Wire::Ec2("Action=DescribeVpcs&Filter.1.Name=is-default&Filter.1.Value.1=true")),
    ("ec2_describe_vpcs_missing", Wire::Ec2("Action=DescribeVpcs&VpcId.1=vpc-0123456789abcdef0")),
    (
        "ec2_describe_subnets",
        Wire::Ec2("Action=DescribeSubnets&Filter.1.Name=availability-zone&Filter.1.Value.1=us-east-1a"),
    ),
    ("ec2_describe_subnets_missing", Wire::Ec2("Action=DescribeSubnets&SubnetId.1=subnet-0123456789abcdef0")),
    ("ec2_describe_instance_status", Wire::Ec2("Action=DescribeInstanceStatus&IncludeAllInstances=true")),
    (
        "ec2_describe_instance_status_ids_and_page",
        Wire::Ec2("Action=DescribeInstanceStatus&InstanceId.1=i-0123456789abcdef0&MaxResults=5"),
    ),
    (
        "ec2_create_launch_template",
        Wire::Ec2(
            "Action=CreateLaunchTemplate&LaunchTemplateName=web&VersionDescription=first&LaunchTemplateData.ImageId=ami-keyfleet-linux&LaunchTemplateData.KeyName=imported&LaunchTemplateData.SecurityGroupId.1=sg-1&LaunchTemplateData.MetadataOptions.HttpTokens=required&LaunchTemplateData.TagSpecification.1.ResourceType=instance&LaunchTemplateData.TagSpecification.1.Tag.1.Key=role&LaunchTemplateData.TagSpecification.1.Tag.1.Value=web&TagSpecification.1.ResourceType=launch-template&TagSpecification.1.Tag.1.Key=team&TagSpecification.1.Tag.1.Value=ops",
        ),
    ),
    (
        "ec2_create_launch_template_duplicate",
        Wire::Ec2("Action=CreateLaunchTemplate&LaunchTemplateName=web&LaunchTemplateData.ImageId=ami-keyfleet-linux"),
    ),
    ("ec2_create_launch_template_no_data", Wire::Ec2("Action=CreateLaunchTemplate&LaunchTemplateName=empty")),
    (
        "ec2_create_launch_template_version",
        Wire::Ec2(
            "Action=CreateLaunchTemplateVersion&LaunchTemplateName=web&SourceVersion=1&LaunchTemplateData.InstanceType=t3.small",
        ),
    ),
    ("ec2_describe_launch_templates", Wire::Ec2("Action=DescribeLaunchTemplates&LaunchTemplateName.1=web")),
    (
        "ec2_describe_launch_template_versions",
        Wire::Ec2("Action=DescribeLaunchTemplateVersions&LaunchTemplateName=web&LaunchTemplateVersion.1=$Latest"),
    ),
    (
        "ec2_describe_launch_template_versions_missing",
        Wire::Ec2("Action=DescribeLaunchTemplateVersions&LaunchTemplateName=web&LaunchTemplateVersion.1=9"),
    ),
    ("ec2_modify_launch_template", Wire::Ec2("Action=ModifyLaunchTemplate&LaunchTemplateName=web&SetDefaultVersion=2")),
    (
        "ec2_delete_launch_template_versions",
        Wire::Ec2(
            "Action=DeleteLaunchTemplateVersions&LaunchTemplateName=web&LaunchTemplateVersion.1=1&LaunchTemplateVersion.2=2",
        ),
    ),
    ("ec2_delete_launch_template", Wire::Ec2("Action=DeleteLaunchTemplate&LaunchTemplateName=web")),
    ("ec2_delete_launch_template_missing", Wire::Ec2("Action=DeleteLaunchTemplate&LaunchTemplateName=web")),
    (
        "ec2_create_launch_template_for_groups",
        Wire::Ec2("Action=CreateLaunchTemplate&LaunchTemplateName=asg&LaunchTemplateData.ImageId=ami-keyfleet-linux"),
    ),
    (
        "asg_create_auto_scaling_group",
        Wire::Asg(
            "Action=CreateAutoScalingGroup&AutoScalingGroupName=web&LaunchTemplate.LaunchTemplateName=asg&MinSize=0&MaxSize=2&DesiredCapacity=0&AvailabilityZones.member.1=us-east-1a&Tags.member.1.Key=team&Tags.member.1.Value=ops&Tags.member.1.PropagateAtLaunch=true",
        ),
    ),
    (
        "asg_create_auto_scaling_group_duplicate",
        Wire::Asg(
            "Action=CreateAutoScalingGroup&AutoScalingGroupName=web&LaunchTemplate.LaunchTemplateName=asg&MinSize=0&MaxSize=2&AvailabilityZones.member.1=us-east-1a",
        ),
    ),
    (
        "asg_create_auto_scaling_group_bounds",
        Wire::Asg(
            "Action=CreateAutoScalingGroup&AutoScalingGroupName=other&LaunchTemplate.LaunchTemplateName=asg&MinSize=3&MaxSize=1&AvailabilityZones.member.1=us-east-1a",
        ),
    ),
    (
        "asg_create_auto_scaling_group_unsupported",
        Wire::Asg(
            "Action=CreateAutoScalingGroup&AutoScalingGroupName=other&LaunchConfigurationName=old&MinSize=0&MaxSize=1",
        ),
    ),
    ("asg_update_auto_scaling_group", Wire::Asg("Action=UpdateAutoScalingGroup&AutoScalingGroupName=web&MaxSize=3")),
    (
        "asg_set_desired_capacity_above_max",
        Wire::Asg("Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=9"),
    ),
    ("asg_set_desired_capacity", Wire::Asg("Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=0")),
    (
        "asg_describe_auto_scaling_groups",
        Wire::Asg(
            "Action=DescribeAutoScalingGroups&AutoScalingGroupNames.member.1=web&AutoScalingGroupNames.member.2=nope",
        ),
    ),
    ("asg_describe_auto_scaling_instances", Wire::Asg("Action=DescribeAutoScalingInstances")),
    (
        "asg_terminate_instance_missing",
        Wire::Asg(
            "Action=TerminateInstanceInAutoScalingGroup&InstanceId=i-0123456789abcdef0&ShouldDecrementDesiredCapacity=false",
        ),
    ),
    (
        "asg_set_instance_health_missing",
        Wire::Asg("Action=SetInstanceHealth&InstanceId=i-0123456789abcdef0&HealthStatus=Unhealthy"),
    ),
    (
        "asg_detach_instances_missing",
        Wire::Asg(
            "Action=DetachInstances&AutoScalingGroupName=web&InstanceIds.member.1=i-0123456789abcdef0&ShouldDecrementDesiredCapacity=true",
        ),
    ),
    (
        "asg_attach_instances_missing",
        Wire::Asg("Action=AttachInstances&AutoScalingGroupName=web&InstanceIds.member.1=i-0123456789abcdef0"),
    ),
    ("asg_describe_scaling_activities", Wire::Asg("Action=DescribeScalingActivities&AutoScalingGroupName=web")),
    ("asg_start_instance_refresh_missing", Wire::Asg("Action=StartInstanceRefresh&AutoScalingGroupName=nope")),
    ("asg_describe_instance_refreshes", Wire::Asg("Action=DescribeInstanceRefreshes&AutoScalingGroupName=web")),
    ("asg_cancel_instance_refresh_none", Wire::Asg("Action=CancelInstanceRefresh&AutoScalingGroupName=web")),
    ("asg_delete_auto_scaling_group", Wire::Asg("Action=DeleteAutoScalingGroup&AutoScalingGroupName=web")),
    ("asg_delete_auto_scaling_group_missing", Wire::Asg("Action=DeleteAutoScalingGroup&AutoScalingGroupName=web")),
    ("ec2_create_security_group", Wire::Ec2("Action=CreateSecurityGroup&GroupName=web&GroupDescription=web%20servers")),
    (
        "ec2_create_security_group_duplicate",
        Wire::Ec2("Action=CreateSecurityGroup&GroupName=web&GroupDescription=again"),
    ),
    (
        "ec2_create_security_group_reserved",
        Wire::Ec2("Action=CreateSecurityGroup&GroupName=default&GroupDescription=mine"),
    ),
    (
        "ec2_authorize_security_group_ingress",
        Wire::Ec2(
            "Action=AuthorizeSecurityGroupIngress&GroupName=web&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0",
        ),
    ),
    (
        "ec2_authorize_security_group_ingress_duplicate",
        Wire::Ec2(
            "Action=AuthorizeSecurityGroupIngress&GroupName=web&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0",
        ),
    ),
    (
        "ec2_authorize_security_group_egress_bad_cidr",
        Wire::Ec2(
            "Action=AuthorizeSecurityGroupEgress&GroupName=web&IpPermissions.1.IpProtocol=-1&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0",
        ),
    ),
    ("ec2_describe_security_groups", Wire::Ec2("Action=DescribeSecurityGroups&GroupName.1=web")),
    ("ec2_describe_security_groups_missing", Wire::Ec2("Action=DescribeSecurityGroups&GroupName.1=nope")),
    (
        "ec2_describe_security_group_rules_missing",
        Wire::Ec2("Action=DescribeSecurityGroupRules&SecurityGroupRuleId.1=sgr-0123456789abcdef0"),
    ),
    (
        "ec2_revoke_security_group_ingress_unknown",
        Wire::Ec2(
            "Action=RevokeSecurityGroupIngress&GroupName=web&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0",
        ),
    ),
    (
        "ec2_revoke_security_group_egress",
        Wire::Ec2(
            "Action=RevokeSecurityGroupEgress&GroupName=web&IpPermissions.1.IpProtocol=-1&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0",
        ),
    ),
    ("ec2_delete_security_group_default", Wire::Ec2("Action=DeleteSecurityGroup&GroupName=default")),
    ("ec2_delete_security_group", Wire::Ec2("Action=DeleteSecurityGroup&GroupName=web")),
    ("ec2_get_console_output_missing", Wire::Ec2("Action=GetConsoleOutput&InstanceId=i-0123456789abcdef0")),
    ("ec2_describe_instance_types", Wire::Ec2("Action=DescribeInstanceTypes&InstanceType.1=t3.micro")),
    (
        "ec2_describe_instance_types_unknown",
        Wire::Ec2("Action=DescribeInstanceTypes&InstanceType.1=t3.micro&InstanceType.2=t3.bogus"),
    ),
    (
        "ec2_run_instances_unknown_type",
        Wire::Ec2("Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&InstanceType=t3.bogus"),
    ),
    (
        "ec2_run_instances_arm_type",
        Wire::Ec2("Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&InstanceType=t4g.micro"),
    ),
    (
        "ec2_describe_instance_attribute_unknown",
        Wire::Ec2("Action=DescribeInstanceAttribute&InstanceId=i-0123456789abcdef0&Attribute=colour"),
    ),
    (
        "ec2_describe_instance_attribute_missing",
        Wire::Ec2("Action=DescribeInstanceAttribute&InstanceId=i-0123456789abcdef0&Attribute=userData"),
    ),
    ("ec2_modify_instance_attribute_none", Wire::Ec2("Action=ModifyInstanceAttribute&InstanceId=i-0123456789abcdef0")),
    (
        "ec2_modify_instance_attribute_two",
        Wire::Ec2(
            "Action=ModifyInstanceAttribute&InstanceId=i-0123456789abcdef0&InstanceType.Value=t3.small\
             &DisableApiTermination.Value=true",
        ),
    ),
    (
        "ec2_modify_instance_attribute_missing",
        Wire::Ec2("Action=ModifyInstanceAttribute&InstanceId=i-0123456789abcdef0&DisableApiTermination.Value=true"),
    ),
    (
        "ec2_modify_instance_attribute_fixed",
        Wire::Ec2("Action=ModifyInstanceAttribute&InstanceId=i-0123456789abcdef0&SourceDestCheck.Value=false"),
    ),
    ("ec2_describe_images", Wire::Ec2("Action=DescribeImages")),
    ("ec2_describe_images_missing", Wire::Ec2("Action=DescribeImages&ImageId.1=ami-0000000000000000")),
    ("ec2_describe_instances", Wire::Ec2("Action=DescribeInstances")),
    ("ec2_describe_instances_bad_page", Wire::Ec2("Action=DescribeInstances&MaxResults=2")),
    ("ec2_stop_instances_missing", Wire::Ec2("Action=StopInstances&InstanceId.1=i-0123456789abcdef0")),
    ("ec2_start_instances_missing", Wire::Ec2("Action=StartInstances&InstanceId.1=i-0123456789abcdef0")),
    ("ec2_reboot_instances_missing", Wire::Ec2("Action=RebootInstances&InstanceId.1=i-0123456789abcdef0")),
    ("ec2_terminate_instances_no_id", Wire::Ec2("Action=TerminateInstances")),
    ("ec2_run_instances_bad_image", Wire::Ec2("Action=RunInstances&ImageId=ami-nope&MinCount=1&MaxCount=1")),
    (
        "ec2_run_instances_volume_below_snapshot",
        Wire::Ec2(
            "Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&BlockDeviceMapping.1.DeviceName=/dev/xvda&BlockDeviceMapping.1.Ebs.VolumeSize=4",
        ),
    ),
    (
        "ec2_run_instances_second_volume",
        Wire::Ec2(
            "Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&BlockDeviceMapping.1.DeviceName=/dev/sdf&BlockDeviceMapping.1.Ebs.VolumeSize=40",
        ),
    ),
    (
        "ec2_run_instances_unimplemented_parameter",
        Wire::Ec2(
            "Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&Placement.HostId=h-0123456789abcdef0",
        ),
    ),
    (
        "ec2_run_instances_unknown_subnet",
        Wire::Ec2("Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&SubnetId=subnet-12345678"),
    ),
    (
        "ec2_run_instances_unknown_zone",
        Wire::Ec2(
            "Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&Placement.AvailabilityZone=us-east-1z",
        ),
    ),
    ("ec2_describe_volumes", Wire::Ec2("Action=DescribeVolumes")),
    (
        "ec2_run_instances_setting_keyfleet_cannot_keep",
        Wire::Ec2(
            "Action=RunInstances&ImageId=ami-keyfleet-linux&MinCount=1&MaxCount=1&MetadataOptions.HttpEndpoint=disabled",
        ),
    ),
    ("ec2_describe_volumes_filter", Wire::Ec2("Action=DescribeVolumes&Filter.1.Name=size&Filter.1.Value.1=8")),
    (
        "ec2_describe_volumes_by_instance",
        Wire::Ec2("Action=DescribeVolumes&Filter.1.Name=attachment.instance-id&Filter.1.Value.1=i-0123456789abcdef0"),
    ),
    ("ec2_describe_volumes_missing", Wire::Ec2("Action=DescribeVolumes&VolumeId.1=vol-0123456789abcdef0")),
    ("ec2_delete_volume_missing", Wire::Ec2("Action=DeleteVolume&VolumeId=vol-0123456789abcdef0")),
    ("ec2_delete_volume_without_id", Wire::Ec2("Action=DeleteVolume")),
    ("ec2_unknown_action", Wire::Ec2("Action=DescribeUniverse")),
    ("iam_create_user", Wire::Iam("Action=CreateUser&UserName=alice")),
    ("iam_create_user_duplicate", Wire::Iam("Action=CreateUser&UserName=alice")),
    ("iam_get_user_missing", Wire::Iam("Action=GetUser&UserName=bob")),
    ("iam_list_users", Wire::Iam("Action=ListUsers")),
    (
        "iam_put_user_policy",
        Wire::Iam(
            "Action=PutUserPolicy&UserName=alice&PolicyName=p&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3ADescribe*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
        ),
    ),
    (
        "iam_put_user_policy_malformed",
        Wire::Iam("Action=PutUserPolicy&UserName=alice&PolicyName=q&PolicyDocument=nope"),
    ),
    ("iam_get_user_policy", Wire::Iam("Action=GetUserPolicy&UserName=alice&PolicyName=p")),
    ("iam_list_user_policies", Wire::Iam("Action=ListUserPolicies&UserName=alice")),
    ("iam_delete_user_policy", Wire::Iam("Action=DeleteUserPolicy&UserName=alice&PolicyName=p")),
    ("iam_list_access_keys", Wire::Iam("Action=ListAccessKeys&UserName=alice")),
    ("iam_create_access_key_no_user", Wire::Iam("Action=CreateAccessKey&UserName=nobody")),
    (
        "iam_delete_access_key_missing",
        Wire::Iam("Action=DeleteAccessKey&UserName=alice&AccessKeyId=AKIAEXAMPLEEXAMPLE12"),
    ),
    ("sts_get_caller_identity", Wire::Sts("Action=GetCallerIdentity")),
    ("sts_unknown_action", Wire::Sts("Action=GetFederationToken&Name=xy")),
    ("sts_get_session_token", Wire::Sts("Action=GetSessionToken&DurationSeconds=900")),
    ("sts_get_session_token_too_short", Wire::Sts("Action=GetSessionToken&DurationSeconds=60")),
    (
        "sts_assume_role_as_root",
        Wire::Sts("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Frescue&RoleSessionName=s1"),
    ),
    ("sts_assume_role_bad_arn", Wire::Sts("Action=AssumeRole&RoleArn=nope-nope-nope-nope-nope&RoleSessionName=s1")),
    (
        "iam_create_role",
        Wire::Iam(
            "Action=CreateRole&RoleName=rescue&Path=%2Fops%2F&AssumeRolePolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ssm.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
        ),
    ),
    (
        "iam_create_role_with_resource",
        Wire::Iam(
            "Action=CreateRole&RoleName=bad&AssumeRolePolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%22%2A%22%2C%22Action%22%3A%22sts%3AAssumeRole%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D",
        ),
    ),
    (
        "iam_create_role_unsupported",
        Wire::Iam(
            "Action=CreateRole&RoleName=x&AssumeRolePolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ssm.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D&PermissionsBoundary=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess",
        ),
    ),
    ("iam_get_role", Wire::Iam("Action=GetRole&RoleName=rescue")),
    ("iam_get_role_missing", Wire::Iam("Action=GetRole&RoleName=nobody")),
    ("iam_create_instance_profile", Wire::Iam("Action=CreateInstanceProfile&InstanceProfileName=web&Path=%2Fops%2F")),
    ("iam_create_instance_profile_duplicate", Wire::Iam("Action=CreateInstanceProfile&InstanceProfileName=WEB")),
    (
        "iam_add_role_to_instance_profile",
        Wire::Iam("Action=AddRoleToInstanceProfile&InstanceProfileName=web&RoleName=rescue"),
    ),
    (
        "iam_add_role_to_instance_profile_full",
        Wire::Iam("Action=AddRoleToInstanceProfile&InstanceProfileName=web&RoleName=rescue"),
    ),
    ("iam_get_instance_profile", Wire::Iam("Action=GetInstanceProfile&InstanceProfileName=web")),
    ("iam_list_instance_profiles", Wire::Iam("Action=ListInstanceProfiles&PathPrefix=%2Fops%2F")),
    ("iam_list_instance_profiles_for_role", Wire::Iam("Action=ListInstanceProfilesForRole&RoleName=rescue")),
    ("iam_delete_role_in_instance_profile", Wire::Iam("Action=DeleteRole&RoleName=rescue")),
    ("iam_delete_instance_profile_with_role", Wire::Iam("Action=DeleteInstanceProfile&InstanceProfileName=web")),
    (
        "iam_remove_role_from_instance_profile",
        Wire::Iam("Action=RemoveRoleFromInstanceProfile&InstanceProfileName=web&RoleName=rescue"),
    ),
    ("iam_delete_instance_profile", Wire::Iam("Action=DeleteInstanceProfile&InstanceProfileName=web")),
    ("iam_get_instance_profile_missing", Wire::Iam("Action=GetInstanceProfile&InstanceProfileName=web")),
    ("iam_list_roles", Wire::Iam("Action=ListRoles&MaxItems=1")),
    (
        "iam_update_assume_role_policy",
        Wire::Iam(
            "Action=UpdateAssumeRolePolicy&RoleName=rescue&PolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ssm.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
        ),
    ),
    (
        "iam_put_role_policy",
        Wire::Iam(
            "Action=PutRolePolicy&RoleName=rescue&PolicyName=describe&PolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3ADescribe%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D",
        ),
    ),
    ("iam_get_role_policy", Wire::Iam("Action=GetRolePolicy&RoleName=rescue&PolicyName=describe")),
    ("iam_list_role_policies", Wire::Iam("Action=ListRolePolicies&RoleName=rescue")),
    ("iam_delete_role_with_policies", Wire::Iam("Action=DeleteRole&RoleName=rescue")),
    ("iam_delete_role_policy", Wire::Iam("Action=DeleteRolePolicy&RoleName=rescue&PolicyName=describe")),
    (
        "iam_create_policy",
        Wire::Iam(
            "Action=CreatePolicy&PolicyName=readers&PolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3ADescribe%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D&Description=reads",
        ),
    ),
    ("iam_get_policy", Wire::Iam("Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders")),
    (
        "iam_get_policy_aws",
        Wire::Iam("Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2ReadOnlyAccess"),
    ),
    ("iam_list_policies_local", Wire::Iam("Action=ListPolicies&Scope=Local")),
    (
        "iam_create_policy_version",
        Wire::Iam(
            "Action=CreatePolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders&PolicyDocument=%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3ADescribe%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D&SetAsDefault=true",
        ),
    ),
    (
        "iam_get_policy_version",
        Wire::Iam(
            "Action=GetPolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders&VersionId=v2",
        ),
    ),
    (
        "iam_list_policy_versions",
        Wire::Iam("Action=ListPolicyVersions&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders"),
    ),
    (
        "iam_delete_policy_version_default",
        Wire::Iam(
            "Action=DeletePolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders&VersionId=v2",
        ),
    ),
    (
        "iam_set_default_policy_version",
        Wire::Iam(
            "Action=SetDefaultPolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders&VersionId=v1",
        ),
    ),
    (
        "iam_attach_role_policy",
        Wire::Iam(
            "Action=AttachRolePolicy&RoleName=rescue&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2ReadOnlyAccess",
        ),
    ),
    ("iam_list_attached_role_policies", Wire::Iam("Action=ListAttachedRolePolicies&RoleName=rescue")),
    (
        "iam_detach_role_policy",
        Wire::Iam(
            "Action=DetachRolePolicy&RoleName=rescue&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2ReadOnlyAccess",
        ),
    ),
    (
        "iam_detach_role_policy_again",
        Wire::Iam(
            "Action=DetachRolePolicy&RoleName=rescue&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2ReadOnlyAccess",
        ),
    ),
    (
        "iam_attach_user_policy_no_user",
        Wire::Iam(
            "Action=AttachUserPolicy&UserName=nobody&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders",
        ),
    ),
    ("iam_list_attached_user_policies", Wire::Iam("Action=ListAttachedUserPolicies&UserName=alice")),
    (
        "iam_detach_user_policy_not_attached",
        Wire::Iam(
            "Action=DetachUserPolicy&UserName=alice&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders",
        ),
    ),
    (
        "iam_delete_policy_with_versions",
        Wire::Iam("Action=DeletePolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders"),
    ),
    (
        "iam_delete_policy_version",
        Wire::Iam(
            "Action=DeletePolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders&VersionId=v2",
        ),
    ),
    (
        "iam_delete_policy",
        Wire::Iam("Action=DeletePolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Apolicy%2Freaders"),
    ),
    ("iam_delete_role", Wire::Iam("Action=DeleteRole&RoleName=rescue")),
    ("iam_create_login_profile_weak", Wire::Iam("Action=CreateLoginProfile&UserName=alice&Password=short")),
    (
        "iam_create_login_profile",
        Wire::Iam("Action=CreateLoginProfile&UserName=alice&Password=Correct-h0rse&PasswordResetRequired=true"),
    ),
    ("iam_create_login_profile_again", Wire::Iam("Action=CreateLoginProfile&UserName=alice&Password=Correct-h0rse")),
    ("iam_get_login_profile", Wire::Iam("Action=GetLoginProfile&UserName=alice")),
    ("iam_update_login_profile", Wire::Iam("Action=UpdateLoginProfile&UserName=alice&PasswordResetRequired=false")),
    ("iam_delete_user_with_password", Wire::Iam("Action=DeleteUser&UserName=alice")),
    ("iam_delete_login_profile", Wire::Iam("Action=DeleteLoginProfile&UserName=alice")),
    ("iam_get_login_profile_missing", Wire::Iam("Action=GetLoginProfile&UserName=alice")),
    ("iam_delete_user", Wire::Iam("Action=DeleteUser&UserName=alice")),
    (
        "ssm_put_parameter",
        Wire::Json("AmazonSSM.PutParameter", r#"{"Name": "/app/db", "Value": "v1", "Type": "String"}"#),
    ),
    (
        "ssm_put_parameter_tags",
        Wire::Json(
            "AmazonSSM.PutParameter",
            r#"{"Name":"/t/tagged","Value":"v","Type":"String","Tags":[{"Key":"team","Value":"ops"}]}"#,
        ),
    ),
    (
        "ssm_put_parameter_tags_with_overwrite",
        Wire::Json(
            "AmazonSSM.PutParameter",
            r#"{"Name":"/t/tagged","Value":"v","Type":"String","Overwrite":true,"Tags":[{"Key":"k","Value":"v"}]}"#,
        ),
    ),
    (
        "ssm_add_tags_to_resource",
        Wire::Json(
            "AmazonSSM.AddTagsToResource",
            r#"{"ResourceType":"Parameter","ResourceId":"/t/tagged","Tags":[{"Key":"env","Value":"prod"}]}"#,
        ),
    ),
    (
        "ssm_add_tags_to_resource_bad_key",
        Wire::Json(
            "AmazonSSM.AddTagsToResource",
            r#"{"ResourceType":"Parameter","ResourceId":"/t/tagged","Tags":[{"Key":"a*b","Value":"v"}]}"#,
        ),
    ),
    (
        "ssm_add_tags_to_resource_missing",
        Wire::Json(
            "AmazonSSM.AddTagsToResource",
            r#"{"ResourceType":"Parameter","ResourceId":"/t/none","Tags":[{"Key":"k","Value":"v"}]}"#,
        ),
    ),
    (
        "ssm_add_tags_to_resource_document",
        Wire::Json(
            "AmazonSSM.AddTagsToResource",
            r#"{"ResourceType":"Document","ResourceId":"doc","Tags":[{"Key":"k","Value":"v"}]}"#,
        ),
    ),
    (
        "ssm_remove_tags_from_resource",
        Wire::Json(
            "AmazonSSM.RemoveTagsFromResource",
            r#"{"ResourceType":"Parameter","ResourceId":"/t/tagged","TagKeys":["team"]}"#,
        ),
    ),
    (
        "ssm_list_tags_for_resource",
        Wire::Json("AmazonSSM.ListTagsForResource", r#"{"ResourceType":"Parameter","ResourceId":"/t/tagged"}"#),
    ),
    (
        "ssm_put_parameter_policy_type_unknown",
        Wire::Json(
            "AmazonSSM.PutParameter",
            r#"{"Name":"/t/x","Value":"v","Type":"String","Tier":"Advanced","Policies":"[{\"Type\":\"Archive\",\"Version\":\"1.0\"}]"}"#,
        ),
    ),
    (
        "ssm_put_parameter_bad_tier",
        Wire::Json("AmazonSSM.PutParameter", r#"{"Name":"/t/y","Value":"v","Type":"String","Tier":"Premium"}"#),
    ),
    (
        "ssm_label_parameter_version_missing",
        Wire::Json("AmazonSSM.LabelParameterVersion", r#"{"Name":"/nope","Labels":["prod"]}"#),
    ),
    (
        "ssm_unlabel_parameter_version_no_version",
        Wire::Json("AmazonSSM.UnlabelParameterVersion", r#"{"Name":"/nope","Labels":["prod"]}"#),
    ),
    (
        "ssm_put_parameter_standard_tier",
        Wire::Json("AmazonSSM.PutParameter", r#"{"Name":"/t/std","Value":"v","Type":"String","Tier":"Standard"}"#),
    ),
    (
        "ssm_put_parameter_exists",
        Wire::Json("AmazonSSM.PutParameter", r#"{"Name": "/app/db", "Value": "v2", "Type": "String"}"#),
    ),
    ("ssm_get_parameter", Wire::Json("AmazonSSM.GetParameter", r#"{"Name": "/app/db"}"#)),
    ("ssm_describe_parameters_zero_page", Wire::Json("AmazonSSM.DescribeParameters", r#"{"MaxResults": 0}"#)),
    (
        "ssm_get_parameters_by_path_big_page",
        Wire::Json("AmazonSSM.GetParametersByPath", r#"{"Path": "/app", "MaxResults": 11}"#),
    ),
    (
        "ssm_get_parameter_history_bad_token",
        Wire::Json("AmazonSSM.GetParameterHistory", r#"{"Name": "/app/db", "NextToken": "forged"}"#),
    ),
    ("ssm_get_parameter_missing", Wire::Json("AmazonSSM.GetParameter", r#"{"Name": "/app/none"}"#)),
    ("ssm_get_parameters", Wire::Json("AmazonSSM.GetParameters", r#"{"Names": ["/app/db", "/app/none"]}"#)),
    ("ssm_get_parameters_by_path", Wire::Json("AmazonSSM.GetParametersByPath", r#"{"Path": "/app"}"#)),
    ("ssm_describe_parameters", Wire::Json("AmazonSSM.DescribeParameters", r#"{}"#)),
    (
        "ssm_describe_parameters_bad_filter",
        Wire::Json("AmazonSSM.DescribeParameters", r#"{"ParameterFilters": [{"Key": "Colour", "Values": ["red"]}]}"#),
    ),
    ("ssm_get_parameter_history", Wire::Json("AmazonSSM.GetParameterHistory", r#"{"Name": "/app/db"}"#)),
    ("ssm_delete_parameters", Wire::Json("AmazonSSM.DeleteParameters", r#"{"Names": ["/app/db", "/app/none"]}"#)),
    ("ssm_delete_parameter_missing", Wire::Json("AmazonSSM.DeleteParameter", r#"{"Name": "/app/db"}"#)),
    ("ssm_describe_automation_executions", Wire::Json("AmazonSSM.DescribeAutomationExecutions", r#"{}"#)),
    (
        "ssm_get_automation_execution_missing",
        Wire::Json(
            "AmazonSSM.GetAutomationExecution",
            r#"{"AutomationExecutionId": "00000000-0000-0000-0000-000000000000"}"#,
        ),
    ),
    (
        "ssm_stop_automation_execution_missing",
        Wire::Json(
            "AmazonSSM.StopAutomationExecution",
            r#"{"AutomationExecutionId": "00000000-0000-0000-0000-000000000000"}"#,
        ),
    ),
    (
        "ssm_start_automation_unknown_runbook",
        Wire::Json("AmazonSSM.StartAutomationExecution", r#"{"DocumentName": "AWS-Nothing"}"#),
    ),
    (
        "ssm_start_automation_malformed_role",
        Wire::Json(
            "AmazonSSM.StartAutomationExecution",
            r#"{"DocumentName": "AWSSupport-ResetAccess", "Parameters": {"InstanceId": ["i-0123456789abcdef0"], "AutomationAssumeRole": ["not-a-role"]}}"#,
        ),
    ),
    (
        "ssm_start_automation_role_of_another_account",
        Wire::Json(
            "AmazonSSM.StartAutomationExecution",
            r#"{"DocumentName": "AWSSupport-ResetAccess", "Parameters": {"InstanceId": ["i-0123456789abcdef0"], "AutomationAssumeRole": ["arn:aws:iam::111122223333:role/rescue"]}}"#,
        ),
    ),
    ("ssm_unknown_operation", Wire::Json("AmazonSSM.PutUniverse", r#"{}"#)),
    ("ssm_not_json", Wire::Json("AmazonSSM.GetParameter", "not json")),
    ("cloudtrail_lookup_events_bad_max", Wire::Json("CloudTrail_20131101.LookupEvents", r#"{"MaxResults": 99}"#)),
    // Template: {"Parameters": {"Name": {"Type": "String", "Default": "/app/x", "NoEcho": true}},
    //  "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": {"Ref": "Name"},
    //  "Type": "String", "Value": "v"}}}}
    (
        "cfn_validate_template",
        Wire::Cfn(
            "Action=ValidateTemplate&TemplateBody=%7B%22Parameters%22%3A%7B%22Name%22%3A%7B%22Type%22%3A%22String%22%2C%22Default%22%3A%22%2Fapp%2Fx%22%2C%22NoEcho%22%3Atrue%7D%7D%2C%22Resources%22%3A%7B%22P%22%3A%7B%22Type%22%3A%22AWS%3A%3ASSM%3A%3AParameter%22%2C%22Properties%22%3A%7B%22Name%22%3A%7B%22Ref%22%3A%22Name%22%7D%2C%22Type%22%3A%22String%22%2C%22Value%22%3A%22v%22%7D%7D%7D%7D",
        ),
    ),
    (
        "cfn_validate_template_unknown_type",
        Wire::Cfn(
            "Action=ValidateTemplate&TemplateBody=Resources%3A%0A%20%20A%3A%0A%20%20%20%20Type%3A%20AWS%3A%3ANope%3A%3AThing%0A",
        ),
    ),
    (
        "cfn_create_stack",
        Wire::Cfn(
            "Action=CreateStack&StackName=app&TemplateBody=%7B%22Parameters%22%3A%7B%22Name%22%3A%7B%22Type%22%3A%22String%22%2C%22Default%22%3A%22%2Fapp%2Fx%22%2C%22NoEcho%22%3Atrue%7D%7D%2C%22Resources%22%3A%7B%22P%22%3A%7B%22Type%22%3A%22AWS%3A%3ASSM%3A%3AParameter%22%2C%22Properties%22%3A%7B%22Name%22%3A%7B%22Ref%22%3A%22Name%22%7D%2C%22Type%22%3A%22String%22%2C%22Value%22%3A%22v%22%7D%7D%7D%7D",
        ),
    ),
    (
        "cfn_create_stack_needs_capability",
        Wire::Cfn(
            "Action=CreateStack&StackName=rescue&TemplateURL=https%3A%2F%2Fs3.amazonaws.com%2Fawssupport-ssm.us-east-2%2Fcfn%2FEC2Rescue%2FAWSSupport-EC2RescueRole.template",
        ),
    ),
    ("cfn_get_template", Wire::Cfn("Action=GetTemplate&StackName=app")),
    ("cfn_update_stack_missing", Wire::Cfn("Action=UpdateStack&StackName=nope&UsePreviousTemplate=true")),
    ("cfn_describe_stacks_missing", Wire::Cfn("Action=DescribeStacks&StackName=nope")),
    ("cfn_list_stacks_deleted", Wire::Cfn("Action=ListStacks&StackStatusFilter.member.1=DELETE_COMPLETE")),
    ("cfn_describe_stack_events_missing", Wire::Cfn("Action=DescribeStackEvents&StackName=nope")),
    (
        "cfn_describe_stack_resource_missing",
        Wire::Cfn("Action=DescribeStackResource&StackName=nope&LogicalResourceId=P"),
    ),
    ("cfn_describe_stack_resources_missing", Wire::Cfn("Action=DescribeStackResources&StackName=nope")),
    ("cfn_list_stack_resources_missing", Wire::Cfn("Action=ListStackResources&StackName=nope")),
    ("cfn_list_exports", Wire::Cfn("Action=ListExports")),
    ("cfn_delete_stack_missing", Wire::Cfn("Action=DeleteStack&StackName=nope")),
    (
        "cloudtrail_lookup_events_two_attributes",
        Wire::Json(
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
            r#"{"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a"}, {"AttributeKey": "EventName", "AttributeValue": "b"}]}"#,
        ),
    ),
    (
        "instance_connect_missing_instance",
        Wire::Json(
            "AWSEC2InstanceConnectService.SendSSHPublicKey",
            r#"{"InstanceId": "i-0123456789abcdef0", "InstanceOSUser": "ec2-user", "SSHPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILR+zNQbYY5ORuhYXGMTSnjRLzS9C5dUdWRKdlqi20q2 test"}"#,
        ),
    ),
    (
        "instance_connect_bad_id",
        Wire::Json(
            "AWSEC2InstanceConnectService.SendSSHPublicKey",
            r#"{"InstanceId": "x", "InstanceOSUser": "ec2-user", "SSHPublicKey": "k"}"#,
        ),
    ),
];

fn request(wire: &Wire, key_id: &str) -> Request<Body> {
    let form = |version: &str, form: &str| {
        let form = form.replace("KEY_ID", key_id).replace("KEY", PUBLIC_KEY_B64);
        Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(Body::from(format!("Version={version}&{form}")))
    };
    let built = match wire {
        Wire::Ec2(f) => form("2016-11-15", f),
        Wire::Iam(f) => form("2010-05-08", f),
        Wire::Sts(f) => form("2011-06-15", f),
        Wire::Cfn(f) => form("2010-05-15", f),
        Wire::Asg(f) => form("2011-01-01", f),
        Wire::Json(target, body) => Request::post("/")
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", *target)
            .body(Body::from(*body)),
    };
    built.unwrap()
}

/// What changes from run to run: ids, request ids, times.
fn normalize(body: &str) -> String {
    if let Ok(mut json) = serde_json::from_str::<serde_json::Value>(body) {
        blank_json(&mut json);
        return serde_json::to_string_pretty(&json).unwrap();
    }
    let mut xml = blank_launch_template_ids(body);
    for element in
        ["requestId", "RequestId", "RequestID", "keyPairId", "resourceId", "createTime", "CreateDate", "UserId"]
            .into_iter()
            .chain(["groupId", "securityGroupRuleId", "securityGroupArn", "securityGroupRuleArn"])
            .chain(["RoleId", "PolicyId", "UpdateDate", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"])
            .chain(["StackId", "InstanceProfileId", "launchTemplateId", "createdBy"])
            .chain(["AutoScalingGroupARN", "CreatedTime", "ServiceLinkedRoleARN", "LaunchTemplateId"])
    {
        xml = replace_element(&xml, element);
    }
    xml
}

/// `lt-` and 17 hex digits, wherever a message names a launch template.
fn blank_launch_template_ids(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("lt-") {
        let id = rest[at + 3..].chars().take(17).collect::<String>();
        let whole = id.len() == 17 && id.chars().all(|c| c.is_ascii_hexdigit());
        out.push_str(&rest[..at + 3]);
        out.push_str(if whole { "…" } else { "" });
        rest = &rest[at + 3 + if whole { 17 } else { 0 }..];
    }
    out.push_str(rest);
    out
}

fn blank_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if ["LastModifiedDate", "RequestId"].contains(&key.as_str()) {
                    *value = serde_json::Value::String("…".into());
                } else {
                    blank_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(blank_json),
        _ => {}
    }
}

fn replace_element(xml: &str, name: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = start + open.len();
        let Some(end) = rest[after..].find(&close) else { break };
        out.push_str(&rest[..after]);
        out.push('…');
        rest = &rest[after + end..];
    }
    out.push_str(rest);
    out
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_matches_its_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().to_path_buf());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.dev = true;
    config.rsa_pool_size = 0;
    config.instance_network = std::net::Ipv4Addr::new(127, 93, 0, 0);
    let started = start(&config).await.unwrap();
    let mut router = started.router();
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let (mut key_id, mut mismatches) = (String::new(), Vec::new());
    for (case, wire) in CASES {
        let response = router.call(request(wire, &key_id)).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        if *case == "ec2_import_key_pair" {
            assert_eq!(status, StatusCode::OK, "{body}");
            key_id = element(&body, "keyPairId").unwrap().to_owned();
        }
        let got = format!("{}\n{content_type}\n\n{}\n", status.as_u16(), normalize(&body));
        let path = golden.join(format!("{case}.txt"));
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => mismatches.push(format!("{case}:\n--- want\n{want}--- got\n{got}")),
            Err(_) => mismatches.push(format!("{case}: no golden file {} (run with UPDATE_GOLDEN=1)", path.display())),
        }
    }
    assert!(mismatches.is_empty(), "{} of {} cases differ:\n{}", mismatches.len(), CASES.len(), mismatches.join("\n"));
}

/// Every operation of every table has a case, so a new action cannot land without one.
#[test]
fn every_operation_has_a_case() {
    use keyfleet_server::api::{autoscaling, cloudformation, cloudtrail, ec2, iam, instance_connect, ssm, sts};
    let names: Vec<&str> = ec2::ACTIONS
        .iter()
        .map(|e| e.name)
        .chain(iam::ACTIONS.iter().map(|e| e.name))
        .chain(sts::ACTIONS.iter().map(|e| e.name))
        .chain(ssm::OPERATIONS.iter().map(|e| e.name))
        .chain(instance_connect::OPERATIONS.iter().map(|e| e.name))
        .chain(cloudtrail::OPERATIONS.iter().map(|e| e.name))
        .chain(cloudformation::ACTIONS.iter().map(|e| e.name))
        .chain(autoscaling::ACTIONS.iter().map(|e| e.name))
        .collect();
    let covered = |name: &str| {
        CASES.iter().any(|(_, wire)| match wire {
            Wire::Ec2(form) | Wire::Iam(form) | Wire::Sts(form) | Wire::Cfn(form) | Wire::Asg(form) => {
                form.starts_with(&format!("Action={name}&")) || *form == format!("Action={name}")
            }
            Wire::Json(target, _) => target.ends_with(&format!(".{name}")),
        })
    };
    let missing: Vec<&&str> = names.iter().filter(|n| !covered(n)).collect();
    assert!(missing.is_empty(), "operations without a pipeline case: {missing:?}");
}

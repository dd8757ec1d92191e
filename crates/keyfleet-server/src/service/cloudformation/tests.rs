//! The intrinsic functions against the CloudFormation User Guide's own examples, and the
//! template checks against CloudFormation's messages.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::intrinsics::{Env, Provisioned, Pseudo, evaluate_conditions};
use super::template::{Template, TemplateError};
use super::{check_resources, creation_order, required_capability};

fn pseudo() -> Pseudo {
    Pseudo {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        stack_name: "demo".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1".into(),
    }
}

/// Evaluates `value` in a template with a parameter `Env` = `prod`, a resource `Role`
/// (`MyRole`, Arn) and the mapping `RegionMap`.
fn eval(value: Value) -> Result<Option<Value>, TemplateError> {
    let template = Template::parse(
        &json!({
            "Parameters": {"Env": {"Type": "String"}, "Subnets": {"Type": "CommaDelimitedList"}},
            "Mappings": {"RegionMap": {"us-east-1": {"HVM64": "ami-0ff8a91507f77f867"}}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
            "Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {}}}
        })
        .to_string(),
    )?;
    let parameters =
        BTreeMap::from([("Env".to_owned(), json!("prod")), ("Subnets".to_owned(), json!(["subnet-1", "subnet-2"]))]);
    let conditions = evaluate_conditions(&template, &pseudo(), &parameters)?;
    let resources = BTreeMap::from([(
        "Role".to_owned(),
        Provisioned {
            physical_id: "MyRole".into(),
            attributes: serde_json::Map::from_iter([(
                "Arn".to_owned(),
                json!("arn:aws:iam::123456789012:role/MyRole"),
            )]),
        },
    )]);
    let exports = BTreeMap::from([("SharedVpc".to_owned(), "vpc-1".to_owned())]);
    let zones = vec!["us-east-1a".to_owned(), "us-east-1b".to_owned()];
    let env = Env {
        template: &template,
        pseudo: &pseudo(),
        parameters: &parameters,
        conditions: &conditions,
        resources: &resources,
        exports: &exports,
        zones: &zones,
        budget: super::intrinsics::Budget::default(),
    };
    env.resolve(&value)
}

fn ok(value: Value) -> Value {
    eval(value).unwrap().unwrap()
}

#[test]
fn join_select_and_split_give_the_guides_results() {
    assert_eq!(ok(json!({"Fn::Join": [":", ["a", "b", "c"]]})), json!("a:b:c"));
    assert_eq!(ok(json!({"Fn::Select": ["1", ["apples", "grapes", "oranges"]]})), json!("grapes"));
    assert_eq!(ok(json!({"Fn::Split": ["|", "a|b|c"]})), json!(["a", "b", "c"]));
    assert_eq!(ok(json!({"Fn::Split": [",", "a,,b"]})), json!(["a", "", "b"]));
    assert_eq!(ok(json!({"Fn::Select": [2, {"Fn::Split": [",", "a,b,c"]}]})), json!("c"));
    assert!(eval(json!({"Fn::Select": [5, ["a"]]})).is_err());
}

#[test]
fn sub_reads_pseudo_parameters_attributes_and_literals() {
    assert_eq!(
        ok(json!({"Fn::Sub": "arn:aws:ec2:${AWS::Region}:${AWS::AccountId}:vpc/${Env}"})),
        json!("arn:aws:ec2:us-east-1:123456789012:vpc/prod")
    );
    assert_eq!(ok(json!({"Fn::Sub": "${Role.Arn} in ${Env}"})), json!("arn:aws:iam::123456789012:role/MyRole in prod"));
    assert_eq!(ok(json!({"Fn::Sub": "${!Literal}-${Role}"})), json!("${Literal}-MyRole"));
    assert_eq!(ok(json!({"Fn::Sub": ["www.${Domain}", {"Domain": {"Ref": "Env"}}]})), json!("www.prod"));
}

#[test]
fn base64_find_in_map_get_azs_and_import_value() {
    assert_eq!(ok(json!({"Fn::Base64": "AWS CloudFormation"})), json!("QVdTIENsb3VkRm9ybWF0aW9u"));
    assert_eq!(
        ok(json!({"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "HVM64"]})),
        json!("ami-0ff8a91507f77f867")
    );
    assert_eq!(ok(json!({"Fn::GetAZs": ""})), json!(["us-east-1a", "us-east-1b"]));
    assert_eq!(ok(json!({"Fn::GetAZs": {"Ref": "AWS::Region"}})), json!(["us-east-1a", "us-east-1b"]));
    assert_eq!(ok(json!({"Fn::ImportValue": "SharedVpc"})), json!("vpc-1"));
    let missing = eval(json!({"Fn::ImportValue": "Nope"})).unwrap_err();
    assert_eq!(missing.to_string(), "No export named Nope found.");
}

#[test]
fn conditions_if_and_no_value() {
    assert_eq!(ok(json!({"Fn::If": ["IsProd", "big", "small"]})), json!("big"));
    assert_eq!(ok(json!({"Fn::Equals": [{"Ref": "Env"}, "dev"]})), json!(false));
    assert_eq!(ok(json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "dev"]}]})), json!(true));
    assert_eq!(ok(json!({"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "a"]}]})), json!(true));
    assert_eq!(ok(json!({"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Condition": "IsProd"}]})), json!(true));
    assert_eq!(
        ok(json!({"A": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 1]}, "B": [1, {"Ref": "AWS::NoValue"}]})),
        json!({"B": [1]})
    );
    assert_eq!(ok(json!({"Ref": "Subnets"})), json!(["subnet-1", "subnet-2"]));
    assert_eq!(ok(json!({"Fn::Join": [",", {"Ref": "Subnets"}]})), json!("subnet-1,subnet-2"));
}

#[test]
fn get_att_of_an_unknown_attribute_names_it() {
    let e = eval(json!({"Fn::GetAtt": ["Role", "Nope"]})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Template error: resource Role of type AWS::IAM::Role does not support attribute Nope in Fn::GetAtt"
    );
    let e = eval(json!({"Fn::GetAtt": ["Ghost", "Arn"]})).unwrap_err();
    assert_eq!(e.to_string(), "Template error: instance of Fn::GetAtt references undefined resource Ghost");
}

#[test]
fn yaml_short_forms_become_the_long_forms() {
    let template = Template::parse(
        "Resources:\n  Key:\n    Type: AWS::EC2::KeyPair\n    Properties:\n      KeyName: !Sub '${AWS::StackName}-key'\n      Tags:\n        - Key: role\n          Value: !GetAtt Other.Arn\n        - Key: zone\n          Value: !Select [0, !GetAZs '']\n",
    )
    .unwrap();
    let key = template.resource("Key").unwrap();
    assert_eq!(key.properties["KeyName"], json!({"Fn::Sub": "${AWS::StackName}-key"}));
    assert_eq!(key.properties["Tags"][0]["Value"], json!({"Fn::GetAtt": ["Other", "Arn"]}));
    assert_eq!(key.properties["Tags"][1]["Value"], json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]}));
}

#[test]
fn templates_are_refused_with_cloudformations_messages() {
    let refuse = |body: &str| {
        Template::parse(body)
            .map_err(super::StackInvalid::from)
            .and_then(|t| {
                check_resources(&t).map_err(|e| match e {
                    crate::service::Error::StackInvalid(why) => why,
                    other => panic!("{other}"),
                })
            })
            .unwrap_err()
            .to_string()
    };
    assert_eq!(refuse("{}"), "Template format error: At least one Resources member must be defined.");
    assert_eq!(
        refuse(r#"{"Resources": {"A": {"Type": "AWS::TypoHere::VPC"}}}"#),
        "Template format error: Unrecognized resource types: [AWS::TypoHere::VPC]"
    );
    assert_eq!(
        refuse(r#"{"Resources": {"A": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "Nope"}}}}}"#),
        "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"
    );
    assert_eq!(
        refuse(
            r#"{"Resources": {"A": {"Type": "AWS::SSM::Parameter", "DependsOn": "B"}, "B": {"Type": "AWS::SSM::Parameter", "DependsOn": "A"}}}"#
        ),
        "Circular dependency between resources: [A, B]"
    );
    assert!(refuse("Resources: [\n").starts_with("Template format error: YAML not well-formed."));
    assert_eq!(
        refuse(r#"{"Resources": {"A": {"Type": "AWS::SSM::Parameter", "Invalid": 1}}}"#),
        "Template format error: Invalid template resource property 'Invalid'"
    );
    for refused in [
        r#"{"Resources": {"A": {"Type": "AWS::EC2::Instance", "CreationPolicy": {"ResourceSignal": {"Count": 1}}}}}"#,
        r#"{"Resources": {"A": {"Type": "AWS::SSM::Parameter", "UpdateReplacePolicy": "Retain"}}}"#,
        r#"{"Resources": {"A": {"Type": "AWS::SSM::Parameter", "DeletionPolicy": "RetainExceptOnCreate"}}}"#,
    ] {
        assert!(refuse(refused).starts_with("Template format error: keyfleet does not implement"), "{refused}");
    }
}

#[test]
fn resources_are_made_after_what_they_refer_to() {
    let template = Template::parse(
        r#"{"Resources": {
            "Instance": {"Type": "AWS::EC2::Instance", "Properties": {"KeyName": {"Ref": "Key"}, "SecurityGroupIds": [{"Fn::GetAtt": ["Group", "GroupId"]}]}},
            "Key": {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": "k"}},
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "${Key}"}},
            "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Sub": "${Instance.PrivateIp}"}}}
        }}"#,
    )
    .unwrap();
    let order: Vec<&str> = creation_order(&template, |_| true).unwrap().iter().map(|r| r.logical_id.as_str()).collect();
    // Independent resources come in the template's (sorted) key order.
    assert_eq!(order, ["Group", "Key", "Instance", "Param"]);
}

#[test]
fn iam_resources_need_the_iam_capability_and_named_ones_the_named_one() {
    let unnamed = Template::parse(r#"{"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}}"#).unwrap();
    assert_eq!(required_capability(&unnamed).map(|c| c.0), Some("CAPABILITY_IAM"));
    let named = Template::parse(r#"{"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}"#)
        .unwrap();
    assert_eq!(required_capability(&named).map(|c| c.0), Some("CAPABILITY_NAMED_IAM"));
    let none = Template::parse(r#"{"Resources": {"K": {"Type": "AWS::EC2::KeyPair", "Properties": {}}}}"#).unwrap();
    assert_eq!(required_capability(&none), None);
}

#[test]
fn functions_cannot_grow_a_template_into_gigabytes() {
    let mut value = json!("xxxxxxxx");
    for _ in 0..30 {
        value = json!({"Fn::Sub": ["${a}${a}${a}${a}", {"a": value}]});
    }
    let e = eval(value).unwrap_err();
    assert!(e.to_string().contains("longer than 65536 bytes"), "{e}");
    let mut joined = json!("yyyyyyyy");
    for _ in 0..30 {
        joined = json!({"Fn::Sub": ["${a}${a}", {"a": {"Fn::Join": ["", [{"Fn::Base64": "x"}, joined]]}}]});
    }
    assert!(eval(joined).is_err());
    // A 60 KiB string split into 60,000 items, joined again around a long delimiter: refused
    // before the join is made.
    let mut big = json!("a-a-a-a-a-a-a-a-");
    for _ in 0..6 {
        big = json!({"Fn::Sub": ["${x}${x}${x}${x}", {"x": big}]});
    }
    let delimiter = "d".repeat(1000);
    let e = eval(json!({"Fn::Join": [delimiter, {"Fn::Split": ["-", big.clone()]}]})).unwrap_err();
    assert!(e.to_string().contains("longer than 65536 bytes"), "{e}");
    // Many copies of a big list: the evaluation's budget runs out.
    let copies: Vec<serde_json::Value> = (0..400).map(|_| json!({"Fn::Split": ["-", big.clone()]})).collect();
    let e = eval(serde_json::Value::Array(copies)).unwrap_err();
    assert!(e.to_string().contains("make more than"), "{e}");
}

#[test]
fn conditions_that_chain_too_deeply_are_refused() {
    let mut conditions = serde_json::Map::new();
    for n in 0..200 {
        conditions.insert(format!("C{n}"), json!({"Fn::Not": [{"Condition": format!("C{}", n + 1)}]}));
    }
    conditions.insert("C200".into(), json!({"Fn::Equals": ["a", "a"]}));
    let template = Template::parse(
        &json!({"Conditions": conditions, "Resources": {"P": {"Type": "AWS::SSM::Parameter"}}}).to_string(),
    )
    .unwrap();
    let e = evaluate_conditions(&template, &pseudo(), &BTreeMap::new()).unwrap_err();
    assert!(e.to_string().contains("too deeply"), "{e}");
}

#[test]
fn yaml_aliases_deep_nesting_and_control_characters_are_refused() {
    let refuse = |body: &str| Template::parse(body).unwrap_err().to_string();
    let aliases = "Resources:\n  A: &a\n    Type: AWS::SSM::Parameter\n  B: *a\n";
    assert_eq!(refuse(aliases), "Template format error: YAML aliases are not supported.");
    let deep = format!(
        "Resources:\n  A:\n    Type: AWS::SSM::Parameter\n    Properties:\n      V:\n        {}x\n",
        "- ".repeat(5000)
    );
    assert_eq!(refuse(&deep), "Template format error: Template is nested too deeply.");
    let control =
        "{\"Resources\": {\"A\": {\"Type\": \"AWS::SSM::Parameter\", \"Properties\": {\"Value\": \"a\\u0001b\"}}}}";
    assert!(refuse(control).contains("not allowed"), "{}", refuse(control));
    assert!(refuse("Resources:\n  A:\n    Type: \"AWS::SSM::Parameter\\x01\"\n").contains("not allowed"));
}

//! The evaluator against a small reference model: random policies, written as JSON, over a
//! small universe of actions, resources and condition values, decided by both.

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// IAM's glob, by the textbook dynamic programme rather than backtracking.
fn reference_glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let mut table = vec![vec![false; t.len() + 1]; p.len() + 1];
    table[0][0] = true;
    for i in 1..=p.len() {
        table[i][0] = table[i - 1][0] && p[i - 1] == '*';
        for j in 1..=t.len() {
            table[i][j] = match p[i - 1] {
                '*' => table[i - 1][j] || table[i][j - 1],
                '?' => table[i - 1][j - 1],
                c => table[i - 1][j - 1] && c == t[j - 1],
            };
        }
    }
    table[p.len()][t.len()]
}

/// A generated statement: effect, action patterns, resource patterns, optional tag condition.
#[derive(Debug, Clone)]
struct Model {
    deny: bool,
    not_action: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    /// `StringEquals` (false) or `StringNotEquals` (true) on `aws:ResourceTag/env`.
    tag_condition: Option<(bool, String)>,
}

impl Model {
    fn to_json(&self) -> serde_json::Value {
        let mut statement = json!({ "Effect": if self.deny { "Deny" } else { "Allow" }, "Resource": self.resources });
        statement[if self.not_action { "NotAction" } else { "Action" }] = json!(self.actions);
        if let Some((negated, value)) = &self.tag_condition {
            let op = if *negated { "StringNotEquals" } else { "StringEquals" };
            statement["Condition"] = json!({ op: { "aws:ResourceTag/env": value } });
        }
        statement
    }

    /// The statement's meaning, spelled out case by case.
    fn applies(&self, action: &str, resource: &str, env: Option<&str>) -> bool {
        let action_listed = self.actions.iter().any(|p| reference_glob(&p.to_lowercase(), &action.to_lowercase()));
        let action_ok = action_listed != self.not_action;
        let resource_ok = self.resources.iter().any(|p| reference_glob(p, resource));
        let condition_ok = match (&self.tag_condition, env) {
            (None, _) => true,
            (Some((false, want)), Some(have)) => want == have,
            (Some((false, _)), None) => false,
            (Some((true, want)), Some(have)) => want != have,
            (Some((true, _)), None) => true,
        };
        action_ok && resource_ok && condition_ok
    }
}

fn reference_decision(statements: &[Model], action: &str, resource: &str, env: Option<&str>) -> Decision {
    let applying: Vec<&Model> = statements.iter().filter(|s| s.applies(action, resource, env)).collect();
    if applying.iter().any(|s| s.deny) {
        Decision::ExplicitDeny
    } else if applying.is_empty() {
        Decision::ImplicitDeny
    } else {
        Decision::Allow
    }
}

const ACTIONS: [&str; 5] =
    ["ec2:CreateKeyPair", "ec2:DeleteKeyPair", "ec2:DescribeKeyPairs", "ssm:GetParameter", "ec2:RunInstances"];
const ACTION_PATTERNS: [&str; 8] =
    ["*", "ec2:*", "ec2:*KeyPair*", "EC2:createkeypair", "ssm:Get*", "ec2:?escribe*", "ec2:Delete*", "s3:*"];
const RESOURCES: [&str; 4] = [
    "arn:aws:ec2:us-east-1:111122223333:key-pair/dev-alice",
    "arn:aws:ec2:us-east-1:111122223333:key-pair/prod-db",
    "arn:aws:ec2:eu-west-1:111122223333:key-pair/dev-bob",
    "*",
];
const RESOURCE_PATTERNS: [&str; 7] = [
    "*",
    "arn:aws:ec2:*:111122223333:key-pair/dev-*",
    "arn:aws:ec2:us-east-1:111122223333:key-pair/*",
    "arn:aws:ec2:us-east-1:111122223333:key-pair/prod-??",
    "arn:aws:ec2:us-east-1:111122223333:key-pair/prod-d?",
    "arn:aws:ec2:*:*:key-pair/*-alice",
    "arn:aws:ec2:us-east-1:111122223333:KEY-PAIR/*",
];
const ENVS: [&str; 3] = ["dev", "prod", "Dev"];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn statement() -> impl Strategy<Value = Model> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(pick(&ACTION_PATTERNS), 1..3),
        proptest::collection::vec(pick(&RESOURCE_PATTERNS), 1..3),
        proptest::option::of((any::<bool>(), pick(&ENVS))),
    )
        .prop_map(|(deny, not_action, actions, resources, condition)| Model {
            deny,
            not_action,
            actions: actions.into_iter().map(str::to_owned).collect(),
            resources: resources.into_iter().map(str::to_owned).collect(),
            tag_condition: condition.map(|(negated, env)| (negated, env.to_owned())),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn evaluator_agrees_with_the_reference_model(
        policies in proptest::collection::vec(proptest::collection::vec(statement(), 1..4), 0..3),
        action in pick(&ACTIONS),
        resource in pick(&RESOURCES),
        env in proptest::option::of(pick(&ENVS)),
    ) {
        let parsed: Vec<Policy> = policies
            .iter()
            .map(|statements| {
                let doc = json!({ "Version": "2012-10-17", "Statement": statements.iter().map(Model::to_json).collect::<Vec<_>>() });
                Policy::parse(&doc.to_string()).unwrap()
            })
            .collect();
        let mut context = ConditionContext::default();
        if let Some(env) = env {
            context.add("aws:ResourceTag/env", env);
        }
        let all: Vec<Model> = policies.concat();
        let expected = reference_decision(&all, action, resource, env);
        prop_assert_eq!(evaluate(&parsed, &Request { action, resource, context: &context }), expected);
    }

    #[test]
    fn glob_agrees_with_the_reference(pattern in "[ab*?\\\\]{0,6}", text in "[ab\\\\]{0,6}") {
        prop_assert_eq!(wildcard_match(&pattern, &text), reference_glob(&pattern, &text));
    }
}

fn context(pairs: &[(&str, &str)]) -> ConditionContext {
    let mut c = ConditionContext::default();
    for (k, v) in pairs {
        c.add(k, *v);
    }
    c
}

fn decide(document: serde_json::Value, action: &str, resource: &str, ctx: &ConditionContext) -> Decision {
    evaluate(&[Policy::parse(&document.to_string()).unwrap()], &Request { action, resource, context: ctx })
}

#[test]
fn tag_keys_set_qualifiers() {
    let only_env = json!({"Statement": {"Effect": "Allow", "Action": "ec2:CreateKeyPair", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}}});
    let ctx = context(&[("aws:TagKeys", "env"), ("aws:TagKeys", "team")]);
    assert_eq!(decide(only_env.clone(), "ec2:CreateKeyPair", "*", &ctx), Decision::Allow);
    let ctx = context(&[("aws:TagKeys", "env"), ("aws:TagKeys", "owner")]);
    assert_eq!(decide(only_env.clone(), "ec2:CreateKeyPair", "*", &ctx), Decision::ImplicitDeny);
    // ForAllValues holds vacuously when there are no tags at all.
    assert_eq!(decide(only_env, "ec2:CreateKeyPair", "*", &ConditionContext::default()), Decision::Allow);
    let any_env = json!({"Statement": {"Effect": "Allow", "Action": "ec2:CreateKeyPair", "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}}}});
    assert_eq!(decide(any_env.clone(), "ec2:CreateKeyPair", "*", &ConditionContext::default()), Decision::ImplicitDeny);
    let ctx = context(&[("aws:TagKeys", "x"), ("aws:TagKeys", "env")]);
    assert_eq!(decide(any_env, "ec2:CreateKeyPair", "*", &ctx), Decision::Allow);
}

#[test]
fn source_ip_null_and_if_exists() {
    let office = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.1"]}}}});
    assert_eq!(decide(office.clone(), "ec2:X", "*", &context(&[("aws:SourceIp", "10.2.3.4")])), Decision::Allow);
    assert_eq!(decide(office.clone(), "ec2:X", "*", &context(&[("aws:SourceIp", "127.0.0.1")])), Decision::Allow);
    assert_eq!(decide(office, "ec2:X", "*", &context(&[("aws:SourceIp", "192.168.1.1")])), Decision::ImplicitDeny);
    let untagged = json!({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"Null": {"aws:RequestTag/env": "true"}}}});
    assert_eq!(decide(untagged.clone(), "ec2:X", "*", &ConditionContext::default()), Decision::ExplicitDeny);
    assert_eq!(decide(untagged, "ec2:X", "*", &context(&[("aws:RequestTag/env", "dev")])), Decision::ImplicitDeny);
    let if_exists = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"StringEqualsIfExists": {"ec2:KeyPairType": "ed25519"}}}});
    assert_eq!(decide(if_exists.clone(), "ec2:X", "*", &ConditionContext::default()), Decision::Allow);
    assert_eq!(decide(if_exists, "ec2:X", "*", &context(&[("ec2:KeyPairType", "rsa")])), Decision::ImplicitDeny);
}

#[test]
fn malformed_documents_are_refused() {
    for bad in [
        "not json",
        r#"{"Statement": []}"#.replace("[]", r#"[{"Effect": "Maybe", "Action": "*", "Resource": "*"}]"#).as_str(),
        r#"{"Statement": {"Effect": "Allow", "Resource": "*"}}"#,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericSoon": {"a": "1"}}}}"#,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}}"#,
        r#"{"Version": "2020-01-01", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#,
    ] {
        assert!(Policy::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn condition_keys_keyfleet_never_fills_are_refused() {
    for key in ["aws:MultiFactorAuthPresent", "aws:SourceVpc", "ec2:ResourceTag/env", "aws:ResourceTag/"] {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"Bool": {key: "false"}}}]});
        assert!(Policy::parse(&doc.to_string()).is_err(), "{key} was accepted");
    }
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"StringEquals": {"AWS:ResourceTag/Env": "x", "aws:sourceip": "1.2.3.4", "aws:SecureTransport": "true"}}}]});
    assert!(Policy::parse(&doc.to_string()).is_ok());
}

#[test]
fn arn_like_matches_each_part_alone() {
    let doc = serde_json::json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:ssm:*:111122223333:automation-execution/*"}}}});
    let at = |arn: &str| decide(doc.clone(), "sts:AssumeRole", "*", &context(&[("aws:SourceArn", arn)]));
    assert_eq!(at("arn:aws:ssm:us-east-1:111122223333:automation-execution/e-1"), Decision::Allow);
    assert_eq!(at("arn:aws:ssm:us-east-1:444455556666:automation-execution/e-1"), Decision::ImplicitDeny);
    // `*` in the region does not reach across a colon into the account.
    assert_eq!(at("arn:aws:ssm:us-east-1:x:111122223333:automation-execution/e"), Decision::ImplicitDeny);
    assert_eq!(at("not-an-arn"), Decision::ImplicitDeny);
    assert_eq!(decide(doc, "sts:AssumeRole", "*", &ConditionContext::default()), Decision::ImplicitDeny);
}

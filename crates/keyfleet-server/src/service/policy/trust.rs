//! Role trust policies (`AssumeRolePolicyDocument`): who may assume a role. A statement names
//! `Principal` (`AWS`: accounts, users, roles, sessions or `*`; `Service`: an AWS service such
//! as `ssm.amazonaws.com`) instead of `Resource`, and the actions are STS's.

use serde_json::Value;

use super::{
    Condition, ConditionContext, Decision, Effect, PolicyError, Request, malformed, parse_conditions, strings,
};

/// A parsed trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustPolicy {
    statements: Vec<TrustStatement>,
}

#[derive(Debug, Clone, PartialEq)]
struct TrustStatement {
    effect: Effect,
    actions: Vec<String>,
    principals: Vec<Principal>,
    conditions: Vec<Condition>,
}

/// One `Principal` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// `{"AWS": "123456789012"}` or `arn:aws:iam::123456789012:root`: any principal of it.
    Account(String),
    /// `{"AWS": "arn:…"}`: a user, a role (its sessions), or one role session.
    Arn(String),
    /// `{"Service": "ssm.amazonaws.com"}`.
    Service(String),
}

/// Who asks to assume a role.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A principal of an account: its account, its ARN, and for a role session the role's
    /// ARN (`aws:PrincipalArn`), which a trust policy may name instead of the session.
    Aws {
        /// The account.
        account: &'a str,
        /// The user's, root's or session's ARN.
        arn: &'a str,
        /// The role's ARN, for a role session.
        role_arn: Option<&'a str>,
    },
    /// An AWS service (`ssm.amazonaws.com`).
    Service(&'a str),
}

impl TrustPolicy {
    /// Parses a trust policy, refusing what IAM refuses in one (a `Resource`, a statement
    /// without a principal, an action that is not STS's).
    pub fn parse(document: &str) -> Result<TrustPolicy, PolicyError> {
        let value: Value = serde_json::from_str(document).map_err(|_| malformed("Syntax errors in policy."))?;
        let object = value.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
        for key in object.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(format!("Policy document contains unknown element {key}.")));
            }
        }
        let statements = match object.get("Statement") {
            Some(Value::Array(list)) => list.iter().map(parse_statement).collect::<Result<_, _>>()?,
            Some(single @ Value::Object(_)) => vec![parse_statement(single)?],
            _ => return Err(malformed("Missing required field Statement")),
        };
        Ok(TrustPolicy { statements })
    }

    /// Whether `caller` may perform `action` (`sts:AssumeRole`) under `context`: an explicit
    /// deny wins, then any allow.
    pub fn decide(&self, caller: Caller<'_>, action: &str, context: &ConditionContext) -> Decision {
        let request = Request { action, resource: "*", context };
        let mut decision = Decision::ImplicitDeny;
        for statement in self.statements.iter().filter(|s| s.applies(caller, &request)) {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => decision = Decision::Allow,
            }
        }
        decision
    }
}

fn parse_statement(value: &Value) -> Result<TrustStatement, PolicyError> {
    let object = value.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
    for key in object.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "Principal" | "Condition" => {}
            "Resource" | "NotResource" => return Err(malformed(format!("Has prohibited field {key}"))),
            other => return Err(malformed(format!("Statement contains unsupported element {other}."))),
        }
    }
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(malformed("Policy statement must contain a valid Effect (Allow or Deny).")),
    };
    let actions = strings(object.get("Action").ok_or_else(|| malformed("Policy statement must contain actions."))?)?;
    if let Some(bad) = actions.iter().find(|a| !a.to_ascii_lowercase().starts_with("sts:") && *a != "*") {
        return Err(malformed(format!("AssumeRole policy contains invalid action {bad}")));
    }
    let principals = principals(object.get("Principal").ok_or_else(|| malformed("Missing required field Principal"))?)?;
    let conditions = match object.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => parse_conditions(block)?,
        Some(_) => return Err(malformed("Syntax errors in policy.")),
    };
    Ok(TrustStatement { effect, actions, principals, conditions })
}

fn principals(value: &Value) -> Result<Vec<Principal>, PolicyError> {
    if value.as_str() == Some("*") {
        return Ok(vec![Principal::Anyone]);
    }
    let object = value.as_object().ok_or_else(|| malformed("Invalid principal in policy"))?;
    let mut found = Vec::new();
    for (kind, names) in object {
        for name in strings(names)? {
            found.push(match kind.as_str() {
                "AWS" => aws_principal(&name)?,
                "Service" if name.ends_with(".amazonaws.com") => Principal::Service(name),
                _ => return Err(malformed("Invalid principal in policy")),
            });
        }
    }
    if found.is_empty() {
        return Err(malformed("Invalid principal in policy"));
    }
    Ok(found)
}

fn aws_principal(name: &str) -> Result<Principal, PolicyError> {
    let is_account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if name == "*" {
        return Ok(Principal::Anyone);
    }
    if is_account(name) {
        return Ok(Principal::Account(name.to_owned()));
    }
    let parts: Vec<&str> = name.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", "aws", "iam", "", account, "root"] if is_account(account) => {
            Ok(Principal::Account((*account).to_owned()))
        }
        ["arn", "aws", "iam", "", account, resource]
            if is_account(account) && (resource.starts_with("user/") || resource.starts_with("role/")) =>
        {
            Ok(Principal::Arn(name.to_owned()))
        }
        ["arn", "aws", "sts", "", account, resource]
            if is_account(account) && resource.starts_with("assumed-role/") =>
        {
            Ok(Principal::Arn(name.to_owned()))
        }
        _ => Err(malformed("Invalid principal in policy")),
    }
}

impl TrustStatement {
    fn applies(&self, caller: Caller<'_>, request: &Request<'_>) -> bool {
        let action = request.action.to_ascii_lowercase();
        // A Deny of `*` covers services too; an Allow of `*` admits AWS principals only.
        let named = |p: &Principal| p.admits(caller) || (self.effect == Effect::Deny && *p == Principal::Anyone);
        self.actions.iter().any(|p| super::wildcard_match(&p.to_ascii_lowercase(), &action))
            && self.principals.iter().any(named)
            && self.conditions.iter().all(|c| c.holds(request.context))
    }
}

impl Principal {
    fn admits(&self, caller: Caller<'_>) -> bool {
        match (self, caller) {
            (Principal::Anyone, Caller::Aws { .. }) => true,
            (Principal::Account(account), Caller::Aws { account: of, .. }) => account == of,
            (Principal::Arn(arn), Caller::Aws { arn: of, role_arn, .. }) => {
                arn == of || role_arn.is_some_and(|role| role == arn)
            }
            (Principal::Service(name), Caller::Service(of)) => name == of,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Caller<'static> =
        Caller::Aws { account: "111122223333", arn: "arn:aws:iam::111122223333:user/alice", role_arn: None };

    fn trust(principal: &str) -> TrustPolicy {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}]}}"#
        );
        TrustPolicy::parse(&doc).unwrap()
    }

    fn decide(policy: &TrustPolicy, caller: Caller<'_>) -> Decision {
        policy.decide(caller, "sts:AssumeRole", &ConditionContext::default())
    }

    #[test]
    fn principals_admit_their_account_user_role_or_service() {
        assert_eq!(decide(&trust(r#"{"AWS":"111122223333"}"#), ALICE), Decision::Allow);
        assert_eq!(decide(&trust(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), ALICE), Decision::Allow);
        assert_eq!(decide(&trust(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#), ALICE), Decision::ImplicitDeny);
        assert_eq!(decide(&trust(r#"{"AWS":["arn:aws:iam::111122223333:user/alice"]}"#), ALICE), Decision::Allow);
        assert_eq!(decide(&trust(r#"{"AWS":"arn:aws:iam::111122223333:user/bob"}"#), ALICE), Decision::ImplicitDeny);
        let session = Caller::Aws {
            account: "111122223333",
            arn: "arn:aws:sts::111122223333:assumed-role/ops/s1",
            role_arn: Some("arn:aws:iam::111122223333:role/ops"),
        };
        assert_eq!(decide(&trust(r#"{"AWS":"arn:aws:iam::111122223333:role/ops"}"#), session), Decision::Allow);
        let ssm = trust(r#"{"Service":"ssm.amazonaws.com"}"#);
        assert_eq!(decide(&ssm, Caller::Service("ssm.amazonaws.com")), Decision::Allow);
        assert_eq!(decide(&ssm, Caller::Service("ec2.amazonaws.com")), Decision::ImplicitDeny);
        assert_eq!(decide(&ssm, ALICE), Decision::ImplicitDeny);
        assert_eq!(decide(&trust(r#""*""#), ALICE), Decision::Allow);
    }

    #[test]
    fn a_deny_of_anyone_covers_services() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"},
                      {"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#;
        let policy = TrustPolicy::parse(doc).unwrap();
        assert_eq!(decide(&policy, Caller::Service("ssm.amazonaws.com")), Decision::ExplicitDeny);
        assert_eq!(decide(&trust(r#""*""#), Caller::Service("ssm.amazonaws.com")), Decision::ImplicitDeny);
    }

    #[test]
    fn external_id_conditions_hold_only_with_the_id() {
        let doc = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole",
                      "Condition":{"StringEquals":{"sts:ExternalId":"k-42"}}}}"#;
        let policy = TrustPolicy::parse(doc).unwrap();
        let mut context = ConditionContext::default();
        assert_eq!(policy.decide(ALICE, "sts:AssumeRole", &context), Decision::ImplicitDeny);
        context.add("sts:ExternalId", "k-42");
        assert_eq!(policy.decide(ALICE, "sts:AssumeRole", &context), Decision::Allow);
    }

    #[test]
    fn what_iam_refuses_in_a_trust_policy_is_refused() {
        let with_resource =
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}"#;
        assert_eq!(TrustPolicy::parse(with_resource).unwrap_err().0, "Has prohibited field Resource");
        let bad_principal = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(TrustPolicy::parse(bad_principal).unwrap_err().0, "Invalid principal in policy");
        let ec2_action = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances"}}"#;
        assert!(TrustPolicy::parse(ec2_action).is_err());
        let no_principal = r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#;
        assert!(TrustPolicy::parse(no_principal).is_err());
    }
}

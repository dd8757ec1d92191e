//! IAM policy documents: parsing and evaluation, with IAM's rules. An explicit deny wins;
//! otherwise any allow grants; otherwise the request is denied by default.
//!
//! Supported: `Effect`; `Action`/`NotAction` and `Resource`/`NotResource` with `*` and `?`
//! wildcards (actions match case-insensitively, resources case-sensitively); `Condition`
//! with the string, ARN, IP-address, `Null` and `Bool` operators, their `IfExists` forms, and the
//! `ForAnyValue:`/`ForAllValues:` set qualifiers. Anything else is refused when the policy
//! is stored, so a policy never means less than its author thought.

#[cfg(test)]
mod tests;
pub mod trust;

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;

pub use crate::common::glob::iam_match as wildcard_match;

/// Why a policy document was refused (IAM's `MalformedPolicyDocument`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// `Action` (the listed patterns) or `NotAction` (everything but them); same for resources.
#[derive(Debug, Clone, PartialEq)]
enum Patterns {
    Only(Vec<String>),
    AllBut(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnLike,
    ArnNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    operator: Operator,
    qualifier: SetQualifier,
    if_exists: bool,
    /// Lowercase: condition key names are case-insensitive.
    key: String,
    values: Vec<String>,
}

/// The result of evaluating policies for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows it and none denies it.
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A statement denies it.
    ExplicitDeny,
}

/// The condition keys of a request and their values (several for keys such as `aws:TagKeys`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionContext(HashMap<String, Vec<String>>);

impl ConditionContext {
    /// Adds a value to a key.
    pub fn add(&mut self, key: &str, value: impl Into<String>) {
        self.0.entry(key.to_ascii_lowercase()).or_default().push(value.into());
    }

    /// Declares a multi-valued key that may have no values (so `ForAllValues` sees it).
    pub fn declare(&mut self, key: &str) {
        self.0.entry(key.to_ascii_lowercase()).or_default();
    }

    fn get(&self, key: &str) -> Option<&[String]> {
        self.0.get(key).map(Vec::as_slice)
    }
}

/// One request to authorize against one resource.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `ec2:CreateKeyPair`.
    pub action: &'a str,
    /// The resource's ARN, or `*` for actions without resource-level permissions.
    pub resource: &'a str,
    /// The request's condition keys.
    pub context: &'a ConditionContext,
}

impl Policy {
    /// Parses a policy document (JSON text).
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(document).map_err(|_| malformed("Syntax errors in policy."))?;
        let object = value.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
        for key in object.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(format!("Policy document contains unknown element {key}.")));
            }
        }
        if let Some(version) = object.get("Version")
            && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(malformed("The policy failed legacy parsing"));
        }
        let statements = match object.get("Statement") {
            Some(Value::Array(list)) => list.iter().map(parse_statement).collect::<Result<_, _>>()?,
            Some(single @ Value::Object(_)) => vec![parse_statement(single)?],
            _ => return Err(malformed("Missing required field Statement")),
        };
        Ok(Policy { statements })
    }

    /// How this policy alone answers a request.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        let mut decision = Decision::ImplicitDeny;
        for statement in self.statements.iter().filter(|s| s.applies(request)) {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => decision = Decision::Allow,
            }
        }
        decision
    }
}

/// How a set of policies answers a request: an explicit deny in any of them wins.
pub fn evaluate(policies: &[Policy], request: &Request<'_>) -> Decision {
    let mut decision = Decision::ImplicitDeny;
    for policy in policies {
        match policy.decide(request) {
            Decision::ExplicitDeny => return Decision::ExplicitDeny,
            Decision::Allow => decision = Decision::Allow,
            Decision::ImplicitDeny => {}
        }
    }
    decision
}

fn parse_statement(value: &Value) -> Result<Statement, PolicyError> {
    let object = value.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
    for key in object.keys() {
        if !matches!(key.as_str(), "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition")
        {
            return Err(malformed(format!("Statement contains unsupported element {key}.")));
        }
    }
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(malformed("Policy statement must contain a valid Effect (Allow or Deny).")),
    };
    let actions = patterns(object, "Action", "NotAction", "actions")?;
    let resources = patterns(object, "Resource", "NotResource", "resources")?;
    let conditions = match object.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => parse_conditions(block)?,
        Some(_) => return Err(malformed("Syntax errors in policy.")),
    };
    Ok(Statement { effect, actions, resources, conditions })
}

fn patterns(
    object: &serde_json::Map<String, Value>,
    only: &str,
    all_but: &str,
    what: &str,
) -> Result<Patterns, PolicyError> {
    match (object.get(only), object.get(all_but)) {
        (Some(v), None) => Ok(Patterns::Only(strings(v)?)),
        (None, Some(v)) => Ok(Patterns::AllBut(strings(v)?)),
        _ => Err(malformed(format!("Policy statement must contain {what}."))),
    }
}

/// A string or a list of strings, as every IAM list may be written.
fn strings(value: &Value) -> Result<Vec<String>, PolicyError> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(malformed("Syntax errors in policy.")),
    };
    match value {
        Value::Array(list) => list.iter().map(scalar).collect(),
        single => Ok(vec![scalar(single)?]),
    }
}

fn parse_conditions(block: &serde_json::Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut conditions = Vec::new();
    for (name, keys) in block {
        let (qualifier, rest) = match name.split_once(':') {
            Some(("ForAnyValue", rest)) => (SetQualifier::ForAnyValue, rest),
            Some(("ForAllValues", rest)) => (SetQualifier::ForAllValues, rest),
            Some(_) => return Err(malformed(format!("Invalid Condition type : {name}."))),
            None => (SetQualifier::None, name.as_str()),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let operator = operator(base).ok_or_else(|| malformed(format!("Invalid Condition type : {name}.")))?;
        let keys = keys.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
        for (key, values) in keys {
            if !evaluated_key(key) {
                return Err(malformed(format!(
                    "Condition key {key} is not one keyfleet evaluates; a condition on it would never be what it says."
                )));
            }
            let values = strings(values)?;
            conditions.push(Condition { operator, qualifier, if_exists, key: key.to_ascii_lowercase(), values });
        }
    }
    Ok(conditions)
}

/// The condition keys keyfleet fills in some request (lowercase compare: names are
/// case-insensitive). A condition on any other key would be silently false (or, negated,
/// silently true), so a policy that names one is refused instead.
const EVALUATED_KEYS: [&str; 16] = [
    "iam:passedtoservice",
    "aws:sourceaccount",
    "aws:sourcearn",
    "sts:externalid",
    "sts:rolesessionname",
    "aws:sourceip",
    "aws:securetransport",
    "aws:requestedregion",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:username",
    "aws:tagkeys",
    "ec2:keypairname",
    "ec2:keypairtype",
    "ec2:createaction",
    "ec2:osuser",
];

fn evaluated_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let tag = |prefix: &str| key.strip_prefix(prefix).is_some_and(|name| !name.is_empty());
    EVALUATED_KEYS.contains(&key.as_str()) || tag("aws:requesttag/") || tag("aws:resourcetag/")
}

fn operator(name: &str) -> Option<Operator> {
    Some(match name {
        "StringEquals" => Operator::StringEquals,
        "StringNotEquals" => Operator::StringNotEquals,
        "StringEqualsIgnoreCase" => Operator::StringEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase" => Operator::StringNotEqualsIgnoreCase,
        "StringLike" => Operator::StringLike,
        "StringNotLike" => Operator::StringNotLike,
        // ArnEquals is ArnLike: both match each of the six parts with wildcards.
        "ArnLike" | "ArnEquals" => Operator::ArnLike,
        "ArnNotLike" | "ArnNotEquals" => Operator::ArnNotLike,
        "IpAddress" => Operator::IpAddress,
        "NotIpAddress" => Operator::NotIpAddress,
        "Bool" => Operator::Bool,
        "Null" => Operator::Null,
        _ => return None,
    })
}

impl Statement {
    fn applies(&self, request: &Request<'_>) -> bool {
        let action = |p: &str| wildcard_match(&p.to_ascii_lowercase(), &request.action.to_ascii_lowercase());
        let resource = |p: &str| wildcard_match(p, request.resource);
        self.actions.matches(action)
            && self.resources.matches(resource)
            && self.conditions.iter().all(|c| c.holds(request.context))
    }
}

impl Patterns {
    fn matches(&self, matcher: impl Fn(&str) -> bool) -> bool {
        match self {
            Patterns::Only(list) => list.iter().any(|p| matcher(p)),
            Patterns::AllBut(list) => !list.iter().any(|p| matcher(p)),
        }
    }
}

impl Operator {
    /// Negated operators are true when the key is absent, and require that no value matches.
    fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::ArnNotLike
                | Operator::NotIpAddress
        )
    }

    /// Whether one request value matches one policy value, before negation.
    fn matches(self, value: &str, pattern: &str) -> bool {
        match self {
            Operator::StringEquals | Operator::StringNotEquals => value == pattern,
            Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
                value.eq_ignore_ascii_case(pattern)
            }
            Operator::StringLike | Operator::StringNotLike => wildcard_match(pattern, value),
            Operator::ArnLike | Operator::ArnNotLike => arn_match(pattern, value),
            Operator::IpAddress | Operator::NotIpAddress => {
                value.parse::<IpAddr>().is_ok_and(|ip| crate::common::cidr::contains(pattern, ip))
            }
            Operator::Bool => value.eq_ignore_ascii_case(pattern),
            Operator::Null => false,
        }
    }

    /// Whether one request value satisfies the operator against all of the policy's values.
    fn satisfied_by(self, value: &str, patterns: &[String]) -> bool {
        let any = patterns.iter().any(|p| self.matches(value, p));
        if self.negated() { !any } else { any }
    }
}

/// IAM's ARN comparison: the six colon-separated parts each matched with wildcards, so a `*`
/// never spans a colon.
fn arn_match(pattern: &str, value: &str) -> bool {
    let patterns: Vec<&str> = pattern.splitn(6, ':').collect();
    let values: Vec<&str> = value.splitn(6, ':').collect();
    patterns.len() == 6 && values.len() == 6 && patterns.iter().zip(&values).all(|(p, v)| wildcard_match(p, v))
}

impl Condition {
    fn holds(&self, context: &ConditionContext) -> bool {
        let values = context.get(&self.key);
        if self.operator == Operator::Null {
            let absent = values.is_none_or(<[String]>::is_empty);
            return self.values.iter().any(|v| v.eq_ignore_ascii_case(&absent.to_string()));
        }
        let values = match values {
            Some(values) if !values.is_empty() => values,
            _ => {
                return match self.qualifier {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::None => self.if_exists || self.operator.negated(),
                };
            }
        };
        let satisfied = |v: &String| self.operator.satisfied_by(v, &self.values);
        match self.qualifier {
            SetQualifier::ForAllValues => values.iter().all(satisfied),
            SetQualifier::ForAnyValue => values.iter().any(satisfied),
            SetQualifier::None if self.operator.negated() => values.iter().all(satisfied),
            SetQualifier::None => values.iter().any(satisfied),
        }
    }
}

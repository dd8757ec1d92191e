//! The intrinsic functions, the pseudo-parameters and conditions: what a template's values
//! become once parameters are known and the resources they refer to exist (Intrinsic
//! function reference, CloudFormation User Guide; docs/aws-facts.md, "CloudFormation
//! templates").

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::{Map, Value};

use super::template::{MAX_DEPTH, Template, TemplateError, text_of};

type Result<T> = std::result::Result<T, TemplateError>;

/// The longest string a function may make. Nested `Fn::Sub`s or `Fn::Join`s would otherwise
/// grow a few bytes of template into gigabytes; the largest real values (a policy document,
/// `UserData` in base64) are far below it.
pub const MAX_STRING: usize = 64 * 1024;

fn capped_length(length: usize) -> Result<()> {
    if length > MAX_STRING {
        return Err(function_error(format!("a function's value is longer than {MAX_STRING} bytes")));
    }
    Ok(())
}

fn capped(text: String) -> Result<String> {
    if text.len() > MAX_STRING {
        return Err(function_error(format!("a function's value is longer than {MAX_STRING} bytes")));
    }
    Ok(text)
}

fn function_error(message: impl Into<String>) -> TemplateError {
    TemplateError::Function(message.into())
}

/// The pseudo-parameters of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pseudo {
    /// `AWS::AccountId`.
    pub account: String,
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::StackName`.
    pub stack_name: String,
    /// `AWS::StackId`.
    pub stack_id: String,
}

/// A resource that exists: what `Ref` gives for it, and its `Fn::GetAtt` attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provisioned {
    /// The physical id, which is also its `Ref` value.
    pub physical_id: String,
    /// Attribute name → value.
    pub attributes: Map<String, Value>,
}

/// Everything a value may refer to.
pub struct Env<'a> {
    /// The template.
    pub template: &'a Template,
    /// The pseudo-parameters.
    pub pseudo: &'a Pseudo,
    /// Each parameter's value: a string, or a list of strings.
    pub parameters: &'a BTreeMap<String, Value>,
    /// The conditions, evaluated.
    pub conditions: &'a BTreeMap<String, bool>,
    /// The resources created so far.
    pub resources: &'a BTreeMap<String, Provisioned>,
    /// The exports of the account and region: name → value.
    pub exports: &'a BTreeMap<String, String>,
    /// The region's Availability Zones, for `Fn::GetAZs`.
    pub zones: &'a [String],
    /// What this evaluation has made so far.
    pub budget: Budget,
}

/// What one evaluation (a resource's properties, the outputs, the conditions) may make in
/// all: each function's value is charged its size. [`MAX_STRING`] bounds one string; this
/// bounds the lists and the many copies a small template can still ask for.
pub const MAX_EVALUATION: usize = 4 * 1024 * 1024;

/// The bytes an evaluation has made, against [`MAX_EVALUATION`].
#[derive(Debug, Default)]
pub struct Budget(Cell<usize>);

impl Budget {
    fn charge(&self, value: &Value) -> Result<()> {
        let spent = self.0.get().saturating_add(size_of(value, 0));
        self.0.set(spent);
        if spent > MAX_EVALUATION {
            return Err(function_error(format!("the template's functions make more than {MAX_EVALUATION} bytes")));
        }
        Ok(())
    }
}

/// A value's size in memory, roughly: its text, and a few words per node.
fn size_of(value: &Value, depth: usize) -> usize {
    const NODE: usize = 32;
    if depth > MAX_DEPTH {
        return NODE;
    }
    match value {
        Value::String(text) => NODE + text.len(),
        Value::Array(items) => NODE + items.iter().map(|i| size_of(i, depth + 1)).sum::<usize>(),
        Value::Object(map) => NODE + map.iter().map(|(k, v)| k.len() + size_of(v, depth + 1)).sum::<usize>(),
        _ => NODE,
    }
}

impl Env<'_> {
    /// `value` with every function applied; `None` where it is `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>> {
        self.resolve_at(value, 0)
    }

    /// `value`, which may not be `AWS::NoValue`.
    pub fn resolve_value(&self, value: &Value) -> Result<Value> {
        self.resolve(value)?.ok_or_else(|| function_error("AWS::NoValue is not allowed here"))
    }

    fn resolve_at(&self, value: &Value, depth: usize) -> Result<Option<Value>> {
        if depth > MAX_DEPTH {
            return Err(function_error("Template is nested too deeply."));
        }
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.resolve_at(item, depth + 1)?);
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) => {
                if let Some((name, argument)) = single_function(map) {
                    return self.apply(name, argument, depth + 1);
                }
                let mut out = Map::new();
                for (key, item) in map {
                    if let Some(resolved) = self.resolve_at(item, depth + 1)? {
                        out.insert(key.clone(), resolved);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn apply(&self, name: &str, argument: &Value, depth: usize) -> Result<Option<Value>> {
        let value = self.apply_unbudgeted(name, argument, depth)?;
        if let Some(value) = &value {
            self.budget.charge(value)?;
        }
        Ok(value)
    }

    fn apply_unbudgeted(&self, name: &str, argument: &Value, depth: usize) -> Result<Option<Value>> {
        let value = match name {
            "Ref" => return self.reference(&text_of(argument)),
            "Fn::If" => return self.if_(argument, depth),
            "Fn::GetAtt" => self.get_att(argument, depth)?,
            "Fn::Sub" => Value::String(capped(self.sub(argument, depth)?)?),
            "Fn::Join" => Value::String(capped(self.join(argument, depth)?)?),
            "Fn::Select" => self.select(argument, depth)?,
            "Fn::Split" => self.split(argument, depth)?,
            "Fn::FindInMap" => self.find_in_map(argument, depth)?,
            "Fn::Base64" => {
                let text = self.string_argument("Fn::Base64", argument, depth)?;
                Value::String(capped(base64::engine::general_purpose::STANDARD.encode(text))?)
            }
            "Fn::GetAZs" => {
                let region = self.string_argument("Fn::GetAZs", argument, depth)?;
                if !region.is_empty() && region != self.pseudo.region {
                    return Err(function_error(format!("Fn::GetAZs: keyfleet serves {} only", self.pseudo.region)));
                }
                Value::Array(self.zones.iter().cloned().map(Value::String).collect())
            }
            "Fn::ImportValue" => {
                let export = self.string_argument("Fn::ImportValue", argument, depth)?;
                let value = self
                    .exports
                    .get(&export)
                    .ok_or_else(|| TemplateError::ParameterValue(format!("No export named {export} found.")))?;
                Value::String(value.clone())
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" | "Condition" => {
                Value::Bool(self.condition_function(name, argument, depth)?)
            }
            other => return Err(function_error(format!("Unsupported function {other}"))),
        };
        Ok(Some(value))
    }

    /// `Ref`: a parameter, a pseudo-parameter or a resource's physical id.
    fn reference(&self, name: &str) -> Result<Option<Value>> {
        let pseudo = match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::AccountId" => Some(self.pseudo.account.clone()),
            "AWS::Region" => Some(self.pseudo.region.clone()),
            "AWS::StackName" => Some(self.pseudo.stack_name.clone()),
            "AWS::StackId" => Some(self.pseudo.stack_id.clone()),
            "AWS::Partition" => Some("aws".to_owned()),
            "AWS::URLSuffix" => Some("amazonaws.com".to_owned()),
            "AWS::NotificationARNs" => return Ok(Some(Value::Array(Vec::new()))),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Ok(Some(Value::String(value)));
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(Some(value.clone()));
        }
        match self.resources.get(name) {
            Some(resource) => Ok(Some(Value::String(resource.physical_id.clone()))),
            None if self.template.resource(name).is_some() => {
                Err(function_error(format!("Resource {name} does not exist (its Condition is false)")))
            }
            None => Err(TemplateError::Unresolved(vec![name.to_owned()])),
        }
    }

    fn get_att(&self, argument: &Value, depth: usize) -> Result<Value> {
        let malformed = || function_error("every Fn::GetAtt object requires two non-empty parameters.");
        let Value::Array(args) = argument else { return Err(malformed()) };
        let [resource, attribute] = args.as_slice() else { return Err(malformed()) };
        let resource = text_of(resource);
        let attribute = match attribute {
            Value::String(text) => text.clone(),
            other => text_of(&self.resolve_value_at(other, depth)?),
        };
        self.attribute(&resource, &attribute)
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<Value> {
        let Some(created) = self.resources.get(resource) else {
            return Err(function_error(format!("instance of Fn::GetAtt references undefined resource {resource}")));
        };
        created.attributes.get(attribute).cloned().ok_or_else(|| {
            let kind = self.template.resource(resource).map(|r| r.kind.as_str()).unwrap_or_default();
            function_error(format!(
                "resource {resource} of type {kind} does not support attribute {attribute} in Fn::GetAtt"
            ))
        })
    }

    fn resolve_value_at(&self, value: &Value, depth: usize) -> Result<Value> {
        self.resolve_at(value, depth)?.ok_or_else(|| function_error("AWS::NoValue is not allowed here"))
    }

    fn string_argument(&self, function: &str, argument: &Value, depth: usize) -> Result<String> {
        match self.resolve_value_at(argument, depth)? {
            Value::Array(_) | Value::Object(_) => Err(function_error(format!("{function} requires a string argument"))),
            scalar => Ok(text_of(&scalar)),
        }
    }

    fn list_argument(&self, function: &str, argument: &Value, depth: usize) -> Result<Vec<Value>> {
        match self.resolve_value_at(argument, depth)? {
            Value::Array(items) => Ok(items),
            _ => Err(function_error(format!("{function} requires a list argument"))),
        }
    }

    fn sub(&self, argument: &Value, depth: usize) -> Result<String> {
        let (text, bound) = match argument {
            Value::String(text) => (text.clone(), Map::new()),
            Value::Array(args) => match args.as_slice() {
                [Value::String(text), Value::Object(vars)] => {
                    let mut bound = Map::new();
                    for (name, value) in vars {
                        bound.insert(name.clone(), Value::String(self.string_argument("Fn::Sub", value, depth)?));
                    }
                    (text.clone(), bound)
                }
                _ => return Err(function_error("Fn::Sub requires a string, or a string and a map of variables")),
            },
            _ => return Err(function_error("Fn::Sub requires a string, or a string and a map of variables")),
        };
        let mut out = String::with_capacity(text.len());
        for piece in sub_pieces(&text) {
            match piece {
                SubPiece::Literal(literal) => out.push_str(literal),
                SubPiece::Variable(name) => out.push_str(&self.sub_variable(name, &bound)?),
            }
            out = capped(out)?;
        }
        Ok(out)
    }

    fn sub_variable(&self, name: &str, bound: &Map<String, Value>) -> Result<String> {
        if let Some(value) = bound.get(name) {
            return Ok(text_of(value));
        }
        if let Some((resource, attribute)) = name.split_once('.')
            && self.template.resource(resource).is_some()
        {
            return Ok(text_of(&self.attribute(resource, attribute)?));
        }
        match self.reference(name)? {
            Some(Value::Array(_)) => Err(function_error(format!("Fn::Sub: {name} is a list, not a string"))),
            Some(value) => Ok(text_of(&value)),
            None => Err(function_error("Fn::Sub: AWS::NoValue is not allowed")),
        }
    }

    fn join(&self, argument: &Value, depth: usize) -> Result<String> {
        let malformed = || function_error("Fn::Join requires a delimiter and a list of values");
        let Value::Array(args) = argument else { return Err(malformed()) };
        let [delimiter, values] = args.as_slice() else { return Err(malformed()) };
        let delimiter = text_of(delimiter);
        let values = self.list_argument("Fn::Join", values, depth)?;
        if values.iter().any(|v| v.is_array() || v.is_object()) {
            return Err(malformed());
        }
        let texts: Vec<String> = values.iter().map(text_of).collect();
        // Measured before it is made: a long delimiter between many items is the bomb.
        let length = texts
            .iter()
            .map(String::len)
            .try_fold(delimiter.len().saturating_mul(texts.len().saturating_sub(1)), usize::checked_add);
        capped_length(length.unwrap_or(usize::MAX))?;
        Ok(texts.join(&delimiter))
    }

    fn select(&self, argument: &Value, depth: usize) -> Result<Value> {
        let malformed = || function_error("Fn::Select requires an index and a list");
        let Value::Array(args) = argument else { return Err(malformed()) };
        let [index, list] = args.as_slice() else { return Err(malformed()) };
        let index = text_of(&self.resolve_value_at(index, depth)?);
        let index: usize =
            index.parse().map_err(|_| function_error(format!("Fn::Select: index {index} is not a number")))?;
        let list = self.list_argument("Fn::Select", list, depth)?;
        list.get(index).cloned().ok_or_else(|| {
            function_error("Fn::Select cannot select nonexistent value at index ".to_owned() + &index.to_string())
        })
    }

    fn split(&self, argument: &Value, depth: usize) -> Result<Value> {
        let malformed = || function_error("Fn::Split requires a delimiter and a string");
        let Value::Array(args) = argument else { return Err(malformed()) };
        let [delimiter, source] = args.as_slice() else { return Err(malformed()) };
        let delimiter = text_of(delimiter);
        if delimiter.is_empty() {
            return Err(malformed());
        }
        let source = self.string_argument("Fn::Split", source, depth)?;
        Ok(Value::Array(source.split(delimiter.as_str()).map(|s| Value::String(s.to_owned())).collect()))
    }

    fn find_in_map(&self, argument: &Value, depth: usize) -> Result<Value> {
        let malformed = || function_error("Fn::FindInMap requires a map name, a top-level key and a second-level key");
        let Value::Array(args) = argument else { return Err(malformed()) };
        let [map, top, second] = args.as_slice() else { return Err(malformed()) };
        let keys = [map, top, second].map(|k| self.string_argument("Fn::FindInMap", k, depth));
        let [map, top, second] = keys;
        let (map, top, second) = (map?, top?, second?);
        let found = self.template.mappings.get(&map).ok_or_else(|| {
            function_error(format!("Mapping named '{map}' is not present in the 'Mappings' section of template."))
        })?;
        let found = found
            .get(&top)
            .ok_or_else(|| function_error(format!("Unable to get mapping for {map}::{top}::{second}")))?;
        found
            .get(&second)
            .cloned()
            .ok_or_else(|| function_error(format!("Unable to get mapping for {map}::{top}::{second}")))
    }

    fn if_(&self, argument: &Value, depth: usize) -> Result<Option<Value>> {
        let malformed = || function_error("Fn::If requires a condition name and two values");
        let Value::Array(args) = argument else { return Err(malformed()) };
        let [condition, when_true, when_false] = args.as_slice() else { return Err(malformed()) };
        let chosen = if self.named_condition(&text_of(condition))? { when_true } else { when_false };
        self.resolve_at(chosen, depth)
    }

    fn named_condition(&self, name: &str) -> Result<bool> {
        self.conditions.get(name).copied().ok_or_else(|| function_error(format!("Condition {name} is not defined")))
    }

    fn condition_function(&self, name: &str, argument: &Value, depth: usize) -> Result<bool> {
        let conditions = |min: usize, max: usize| -> Result<Vec<bool>> {
            match argument {
                Value::Array(items) if (min..=max).contains(&items.len()) => {
                    items.iter().map(|i| self.truth(i, depth)).collect()
                }
                _ => Err(function_error(format!("{name} requires between {min} and {max} conditions"))),
            }
        };
        match name {
            "Condition" => self.named_condition(&text_of(argument)),
            "Fn::Equals" => match argument {
                Value::Array(items) if items.len() == 2 => {
                    let values = items.iter().map(|i| self.resolve_value_at(i, depth)).collect::<Result<Vec<_>>>()?;
                    let text = |v: &Value| if v.is_array() { v.to_string() } else { text_of(v) };
                    Ok(values.first().map(text) == values.get(1).map(text))
                }
                _ => Err(function_error("Fn::Equals requires two values")),
            },
            "Fn::Not" => Ok(!conditions(1, 1)?.iter().all(|c| *c)),
            "Fn::And" => Ok(conditions(2, 10)?.iter().all(|c| *c)),
            _ => Ok(conditions(2, 10)?.iter().any(|c| *c)),
        }
    }

    /// A condition's value: a function that yields a boolean, or a condition's name.
    fn truth(&self, value: &Value, depth: usize) -> Result<bool> {
        match self.resolve_value_at(value, depth)? {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            _ => Err(function_error("a condition must be a condition function or a condition name")),
        }
    }
}

/// `map`'s one function, when it is `{"Fn::…": argument}`, `{"Ref": …}` or `{"Condition": …}`.
fn single_function(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    if map.len() != 1 {
        return None;
    }
    let (name, argument) = map.iter().next()?;
    (name == "Ref" || name == "Condition" || name.starts_with("Fn::")).then_some((name.as_str(), argument))
}

/// Evaluates every condition of the template, each once, in any order they refer to each
/// other; a condition that refers to itself is an error.
pub fn evaluate_conditions(
    template: &Template,
    pseudo: &Pseudo,
    parameters: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, bool>> {
    let done = RefCell::new(BTreeMap::new());
    let mut visiting = BTreeSet::new();
    for name in template.conditions.keys() {
        evaluate_condition(template, pseudo, parameters, name, &done, &mut visiting)?;
    }
    Ok(done.into_inner())
}

fn evaluate_condition(
    template: &Template,
    pseudo: &Pseudo,
    parameters: &BTreeMap<String, Value>,
    name: &str,
    done: &RefCell<BTreeMap<String, bool>>,
    visiting: &mut BTreeSet<String>,
) -> Result<bool> {
    if let Some(value) = done.borrow().get(name) {
        return Ok(*value);
    }
    let definition =
        template.conditions.get(name).ok_or_else(|| function_error(format!("Condition {name} is not defined")))?;
    if !visiting.insert(name.to_owned()) {
        return Err(function_error(format!("Circular condition dependency: {name}")));
    }
    // A chain of conditions naming each other is followed as deep as a value may nest.
    if visiting.len() > MAX_DEPTH {
        return Err(function_error("Conditions refer to each other too deeply."));
    }
    // The conditions this one names are evaluated first, so that its own evaluation finds them.
    for other in condition_names(definition) {
        evaluate_condition(template, pseudo, parameters, &other, done, visiting)?;
    }
    let value = {
        let known = done.borrow();
        let empty = BTreeMap::new();
        let env = Env {
            template,
            pseudo,
            parameters,
            conditions: &known,
            resources: &empty,
            exports: &BTreeMap::new(),
            zones: &[],
            budget: Budget::default(),
        };
        env.truth(definition, 0)?
    };
    done.borrow_mut().insert(name.to_owned(), value);
    visiting.remove(name);
    Ok(value)
}

fn condition_names(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(condition_names).collect(),
        Value::Object(map) => match single_function(map) {
            Some(("Condition", name)) => vec![text_of(name)],
            _ => map.values().flat_map(condition_names).collect(),
        },
        _ => Vec::new(),
    }
}

enum SubPiece<'a> {
    Literal(&'a str),
    Variable(&'a str),
}

/// `Fn::Sub`'s string in pieces: `${Name}` is a variable, `${!Literal}` writes `${Literal}`.
fn sub_pieces(text: &str) -> Vec<SubPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        pieces.push(SubPiece::Literal(before));
        let inner = after.get(2..).unwrap_or_default();
        let Some(end) = inner.find('}') else {
            pieces.push(SubPiece::Literal(after));
            return pieces;
        };
        let (name, remainder) = inner.split_at(end);
        if let Some(literal) = name.strip_prefix('!') {
            pieces.push(SubPiece::Literal("${"));
            pieces.push(SubPiece::Literal(literal));
            pieces.push(SubPiece::Literal("}"));
        } else {
            pieces.push(SubPiece::Variable(name.trim()));
        }
        rest = remainder.get(1..).unwrap_or_default();
    }
    pieces.push(SubPiece::Literal(rest));
    pieces
}

/// The variables a `Fn::Sub` string names.
pub fn sub_variables(text: &str) -> Vec<String> {
    sub_pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            SubPiece::Variable(name) => Some(name.to_owned()),
            SubPiece::Literal(_) => None,
        })
        .collect()
}

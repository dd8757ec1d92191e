//! A CloudFormation template, read into one shape and declared: JSON or YAML (YAML's short-form
//! tags such as `!Ref` become the long-form functions, so the rest of the engine sees JSON
//! only), then its sections checked (docs/aws-facts.md, "CloudFormation templates").

use std::collections::BTreeSet;

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value};

/// `TemplateBody`'s limit in bytes (CloudFormation quotas).
pub const MAX_BODY_BYTES: usize = 51_200;
const MAX_RESOURCES: usize = 500;
const MAX_PARAMETERS: usize = 200;
const MAX_OUTPUTS: usize = 200;
/// Deeper nesting than any template needs; it keeps conversion and evaluation off the end of
/// the stack.
pub(super) const MAX_DEPTH: usize = 64;

const SECTIONS: [&str; 9] = [
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Resources",
    "Outputs",
    "Rules",
];
const RESOURCE_ATTRIBUTES: [&str; 9] = [
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
];
const PARAMETER_ATTRIBUTES: [&str; 10] = [
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "ConstraintDescription",
    "Description",
    "MaxLength",
    "MinLength",
    "MaxValue",
    "MinValue",
];

/// What is wrong with a template or with the parameters given for it. Each message is
/// CloudFormation's (`ValidationError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template is not JSON or YAML, or a section has the wrong shape.
    #[error("Template format error: {0}")]
    Format(String),
    /// Resource types keyfleet does not provision.
    #[error("Template format error: Unrecognized resource types: [{}]", .0.join(", "))]
    UnrecognizedTypes(Vec<String>),
    /// `Ref`, `Fn::GetAtt`, `Fn::Sub` or `DependsOn` name nothing declared.
    #[error("Template format error: Unresolved resource dependencies [{}] in the Resources block of the template", .0.join(", "))]
    Unresolved(Vec<String>),
    /// Resources that depend on each other.
    #[error("Circular dependency between resources: [{}]", .0.join(", "))]
    Circular(Vec<String>),
    /// A function used wrongly, or one whose value cannot be had.
    #[error("Template error: {0}")]
    Function(String),
    /// Parameters without a value or a default.
    #[error("Parameters: [{}] must have values", .0.join(", "))]
    MissingParameters(Vec<String>),
    /// Parameters the template does not declare.
    #[error("Parameters: [{}] do not exist in the template", .0.join(", "))]
    UnknownParameters(Vec<String>),
    /// A value against its parameter's constraints (the whole message).
    #[error("{0}")]
    ParameterValue(String),
}

type Result<T> = std::result::Result<T, TemplateError>;

fn format_error(message: impl Into<String>) -> TemplateError {
    TemplateError::Format(message.into())
}

/// A template, checked and declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `Description`.
    pub description: Option<String>,
    /// `Parameters`, in template order.
    pub parameters: Vec<ParameterDecl>,
    /// `Mappings`.
    pub mappings: Map<String, Value>,
    /// `Conditions`, unevaluated.
    pub conditions: Map<String, Value>,
    /// `Resources`, in template order.
    pub resources: Vec<ResourceDecl>,
    /// `Outputs`, in template order.
    pub outputs: Vec<OutputDecl>,
}

/// A parameter's `Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterType {
    /// `String` and the AWS-specific types whose value is one id or name.
    String,
    /// `Number`: a string that parses as a number.
    Number,
    /// `CommaDelimitedList`, `List<Number>` and `List<AWS::…>`: a list of strings.
    List,
    /// `AWS::SSM::Parameter::Value<…>`: the name of a Parameter Store parameter whose value is
    /// used; the flag says the value is a list.
    SsmValue {
        /// `List<…>` or `CommaDelimitedList` inside the brackets.
        list: bool,
    },
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterDecl {
    /// Its name.
    pub name: String,
    /// `Type` as written.
    pub type_name: String,
    /// `Type`, understood.
    pub kind: ParameterType,
    /// `Default`.
    pub default: Option<String>,
    /// `AllowedValues`.
    pub allowed_values: Vec<String>,
    /// `AllowedPattern`, anchored as CloudFormation anchors it.
    pub allowed_pattern: Option<String>,
    /// `ConstraintDescription`, shown instead of the generic message.
    pub constraint_description: Option<String>,
    /// `NoEcho`.
    pub no_echo: bool,
    /// `Description`.
    pub description: Option<String>,
    /// `MinLength` / `MaxLength`.
    pub length: (Option<u64>, Option<u64>),
    /// `MinValue` / `MaxValue`.
    pub value: (Option<f64>, Option<f64>),
}

/// `DeletionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete the resource with the stack (the default).
    Delete,
    /// Leave it behind.
    Retain,
}

/// One declared resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDecl {
    /// Its logical id.
    pub logical_id: String,
    /// `Type`.
    pub kind: String,
    /// `Properties` (an object), unevaluated.
    pub properties: Value,
    /// `DependsOn`.
    pub depends_on: Vec<String>,
    /// `Condition`.
    pub condition: Option<String>,
    /// `DeletionPolicy`.
    pub deletion_policy: DeletionPolicy,
}

/// One declared output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDecl {
    /// Its logical name.
    pub name: String,
    /// `Value`, unevaluated.
    pub value: Value,
    /// `Description`.
    pub description: Option<String>,
    /// `Export.Name`, unevaluated.
    pub export_name: Option<Value>,
    /// `Condition`.
    pub condition: Option<String>,
}

impl Template {
    /// Reads a template body (JSON, or else YAML) and checks its sections.
    pub fn parse(body: &str) -> Result<Template> {
        if body.len() > MAX_BODY_BYTES {
            return Err(format_error(format!("Template may not exceed {MAX_BODY_BYTES} bytes in size.")));
        }
        let document = read_document(body)?;
        let Value::Object(sections) = document else {
            return Err(format_error("Template must be a JSON or YAML object."));
        };
        Template::declare(&sections)
    }

    fn declare(sections: &Map<String, Value>) -> Result<Template> {
        let unknown: Vec<&str> = sections.keys().map(String::as_str).filter(|k| !SECTIONS.contains(k)).collect();
        if !unknown.is_empty() {
            return Err(format_error(format!("Invalid template property or properties [{}]", unknown.join(", "))));
        }
        if sections.contains_key("Rules") {
            return Err(format_error("keyfleet does not implement the Rules section."));
        }
        if let Some(version) = sections.get("AWSTemplateFormatVersion")
            && version.as_str() != Some("2010-09-09")
        {
            return Err(format_error(format!("'{}' is not a valid template version.", text_of(version))));
        }
        let description = match sections.get("Description") {
            None => None,
            Some(Value::String(text)) if text.len() <= 1024 => Some(text.clone()),
            Some(Value::String(_)) => return Err(format_error("Description may not exceed 1024 characters.")),
            Some(_) => return Err(format_error("Every Description member must be a string.")),
        };
        let resources = match sections.get("Resources") {
            Some(Value::Object(map)) if !map.is_empty() => declare_resources(map)?,
            _ => return Err(format_error("At least one Resources member must be defined.")),
        };
        let parameters = match sections.get("Parameters") {
            None => Vec::new(),
            Some(Value::Object(map)) => {
                map.iter().map(|(name, decl)| declare_parameter(name, decl)).collect::<Result<_>>()?
            }
            Some(_) => return Err(format_error("The Parameters section must be an object.")),
        };
        let outputs = match sections.get("Outputs") {
            None => Vec::new(),
            Some(Value::Object(map)) => {
                map.iter().map(|(name, decl)| declare_output(name, decl)).collect::<Result<_>>()?
            }
            Some(_) => return Err(format_error("The Outputs section must be an object.")),
        };
        let template = Template {
            description,
            parameters,
            mappings: section_object(sections, "Mappings")?,
            conditions: section_object(sections, "Conditions")?,
            resources,
            outputs,
        };
        template.check_limits()?;
        Ok(template)
    }

    fn check_limits(&self) -> Result<()> {
        let counts = [
            ("resources", self.resources.len(), MAX_RESOURCES),
            ("parameters", self.parameters.len(), MAX_PARAMETERS),
            ("outputs", self.outputs.len(), MAX_OUTPUTS),
        ];
        for (what, count, max) in counts {
            if count > max {
                return Err(format_error(format!("Number of {what}, {count}, is greater than maximum allowed, {max}")));
            }
        }
        Ok(())
    }

    /// The resource declared under `logical_id`.
    pub fn resource(&self, logical_id: &str) -> Option<&ResourceDecl> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// The parameter declared under `name`.
    pub fn parameter(&self, name: &str) -> Option<&ParameterDecl> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

fn section_object(sections: &Map<String, Value>, name: &str) -> Result<Map<String, Value>> {
    match sections.get(name) {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(format_error(format!("The {name} section must be an object."))),
    }
}

/// A scalar as CloudFormation reads it where it wants text: numbers and booleans too.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn declare_resources(map: &Map<String, Value>) -> Result<Vec<ResourceDecl>> {
    map.iter().map(|(logical_id, decl)| declare_resource(logical_id, decl)).collect()
}

fn check_logical_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 255 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format_error(format!("Resource name {id} is non alphanumeric.")));
    }
    Ok(())
}

fn declare_resource(logical_id: &str, decl: &Value) -> Result<ResourceDecl> {
    check_logical_id(logical_id)?;
    let Value::Object(attributes) = decl else {
        return Err(format_error(format!("[/Resources/{logical_id}] resource definition is malformed")));
    };
    if let Some(unknown) = attributes.keys().find(|k| !RESOURCE_ATTRIBUTES.contains(&k.as_str())) {
        return Err(format_error(format!("Invalid template resource property '{unknown}'")));
    }
    let kind = match attributes.get("Type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => {
            return Err(format_error(format!(
                "[/Resources/{logical_id}] Every Resources object must contain a Type member."
            )));
        }
    };
    let properties = match attributes.get("Properties") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(_) => {
            return Err(format_error(format!("[/Resources/{logical_id}/Properties] Properties must be an object.")));
        }
    };
    let depends_on = match attributes.get("DependsOn") {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) if many.iter().all(Value::is_string) => many.iter().map(text_of).collect(),
        Some(_) => {
            return Err(format_error(format!(
                "[/Resources/{logical_id}/DependsOn] DependsOn must be a string or a list of strings."
            )));
        }
    };
    let condition = optional_name(attributes.get("Condition"), logical_id, "Condition")?;
    // What keyfleet cannot honour is refused, not skipped: resource signals, update policies,
    // keeping a replaced resource, and a policy that differs on a create's rollback.
    let unsupported = |what: &str| format_error(format!("keyfleet does not implement {what} (resource {logical_id})"));
    for attribute in ["CreationPolicy", "UpdatePolicy"] {
        if attributes.contains_key(attribute) {
            return Err(unsupported(attribute));
        }
    }
    if attributes.get("UpdateReplacePolicy").is_some_and(|p| text_of(p) != "Delete") {
        return Err(unsupported("UpdateReplacePolicy other than Delete"));
    }
    let deletion_policy = match attributes.get("DeletionPolicy").map(text_of).as_deref() {
        None | Some("Delete") => DeletionPolicy::Delete,
        Some("Retain") => DeletionPolicy::Retain,
        Some("RetainExceptOnCreate") => return Err(unsupported("DeletionPolicy RetainExceptOnCreate")),
        Some(other) => {
            return Err(format_error(format!("Unrecognized DeletionPolicy {other} for resource {logical_id}")));
        }
    };
    Ok(ResourceDecl { logical_id: logical_id.to_owned(), kind, properties, depends_on, condition, deletion_policy })
}

fn optional_name(value: Option<&Value>, owner: &str, attribute: &str) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(Value::String(name)) => Ok(Some(name.clone())),
        Some(_) => Err(format_error(format!("[{owner}] {attribute} must be a string."))),
    }
}

fn declare_parameter(name: &str, decl: &Value) -> Result<ParameterDecl> {
    check_logical_id(name).map_err(|_| format_error(format!("Parameter name {name} is non alphanumeric.")))?;
    let Value::Object(attributes) = decl else {
        return Err(format_error(format!("[/Parameters/{name}] parameter definition is malformed")));
    };
    let known = |k: &&String| PARAMETER_ATTRIBUTES.contains(&k.as_str()) || k.as_str() == "NoEcho";
    if let Some(unknown) = attributes.keys().find(|k| !known(k)) {
        return Err(format_error(format!("Invalid template parameter property '{unknown}'")));
    }
    let Some(type_name) = attributes.get("Type").map(text_of) else {
        return Err(format_error(format!("[/Parameters/{name}] Every Parameters object must contain a Type member.")));
    };
    let kind =
        parameter_type(&type_name).ok_or_else(|| format_error(format!("Unrecognized parameter type: {type_name}")))?;
    let text = |key: &str| attributes.get(key).map(text_of);
    let number = |key: &str| -> Result<Option<f64>> {
        attributes
            .get(key)
            .map(|v| text_of(v).parse::<f64>().map_err(|_| format_error(format!("Invalid {key} for parameter {name}"))))
            .transpose()
    };
    let length = |key: &str| -> Result<Option<u64>> {
        attributes
            .get(key)
            .map(|v| text_of(v).parse::<u64>().map_err(|_| format_error(format!("Invalid {key} for parameter {name}"))))
            .transpose()
    };
    let allowed_values = match attributes.get("AllowedValues") {
        None => Vec::new(),
        Some(Value::Array(values)) => values.iter().map(text_of).collect(),
        Some(_) => {
            return Err(format_error(format!("[/Parameters/{name}/AllowedValues] AllowedValues must be a list.")));
        }
    };
    let no_echo = matches!(attributes.get("NoEcho"), Some(Value::Bool(true)))
        || attributes.get("NoEcho").map(text_of).is_some_and(|t| t.eq_ignore_ascii_case("true"));
    Ok(ParameterDecl {
        name: name.to_owned(),
        type_name,
        kind,
        default: text("Default"),
        allowed_values,
        allowed_pattern: text("AllowedPattern"),
        constraint_description: text("ConstraintDescription"),
        no_echo,
        description: text("Description"),
        length: (length("MinLength")?, length("MaxLength")?),
        value: (number("MinValue")?, number("MaxValue")?),
    })
}

/// The AWS-specific types whose value is an id or name (Parameter types, CloudFormation
/// User Guide).
const AWS_TYPES: [&str; 8] = [
    "AWS::EC2::AvailabilityZone::Name",
    "AWS::EC2::Image::Id",
    "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName",
    "AWS::EC2::SecurityGroup::GroupName",
    "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id",
    "AWS::EC2::VPC::Id",
];

fn parameter_type(name: &str) -> Option<ParameterType> {
    let list_of = |inner: &str| inner == "Number" || AWS_TYPES.contains(&inner);
    if let Some(inner) = name.strip_prefix("AWS::SSM::Parameter::Value<").and_then(|r| r.strip_suffix('>')) {
        let list = match inner {
            "String" => false,
            "List<String>" | "CommaDelimitedList" => true,
            other if AWS_TYPES.contains(&other) => false,
            other => list_of(other.strip_prefix("List<")?.strip_suffix('>')?).then_some(true)?,
        };
        return Some(ParameterType::SsmValue { list });
    }
    match name {
        "String" | "AWS::SSM::Parameter::Name" => Some(ParameterType::String),
        "Number" => Some(ParameterType::Number),
        "CommaDelimitedList" => Some(ParameterType::List),
        other if AWS_TYPES.contains(&other) => Some(ParameterType::String),
        other => list_of(other.strip_prefix("List<")?.strip_suffix('>')?).then_some(ParameterType::List),
    }
}

fn declare_output(name: &str, decl: &Value) -> Result<OutputDecl> {
    check_logical_id(name).map_err(|_| format_error(format!("Output name {name} is non alphanumeric.")))?;
    let Value::Object(attributes) = decl else {
        return Err(format_error(format!("[/Outputs/{name}] output definition is malformed")));
    };
    if let Some(unknown) =
        attributes.keys().find(|k| !["Value", "Description", "Export", "Condition"].contains(&k.as_str()))
    {
        return Err(format_error(format!("Invalid outputs property : [{unknown}]")));
    }
    let Some(value) = attributes.get("Value").cloned() else {
        return Err(format_error(format!(
            "Every Outputs member must contain a Value object, the Outputs member {name} does not"
        )));
    };
    let export_name = match attributes.get("Export") {
        None => None,
        Some(Value::Object(export)) => Some(
            export
                .get("Name")
                .cloned()
                .ok_or_else(|| format_error(format!("[/Outputs/{name}/Export] Export must have a Name.")))?,
        ),
        Some(_) => return Err(format_error(format!("[/Outputs/{name}/Export] Export must be an object."))),
    };
    Ok(OutputDecl {
        name: name.to_owned(),
        value,
        description: attributes.get("Description").map(text_of),
        export_name,
        condition: optional_name(attributes.get("Condition"), name, "Condition")?,
    })
}

/// The body as JSON: read as JSON when it is an object, else as YAML. Every string in it must
/// be one XML can carry, as every name and value the API answers with must be.
fn read_document(body: &str) -> Result<Value> {
    let document = if body.trim_start().starts_with('{')
        && let Ok(value) = serde_json::from_str::<Value>(body)
    {
        value
    } else {
        read_yaml(body)?
    };
    check_text(&document, 0)?;
    Ok(document)
}

fn check_text(value: &Value, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(format_error("Template is nested too deeply."));
    }
    let unsafe_text = |text: &str| !text.chars().all(crate::common::wire::xml_safe);
    match value {
        Value::String(text) if unsafe_text(text) => {
            Err(format_error("Template contains characters that are not allowed (control characters)."))
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_text(i, depth + 1)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if unsafe_text(key) {
                return Err(format_error("Template contains characters that are not allowed (control characters)."));
            }
            check_text(item, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// YAML as CloudFormation takes it: no aliases (CloudFormation does not support them), and
/// no deeper nesting than [`MAX_DEPTH`]; both refused from the event stream, before a tree
/// that could be huge or deep is built.
fn read_yaml(body: &str) -> Result<Value> {
    let malformed = |e: &dyn std::fmt::Display| format_error(format!("YAML not well-formed. {e}"));
    let mut depth = 0usize;
    for event in saphyr_parser::Parser::new_from_str(body) {
        let (event, _) = event.map_err(|e| malformed(&e))?;
        match event {
            saphyr_parser::Event::Alias(_) => {
                return Err(format_error("YAML aliases are not supported."));
            }
            saphyr_parser::Event::SequenceStart(..) | saphyr_parser::Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format_error("Template is nested too deeply."));
                }
            }
            saphyr_parser::Event::SequenceEnd | saphyr_parser::Event::MappingEnd => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    let documents = Yaml::load_from_str(body).map_err(|e| malformed(&e))?;
    let mut documents = documents.into_iter();
    let (Some(document), None) = (documents.next(), documents.next()) else {
        return Err(format_error("A template must be exactly one YAML document."));
    };
    yaml_to_json(&document, 0)
}

/// The short-form tags and the functions they stand for (Intrinsic function reference,
/// CloudFormation User Guide).
const SHORT_FORMS: [(&str, &str); 16] = [
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("GetAtt", "Fn::GetAtt"),
    ("Sub", "Fn::Sub"),
    ("Join", "Fn::Join"),
    ("If", "Fn::If"),
    ("Equals", "Fn::Equals"),
    ("Not", "Fn::Not"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("FindInMap", "Fn::FindInMap"),
    ("Base64", "Fn::Base64"),
    ("GetAZs", "Fn::GetAZs"),
    ("ImportValue", "Fn::ImportValue"),
];

fn yaml_to_json(node: &Yaml<'_>, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(format_error("Template is nested too deeply."));
    }
    Ok(match node {
        Yaml::Value(scalar) => scalar_to_json(scalar),
        Yaml::Representation(text, ..) => Value::String(text.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(|i| yaml_to_json(i, depth + 1)).collect::<Result<_>>()?),
        Yaml::Mapping(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = match yaml_to_json(key, depth + 1)? {
                    Value::String(key) => key,
                    Value::Object(_) | Value::Array(_) => return Err(format_error("Mapping keys must be scalars.")),
                    other => other.to_string(),
                };
                map.insert(key, yaml_to_json(value, depth + 1)?);
            }
            Value::Object(map)
        }
        Yaml::Tagged(tag, inner) => {
            let function = SHORT_FORMS
                .iter()
                .find(|(short, _)| tag.handle == "!" && tag.suffix == *short)
                .map(|(_, long)| *long)
                .ok_or_else(|| format_error(format!("Unsupported YAML tag !{}", tag.suffix)))?;
            let mut argument = yaml_to_json(inner, depth + 1)?;
            // `!GetAtt Resource.Attribute` is the string form of the two-element list.
            if function == "Fn::GetAtt"
                && let Value::String(text) = &argument
            {
                let (resource, attribute) = text.split_once('.').ok_or_else(|| {
                    format_error(format!(
                        "Template error: every Fn::GetAtt object requires two non-empty parameters ({text})"
                    ))
                })?;
                argument = Value::Array(vec![resource.into(), attribute.into()]);
            }
            Value::Object(Map::from_iter([(function.to_owned(), argument)]))
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err(format_error("YAML not well-formed.")),
    })
}

fn scalar_to_json(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

/// Every name a value refers to through `Ref`, `Fn::GetAtt` and `Fn::Sub`, as written (the
/// pseudo-parameters included).
pub fn references(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(value, &mut found, 0);
    found
}

fn collect_references(value: &Value, found: &mut BTreeSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, found, depth + 1)),
        Value::Object(map) => {
            if map.len() == 1 {
                match map.iter().next() {
                    Some((k, Value::String(name))) if k == "Ref" => {
                        found.insert(name.clone());
                    }
                    Some((k, Value::Array(args))) if k == "Fn::GetAtt" => {
                        if let Some(Value::String(name)) = args.first() {
                            found.insert(name.clone());
                        }
                    }
                    Some((k, sub)) if k == "Fn::Sub" => {
                        let text = match sub {
                            Value::String(text) => Some(text.as_str()),
                            Value::Array(args) => args.first().and_then(Value::as_str),
                            _ => None,
                        };
                        let bound: BTreeSet<&String> = match sub {
                            Value::Array(args) => {
                                args.get(1).and_then(Value::as_object).map(|m| m.keys().collect()).unwrap_or_default()
                            }
                            _ => BTreeSet::new(),
                        };
                        for name in text.map(super::intrinsics::sub_variables).unwrap_or_default() {
                            let base = name.split_once('.').map_or(name.as_str(), |(b, _)| b).to_owned();
                            if !bound.contains(&name) && !bound.contains(&base) {
                                found.insert(base);
                            }
                        }
                    }
                    _ => {}
                }
            }
            map.values().for_each(|v| collect_references(v, found, depth + 1));
        }
        _ => {}
    }
}

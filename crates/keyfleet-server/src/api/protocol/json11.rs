//! AWS JSON 1.1 (SSM, EC2 Instance Connect): `POST /` with `X-Amz-Target: <Service>.<Op>`,
//! a JSON object in and out, timestamps as epoch seconds, and errors as
//! `{"__type": code, "message": text}` (docs/aws-facts.md, "AWS JSON 1.1 protocol").

use serde_json::{Map, Value};

use crate::api::error::ApiError;

/// A decoded request body.
pub struct JsonInput(Map<String, Value>);

impl JsonInput {
    /// Parses the body; an empty body is an empty object.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonInput(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(JsonInput(map)),
            _ => Err(ApiError::serialization()),
        }
    }

    /// A request made inside keyfleet (CloudFormation's resource handlers).
    pub fn from_map(members: Map<String, Value>) -> Self {
        JsonInput(members)
    }

    /// Overwrites every string member before the input is dropped: for an input that
    /// carried a secret (a private key put into Parameter Store).
    pub fn wipe(mut self) {
        use zeroize::Zeroize;
        for value in self.0.values_mut() {
            if let Value::String(text) = value {
                text.zeroize();
            }
        }
    }

    /// The members as a JSON object for the audit log, secrets redacted.
    pub fn audit_json(&self) -> Value {
        let redacted =
            self.0.iter().map(|(k, v)| (k.clone(), crate::service::audit::redact(k, v))).collect::<Map<_, _>>();
        Value::Object(redacted)
    }

    /// True if the member is present, whatever its type.
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| !v.is_null())
    }

    /// A string member.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// A required string member; absent is AWS's validation error.
    pub fn required(&self, name: &str, member: &str) -> Result<&str, ApiError> {
        self.str(name).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// A required list; absent (or not a list) is AWS's validation error.
    pub fn required_array(&self, name: &str, member: &str) -> Result<&Vec<Value>, ApiError> {
        self.array(name).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// A boolean member, false when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.0.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    /// An integer member.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    /// A number member (timestamps arrive as epoch seconds, possibly fractional).
    pub fn float(&self, name: &str) -> Option<f64> {
        self.0.get(name).and_then(Value::as_f64)
    }

    /// A list of strings.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// An array member, e.g. `Filters`.
    pub fn array(&self, name: &str) -> Option<&Vec<Value>> {
        self.0.get(name).and_then(Value::as_array)
    }

    /// The first member not among `known`, if any.
    pub fn first_unknown(&self, known: &[&str]) -> Option<&str> {
        self.0.keys().map(String::as_str).find(|name| !known.contains(name))
    }

    /// An object member, e.g. `Parameters` of StartAutomationExecution.
    pub fn object(&self, name: &str) -> Option<&Map<String, Value>> {
        self.0.get(name).and_then(Value::as_object)
    }
}

/// JSON 1.1 timestamps: epoch seconds with milliseconds.
pub fn epoch_seconds(ms: i64) -> Value {
    serde_json::Number::from_f64(crate::common::time::epoch_seconds(ms)).map_or(Value::Null, Value::Number)
}

/// The error body. `message_member` is `message` for SSM and `Message` for Instance
/// Connect and Automation errors, as their models spell it; an empty message is left out.
pub fn error(err: &ApiError, message_member: &str) -> String {
    let mut body = Map::new();
    body.insert("__type".into(), Value::String(err.code.to_string()));
    if !err.message.is_empty() {
        body.insert(message_member.into(), Value::String(err.message.clone()));
    }
    Value::Object(body).to_string()
}

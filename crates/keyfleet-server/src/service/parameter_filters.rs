//! Parameter Store's filters (SSM API reference, `ParameterStringFilter` and
//! `ParametersFilter`; sources in docs/security.md): DescribeParameters takes either the old
//! `Filters` or `ParameterFilters`, GetParametersByPath only `ParameterFilters` without the
//! keys its path already decides. A filter keyfleet cannot answer exactly is refused with
//! SSM's error, never ignored: an ignored filter would answer "everything".

use super::{Error, Result};
use crate::store::{ParameterRow, ParameterType, Tag, WireName};

/// The most values one filter may have.
const MAX_VALUES: usize = 50;
/// The longest value.
const MAX_VALUE_LEN: usize = 1024;

/// What a filter looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Name,
    Path,
    Type,
    KeyId,
    Label,
    Tier,
    DataType,
    Tag(String),
}

/// How it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equals,
    BeginsWith,
    Contains,
    Recursive,
    OneLevel,
}

/// One parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFilter {
    key: Field,
    comparison: Comparison,
    values: Vec<String>,
}

/// Which operation the filters are for: they differ in the keys they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `DescribeParameters`.
    Describe,
    /// `GetParametersByPath`: Name, Path and Tier are its own business.
    ByPath,
}

/// A filter as the request spelled it.
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    /// `Key`.
    pub key: String,
    /// `Option`, for `ParameterFilters`.
    pub option: Option<String>,
    /// `Values`.
    pub values: Vec<String>,
}

/// Parses `ParameterFilters` (or, with `legacy`, the old `Filters`, which only compare
/// Name, Type and KeyId for equality).
pub fn parse(raw: &[RawFilter], operation: Operation, legacy: bool) -> Result<Vec<ParameterFilter>> {
    raw.iter().map(|f| parse_one(f, operation, legacy)).collect()
}

fn parse_one(raw: &RawFilter, operation: Operation, legacy: bool) -> Result<ParameterFilter> {
    let key = match raw.key.as_str() {
        "Name" => Field::Name,
        "Type" => Field::Type,
        "KeyId" => Field::KeyId,
        "Path" if !legacy => Field::Path,
        // A label picks a version: only GetParametersByPath, which answers with versions.
        "Label" if !legacy && operation == Operation::ByPath => Field::Label,
        "Tier" if !legacy => Field::Tier,
        "DataType" if !legacy => Field::DataType,
        tag if !legacy && tag.len() > 4 && tag.starts_with("tag:") => Field::Tag(tag[4..].to_owned()),
        other => return Err(filter_error("InvalidFilterKey", format!("The filter key {other} is not valid."))),
    };
    if operation == Operation::ByPath && !matches!(key, Field::Type | Field::KeyId | Field::Label) {
        return Err(filter_error(
            "InvalidFilterKey",
            format!(
                "The following filter key is not valid: {}. Valid filter keys include: [Type, KeyId, Label].",
                raw.key
            ),
        ));
    }
    let comparison = comparison(&key, raw.option.as_deref())?;
    check_values(&key, comparison, &raw.values)?;
    Ok(ParameterFilter { key, comparison, values: raw.values.clone() })
}

fn comparison(key: &Field, option: Option<&str>) -> Result<Comparison> {
    let allowed: &[Comparison] = match key {
        Field::Path => &[Comparison::OneLevel, Comparison::Recursive],
        Field::Name => &[Comparison::Equals, Comparison::BeginsWith, Comparison::Contains],
        _ => &[Comparison::Equals],
    };
    let chosen = match option {
        None => allowed.first().copied().unwrap_or(Comparison::Equals),
        Some("Equals") => Comparison::Equals,
        Some("BeginsWith") => Comparison::BeginsWith,
        Some("Contains") => Comparison::Contains,
        Some("Recursive") => Comparison::Recursive,
        Some("OneLevel") => Comparison::OneLevel,
        Some(other) => {
            return Err(filter_error("InvalidFilterOption", format!("The filter option {other} is not valid.")));
        }
    };
    if !allowed.contains(&chosen) {
        let option = option.unwrap_or_default();
        return Err(filter_error(
            "InvalidFilterOption",
            format!("The filter option {option} is not valid for this key."),
        ));
    }
    Ok(chosen)
}

fn check_values(key: &Field, comparison: Comparison, values: &[String]) -> Result<()> {
    let needs_values = !matches!(key, Field::Tag(_));
    if (needs_values && values.is_empty()) || values.len() > MAX_VALUES {
        return Err(filter_error("InvalidFilterValue", format!("A filter takes 1 to {MAX_VALUES} values.")));
    }
    for value in values {
        let bad = value.is_empty()
            || value.len() > MAX_VALUE_LEN
            || match key {
                Field::Type => ParameterType::parse(value).is_none(),
                Field::Tier => !matches!(value.as_str(), "Standard" | "Advanced" | "Intelligent-Tiering"),
                Field::Path => !value.starts_with('/'),
                _ => false,
            };
        if bad {
            return Err(filter_error(
                "InvalidFilterValue",
                format!("The filter value {value} is not valid for the {comparison:?} filter."),
            ));
        }
    }
    Ok(())
}

impl ParameterFilter {
    /// Whether a parameter version passes (a filter with several values passes on any of
    /// them); `tags` are the parameter's, when a filter asks for them. A `Label` filter is
    /// applied before, by choosing the labelled version ([`ParameterFilter::labels`]).
    pub fn matches(&self, row: &ParameterRow, tags: &[Tag]) -> bool {
        let any = |field: &str| self.values.iter().any(|v| compare(self.comparison, field, v));
        match &self.key {
            Field::Name => any(&row.name),
            Field::Path => self.values.iter().any(|path| under_path(&row.name, path, self.comparison)),
            Field::Type => any(row.kind.as_str()),
            Field::KeyId => row.key_id.as_deref().is_some_and(any),
            Field::DataType => any(&row.data_type),
            Field::Tier => any(row.tier.as_str()),
            Field::Label => true,
            // No values: the key is there, whatever its value.
            Field::Tag(key) => tags.iter().any(|t| &t.key == key && (self.values.is_empty() || any(&t.value))),
        }
    }

    /// The labels a `Label` filter asks for.
    pub fn labels(&self) -> Option<&[String]> {
        (self.key == Field::Label).then_some(self.values.as_slice())
    }

    /// Whether this filter reads the parameter's tags.
    pub fn reads_tags(&self) -> bool {
        matches!(self.key, Field::Tag(_))
    }
}

fn compare(comparison: Comparison, field: &str, value: &str) -> bool {
    match comparison {
        Comparison::BeginsWith => field.starts_with(value),
        Comparison::Contains => field.contains(value),
        _ => field == value,
    }
}

/// `/a` OneLevel: `/a/b` but not `/a/b/c`; Recursive: both. `/` is the root of both forms.
fn under_path(name: &str, path: &str, comparison: Comparison) -> bool {
    let prefix = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
    let rest = match name.strip_prefix(prefix.as_str()) {
        Some(rest) => rest,
        None if prefix == "/" => name,
        None => return false,
    };
    !rest.is_empty() && (comparison == Comparison::Recursive || !rest.contains('/'))
}

fn filter_error(code: &'static str, message: String) -> Error {
    Error::ParameterFilter { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, kind: &str) -> ParameterRow {
        ParameterRow {
            name: name.into(),
            version: 1,
            kind: ParameterType::parse(kind).unwrap(),
            value: String::new(),
            key_id: (kind == "SecureString").then(|| "alias/aws/ssm".into()),
            description: None,
            data_type: "text".into(),
            modified_ms: 0,
            modified_by: String::new(),
            tier: crate::store::ParameterTier::Standard,
            allowed_pattern: None,
            policies: None,
            expires_ms: None,
            labels: Vec::new(),
        }
    }

    fn filter(key: &str, option: Option<&str>, values: &[&str]) -> Result<Vec<ParameterFilter>> {
        let raw = RawFilter {
            key: key.into(),
            option: option.map(Into::into),
            values: values.iter().map(|v| (*v).into()).collect(),
        };
        parse(&[raw], Operation::Describe, false)
    }

    #[test]
    fn paths_one_level_and_recursive() {
        let one = &filter("Path", None, &["/app"]).unwrap()[0];
        let deep = &filter("Path", Some("Recursive"), &["/app/"]).unwrap()[0];
        assert!(one.matches(&row("/app/db", "String"), &[]) && !one.matches(&row("/app/x/db", "String"), &[]));
        assert!(deep.matches(&row("/app/x/db", "String"), &[]) && !deep.matches(&row("/apple/db", "String"), &[]));
        assert!(!one.matches(&row("/app", "String"), &[]));
    }

    #[test]
    fn names_types_and_refusals() {
        let begins = &filter("Name", Some("BeginsWith"), &["/prod/"]).unwrap()[0];
        assert!(begins.matches(&row("/prod/a", "String"), &[]) && !begins.matches(&row("/dev/a", "String"), &[]));
        let secure = &filter("Type", None, &["SecureString"]).unwrap()[0];
        assert!(secure.matches(&row("/a", "SecureString"), &[]) && !secure.matches(&row("/a", "String"), &[]));
        let code = |r: Result<Vec<ParameterFilter>>| match r {
            Err(Error::ParameterFilter { code, .. }) => code,
            _ => "no filter error",
        };
        assert_eq!(code(filter("Owner", None, &["x"])), "InvalidFilterKey");
        assert_eq!(code(filter("Type", Some("BeginsWith"), &["String"])), "InvalidFilterOption");
        assert_eq!(code(filter("Type", None, &["Secret"])), "InvalidFilterValue");
        assert_eq!(code(filter("Path", None, &["app"])), "InvalidFilterValue");
        let by_path = parse(&[RawFilter { key: "Name".into(), ..RawFilter::default() }], Operation::ByPath, false);
        assert_eq!(code(by_path), "InvalidFilterKey");
        assert_eq!(code(filter("Label", None, &["prod"])), "InvalidFilterKey", "labels pick versions: by path only");
    }

    #[test]
    fn tags_and_tiers_are_the_parameters_own() {
        let tagged = &filter("tag:team", None, &["db"]).unwrap()[0];
        let any_value = &filter("tag:team", None, &[]).unwrap()[0];
        let tags = [Tag { key: "team".into(), value: "db".into() }];
        assert!(tagged.matches(&row("/a", "String"), &tags) && !tagged.matches(&row("/a", "String"), &[]));
        assert!(any_value.matches(&row("/a", "String"), &tags));
        let advanced = &filter("Tier", None, &["Advanced"]).unwrap()[0];
        let row = ParameterRow { tier: crate::store::ParameterTier::Advanced, ..row("/a", "String") };
        assert!(advanced.matches(&row, &[]));
    }
}

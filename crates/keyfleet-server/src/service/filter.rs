//! EC2's `Filter.N` semantics (AWS User Guide, "Filter your resources"): values within a
//! filter are ORed, filters are ANDed, matching is case-sensitive, `*` matches any run of
//! characters, `?` exactly one, and `\` escapes either.

use crate::common::glob::ec2_match;

/// A decoded `Filter.N`: its name and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter name, e.g. `key-name` or `tag:project`.
    pub name: String,
    /// The values; a resource matches if any value matches.
    pub values: Vec<String>,
}

/// True if any pattern matches any candidate.
pub fn any_matches<'a>(patterns: &[String], candidates: impl IntoIterator<Item = &'a str> + Clone) -> bool {
    patterns.iter().any(|p| candidates.clone().into_iter().any(|c| ec2_match(p, c)))
}

/// The filters one kind of resource answers, one variant each, so that a filter name cannot
/// exist without what it reads.
pub trait FilterField<R>: Sized {
    /// The filter a `Filter.N.Name` names, or `None` for a name the resource does not know.
    fn named(name: &str) -> Option<Self>;

    /// What the filter's values are matched against, on one resource.
    fn candidates<'r>(&self, resource: &'r R) -> Vec<&'r str>;
}

/// A filter of a known name, with its values.
#[derive(Debug, Clone)]
pub struct Typed<F> {
    field: F,
    values: Vec<String>,
}

/// Reads every filter as one of `F`; an unknown name is EC2's `InvalidParameterValue`.
pub fn typed<R, F: FilterField<R>>(filters: &[Filter]) -> super::Result<Vec<Typed<F>>> {
    filters
        .iter()
        .map(|f| match F::named(&f.name) {
            Some(field) => Ok(Typed { field, values: f.values.clone() }),
            None => Err(super::Error::InvalidParameterValue(super::Invalid::UnknownFilter(f.name.clone()))),
        })
        .collect()
}

/// True if the resource passes every filter (filters are ANDed, values ORed).
pub fn all_match<R, F: FilterField<R>>(filters: &[Typed<F>], resource: &R) -> bool {
    filters.iter().all(|f| any_matches(&f.values, f.field.candidates(resource)))
}

/// The values of the tags with this key (for `tag:KEY` filters).
pub fn tag_values<'r>(tags: &'r [crate::store::Tag], key: &str) -> Vec<&'r str> {
    tags.iter().filter(|t| t.key == key).map(|t| t.value.as_str()).collect()
}

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

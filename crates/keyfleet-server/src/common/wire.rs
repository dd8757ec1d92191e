//! Enums stored and sent by their AWS wire names (`running`, `InProgress`, `Active`, …), and
//! the characters the XML wire can carry.

/// A character XML 1.0 can carry (its `Char` production): every name and value the Query
/// services answer with must be made of these.
pub fn xml_safe(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// A closed set of AWS names: each value has one, and a name outside the set has no value.
pub trait WireName: Sized + Copy + PartialEq + 'static {
    /// Every value.
    const ALL: &'static [Self];

    /// The AWS name.
    fn as_str(self) -> &'static str;

    /// The value with this AWS name (case-sensitive, as AWS's are).
    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == name)
    }
}

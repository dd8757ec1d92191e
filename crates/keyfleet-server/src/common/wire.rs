//! Enums stored and sent by their AWS wire names (`running`, `InProgress`, `Active`, …).

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

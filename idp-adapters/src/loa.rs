//! Levels of assurance, as URIs that appear in SAML `AuthnContextClassRef`.

use serde::{Deserialize, Serialize};

/// A level of assurance of an authentication.
///
/// FTN `loa2` is equivalent to eIDAS substantial and FTN `loa3` to eIDAS high; [`Self::rank`]
/// puts both families on one scale so a request for one can be met by the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelOfAssurance {
    FtnSubstantial,
    FtnHigh,
    EidasSubstantial,
    EidasHigh,
}

impl LevelOfAssurance {
    /// Every level, lowest first within each family.
    pub const ALL: [Self; 4] = [
        Self::FtnSubstantial,
        Self::FtnHigh,
        Self::EidasSubstantial,
        Self::EidasHigh,
    ];

    /// The `AuthnContextClassRef` URI of this level.
    pub fn uri(self) -> &'static str {
        match self {
            Self::FtnSubstantial => "http://ftn.ficora.fi/2017/loa2",
            Self::FtnHigh => "http://ftn.ficora.fi/2017/loa3",
            Self::EidasSubstantial => "http://eidas.europa.eu/LoA/substantial",
            Self::EidasHigh => "http://eidas.europa.eu/LoA/high",
        }
    }

    /// The level named by an exact URI (no trimming, case-sensitive: URIs are compared as strings).
    pub fn from_uri(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|loa| loa.uri() == s)
    }

    /// Position on the common scale: substantial = 2, high = 3.
    pub fn rank(self) -> u8 {
        match self {
            Self::FtnSubstantial | Self::EidasSubstantial => 2,
            Self::FtnHigh | Self::EidasHigh => 3,
        }
    }

    /// Whether an authentication at `self` is good enough for a request for `required`.
    pub fn satisfies(self, required: Self) -> bool {
        self.rank() >= required.rank()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        for loa in LevelOfAssurance::ALL {
            assert_eq!(LevelOfAssurance::from_uri(loa.uri()), Some(loa));
        }
        assert_eq!(
            LevelOfAssurance::FtnSubstantial.uri(),
            "http://ftn.ficora.fi/2017/loa2"
        );
        assert_eq!(
            LevelOfAssurance::EidasHigh.uri(),
            "http://eidas.europa.eu/LoA/high"
        );
    }

    #[test]
    fn unknown_or_altered_uris_are_none() {
        assert_eq!(LevelOfAssurance::from_uri(""), None);
        assert_eq!(
            LevelOfAssurance::from_uri("http://ftn.ficora.fi/2017/loa2 "),
            None
        );
        assert_eq!(
            LevelOfAssurance::from_uri("HTTP://eidas.europa.eu/LoA/high"),
            None
        );
        assert_eq!(
            LevelOfAssurance::from_uri("http://eidas.europa.eu/LoA/low"),
            None
        );
    }

    #[test]
    fn satisfies_compares_across_families() {
        use LevelOfAssurance::*;
        assert!(FtnHigh.satisfies(EidasSubstantial));
        assert!(FtnHigh.satisfies(EidasHigh));
        assert!(EidasSubstantial.satisfies(FtnSubstantial));
        assert!(!FtnSubstantial.satisfies(FtnHigh));
        assert!(!EidasSubstantial.satisfies(FtnHigh));
        assert!(EidasHigh.satisfies(FtnHigh));
    }

    #[test]
    fn serde_names_are_snake_case() {
        let json = serde_json::to_string(&LevelOfAssurance::EidasSubstantial).unwrap();
        assert_eq!(json, "\"eidas_substantial\"");
        let back: LevelOfAssurance = serde_json::from_str("\"ftn_high\"").unwrap();
        assert_eq!(back, LevelOfAssurance::FtnHigh);
    }
}

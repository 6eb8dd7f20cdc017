//! The user interface languages of the gateway: Finnish, Swedish (both official) and English.

use serde::{Deserialize, Serialize};

/// A language the gateway's pages and upstream methods are offered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Fi,
    Sv,
    En,
}

/// Entries of an `Accept-Language` header looked at; the rest is ignored so a hostile header
/// costs a bounded amount of work.
const MAX_ACCEPT_LANGUAGE_ENTRIES: usize = 32;

impl Language {
    pub const ALL: [Self; 3] = [Self::Fi, Self::Sv, Self::En];

    /// The ISO 639-1 code: `fi`, `sv`, `en`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Fi => "fi",
            Self::Sv => "sv",
            Self::En => "en",
        }
    }

    /// A language from its two-letter code, ASCII case-insensitive (`?lang=SV` works).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(s))
    }

    /// The preferred supported language of an `Accept-Language` header (RFC 9110 12.5.4).
    ///
    /// The highest q-value wins; among equal q-values the one listed first. Region and script
    /// subtags are ignored (`fi-FI` is Finnish). Entries with `q=0` or a malformed q-value are
    /// skipped, as is `*`: the caller's default applies when nothing supported is listed.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(Self, u16)> = None;
        for entry in header.split(',').take(MAX_ACCEPT_LANGUAGE_ENTRIES) {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let primary = tag.split(['-', '_']).next().unwrap_or_default();
            let Some(lang) = Self::parse(primary) else {
                continue;
            };
            let mut quality = Some(1000);
            for param in parts {
                let Some((name, value)) = param.split_once('=') else {
                    quality = None;
                    break;
                };
                if name.trim().eq_ignore_ascii_case("q") {
                    quality = parse_quality(value.trim());
                }
            }
            match quality {
                Some(q) if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) => {
                    best = Some((lang, q));
                }
                _ => {}
            }
        }
        best.map(|(lang, _)| lang)
    }
}

/// A q-value (`0`, `0.8`, `1.000`) in thousandths; `None` when malformed.
fn parse_quality(s: &str) -> Option<u16> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for i in 0..3 {
        let digit = fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| u16::from(b - b'0'));
        thousandths = thousandths * 10 + digit;
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for lang in Language::ALL {
            assert_eq!(Language::parse(lang.code()), Some(lang));
        }
        assert_eq!(Language::parse("SV"), Some(Language::Sv));
        assert_eq!(Language::parse("de"), None);
        assert_eq!(Language::parse("fi-FI"), None);
        assert_eq!(Language::parse(""), None);
    }

    #[test]
    fn accept_language_honours_q_values() {
        assert_eq!(
            Language::from_accept_language("sv-FI;q=0.9,en;q=0.8"),
            Some(Language::Sv)
        );
        assert_eq!(
            Language::from_accept_language("en;q=0.5, fi;q=0.7, sv;q=0.6"),
            Some(Language::Fi)
        );
        assert_eq!(
            Language::from_accept_language("de-DE,de;q=0.9,en-US;q=0.7,en;q=0.7,sv;q=0.75"),
            Some(Language::Sv)
        );
        assert_eq!(
            Language::from_accept_language("en;q=0.1, sv"),
            Some(Language::Sv)
        );
    }

    #[test]
    fn accept_language_first_listed_wins_ties() {
        assert_eq!(
            Language::from_accept_language("fi-FI, sv-FI, en"),
            Some(Language::Fi)
        );
        assert_eq!(
            Language::from_accept_language("en-GB,sv;q=1.0,fi"),
            Some(Language::En)
        );
        assert_eq!(
            Language::from_accept_language("de;q=1,SV-fi;q=0.4,fi;q=0.4"),
            Some(Language::Sv)
        );
    }

    #[test]
    fn accept_language_unsupported_only_is_none() {
        assert_eq!(Language::from_accept_language("de-DE,de;q=0.9"), None);
        assert_eq!(Language::from_accept_language("*"), None);
        assert_eq!(Language::from_accept_language(""), None);
        assert_eq!(Language::from_accept_language(" , ;q=1"), None);
        // "fin" and "svenska" are not subtags of the supported languages.
        assert_eq!(Language::from_accept_language("fin, svenska"), None);
    }

    #[test]
    fn accept_language_skips_refused_and_malformed_entries() {
        assert_eq!(
            Language::from_accept_language("fi;q=0, en"),
            Some(Language::En)
        );
        assert_eq!(
            Language::from_accept_language("fi;q=0.000,sv;q=0.001"),
            Some(Language::Sv)
        );
        assert_eq!(
            Language::from_accept_language("fi;q=2, sv;q=0.2"),
            Some(Language::Sv)
        );
        assert_eq!(
            Language::from_accept_language("fi;q=abc, en;q=0.3"),
            Some(Language::En)
        );
        assert_eq!(
            Language::from_accept_language("fi;q=0.1234, sv;q=0.3"),
            Some(Language::Sv)
        );
        assert_eq!(Language::from_accept_language("fi;q=-1"), None);
        assert_eq!(Language::from_accept_language("fi;q=1.001"), None);
        assert_eq!(
            Language::from_accept_language("fi;Q=0.9,sv;q=0.8"),
            Some(Language::Fi)
        );
    }

    #[test]
    fn quality_parsing() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.8"), Some(800));
        assert_eq!(parse_quality("0.85"), Some(850));
        assert_eq!(parse_quality("0."), Some(0));
        assert_eq!(parse_quality(""), None);
        assert_eq!(parse_quality(".5"), None);
        assert_eq!(parse_quality("0.+5"), None);
    }
}

//! xs:dateTime as SAML uses it: UTC, `Z`, whole seconds when we write; any offset when we read.

use crate::error::SamlError;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub fn format(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn parse(s: &str) -> Result<OffsetDateTime, SamlError> {
    if s.len() > 40 {
        return Err(SamlError::Timestamp(s.chars().take(40).collect()));
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| SamlError::Timestamp(crate::error::untrusted_text(s)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip_and_offsets() {
        let t = parse("2026-11-21T12:00:00.123Z").unwrap();
        assert_eq!(format(t), "2026-11-21T12:00:00Z");
        assert_eq!(
            parse("2026-11-21T14:00:00+02:00").unwrap(),
            parse("2026-11-21T12:00:00Z").unwrap()
        );
        assert!(parse("2026-11-21 12:00").is_err());
        assert!(parse("yesterday").is_err());
    }
}

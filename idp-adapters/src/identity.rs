//! The result of an upstream authentication: who the citizen is, how strongly, and by what method.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, OffsetDateTime};

use crate::hetu::PersonalIdentityCode;
use crate::loa::LevelOfAssurance;

/// A Finnish personal identity code (HETU) that has been validated.
///
/// `Debug` and `Display` print `NationalId(***)`; only [`NationalId::expose`] gives the value,
/// so every place that releases it (an assertion attribute, a trace-level log) is greppable.
/// Serde carries the plain value so sessions survive a round trip through a store; deserializing
/// validates it again.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

impl NationalId {
    /// The identity code itself. Never log it above trace level; audit with a keyed hash.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the code is of the test series (individual number 900-999): a test person's, never
    /// a person's. See [`PersonalIdentityCode::is_test_series`].
    pub fn is_test_series(&self) -> bool {
        // Always a validated code, so the individual number is bytes 7..10 and is 900 or more
        // exactly when its first digit is 9.
        self.0.as_bytes().get(7) == Some(&b'9')
    }
}

impl From<PersonalIdentityCode> for NationalId {
    fn from(code: PersonalIdentityCode) -> Self {
        Self(code.into_string())
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(***)")
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(***)")
    }
}

impl Serialize for NationalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NationalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        // The error names the rule broken, never the value.
        PersonalIdentityCode::parse(&s)
            .map(Self::from)
            .map_err(serde::de::Error::custom)
    }
}

/// A citizen identity that an adapter's `finish` has verified.
///
/// A proof type: outside this crate it can only be obtained from an [`crate::AuthAdapter`] or
/// by deserializing one that was serialized earlier (the gateway's session store, which it trusts).
/// `Debug` redacts the national id and the upstream subject (which for some methods is the
/// national id).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    national_id: Option<NationalId>,
    /// The SATU (electronic identification number) of a citizen certificate login.
    #[serde(default)]
    electronic_id: Option<String>,
    given_name: String,
    family_name: String,
    display_name: String,
    #[serde(with = "iso_date_opt")]
    birth_date: Option<Date>,
    loa: LevelOfAssurance,
    method: String,
    upstream_issuer: String,
    upstream_subject: String,
    #[serde(with = "rfc3339")]
    authn_instant: OffsetDateTime,
}

/// Everything an adapter knows at the end of `finish`; turned into the proof type in one place.
pub(crate) struct IdentityParts {
    pub(crate) national_id: Option<NationalId>,
    pub(crate) electronic_id: Option<String>,
    pub(crate) given_name: String,
    pub(crate) family_name: String,
    /// `None`: "given family".
    pub(crate) display_name: Option<String>,
    pub(crate) birth_date: Option<Date>,
    pub(crate) loa: LevelOfAssurance,
    pub(crate) method: String,
    pub(crate) upstream_issuer: String,
    pub(crate) upstream_subject: String,
    pub(crate) authn_instant: OffsetDateTime,
}

impl VerifiedIdentity {
    pub(crate) fn from_parts(parts: IdentityParts) -> Self {
        let display_name = parts
            .display_name
            .unwrap_or_else(|| join_names(&parts.given_name, &parts.family_name));
        Self {
            national_id: parts.national_id,
            electronic_id: parts.electronic_id,
            given_name: parts.given_name,
            family_name: parts.family_name,
            display_name,
            birth_date: parts.birth_date,
            loa: parts.loa,
            method: parts.method,
            upstream_issuer: parts.upstream_issuer,
            upstream_subject: parts.upstream_subject,
            authn_instant: parts.authn_instant,
        }
    }

    /// The Finnish personal identity code, when the method provides one (eIDAS may not).
    pub fn national_id(&self) -> Option<&NationalId> {
        self.national_id.as_ref()
    }

    /// The SATU, when the method is a citizen certificate. Identifies a person: never log it
    /// above trace level.
    pub fn electronic_id(&self) -> Option<&str> {
        self.electronic_id.as_deref()
    }

    pub fn given_name(&self) -> &str {
        &self.given_name
    }

    pub fn family_name(&self) -> &str {
        &self.family_name
    }

    /// The name shown to the citizen; "given family" unless the method says otherwise.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The common name (`cn`): "given family".
    pub fn full_name(&self) -> String {
        join_names(&self.given_name, &self.family_name)
    }

    pub fn birth_date(&self) -> Option<Date> {
        self.birth_date
    }

    pub fn loa(&self) -> LevelOfAssurance {
        self.loa
    }

    /// The adapter id that verified this identity, e.g. `testbank`.
    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn upstream_issuer(&self) -> &str {
        &self.upstream_issuer
    }

    /// The subject as the upstream identified it. May equal the national id: treat it alike.
    pub fn upstream_subject(&self) -> &str {
        &self.upstream_subject
    }

    pub fn authn_instant(&self) -> OffsetDateTime {
        self.authn_instant
    }
}

impl fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedIdentity")
            .field("national_id", &self.national_id)
            .field("electronic_id", &self.electronic_id.as_ref().map(|_| "***"))
            .field("given_name", &self.given_name)
            .field("family_name", &self.family_name)
            .field("display_name", &self.display_name)
            .field("birth_date", &self.birth_date)
            .field("loa", &self.loa)
            .field("method", &self.method)
            .field("upstream_issuer", &self.upstream_issuer)
            .field("upstream_subject", &format_args!("***"))
            .field("authn_instant", &self.authn_instant)
            .finish()
    }
}

fn join_names(given: &str, family: &str) -> String {
    match (given.is_empty(), family.is_empty()) {
        (false, false) => format!("{given} {family}"),
        (false, true) => given.to_owned(),
        (true, _) => family.to_owned(),
    }
}

/// `Option<Date>` as `"YYYY-MM-DD"` or null (the workspace does not enable time's serde feature).
mod iso_date_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;
    use time::Date;

    const FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

    pub(super) fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => {
                let text = date.format(FORMAT).map_err(serde::ser::Error::custom)?;
                s.serialize_some(&text)
            }
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| Date::parse(&text, FORMAT).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `OffsetDateTime` as an RFC 3339 string in UTC.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    pub(super) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t
            .to_offset(UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const HETU: &str = "131052-9085";

    fn identity() -> VerifiedIdentity {
        let code = PersonalIdentityCode::parse(HETU).unwrap();
        VerifiedIdentity::from_parts(IdentityParts {
            electronic_id: None,
            birth_date: Some(code.birth_date()),
            national_id: Some(NationalId::from(code)),
            given_name: "Åsa".to_owned(),
            family_name: "Sjöström <&\"'>".to_owned(),
            display_name: None,
            loa: LevelOfAssurance::FtnHigh,
            method: "testbank".to_owned(),
            upstream_issuer: "urn:gateway:testbank".to_owned(),
            upstream_subject: HETU.to_owned(),
            authn_instant: datetime!(2026-03-01 12:34:56.789 +02:00),
        })
    }

    #[test]
    fn national_id_debug_and_display_are_redacted() {
        let id = NationalId::from(PersonalIdentityCode::parse(HETU).unwrap());
        assert_eq!(format!("{id:?}"), "NationalId(***)");
        assert_eq!(format!("{id}"), "NationalId(***)");
        assert_eq!(format!("{id:#?}"), "NationalId(***)");
        assert_eq!(id.expose(), HETU);
    }

    #[test]
    fn verified_identity_debug_does_not_leak_the_national_id() {
        let identity = identity();
        for debug in [format!("{identity:?}"), format!("{identity:#?}")] {
            assert!(!debug.contains(HETU), "{debug}");
            assert!(!debug.contains("131052"), "{debug}");
            assert!(debug.contains("testbank"), "{debug}");
        }
    }

    #[test]
    fn names_default_and_join() {
        let identity = identity();
        assert_eq!(identity.full_name(), "Åsa Sjöström <&\"'>");
        assert_eq!(identity.display_name(), identity.full_name());
        assert_eq!(join_names("", "Virtanen"), "Virtanen");
        assert_eq!(join_names("Aino", ""), "Aino");
    }

    #[test]
    fn serde_round_trip_keeps_every_field() {
        let identity = identity();
        let json = serde_json::to_string(&identity).unwrap();
        let back: VerifiedIdentity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, identity);
        assert_eq!(back.national_id().unwrap().expose(), HETU);
        assert_eq!(back.birth_date(), Some(date!(1952 - 10 - 13)));
        assert_eq!(back.authn_instant(), datetime!(2026-03-01 10:34:56.789 UTC));
        assert!(json.contains("\"birth_date\":\"1952-10-13\""), "{json}");
        assert!(
            json.contains("\"authn_instant\":\"2026-03-01T10:34:56.789Z\""),
            "{json}"
        );
        assert!(json.contains("\"loa\":\"ftn_high\""), "{json}");
    }

    #[test]
    fn serde_round_trip_without_national_id_or_birth_date() {
        let mut identity = identity();
        identity.national_id = None;
        identity.birth_date = None;
        let json = serde_json::to_string(&identity).unwrap();
        let back: VerifiedIdentity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, identity);
    }

    #[test]
    fn deserializing_an_invalid_national_id_fails_without_echoing_it() {
        let json = serde_json::to_string(&identity()).unwrap().replace(
            &format!("\"national_id\":\"{HETU}\""),
            "\"national_id\":\"131052-9086\"",
        );
        let err = serde_json::from_str::<VerifiedIdentity>(&json).unwrap_err();
        assert!(!err.to_string().contains("131052"), "{err}");
        assert!(serde_json::from_str::<NationalId>("\"010100-000E\"").is_err());
    }

    #[test]
    fn test_series_is_told_apart_and_survives_serde() {
        let id = NationalId::from(PersonalIdentityCode::parse(HETU).unwrap());
        assert!(id.is_test_series());
        let back: NationalId = serde_json::from_str("\"010594Y9021\"").unwrap();
        assert!(back.is_test_series());
        // DVV's documented example, outside the test series.
        let person = NationalId::from(PersonalIdentityCode::parse("131052-308T").unwrap());
        assert!(!person.is_test_series());
        for code in ["010190-899N", "010190-900P", "010190-999W", "290200A002C"] {
            let parsed = PersonalIdentityCode::parse(code).unwrap();
            let expected = parsed.is_test_series();
            assert_eq!(
                NationalId::from(parsed).is_test_series(),
                expected,
                "{code}"
            );
        }
    }
}

//! The two encodings every JOSE part goes through: unpadded base64url and a JSON object.
//! Both are strict, so one token has exactly one reading.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::JoseError;

/// Base64url without padding, as RFC 7515 §2 defines it. Padding, the standard alphabet, whitespace and
/// non-zero trailing bits are all refused.
pub(crate) fn b64_decode(part: &str, what: &'static str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JoseError::Malformed(what))
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JSON object whose member names are unique. RFC 7515 §4 and RFC 7519 §4 let a parser either refuse
/// duplicates or take the last one; refusing means a header or claim set cannot mean two things to two parsers.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JoseError> {
    serde_json::from_slice::<UniqueObject>(bytes)
        .map(|o| o.0)
        .map_err(|e| JoseError::Json(e.to_string()))
}

struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueObjectVisitor)
    }
}

struct UniqueObjectVisitor;

impl<'de> Visitor<'de> for UniqueObjectVisitor {
    type Value = UniqueObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
        let mut map = Map::new();
        while let Some((name, value)) = access.next_entry::<String, Value>()? {
            if map.contains_key(&name) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate member {name:?}"
                )));
            }
            map.insert(name, value);
        }
        Ok(UniqueObject(map))
    }
}

/// An optional string member; present with another type is malformed.
pub(crate) fn optional_str<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    what: &'static str,
) -> Result<Option<&'a str>, JoseError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JoseError::Malformed(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("AQAB", "x").unwrap(), [1, 0, 1]);
        assert_eq!(b64_decode("-_8", "x").unwrap(), [0xfb, 0xff]);
        assert_eq!(b64_decode("", "x").unwrap(), Vec::<u8>::new());
        for bad in ["AQ==", "AQ=", "+/8", "AQ AB", "AQAB\n", "A", "AR"] {
            assert!(
                matches!(b64_decode(bad, "x"), Err(JoseError::Malformed("x"))),
                "{bad:?}"
            );
        }
        assert_eq!(b64_encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn objects_are_strict() {
        let o = parse_object(br#"{"alg":"RS256","n":{"a":1,"a":2}}"#).unwrap();
        assert_eq!(o["alg"], "RS256");
        for bad in [
            &br#"{"alg":"RS256","alg":"none"}"#[..],
            br#"["alg"]"#,
            br#""RS256""#,
            br#"{"alg":"RS256"} x"#,
            br#"{"alg":"RS256""#,
            b"\xff",
            br#"{"alg":"\ud800"}"#,
            b"",
        ] {
            assert!(
                matches!(parse_object(bad), Err(JoseError::Json(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        assert!(parse_object(deep.as_bytes()).is_err(), "recursion limit");
    }
}

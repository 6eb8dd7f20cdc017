//! The two encodings every JOSE part goes through: unpadded base64url and a JSON object.
//! Both are strict, so one token has exactly one reading.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// A JSON object whose member names are unique, at every depth (a JWK inside a set, a nested
/// claim). RFC 7515 §4 and RFC 7519 §4 let a parser either refuse duplicates or take the last one;
/// refusing means a header, key or claim set cannot mean two things to two parsers.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JoseError> {
    match serde_json::from_slice::<UniqueValue>(bytes) {
        Ok(UniqueValue(Value::Object(map))) => Ok(map),
        Ok(_) => Err(JoseError::Json("expected a JSON object".into())),
        Err(e) => Err(JoseError::Json(e.to_string())),
    }
}

/// A JSON value read with duplicate member names refused in every object it holds.
pub(crate) struct UniqueValue(pub(crate) Value);

impl<'de> Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueValueVisitor)
            .map(UniqueValue)
    }
}

struct UniqueValueVisitor;

impl<'de> Visitor<'de> for UniqueValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON with unique member names in every object")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueValue(v)) = access.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some((name, UniqueValue(value))) = access.next_entry::<String, UniqueValue>()? {
            if map.contains_key(&name) {
                let shown: String = name.chars().take(40).collect();
                return Err(serde::de::Error::custom(format!(
                    "duplicate member {shown:?}"
                )));
            }
            map.insert(name, value);
        }
        Ok(Value::Object(map))
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
        let o = parse_object(br#"{"alg":"RS256","n":{"a":1,"b":[{"c":2}]}}"#).unwrap();
        assert_eq!(o["alg"], "RS256");
        assert_eq!(o["n"]["b"][0]["c"], 2);
        for bad in [
            &br#"{"alg":"RS256","n":{"a":1,"a":2}}"#[..],
            br#"{"alg":"RS256","alg":"none"}"#,
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

#[cfg(test)]
mod unique_member_tests {
    use super::parse_object;

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        assert!(parse_object(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert!(parse_object(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_object(br#"{"keys":[{"kty":"EC","kty":"oct"}]}"#).is_err());
        assert!(parse_object(br#"{"x":{"y":{"z":1,"z":1}}}"#).is_err());
        assert!(parse_object(br#"[1,2]"#).is_err());
    }
}

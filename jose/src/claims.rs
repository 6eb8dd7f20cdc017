//! JWT claim sets (RFC 7519): typed reads over a strictly parsed JSON object, and the time checks every
//! token needs. Which `iss`, `aud`, `nonce` and `acr` are right is the caller's protocol knowledge.

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::encoding::{parse_object, UniqueValue};
use crate::error::JoseError;

/// A claim set: a JSON object whose member names are unique.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims(Map<String, Value>);

/// Reads a claim set from a (verified) payload.
pub fn parse_claims(payload: &[u8]) -> Result<Claims, JoseError> {
    parse_object(payload).map(Claims)
}

/// How jsonwebtoken hands a verified claim set over: read as strictly as [`parse_claims`] reads
/// one (a JSON object, unique member names at every depth).
impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match UniqueValue::deserialize(deserializer)?.0 {
            Value::Object(map) => Ok(Claims(map)),
            _ => Err(D::Error::custom("a claim set must be a JSON object")),
        }
    }
}

impl Claims {
    pub fn new(claims: Map<String, Value>) -> Self {
        Claims(claims)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The claim if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// The claim if it is an integer that fits an `i64`.
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    pub fn get_bool(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(Value::as_bool)
    }

    /// A required string claim: `MissingClaim` when absent, `InvalidClaim` when not a string.
    pub fn require_str(&self, name: &str) -> Result<&str, JoseError> {
        match self.0.get(name) {
            None => Err(JoseError::MissingClaim(name.to_owned())),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(JoseError::InvalidClaim(name.to_owned())),
        }
    }

    /// A NumericDate claim (`exp`, `iat`, `nbf`, `auth_time`): seconds since the epoch, integer or not
    /// (fractions are dropped). `None` when absent; `InvalidClaim` when not a number in range.
    pub fn get_time(&self, name: &str) -> Result<Option<OffsetDateTime>, JoseError> {
        let Some(value) = self.0.get(name) else {
            return Ok(None);
        };
        let invalid = || JoseError::InvalidClaim(name.to_owned());
        let seconds = match value.as_i64() {
            Some(s) => s,
            None => {
                let f = value
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(invalid)?;
                // The range check keeps the cast exact; OffsetDateTime refuses what is still out of range.
                if !(-1e15..=1e15).contains(&f) {
                    return Err(invalid());
                }
                f.floor() as i64
            }
        };
        OffsetDateTime::from_unix_timestamp(seconds)
            .map(Some)
            .map_err(|_| invalid())
    }

    /// The `aud` claim as a list: a string is one audience, an array must hold only strings. Absent is empty.
    pub fn audiences(&self) -> Result<Vec<&str>, JoseError> {
        match self.0.get("aud") {
            None => Ok(Vec::new()),
            Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
            Some(Value::Array(list)) => list
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| JoseError::InvalidClaim("aud".to_owned())),
            Some(_) => Err(JoseError::InvalidClaim("aud".to_owned())),
        }
    }

    /// Whether `aud` names `audience` (exact comparison). A malformed `aud` contains nothing.
    pub fn aud_contains(&self, audience: &str) -> bool {
        self.audiences()
            .map(|list| list.contains(&audience))
            .unwrap_or(false)
    }

    /// The time checks of RFC 7519 §4.1.4-4.1.6 with `leeway` for clock skew: `exp` is required and must be
    /// after `now - leeway`; `nbf` and `iat`, when present, must not be after `now + leeway`.
    pub fn check_time(&self, now: OffsetDateTime, leeway: Duration) -> Result<(), JoseError> {
        let exp = self
            .get_time("exp")?
            .ok_or_else(|| JoseError::MissingClaim("exp".to_owned()))?;
        if exp <= now - leeway {
            return Err(JoseError::Expired {
                now: now.unix_timestamp(),
                exp: exp.unix_timestamp(),
            });
        }
        for name in ["nbf", "iat"] {
            if let Some(at) = self.get_time(name)? {
                if at > now + leeway {
                    return Err(JoseError::NotYetValid {
                        now: now.unix_timestamp(),
                        at: at.unix_timestamp(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn claims(v: Value) -> Claims {
        parse_claims(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn typed_reads() {
        let c = claims(json!({
            "iss": "https://bank.example", "sub": "s1", "exp": 1_900_000_000, "ok": true,
            "aud": ["rp", "other"], "n": 1.5, "big": 1e300
        }));
        assert_eq!(c.get_str("iss"), Some("https://bank.example"));
        assert_eq!(c.get_str("exp"), None);
        assert_eq!(c.get_i64("exp"), Some(1_900_000_000));
        assert_eq!(c.get_i64("n"), None);
        assert_eq!(c.get_bool("ok"), Some(true));
        assert_eq!(c.require_str("sub").unwrap(), "s1");
        assert!(
            matches!(c.require_str("nonce"), Err(JoseError::MissingClaim(ref n)) if n == "nonce")
        );
        assert!(matches!(
            c.require_str("exp"),
            Err(JoseError::InvalidClaim(_))
        ));
        assert_eq!(c.get_time("n").unwrap().unwrap().unix_timestamp(), 1);
        assert!(matches!(c.get_time("big"), Err(JoseError::InvalidClaim(_))));
        assert!(matches!(c.get_time("iss"), Err(JoseError::InvalidClaim(_))));
        assert_eq!(c.get_time("nbf").unwrap(), None);
        assert!(c.aud_contains("rp"));
        assert!(!c.aud_contains("r"));
        assert_eq!(c.audiences().unwrap(), ["rp", "other"]);
    }

    #[test]
    fn audience_shapes() {
        assert!(claims(json!({"aud": "rp"})).aud_contains("rp"));
        assert!(claims(json!({})).audiences().unwrap().is_empty());
        for bad in [
            json!({"aud": ["rp", 1]}),
            json!({"aud": 5}),
            json!({"aud": {"rp": 1}}),
        ] {
            let c = claims(bad);
            assert!(c.audiences().is_err());
            assert!(!c.aud_contains("rp"));
        }
    }

    #[test]
    fn duplicate_claims_are_refused() {
        assert!(matches!(
            parse_claims(br#"{"sub":"alice","sub":"admin"}"#),
            Err(JoseError::Json(_))
        ));
        assert!(parse_claims(b"[]").is_err());
    }

    #[test]
    fn time_window() {
        let now = datetime!(2030-01-01 12:00 UTC);
        let t = now.unix_timestamp();
        let leeway = Duration::seconds(30);
        claims(json!({"exp": t + 1, "iat": t, "nbf": t}))
            .check_time(now, leeway)
            .unwrap();
        claims(json!({"exp": t - 29, "iat": t + 29}))
            .check_time(now, leeway)
            .unwrap();
        assert!(matches!(
            claims(json!({"exp": t - 30})).check_time(now, leeway),
            Err(JoseError::Expired { exp, .. }) if exp == t - 30
        ));
        assert!(matches!(
            claims(json!({"exp": t + 100, "nbf": t + 31})).check_time(now, leeway),
            Err(JoseError::NotYetValid { at, .. }) if at == t + 31
        ));
        assert!(matches!(
            claims(json!({"exp": t + 100, "iat": t + 31})).check_time(now, leeway),
            Err(JoseError::NotYetValid { .. })
        ));
        assert!(matches!(
            claims(json!({"iat": t})).check_time(now, leeway),
            Err(JoseError::MissingClaim(ref n)) if n == "exp"
        ));
        assert!(matches!(
            claims(json!({"exp": "tomorrow"})).check_time(now, leeway),
            Err(JoseError::InvalidClaim(_))
        ));
    }
}

//! Values sealed for someone else to hold: login flows handed to the browser in a cookie, and
//! records kept in a shared store (Redis). The holder can neither read nor change them, they
//! expire, and each opens only for the purpose and context it was sealed for (a flow ID, a
//! store key). ARCHITECTURE.md, State.
//!
//! A sealed value is base64url (no padding) of:
//!
//! ```text
//! version (1) | name length (1) | key name | expiry, unix seconds (8, big-endian) | nonce (12) | ciphertext and tag (16)
//! ```
//!
//! AES-256-GCM with a random 96-bit nonce. The associated data is the header (version, key name,
//! expiry) followed by the purpose and the caller's context, each length-prefixed so that no two
//! (purpose, context) pairs give the same bytes. Changing any header byte, or opening with another
//! purpose or context, fails the tag check.
//!
//! Opening checks, in order: the size cap (before decoding), base64, the layout and version, the
//! key name against the ring, the tag, then the expiry. The expiry is read only after the tag has
//! verified it. A value opened for another flow or purpose is refused as [`SealError::Tampered`]:
//! the context is bound only through the associated data, so such a value is indistinguishable
//! from a forged one. A distinct error would need a second keyed tag over the context alone;
//! nothing acts differently on the two, so the one error stands for both.
//!
//! Rotation: a [`SealKeyRing`] seals with its current key and opens with any key it holds. A new
//! key becomes current while the old one stays in the ring for at least the longest TTL, then is
//! removed; values sealed with a removed key are refused as [`SealError::UnknownKey`].

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certs::RandomSource;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

/// The longest sealed value, in characters: with a cookie's name and attributes it stays under
/// the 4,096 bytes browsers keep per cookie.
pub const MAX_SEALED_LEN: usize = 3_800;
/// The longest sealed certificate capture, in characters: it travels in a redirect's query, not
/// a cookie, and holds a chain of a few certificates.
pub const MAX_SEALED_CAPTURE_LEN: usize = 24_000;
/// The longest sealed store record, in characters (an SSO session is well under 2,000).
pub const MAX_SEALED_STORED_LEN: usize = 16_000;
/// The length of a sealing key's secret (AES-256).
pub const SEAL_KEY_LEN: usize = 32;
/// The longest key name: it travels in every sealed value.
pub const MAX_KEY_NAME_LEN: usize = 16;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const EXPIRY_LEN: usize = 8;

/// What a sealed value is for; part of the associated data, so a value sealed for one purpose
/// never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealPurpose {
    /// A login flow: the pending SAML request (SP, request ID, ACS, RelayState, LoA, ForceAuthn,
    /// language) and the upstream login's secrets (state, nonce, PKCE verifier, the method).
    Flow,
    /// The certificate chain the ID-card listener captured for an upstream `state`.
    Capture,
    /// A record in a shared store (an SSO session, a service provider's part in one), bound to
    /// its key there: a value copied to another key does not open.
    Stored,
}

impl SealPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SealPurpose::Flow => "flow",
            SealPurpose::Capture => "capture",
            SealPurpose::Stored => "stored",
        }
    }

    /// The longest sealed value of this purpose, in characters.
    pub fn max_len(self) -> usize {
        match self {
            SealPurpose::Flow => MAX_SEALED_LEN,
            SealPurpose::Capture => MAX_SEALED_CAPTURE_LEN,
            SealPurpose::Stored => MAX_SEALED_STORED_LEN,
        }
    }
}

/// Why a value was not sealed or not opened. No variant carries a secret or a payload.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Not a sealed value of ours: bad base64, too short, an unknown version, a bad key name.
    #[error("sealed value malformed: {0}")]
    Malformed(&'static str),
    /// Sealed with a key the ring does not hold (removed since, or never ours).
    #[error("sealed with unknown key {name:?}")]
    UnknownKey { name: String },
    /// The tag did not verify: the value was altered, forged, or sealed for another purpose or
    /// context (see the module comment).
    #[error(
        "sealed value fails authentication (altered, or sealed for another purpose or context)"
    )]
    Tampered,
    #[error("sealed value expired at {expired_at} (now {now})")]
    Expired {
        now: OffsetDateTime,
        expired_at: OffsetDateTime,
    },
    /// The sealed value (to be made, or presented) exceeds the cap.
    #[error("sealed value of {len} characters exceeds {max}")]
    TooLarge { len: usize, max: usize },
    /// The payload does not (de)serialize as the expected type. Only serde's category and
    /// position are kept: its message can quote the payload.
    #[error("sealed record unreadable ({category} error at line {line}, column {column})")]
    Record {
        category: &'static str,
        line: usize,
        column: usize,
    },
    /// A key ring that cannot be built: a bad name or length, a duplicate, no current key.
    #[error("sealing key ring: {0}")]
    KeyRing(&'static str),
    /// The random source or the AEAD backend failed while sealing.
    #[error("sealing backend failed: {0}")]
    Backend(&'static str),
}

impl SealError {
    /// A stable code per variant, for logs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::Malformed(_) => "seal.malformed",
            SealError::UnknownKey { .. } => "seal.unknown_key",
            SealError::Tampered => "seal.tampered",
            SealError::Expired { .. } => "seal.expired",
            SealError::TooLarge { .. } => "seal.too_large",
            SealError::Record { .. } => "seal.record",
            SealError::KeyRing(_) => "seal.key_ring",
            SealError::Backend(_) => "seal.backend",
        }
    }
}

/// Where a JSON error is, and of what kind: never its message, which can quote the record.
pub(crate) fn json_error_place(e: &serde_json::Error) -> (&'static str, usize, usize) {
    let category = match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    };
    (category, e.line(), e.column())
}

impl From<serde_json::Error> for SealError {
    fn from(e: serde_json::Error) -> Self {
        let (category, line, column) = json_error_place(&e);
        SealError::Record {
            category,
            line,
            column,
        }
    }
}

/// Named sealing keys: one current key seals, every key in the ring opens. `Debug` shows the
/// names only.
pub struct SealKeyRing {
    current: usize,
    keys: Vec<(String, LessSafeKey)>,
}

impl std::fmt::Debug for SealKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKeyRing")
            .field("current", &self.current_name())
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl SealKeyRing {
    /// A ring from (name, secret) pairs; `current` names the one that seals. Names are 1 to 16
    /// characters of `A-Z a-z 0-9 . _ -`, unique; each secret is exactly 32 bytes.
    pub fn new<N, K>(
        current: &str,
        keys: impl IntoIterator<Item = (N, K)>,
    ) -> Result<SealKeyRing, SealError>
    where
        N: AsRef<str>,
        K: AsRef<[u8]>,
    {
        let mut ring = Vec::new();
        for (name, secret) in keys {
            let name = name.as_ref();
            if !valid_key_name(name.as_bytes()) {
                return Err(SealError::KeyRing(
                    "a key name is not 1-16 characters of A-Z a-z 0-9 . _ -",
                ));
            }
            if ring.iter().any(|(n, _)| n == name) {
                return Err(SealError::KeyRing("two keys have the same name"));
            }
            let secret = secret.as_ref();
            if secret.len() != SEAL_KEY_LEN {
                return Err(SealError::KeyRing("a key is not 32 bytes"));
            }
            let key = UnboundKey::new(&AES_256_GCM, secret)
                .map_err(|_| SealError::KeyRing("the AEAD backend refused a key"))?;
            ring.push((name.to_string(), LessSafeKey::new(key)));
        }
        let current = ring
            .iter()
            .position(|(n, _)| n == current)
            .ok_or(SealError::KeyRing("the current key is not in the ring"))?;
        Ok(SealKeyRing {
            current,
            keys: ring,
        })
    }

    /// A ring of one freshly generated key, for dev mode: values sealed with it die with the
    /// process.
    pub fn generate(name: &str, rng: &dyn RandomSource) -> Result<SealKeyRing, SealError> {
        let mut secret = [0u8; SEAL_KEY_LEN];
        rng.fill(&mut secret)
            .map_err(|_| SealError::Backend("random source"))?;
        SealKeyRing::new(name, [(name, secret)])
    }

    pub fn current_name(&self) -> &str {
        self.keys
            .get(self.current)
            .map(|(n, _)| n.as_str())
            .unwrap_or_default()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(n, _)| n.as_str())
    }

    fn key(&self, name: &[u8]) -> Option<&LessSafeKey> {
        self.keys
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(_, k)| k)
    }
}

/// Seal `payload` for `purpose` and `context` (a flow ID, a binding token's hash) with the ring's
/// current key, valid until `now + ttl` (whole seconds; a TTL of zero or less seals a value that
/// is already expired).
pub fn seal(
    ring: &SealKeyRing,
    purpose: SealPurpose,
    context: &str,
    payload: &[u8],
    now: OffsetDateTime,
    ttl: Duration,
    rng: &dyn RandomSource,
) -> Result<String, SealError> {
    let raw = seal_bytes(ring, purpose, context, payload, now, ttl, rng)?;
    Ok(URL_SAFE_NO_PAD.encode(raw))
}

/// [`seal`] without the base64: the raw bytes, for a store that keeps binary values (a quarter
/// smaller). The cap is the same, counted as if encoded.
pub fn seal_bytes(
    ring: &SealKeyRing,
    purpose: SealPurpose,
    context: &str,
    payload: &[u8],
    now: OffsetDateTime,
    ttl: Duration,
    rng: &dyn RandomSource,
) -> Result<Vec<u8>, SealError> {
    let (name, key) = ring
        .keys
        .get(ring.current)
        .ok_or(SealError::KeyRing("no current key"))?;
    let header_len = 2 + name.len() + EXPIRY_LEN;
    let raw_len = header_len + NONCE_LEN + payload.len() + TAG_LEN;
    let len = (raw_len * 4).div_ceil(3);
    if len > purpose.max_len() {
        return Err(SealError::TooLarge {
            len,
            max: purpose.max_len(),
        });
    }
    let expiry = now.unix_timestamp().saturating_add(ttl.whole_seconds());
    let mut out = Vec::with_capacity(raw_len);
    out.push(VERSION);
    out.push(u8::try_from(name.len()).map_err(|_| SealError::KeyRing("key name too long"))?);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&expiry.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce)
        .map_err(|_| SealError::Backend("random source"))?;
    let aad = associated_data(&out, purpose, context);
    out.extend_from_slice(&nonce);
    let mut body = payload.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&aad),
        &mut body,
    )
    .map_err(|_| SealError::Backend("AEAD seal"))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Open a value sealed by [`seal`] for the same `purpose` and `context`; see the module comment
/// for the order of the checks.
pub fn open(
    ring: &SealKeyRing,
    purpose: SealPurpose,
    context: &str,
    sealed: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, SealError> {
    if sealed.len() > purpose.max_len() {
        return Err(SealError::TooLarge {
            len: sealed.len(),
            max: purpose.max_len(),
        });
    }
    let raw = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| SealError::Malformed("not base64url without padding"))?;
    open_bytes(ring, purpose, context, &raw, now)
}

/// [`open`] for the raw bytes [`seal_bytes`] made.
pub fn open_bytes(
    ring: &SealKeyRing,
    purpose: SealPurpose,
    context: &str,
    raw: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<u8>, SealError> {
    let encoded_len = (raw.len() * 4).div_ceil(3);
    if encoded_len > purpose.max_len() {
        return Err(SealError::TooLarge {
            len: encoded_len,
            max: purpose.max_len(),
        });
    }
    let (&version, rest) = raw.split_first().ok_or(SealError::Malformed("empty"))?;
    if version != VERSION {
        return Err(SealError::Malformed("unknown version"));
    }
    let (&name_len, rest) = rest
        .split_first()
        .ok_or(SealError::Malformed("too short"))?;
    let name_len = usize::from(name_len);
    if rest.len() < name_len + EXPIRY_LEN + NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed("too short"));
    }
    let (name, rest) = rest.split_at(name_len);
    if !valid_key_name(name) {
        return Err(SealError::Malformed("bad key name"));
    }
    let (expiry, rest) = rest.split_at(EXPIRY_LEN);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let key = ring.key(name).ok_or_else(|| SealError::UnknownKey {
        name: String::from_utf8_lossy(name).into_owned(),
    })?;
    let header_len = 2 + name_len + EXPIRY_LEN;
    let aad = associated_data(&raw[..header_len], purpose, context);
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed("bad nonce"))?;
    let mut body = body.to_vec();
    let plain_len = key
        .open_in_place(nonce, Aad::from(&aad), &mut body)
        .map_err(|_| SealError::Tampered)?
        .len();
    body.truncate(plain_len);
    let expiry = i64::from_be_bytes(
        expiry
            .try_into()
            .map_err(|_| SealError::Malformed("bad expiry"))?,
    );
    if now.unix_timestamp() >= expiry {
        return Err(SealError::Expired {
            now,
            expired_at: OffsetDateTime::from_unix_timestamp(expiry)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        });
    }
    Ok(body)
}

/// [`seal`] for a value serialized as JSON.
pub fn seal_json<T: Serialize>(
    ring: &SealKeyRing,
    purpose: SealPurpose,
    context: &str,
    value: &T,
    now: OffsetDateTime,
    ttl: Duration,
    rng: &dyn RandomSource,
) -> Result<String, SealError> {
    let payload = serde_json::to_vec(value)?;
    seal(ring, purpose, context, &payload, now, ttl, rng)
}

/// [`open`], then the payload read as JSON into `T`.
pub fn open_json<T: DeserializeOwned>(
    ring: &SealKeyRing,
    purpose: SealPurpose,
    context: &str,
    sealed: &str,
    now: OffsetDateTime,
) -> Result<T, SealError> {
    let payload = open(ring, purpose, context, sealed, now)?;
    Ok(serde_json::from_slice(&payload)?)
}

/// The header, then the purpose and the context, each with its length before it.
fn associated_data(header: &[u8], purpose: SealPurpose, context: &str) -> Vec<u8> {
    let purpose = purpose.as_str().as_bytes();
    let mut aad = Vec::with_capacity(header.len() + 16 + purpose.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&(purpose.len() as u64).to_be_bytes());
    aad.extend_from_slice(purpose);
    aad.extend_from_slice(&(context.len() as u64).to_be_bytes());
    aad.extend_from_slice(context.as_bytes());
    aad
}

fn valid_key_name(name: &[u8]) -> bool {
    (1..=MAX_KEY_NAME_LEN).contains(&name.len())
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use certs::{Clock, FixedClock, ManualClock, SeededRandomSource};

    const FLOW_ID: &str = "flow-7f3a";
    const TTL: Duration = Duration::minutes(10);

    fn start() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn ring_of(current: &str, names: &[&str]) -> SealKeyRing {
        // Each name's secret derives from the name, so "k1" is the same key in every ring.
        let keys = names.iter().map(|n| {
            let mut secret = [0u8; SEAL_KEY_LEN];
            for (i, b) in n.bytes().enumerate() {
                secret[i] = b;
            }
            (n.to_string(), secret)
        });
        SealKeyRing::new(current, keys).unwrap()
    }

    fn sealed_with(ring: &SealKeyRing, payload: &[u8]) -> String {
        let rng = SeededRandomSource::new(7);
        seal(
            ring,
            SealPurpose::Flow,
            FLOW_ID,
            payload,
            start(),
            TTL,
            &rng,
        )
        .unwrap()
    }

    fn opened(ring: &SealKeyRing, sealed: &str) -> Result<Vec<u8>, SealError> {
        open(ring, SealPurpose::Flow, FLOW_ID, sealed, start())
    }

    #[test]
    fn round_trip() {
        let ring = ring_of("k1", &["k1"]);
        let clock = FixedClock(start());
        let rng = SeededRandomSource::new(1);
        let sealed = seal(
            &ring,
            SealPurpose::Flow,
            FLOW_ID,
            b"payload",
            clock.now(),
            TTL,
            &rng,
        )
        .unwrap();
        assert!(sealed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!sealed.contains("payload"));
        assert_eq!(opened(&ring, &sealed).unwrap(), b"payload");
        assert_eq!(opened(&ring, &sealed_with(&ring, b"")).unwrap(), b"");
        let other = seal(
            &ring,
            SealPurpose::Flow,
            FLOW_ID,
            b"payload",
            start(),
            TTL,
            &rng,
        )
        .unwrap();
        assert_ne!(sealed, other, "a fresh nonce each time");
    }

    #[test]
    fn json_round_trip_and_wrong_type() {
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Pending {
            sp: String,
            request_id: String,
            force_authn: bool,
        }
        let ring = ring_of("k1", &["k1"]);
        let rng = SeededRandomSource::new(2);
        let value = Pending {
            sp: "https://sp.example".into(),
            request_id: "_a1".into(),
            force_authn: true,
        };
        let sealed = seal_json(
            &ring,
            SealPurpose::Flow,
            FLOW_ID,
            &value,
            start(),
            TTL,
            &rng,
        )
        .unwrap();
        let back: Pending = open_json(&ring, SealPurpose::Flow, FLOW_ID, &sealed, start()).unwrap();
        assert_eq!(back, value);
        let err =
            open_json::<u32>(&ring, SealPurpose::Flow, FLOW_ID, &sealed, start()).unwrap_err();
        assert_eq!(err.code(), "seal.record");
        assert!(!err.to_string().contains("sp.example"), "{err}");
    }

    #[test]
    fn every_altered_position_is_refused() {
        let ring = ring_of("k1", &["k1"]);
        let sealed = sealed_with(&ring, b"short");
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= flip;
                let err = opened(&ring, &URL_SAFE_NO_PAD.encode(&bad)).unwrap_err();
                // The key name byte can turn into a name the ring does not hold.
                assert!(
                    matches!(
                        err,
                        SealError::Tampered
                            | SealError::Malformed(_)
                            | SealError::UnknownKey { .. }
                    ),
                    "byte {i} ^ {flip:#x}: {err:?}"
                );
            }
        }
        for i in 0..sealed.len() {
            let mut chars: Vec<u8> = sealed.bytes().collect();
            chars[i] = if chars[i] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(chars).unwrap();
            let err = opened(&ring, &bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    SealError::Tampered | SealError::Malformed(_) | SealError::UnknownKey { .. }
                ),
                "character {i}: {err:?}"
            );
        }
        // Cut short or lengthened.
        for cut in 0..sealed.len() {
            assert!(opened(&ring, &sealed[..cut]).is_err(), "cut at {cut}");
        }
        assert!(opened(&ring, &format!("{sealed}AA")).is_err());
    }

    #[test]
    fn altering_the_header_fails_the_tag() {
        let ring = ring_of("k1", &["k1"]);
        let raw = URL_SAFE_NO_PAD.decode(sealed_with(&ring, b"x")).unwrap();
        // The expiry's last byte: a later expiry is not accepted.
        let mut later = raw.clone();
        later[2 + 2 + EXPIRY_LEN - 1] ^= 0x01;
        let err = opened(&ring, &URL_SAFE_NO_PAD.encode(&later)).unwrap_err();
        assert_eq!(err.code(), "seal.tampered");
        let mut version = raw;
        version[0] = 2;
        let err = opened(&ring, &URL_SAFE_NO_PAD.encode(&version)).unwrap_err();
        assert_eq!(err.code(), "seal.malformed");
    }

    #[test]
    fn expired_at_and_after_the_expiry() {
        let ring = ring_of("k1", &["k1"]);
        let sealed = sealed_with(&ring, b"x");
        let clock = ManualClock::new(start());
        clock.advance(TTL - Duration::seconds(1));
        let open_now = |c: &ManualClock| open(&ring, SealPurpose::Flow, FLOW_ID, &sealed, c.now());
        assert_eq!(open_now(&clock).unwrap(), b"x", "control: a second before");
        clock.advance(Duration::seconds(1));
        match open_now(&clock) {
            Err(SealError::Expired { now, expired_at }) => {
                assert_eq!(now, start() + TTL);
                assert_eq!(expired_at, start() + TTL);
            }
            other => panic!("{other:?}"),
        }
        clock.advance(Duration::days(3));
        assert_eq!(open_now(&clock).unwrap_err().code(), "seal.expired");
        let rng = SeededRandomSource::new(3);
        let dead = seal(
            &ring,
            SealPurpose::Flow,
            FLOW_ID,
            b"x",
            start(),
            Duration::ZERO,
            &rng,
        );
        assert_eq!(
            opened(&ring, &dead.unwrap()).unwrap_err().code(),
            "seal.expired"
        );
    }

    #[test]
    fn another_flow_or_purpose_is_refused() {
        let ring = ring_of("k1", &["k1"]);
        let sealed = sealed_with(&ring, b"x");
        let other_flow = open(&ring, SealPurpose::Flow, "flow-other", &sealed, start());
        assert_eq!(other_flow.unwrap_err().code(), "seal.tampered");
        let other_purpose = open(&ring, SealPurpose::Capture, FLOW_ID, &sealed, start());
        assert_eq!(other_purpose.unwrap_err().code(), "seal.tampered");
        let empty_context = open(&ring, SealPurpose::Flow, "", &sealed, start());
        assert_eq!(empty_context.unwrap_err().code(), "seal.tampered");
        assert_eq!(opened(&ring, &sealed).unwrap(), b"x", "control");
    }

    #[test]
    fn rotation_old_key_opens_until_removed() {
        let before = ring_of("k1", &["k1"]);
        let during = ring_of("k2", &["k1", "k2"]);
        let after = ring_of("k2", &["k2"]);
        let old = sealed_with(&before, b"old");
        let new = sealed_with(&during, b"new");
        assert_eq!(opened(&during, &old).unwrap(), b"old");
        assert_eq!(opened(&during, &new).unwrap(), b"new");
        assert_eq!(opened(&after, &new).unwrap(), b"new");
        match opened(&after, &old) {
            Err(SealError::UnknownKey { name }) => assert_eq!(name, "k1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            opened(&before, &new).unwrap_err().code(),
            "seal.unknown_key"
        );
        // A key of the same name but another secret does not open it.
        let impostor = SealKeyRing::new("k1", [("k1", [9u8; SEAL_KEY_LEN])]).unwrap();
        assert_eq!(opened(&impostor, &old).unwrap_err().code(), "seal.tampered");
    }

    #[test]
    fn size_cap_on_seal_and_open() {
        let ring = ring_of("k1", &["k1"]);
        let overhead = 2 + 2 + EXPIRY_LEN + NONCE_LEN + TAG_LEN;
        let largest = MAX_SEALED_LEN * 3 / 4 - overhead;
        let sealed = sealed_with(&ring, &vec![b'a'; largest]);
        assert!(sealed.len() <= MAX_SEALED_LEN);
        assert_eq!(opened(&ring, &sealed).unwrap().len(), largest);
        let rng = SeededRandomSource::new(4);
        let too_big = seal(
            &ring,
            SealPurpose::Flow,
            FLOW_ID,
            &vec![b'a'; largest + 1],
            start(),
            TTL,
            &rng,
        );
        match too_big {
            Err(SealError::TooLarge { len, max }) => {
                assert!(len > MAX_SEALED_LEN);
                assert_eq!(max, MAX_SEALED_LEN);
            }
            other => panic!("{other:?}"),
        }
        let huge = "A".repeat(MAX_SEALED_LEN + 1);
        assert_eq!(opened(&ring, &huge).unwrap_err().code(), "seal.too_large");
        // Checked before decoding: not base64 either, still too large.
        let huge = "!".repeat(1_000_000);
        assert_eq!(opened(&ring, &huge).unwrap_err().code(), "seal.too_large");
    }

    #[test]
    fn garbage_never_opens_or_panics() {
        let ring = ring_of("k1", &["k1"]);
        let rng = SeededRandomSource::new(5);
        let genuine = URL_SAFE_NO_PAD
            .decode(sealed_with(&ring, b"payload"))
            .unwrap();
        for len in 0..400 {
            let mut bytes = vec![0u8; len];
            rng.fill(&mut bytes).unwrap();
            // Random bytes, random bytes behind a genuine header, and random characters.
            assert!(opened(&ring, &URL_SAFE_NO_PAD.encode(&bytes)).is_err());
            let mut headed = genuine[..4 + EXPIRY_LEN].to_vec();
            headed.extend_from_slice(&bytes);
            assert!(opened(&ring, &URL_SAFE_NO_PAD.encode(&headed)).is_err());
            let text: String = bytes.iter().map(|b| char::from(b % 128)).collect();
            assert!(opened(&ring, &text).is_err());
        }
    }

    #[test]
    fn key_ring_construction() {
        let key = [1u8; SEAL_KEY_LEN];
        let code = |r: Result<SealKeyRing, SealError>| r.unwrap_err().code();
        assert_eq!(code(SealKeyRing::new("", [("", key)])), "seal.key_ring");
        assert_eq!(
            code(SealKeyRing::new("a b", [("a b", key)])),
            "seal.key_ring"
        );
        assert_eq!(
            code(SealKeyRing::new("k", [("k", [1u8; 16])])),
            "seal.key_ring"
        );
        assert_eq!(
            code(SealKeyRing::new("k", [("k", key), ("k", key)])),
            "seal.key_ring"
        );
        assert_eq!(code(SealKeyRing::new("k2", [("k1", key)])), "seal.key_ring");
        let long = "k".repeat(MAX_KEY_NAME_LEN);
        let ring = SealKeyRing::new(&long, [(&long, key)]).unwrap();
        assert_eq!(opened(&ring, &sealed_with(&ring, b"x")).unwrap(), b"x");
        let dev = SealKeyRing::generate("dev", &SeededRandomSource::new(6)).unwrap();
        assert_eq!(dev.current_name(), "dev");
        let debug = format!("{dev:?}");
        assert!(
            debug.contains("dev") && !debug.contains("LessSafeKey"),
            "{debug}"
        );
    }
}

//! Compact JWS seeds for `jose_jws`.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jose::fuzzing::MAX_LEN;
use jose::{JweAlg, JweEnc, JwsAlg, KeyPurpose};
use serde_json::json;

use super::*;

pub(super) fn seeds(k: &Keys, out: &mut Vec<Seed>) {
    let mut seed =
        |name: &str, token: String| out.push(("jose_jws", name.to_owned(), token.into_bytes()));
    let rs256 = sign(
        &json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}),
        PAYLOAD,
        &k.rsa,
    );
    let es256 = sign(&json!({"alg": "ES256", "kid": "ec"}), PAYLOAD, &k.ec);
    seed("valid-rs256", rs256.clone());
    seed(
        "valid-ps256",
        sign_raw(br#"{"alg":"PS256","kid":"rsa"}"#, PAYLOAD, &k.rsa, true),
    );
    seed("valid-es256", es256.clone());
    seed(
        "valid-rs256-no-kid",
        sign(&json!({"alg": "RS256"}), PAYLOAD, &k.rsa),
    );
    seed(
        "valid-es256-no-kid",
        sign(&json!({"alg": "ES256"}), PAYLOAD, &k.ec),
    );
    seed(
        "valid-empty-payload",
        sign(&json!({"alg": "RS256", "kid": "rsa"}), b"", &k.rsa),
    );
    // Key pointers are never followed: the bank's own key signed it, so it verifies.
    seed(
        "valid-jku-x5u-x5c-not-followed",
        sign(
            &json!({"alg": "RS256", "kid": "rsa",
                "jku": "https://attacker.fuzz.example/jwks.json",
                "x5u": "https://attacker.fuzz.example/cert.pem",
                "x5c": [STANDARD.encode(k.attacker_rsa.public_key_spki_der())]}),
            PAYLOAD,
            &k.rsa,
        ),
    );
    seed(
        "valid-unknown-header-members",
        sign(
            &json!({"alg": "ES256", "kid": "ec", "x-fuzz": {"a": [1, 2.5, null, true]}}),
            PAYLOAD,
            &k.ec,
        ),
    );
    // A large header still under the cap.
    let filler = "x".repeat(MAX_LEN / 2);
    seed(
        "valid-large-header-under-the-cap",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "x-filler": filler}),
            PAYLOAD,
            &k.rsa,
        ),
    );

    // Algorithms: refused by name, before any key is looked at.
    let unsigned = |alg: &str, kid: &str| {
        format!(
            "{}.{}.",
            b64(json!({"alg": alg, "kid": kid}).to_string().as_bytes()),
            b64(PAYLOAD)
        )
    };
    seed(
        "hostile-jose.algorithm_not_allowed-alg-none",
        unsigned("none", "rsa"),
    );
    seed(
        "hostile-jose.algorithm_not_allowed-alg-None",
        unsigned("None", "rsa"),
    );
    seed(
        "hostile-jose.algorithm_not_allowed-alg-none-with-signature",
        format!("{}{}", unsigned("none", "rsa"), part(&rs256, 2)),
    );
    let hs256 = |kid: &str| {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": "HS256", "kid": kid}).to_string().as_bytes()),
            b64(PAYLOAD)
        );
        let secret = k.rsa.public_key_spki_der();
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(tag.as_ref()))
    };
    seed(
        "hostile-jose.algorithm_not_allowed-hs256-keyed-with-the-public-key",
        hs256("rsa"),
    );
    // An unknown kid shows the order: a key lookup first would answer unknown_kid.
    seed(
        "hostile-jose.algorithm_not_allowed-hs256-unknown-kid",
        hs256("nope"),
    );
    seed(
        "hostile-jose.algorithm_not_allowed-rs384",
        sign(&json!({"alg": "RS384", "kid": "rsa"}), PAYLOAD, &k.rsa),
    );
    seed(
        "hostile-jose.algorithm_not_allowed-rs256-trailing-space",
        sign(&json!({"alg": "RS256 ", "kid": "rsa"}), PAYLOAD, &k.rsa),
    );
    seed(
        "hostile-jose.malformed-no-alg",
        sign(&json!({"kid": "rsa"}), PAYLOAD, &k.rsa),
    );
    seed(
        "hostile-jose.malformed-alg-not-a-string",
        sign(&json!({"alg": ["RS256"], "kid": "rsa"}), PAYLOAD, &k.rsa),
    );
    seed(
        "hostile-jose.malformed-kid-not-a-string",
        sign(&json!({"alg": "RS256", "kid": 1}), PAYLOAD, &k.rsa),
    );

    // Header parameters that change processing, refused even when the real key signed.
    seed(
        "hostile-jose.critical_header-crit",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "crit": ["exp"], "exp": 1}),
            PAYLOAD,
            &k.rsa,
        ),
    );
    seed(
        "hostile-jose.critical_header-crit-empty",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "crit": []}),
            PAYLOAD,
            &k.rsa,
        ),
    );
    let attacker_jwk = public_jwk(&k.attacker_rsa, "rsa", KeyPurpose::Sign(JwsAlg::RS256));
    seed(
        "hostile-jose.embedded_key-jwk-of-the-attacker",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "jwk": attacker_jwk}),
            PAYLOAD,
            &k.attacker_rsa,
        ),
    );
    seed(
        "hostile-jose.embedded_key-jwk-of-the-real-key",
        sign(
            &json!({"alg": "RS256", "kid": "rsa",
                "jwk": public_jwk(&k.rsa, "rsa", KeyPurpose::Sign(JwsAlg::RS256))}),
            PAYLOAD,
            &k.rsa,
        ),
    );
    seed(
        "hostile-jose.unsupported_header-b64-false",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "b64": false}),
            PAYLOAD,
            &k.rsa,
        ),
    );

    // Keys.
    seed(
        "hostile-jose.unknown_kid-attacker-kid",
        sign(
            &json!({"alg": "RS256", "kid": "attacker"}),
            PAYLOAD,
            &k.attacker_rsa,
        ),
    );
    seed(
        "hostile-jose.no_suitable_key-rs256-with-the-ec-kid",
        sign(&json!({"alg": "RS256", "kid": "ec"}), PAYLOAD, &k.rsa),
    );
    seed(
        "hostile-jose.no_suitable_key-signed-with-the-encryption-key",
        sign(&json!({"alg": "RS256", "kid": "enc"}), PAYLOAD, &k.enc),
    );

    // Signatures.
    seed(
        "hostile-jose.bad_signature-attacker-rsa",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}),
            PAYLOAD,
            &k.attacker_rsa,
        ),
    );
    seed(
        "hostile-jose.bad_signature-attacker-ec",
        sign(
            &json!({"alg": "ES256", "kid": "ec"}),
            PAYLOAD,
            &k.attacker_ec,
        ),
    );
    seed(
        "hostile-jose.bad_signature-attacker-rsa-no-kid-with-jku",
        sign(
            &json!({"alg": "RS256", "jku": "https://attacker.fuzz.example/jwks.json"}),
            PAYLOAD,
            &k.attacker_rsa,
        ),
    );
    let tampered = String::from_utf8(PAYLOAD.to_vec())
        .unwrap()
        .replace("\"s1\"", "\"s2\"");
    seed(
        "hostile-jose.bad_signature-tampered-payload",
        with_part(&rs256, 1, &b64(tampered.as_bytes())),
    );
    seed(
        "hostile-jose.bad_signature-flipped-signature-bit",
        flip(&rs256, 2, 100),
    );
    // PS256 named, PKCS#1 v1.5 signed: the padding schemes are not interchangeable.
    seed(
        "hostile-jose.bad_signature-ps256-header-pkcs1-signature",
        sign_raw(br#"{"alg":"PS256","kid":"rsa"}"#, PAYLOAD, &k.rsa, false),
    );
    let rs = URL_SAFE_NO_PAD.decode(part(&es256, 2)).unwrap();
    seed(
        "hostile-jose.bad_signature-es256-der-signature",
        with_part(&es256, 2, &b64(&ecdsa_der(&rs))),
    );
    seed(
        "hostile-jose.bad_signature-es256-63-bytes",
        with_part(&es256, 2, &b64(&rs[..63])),
    );
    seed(
        "hostile-jose.bad_signature-empty-signature",
        with_part(&rs256, 2, ""),
    );
    let other = sign(
        &json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}),
        b"{}",
        &k.rsa,
    );
    seed(
        "hostile-jose.bad_signature-signature-of-another-token",
        with_part(&rs256, 2, part(&other, 2)),
    );

    // Shape and base64url.
    seed("hostile-jose.malformed-empty-input", String::new());
    seed(
        "hostile-jose.malformed-two-parts",
        rs256.rsplit_once('.').unwrap().0.to_owned(),
    );
    seed(
        "hostile-jose.malformed-four-parts",
        format!("{rs256}.{}", b64(b"{}")),
    );
    seed(
        "hostile-jose.malformed-padded-signature",
        with_part(
            &rs256,
            2,
            &URL_SAFE_NO_PAD
                .decode(part(&rs256, 2))
                .map(|sig| base64::engine::general_purpose::URL_SAFE.encode(sig))
                .unwrap(),
        ),
    );
    let standard = STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(part(&rs256, 2)).unwrap());
    assert_ne!(standard, part(&rs256, 2), "the signature has no - or _");
    seed(
        "hostile-jose.malformed-standard-alphabet-signature",
        with_part(&rs256, 2, &standard),
    );
    seed(
        "hostile-jose.malformed-trailing-newline",
        format!("{rs256}\n"),
    );
    seed(
        "hostile-jose.malformed-space-in-payload",
        with_part(&rs256, 1, &format!(" {}", part(&rs256, 1))),
    );
    seed(
        "hostile-jose.malformed-a-jwe",
        jwe_to(&k.enc, Some("enc"), JweAlg::RsaOaep, JweEnc::A128CbcHs256),
    );
    out.push((
        "jose_jws",
        "hostile-jose.malformed-not-utf8".to_owned(),
        [
            part(&rs256, 0).as_bytes(),
            b".\xff\xfe.",
            part(&rs256, 2).as_bytes(),
        ]
        .concat(),
    ));
    let mut seed =
        |name: &str, token: String| out.push(("jose_jws", name.to_owned(), token.into_bytes()));

    // Size: the cap is on the whole token, before anything is decoded.
    seed(
        "hostile-jose.too_large-cap-plus-one",
        format!("{rs256}{}", "A".repeat(MAX_LEN + 1 - rs256.len())),
    );
    seed(
        "hostile-jose.too_large-header-over-the-cap",
        sign(
            &json!({"alg": "RS256", "kid": "rsa", "x-filler": "x".repeat(MAX_LEN)}),
            PAYLOAD,
            &k.rsa,
        ),
    );

    // Header JSON: strict, one reading only.
    let raw = |header: &[u8]| sign_raw(header, PAYLOAD, &k.rsa, false);
    seed(
        "hostile-jose.json-duplicate-alg",
        raw(br#"{"alg":"RS256","kid":"rsa","alg":"none"}"#),
    );
    seed(
        "hostile-jose.json-duplicate-kid",
        raw(br#"{"alg":"RS256","kid":"rsa","kid":"ec"}"#),
    );
    seed("hostile-jose.json-header-is-an-array", raw(br#"["RS256"]"#));
    seed(
        "hostile-jose.json-deep-nesting",
        raw(format!(
            r#"{{"alg":"RS256","kid":"rsa","x":{}}}"#,
            nested_arrays(3000)
        )
        .as_bytes()),
    );
    seed(
        "hostile-jose.json-header-not-utf8",
        raw(b"{\"alg\":\"RS256\",\"kid\":\"\xff\"}"),
    );
    seed(
        "hostile-jose.json-lone-surrogate",
        raw(br#"{"alg":"RS256","kid":"\ud800"}"#),
    );
    seed(
        "hostile-jose.json-trailing-garbage",
        raw(br#"{"alg":"RS256","kid":"rsa"} x"#),
    );
    seed("hostile-jose.json-empty-header", raw(b""));
}

/// An ECDSA `r || s` signature as DER (what JWS forbids and X.509 uses).
fn ecdsa_der(rs: &[u8]) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut v = bytes[start..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        [&[0x02, v.len() as u8][..], &v].concat()
    };
    let (r, s) = rs.split_at(rs.len() / 2);
    let body = [integer(r), integer(s)].concat();
    [&[0x30, body.len() as u8][..], &body].concat()
}

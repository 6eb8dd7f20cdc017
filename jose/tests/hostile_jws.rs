//! Hostile JWS: each token must be refused, and for the right reason, because the reason shows which
//! check stopped it (an algorithm check that ran after the key lookup would answer `UnknownKid` instead).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::{assert_refused, b64, dec_keys, encrypt_to_enc_key, forge, keys, MAX, PAYLOAD};
use jose::{
    decrypt_jwe, public_jwk_json, sign_jws, verify_jws, JoseError, JweAlg, JweEnc, JwkSet, JwsAlg,
    KeyPurpose,
};
use serde_json::{json, Map};

fn verify(token: &str) -> Result<jose::VerifiedJws, JoseError> {
    verify_jws(token, &keys().set, &JwsAlg::ALL, MAX)
}

#[test]
fn a_genuine_token_passes_as_the_baseline() {
    let token = forge(&json!({"alg": "RS256", "kid": "rsa"}), PAYLOAD, &keys().rsa);
    assert_eq!(verify(&token).unwrap().payload, PAYLOAD);
}

#[test]
fn alg_none_is_refused_in_every_spelling() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "kid": "rsa"}).to_string().as_bytes());
        for token in [
            format!("{header}.{}.", b64(PAYLOAD)),
            format!("{header}.{}.{}", b64(PAYLOAD), b64(b"sig")),
        ] {
            let err = verify(&token).unwrap_err();
            assert!(
                matches!(err, JoseError::AlgorithmNotAllowed(ref a) if a == alg),
                "{alg}: {err:?}"
            );
        }
    }
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused_before_any_key_lookup() {
    // The classic confusion: HMAC keyed with bytes the verifier holds as a public key. A kid that names no
    // key shows the order of checks: a lookup first would answer UnknownKid.
    let spki = keys().rsa.public_key_spki_der();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&spki)
    );
    for secret in [spki.clone(), pem.into_bytes()] {
        for (alg, hmac_alg) in [
            ("HS256", aws_lc_rs::hmac::HMAC_SHA256),
            ("HS384", aws_lc_rs::hmac::HMAC_SHA384),
            ("HS512", aws_lc_rs::hmac::HMAC_SHA512),
        ] {
            for kid in ["rsa", "nope"] {
                let input = format!(
                    "{}.{}",
                    b64(json!({"alg": alg, "kid": kid}).to_string().as_bytes()),
                    b64(PAYLOAD)
                );
                let tag = aws_lc_rs::hmac::sign(
                    &aws_lc_rs::hmac::Key::new(hmac_alg, &secret),
                    input.as_bytes(),
                );
                let token = format!("{input}.{}", b64(tag.as_ref()));
                let err = verify(&token).unwrap_err();
                assert!(
                    matches!(err, JoseError::AlgorithmNotAllowed(ref a) if a == alg),
                    "{alg}/{kid}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn the_callers_allowlist_binds_before_the_key_lookup() {
    let token = forge(
        &json!({"alg": "RS256", "kid": "nope"}),
        PAYLOAD,
        &keys().rsa,
    );
    assert_refused(
        verify_jws(&token, &keys().set, &[JwsAlg::PS256, JwsAlg::ES256], MAX),
        "jose.algorithm_not_allowed",
        "RS256 not allowed",
    );
    assert_refused(
        verify_jws(&token, &keys().set, &[], MAX),
        "jose.algorithm_not_allowed",
        "nothing allowed",
    );
    for header in [
        json!({"kid": "rsa"}),
        json!({"alg": 256}),
        json!({"alg": ["RS256"]}),
        json!({"alg": null}),
    ] {
        assert_refused(
            verify(&forge(&header, PAYLOAD, &keys().rsa)),
            "jose.malformed",
            &header.to_string(),
        );
    }
    for alg in [
        "RS384", "RS512", "PS512", "ES384", "ES512", "EdDSA", "RSA-OAEP", "rs256",
    ] {
        assert_refused(
            verify(&forge(
                &json!({"alg": alg, "kid": "rsa"}),
                PAYLOAD,
                &keys().rsa,
            )),
            "jose.algorithm_not_allowed",
            alg,
        );
    }
}

#[test]
fn unknown_or_ambiguous_kid() {
    let k = keys();
    assert_refused(
        verify(&forge(
            &json!({"alg": "RS256", "kid": "other"}),
            PAYLOAD,
            &k.rsa,
        )),
        "jose.unknown_kid",
        "unknown kid",
    );
    assert_refused(
        verify(&forge(&json!({"alg": "RS256", "kid": 7}), PAYLOAD, &k.rsa)),
        "jose.malformed",
        "kid not a string",
    );
    // Without a kid the only RS256-capable key is chosen; with two it would be a guess.
    verify(&forge(&json!({"alg": "RS256"}), PAYLOAD, &k.rsa)).unwrap();
    let second = public_jwk_json(
        &k.attacker_rsa.verifying_key().unwrap(),
        "rsa2",
        KeyPurpose::Sign(JwsAlg::RS256),
    )
    .unwrap();
    let mut two = json!({"keys": [second]});
    for jwk in k.set.keys() {
        let purpose = if jwk.kid() == Some("ec") {
            KeyPurpose::Sign(JwsAlg::ES256)
        } else {
            KeyPurpose::Sign(JwsAlg::RS256)
        };
        two["keys"]
            .as_array_mut()
            .unwrap()
            .push(public_jwk_json(jwk.key(), jwk.kid().unwrap(), purpose).unwrap());
    }
    let two = JwkSet::from_json(two.to_string().as_bytes(), 10).unwrap();
    assert_refused(
        verify_jws(
            &forge(&json!({"alg": "RS256"}), PAYLOAD, &k.rsa),
            &two,
            &JwsAlg::ALL,
            MAX,
        ),
        "jose.unknown_kid",
        "no kid, two RSA keys",
    );
}

#[test]
fn a_key_embedded_in_the_header_is_refused_outright() {
    let k = keys();
    let attacker_jwk = public_jwk_json(
        &k.attacker_rsa.verifying_key().unwrap(),
        "rsa",
        KeyPurpose::Sign(JwsAlg::RS256),
    )
    .unwrap();
    let header = json!({"alg": "RS256", "kid": "rsa", "jwk": attacker_jwk});
    assert_refused(
        verify(&forge(&header, PAYLOAD, &k.attacker_rsa)),
        "jose.embedded_key",
        "attacker",
    );
    // Even when the real key signed it.
    assert_refused(
        verify(&forge(&header, PAYLOAD, &k.rsa)),
        "jose.embedded_key",
        "genuine",
    );
}

#[test]
fn key_urls_and_certificates_in_the_header_are_never_followed() {
    let k = keys();
    let attacker_cert = STANDARD.encode(k.attacker_rsa.public_key_spki_der());
    let pointers = json!({
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": [attacker_cert],
        "x5t#S256": "AAAA",
    });
    for (kid, signer, expected) in [
        (Some("rsa"), &k.attacker_rsa, "jose.bad_signature"),
        (None, &k.attacker_rsa, "jose.bad_signature"),
        (Some("attacker"), &k.attacker_rsa, "jose.unknown_kid"),
        (Some("ec"), &k.attacker_ec, "jose.bad_signature"),
    ] {
        let mut header = pointers.clone();
        header["alg"] = json!(if kid == Some("ec") { "ES256" } else { "RS256" });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        assert_refused(
            verify(&forge(&header, PAYLOAD, signer)),
            expected,
            &header.to_string(),
        );
    }
    // Signed by the bank's real key, the same parameters are harmless and kept for the caller to see.
    let mut header = pointers.clone();
    header["alg"] = json!("RS256");
    header["kid"] = json!("rsa");
    let verified = verify(&forge(&header, PAYLOAD, &k.rsa)).unwrap();
    assert_eq!(verified.header.params["jku"], pointers["jku"]);
}

#[test]
fn crit_and_b64_are_refused_even_when_genuine() {
    let k = keys();
    for crit in [json!(["exp"]), json!([]), json!("b64")] {
        let header = json!({"alg": "RS256", "kid": "rsa", "crit": crit, "exp": 1});
        assert_refused(
            verify(&forge(&header, PAYLOAD, &k.rsa)),
            "jose.critical_header",
            &crit.to_string(),
        );
    }
    let header = json!({"alg": "RS256", "kid": "rsa", "b64": false});
    assert_refused(
        verify(&forge(&header, PAYLOAD, &k.rsa)),
        "jose.unsupported_header",
        "b64",
    );
}

#[test]
fn wrong_part_counts() {
    let good = forge(&json!({"alg": "RS256", "kid": "rsa"}), PAYLOAD, &keys().rsa);
    let jwe = encrypt_to_enc_key(JweAlg::RsaOaep, JweEnc::A128CbcHs256);
    for token in [
        String::new(),
        ".".to_owned(),
        "...".to_owned(),
        good.split('.').take(2).collect::<Vec<_>>().join("."),
        format!("{good}."),
        format!("{good}.{}", b64(b"x")),
        format!("{good}..."),
        format!(".{good}"),
        jwe.clone(),
        format!("{jwe}.x"),
    ] {
        assert_refused(verify(&token), "jose.malformed", &token);
    }
    let dec = dec_keys();
    for token in [
        good.clone(),
        format!("{good}.x"),
        format!("{jwe}."),
        format!("{jwe}.x"),
        jwe.split('.').take(4).collect::<Vec<_>>().join("."),
        String::new(),
    ] {
        assert_refused(
            decrypt_jwe(&token, &dec, &JweAlg::ALL, &JweEnc::ALL, MAX),
            "jose.malformed",
            &token,
        );
    }
}

#[test]
fn padding_and_non_canonical_base64_are_refused() {
    let good = forge(&json!({"alg": "RS256", "kid": "rsa"}), PAYLOAD, &keys().rsa);
    let parts: Vec<&str> = good.split('.').collect();
    let padded = |i: usize, pad: &str| {
        let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
        p[i].push_str(pad);
        p.join(".")
    };
    let std_alphabet = good.replace('-', "+").replace('_', "/");
    let mut cases = vec![
        padded(0, "="),
        padded(0, "=="),
        padded(1, "="),
        padded(2, "=="),
        good.replacen('.', " .", 1),
        good.replacen('.', ".\n", 1),
        format!(" {good}"),
        format!("{good}\n"),
    ];
    if std_alphabet != good {
        cases.push(std_alphabet);
    }
    for token in cases {
        assert_refused(verify(&token), "jose.malformed", &token);
    }
    // RFC 7515 §2: an encoding with non-zero trailing bits is not the canonical one.
    let sig = parts[2];
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bumped = alphabet
        .chars()
        .nth(alphabet.find(last).unwrap() + 1)
        .unwrap();
    let non_canonical = format!(
        "{}.{}.{}{bumped}",
        parts[0],
        parts[1],
        &sig[..sig.len() - 1]
    );
    assert_refused(verify(&non_canonical), "jose.malformed", "trailing bits");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let good = forge(&json!({"alg": "RS256", "kid": "rsa"}), PAYLOAD, &keys().rsa);
    verify_jws(&good, &keys().set, &JwsAlg::ALL, good.len()).unwrap();
    assert_refused(
        verify_jws(&good, &keys().set, &JwsAlg::ALL, good.len() - 1),
        "jose.too_large",
        "one byte over",
    );
    let huge = "A".repeat(8 * 1024 * 1024);
    assert_refused(
        verify_jws(&huge, &keys().set, &JwsAlg::ALL, MAX),
        "jose.too_large",
        "huge JWS",
    );
    let jwe = encrypt_to_enc_key(JweAlg::RsaOaep, JweEnc::A128CbcHs256);
    assert_refused(
        decrypt_jwe(&jwe, &dec_keys(), &JweAlg::ALL, &JweEnc::ALL, jwe.len() - 1),
        "jose.too_large",
        "JWE one byte over",
    );
    assert_refused(
        decrypt_jwe(&huge, &dec_keys(), &JweAlg::ALL, &JweEnc::ALL, MAX),
        "jose.too_large",
        "huge JWE",
    );
}

#[test]
fn header_json_must_be_one_strict_object() {
    let k = keys();
    let sign_raw = |header: &[u8]| {
        let input = format!("{}.{}", b64(header), b64(PAYLOAD));
        let sig = k.rsa.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&sig))
    };
    for header in [
        &br#"{"alg":"RS256","kid":"rsa","alg":"none"}"#[..],
        br#"{"alg":"none","kid":"rsa","alg":"RS256"}"#,
        br#"["RS256"]"#,
        br#""RS256""#,
        b"",
        b"\xef\xbb\xbf{\"alg\":\"RS256\",\"kid\":\"rsa\"}",
        br#"{"alg":"RS256","kid":"rsa"}garbage"#,
    ] {
        assert_refused(
            verify(&sign_raw(header)),
            "jose.json",
            &String::from_utf8_lossy(header),
        );
    }
}

#[test]
fn wrong_key_type_signature_format_or_signer() {
    let k = keys();
    // An ES256 token naming the RSA key, and the other way round.
    assert_refused(
        verify(&forge(
            &json!({"alg": "ES256", "kid": "rsa"}),
            PAYLOAD,
            &k.ec,
        )),
        "jose.no_suitable_key",
        "ES256 with an RSA kid",
    );
    assert_refused(
        verify(&forge(
            &json!({"alg": "RS256", "kid": "ec"}),
            PAYLOAD,
            &k.rsa,
        )),
        "jose.no_suitable_key",
        "RS256 with an EC kid",
    );
    // Right kid, someone else's key.
    assert_refused(
        verify(&forge(
            &json!({"alg": "RS256", "kid": "rsa"}),
            PAYLOAD,
            &k.attacker_rsa,
        )),
        "jose.bad_signature",
        "attacker RSA",
    );
    assert_refused(
        verify(&forge(
            &json!({"alg": "ES256", "kid": "ec"}),
            PAYLOAD,
            &k.attacker_ec,
        )),
        "jose.bad_signature",
        "attacker EC",
    );
    // PKCS#1 v1.5 labelled PS256, and PSS labelled RS256.
    assert_refused(
        verify(&forge(
            &json!({"alg": "PS256", "kid": "rsa"}),
            PAYLOAD,
            &k.rsa,
        )),
        "jose.bad_signature",
        "v1.5 as PS256",
    );
    let pss = sign_jws(Map::new(), PAYLOAD, &k.rsa, "rsa", JwsAlg::PS256).unwrap();
    let relabelled = {
        let (_, rest) = pss.split_once('.').unwrap();
        format!(
            "{}.{rest}",
            b64(json!({"alg": "RS256", "kid": "rsa"}).to_string().as_bytes())
        )
    };
    assert_refused(
        verify(&relabelled),
        "jose.bad_signature",
        "PSS relabelled RS256",
    );
    // A DER-encoded ECDSA signature (what a careless signer produces) is not the JWS format.
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "ES256", "kid": "ec"}).to_string().as_bytes()),
        b64(PAYLOAD)
    );
    let der_signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &k.ec.to_pkcs8_der().unwrap(),
    )
    .unwrap();
    let der = der_signer
        .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
        .unwrap();
    assert_refused(
        verify(&format!("{input}.{}", b64(der.as_ref()))),
        "jose.bad_signature",
        "DER",
    );
    // Empty and truncated signatures.
    let good = forge(&json!({"alg": "ES256", "kid": "ec"}), PAYLOAD, &k.ec);
    let (signed, sig) = good.rsplit_once('.').unwrap();
    assert_refused(verify(&format!("{signed}.")), "jose.bad_signature", "empty");
    let short = b64(&URL_SAFE_NO_PAD.decode(sig).unwrap()[..63]);
    assert_refused(
        verify(&format!("{signed}.{short}")),
        "jose.bad_signature",
        "63 bytes",
    );
    // A changed payload.
    let tampered = format!(
        "{}.{}.{sig}",
        signed.split('.').next().unwrap(),
        b64(br#"{"iss":"https://bank.example","sub":"s2","exp":4102444800}"#)
    );
    assert_refused(verify(&tampered), "jose.bad_signature", "payload");
}

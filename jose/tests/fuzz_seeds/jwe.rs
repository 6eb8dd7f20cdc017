//! Compact JWE seeds for `jose_jwe`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jose::fuzzing::MAX_LEN;
use jose::{JweAlg, JweEnc, KeyPurpose};
use serde_json::{json, Map, Value};

use super::*;

pub(super) fn seeds(k: &Keys, out: &mut Vec<Seed>) {
    let mut seed =
        |name: &str, token: String| out.push(("jose_jwe", name.to_owned(), token.into_bytes()));
    let id_token = sign(
        &json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}),
        PAYLOAD,
        &k.rsa,
    );
    let cbc = jwe_with(
        &k.enc,
        Some("enc"),
        JweAlg::RsaOaep,
        JweEnc::A128CbcHs256,
        json!({"cty": "JWT"}).as_object().unwrap().clone(),
        id_token.as_bytes(),
    );
    let gcm = jwe_to(&k.enc, Some("enc"), JweAlg::RsaOaep256, JweEnc::A256Gcm);
    seed("valid-rsa-oaep-a128cbc-hs256-nested-jws", cbc.clone());
    seed("valid-rsa-oaep-256-a256gcm", gcm.clone());
    seed(
        "valid-rsa-oaep-a128gcm",
        jwe_to(&k.enc, Some("enc"), JweAlg::RsaOaep, JweEnc::A128Gcm),
    );
    seed(
        "valid-rsa-oaep-256-a128cbc-hs256-no-kid",
        jwe_to(&k.enc, None, JweAlg::RsaOaep256, JweEnc::A128CbcHs256),
    );
    seed(
        "valid-empty-plaintext",
        jwe_with(
            &k.enc,
            Some("enc"),
            JweAlg::RsaOaep,
            JweEnc::A256Gcm,
            Map::new(),
            b"",
        ),
    );
    // A `jwk` header member does not choose the key: ours decrypts, whatever it says.
    let attacker_jwk = json!({"jwk": public_jwk(
        &k.attacker_rsa, "enc", KeyPurpose::Encrypt(JweAlg::RsaOaep))});
    seed(
        "valid-jwk-in-header-not-used",
        jwe_with(
            &k.enc,
            Some("enc"),
            JweAlg::RsaOaep,
            JweEnc::A128CbcHs256,
            attacker_jwk.as_object().unwrap().clone(),
            PAYLOAD,
        ),
    );

    // Header checks, before any key is used. The other parts are a real token's.
    let header = |json: &str, token: &str| with_part(token, 0, &b64(json.as_bytes()));
    for (name, json) in [
        (
            "hostile-jose.algorithm_not_allowed-rsa1_5",
            r#"{"alg":"RSA1_5","enc":"A128CBC-HS256","kid":"enc"}"#,
        ),
        (
            "hostile-jose.algorithm_not_allowed-dir",
            r#"{"alg":"dir","enc":"A128CBC-HS256","kid":"enc"}"#,
        ),
        (
            "hostile-jose.algorithm_not_allowed-alg-none",
            r#"{"alg":"none","enc":"A128CBC-HS256","kid":"enc"}"#,
        ),
        (
            "hostile-jose.algorithm_not_allowed-a256cbc-hs512",
            r#"{"alg":"RSA-OAEP","enc":"A256CBC-HS512","kid":"enc"}"#,
        ),
        (
            "hostile-jose.algorithm_not_allowed-ecdh-es",
            r#"{"alg":"ECDH-ES","enc":"A128GCM","kid":"enc","epk":{"kty":"EC"}}"#,
        ),
        (
            "hostile-jose.malformed-no-enc",
            r#"{"alg":"RSA-OAEP","kid":"enc"}"#,
        ),
        (
            "hostile-jose.malformed-no-alg",
            r#"{"enc":"A128CBC-HS256","kid":"enc"}"#,
        ),
        (
            "hostile-jose.malformed-kid-not-a-string",
            r#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","kid":["enc"]}"#,
        ),
        (
            "hostile-jose.critical_header-crit",
            r#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","kid":"enc","crit":["exp"],"exp":1}"#,
        ),
        (
            "hostile-jose.unsupported_header-zip",
            r#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","kid":"enc","zip":"DEF"}"#,
        ),
        (
            "hostile-jose.json-duplicate-enc",
            r#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","kid":"enc","enc":"A128GCM"}"#,
        ),
        ("hostile-jose.json-header-is-a-string", r#""RSA-OAEP""#),
    ] {
        seed(name, header(json, &cbc));
    }
    seed(
        "hostile-jose.unknown_kid-another-kid",
        jwe_to(&k.enc, Some("other"), JweAlg::RsaOaep, JweEnc::A128CbcHs256),
    );

    // From the key unwrap on, one answer for every failure.
    seed(
        "hostile-jose.decryption_failed-encrypted-to-the-attacker",
        jwe_to(
            &k.attacker_rsa,
            Some("enc"),
            JweAlg::RsaOaep,
            JweEnc::A128CbcHs256,
        ),
    );
    seed(
        "hostile-jose.decryption_failed-attacker-key-offered-as-jwk",
        jwe_with(
            &k.attacker_rsa,
            Some("enc"),
            JweAlg::RsaOaep,
            JweEnc::A128CbcHs256,
            attacker_jwk.as_object().unwrap().clone(),
            PAYLOAD,
        ),
    );
    // The header is the AAD: a member added after encryption breaks the tag.
    let mut edited: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part(&cbc, 0)).unwrap()).unwrap();
    edited.insert("typ".to_owned(), json!("JWT"));
    seed(
        "hostile-jose.decryption_failed-header-edited",
        header(&Value::Object(edited).to_string(), &cbc),
    );
    seed(
        "hostile-jose.decryption_failed-flipped-encrypted-key",
        flip(&cbc, 1, 10),
    );
    seed(
        "hostile-jose.decryption_failed-flipped-iv",
        flip(&cbc, 2, 0),
    );
    seed(
        "hostile-jose.decryption_failed-flipped-ciphertext",
        flip(&cbc, 3, 0),
    );
    seed(
        "hostile-jose.decryption_failed-flipped-tag",
        flip(&cbc, 4, 15),
    );
    seed(
        "hostile-jose.decryption_failed-flipped-gcm-tag",
        flip(&gcm, 4, 0),
    );
    let tag = URL_SAFE_NO_PAD.decode(part(&gcm, 4)).unwrap();
    seed(
        "hostile-jose.decryption_failed-gcm-tag-15-bytes",
        with_part(&gcm, 4, &b64(&tag[..15])),
    );
    seed(
        "hostile-jose.decryption_failed-empty-tag",
        with_part(&cbc, 4, ""),
    );
    seed(
        "hostile-jose.decryption_failed-empty-encrypted-key",
        with_part(&cbc, 1, ""),
    );
    seed(
        "hostile-jose.decryption_failed-gcm-iv-8-bytes",
        with_part(&gcm, 2, &b64(&[0; 8])),
    );
    seed(
        "hostile-jose.decryption_failed-cbc-iv-8-bytes",
        with_part(&cbc, 2, &b64(&[0; 8])),
    );
    seed(
        "hostile-jose.decryption_failed-empty-ciphertext",
        with_part(&cbc, 3, ""),
    );
    let ciphertext = URL_SAFE_NO_PAD.decode(part(&cbc, 3)).unwrap();
    seed(
        "hostile-jose.decryption_failed-ciphertext-not-whole-blocks",
        with_part(&cbc, 3, &b64(&ciphertext[..ciphertext.len() - 1])),
    );

    // Shape and base64url.
    seed("hostile-jose.malformed-empty-input", String::new());
    // Five empty parts: the shape is right, the empty header is not JSON.
    seed("hostile-jose.json-five-empty-parts", "....".to_owned());
    seed(
        "hostile-jose.malformed-four-parts",
        cbc.rsplit_once('.').unwrap().0.to_owned(),
    );
    seed("hostile-jose.malformed-six-parts", format!("{cbc}.AA"));
    seed("hostile-jose.malformed-a-jws", id_token.clone());
    let iv = URL_SAFE_NO_PAD.decode(part(&cbc, 2)).unwrap();
    seed(
        "hostile-jose.malformed-padded-iv",
        with_part(
            &cbc,
            2,
            &base64::engine::general_purpose::URL_SAFE.encode(&iv),
        ),
    );
    seed(
        "hostile-jose.malformed-encrypted-key-not-base64url",
        with_part(&cbc, 1, "not*base64"),
    );
    seed(
        "hostile-jose.too_large-cap-plus-one",
        jwe_with(
            &k.enc,
            Some("enc"),
            JweAlg::RsaOaep,
            JweEnc::A128CbcHs256,
            Map::new(),
            &vec![b'x'; MAX_LEN],
        ),
    );
    out.push((
        "jose_jwe",
        "hostile-jose.malformed-not-utf8".to_owned(),
        [cbc.as_bytes(), b"\xc0"].concat(),
    ));
}

//! Published test vectors: RFC 7515 appendices A.2 (RS256) and A.3 (ES256), RFC 7516 appendix A.1
//! (RSA-OAEP + A256GCM), and RFC 7516 A.2 / A.3, whose A128CBC-HS256 content layer we check under the
//! RFC's content key while their key management (RSA1_5, A128KW) is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeyPairComponents, PublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certs::{CbcHmacCipher, DecryptionKey};
use jose::{
    decrypt_jwe, decrypt_jwe_with_header, parse_claims, verify_jws, verify_jwt, JoseError, JweAlg,
    JweDecryptionKey, JweEnc, JwkSet, JwsAlg,
};

const MAX: usize = 64 * 1024;

/// RFC 7515 A.2 and A.3 sign the same payload: `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`.
const PAYLOAD_B64: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

const A2_JWS: &str = concat!(
    "eyJhbGciOiJSUzI1NiJ9.",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.",
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdb",
    "F9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383",
    "LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWy",
    "wlVmtVrBp0igcN_IoypGlUPQGe77Rw"
);

const A2_JWK: &str = concat!(
    r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"#,
    r#"HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"#,
    r#"D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"#,
    r#"SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"#,
    r#"MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"#,
    r#"NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}"#
);

const A3_JWS: &str = concat!(
    "eyJhbGciOiJFUzI1NiJ9.",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.",
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
);

/// RFC 7515 A.3's public key (the private "d" is left out: a public set refuses it).
const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

const JWE_A1: &str = concat!(
    "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.",
    "OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe",
    "ipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDb",
    "Sv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaV",
    "mqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je8",
    "1860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi",
    "6UklfCpIMfIjf7iGdXKHzg.",
    "48V1_ALb6US04U3b.",
    "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji",
    "SdiwkIr3ajwQzaBtQD_A.",
    "XFBoMYUZodetZdvTiFvSkQ"
);

/// RFC 7516 A.1.
struct RsaPrivateJwk {
    n: &'static str,
    e: &'static str,
    d: &'static str,
    p: &'static str,
    q: &'static str,
    dp: &'static str,
    dq: &'static str,
    qi: &'static str,
}

const JWE_A1_KEY: RsaPrivateJwk = RsaPrivateJwk {
    n: concat!(
        "oahUIoWw0K0usKNuOR6H4wkf4oBUXHTxRvgb48E-BVvxkeDNjbC4he8rUW",
        "cJoZmds2h7M70imEVhRU5djINXtqllXI4DFqcI1DgjT9LewND8MW2Krf3S",
        "psk_ZkoFnilakGygTwpZ3uesH-PFABNIUYpOiN15dsQRkgr0vEhxN92i2a",
        "sbOenSZeyaxziK72UwxrrKoExv6kc5twXTq4h-QChLOln0_mtUZwfsRaMS",
        "tPs6mS6XrgxnxbWhojf663tuEQueGC-FCMfra36C9knDFGzKsNa7LZK2dj",
        "YgyD3JR_MB_4NUJW_TqOQtwHYbxevoJArm-L5StowjzGy-_bq6Gw"
    ),
    e: "AQAB",
    d: concat!(
        "kLdtIj6GbDks_ApCSTYQtelcNttlKiOyPzMrXHeI-yk1F7-kpDxY4-WY5N",
        "WV5KntaEeXS1j82E375xxhWMHXyvjYecPT9fpwR_M9gV8n9Hrh2anTpTD9",
        "3Dt62ypW3yDsJzBnTnrYu1iwWRgBKrEYY46qAZIrA2xAwnm2X7uGR1hghk",
        "qDp0Vqj3kbSCz1XyfCs6_LehBwtxHIyh8Ripy40p24moOAbgxVw3rxT_vl",
        "t3UVe4WO3JkJOzlpUf-KTVI2Ptgm-dARxTEtE-id-4OJr0h-K-VFs3VSnd",
        "VTIznSxfyrj8ILL6MG_Uv8YAu7VILSB3lOW085-4qE3DzgrTjgyQ"
    ),
    p: concat!(
        "1r52Xk46c-LsfB5P442p7atdPUrxQSy4mti_tZI3Mgf2EuFVbUoDBvaRQ-",
        "SWxkbkmoEzL7JXroSBjSrK3YIQgYdMgyAEPTPjXv_hI2_1eTSPVZfzL0lf",
        "fNn03IXqWF5MDFuoUYE0hzb2vhrlN_rKrbfDIwUbTrjjgieRbwC6Cl0"
    ),
    q: concat!(
        "wLb35x7hmQWZsWJmB_vle87ihgZ19S8lBEROLIsZG4ayZVe9Hi9gDVCOBm",
        "UDdaDYVTSNx_8Fyw1YYa9XGrGnDew00J28cRUoeBB_jKI1oma0Orv1T9aX",
        "IWxKwd4gvxFImOWr3QRL9KEBRzk2RatUBnmDZJTIAfwTs0g68UZHvtc"
    ),
    dp: concat!(
        "ZK-YwE7diUh0qR1tR7w8WHtolDx3MZ_OTowiFvgfeQ3SiresXjm9gZ5KL",
        "hMXvo-uz-KUJWDxS5pFQ_M0evdo1dKiRTjVw_x4NyqyXPM5nULPkcpU827",
        "rnpZzAJKpdhWAgqrXGKAECQH0Xt4taznjnd_zVpAmZZq60WPMBMfKcuE"
    ),
    dq: concat!(
        "Dq0gfgJ1DdFGXiLvQEZnuKEN0UUmsJBxkjydc3j4ZYdBiMRAy86x0vHCj",
        "ywcMlYYg4yoC4YZa9hNVcsjqA3FeiL19rk8g6Qn29Tt0cj8qqyFpz9vNDB",
        "UfCAiJVeESOjJDZPYHdHY8v1b-o-Z2X5tvLx-TCekf7oxyeKDUqKWjis"
    ),
    qi: concat!(
        "VIMpMYbPf47dT1w_zDUXfPimsSegnMOA1zTaX7aGk_8urY6R8-ZW1FxU7",
        "AlWAyLWybqq6t16VFd7hQd0y6flUK4SlOydB61gwanOsXGOAOv82cHq0E3",
        "eL4HrtZkUuKvnPrMnsUUFlfUdybVzxyjz9JF_XyaY14ardLSjf4L_FNY"
    ),
};

/// RFC 7516 A.2 (RSA1_5 + A128CBC-HS256).
const JWE_A2: &str = concat!(
    "eyJhbGciOiJSU0ExXzUiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.",
    "UGhIOguC7IuEvf_NPVaXsGMoLOmwvc1GyqlIKOK1nN94nHPoltGRhWhw7Zx0-kFm",
    "1NJn8LE9XShH59_i8J0PH5ZZyNfGy2xGdULU7sHNF6Gp2vPLgNZ__deLKxGHZ7Pc",
    "HALUzoOegEI-8E66jX2E4zyJKx-YxzZIItRzC5hlRirb6Y5Cl_p-ko3YvkkysZIF",
    "NPccxRU7qve1WYPxqbb2Yw8kZqa2rMWI5ng8OtvzlV7elprCbuPhcCdZ6XDP0_F8",
    "rkXds2vE4X-ncOIM8hAYHHi29NX0mcKiRaD0-D-ljQTP-cFPgwCp6X-nZZd9OHBv",
    "-B3oWh2TbqmScqXMR4gp_A.",
    "AxY8DCtDaGlsbGljb3RoZQ.",
    "KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.",
    "9hH0vgRfYgPnAHOd8stkvw"
);

/// RFC 7516 A.3 (A128KW + A128CBC-HS256): same content key, IV and ciphertext as A.2, another header.
const JWE_A3: &str = concat!(
    "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.",
    "6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.",
    "AxY8DCtDaGlsbGljb3RoZQ.",
    "KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.",
    "U0m_YmjN04DJvceFICbCVQ"
);

/// RFC 7516 A.2.2 / A.3.2: the content encryption key.
const A2_CEK: [u8; 32] = [
    4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124, 212, 45,
    111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
];

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// The token with one bit of its signature flipped (re-encoded, so the base64url stays canonical).
fn flip_signature(compact: &str, byte: usize) -> String {
    let (signed, signature) = compact.rsplit_once('.').unwrap();
    let mut sig = b64(signature);
    sig[byte] ^= 1;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn set(jwk: &str) -> JwkSet {
    JwkSet::from_json(format!(r#"{{"keys":[{jwk}]}}"#).as_bytes(), 10).unwrap()
}

/// PKCS#8 from the JWK's private members, by way of aws-lc-rs (which checks the key's consistency).
fn a1_decryption_key() -> DecryptionKey {
    let k = &JWE_A1_KEY;
    let components = KeyPairComponents {
        public_key: PublicKeyComponents {
            n: b64(k.n),
            e: b64(k.e),
        },
        d: b64(k.d),
        p: b64(k.p),
        q: b64(k.q),
        dP: b64(k.dp),
        dQ: b64(k.dq),
        qInv: b64(k.qi),
    };
    let pair = KeyPair::from_components(&components).unwrap();
    let pkcs8: Pkcs8V1Der<'static> = pair.as_der().unwrap();
    DecryptionKey::from_pkcs8_der(pkcs8.as_ref()).unwrap()
}

#[test]
fn rfc7515_a2_rs256_verifies_with_its_jwk() {
    let verified = verify_jws(A2_JWS, &set(A2_JWK), &[JwsAlg::RS256], MAX).unwrap();
    assert_eq!(verified.header.alg, JwsAlg::RS256);
    assert_eq!(verified.header.kid, None);
    assert_eq!(verified.payload, b64(PAYLOAD_B64));
    let claims = parse_claims(&verified.payload).unwrap();
    assert_eq!(claims.get_str("iss"), Some("joe"));
    assert_eq!(claims.get_i64("exp"), Some(1_300_819_380));
    assert_eq!(claims.get_bool("http://example.com/is_root"), Some(true));
    // The JWT path (jsonwebtoken::decode) reads the same claims; the 2011 exp is the caller's to judge.
    let jwt = verify_jwt(A2_JWS, &set(A2_JWK), &[JwsAlg::RS256], MAX).unwrap();
    assert_eq!(jwt.claims, claims);
    assert!(matches!(
        verify_jwt(
            &flip_signature(A2_JWS, 7),
            &set(A2_JWK),
            &[JwsAlg::RS256],
            MAX
        ),
        Err(JoseError::BadSignature)
    ));
}

#[test]
fn rfc7515_a2_fails_when_anything_changes() {
    let keys = set(A2_JWK);
    for byte in [0, 128, 255] {
        assert!(matches!(
            verify_jws(&flip_signature(A2_JWS, byte), &keys, &[JwsAlg::RS256], MAX),
            Err(JoseError::BadSignature)
        ));
    }
    // Same claims, one character of the payload changed ("joe" -> "jod").
    let tampered = A2_JWS.replacen("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Qi", 1);
    assert_ne!(tampered, A2_JWS);
    assert!(matches!(
        verify_jws(&tampered, &keys, &[JwsAlg::RS256], MAX),
        Err(JoseError::BadSignature)
    ));
    // The PKCS#1 v1.5 signature is not a PSS signature.
    assert!(matches!(
        verify_jws(A2_JWS, &keys, &[JwsAlg::PS256], MAX),
        Err(JoseError::AlgorithmNotAllowed(_))
    ));
    // The A.3 key is EC: nothing in that set fits RS256.
    assert!(matches!(
        verify_jws(A2_JWS, &set(A3_JWK), &[JwsAlg::RS256], MAX),
        Err(JoseError::NoSuitableKey)
    ));
}

#[test]
fn rfc7515_a3_es256_verifies_with_its_jwk() {
    let verified = verify_jws(A3_JWS, &set(A3_JWK), &[JwsAlg::ES256], MAX).unwrap();
    assert_eq!(verified.header.alg, JwsAlg::ES256);
    assert_eq!(verified.payload, b64(PAYLOAD_B64));
    let jwt = verify_jwt(A3_JWS, &set(A3_JWK), &[JwsAlg::ES256], MAX).unwrap();
    assert_eq!(jwt.claims, parse_claims(&verified.payload).unwrap());
    for byte in [0, 31, 32, 63] {
        assert!(matches!(
            verify_jws(
                &flip_signature(A3_JWS, byte),
                &set(A3_JWK),
                &[JwsAlg::ES256],
                MAX
            ),
            Err(JoseError::BadSignature)
        ));
    }
}

#[test]
fn rfc7515_a3_private_jwk_is_refused_in_a_public_set() {
    let with_d = A3_JWK.replace(
        "}",
        r#","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#,
    );
    assert!(matches!(
        JwkSet::from_json(format!(r#"{{"keys":[{with_d}]}}"#).as_bytes(), 10),
        Err(JoseError::KeyRefused(_))
    ));
}

#[test]
fn rfc7516_a1_rsa_oaep_a256gcm_decrypts_with_its_key() {
    let keys = [JweDecryptionKey::new(None, a1_decryption_key())];
    let decrypted =
        decrypt_jwe_with_header(JWE_A1, &keys, &[JweAlg::RsaOaep], &[JweEnc::A256Gcm], MAX)
            .unwrap();
    assert_eq!(
        decrypted.plaintext,
        b"The true sign of intelligence is not knowledge but imagination."
    );
    assert_eq!(decrypted.header.alg, JweAlg::RsaOaep);
    assert_eq!(decrypted.header.enc, JweEnc::A256Gcm);
    // The allowlists bind: the same token is refused when A256GCM or RSA-OAEP is not allowed.
    assert!(matches!(
        decrypt_jwe(JWE_A1, &keys, &[JweAlg::RsaOaep], &[JweEnc::A128CbcHs256], MAX),
        Err(JoseError::AlgorithmNotAllowed(ref e)) if e == "A256GCM"
    ));
    assert!(matches!(
        decrypt_jwe(JWE_A1, &keys, &[JweAlg::RsaOaep256], &[JweEnc::A256Gcm], MAX),
        Err(JoseError::AlgorithmNotAllowed(ref a)) if a == "RSA-OAEP"
    ));
}

#[test]
fn rfc7516_a1_tampering_is_one_generic_failure() {
    let keys = [JweDecryptionKey::new(None, a1_decryption_key())];
    let parts: Vec<&str> = JWE_A1.split('.').collect();
    let decrypt = |p: &[&str]| {
        decrypt_jwe(
            &p.join("."),
            &keys,
            &[JweAlg::RsaOaep, JweAlg::RsaOaep256],
            &JweEnc::ALL,
            MAX,
        )
    };
    let flip = |s: &str, i: usize| {
        let mut bytes = b64(s);
        bytes[i] ^= 1;
        URL_SAFE_NO_PAD.encode(bytes)
    };
    for (index, byte, what) in [
        (1, 100, "encrypted key"),
        (2, 0, "iv"),
        (3, 10, "ciphertext"),
        (4, 15, "tag"),
    ] {
        let flipped = flip(parts[index], byte);
        let mut p = parts.clone();
        p[index] = &flipped;
        assert!(
            matches!(decrypt(&p), Err(JoseError::DecryptionFailed)),
            "{what}"
        );
    }
    let short_tag = URL_SAFE_NO_PAD.encode(&b64(parts[4])[..12]);
    let mut p = parts.clone();
    p[4] = &short_tag;
    assert!(
        matches!(decrypt(&p), Err(JoseError::DecryptionFailed)),
        "truncated tag"
    );
    // The AAD is the header's base64url as sent: the same JSON re-encoded with a space is another AAD.
    let respaced = URL_SAFE_NO_PAD.encode(br#"{"alg":"RSA-OAEP", "enc":"A256GCM"}"#);
    let mut p = parts.clone();
    p[0] = &respaced;
    assert!(
        matches!(decrypt(&p), Err(JoseError::DecryptionFailed)),
        "header"
    );
    // Claiming RSA-OAEP-256 unwraps with the wrong hash: the random-key path, then the tag fails.
    let other_alg = URL_SAFE_NO_PAD.encode(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#);
    let mut p = parts.clone();
    p[0] = &other_alg;
    assert!(
        matches!(decrypt(&p), Err(JoseError::DecryptionFailed)),
        "alg swap"
    );
    // A128GCM wants a 16-byte key, the unwrapped one has 32: same single answer.
    let other_enc = URL_SAFE_NO_PAD.encode(br#"{"alg":"RSA-OAEP","enc":"A128GCM"}"#);
    let mut p = parts.clone();
    p[0] = &other_enc;
    assert!(
        matches!(decrypt(&p), Err(JoseError::DecryptionFailed)),
        "enc swap"
    );
}

#[test]
fn rfc7516_a2_rsa1_5_is_refused_before_any_key_is_used() {
    // Even with every algorithm we have allowed and a key at hand, RSA1_5 is not one of them.
    let keys = [JweDecryptionKey::new(None, a1_decryption_key())];
    let err = decrypt_jwe(JWE_A2, &keys, &JweAlg::ALL, &JweEnc::ALL, MAX).unwrap_err();
    assert!(
        matches!(err, JoseError::AlgorithmNotAllowed(ref a) if a == "RSA1_5"),
        "{err:?}"
    );
    let err = decrypt_jwe(JWE_A3, &keys, &JweAlg::ALL, &JweEnc::ALL, MAX).unwrap_err();
    assert!(
        matches!(err, JoseError::AlgorithmNotAllowed(ref a) if a == "A128KW"),
        "{err:?}"
    );
}

#[test]
fn rfc7516_a2_and_a3_content_layer_is_a128cbc_hs256_with_the_header_as_aad() {
    // The two examples share the CEK, IV and ciphertext; their tags differ only by the protected header
    // (the AAD). Both must open under the RFC's CEK, and neither under the other's header.
    let cipher = CbcHmacCipher::Aes128CbcHmacSha256;
    for (jwe, other) in [(JWE_A2, JWE_A3), (JWE_A3, JWE_A2)] {
        let p: Vec<&str> = jwe.split('.').collect();
        let other_header = other.split('.').next().unwrap();
        let plain = cipher
            .open(&A2_CEK, &b64(p[2]), p[0].as_bytes(), &b64(p[3]), &b64(p[4]))
            .unwrap();
        assert_eq!(plain, b"Live long and prosper.");
        assert!(cipher
            .open(
                &A2_CEK,
                &b64(p[2]),
                other_header.as_bytes(),
                &b64(p[3]),
                &b64(p[4])
            )
            .is_err());
    }
}

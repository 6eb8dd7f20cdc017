//! JWK set seeds for `jose_jwk_set`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jose::fuzzing;
use serde_json::{json, Value};

use super::*;

pub(super) fn seeds(k: &Keys, out: &mut Vec<Seed>) {
    let mut seed = |name: &str, json: &Value| {
        out.push((
            "jose_jwk_set",
            name.to_owned(),
            json.to_string().into_bytes(),
        ))
    };
    let published = fuzzing::verification_keys().unwrap();
    let rsa = published["keys"][0].clone();
    let ec = published["keys"][1].clone();
    seed("valid-the-harness-set", &published);
    seed("valid-empty-set", &json!({"keys": []}));
    seed(
        "valid-signed-jwks-payload-members",
        &json!({"keys": [rsa], "iss": "https://bank.fuzz.example", "iat": 1}),
    );
    // Key types and curves we do not use are skipped, not refused.
    seed(
        "valid-unused-types-skipped",
        &json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": b64(&[7; 32]), "kid": "ed"},
            {"kty": "EC", "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[2; 48])},
            {"kty": "RSA-PSS"},
            ec,
        ]}),
    );
    let mut with_extras = rsa.clone();
    with_extras["key_ops"] = json!(["verify"]);
    with_extras["x5c"] = json!([STANDARD.encode(k.attacker_rsa.public_key_spki_der())]);
    with_extras["x5t#S256"] = json!("AAAA");
    seed("valid-key-ops-and-x5c", &json!({"keys": [with_extras]}));
    let n = URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap();
    let mut leading_zero = rsa.clone();
    leading_zero["n"] = json!(b64(&[&[0][..], &n].concat()));
    seed(
        "valid-rsa-n-with-leading-zero",
        &json!({"keys": [leading_zero]}),
    );

    let one = |key: Value| json!({ "keys": [key] });
    seed(
        "hostile-jose.key_refused-oct",
        &one(json!({"kty": "oct", "k": b64(b"secret"), "alg": "HS256"})),
    );
    seed(
        "hostile-jose.key_refused-oct-without-k",
        &one(json!({"kty": "oct", "kid": "hmac"})),
    );
    let mut private = rsa.clone();
    private["d"] = json!(b64(&[5; 256]));
    seed("hostile-jose.key_refused-rsa-with-d", &one(private));
    let mut private_ec = ec.clone();
    private_ec["d"] = json!(b64(&[5; 32]));
    seed("hostile-jose.key_refused-ec-with-d", &one(private_ec));
    let mut short = rsa.clone();
    short["n"] = json!(b64(&n[..128]));
    seed("hostile-jose.key_refused-rsa-1024-bits", &one(short));
    let mut off_curve = ec.clone();
    off_curve["y"] = json!(b64(&[1; 32]));
    seed(
        "hostile-jose.key_refused-ec-point-off-the-curve",
        &one(off_curve),
    );
    let mut short_x = ec.clone();
    let x = URL_SAFE_NO_PAD.decode(ec["x"].as_str().unwrap()).unwrap();
    short_x["x"] = json!(b64(&x[1..]));
    seed("hostile-jose.key_refused-ec-31-byte-x", &one(short_x));
    // A good key does not save a set with a forbidden one.
    seed(
        "hostile-jose.key_refused-oct-after-a-good-key",
        &json!({"keys": [rsa.clone(), {"kty": "oct", "k": "AAAA"}]}),
    );

    seed("hostile-jose.malformed-no-keys", &json!({"key": [rsa]}));
    seed(
        "hostile-jose.malformed-keys-is-an-object",
        &json!({"keys": rsa}),
    );
    seed(
        "hostile-jose.malformed-key-is-a-string",
        &json!({"keys": ["RSA"]}),
    );
    let mut no_kty = rsa.clone();
    no_kty.as_object_mut().unwrap().remove("kty");
    seed("hostile-jose.malformed-no-kty", &one(no_kty));
    let mut no_e = rsa.clone();
    no_e.as_object_mut().unwrap().remove("e");
    seed("hostile-jose.malformed-rsa-without-e", &one(no_e));
    let mut padded = rsa.clone();
    padded["e"] = json!("AQAB==");
    seed("hostile-jose.malformed-padded-e", &one(padded));
    let mut ops = rsa.clone();
    ops["key_ops"] = json!("verify");
    seed("hostile-jose.malformed-key-ops-not-an-array", &one(ops));
    let mut kid = ec.clone();
    kid["kid"] = json!(7);
    seed("hostile-jose.malformed-kid-not-a-string", &one(kid));
    let mut kty = ec.clone();
    kty["kty"] = json!(["EC"]);
    seed("hostile-jose.malformed-kty-not-a-string", &one(kty));
    seed(
        "hostile-jose.too_large-33-keys",
        &json!({ "keys": vec![ec.clone(); fuzzing::MAX_KEYS + 1] }),
    );
    seed("hostile-jose.json-top-level-array", &json!([rsa]));

    let mut raw =
        |name: &str, bytes: &[u8]| out.push(("jose_jwk_set", name.to_owned(), bytes.to_vec()));
    // Duplicate members are refused at every depth: inside a key too, so no parser can read
    // this key as `EC` and another as `oct`.
    raw(
        "hostile-jose.json-duplicate-kty-in-a-key",
        br#"{"keys":[{"kty":"EC","kty":"oct","crv":"P-256"}]}"#,
    );
    raw(
        "hostile-jose.json-duplicate-keys",
        br#"{"keys":[],"keys":[{"kty":"oct","k":"AAAA"}]}"#,
    );
    raw(
        "hostile-jose.json-deep-nesting",
        format!(r#"{{"keys":{}}}"#, nested_arrays(3000)).as_bytes(),
    );
    raw("hostile-jose.json-truncated", br#"{"keys":[{"kty":"RSA","#);
    raw("hostile-jose.json-empty-input", b"");
    raw(
        "hostile-jose.json-not-utf8",
        b"{\"keys\":[{\"kty\":\"\xff\"}]}",
    );
}

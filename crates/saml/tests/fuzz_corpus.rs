//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and crash inputs
//! (`fuzz/crashes/<target>/`) through the entry points the fuzz targets call, so that a regression
//! shows up in `cargo test` without a nightly toolchain or a fuzzing run.
//!
//! File names carry expectations: `valid-*` seeds must be accepted, `hostile-*` seeds must be
//! refused (a few with a specific error code, see `EXPECTED_CODES`); every other file (what the
//! fuzzer added) must only not panic.
//!
//! The named seeds are made by `regenerate_seeds` below (ignored; see fuzz/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saml::fuzzing;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const TARGETS: [&str; 4] = [
    "authn_request_redirect",
    "authn_request_post",
    "signature_verify",
    "sp_response",
];

/// Hostile seeds whose refusal must come from a particular check, not just from any error.
const EXPECTED_CODES: &[(&str, &str, &str)] = &[
    ("authn_request_redirect", "hostile-doctype", "saml.dtd"),
    (
        "authn_request_redirect",
        "hostile-entity-expansion",
        "saml.dtd",
    ),
    (
        "authn_request_redirect",
        "hostile-comment-in-issuer",
        "saml.forbidden_node",
    ),
    (
        "authn_request_redirect",
        "hostile-deflate-bomb",
        "saml.too_large",
    ),
    (
        "authn_request_redirect",
        "hostile-sha1-sigalg",
        "saml.algorithm",
    ),
    (
        "authn_request_redirect",
        "hostile-repeated-samlrequest",
        "saml.binding",
    ),
    (
        "authn_request_redirect",
        "hostile-repeated-signature",
        "saml.binding",
    ),
    (
        "authn_request_redirect",
        "hostile-tampered-relaystate",
        "saml.signature_rejected",
    ),
    (
        "authn_request_redirect",
        "hostile-embedded-signature",
        "saml.binding",
    ),
    ("authn_request_post", "hostile-doctype.xml", "saml.dtd"),
    (
        "authn_request_post",
        "hostile-entity-expansion.xml",
        "saml.dtd",
    ),
    (
        "authn_request_post",
        "hostile-comment-in-issuer.xml",
        "saml.forbidden_node",
    ),
    (
        "authn_request_post",
        "hostile-wrapped-signature.xml",
        "saml.reference",
    ),
    (
        "authn_request_post",
        "hostile-wrapped-duplicate-id.xml",
        "saml.duplicate_id",
    ),
    (
        "authn_request_post",
        "hostile-sha1-signature.xml",
        "saml.algorithm",
    ),
    (
        "authn_request_post",
        "hostile-tampered-acs.xml",
        "saml.digest",
    ),
    (
        "authn_request_post",
        "hostile-foreign-key-in-keyinfo.xml",
        "saml.signature_rejected",
    ),
    (
        "authn_request_post",
        "hostile-tampered-acs.b64",
        "saml.digest",
    ),
    ("signature_verify", "hostile-doctype.xml", "saml.dtd"),
    (
        "signature_verify",
        "hostile-wrapped-signature.xml",
        "saml.reference",
    ),
    (
        "signature_verify",
        "hostile-two-signatures.xml",
        "saml.signature_malformed",
    ),
    (
        "signature_verify",
        "hostile-sha1-signature.xml",
        "saml.algorithm",
    ),
    ("signature_verify", "hostile-tampered.xml", "saml.digest"),
    (
        "signature_verify",
        "hostile-foreign-key-in-keyinfo.xml",
        "saml.signature_rejected",
    ),
    ("sp_response", "hostile-doctype.xml", "saml.dtd"),
    (
        "sp_response",
        "hostile-comment-in-nameid.xml",
        "saml.forbidden_node",
    ),
    (
        "sp_response",
        "hostile-wrapped-assertion.xml",
        "saml.reference",
    ),
    ("sp_response", "hostile-two-assertions.xml", "saml.invalid"),
    (
        "sp_response",
        "hostile-unsigned-assertion.xml",
        "saml.signature_missing",
    ),
    ("sp_response", "hostile-expired.xml", "saml.conditions"),
    ("sp_response", "hostile-wrong-audience.xml", "saml.audience"),
    ("sp_response", "hostile-status-requester.xml", "saml.status"),
    (
        "sp_response",
        "hostile-foreign-key-in-keyinfo.xml",
        "saml.signature_rejected",
    ),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs one input the way the target's fuzz harness does; `Ok` when an entry point accepted it,
/// else the error code of the (last) refusal.
fn run(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "authn_request_redirect" => fuzzing::redirect_intake(data)
            .map(|_| ())
            .map_err(|e| e.code().to_owned()),
        "authn_request_post" => {
            let field = fuzzing::post_intake(data).map(|_| ());
            let xml = fuzzing::post_intake_xml(data).map(|_| ());
            match (field, xml) {
                (Ok(()), _) | (_, Ok(())) => Ok(()),
                // The form-field reading refuses raw XML as bad base64; report the more telling one.
                (Err(f), Err(x)) if f.code() == "saml.base64" => Err(x.code().to_owned()),
                (Err(f), Err(_)) => Err(f.code().to_owned()),
            }
        }
        "signature_verify" => fuzzing::verify_signature(data)
            .map(|_| ())
            .map_err(|e| e.code().to_owned()),
        "sp_response" => fuzzing::sp_response(data)
            .map(|_| ())
            .map_err(|e| e.code().to_owned()),
        other => panic!("no entry point for fuzz target {other}"),
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

#[test]
fn every_corpus_and_crash_input_is_handled_without_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        for kind in ["corpus", "crashes"] {
            for path in files_in(&fuzz_dir().join(kind).join(target)) {
                let data = std::fs::read(&path).unwrap();
                replayed += 1;
                if catch_unwind(AssertUnwindSafe(|| run(target, &data))).is_err() {
                    failures.push(format!("{target}: {} panicked", path.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        replayed > 0,
        "no fuzz inputs found under {}",
        fuzz_dir().display()
    );
}

#[test]
fn every_target_has_a_corpus_with_valid_and_hostile_seeds() {
    for target in TARGETS {
        let files = files_in(&fuzz_dir().join("corpus").join(target));
        let names: Vec<&str> = files.iter().map(|p| name_of(p)).collect();
        assert!(
            names.iter().any(|n| n.starts_with("valid-")),
            "{target}: no valid-* seed in {names:?}"
        );
        assert!(
            names.iter().filter(|n| n.starts_with("hostile-")).count() >= 3,
            "{target}: fewer than 3 hostile-* seeds in {names:?}"
        );
    }
}

#[test]
fn valid_seeds_are_accepted_and_hostile_seeds_refused() {
    let mut failures = Vec::new();
    for target in TARGETS {
        for path in files_in(&fuzz_dir().join("corpus").join(target)) {
            let name = name_of(&path);
            let data = std::fs::read(&path).unwrap();
            let outcome = run(target, &data);
            if name.starts_with("valid-") {
                if let Err(code) = &outcome {
                    failures.push(format!("{target}/{name}: refused with {code}"));
                }
            } else if name.starts_with("hostile-") {
                match (&outcome, expected_code(target, name)) {
                    (Ok(()), _) => failures.push(format!("{target}/{name}: accepted")),
                    (Err(code), Some(want)) if code != want => failures.push(format!(
                        "{target}/{name}: refused with {code}, expected {want}"
                    )),
                    _ => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_expected_code_names_a_committed_seed() {
    for (target, name, _) in EXPECTED_CODES {
        let path = fuzz_dir().join("corpus").join(target).join(name);
        assert!(path.is_file(), "missing seed {}", path.display());
    }
}

#[test]
fn signed_seeds_are_read_as_signed() {
    let corpus = fuzz_dir().join("corpus");
    let redirect =
        std::fs::read(corpus.join("authn_request_redirect/valid-signed-redirect")).unwrap();
    let request = fuzzing::redirect_intake(&redirect).unwrap();
    assert!(
        request.signed,
        "a verified query signature must mark the request signed"
    );
    assert_eq!(request.issuer, fuzzing::SP_ENTITY_ID);
    assert_eq!(request.id, "_fuzz-authn-redirect-1");

    let unsigned =
        std::fs::read(corpus.join("authn_request_redirect/valid-unsigned-redirect")).unwrap();
    assert!(!fuzzing::redirect_intake(&unsigned).unwrap().signed);

    let post = std::fs::read(corpus.join("authn_request_post/valid-signed-post.b64")).unwrap();
    let request = fuzzing::post_intake(&post).unwrap();
    assert!(request.signed);
    assert_eq!(request.acs_url.as_deref(), Some(fuzzing::SP_ACS_URL));

    let response = std::fs::read(corpus.join("sp_response/valid-signed-response.xml")).unwrap();
    let assertion = fuzzing::sp_response(&response).unwrap();
    assert_eq!(assertion.name_id, "fuzz-subject-1");
    assert_eq!(assertion.attributes.len(), 3);
}

/// Writes the named seeds into `fuzz/corpus/`. Run by hand after a change to what the writer or
/// signer emits: `cargo test -p saml --test fuzz_corpus -- --ignored regenerate_seeds`.
/// Signatures use `fuzz/seed-key/requester-key.pem`, the private half of
/// `saml::fuzzing::FIXED_CERT_PEM`; RSA PKCS#1 v1.5 is deterministic, so output is stable except
/// for the seeds signed by a freshly generated attacker key.
#[test]
#[ignore = "writes into the source tree"]
fn regenerate_seeds() {
    seeds::write_all(&fuzz_dir());
}

fn expected_code(target: &str, name: &str) -> Option<&'static str> {
    EXPECTED_CODES
        .iter()
        .find(|(t, n, _)| *t == target && *n == name)
        .map(|(_, _, code)| *code)
}

mod seeds {
    use base64::Engine;
    use certs::{KeyKind, SigningIdentity, SigningKey};
    use saml::authn_request::{AuthnRequestDraft, Comparison, RequestedAuthnContext};
    use saml::binding::{encode_post, encode_redirect, form_encode, MessageParam};
    use saml::dsig::sign_enveloped;
    use saml::fuzzing::{self, IDP_ENTITY_ID, NOW, REQUEST_ID, SP_ACS_URL, SP_ENTITY_ID, SSO_URL};
    use saml::response::{
        build_status, build_success, AssertionDraft, Attribute, Signer, StatusDraft,
    };
    use std::path::Path;
    use time::Duration;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
    const SHA1_SIGALG: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    const RELAY_STATE: &str = "https://sp.fuzz.example/after-login?x=1&y=<z>";

    pub fn write_all(fuzz: &Path) {
        let key_pem = std::fs::read_to_string(fuzz.join("seed-key/requester-key.pem")).unwrap();
        let ours = SigningIdentity::new(
            SigningKey::from_pkcs8_pem(&key_pem).unwrap(),
            fuzzing::fixed_certificate().unwrap().clone(),
        )
        .unwrap();
        let attacker =
            SigningIdentity::generate_self_signed("attacker", KeyKind::Rsa2048, NOW, 365).unwrap();

        let corpus = fuzz.join("corpus");
        redirect_seeds(&corpus.join("authn_request_redirect"), &ours);
        post_seeds(&corpus.join("authn_request_post"), &ours, &attacker);
        signature_seeds(&corpus.join("signature_verify"), &ours, &attacker);
        response_seeds(&corpus.join("sp_response"), &ours, &attacker);
    }

    fn redirect_seeds(dir: &Path, ours: &SigningIdentity) {
        let xml = request_xml("_fuzz-authn-redirect-1");
        let query = |xml: &str, relay: Option<&str>, key: Option<&SigningKey>| {
            let url = encode_redirect(SSO_URL, xml, MessageParam::SamlRequest, relay, key).unwrap();
            url.split_once('?').unwrap().1.to_owned()
        };
        let signed = query(&xml, Some(RELAY_STATE), Some(&ours.key));
        write(dir, "valid-signed-redirect", &signed);
        write(dir, "valid-unsigned-redirect", &query(&xml, None, None));

        write(dir, "hostile-doctype", &query(&doctype(&xml), None, None));
        write(
            dir,
            "hostile-entity-expansion",
            &query(&entity_expansion(&xml), None, None),
        );
        write(
            dir,
            "hostile-comment-in-issuer",
            &query(&comment_in_issuer(&xml), None, None),
        );
        // 1 MiB of one byte inflates from about 1 KiB: far past the 128 KiB inflate cap.
        let bomb = format!("{xml}{}", "A".repeat(1 << 20));
        write(dir, "hostile-deflate-bomb", &query(&bomb, None, None));

        // A SHA-1 SigAlg is refused by name, whatever the signature bytes are.
        let unsigned = query(&xml, None, None);
        let octets = format!("{unsigned}&SigAlg={}", form_encode(SHA1_SIGALG));
        let sig = B64.encode(ours.key.sign(octets.as_bytes()).unwrap());
        write(
            dir,
            "hostile-sha1-sigalg",
            &format!("{octets}&Signature={}", form_encode(&sig)),
        );

        let first = signed.split('&').next().unwrap();
        write(
            dir,
            "hostile-repeated-samlrequest",
            &format!("{signed}&{first}"),
        );
        let last = signed.rsplit('&').next().unwrap();
        write(
            dir,
            "hostile-repeated-signature",
            &format!("{signed}&{last}"),
        );
        let tampered = signed.replacen(
            &format!("RelayState={}", form_encode(RELAY_STATE)),
            "RelayState=https%3A%2F%2Fevil.example%2F",
            1,
        );
        assert_ne!(tampered, signed);
        write(dir, "hostile-tampered-relaystate", &tampered);
        let embedded = sign_enveloped(&xml, &ours.key, &ours.cert).unwrap();
        write(
            dir,
            "hostile-embedded-signature",
            &query(&embedded, None, None),
        );
    }

    fn post_seeds(dir: &Path, ours: &SigningIdentity, attacker: &SigningIdentity) {
        let xml = request_xml("_fuzz-authn-post-1");
        let signed = sign_enveloped(&xml, &ours.key, &ours.cert).unwrap();
        write(dir, "valid-signed-post.b64", &encode_post(&signed));
        write(dir, "valid-signed-post.xml", &signed);
        write(dir, "valid-unsigned-post.xml", &xml);

        write(dir, "hostile-doctype.xml", &doctype(&signed));
        write(dir, "hostile-entity-expansion.xml", &entity_expansion(&xml));
        write(
            dir,
            "hostile-comment-in-issuer.xml",
            &comment_in_issuer(&signed),
        );
        write(
            dir,
            "hostile-wrapped-signature.xml",
            &wrap_request(&signed, "_evil"),
        );
        write(
            dir,
            "hostile-wrapped-duplicate-id.xml",
            &wrap_request(&signed, "_fuzz-authn-post-1"),
        );
        write(dir, "hostile-sha1-signature.xml", &sha1_signature(&signed));
        let tampered = tamper_acs(&signed);
        write(dir, "hostile-tampered-acs.xml", &tampered);
        write(dir, "hostile-tampered-acs.b64", &encode_post(&tampered));
        write(
            dir,
            "hostile-foreign-key-in-keyinfo.xml",
            &sign_enveloped(&xml, &attacker.key, &attacker.cert).unwrap(),
        );
    }

    fn signature_seeds(dir: &Path, ours: &SigningIdentity, attacker: &SigningIdentity) {
        let request = sign_enveloped(&request_xml("_fuzz-sig-1"), &ours.key, &ours.cert).unwrap();
        write(dir, "valid-signed-request.xml", &request);
        let response = response_xml(ours, &response_draft_attributes(), NOW, SP_ENTITY_ID, true);
        write(dir, "valid-signed-response.xml", &response);
        write(dir, "valid-signed-assertion.xml", &assertion_of(&response));
        // An ECDSA key signs too: P-256 is the other algorithm the gateway uses.
        let ec = SigningIdentity::generate_self_signed("ec", KeyKind::EcdsaP256, NOW, 365).unwrap();
        let ec_signed = sign_enveloped(&request_xml("_fuzz-sig-ec"), &ec.key, &ec.cert).unwrap();
        write(dir, "hostile-ecdsa-untrusted-key.xml", &ec_signed);

        write(dir, "hostile-doctype.xml", &doctype(&request));
        write(
            dir,
            "hostile-wrapped-signature.xml",
            &wrap_request(&request, "_evil"),
        );
        let sig = signature_of(&request);
        write(
            dir,
            "hostile-two-signatures.xml",
            &request.replacen(sig, &format!("{sig}{sig}"), 1),
        );
        write(dir, "hostile-sha1-signature.xml", &sha1_signature(&request));
        write(dir, "hostile-tampered.xml", &tamper_acs(&request));
        write(
            dir,
            "hostile-foreign-key-in-keyinfo.xml",
            &sign_enveloped(&request_xml("_fuzz-sig-1"), &attacker.key, &attacker.cert).unwrap(),
        );
    }

    fn response_seeds(dir: &Path, ours: &SigningIdentity, attacker: &SigningIdentity) {
        let attrs = response_draft_attributes();
        let signed = response_xml(ours, &attrs, NOW, SP_ENTITY_ID, true);
        write(dir, "valid-signed-response.xml", &signed);
        let assertion_only = response_xml(ours, &attrs, NOW, SP_ENTITY_ID, false);
        write(dir, "valid-signed-assertion-only.xml", &assertion_only);

        write(dir, "hostile-doctype.xml", &doctype(&signed));
        // Comments vanish under c14n, so the signature would still verify: the parser refuses them.
        write(
            dir,
            "hostile-comment-in-nameid.xml",
            &assertion_only.replacen("fuzz-subject-1<", "fuzz-subject-1<!---->.evil<", 1),
        );
        // XSW: an altered copy of the signed assertion, keeping its signature, in the place the SP
        // reads; the original hidden in Extensions so its ID still resolves.
        let original = assertion_of(&assertion_only);
        let evil = original
            .replacen("ID=\"_fuzz-assertion-1\"", "ID=\"_evil\"", 1)
            .replacen("fuzz-subject-1", "admin", 1);
        let wrapped = assertion_only.replacen(
            &original,
            &format!("<samlp:Extensions>{original}</samlp:Extensions>{evil}"),
            1,
        );
        write(dir, "hostile-wrapped-assertion.xml", &wrapped);
        write(
            dir,
            "hostile-two-assertions.xml",
            &assertion_only.replacen(&original, &format!("{evil}{original}"), 1),
        );
        write(
            dir,
            "hostile-unsigned-assertion.xml",
            &assertion_only.replacen(signature_of(&original), "", 1),
        );
        write(
            dir,
            "hostile-expired.xml",
            &response_xml(ours, &attrs, NOW - Duration::hours(1), SP_ENTITY_ID, true),
        );
        write(
            dir,
            "hostile-wrong-audience.xml",
            &response_xml(ours, &attrs, NOW, "https://other-sp.example", true),
        );
        let status = build_status(
            &StatusDraft {
                response_id: "_fuzz-status-1",
                idp_entity_id: IDP_ENTITY_ID,
                acs_url: SP_ACS_URL,
                in_response_to: Some(REQUEST_ID),
                now: NOW,
                top_code: saml::STATUS_REQUESTER,
                second_code: Some(saml::STATUS_NO_PASSIVE),
                message: Some("no session"),
            },
            Signer {
                key: &ours.key,
                cert: &ours.cert,
            },
        )
        .unwrap();
        write(dir, "hostile-status-requester.xml", &status);
        write(
            dir,
            "hostile-foreign-key-in-keyinfo.xml",
            &response_xml(attacker, &attrs, NOW, SP_ENTITY_ID, false),
        );
    }

    fn request_xml(id: &str) -> String {
        let rac = RequestedAuthnContext {
            comparison: Comparison::Minimum,
            class_refs: vec!["http://ftn.ficora.fi/2017/loa2".into()],
        };
        AuthnRequestDraft {
            id,
            issuer: SP_ENTITY_ID,
            destination: SSO_URL,
            issue_instant: NOW,
            acs_url: Some(SP_ACS_URL),
            acs_index: None,
            force_authn: false,
            is_passive: false,
            name_id_format: Some(saml::NAMEID_PERSISTENT),
            requested_authn_context: Some(&rac),
        }
        .to_xml()
    }

    fn response_draft_attributes() -> Vec<Attribute> {
        let attr = |name: &str, friendly: &str, value: &str| Attribute {
            name: name.into(),
            friendly_name: Some(friendly.into()),
            values: vec![value.into()],
        };
        vec![
            attr(
                "urn:oid:1.2.246.21",
                "nationalIdentificationNumber",
                "010190-900P",
            ),
            attr("urn:oid:2.5.4.42", "givenName", "Äijä <&> \"Testi\""),
            attr("urn:oid:2.5.4.4", "sn", "Meikäläinen"),
        ]
    }

    fn response_xml(
        signer: &SigningIdentity,
        attributes: &[Attribute],
        now: time::OffsetDateTime,
        audience: &str,
        sign_response: bool,
    ) -> String {
        let draft = AssertionDraft {
            response_id: "_fuzz-response-1",
            assertion_id: "_fuzz-assertion-1",
            idp_entity_id: IDP_ENTITY_ID,
            sp_entity_id: audience,
            acs_url: SP_ACS_URL,
            in_response_to: Some(REQUEST_ID),
            now,
            lifetime: Duration::minutes(5),
            name_id: "fuzz-subject-1",
            name_id_format: saml::NAMEID_PERSISTENT,
            session_index: "_fuzz-session-1",
            session_not_on_or_after: None,
            authn_instant: now,
            authn_context_class_ref: "http://ftn.ficora.fi/2017/loa3",
            attributes,
        };
        let signer = Signer {
            key: &signer.key,
            cert: &signer.cert,
        };
        build_success(&draft, signer, sign_response).unwrap()
    }

    fn doctype(xml: &str) -> String {
        format!("<!DOCTYPE samlp:AuthnRequest>{xml}")
    }

    /// The classic billion-laughs shape, its entity used inside the Issuer.
    fn entity_expansion(xml: &str) -> String {
        let mut dtd = String::from("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY l0 \"lol\">");
        for i in 1..10 {
            let prev = i - 1;
            dtd.push_str(&format!(
                "<!ENTITY l{i} \"&l{prev};&l{prev};&l{prev};&l{prev};&l{prev};&l{prev};&l{prev};&l{prev};&l{prev};&l{prev};\">"
            ));
        }
        dtd.push_str("]>");
        format!(
            "{dtd}{}",
            xml.replacen(&format!(">{SP_ENTITY_ID}<"), ">&l9;<", 1)
        )
    }

    fn comment_in_issuer(xml: &str) -> String {
        let marker = format!(">{SP_ENTITY_ID}<");
        assert!(xml.contains(&marker));
        xml.replacen(&marker, &format!(">{SP_ENTITY_ID}<!---->.evil.example<"), 1)
    }

    /// An attacker's AuthnRequest (its own ID, its own ACS) that carries the signature of the
    /// original, which it hides in Extensions.
    fn wrap_request(signed: &str, evil_id: &str) -> String {
        let sig = signature_of(signed);
        let root_end = signed.find('>').unwrap();
        let root_start = &signed[..root_end];
        let id_start = root_start.find("ID=\"").unwrap() + 4;
        let id_len = root_start[id_start..].find('"').unwrap();
        let evil_root = format!(
            "{}{}{}",
            &root_start[..id_start],
            evil_id,
            &root_start[id_start + id_len..]
        )
        .replacen(SP_ACS_URL, "https://evil.example/acs", 1);
        format!(
            "{evil_root}><saml:Issuer>{SP_ENTITY_ID}</saml:Issuer>{sig}<samlp:Extensions>{signed}</samlp:Extensions></samlp:AuthnRequest>"
        )
    }

    fn sha1_signature(signed: &str) -> String {
        signed
            .replacen(
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                SHA1_SIGALG,
                1,
            )
            .replacen(
                "http://www.w3.org/2001/04/xmlenc#sha256",
                "http://www.w3.org/2000/09/xmldsig#sha1",
                1,
            )
    }

    fn tamper_acs(signed: &str) -> String {
        let out = signed.replacen(SP_ACS_URL, "https://evil.example/acs", 1);
        assert_ne!(out, signed);
        out
    }

    fn signature_of(xml: &str) -> &str {
        let start = xml.find("<ds:Signature").unwrap();
        let end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
        &xml[start..end]
    }

    fn assertion_of(response: &str) -> String {
        let start = response.find("<saml:Assertion").unwrap();
        let end = response.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        response[start..end].to_owned()
    }

    fn write(dir: &Path, name: &str, content: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), content).unwrap();
    }
}

//! Writes the named fuzz seeds into `fuzz/corpus/`. Run by hand after a change to what the
//! writer or signer emits: `cargo run -p saml --features fuzzing --example regenerate_fuzz_seeds`.
//! Signatures use `fuzz/seed-key/requester-key.pem`, the private half of
//! `saml::fuzzing::FIXED_CERT_PEM`; RSA PKCS#1 v1.5 is deterministic, so output is stable except
//! for the seeds signed by a freshly generated attacker key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    seeds::write_all(&dir);
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

        write(
            dir,
            "hostile-saml.dtd-doctype",
            &query(&doctype(&xml), None, None),
        );
        write(
            dir,
            "hostile-saml.dtd-entity-expansion",
            &query(&entity_expansion(&xml), None, None),
        );
        write(
            dir,
            "hostile-saml.forbidden_node-comment-in-issuer",
            &query(&comment_in_issuer(&xml), None, None),
        );
        // 1 MiB of one byte inflates from about 1 KiB: far past the 128 KiB inflate cap.
        let bomb = format!("{xml}{}", "A".repeat(1 << 20));
        write(
            dir,
            "hostile-saml.too_large-deflate-bomb",
            &query(&bomb, None, None),
        );

        // A SHA-1 SigAlg is refused by name, whatever the signature bytes are.
        let unsigned = query(&xml, None, None);
        let octets = format!("{unsigned}&SigAlg={}", form_encode(SHA1_SIGALG));
        let sig = B64.encode(ours.key.sign(octets.as_bytes()).unwrap());
        write(
            dir,
            "hostile-saml.algorithm-sha1-sigalg",
            &format!("{octets}&Signature={}", form_encode(&sig)),
        );

        let first = signed.split('&').next().unwrap();
        write(
            dir,
            "hostile-saml.binding-repeated-samlrequest",
            &format!("{signed}&{first}"),
        );
        let last = signed.rsplit('&').next().unwrap();
        write(
            dir,
            "hostile-saml.binding-repeated-signature",
            &format!("{signed}&{last}"),
        );
        let tampered = signed.replacen(
            &format!("RelayState={}", form_encode(RELAY_STATE)),
            "RelayState=https%3A%2F%2Fevil.example%2F",
            1,
        );
        assert_ne!(tampered, signed);
        write(
            dir,
            "hostile-saml.signature_rejected-tampered-relaystate",
            &tampered,
        );
        let embedded = sign_enveloped(&xml, &ours.key, &ours.cert).unwrap();
        write(
            dir,
            "hostile-saml.binding-embedded-signature",
            &query(&embedded, None, None),
        );
    }

    fn post_seeds(dir: &Path, ours: &SigningIdentity, attacker: &SigningIdentity) {
        let xml = request_xml("_fuzz-authn-post-1");
        let signed = sign_enveloped(&xml, &ours.key, &ours.cert).unwrap();
        write(dir, "valid-signed-post.b64", &encode_post(&signed));
        write(dir, "valid-signed-post.xml", &signed);
        write(dir, "valid-unsigned-post.xml", &xml);

        write(dir, "hostile-saml.dtd-doctype.xml", &doctype(&signed));
        write(
            dir,
            "hostile-saml.dtd-entity-expansion.xml",
            &entity_expansion(&xml),
        );
        write(
            dir,
            "hostile-saml.forbidden_node-comment-in-issuer.xml",
            &comment_in_issuer(&signed),
        );
        write(
            dir,
            "hostile-saml.reference-wrapped-signature.xml",
            &wrap_request(&signed, "_evil"),
        );
        write(
            dir,
            "hostile-saml.duplicate_id-wrapped-duplicate-id.xml",
            &wrap_request(&signed, "_fuzz-authn-post-1"),
        );
        write(
            dir,
            "hostile-saml.algorithm-sha1-signature.xml",
            &sha1_signature(&signed),
        );
        let tampered = tamper_acs(&signed);
        write(dir, "hostile-saml.digest-tampered-acs.xml", &tampered);
        write(
            dir,
            "hostile-saml.digest-tampered-acs.b64",
            &encode_post(&tampered),
        );
        write(
            dir,
            "hostile-saml.signature_rejected-foreign-key-in-keyinfo.xml",
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
        write(
            dir,
            "hostile-saml.signature_rejected-ecdsa-untrusted-key.xml",
            &ec_signed,
        );

        write(dir, "hostile-saml.dtd-doctype.xml", &doctype(&request));
        write(
            dir,
            "hostile-saml.reference-wrapped-signature.xml",
            &wrap_request(&request, "_evil"),
        );
        let sig = signature_of(&request);
        write(
            dir,
            "hostile-saml.signature_malformed-two-signatures.xml",
            &request.replacen(sig, &format!("{sig}{sig}"), 1),
        );
        write(
            dir,
            "hostile-saml.algorithm-sha1-signature.xml",
            &sha1_signature(&request),
        );
        write(
            dir,
            "hostile-saml.digest-tampered.xml",
            &tamper_acs(&request),
        );
        write(
            dir,
            "hostile-saml.signature_rejected-foreign-key-in-keyinfo.xml",
            &sign_enveloped(&request_xml("_fuzz-sig-1"), &attacker.key, &attacker.cert).unwrap(),
        );
    }

    fn response_seeds(dir: &Path, ours: &SigningIdentity, attacker: &SigningIdentity) {
        let attrs = response_draft_attributes();
        let signed = response_xml(ours, &attrs, NOW, SP_ENTITY_ID, true);
        write(dir, "valid-signed-response.xml", &signed);
        let assertion_only = response_xml(ours, &attrs, NOW, SP_ENTITY_ID, false);
        write(dir, "valid-signed-assertion-only.xml", &assertion_only);

        write(dir, "hostile-saml.dtd-doctype.xml", &doctype(&signed));
        // Comments vanish under c14n, so the signature would still verify: the parser refuses them.
        write(
            dir,
            "hostile-saml.forbidden_node-comment-in-nameid.xml",
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
        write(
            dir,
            "hostile-saml.reference-wrapped-assertion.xml",
            &wrapped,
        );
        write(
            dir,
            "hostile-saml.invalid-two-assertions.xml",
            &assertion_only.replacen(&original, &format!("{evil}{original}"), 1),
        );
        write(
            dir,
            "hostile-saml.signature_missing-unsigned-assertion.xml",
            &assertion_only.replacen(signature_of(&original), "", 1),
        );
        write(
            dir,
            "hostile-saml.conditions-expired.xml",
            &response_xml(ours, &attrs, NOW - Duration::hours(1), SP_ENTITY_ID, true),
        );
        write(
            dir,
            "hostile-saml.audience-wrong-audience.xml",
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
        write(dir, "hostile-saml.status-status-requester.xml", &status);
        write(
            dir,
            "hostile-saml.signature_rejected-foreign-key-in-keyinfo.xml",
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
            authenticating_authority: None,
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

use super::*;
use crate::testkeys;
use crate::xml::{parse_strict, ParseLimits};

const DOC: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc" Version="2.0"><saml:Issuer>https://sp.example</saml:Issuer><samlp:NameIDPolicy Format="x"/></samlp:AuthnRequest>"#;

fn verify(xml: &str, trusted: &[Certificate]) -> Result<VerifiedSignature, SamlError> {
    let doc = parse_strict(xml, ParseLimits::MESSAGE)?;
    verify_enveloped(doc.root_element(), trusted)
}

fn signed() -> String {
    let id = testkeys::rsa();
    sign_enveloped(DOC, &id.key, &id.cert).unwrap()
}

#[test]
fn rsa_roundtrip_and_placement_after_issuer() {
    let s = signed();
    let issuer_end = s.find("</saml:Issuer>").unwrap();
    assert_eq!(
        s[issuer_end..].find("<ds:Signature").unwrap(),
        "</saml:Issuer>".len()
    );
    let v = verify(&s, &[testkeys::rsa().cert.clone()]).unwrap();
    assert_eq!(v.element_id, "_abc");
    assert_eq!(v.algorithm, SignatureAlgorithm::RsaSha256);
}

#[test]
fn ecdsa_roundtrip() {
    let id = testkeys::ec();
    let s = sign_enveloped(DOC, &id.key, &id.cert).unwrap();
    assert!(s.contains("ecdsa-sha256"));
    assert_eq!(
        verify(&s, std::slice::from_ref(&id.cert))
            .unwrap()
            .algorithm,
        SignatureAlgorithm::EcdsaSha256
    );
}

#[test]
fn tampered_content_fails_digest() {
    let s = signed().replace("https://sp.example", "https://evil.example");
    assert!(matches!(
        verify(&s, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::DigestMismatch)
    ));
}

#[test]
fn wrong_key_and_embedded_attacker_certificate_are_rejected() {
    // Signed by the attacker, who also puts their certificate into KeyInfo.
    let att = testkeys::rsa_other();
    let s = sign_enveloped(DOC, &att.key, &att.cert).unwrap();
    assert!(s.contains(&att.cert.to_base64()));
    assert!(matches!(
        verify(&s, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::SignatureRejected)
    ));
    assert!(matches!(verify(&s, &[]), Err(SamlError::NoTrustedKey)));
}

#[test]
fn missing_signature_is_an_error_not_a_skip() {
    assert!(matches!(
        verify(DOC, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::SignatureMissing)
    ));
}

#[test]
fn wrapped_signed_element_does_not_lend_its_signature() {
    let good = signed();
    // The attacker's root has a new ID and carries the genuine signed request inside Extensions.
    let forged = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0"><saml:Issuer>https://sp.example</saml:Issuer><samlp:Extensions>{good}</samlp:Extensions></samlp:AuthnRequest>"#
    );
    assert!(matches!(
        verify(&forged, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::SignatureMissing)
    ));
    // Moving the genuine Signature up to the forged root: its reference points elsewhere.
    let sig_start = good.find("<ds:Signature").unwrap();
    let sig_end = good.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let sig = &good[sig_start..sig_end];
    let inner = format!("{}{}", &good[..sig_start], &good[sig_end..]);
    let forged = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0"><saml:Issuer>https://sp.example</saml:Issuer>{sig}<samlp:Extensions>{inner}</samlp:Extensions></samlp:AuthnRequest>"#
    );
    assert!(matches!(
        verify(&forged, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::ReferenceMismatch)
    ));
    // And the same with the forged root re-using the genuine ID: duplicate IDs are refused.
    let forged = forged.replace("ID=\"_evil\"", "ID=\"_abc\"");
    assert!(matches!(
        verify(&forged, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::DuplicateId)
    ));
}

#[test]
fn sha1_and_unknown_algorithms_are_refused() {
    let s = signed().replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert!(matches!(
        verify(&s, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::AlgorithmNotAllowed(_))
    ));
    let s = signed().replace(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    assert!(matches!(
        verify(&s, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn extra_transforms_and_second_signatures_are_refused() {
    let s = signed().replace(
        "</ds:Transforms>",
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"/></ds:Transforms>"#,
    );
    assert!(matches!(
        verify(&s, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::SignatureMalformed(_))
    ));
    let good = signed();
    let sig_start = good.find("<ds:Signature").unwrap();
    let sig_end = good.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let doubled = format!(
        "{}{}{}",
        &good[..sig_end],
        &good[sig_start..sig_end],
        &good[sig_end..]
    );
    assert!(matches!(
        verify(&doubled, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::SignatureMalformed(_))
    ));
}

#[test]
fn reference_must_name_the_element() {
    let s = signed().replace("URI=\"#_abc\"", "URI=\"\"");
    assert!(matches!(
        verify(&s, &[testkeys::rsa().cert.clone()]),
        Err(SamlError::ReferenceMismatch)
    ));
}

#[test]
fn rotation_any_trusted_key_verifies() {
    let s = signed();
    let trusted = [testkeys::ec().cert.clone(), testkeys::rsa().cert.clone()];
    assert!(verify(&s, &trusted).is_ok());
}

use super::*;
use time::OffsetDateTime;

fn cert_b64() -> String {
    let id = certs::SigningIdentity::generate_self_signed(
        "sp",
        certs::KeyKind::EcdsaP256,
        OffsetDateTime::now_utc(),
        30,
    )
    .unwrap();
    id.cert.to_base64()
}

fn md(extra_acs: &str, signed: bool) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" entityID="https://sp.example/md">
  <md:Extensions><alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/></md:Extensions>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="{signed}" WantAssertionsSigned="true">
    <md:Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"><mdui:DisplayName xml:lang="fi">Verohallinto</mdui:DisplayName><mdui:DisplayName xml:lang="sv">Skatteförvaltningen</mdui:DisplayName></mdui:UIInfo></md:Extensions>
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs2" index="3" isDefault="true"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example/art" index="4"/>
    {extra_acs}
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#,
        c = cert_b64()
    )
}

fn parse(text: &str) -> Result<Vec<Arc<ServiceProvider>>, MetadataError> {
    parse_sp_metadata(
        text,
        "test.xml",
        &ReleasePolicy::all(),
        OffsetDateTime::now_utc(),
    )
}

#[test]
fn reads_endpoints_keys_and_flags() {
    let sp = parse(&md("", true)).unwrap().remove(0);
    assert_eq!(sp.entity_id, "https://sp.example/md");
    assert_eq!(sp.acs.len(), 3);
    assert!(sp.authn_requests_signed && sp.want_assertions_signed);
    assert_eq!(sp.signing_certificates.len(), 1);
    assert_eq!(sp.display_name("sv"), "Skatteförvaltningen");
    assert_eq!(
        sp.display_name("en"),
        "Verohallinto",
        "falls back to the first name"
    );
    assert_eq!(
        sp.preferred_signature_algorithm(&[
            SignatureAlgorithm::RsaSha256,
            SignatureAlgorithm::EcdsaSha256
        ]),
        SignatureAlgorithm::EcdsaSha256
    );
    assert_eq!(
        sp.preferred_signature_algorithm(&[SignatureAlgorithm::RsaSha256]),
        SignatureAlgorithm::RsaSha256
    );
}

#[test]
fn acs_only_from_metadata_exactly() {
    let sp = parse(&md("", false)).unwrap().remove(0);
    assert_eq!(
        sp.resolve_acs(None, None, None).unwrap().location,
        "https://sp.example/acs2"
    );
    assert_eq!(
        sp.resolve_acs(Some("https://sp.example/acs"), None, None)
            .unwrap()
            .index,
        0
    );
    assert_eq!(
        sp.resolve_acs(None, Some(3), None).unwrap().location,
        "https://sp.example/acs2"
    );
    for evil in [
        "https://sp.example/acs/",
        "https://sp.example/acsx",
        "https://sp.example/ac",
        "https://sp.example/acs?x=1",
        "https://sp.example/acs#x",
        "https://sp.example/x/../acs",
        "https://sp.example.evil.com/acs",
        "https://evil.com/https://sp.example/acs",
        "HTTPS://sp.example/acs",
        "https://sp.example:443/acs",
        "https://sp.example/%61cs",
    ] {
        assert_eq!(
            sp.resolve_acs(Some(evil), None, None),
            Err(AcsError::UnknownUrl),
            "{evil}"
        );
    }
    assert_eq!(
        sp.resolve_acs(None, Some(9), None),
        Err(AcsError::UnknownIndex(9))
    );
    assert!(matches!(
        sp.resolve_acs(None, Some(4), None),
        Err(AcsError::UnsupportedBinding(_))
    ));
    assert!(matches!(
        sp.resolve_acs(
            Some("https://sp.example/acs"),
            None,
            Some(saml::BINDING_REDIRECT)
        ),
        Err(AcsError::UnsupportedBinding(_))
    ));
}

#[test]
fn invalid_metadata_is_refused_with_a_reason() {
    let no_key = md("", true).replace(
        "<md:KeyDescriptor use=\"signing\">",
        "<md:KeyDescriptor use=\"encryption\">",
    );
    assert!(matches!(parse(&no_key), Err(MetadataError::Invalid { .. })));
    let http = md(
        r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://sp.example/plain" index="7"/>"#,
        false,
    );
    assert!(matches!(parse(&http), Err(MetadataError::Invalid { .. })));
    let dup = md(
        r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/z" index="3"/>"#,
        false,
    );
    assert!(matches!(parse(&dup), Err(MetadataError::Invalid { .. })));
    let expired =
        md("", false).replace("entityID=", "validUntil=\"2001-01-01T00:00:00Z\" entityID=");
    assert!(matches!(
        parse(&expired),
        Err(MetadataError::Invalid { .. })
    ));
    assert!(matches!(
        parse("<!DOCTYPE x><x/>"),
        Err(MetadataError::Saml { .. })
    ));
}

#[test]
fn registry_refuses_duplicates() {
    let a = parse(&md("", false)).unwrap().remove(0);
    let b = parse(&md("", false)).unwrap().remove(0);
    assert!(crate::SpRegistry::new([("a".to_owned(), a.clone())]).is_ok());
    assert!(matches!(
        crate::SpRegistry::new([("a".to_owned(), a), ("b".to_owned(), b)]),
        Err(MetadataError::Duplicate { .. })
    ));
}

#[test]
fn single_logout_endpoints_redirect_first_and_checked_like_acs() {
    let slo = r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/slo-post"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://sp.example/soap"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo" ResponseLocation="https://sp.example/slo-done"/>"#;
    let sp = parse(&md(slo, false)).unwrap().remove(0);
    assert_eq!(sp.slo.len(), 2, "SOAP is not a binding we speak");
    assert_eq!(sp.slo[0].binding, saml::BINDING_REDIRECT);
    assert_eq!(sp.slo[0].location, "https://sp.example/slo");
    assert_eq!(
        sp.slo[0].response_location.as_deref(),
        Some("https://sp.example/slo-done")
    );
    assert_eq!(sp.slo[1].binding, saml::BINDING_POST);
    for bad in [
        r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="javascript:alert(1)"/>"#,
        r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://sp.example/slo"/>"#,
        r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo" ResponseLocation="data:text/html,x"/>"#,
    ] {
        assert!(parse(&md(bad, false)).is_err(), "{bad}");
    }
    assert!(parse(&md("", false)).unwrap()[0].slo.is_empty());
}

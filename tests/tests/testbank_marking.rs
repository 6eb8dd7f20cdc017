//! The test bank outside dev mode: a production-mode gateway offers it only because its file
//! declares a test environment, and every assertion names who authenticated the citizen
//! (`saml:AuthenticatingAuthority`, inside the signed assertion), so an SP can tell a test
//! bank login (`urn:gateway:testbank`) from a real bank's. python3-saml (strict, schema
//! validation on) accepts the Response with the element, xmlsec1 verifies the assertion's
//! signature over it, and changing it breaks that signature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tests::harness::{self, PERSON};
use tests::peers::{self, AuthnOptions, Binding};

const OID_HETU: &str = "urn:oid:1.2.246.21";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_bank_assertions_name_their_authority_and_an_independent_sp_accepts_them() {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = harness::LoopbackListener::bind().await;
    let (addr, base) = (listener.addr, listener.base.clone());
    let idp = harness::write_idp_files(d);
    let sp_entity = "https://python3-saml.peer.example/sp";
    let sp = harness::python3_saml_sp(d, &base, sp_entity).await;
    let toml = format!(
        r#"environment = "test"
[server]
listen = "{addr}"
public_url = "{base}"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
[methods.testbank]
enabled = true
[[service_providers]]
metadata_file = "sp.xml"
release = ["national_id", "given_name", "surname"]
"#
    );
    let gw = harness::serve_toml(d, listener.listener, &toml).await;

    let opts = AuthnOptions {
        binding: Binding::Redirect,
        ..Default::default()
    };
    let (req, autopost) = sp.test_bank_login(opts, &[("national_id", PERSON)]).await;
    let v = sp
        .validate_autopost(&req.request_id, &autopost)
        .await
        .unwrap_or_else(|e| panic!("python3-saml refused the Response: {e}"));
    assert_eq!(v.attributes.get(OID_HETU), Some(&vec![PERSON.to_owned()]));

    // Where the schema puts it: the assertion's AuthnContext, after the class reference.
    let (_, xml, _) = autopost.saml_response().unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let ctx = doc
        .descendants()
        .find(|n| n.has_tag_name((saml::xml::NS_SAML, "AuthnContext")))
        .expect("an AuthnContext");
    assert!(ctx
        .ancestors()
        .any(|n| n.has_tag_name((saml::xml::NS_SAML, "Assertion"))));
    let children: Vec<(&str, &str)> = ctx
        .children()
        .filter(|n| n.is_element())
        .map(|n| (n.tag_name().name(), n.text().unwrap_or("")))
        .collect();
    assert_eq!(
        children,
        [
            ("AuthnContextClassRef", v.authn_context.as_deref().unwrap()),
            ("AuthenticatingAuthority", "urn:gateway:testbank"),
        ]
    );

    // The gateway's own SP side reads it from the verified assertion.
    let certs = [idp.cert.clone()];
    let ours = saml::sp::validate_response(
        &xml,
        &saml::sp::ResponseExpectations {
            sp_entity_id: sp_entity,
            acs_url: &sp.config.acs_url,
            idp_entity_id: &format!("{base}/saml/idp"),
            idp_certificates: &certs,
            in_response_to: Some(&req.request_id),
            now: time::OffsetDateTime::now_utc(),
            clock_skew: time::Duration::seconds(60),
            decryption_key: None,
        },
    )
    .unwrap();
    assert_eq!(ours.authenticating_authorities, ["urn:gateway:testbank"]);

    // Signed: xmlsec1 verifies the assertion with the IdP certificate; passing a test login
    // off as a bank's breaks the signature.
    let cert = d.join("idp.crt");
    peers::xmlsec1_verify(&xml, &cert, ASSERTION).unwrap();
    let forged = xml.replace("urn:gateway:testbank", "https://isb.op.fi");
    assert_ne!(forged, xml);
    assert!(peers::xmlsec1_verify(&forged, &cert, ASSERTION).is_err());
    gw.stop().await;
}

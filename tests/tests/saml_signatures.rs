//! Every kind of message the gateway signs, verified by implementations other than our own: the
//! `xmlsec1` command-line verifier (libxmlsec1) with only the expected certificate, and
//! python3-saml and node-saml as service providers. The kinds: an ECDSA-signed assertion (for an
//! SP whose metadata asks for ECDSA), a signed Response (`sign_response = true` in a production
//! config), the four status Responses the intake answers with, an assertion with a persistent
//! NameID, and the signed IdP metadata.
//!
//! Each xmlsec1 check also says which element the verified signature covers
//! (`peers::xmlsec1_verify_element`): the ID of the Assertion, Response or EntityDescriptor it
//! names must be that of the element meant. Each kind is also shown refused when tampered with or
//! checked against the wrong certificate, so an accepting verifier is not one that accepts anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saml::authn_request::{Comparison, RequestedAuthnContext};
use std::path::{Path, PathBuf};
use tests::browser::Browser;
use tests::harness::{self, through_testbank, LoopbackListener, PERSON};
use tests::peers::{
    self, xmlsec1_verify_element, AuthnOptions, Binding, NameIdFormat, PeerConfig, PeerKind, PeerSp,
};
use tests::testsp::{RequestOptions, TestSp};

const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
const RESPONSE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
const ENTITY_DESCRIPTOR: &str = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor";
const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// One dev-mode gateway for everything but the signed Response (one world, to keep the peers'
/// start-up cost down): the ECDSA assertion, the status Responses, the persistent NameIDs and
/// the metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assertions_status_responses_and_metadata_verify_independently() {
    let w = dev_world().await;
    ecdsa_signed_assertion(&w).await;
    signed_status_responses(&w).await;
    persistent_name_ids(&w).await;
    signed_idp_metadata(&w).await;
}

/// A dev-mode gateway with an SP asking for ECDSA, one without a preference, and python3-saml
/// and node-saml asking for persistent NameIDs; the gateway's RSA and EC certificates as PEM.
struct DevWorld {
    gw: harness::TestGateway,
    base: String,
    ec_sp: TestSp,
    rsa_sp: TestSp,
    peer_sps: Vec<PeerSp>,
    rsa_pem: PathBuf,
    ec_pem: PathBuf,
}

async fn dev_world() -> DevWorld {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let (idp, rsa_pem) = harness::dev_idp_key_before_start(dir.path());

    let mut ec_sp = TestSp::new("ec", &base, false);
    ec_sp.signing_methods = vec![ECDSA_SHA256.into()];
    let rsa_sp = TestSp::new("rsa", &base, false);
    let mut md_files = vec![
        ec_sp.write_metadata(dir.path()),
        rsa_sp.write_metadata(dir.path()),
    ];
    let (sp_key, sp_cert) = harness::peer_sp_key_files(dir.path());
    let mut peer_sps = Vec::new();
    for kind in [PeerKind::Python3Saml, PeerKind::NodeSaml] {
        let cfg = PeerConfig::for_gateway(
            format!("https://{kind}.persistent.example/sp"),
            format!("http://127.0.0.1:9/{kind}/acs"),
            &base,
            &rsa_pem,
            (&sp_key, &sp_cert),
        );
        let sp = PeerSp::new(kind, &dir.path().join(kind.name()), &cfg).unwrap();
        let sp2 = sp.clone();
        let md = tokio::task::spawn_blocking(move || sp2.metadata())
            .await
            .unwrap()
            .unwrap();
        let f = dir.path().join(format!("{kind}.xml"));
        std::fs::write(&f, md).unwrap();
        md_files.push(f);
        peer_sps.push(sp);
    }
    let gw = harness::start_in(dir, md_files, Some(listener)).await;
    assert_eq!(gw.gw.state.idp.keys.rsa.active().cert, idp.cert);
    let ec_pem = gw.dir.path().join("idp-ec.pem");
    let ec_cert = &gw
        .gw
        .state
        .idp
        .keys
        .ec
        .as_ref()
        .expect("dev mode has an EC key")
        .cert;
    std::fs::write(&ec_pem, ec_cert.to_pem()).unwrap();
    DevWorld {
        gw,
        base,
        ec_sp,
        rsa_sp,
        peer_sps,
        rsa_pem,
        ec_pem,
    }
}

/// An ECDSA-signed assertion, for the SP whose metadata asks for ECDSA.
async fn ecdsa_signed_assertion(w: &DevWorld) {
    let DevWorld {
        gw,
        ec_sp,
        rsa_pem,
        ec_pem,
        ..
    } = w;
    let sso = gw.sso_url();
    let b = Browser::new();
    let (xml, _) = ec_sp.request_xml(&sso, &RequestOptions::default());
    let page = b.get(&ec_sp.redirect_url(&sso, &xml, None, false)).await;
    let autopost = through_testbank(&b, page, &[("national_id", PERSON)]).await;
    let (_, resp, _) = autopost.saml_response().expect("a Response");
    assert_eq!(signature_methods(&resp), [ECDSA_SHA256], "{resp}");
    let covered = xmlsec1_verify_element(&resp, ec_pem, ASSERTION)
        .unwrap_or_else(|e| panic!("ECDSA assertion: {e}\n{resp}"));
    assert_eq!(covered, element_id(&resp, NS_SAML, "Assertion"));
    refused_when_tampered_or_wrong_cert(&resp, ec_pem, rsa_pem, ASSERTION, "ECDSA assertion");
}

/// A request the intake answers with a status Response.
struct StatusCase<'a> {
    sp: &'a TestSp,
    opts: RequestOptions<'a>,
    /// The request names a Subject (answered RequestUnsupported).
    names_subject: bool,
    top: &'a str,
    second: &'a str,
}

/// The four status Responses, signed (RSA for the SP without a preference; ECDSA for the EC
/// SP's NoPassive).
async fn signed_status_responses(w: &DevWorld) {
    let DevWorld {
        gw,
        ec_sp,
        rsa_sp,
        rsa_pem,
        ec_pem,
        ..
    } = w;
    let sso = gw.sso_url();
    let email = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    let unknown_context = RequestedAuthnContext {
        comparison: Comparison::Exact,
        class_refs: vec!["urn:example:password".into()],
    };
    let passive = || RequestOptions {
        is_passive: true,
        ..Default::default()
    };
    let cases = [
        StatusCase {
            sp: rsa_sp,
            opts: passive(),
            names_subject: false,
            top: saml::STATUS_RESPONDER,
            second: saml::STATUS_NO_PASSIVE,
        },
        StatusCase {
            sp: ec_sp,
            opts: passive(),
            names_subject: false,
            top: saml::STATUS_RESPONDER,
            second: saml::STATUS_NO_PASSIVE,
        },
        StatusCase {
            sp: rsa_sp,
            opts: RequestOptions {
                requested: Some(unknown_context),
                ..Default::default()
            },
            names_subject: false,
            top: saml::STATUS_REQUESTER,
            second: saml::STATUS_NO_AUTHN_CONTEXT,
        },
        StatusCase {
            sp: rsa_sp,
            opts: RequestOptions {
                name_id_format: Some(email),
                ..Default::default()
            },
            names_subject: false,
            top: saml::STATUS_REQUESTER,
            second: "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
        },
        StatusCase {
            sp: rsa_sp,
            opts: RequestOptions::default(),
            names_subject: true,
            top: saml::STATUS_RESPONDER,
            second: saml::STATUS_REQUEST_UNSUPPORTED,
        },
    ];
    for StatusCase {
        sp,
        opts,
        names_subject,
        top,
        second,
    } in cases
    {
        let what = format!("{} status {second}", sp.entity_id);
        let (xml, request_id) = sp.request_xml(&sso, &opts);
        let xml = if names_subject {
            xml.replace(
                "</saml:Issuer>",
                "</saml:Issuer><saml:Subject><saml:NameID>someone</saml:NameID></saml:Subject>",
            )
        } else {
            xml
        };
        // A browser without a session, so IsPassive cannot be answered from one.
        let page = Browser::new()
            .get(&sp.redirect_url(&sso, &xml, None, false))
            .await;
        assert_eq!(page.status, 200, "{what}: {}", page.body);
        let (_, resp, _) = page.saml_response().expect("a status Response");
        let doc = roxmltree::Document::parse(&resp).unwrap();
        let root = doc.root_element();
        assert!(root.has_tag_name((NS_SAMLP, "Response")), "{what}");
        assert_eq!(root.attribute("InResponseTo"), Some(request_id.as_str()));
        let codes: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name((NS_SAMLP, "StatusCode")))
            .filter_map(|n| n.attribute("Value"))
            .collect();
        assert_eq!(codes, [top, second], "{what}");
        assert!(
            !root
                .descendants()
                .any(|n| n.has_tag_name((NS_SAML, "Assertion"))),
            "{what}"
        );
        let (cert, other, alg) = if sp.signing_methods.is_empty() {
            (rsa_pem, ec_pem, RSA_SHA256)
        } else {
            (ec_pem, rsa_pem, ECDSA_SHA256)
        };
        assert_eq!(signature_methods(&resp), [alg], "{what}");
        let covered = xmlsec1_verify_element(&resp, cert, RESPONSE)
            .unwrap_or_else(|e| panic!("{what}: {e}\n{resp}"));
        assert_eq!(covered, element_id(&resp, NS_SAMLP, "Response"), "{what}");
        refused_when_tampered_or_wrong_cert(&resp, cert, other, RESPONSE, &what);
    }
}

/// Persistent NameIDs, read by python3-saml and node-saml, in an assertion xmlsec1 verifies.
async fn persistent_name_ids(w: &DevWorld) {
    let DevWorld {
        peer_sps,
        rsa_pem,
        ec_pem,
        ..
    } = w;
    for sp in peer_sps {
        let what = format!("{} persistent NameID", sp.kind);
        let opts = AuthnOptions {
            binding: Binding::Redirect,
            name_id_format: Some(NameIdFormat::Persistent),
            ..Default::default()
        };
        let (req, autopost) = sp.test_bank_login(opts, &[("national_id", PERSON)]).await;
        let v = sp
            .validate_autopost(&req.request_id, &autopost)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            v.name_id_format.as_deref(),
            Some(saml::NAMEID_PERSISTENT),
            "{what}"
        );
        let (_, resp, _) = autopost.saml_response().unwrap();
        let doc = roxmltree::Document::parse(&resp).unwrap();
        let name_id = doc
            .descendants()
            .find(|n| n.has_tag_name((NS_SAML, "NameID")))
            .unwrap();
        assert_eq!(
            name_id.attribute("Format"),
            Some(saml::NAMEID_PERSISTENT),
            "{what}"
        );
        assert_eq!(v.name_id.as_deref(), name_id.text(), "{what}");
        assert!(
            !v.name_id.as_deref().unwrap_or(PERSON).contains(PERSON),
            "{what}: the NameID is not the national id"
        );
        let covered = xmlsec1_verify_element(&resp, rsa_pem, ASSERTION)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(covered, element_id(&resp, NS_SAML, "Assertion"), "{what}");
        refused_when_tampered_or_wrong_cert(&resp, rsa_pem, ec_pem, ASSERTION, &what);
    }
}

/// The signed IdP metadata, as served.
async fn signed_idp_metadata(w: &DevWorld) {
    let DevWorld {
        base,
        rsa_pem,
        ec_pem,
        ..
    } = w;
    let md = Browser::new()
        .get(&format!("{base}/saml/idp/metadata"))
        .await;
    assert_eq!(md.status, 200);
    let covered = xmlsec1_verify_element(&md.body, rsa_pem, ENTITY_DESCRIPTOR)
        .unwrap_or_else(|e| panic!("IdP metadata: {e}\n{}", md.body));
    let doc = roxmltree::Document::parse(&md.body).unwrap();
    assert_eq!(Some(covered.as_str()), doc.root_element().attribute("ID"));
    refused_when_tampered_or_wrong_cert(
        &md.body,
        rsa_pem,
        ec_pem,
        ENTITY_DESCRIPTOR,
        "IdP metadata",
    );
}

/// A production gateway whose config says `sign_response = true` for python3-saml: the Response
/// and the assertion in it are each signed, python3-saml accepts the Response, and xmlsec1
/// verifies the Response's signature and then, with that one taken out, the assertion's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_response_from_production_config_verifies_independently() {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    harness::write_idp_files(d);
    let sp = harness::python3_saml_sp(d, &base, "https://signed-response.example/sp").await;
    let _gw = harness::serve_toml(
        d,
        listener.listener,
        &format!(
            r#"
environment = "test"
[server]
listen = "127.0.0.1:0"
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
sign_response = true
"#
        ),
    )
    .await;
    let idp_pem = d.join("idp.crt");
    let other_pem = d.join("sp.crt");

    let (req, autopost) = sp
        .test_bank_login(AuthnOptions::default(), &[("national_id", PERSON)])
        .await;
    sp.validate_autopost(&req.request_id, &autopost)
        .await
        .unwrap_or_else(|e| panic!("python3-saml refused the signed Response: {e}"));
    let (_, resp, _) = autopost.saml_response().unwrap();
    assert_eq!(
        signature_methods(&resp),
        [RSA_SHA256, RSA_SHA256],
        "the Response and the assertion are each signed: {resp}"
    );
    let covered = xmlsec1_verify_element(&resp, &idp_pem, RESPONSE)
        .unwrap_or_else(|e| panic!("signed Response: {e}\n{resp}"));
    assert_eq!(covered, element_id(&resp, NS_SAMLP, "Response"));
    refused_when_tampered_or_wrong_cert(&resp, &idp_pem, &other_pem, RESPONSE, "signed Response");

    // Without the Response's signature, the first one left is the assertion's.
    let s = resp.find("<ds:Signature").unwrap();
    let t = resp.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let assertion_only = format!("{}{}", &resp[..s], &resp[t..]);
    assert_eq!(signature_methods(&assertion_only), [RSA_SHA256]);
    assert!(
        xmlsec1_verify_element(&assertion_only, &idp_pem, RESPONSE).is_err(),
        "the Response's signature was taken out"
    );
    let covered = xmlsec1_verify_element(&assertion_only, &idp_pem, ASSERTION)
        .unwrap_or_else(|e| panic!("assertion in the signed Response: {e}"));
    assert_eq!(covered, element_id(&resp, NS_SAML, "Assertion"));
}

/// The SignatureMethod algorithms in `xml`, in document order.
fn signature_methods(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name(("http://www.w3.org/2000/09/xmldsig#", "SignatureMethod")))
        .map(|n| n.attribute("Algorithm").unwrap().to_owned())
        .collect()
}

/// The ID of the first `ns:local` element.
fn element_id(xml: &str, ns: &str, local: &str) -> String {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let id = doc
        .descendants()
        .find(|n| n.has_tag_name((ns, local)))
        .and_then(|n| n.attribute("ID"))
        .unwrap_or_else(|| panic!("no {local} with an ID"));
    id.to_owned()
}

/// xmlsec1 refuses `xml` with one signed attribute value of `element` changed, and refuses it
/// unchanged against `wrong_cert`.
fn refused_when_tampered_or_wrong_cert(
    xml: &str,
    cert: &Path,
    wrong_cert: &Path,
    element: &str,
    what: &str,
) {
    let (ns, local) = element.rsplit_once(':').unwrap();
    let doc = roxmltree::Document::parse(xml).unwrap();
    let start = doc
        .descendants()
        .find(|n| n.has_tag_name((ns, local)))
        .unwrap()
        .range()
        .start;
    let start_tag = &xml[start..start + xml[start..].find('>').unwrap()];
    let at = ["IssueInstant=\"", "validUntil=\""]
        .iter()
        .find_map(|a| start_tag.find(a).map(|i| start + i + a.len()))
        .unwrap_or_else(|| panic!("{what}: nothing to tamper with in {start_tag}"));
    // The year's first digit: 2026 becomes 1026, still a well-formed dateTime.
    assert_eq!(&xml[at..at + 1], "2", "{what}");
    let tampered = format!("{}1{}", &xml[..at], &xml[at + 1..]);
    let refused = xmlsec1_verify_element(&tampered, cert, element);
    assert!(refused.is_err(), "{what}: tampered, yet verified");
    let refused = xmlsec1_verify_element(xml, wrong_cert, element);
    assert!(refused.is_err(), "{what}: verified by another key");
}

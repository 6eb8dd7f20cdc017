//! Independent SAML implementations as service providers: python3-saml (strict), pysaml2
//! (Saml2Client) and node-saml send AuthnRequests by Redirect (unsigned and signed) and by
//! POST, the citizen logs in through the test bank, and each library validates the Response.
//! `xmlsec1 --verify` checks the assertion signature with the IdP certificate (and that the
//! signature it checked is the assertion's), and samael (with its xmlsec feature) parses and
//! accepts a Response as one more service provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tests::assertion_names::{OID_GIVEN, OID_HETU, OID_SN};
use tests::browser::Browser;
use tests::harness::{self, LoopbackListener, PERSON};
use tests::peers::{self, AuthnOptions, Binding, NameIdFormat, PeerConfig, PeerKind, PeerSp};

struct Peer {
    sp: PeerSp,
    signed: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_sps_log_in_through_the_gateway() {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let (idp, idp_cert) = harness::dev_idp_key_before_start(dir.path());
    let (sp_key, sp_cert) = harness::peer_sp_key_files(dir.path());

    let mut configs = Vec::new();
    // Every peer with unsigned and signed requests, and python3-saml once more wanting
    // encrypted assertions.
    let variants = PeerKind::ALL
        .iter()
        .flat_map(|k| [(*k, false, false), (*k, true, false)])
        .chain([(PeerKind::Python3Saml, true, true)]);
    {
        for (kind, signed, encrypted) in variants {
            let name = format!(
                "{}-{}{}",
                kind.name(),
                if signed { "signed" } else { "unsigned" },
                if encrypted { "-encrypted" } else { "" }
            );
            let cfg = PeerConfig {
                authn_requests_signed: signed,
                want_assertions_encrypted: encrypted,
                ..PeerConfig::for_gateway(
                    format!("https://{name}.peer.example/sp"),
                    format!("http://127.0.0.1:9/{name}/acs"),
                    &base,
                    &idp_cert,
                    (&sp_key, &sp_cert),
                )
            };
            configs.push((kind, signed, name, cfg));
        }
    }
    let mut md_files = Vec::new();
    for (kind, _, name, cfg) in &configs {
        let sp = PeerSp::new(*kind, &dir.path().join(name), cfg).unwrap();
        let md = tokio::task::spawn_blocking(move || sp.metadata())
            .await
            .unwrap()
            .unwrap();
        let f = dir.path().join(format!("{name}.xml"));
        std::fs::write(&f, md).unwrap();
        md_files.push(f);
    }
    let gw = harness::start_in(dir, md_files, Some(listener)).await;
    assert_eq!(
        gw.gw.state.idp.keys.rsa.active().cert,
        idp.cert,
        "the gateway uses the prepared key"
    );
    let idp_md = Browser::new()
        .get(&format!("{base}/saml/idp/metadata"))
        .await;
    assert_eq!(idp_md.status, 200);
    let idp_md_file = gw.dir.path().join("idp-metadata.xml");
    std::fs::write(&idp_md_file, &idp_md.body).unwrap();

    let mut peers_list = Vec::new();
    for (kind, signed, name, mut cfg) in configs {
        cfg.idp_metadata_file = Some(idp_md_file.clone());
        peers_list.push(Peer {
            sp: PeerSp::new(kind, &gw.dir.path().join(&name), &cfg).unwrap(),
            signed,
        });
    }

    let mut checked = 0;
    let mut one_response = None;
    for p in &peers_list {
        for binding in [Binding::Redirect, Binding::Post] {
            let what = format!(
                "{} signed={} encrypted={} {:?}",
                p.sp.kind, p.signed, p.sp.config.want_assertions_encrypted, binding
            );
            let opts = AuthnOptions {
                binding,
                relay_state: Some(format!("state-{}", checked)),
                name_id_format: Some(NameIdFormat::Transient),
                ..Default::default()
            };
            let (req, autopost) =
                p.sp.test_bank_login(
                    opts,
                    &[("national_id", PERSON), ("given_name", "Anna & <Åsa>")],
                )
                .await;
            assert_eq!(req.signed, p.signed, "{what}: signing as configured");
            assert_eq!(autopost.status, 200, "{what}: {}", autopost.body);
            let form = autopost.form(Some("saml")).unwrap();
            assert_eq!(
                form.action, p.sp.config.acs_url,
                "{what}: posted to the registered ACS"
            );
            let b64 = autopost.saml_response_b64().unwrap();
            let sent = autopost.saml_response().unwrap().1;
            if p.sp.config.want_assertions_encrypted {
                assert!(
                    sent.contains("EncryptedAssertion"),
                    "{what}: encrypted to the SP"
                );
                assert!(
                    !sent.contains(PERSON),
                    "{what}: the national id only travels encrypted"
                );
            } else {
                assert!(!sent.contains("EncryptedAssertion"), "{what}");
            }
            let rs = form
                .fields
                .iter()
                .find(|(k, _)| k == "RelayState")
                .map(|(_, v)| v.clone());
            assert_eq!(
                rs.as_deref(),
                Some(format!("state-{checked}").as_str()),
                "{what}: RelayState kept"
            );
            let sp = p.sp.clone();
            let request_id = req.request_id.clone();
            let b64c = b64.clone();
            let v =
                tokio::task::spawn_blocking(move || sp.validate(&request_id, &b64c, rs.as_deref()))
                    .await
                    .unwrap()
                    .unwrap_or_else(|r| panic!("{what}: {r}"));
            assert_eq!(
                v.attributes.get(OID_HETU),
                Some(&vec![PERSON.to_owned()]),
                "{what}"
            );
            assert_eq!(
                v.attributes.get(OID_GIVEN),
                Some(&vec!["Anna & <Åsa>".to_owned()]),
                "{what}"
            );
            assert_eq!(
                v.attributes.get(OID_SN),
                Some(&vec!["Meikäläinen".to_owned()]),
                "{what}"
            );
            assert_eq!(
                v.name_id_format.as_deref(),
                Some(saml::NAMEID_TRANSIENT),
                "{what}"
            );
            assert!(v.session_index.is_some(), "{what}");

            // The same Response must not validate for a request the SP did not make.
            let sp = p.sp.clone();
            let refused =
                tokio::task::spawn_blocking(move || sp.validate("_not_the_request", &b64, None))
                    .await
                    .unwrap();
            assert!(
                refused.is_err(),
                "{what}: a Response for another request was accepted"
            );
            if !p.sp.config.want_assertions_encrypted {
                one_response = Some((sent, p.sp.config.clone(), req.request_id.clone()));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 14);

    // samael accepts the newest Response (it allows 90 s after IssueInstant), with the
    // gateway's metadata as served, and refuses it for another request or audience.
    let (xml, cfg, request_id) = one_response.unwrap();
    let report = peers::samael_validate(
        &xml,
        &idp_md_file,
        &cfg.entity_id,
        &cfg.acs_url,
        &request_id,
    )
    .unwrap_or_else(|e| panic!("samael refused our Response: {e}"));
    assert_eq!(report["attributes"][OID_HETU][0], PERSON, "{report}");
    assert!(
        peers::samael_validate(&xml, &idp_md_file, &cfg.entity_id, &cfg.acs_url, "_other").is_err()
    );
    assert!(peers::samael_validate(
        &xml,
        &idp_md_file,
        "https://other.example/sp",
        &cfg.acs_url,
        &request_id
    )
    .is_err());

    // xmlsec1 checks the assertion's signature with the IdP certificate only, and the signature
    // it checked is the assertion's own.
    let cert = gw.idp_cert_pem_file();
    let covered = peers::xmlsec1_verify_element(
        &xml,
        &cert,
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    )
    .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let assertion = doc
        .descendants()
        .find(|n| n.has_tag_name(("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion")))
        .unwrap();
    assert_eq!(Some(covered.as_str()), assertion.attribute("ID"));
    let tampered = xml.replace(PERSON, "010101-923F");
    assert_ne!(tampered, xml);
    assert!(peers::xmlsec1_verify(
        &tampered,
        &cert,
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
    )
    .is_err());
}

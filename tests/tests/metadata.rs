//! The gateway's signed IdP metadata over time: its validUntil follows the config, and it is
//! signed again before it lapses, so what is served is never expired however long the gateway
//! runs. Time is moved with a controllable clock, not waited for; xmlsec1 checks every
//! signature.

use certs::{Clock, ManualClock};
use std::sync::Arc;
use tests::browser::Browser;
use tests::peers::xmlsec1_verify;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const ENTITY_DESCRIPTOR: &str = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor";

struct World {
    clock: Arc<ManualClock>,
    base: String,
    cert_pem: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A dev-mode gateway whose every part reads this clock.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let data = dir.path().join("data");
    let b = base.clone();
    let mut parts =
        tokio::task::spawn_blocking(move || gateway::dev::build_dev_state(&b, &data, &[]).unwrap())
            .await
            .unwrap();
    parts.idp.clock = clock.clone();
    let cert_pem = dir.path().join("idp.crt.pem");
    std::fs::write(&cert_pem, parts.idp.keys.rsa.active().cert.to_pem()).unwrap();
    let gw = parts.finish().unwrap();
    let server = tokio::spawn(gateway::web::serve(
        listener,
        gw.web.clone(),
        std::future::pending(),
    ));
    World {
        clock,
        base,
        cert_pem,
        _dir: dir,
        _server: server,
    }
}

impl World {
    async fn metadata(&self) -> String {
        let page = Browser::new()
            .get(&format!("{}/saml/idp/metadata", self.base))
            .await;
        assert_eq!(page.status, 200);
        page.body
    }
}

fn valid_until(xml: &str) -> OffsetDateTime {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let v = doc.root_element().attribute("validUntil").unwrap();
    OffsetDateTime::parse(v, &Rfc3339).unwrap()
}

fn document_id(xml: &str) -> String {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.root_element().attribute("ID").unwrap().to_owned()
}

#[tokio::test]
async fn served_metadata_never_lapses_as_the_clock_moves() {
    let w = world().await;
    let start = w.clock.now();
    let first = w.metadata().await;
    let first_until = valid_until(&first);
    // Seven days by default (dev mode uses the config's default), to the second.
    assert!(
        (first_until - (start + Duration::days(7))).abs() <= Duration::seconds(1),
        "{first_until} vs {start}"
    );
    xmlsec1_verify(&first, &w.cert_pem, ENTITY_DESCRIPTOR).unwrap();
    // The same document until half its validity has passed.
    w.clock.advance(Duration::days(3));
    assert_eq!(document_id(&w.metadata().await), document_id(&first));

    // Every day for thirty days: never expired, always a good signature.
    for day in 4..=30 {
        w.clock.set(start + Duration::days(day));
        let now = w.clock.now();
        let doc = w.metadata().await;
        let until = valid_until(&doc);
        assert!(
            until > now,
            "day {day}: validUntil {until} is not after {now}"
        );
        assert!(until - now >= Duration::days(3), "day {day}: {until}");
        xmlsec1_verify(&doc, &w.cert_pem, ENTITY_DESCRIPTOR)
            .unwrap_or_else(|e| panic!("day {day}: {e}"));
    }
    let last = w.metadata().await;
    assert_ne!(document_id(&last), document_id(&first), "signed again");
    assert!(valid_until(&last) > start + Duration::days(30));
}

#[tokio::test]
async fn a_tampered_metadata_document_fails_xmlsec1() {
    // Control for the check above: xmlsec1 refuses the same document with one byte changed.
    let w = world().await;
    let doc = w.metadata().await;
    xmlsec1_verify(&doc, &w.cert_pem, ENTITY_DESCRIPTOR).unwrap();
    let tampered = doc.replace("/saml/idp/sso", "/saml/idp/ss0");
    assert_ne!(tampered, doc);
    let err = xmlsec1_verify(&tampered, &w.cert_pem, ENTITY_DESCRIPTOR).unwrap_err();
    assert!(err.contains("fail") || err.contains("FAIL"), "{err}");
}

//! ID-card OCSP against an independent responder: `openssl ocsp` serving an OpenSSL CA index for
//! the committed test PKI (the `valid` card V, the `revoked` card R), reached over loopback by the
//! gateway's real HTTP client. Our requests (SHA-256 CertID, nonce) must be understood and its
//! responses verified; a responder that is gone must fail closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;
use tests::ocsp::{write_ca_files, OpensslResponder};

use certs::test_pki::IdCardTestPki;
use certs::SystemRandomSource;
use gateway::upstream::http_client::{ReqwestHttp, Timeouts};
use idp_adapters::idcard::{
    CardError, ChainValidator, IdCard, IdCardSettings, NonceMode, OcspChecker, OcspSettings,
    OcspSigner, Revocation,
};
use time::OffsetDateTime;

fn settings() -> IdCardSettings {
    IdCardSettings {
        require_national_id: false,
        test_environment: true,
        ..IdCardSettings::new("https://idcard.gateway.test:8443/")
    }
}

fn checker(url: &str, nonce: NonceMode) -> OcspChecker {
    let http = ReqwestHttp::new(Timeouts {
        connect: Duration::from_secs(2),
        total: Duration::from_secs(5),
    })
    .unwrap();
    let mut ocsp = OcspSettings::responder(url);
    ocsp.nonce = nonce;
    OcspChecker::new(ocsp, Arc::new(http), Arc::new(SystemRandomSource)).unwrap()
}

#[tokio::test]
async fn openssl_ocsp_responder_answers_good_revoked_and_unknown() {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let pki = IdCardTestPki::generate(now).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_ca_files(&pki, dir.path(), now);
    let responder = OpensslResponder::start(dir.path());
    let url = responder.url();

    // OCSP is the only revocation check here (no CRLs installed).
    let validator = ChainValidator::new(
        std::slice::from_ref(&pki.root.cert_der),
        std::slice::from_ref(&pki.intermediate.cert_der),
        Revocation::Off,
    )
    .unwrap();
    let card = IdCard::new(settings(), validator, None, Arc::new(SystemRandomSource))
        .with_ocsp(checker(&url, NonceMode::Required));
    let now = || OffsetDateTime::now_utc();

    let (holder, _) = card
        .verify_presented(&pki.cards.valid.chain, now())
        .await
        .unwrap_or_else(|e| panic!("valid card: {e:?}; responder log: {}", responder.log()));
    assert_eq!(holder.issuer_der, pki.intermediate.cert_der);

    assert_eq!(
        card.verify_presented(&pki.cards.revoked.chain, now())
            .await
            .map(|_| ()),
        Err(CardError::OcspRevoked),
        "responder log: {}",
        responder.log()
    );

    // Not in the index: OpenSSL answers "unknown", which fails closed.
    let unknown = card
        .verify_presented(&pki.cards.unmapped.chain, now())
        .await
        .map(|_| ());
    assert!(
        matches!(unknown, Err(CardError::OcspUnavailable(_))),
        "{unknown:?}"
    );

    // The checker on its own: signed by the issuer, nonce echoed, nextUpdate from -nmin.
    let good = checker(&url, NonceMode::Required)
        .check(&pki.cards.valid.chain[0], &pki.intermediate.cert_der, now())
        .await
        .unwrap();
    assert_eq!(good.signer, OcspSigner::Issuer);
    assert!(good.nonce_echoed);
    let next = good.next_update.unwrap();
    assert!(next > now() + time::Duration::minutes(4), "{next}");

    // The responder goes away: no status, no login.
    drop(responder);
    let down = card.verify_presented(&pki.cards.valid.chain, now()).await;
    assert_eq!(
        down.map(|_| ()),
        Err(CardError::OcspUnavailable(
            "the OCSP responder is unreachable"
        ))
    );
}

//! What the gateway spends on one ID-card login's certificate checks: path validation with CRLs
//! (webpki), the x509-parser reads, the SATU lookup; and what refusing a stuffed certificate
//! costs. `cargo bench -p idp-adapters --bench idcard`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use certs::test_pki::IdCardTestPki;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use idp_adapters::idcard::{
    ChainValidator, FileDirectory, IdCard, IdCardSettings, Revocation, VerifiedCrl,
};
use time::macros::datetime;

fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn bench(c: &mut Criterion) {
    let now = datetime!(2030-03-01 08:00:00 UTC);
    let pki = IdCardTestPki::generate(now).unwrap();
    let map = format!(
        "{},131052-9085\n{},070770-905D\n",
        pki.cards.valid.satu, pki.cards.valid_rsa.satu
    );
    // The production shape: chain revocation, the mapping file, the root's CRL installed.
    let adapter = || {
        let validator = ChainValidator::new(
            std::slice::from_ref(&pki.root.cert_der),
            std::slice::from_ref(&pki.intermediate.cert_der),
            Revocation::Chain,
        )
        .unwrap();
        let card = IdCard::new(
            IdCardSettings::new("https://idcard.example"),
            validator,
            Some(Arc::new(FileDirectory::parse(&map).unwrap())),
            Arc::new(certs::SystemRandomSource),
        );
        card.install_crl(&pki.root_crl, now).unwrap();
        card
    };
    let card = adapter();
    card.install_crl(&pki.intermediate_crl, now).unwrap();

    let mut g = c.benchmark_group("idcard");
    g.bench_function("verify P-256 card (chain + CRLs + mapping)", |b| {
        b.iter(|| run(card.verify_presented(black_box(&pki.cards.valid.chain), now)).unwrap())
    });
    g.bench_function("verify RSA-2048 card (chain + CRLs + mapping)", |b| {
        b.iter(|| run(card.verify_presented(black_box(&pki.cards.valid_rsa.chain), now)).unwrap())
    });
    g.bench_function("refuse 10,000-SAN certificate", |b| {
        b.iter(|| {
            run(card.verify_presented(black_box(&pki.cards.huge_san.chain), now)).unwrap_err()
        })
    });
    g.bench_function("refuse revoked card", |b| {
        b.iter(|| run(card.verify_presented(black_box(&pki.cards.revoked.chain), now)).unwrap_err())
    });
    let cas = [pki.root.cert_der.clone(), pki.intermediate.cert_der.clone()];
    g.bench_function("verify a CRL before install", |b| {
        b.iter(|| VerifiedCrl::verify(black_box(&pki.intermediate_crl), &cas, now).unwrap())
    });
    // A national CA's CRL: 100,000 entries (about 3 MB).
    let large = pki.large_intermediate_crl(now, 100_000).unwrap();
    eprintln!("large CRL: {} bytes", large.len());
    let big = adapter();
    big.install_crl(&large, now).unwrap();
    g.sample_size(20);
    g.bench_function("verify P-256 card against a 100,000-entry CRL", |b| {
        b.iter(|| run(big.verify_presented(black_box(&pki.cards.valid.chain), now)).unwrap())
    });
    g.bench_function("verify and install a 100,000-entry CRL", |b| {
        b.iter(|| VerifiedCrl::verify(black_box(&large), &cas, now).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Hostile review of ID-card login: a real gateway with its certificate listener on loopback,
//! driven by crafted clients. Every test here asserts a refusal (or a bound) that holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use std::time::{Duration, Instant};
use tests::assertion_names::OID_SATU;
use tests::browser::{Browser, Page};
use tests::gateway_log;
use tests::idcard::{pki, state_of, world, Setup, VALID_HETU};

fn attribute(v: &saml::sp::ValidatedAssertion, oid: &str) -> Option<String> {
    v.attributes
        .iter()
        .find(|(k, _)| k == oid)
        .map(|(_, vals)| vals.join("|"))
}

/// A refusal's status and code: an error page (no SAMLResponse) whose error ID the audit line
/// carries with `code`.
fn assert_refused(page: &Page, status: u16, code: &str, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
    gateway_log::assert_audited_refusal(page, code, what);
}

/// A raw HTTP/1.1 answer as a page (status and body; enough for an error page).
fn raw_page(response: &str) -> Page {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Page {
        status,
        url: String::new(),
        location: location_of(response),
        set_cookies: Vec::new(),
        headers: Default::default(),
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates no CA of ours would issue, crafted with the openssl CLI and signed by the test
// intermediate's key: the validator refuses each for its own reason.

struct Crafted {
    der: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A leaf with `subject` (openssl -subj syntax, UTF-8) and the extensions in `ext` (an openssl
/// extension section body), issued by the test intermediate.
fn craft(subject: &str, ext: &str) -> Crafted {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = pki();
    std::fs::write(
        d.join("ca.pem"),
        certs::Certificate::from_der(&p.intermediate.cert_der)
            .unwrap()
            .to_pem(),
    )
    .unwrap();
    std::fs::write(d.join("ca.key"), &p.intermediate.key_pem).unwrap();
    std::fs::write(d.join("ext.cnf"), format!("[v3]\n{ext}\n")).unwrap();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "leaf.key",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-utf8",
            "-multivalue-rdn",
            "-subj",
            subject,
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7001",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "v3",
            "-outform",
            "DER",
            "-out",
            "leaf.der",
        ],
    );
    Crafted {
        der: std::fs::read(d.join("leaf.der")).unwrap(),
    }
}

fn validator() -> (
    idp_adapters::idcard::ChainValidator,
    idp_adapters::idcard::CrlSet,
) {
    use idp_adapters::idcard::{ChainValidator, CrlSet, Revocation, VerifiedCrl};
    let p = pki();
    let v = ChainValidator::new(
        std::slice::from_ref(&p.root.cert_der),
        std::slice::from_ref(&p.intermediate.cert_der),
        Revocation::Chain,
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut crls = CrlSet::default();
    for crl in [&p.root_crl, &p.intermediate_crl] {
        crls.install(VerifiedCrl::verify(crl, v.ca_certs(), now).unwrap())
            .unwrap();
    }
    (v, crls)
}

fn code_for(chain: &[Vec<u8>]) -> &'static str {
    let (v, crls) = validator();
    match v.validate(chain, &crls, time::OffsetDateTime::now_utc()) {
        Ok(holder) => panic!("accepted: {holder:?}"),
        Err(e) => e.code(),
    }
}

const GOOD_EXT: &str = "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth";

fn subject(serial: &str, given: &str) -> String {
    format!("/serialNumber={serial}/GN={given}/SN=Testinen/CN=Testinen {given} {serial}")
}

#[test]
fn crafted_certificates_are_refused_for_their_own_reason() {
    let satu = pki().cards.valid.satu.clone();
    let good_subject = subject(&satu, "Tiina");
    // The crafting itself is sound: the same recipe with good values is accepted.
    let control = craft(&good_subject, GOOD_EXT);
    let (v, crls) = validator();
    let holder = v
        .validate(&[control.der], &crls, time::OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(holder.satu.expose(), satu);

    let fullwidth: String = satu
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xFF10 + (c as u32 - '0' as u32)).unwrap(),
            other => other,
        })
        .collect();
    // Look-alike digits (openssl will not put them in a PrintableString, so the parser itself).
    use idp_adapters::idcard::Satu;
    assert!(Satu::parse(&satu).is_some());
    let arabic_indic: String = satu
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0x0660 + (c as u32 - '0' as u32)).unwrap(),
            other => other,
        })
        .collect();
    for lookalike in [
        fullwidth,
        arabic_indic,
        format!("{satu}\u{200b}"),
        format!("\u{200b}{satu}"),
        format!("+{satu}"),
        satu.replace('0', "O"),
    ] {
        assert!(Satu::parse(&lookalike).is_none(), "{lookalike}");
    }
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "anyExtendedKeyUsage only",
            good_subject.clone(),
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=anyExtendedKeyUsage".into(),
            "idcard.extended_key_usage",
        ),
        (
            "emailProtection only",
            good_subject.clone(),
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection".into(),
            "idcard.extended_key_usage",
        ),
        (
            "no key usage",
            good_subject.clone(),
            "extendedKeyUsage=clientAuth".into(),
            "idcard.key_usage",
        ),
        (
            "keyAgreement only",
            good_subject.clone(),
            "keyUsage=critical,keyAgreement\nextendedKeyUsage=clientAuth".into(),
            "idcard.key_usage",
        ),
        (
            "a CA certificate as the card",
            good_subject.clone(),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign"
                .into(),
            "idcard.ca_as_end_entity",
        ),
        (
            "two serialNumbers in one RDN",
            format!("/serialNumber={satu}+serialNumber=99900002X/GN=Tiina/SN=Testinen"),
            GOOD_EXT.into(),
            "idcard.subject_invalid",
        ),
        (
            "two serialNumber RDNs with the same value",
            format!("/serialNumber={satu}/serialNumber={satu}/GN=Tiina/SN=Testinen"),
            GOOD_EXT.into(),
            "idcard.subject_invalid",
        ),
        (
            "lower-case check character",
            subject(&satu.to_lowercase(), "Tiina"),
            GOOD_EXT.into(),
            "idcard.subject_invalid",
        ),
        (
            "wrong check character",
            subject("99900001A", "Tiina"),
            GOOD_EXT.into(),
            "idcard.subject_invalid",
        ),
        (
            "no serialNumber",
            "/GN=Tiina/SN=Testinen/CN=Tiina Testinen".into(),
            GOOD_EXT.into(),
            "idcard.subject_incomplete",
        ),
        (
            "a C1 control character in the given name",
            subject(&satu, "Ti\u{85}na"),
            GOOD_EXT.into(),
            "idcard.subject_invalid",
        ),
        (
            "two givenNames",
            format!("/serialNumber={satu}/GN=Tiina/GN=Outi/SN=Testinen"),
            GOOD_EXT.into(),
            "idcard.subject_invalid",
        ),
    ];
    for (what, subj, ext, code) in cases {
        let c = craft(&subj, &ext);
        assert_eq!(code_for(&[c.der]), code, "{what}");
    }
}

#[test]
fn crls_from_unconfigured_issuers_forged_stale_or_older_are_not_installed() {
    use idp_adapters::idcard::{CrlError, VerifiedCrl};
    let p = pki();
    let (v, mut crls) = validator();
    let now = time::OffsetDateTime::now_utc();
    // A valid CRL, for a CA that is not configured (the constrained CA under the same root).
    assert!(matches!(
        VerifiedCrl::verify(&p.constrained_crl, v.ca_certs(), now),
        Err(CrlError::UnknownIssuer { .. })
    ));
    // The intermediate's exact name, another key.
    assert!(matches!(
        VerifiedCrl::verify(&p.wrong_key_crl, v.ca_certs(), now),
        Err(CrlError::BadSignature { .. })
    ));
    assert!(matches!(
        VerifiedCrl::verify(&p.stale_crl, v.ca_certs(), now),
        Err(CrlError::Stale { .. })
    ));
    // A certificate or garbage where a CRL should be.
    for bytes in [
        p.root.cert_der.clone(),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        Vec::new(),
    ] {
        assert!(VerifiedCrl::verify(&bytes, v.ca_certs(), now).is_err());
    }
    // A newer CRL revokes the valid card; the older, still current one cannot undo it.
    let newer = VerifiedCrl::verify(&p.later_crl_revoking_valid, v.ca_certs(), now).unwrap();
    crls.install(newer).unwrap();
    let older = VerifiedCrl::verify(&p.intermediate_crl, v.ca_certs(), now).unwrap();
    assert!(matches!(crls.install(older), Err(CrlError::Older { .. })));
    let refused = v.validate(&p.cards.valid.chain, &crls, now).unwrap_err();
    assert_eq!(refused.code(), "idcard.revoked");
}

#[test]
fn without_the_intermediate_crl_chain_revocation_fails_closed() {
    use idp_adapters::idcard::{CrlSet, VerifiedCrl};
    let p = pki();
    let (v, _) = validator();
    let now = time::OffsetDateTime::now_utc();
    let mut only_root = CrlSet::default();
    only_root
        .install(VerifiedCrl::verify(&p.root_crl, v.ca_certs(), now).unwrap())
        .unwrap();
    let e = v
        .validate(&p.cards.valid.chain, &only_root, now)
        .unwrap_err();
    assert_eq!(e.code(), "idcard.revocation_unknown");
    // The constrained CA (not configured, so no CRL of it can be installed) cannot vouch for a
    // card, even a card inside its name constraints, under chain revocation.
    let e = v
        .validate(&p.cards.name_constraint_violation.chain, &only_root, now)
        .unwrap_err();
    assert!(
        ["idcard.name_constraints", "idcard.revocation_unknown"].contains(&e.code()),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The forwarded-certificate header and the trusted-proxy ranges.

#[test]
fn proxy_ranges_at_their_edges() {
    use gateway::config::ProxyRange;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let r = |s: &str| ProxyRange::parse(s).unwrap_or_else(|| panic!("{s}"));
    // An IPv4-mapped peer is its IPv4 address; an IPv4-compatible (deprecated) one is not.
    assert!(r("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
    assert!(!r("127.0.0.1").contains(ip("::127.0.0.1")));
    assert!(!r("0.0.0.1").contains(ip("::1")));
    // /32 and /128 are exact; /0 is per family.
    assert!(!r("10.0.0.5/32").contains(ip("10.0.0.4")));
    assert!(!r("fd00::1/128").contains(ip("fd00::2")));
    assert!(!r("::/0").contains(ip("10.0.0.1")));
    assert!(!r("::/0").contains(ip("::ffff:10.0.0.1")));
    assert!(!r("0.0.0.0/0").contains(ip("fd00::1")));
    // Host bits in the network address are masked, not a wider range.
    assert!(r("10.0.0.5/31").contains(ip("10.0.0.4")));
    assert!(!r("10.0.0.5/31").contains(ip("10.0.0.6")));
    // Not addresses.
    for bad in [
        "10.0.0.1/-1",
        "10.0.0.1/256",
        "10.0.0.1 /8",
        "10.0.0.1/8/8",
        "fe80::1%eth0",
        "localhost",
        "10.0.0",
        "::/129",
        "0x0a000001",
    ] {
        assert!(ProxyRange::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn parse_forwarded_refuses_hostile_values_quickly_and_without_panicking() {
    use gateway::upstream::idcard::parse_forwarded;
    use idp_adapters::idcard::CardError;
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let started = Instant::now();
    let many_markers = format!("{begin}{end}").repeat(2000);
    let nested = format!("{begin}{begin}AAAA{end}{end}");
    let percent_nul = "%00".repeat(20_000);
    let big_b64 = "A".repeat(60_000);
    let values: Vec<String> = vec![
        many_markers,
        nested,
        percent_nul,
        big_b64,
        format!("{begin}\u{00e4}{end}"),
        format!("{begin}"),
        "%2".into(),
        "%".into(),
        "%ZZ".into(),
        "\u{feff}".into(),
        "-----BEGIN CERTIFICATE".into(),
        "=====".into(),
    ];
    for v in &values {
        match parse_forwarded(v) {
            // Whatever parses is a list of at most 5 blobs of at most 16 KiB each, for the
            // validator to refuse.
            Ok(chain) => {
                assert!(
                    chain.len() <= idp_adapters::idcard::MAX_CHAIN_LEN,
                    "{}",
                    v.len()
                );
                assert!(chain
                    .iter()
                    .all(|c| c.len() <= idp_adapters::idcard::MAX_CERT_BYTES));
            }
            Err(
                CardError::Malformed
                | CardError::ChainTooLong { .. }
                | CardError::CertificateTooLarge { .. },
            ) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// One raw HTTP/1.1 request to the plain listener; the response head and body.
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn location_of(response: &str) -> Option<String> {
    response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))
        .map(|l| l[9..].trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_sending_the_header_twice_in_any_case_is_refused() {
    let w = world(Setup {
        tls: false,
        trusted_proxies: vec!["127.0.0.1"],
        python_sp: false,
        ..Setup::tls()
    })
    .await;
    let pem: String = pki()
        .cards
        .valid
        .chain
        .iter()
        .map(|d| certs::Certificate::from_der(d).unwrap().to_pem())
        .collect();
    let escaped =
        percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    let rsa_pem: String = pki()
        .cards
        .valid_rsa
        .chain
        .iter()
        .map(|d| certs::Certificate::from_der(d).unwrap().to_pem())
        .collect();
    let rsa_escaped =
        percent_encoding::utf8_percent_encode(&rsa_pem, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    for (first, second) in [
        ("X-SSL-Client-Cert", "x-ssl-client-cert"),
        ("x-SSL-client-CERT", "X-SSL-CLIENT-CERT"),
        ("X-SSL-Client-Cert", "X-SSL-Client-Cert"),
    ] {
        let b = Browser::new();
        let (_, selection) = w.start_sp(&b).await;
        let url = w.pick_idcard(&b, &selection).await;
        let path = &url[url.find("/idcard/").unwrap()..];
        let response = raw_request(
            w.card_addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\n{first}: {escaped}\r\n{second}: {rsa_escaped}\r\nConnection: close\r\n\r\n",
                w.card_addr
            ),
        )
        .await;
        // Each value alone is a valid chain: only their being two makes it malformed.
        let refused = raw_page(&response);
        assert!(refused.location.is_none(), "{response}");
        assert_refused(
            &refused,
            403,
            "idcard.malformed",
            &format!("{first}/{second}"),
        );
        // Nothing was captured: the callback finds no chain.
        let page = b
            .get(&format!(
                "{}/login/idcard/callback?state={}",
                w.base,
                state_of(&url)
            ))
            .await;
        assert_refused(&page, 400, "idcard.not_captured", "after a refused capture");
    }
    w.gw.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The listener over TLS.

/// The TLS listener, no trusted proxy on loopback, only the crafted Rust SP.
fn tls_world() -> Setup {
    Setup {
        python_sp: false,
        ..Setup::tls()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_five_certificates_in_the_handshake_are_refused_at_the_callback() {
    let w = world(tls_world()).await;
    let p = pki();
    let card = &p.cards.valid;
    let mut chain = card.chain.clone();
    while chain.len() <= idp_adapters::idcard::MAX_CHAIN_LEN {
        chain.push(p.intermediate.cert_der.clone());
    }
    let b = Browser::new();
    let (_, selection) = w.start_sp(&b).await;
    let url = w.pick_idcard(&b, &selection).await;
    let (status, loc, body) = w
        .at_listener(&w.chain_client(Some((&card.key_pem, &chain))), &url, None)
        .await;
    assert_eq!(status, 303, "{body}");
    let page = b.get(&loc.unwrap()).await;
    assert_refused(&page, 403, "idcard.chain_too_long", "six certificates");
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_racing_for_one_state_log_in_once() {
    let w = world(tls_world()).await;
    let b = Browser::new();
    let (request_id, selection) = w.start_sp(&b).await;
    let url = w.pick_idcard(&b, &selection).await;
    let mine = w.card_client(Some(&pki().cards.valid));
    let other = w.card_client(Some(&pki().cards.valid_rsa));
    // The listener keeps nothing: each presentation gets its own sealed capture.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = if i % 2 == 0 {
            mine.clone()
        } else {
            other.clone()
        };
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 303);
            r.headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap()
        }));
    }
    let mut locations = Vec::new();
    for t in tasks {
        locations.push(t.await.unwrap());
    }
    // The browser that holds the flow brings all eight back at once: the state is used once.
    let mut tasks = Vec::new();
    for loc in locations {
        let b = b.clone();
        tasks.push(tokio::spawn(async move { b.get(&loc).await }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let page = t.await.unwrap();
        if page.has_saml_response() {
            won.push(page);
        } else {
            assert_refused(
                &page,
                400,
                "gateway.flow_not_found",
                "a second use of the state",
            );
        }
    }
    assert_eq!(won.len(), 1, "exactly one login per state");
    let v = w.validate_rust(&request_id, &won[0]);
    let satu = attribute(&v, OID_SATU).unwrap();
    assert!(satu == pki().cards.valid.satu || satu == pki().cards.valid_rsa.satu);
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_does_not_log_in_on_an_error_answer_or_a_doubled_state() {
    let w = world(tls_world()).await;
    let b = Browser::new();
    let (_, selection) = w.start_sp(&b).await;
    let url = w.pick_idcard(&b, &selection).await;
    let state = state_of(&url);
    let (_, loc, _) = w
        .at_listener(&w.card_client(Some(&pki().cards.valid)), &url, None)
        .await;
    assert!(!loc.unwrap().contains("error="));
    // A doubled state is a bad request, and uses nothing up.
    let page = b
        .get(&format!(
            "{}/login/idcard/callback?state={state}&state={state}",
            w.base
        ))
        .await;
    assert_refused(&page, 400, "gateway.bad_form", "a doubled state");
    // The browser claims "no certificate" although one was captured: no login, back to the
    // selection with the flow kept, and the capture is gone with the state.
    let page = b
        .get(&format!(
            "{}/login/idcard/callback?state={state}&error=no_certificate",
            w.base
        ))
        .await;
    assert!(!page.has_saml_response());
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page
        .location
        .as_deref()
        .unwrap()
        .contains("notice=no_certificate"));
    let again = b
        .get(&format!("{}/login/idcard/callback?state={state}", w.base))
        .await;
    assert_refused(&again, 400, "gateway.flow_not_found", "the used state");
    // Another error value ends the flow without a login.
    let selection = b.follow(page).await;
    assert_eq!(selection.status, 200, "{}", selection.body);
    let url = w.pick_idcard(&b, &selection).await;
    let (_, loc, _) = w
        .at_listener(&w.card_client(Some(&pki().cards.valid)), &url, None)
        .await;
    let page = b
        .get(&format!("{}&error=access_denied", loc.unwrap()))
        .await;
    assert_refused(&page, 400, "invalid_field", "error=access_denied");
    // The flow is over: its selection page is gone.
    let gone = b.get(&selection.url).await;
    assert_refused(&gone, 400, "gateway.flow_not_found", "the ended flow");
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_redirects_only_to_the_gateway_and_reflects_nothing() {
    let w = world(tls_world()).await;
    let client = w.card_client(Some(&pki().cards.valid));
    // A live state, with a hostile Host header and language: the Location is the gateway's.
    let b = Browser::new();
    let (_, selection) = w.start_sp(&b).await;
    let url = w.pick_idcard(&b, &selection).await;
    let resp = client
        .get(format!("{url}&lang=%22%3E%3Cscript%3E"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .unwrap();
    // A doubled `lang` or an unknown one is not an error, but never the redirect target.
    let status = resp.status().as_u16();
    let loc = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    assert!(
        loc.starts_with(&format!("{}/login/idcard/callback?state=", w.base)),
        "{loc}"
    );
    assert!(!loc.contains("evil") && !loc.contains("script"), "{loc}");
    // Unknown, empty, doubled, oversized and hostile states: a 4xx page that echoes nothing.
    let marker = "zq9x";
    for (query, code) in [
        (
            format!("state={marker}%3Cscript%3E"),
            "gateway.flow_not_found",
        ),
        (
            format!("state={marker}%0d%0aSet-Cookie:%20a=b"),
            "gateway.flow_not_found",
        ),
        (format!("state=a&state={marker}"), "gateway.bad_form"),
        ("state=".to_owned(), "gateway.flow_not_found"),
        (
            format!("state={}{marker}", "A".repeat(300)),
            "gateway.flow_not_found",
        ),
        (
            format!("state={}{marker}", "A".repeat(2000)),
            "gateway.bad_form",
        ),
        (
            format!("state=https://evil.example/{marker}"),
            "gateway.flow_not_found",
        ),
    ] {
        let page = w
            .listener_page(
                &client,
                &format!("{}/idcard/login?{query}", w.listener),
                None,
            )
            .await;
        assert_refused(&page, 400, code, &query);
        let (loc, body) = (page.location, page.body);
        assert!(loc.is_none(), "{query}: {loc:?}");
        assert!(!body.contains(marker), "{query}: {body}");
        for internal in ["idcert:", "flow:", "sqlite", "panicked", "/work/", "Store"] {
            assert!(!body.contains(internal), "{query}: {internal} in {body}");
        }
    }
    w.gw.stop().await;
}

/// The certificate listener's TLS handshake timeout (`TLS_HANDSHAKE_TIMEOUT` in
/// gateway/src/upstream/idcard.rs).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The certificate listener's header read timeout (its hyper builder's `header_read_timeout`),
/// which also ends an idle keep-alive connection.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How late a closing may come after its timeout on a loaded 2-core machine.
const LATE: Duration = Duration::from_secs(3);

/// A connection was closed after `timeout` (measured from a point before the server's timer
/// could start) and not much later.
fn assert_closed_at(held: Duration, timeout: Duration, what: &str) {
    assert!(
        held >= timeout,
        "{what}: closed after {held:?}, before the {timeout:?} timeout"
    );
    assert!(
        held < timeout + LATE,
        "{what}: closed after {held:?}, long after the {timeout:?} timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_at_the_handshake_and_header_timeouts() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world(tls_world()).await;
    // Silent after connecting (no ClientHello): closed by the TLS handshake timeout.
    let silent = async {
        let started = Instant::now();
        let mut s = tokio::net::TcpStream::connect(w.card_addr).await.unwrap();
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
        assert!(r.is_ok(), "still open after 20 s");
        started.elapsed()
    };
    // Half a ClientHello, then nothing.
    let half_hello = async {
        let started = Instant::now();
        let mut s = tokio::net::TcpStream::connect(w.card_addr).await.unwrap();
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
        assert!(r.is_ok(), "still open after 20 s");
        started.elapsed()
    };
    let (a, b) = tokio::join!(silent, half_hello);
    assert_closed_at(a, HANDSHAKE_TIMEOUT, "no ClientHello");
    assert_closed_at(b, HANDSHAKE_TIMEOUT, "half a ClientHello");
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_keep_alive_are_cut_off_on_the_plain_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world(Setup {
        tls: false,
        trusted_proxies: vec!["127.0.0.1"],
        python_sp: false,
        ..Setup::tls()
    })
    .await;
    // One header byte a second: closed by the header read timeout, not kept open forever.
    let trickle = async {
        let started = Instant::now();
        let mut s = tokio::net::TcpStream::connect(w.card_addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if s.write_all(b"X").await.is_err() {
                break;
            }
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => break,
                Err(_) => {}
            }
        }
        started.elapsed()
    };
    // A finished request on a keep-alive connection, then silence.
    let idle = async {
        // Taken before the request: the server's idle timer starts after it has answered.
        let started = Instant::now();
        let mut s = tokio::net::TcpStream::connect(w.card_addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        let r = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
        assert!(
            r.is_ok(),
            "an idle keep-alive connection is still open after 20 s"
        );
        started.elapsed()
    };
    let (t, i) = tokio::join!(trickle, idle);
    // The trickle notices the close at its next byte, up to a second later.
    assert_closed_at(t, HEADER_TIMEOUT, "a header trickled a byte a second");
    assert_closed_at(i, HEADER_TIMEOUT, "an idle keep-alive connection");
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_personal_reaches_the_log_on_success_or_refusal() {
    let w = world(tls_world()).await;
    let p = pki();
    for (card, refusal) in [
        (&p.cards.valid, None),
        (&p.cards.unmapped, Some("idcard.not_mapped")),
        (&p.cards.revoked, Some("idcard.revoked")),
    ] {
        let b = Browser::new();
        let (_, selection) = w.start_sp(&b).await;
        let url = w.pick_idcard(&b, &selection).await;
        let (_, loc, _) = w.at_listener(&w.card_client(Some(card)), &url, None).await;
        let page = b.get(&loc.unwrap()).await;
        // The log below is read after these happened: a login, and two refusals.
        match refusal {
            None => {
                gateway_log::assert_login_audited(&page, &w.crafted.entity_id, "idcard");
            }
            Some(code) => assert_refused(&page, 403, code, card.name),
        }
    }
    // A handshake that fails is logged at DEBUG: the log read below has that level too.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(w.card_addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let _ = s.read_to_end(&mut Vec::new()).await;
    }
    tokio::task::spawn_blocking(|| {
        gateway_log::wait_for_line("at DEBUG from the certificate listener", |l| {
            l.contains(" DEBUG ")
                && l.contains("TLS handshake failed")
                && l.contains("listener=\"certificate\"")
        })
    })
    .await
    .unwrap();
    let logs = gateway_log::lines().join("\n");
    use base64::Engine as _;
    for card in [&p.cards.valid, &p.cards.unmapped, &p.cards.revoked] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&card.chain[0]);
        for secret in [
            card.satu.as_str(),
            card.given_name.as_str(),
            card.surname.as_str(),
            &b64[40..80],
        ] {
            assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
        }
    }
    assert!(!logs.contains(VALID_HETU));
    w.gw.stop().await;
}

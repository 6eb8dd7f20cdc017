//! Hostile AuthnRequests against a real gateway. Each case is built twice by the same builder:
//! with its one hostile difference, it is refused with an error page of the expected status, an
//! error ID and an audit line naming the expected refusal code, and no SAML Response; without it,
//! it is accepted (the browser is sent on to the selection page). So each refusal is for the
//! reason the case names, and a 500 or any other refusal fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use tests::browser::{Browser, Page};
use tests::gateway_log;
use tests::harness::{self, through_testbank, LoopbackListener, TestGateway, PERSON};
use tests::testsp::{RequestOptions, TestSp};

struct Env {
    gw: TestGateway,
    /// Requires signed requests (its metadata says AuthnRequestsSigned).
    signed_sp: TestSp,
    /// Does not require signatures.
    open_sp: TestSp,
    base: String,
    dir: tempfile::TempDir,
}

async fn env() -> Env {
    gateway_log::capture();
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let signed_sp = TestSp::new("signed", &base, true);
    let open_sp = TestSp::new("open", &base, false);
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        signed_sp.write_metadata(dir.path()),
        open_sp.write_metadata(dir.path()),
    ];
    let gw = harness::start(files, Some(listener)).await;
    Env {
        gw,
        signed_sp,
        open_sp,
        base,
        dir,
    }
}

/// A request as the browser sends it to the SSO endpoint.
enum Sent {
    Get(String),
    Post(Vec<(String, String)>),
    RawPost(Vec<u8>),
}

async fn send(b: &Browser, sso: &str, sent: &Sent) -> Page {
    match sent {
        Sent::Get(url) => b.get(url).await,
        Sent::Post(fields) => b.post_form(sso, fields).await,
        Sent::RawPost(body) => b.post_raw(sso, body.clone()).await,
    }
}

/// `build(true)` is refused with `status` and `code`; `build(false)`, the same request without
/// its hostile difference, is accepted. Each call builds a fresh request (a fresh ID).
async fn refused_and_control_accepted(
    e: &Env,
    what: &str,
    status: u16,
    code: &str,
    build: impl Fn(bool) -> Sent,
) {
    let b = Browser::new();
    let sso = e.gw.sso_url();
    assert_refused(&send(&b, &sso, &build(true)).await, status, code, what);
    assert_accepted(&send(&b, &sso, &build(false)).await, what);
}

fn assert_refused(p: &Page, status: u16, code: &str, what: &str) {
    assert_eq!(p.status, status, "{what}: {}", p.body);
    assert!(
        p.location.is_none(),
        "{what}: redirected to {:?}",
        p.location
    );
    gateway_log::assert_audited_refusal(p, code, what);
}

/// Accepted: sent on to the selection page (no SSO session in these browsers).
fn assert_accepted(p: &Page, what: &str) {
    assert_eq!(
        p.status, 303,
        "{what}, control without the hostile difference: {}",
        p.body
    );
    assert!(
        p.location.as_deref().is_some_and(|l| l.contains("/login")),
        "{what}, control: {:?}",
        p.location
    );
}

#[tokio::test]
async fn acs_must_be_registered_exactly() {
    let e = env().await;
    let sso = e.gw.sso_url();
    let sp = &e.open_sp;
    let acs = sp.acs_url.clone();
    let lookalikes = [
        format!("{}/open/evil", e.base),
        format!("{acs}/"),
        format!("{acs}x"),
        acs[..acs.len() - 1].to_owned(),
        format!("{acs}?next=x"),
        format!("{acs}#frag"),
        format!("{}/open/x/../acs", e.base),
        format!("{}/open/%61cs", e.base),
        acs.replace("127.0.0.1", "127.0.0.1.evil.example"),
        acs.replace("http://", "http://evil@"),
        acs.replace("http://", "HTTP://"),
        format!("https://evil.example/{acs}"),
    ];
    for url in &lookalikes {
        assert_ne!(url, &acs);
        refused_and_control_accepted(&e, url, 400, "acs.unknown_url", |hostile| {
            let opts = RequestOptions {
                acs_url: Some(if hostile { url } else { &acs }),
                ..Default::default()
            };
            let (xml, _) = sp.request_xml(&sso, &opts);
            Sent::Get(sp.redirect_url(&sso, &xml, None, false))
        })
        .await;
    }
    // 7 is not registered; 9 is registered with the Artifact binding, which we do not answer on.
    // The control asks for the registered second HTTP-POST ACS, index 1.
    for (index, code) in [(7u16, "acs.unknown_index"), (9, "acs.unsupported_binding")] {
        refused_and_control_accepted(&e, &format!("index {index}"), 400, code, |hostile| {
            let opts = RequestOptions {
                acs_index: Some(if hostile { index } else { 1 }),
                ..Default::default()
            };
            let (xml, _) = sp.request_xml(&sso, &opts);
            Sent::Get(sp.redirect_url(&sso, &xml, None, false))
        })
        .await;
    }
    refused_and_control_accepted(
        &e,
        "Redirect ProtocolBinding",
        400,
        "acs.unsupported_binding",
        |hostile| {
            let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
            let post = format!("ProtocolBinding=\"{}\"", saml::BINDING_POST);
            assert!(xml.contains(&post), "{xml}");
            let xml = if hostile {
                xml.replace(
                    &post,
                    &format!("ProtocolBinding=\"{}\"", saml::BINDING_REDIRECT),
                )
            } else {
                xml
            };
            Sent::Get(sp.redirect_url(&sso, &xml, None, false))
        },
    )
    .await;
}

#[tokio::test]
async fn unknown_issuer_is_refused() {
    let e = env().await;
    let sso = e.gw.sso_url();
    let sp = &e.open_sp;
    refused_and_control_accepted(
        &e,
        "unknown issuer",
        403,
        "saml.unknown_issuer",
        |hostile| {
            let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
            let registered = format!(">{}</saml:Issuer>", sp.entity_id);
            assert_eq!(xml.matches(&sp.entity_id).count(), 1, "{xml}");
            assert!(xml.contains(&registered), "{xml}");
            let xml = if hostile {
                xml.replace(&registered, ">https://stranger.sp.example/sp</saml:Issuer>")
            } else {
                xml
            };
            Sent::Get(sp.redirect_url(&sso, &xml, None, false))
        },
    )
    .await;
}

#[tokio::test]
async fn signatures_are_required_and_checked() {
    let e = env().await;
    let sso = e.gw.sso_url();
    let sp = &e.signed_sp;
    let fresh = || sp.request_xml(&sso, &RequestOptions::default()).0;
    refused_and_control_accepted(
        &e,
        "unsigned Redirect",
        400,
        "saml.signature_missing",
        |hostile| Sent::Get(sp.redirect_url(&sso, &fresh(), None, !hostile)),
    )
    .await;
    refused_and_control_accepted(
        &e,
        "unsigned POST",
        400,
        "saml.signature_missing",
        |hostile| Sent::Post(sp.post_fields(&fresh(), None, !hostile)),
    )
    .await;

    // Signed by a key that is not in the SP's metadata (same entity ID, the attacker's key).
    let mut impostor = TestSp::new("signed", &e.base, true);
    impostor.entity_id = sp.entity_id.clone();
    let signer = |hostile: bool| if hostile { &impostor } else { sp };
    refused_and_control_accepted(
        &e,
        "Redirect signed by a wrong key",
        400,
        "saml.signature_rejected",
        |hostile| Sent::Get(signer(hostile).redirect_url(&sso, &fresh(), None, true)),
    )
    .await;
    // The attacker's POST signature carries the attacker's certificate in KeyInfo; the control's
    // carries the registered one.
    refused_and_control_accepted(
        &e,
        "POST signed with a KeyInfo certificate",
        400,
        "saml.signature_rejected",
        |hostile| {
            let fields = signer(hostile).post_fields(&fresh(), None, true);
            let signed_xml = saml::binding::decode_post(&fields[0].1, &Default::default()).unwrap();
            assert!(signed_xml.contains(&signer(hostile).identity.cert.to_base64()));
            Sent::Post(fields)
        },
    )
    .await;

    // SHA-1: a correct RSA-SHA1 signature over the query octets by the registered key, so that
    // only the algorithm is wrong; the control is signed by the same code with SHA-256.
    let key_pem = e.dir.path().join("signed-sp.key");
    std::fs::write(&key_pem, sp.identity.key.to_pkcs8_pem().unwrap()).unwrap();
    let cert_pem = e.dir.path().join("signed-sp.crt");
    std::fs::write(&cert_pem, sp.identity.cert.to_pem()).unwrap();
    refused_and_control_accepted(&e, "RSA-SHA1 Redirect", 400, "saml.algorithm", |hostile| {
        let digest = if hostile {
            Digest::Sha1
        } else {
            Digest::Sha256
        };
        let xml = fresh();
        let url = redirect_signed_by_openssl(&sso, &xml, Some("rs"), digest, &key_pem, &cert_pem);
        if !hostile {
            // The openssl-built URL is byte for byte what the SP's own encoder makes.
            assert_eq!(url, sp.redirect_url(&sso, &xml, Some("rs"), true));
        }
        Sent::Get(url)
    })
    .await;

    refused_and_control_accepted(
        &e,
        "RelayState changed after signing",
        400,
        "saml.signature_rejected",
        |hostile| {
            let url = sp.redirect_url(&sso, &fresh(), Some("original"), true);
            assert!(url.contains("RelayState=original&"));
            Sent::Get(if hostile {
                url.replace("RelayState=original&", "RelayState=changed&")
            } else {
                url
            })
        },
    )
    .await;
}

#[derive(Clone, Copy)]
enum Digest {
    Sha1,
    Sha256,
}

impl Digest {
    fn sig_alg(self) -> &'static str {
        match self {
            Digest::Sha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            Digest::Sha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        }
    }
    fn openssl(self) -> &'static str {
        match self {
            Digest::Sha1 => "-sha1",
            Digest::Sha256 => "-sha256",
        }
    }
}

/// An HTTP-Redirect URL signed as the binding says (RSA PKCS#1 v1.5 over
/// `SAMLRequest=..&RelayState=..&SigAlg=..` as sent), by `openssl dgst`; the signature is checked
/// with `openssl dgst -verify` against the certificate's key before it is used.
fn redirect_signed_by_openssl(
    sso: &str,
    xml: &str,
    relay_state: Option<&str>,
    digest: Digest,
    key_pem: &Path,
    cert_pem: &Path,
) -> String {
    let unsigned = saml::binding::encode_redirect(
        sso,
        xml,
        saml::binding::MessageParam::SamlRequest,
        relay_state,
        None,
    )
    .unwrap();
    let (endpoint, query) = unsigned.split_once('?').unwrap();
    let octets = format!(
        "{query}&SigAlg={}",
        saml::binding::form_encode(digest.sig_alg())
    );
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("octets");
    std::fs::write(&data, &octets).unwrap();
    let sig_file = work.path().join("sig");
    openssl(&[
        "dgst",
        digest.openssl(),
        "-sign",
        path(key_pem),
        "-out",
        path(&sig_file),
        path(&data),
    ]);
    let pubkey = work.path().join("pub.pem");
    let out = openssl(&["x509", "-pubkey", "-noout", "-in", path(cert_pem)]);
    std::fs::write(&pubkey, out).unwrap();
    let verified = openssl(&[
        "dgst",
        digest.openssl(),
        "-verify",
        path(&pubkey),
        "-signature",
        path(&sig_file),
        path(&data),
    ]);
    assert_eq!(verified.trim(), "Verified OK");
    use base64::Engine;
    let sig = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&sig_file).unwrap());
    format!(
        "{endpoint}?{octets}&Signature={}",
        saml::binding::form_encode(&sig)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn wrapped_signed_post_request_is_refused() {
    let e = env().await;
    let sso = e.gw.sso_url();
    let sp = &e.signed_sp;
    let genuine = || {
        let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
        let fields = sp.post_fields(&xml, None, true);
        saml::binding::decode_post(&fields[0].1, &Default::default()).unwrap()
    };
    let forged_acs = &sp.extra_acs[0];
    let head = || {
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged{n}" Version="2.0" IssueInstant="{now}" Destination="{sso}" AssertionConsumerServiceURL="{forged_acs}"><saml:Issuer>{issuer}</saml:Issuer>"#,
            n = certs::random_id(&certs::SystemRandomSource).unwrap(),
            now = saml::time_fmt::format(time::OffsetDateTime::now_utc()),
            issuer = sp.entity_id,
        )
    };
    let post = |xml: &str| {
        Sent::Post(vec![(
            "SAMLRequest".to_owned(),
            saml::binding::encode_post(xml),
        )])
    };
    // The signed request inside an unsigned forged root.
    refused_and_control_accepted(
        &e,
        "wrapped signed request",
        400,
        "saml.signature_missing",
        |hostile| {
            let genuine = genuine();
            if hostile {
                post(&format!(
                    "{}<samlp:Extensions>{genuine}</samlp:Extensions></samlp:AuthnRequest>",
                    head()
                ))
            } else {
                post(&genuine)
            }
        },
    )
    .await;
    // The genuine Signature hoisted into the forged root, the signed request kept inside.
    refused_and_control_accepted(&e, "hoisted signature", 400, "saml.reference", |hostile| {
        let genuine = genuine();
        if !hostile {
            return post(&genuine);
        }
        let s = genuine.find("<ds:Signature").unwrap();
        let t = genuine.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        post(&format!(
            "{}{}<samlp:Extensions>{}{}</samlp:Extensions></samlp:AuthnRequest>",
            head(),
            &genuine[s..t],
            &genuine[..s],
            &genuine[t..]
        ))
    })
    .await;
}

#[tokio::test]
async fn doctype_entities_bombs_and_oversize_are_refused() {
    let e = env().await;
    let sso = e.gw.sso_url();
    let sp = &e.open_sp;
    let fresh = || sp.request_xml(&sso, &RequestOptions::default()).0;
    let with_dtd = |hostile: bool| {
        let xml = fresh();
        if hostile {
            format!("<!DOCTYPE samlp:AuthnRequest [<!ENTITY x \"y\">]>{xml}")
        } else {
            xml
        }
    };
    refused_and_control_accepted(&e, "DOCTYPE by Redirect", 400, "saml.dtd", |hostile| {
        Sent::Get(sp.redirect_url(&sso, &with_dtd(hostile), None, false))
    })
    .await;
    refused_and_control_accepted(&e, "DOCTYPE by POST", 400, "saml.dtd", |hostile| {
        Sent::Post(sp.post_fields(&with_dtd(hostile), None, false))
    })
    .await;
    // Text inserted into the Issuer: an entity reference, an entity expansion, a comment. The
    // controls insert nothing.
    let in_issuer = |hostile: bool, insert: &str, prolog: &str| {
        let xml = fresh();
        assert!(xml.contains("</saml:Issuer>"));
        let xml = if hostile {
            format!(
                "{prolog}{}",
                xml.replace("</saml:Issuer>", &format!("{insert}</saml:Issuer>"))
            )
        } else {
            xml
        };
        Sent::Post(sp.post_fields(&xml, None, false))
    };
    refused_and_control_accepted(&e, "undeclared entity", 400, "saml.xml", |hostile| {
        in_issuer(hostile, "&x;", "")
    })
    .await;
    refused_and_control_accepted(&e, "entity expansion", 400, "saml.dtd", |hostile| {
        in_issuer(
            hostile,
            "&b;",
            "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>",
        )
    })
    .await;
    refused_and_control_accepted(
        &e,
        "comment in Issuer",
        400,
        "saml.forbidden_node",
        |hostile| in_issuer(hostile, "<!-- x -->", ""),
    )
    .await;

    // DEFLATE bomb: the request followed by 20 MiB of spaces compresses to a few KiB; the
    // control has 1 KiB of spaces.
    refused_and_control_accepted(&e, "DEFLATE bomb", 413, "saml.too_large", |hostile| {
        let padding = if hostile { 20 * 1024 * 1024 } else { 1024 };
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(fresh().as_bytes()).unwrap();
        enc.write_all(&vec![b' '; padding]).unwrap();
        let deflated = enc.finish().unwrap();
        assert!(deflated.len() < 64 * 1024);
        use base64::Engine;
        let q =
            saml::binding::form_encode(&base64::engine::general_purpose::STANDARD.encode(deflated));
        Sent::Get(format!("{sso}?SAMLRequest={q}"))
    })
    .await;

    // A POST body over the 96 KiB limit: a good request and a filler field; the control's filler
    // keeps the body under the limit.
    refused_and_control_accepted(&e, "oversized POST", 413, "saml.too_large", |hostile| {
        let filler = if hostile { 200 * 1024 } else { 64 * 1024 };
        let fields = sp.post_fields(&fresh(), None, false);
        let body = format!(
            "SAMLRequest={}&filler={}",
            saml::binding::form_encode(&fields[0].1),
            "A".repeat(filler)
        );
        assert_eq!(body.len() > 96 * 1024, hostile, "{}", body.len());
        Sent::RawPost(body.into_bytes())
    })
    .await;

    // Garbage and nothing, each against the same good request.
    refused_and_control_accepted(&e, "bad base64", 400, "saml.base64", |hostile| {
        Sent::Get(if hostile {
            format!("{sso}?SAMLRequest=%%%")
        } else {
            sp.redirect_url(&sso, &fresh(), None, false)
        })
    })
    .await;
    refused_and_control_accepted(&e, "no message", 400, "saml.missing", |hostile| {
        Sent::Get(if hostile {
            sso.clone()
        } else {
            sp.redirect_url(&sso, &fresh(), None, false)
        })
    })
    .await;
    refused_and_control_accepted(
        &e,
        "POST without message",
        400,
        "gateway.bad_form",
        |hostile| {
            let mut fields = sp.post_fields(&fresh(), Some("x"), false);
            if hostile {
                fields.retain(|(k, _)| k != "SAMLRequest");
            }
            assert_eq!(fields.len(), if hostile { 1 } else { 2 });
            Sent::Post(fields)
        },
    )
    .await;
}

#[tokio::test]
async fn replayed_and_stale_requests_are_refused() {
    let e = env().await;
    let b = Browser::new();
    let sso = e.gw.sso_url();
    let sp = &e.signed_sp;
    // The first use is the control for the replays. Nothing is recorded for a request until an
    // assertion is issued for it (issue 16): a copy sent before that starts a flow of its own,
    // but only one of the two flows gets an assertion.
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let url = sp.redirect_url(&sso, &xml, None, true);
    let first = b.get(&url).await;
    assert_accepted(&first, "first use");
    let copy = Browser::new();
    let early = copy.get(&url).await;
    assert_accepted(&early, "a copy before any answer");
    let done = through_testbank(&b, first, &[("national_id", PERSON)]).await;
    assert!(done.has_saml_response(), "{}", done.body);
    let late = through_testbank(&copy, early, &[("national_id", PERSON)]).await;
    assert_refused(
        &late,
        400,
        "gateway.replay",
        "the copy's flow, after the answer",
    );
    // Once answered, the request is refused at intake, in any browser.
    assert_refused(
        &b.get(&url).await,
        400,
        "gateway.replay",
        "replayed request ID",
    );
    assert_refused(
        &Browser::new().get(&url).await,
        400,
        "gateway.replay",
        "replayed request ID from another browser",
    );

    let now = time::OffsetDateTime::now_utc;
    let with = |opts: RequestOptions<'_>| {
        let (xml, _) = sp.request_xml(&sso, &opts);
        Sent::Get(sp.redirect_url(&sso, &xml, None, true))
    };
    refused_and_control_accepted(&e, "stale IssueInstant", 400, "saml.stale", |hostile| {
        with(RequestOptions {
            issue_instant: Some(now() - time::Duration::minutes(if hostile { 10 } else { 0 })),
            ..Default::default()
        })
    })
    .await;
    refused_and_control_accepted(&e, "future IssueInstant", 400, "saml.stale", |hostile| {
        with(RequestOptions {
            issue_instant: Some(now() + time::Duration::minutes(if hostile { 10 } else { 0 })),
            ..Default::default()
        })
    })
    .await;
    let elsewhere = "http://127.0.0.1:1/elsewhere";
    refused_and_control_accepted(
        &e,
        "wrong Destination",
        400,
        "saml.destination",
        |hostile| {
            with(RequestOptions {
                destination: Some(if hostile { elsewhere } else { &sso }),
                ..Default::default()
            })
        },
    )
    .await;
}

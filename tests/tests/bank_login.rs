//! Bank login end to end, over real HTTP on loopback: a python3-saml SP sends its AuthnRequest
//! to the gateway (production mode, built from a TOML file), the citizen picks a bank on the
//! selection page, logs in at the stand-in FTN bank (npm `oidc-provider`, `tests/peers/bank.mjs`:
//! signed request objects, PKCE, `private_key_jwt`, encrypted ID tokens), comes back, and the SP
//! validates the SAML Response with the bank's identity attributes.
//!
//! Then the hostile cases: the bank's hostile modes (each its own test), and state tampering
//! done on the callback URL. Each must end in an error page with an error ID, no SAMLResponse,
//! and an audit line carrying that error ID and the reason's code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saml::authn_request::{Comparison, RequestedAuthnContext};
use tests::bank::{self, BankClient, BankOptions, StandInBank};
use tests::browser::{Browser, Page};
use tests::harness;
use tests::peers::{self, AuthnOptions, Binding, PeerSp, Validated};
use tests::testsp::{RequestOptions, TestSp};

const OID_HETU: &str = "urn:oid:1.2.246.21";
const OID_GIVEN: &str = "urn:oid:2.5.4.42";
const OID_SN: &str = "urn:oid:2.5.4.4";
const OID_CN: &str = "urn:oid:2.5.4.3";
const OID_DOB: &str = "urn:oid:1.3.6.1.5.5.7.9.1";
const LOA2: &str = "http://ftn.ficora.fi/2017/loa2";
const LOA3: &str = "http://ftn.ficora.fi/2017/loa3";
/// The stand-in bank's test person `tupas-2`.
const TUPAS2_HETU: &str = "070770-205U";

/// One bank in the gateway's config, and how its stand-in runs.
#[derive(Clone)]
struct BankSpec {
    id: &'static str,
    names: [&'static str; 3],
    mode: Option<&'static str>,
    auto_person: Option<&'static str>,
    alg: &'static str,
    enc: &'static str,
    userinfo: bool,
    /// No bank answers at this issuer.
    down: bool,
}

impl BankSpec {
    fn new(id: &'static str) -> BankSpec {
        BankSpec {
            id,
            names: ["Testipankki", "Testbanken", "Test bank"],
            mode: None,
            auto_person: Some("tupas-2"),
            alg: "RSA-OAEP",
            enc: "A128CBC-HS256",
            userinfo: false,
            down: false,
        }
    }
    fn mode(mut self, m: &'static str) -> Self {
        self.mode = Some(m);
        self
    }
}

struct World {
    _dir: tempfile::TempDir,
    base: String,
    gw: gateway::serve::RunningGateway,
    banks: Vec<Option<StandInBank>>,
    /// python3-saml, the SP that validates every Response.
    sp: PeerSp,
    /// Makes AuthnRequests under the python3-saml SP's name (for what its driver cannot ask:
    /// a RequestedAuthnContext).
    crafted: TestSp,
}

async fn world(specs: &[BankSpec]) -> World {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    bank::capture_logs();
    // The gateway's URL comes first: the banks' client files and the SP name it.
    let addr = harness::reserve_port();
    let base = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (rp_sig, rp_enc) = bank::write_rp_keys(&d);

    let mut banks = Vec::new();
    let mut issuers = Vec::new();
    for spec in specs {
        if spec.down {
            banks.push(None);
            issuers.push(format!("http://{}", harness::reserve_port()));
            continue;
        }
        let client = d.join(format!("bank-{}.json", spec.id));
        BankClient::for_gateway(&base, spec.id, spec.alg, spec.enc).write(&client);
        let (mode, person) = (spec.mode, spec.auto_person);
        let b = tokio::task::spawn_blocking(move || {
            StandInBank::start(
                &client,
                &BankOptions {
                    mode,
                    auto_person: person,
                    verbose: true,
                },
            )
        })
        .await
        .unwrap();
        issuers.push(b.issuer.clone());
        banks.push(Some(b));
    }

    harness::write_idp_files(&d);
    let sp =
        harness::python3_saml_sp(&d, &base, "https://python3-saml.bank-login.example/sp").await;
    let sp_cfg = sp.config.clone();

    let mut toml = format!(
        r#"
[server]
listen = "{addr}"
public_url = "{base}"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
oidc_signing_key = "{sig}"
oidc_encryption_key = "{enc}"
[[service_providers]]
metadata_file = "sp.xml"
release = ["national_id", "given_name", "surname", "common_name", "display_name", "birth_date"]
"#,
        sig = rp_sig.file_name().unwrap().to_str().unwrap(),
        enc = rp_enc.file_name().unwrap().to_str().unwrap(),
    );
    for (spec, issuer) in specs.iter().zip(&issuers) {
        let [fi, sv, en] = spec.names;
        toml.push_str(&format!(
            r#"
[[methods.banks]]
id = "{id}"
display_name = {{ fi = "{fi}", sv = "{sv}", en = "{en}" }}
issuer = "{issuer}"
discovery = true
client_id = "gateway-test"
scope = ["openid", "profile", "personal_identity_code"]
max_loa = "ftn_high"
ftn_spname = "Bank login tests"
id_token_encryption = {{ algs = ["{alg}"], encs = ["{enc}"] }}
userinfo = {userinfo}
timeout_seconds = 10
"#,
            id = spec.id,
            alg = spec.alg,
            enc = spec.enc,
            userinfo = spec.userinfo,
        ));
    }
    let gw = harness::serve_toml(&d, addr, &toml).await;
    // `serve_config` refreshed every bank once: the reachable ones are ready.
    for (spec, h) in specs.iter().zip(&gw.state.banks) {
        assert_eq!(h.id(), spec.id);
        assert_eq!(h.bank.is_ready(), !spec.down, "bank {} refresh", spec.id);
    }
    let crafted = TestSp {
        entity_id: sp_cfg.entity_id.clone(),
        acs_url: sp_cfg.acs_url.clone(),
        ..TestSp::new("crafted", &base, false)
    };
    World {
        _dir: dir,
        base,
        gw,
        banks,
        sp,
        crafted,
    }
}

impl World {
    fn sso(&self) -> String {
        format!("{}/saml/idp/sso", self.base)
    }

    fn bank(&self, i: usize) -> &StandInBank {
        self.banks[i].as_ref().unwrap()
    }

    /// python3-saml's AuthnRequest (Redirect binding) through the browser, up to the selection
    /// page. Returns the request ID and the page.
    async fn start_python(&self, b: &Browser) -> (String, Page) {
        let sp = self.sp.clone();
        let req = tokio::task::spawn_blocking(move || {
            sp.authn(&AuthnOptions {
                binding: Binding::Redirect,
                ..Default::default()
            })
        })
        .await
        .unwrap()
        .unwrap();
        let page = b.get(&req.url).await;
        (req.request_id, self.to_selection(b, page).await)
    }

    /// An AuthnRequest in the python3-saml SP's name asking for FTN loa3 exactly.
    async fn start_loa3(&self, b: &Browser) -> (String, Page) {
        let rac = RequestedAuthnContext {
            comparison: Comparison::Exact,
            class_refs: vec![LOA3.into()],
        };
        let (xml, id) = self.crafted.request_xml(
            &self.sso(),
            &RequestOptions {
                requested: Some(rac),
                ..Default::default()
            },
        );
        let page = b
            .get(&self.crafted.redirect_url(&self.sso(), &xml, None, false))
            .await;
        (id, self.to_selection(b, page).await)
    }

    async fn to_selection(&self, b: &Browser, sso_answer: Page) -> Page {
        assert_eq!(
            sso_answer.status, 303,
            "the SSO endpoint should send the browser to the selection page: {}",
            sso_answer.body
        );
        let selection = b.follow(sso_answer).await;
        assert_eq!(selection.status, 200, "{}", selection.body);
        selection
    }

    /// Pick `bank:<id>` on the selection page; the gateway's answer (a redirect to the bank).
    async fn pick(&self, b: &Browser, selection: &Page, id: &str) -> Page {
        let href = selection
            .method_link(&format!("bank:{id}"))
            .unwrap_or_else(|| panic!("bank:{id} not offered: {}", selection.body));
        let url = url::Url::parse(&selection.url)
            .unwrap()
            .join(&href)
            .unwrap();
        b.get(url.as_str()).await
    }

    /// Selection page -> bank `i` (auto person) -> the callback URL the bank sends back.
    async fn through_bank(&self, b: &Browser, selection: &Page, i: usize, id: &str) -> String {
        let to_bank = self.pick(b, selection, id).await;
        assert_eq!(to_bank.status, 303, "{}", to_bank.body);
        let loc = to_bank.location.clone().unwrap();
        assert!(
            loc.starts_with(&format!("{}/auth?", self.bank(i).issuer)),
            "redirected to the bank's authorization endpoint: {loc}"
        );
        let q = bank::query_pairs(&loc);
        assert!(
            q.iter().any(|(k, _)| k == "request"),
            "a request object: {q:?}"
        );
        let callback = bank::to_callback(b, to_bank, &self.base).await;
        assert!(
            callback.starts_with(&format!("{}/login/bank/{id}/callback?", self.base)),
            "{callback}\n{}",
            self.bank(i).stderr()
        );
        callback
    }

    /// Hand the auto-post page's SAMLResponse to python3-saml.
    async fn validate(&self, request_id: &str, autopost: &Page) -> Result<Validated, String> {
        self.sp.validate_autopost(request_id, autopost).await
    }
}

/// A refusal as the citizen and the operator see it: a 4xx page with an error ID, no
/// SAMLResponse anywhere on it, and an audit line with that error ID and `code`.
fn assert_refused(page: &Page, code: &str, what: &str) -> String {
    assert!(
        (400..500).contains(&page.status),
        "{what}: expected a 4xx error page, got {} {}",
        page.status,
        page.body
    );
    let (id, line) = bank::assert_audited_refusal(page, code, what);
    eprintln!("{what}: {line}");
    id
}

fn assert_tupas2(v: &Validated, class_ref: &str) {
    let one = |oid: &str| v.attributes.get(oid).map(|x| x.join("|"));
    assert_eq!(one(OID_HETU).as_deref(), Some(TUPAS2_HETU), "{v:?}");
    assert_eq!(one(OID_GIVEN).as_deref(), Some("Väinö"), "{v:?}");
    assert_eq!(one(OID_SN).as_deref(), Some("Tunnistus"), "{v:?}");
    assert_eq!(one(OID_DOB).as_deref(), Some("1970-07-07"), "{v:?}");
    assert!(one(OID_CN).is_some_and(|cn| cn.contains("Väinö")), "{v:?}");
    assert_eq!(v.authn_context.as_deref(), Some(class_ref), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python3_saml_sp_receives_the_bank_identity() {
    let w = world(&[BankSpec::new("testpankki")]).await;
    let b = Browser::new();

    // The RP keys the bank reads are published, public only, as JSON.
    let jwks = b.get(&format!("{}/oidc/jwks", w.base)).await;
    assert_eq!(jwks.status, 200);
    assert!(
        jwks.headers["content-type"].starts_with("application/json"),
        "{:?}",
        jwks.headers
    );
    let doc: serde_json::Value = serde_json::from_str(&jwks.body).unwrap();
    let uses: Vec<(&str, &str)> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["use"].as_str().unwrap(), k["alg"].as_str().unwrap()))
        .collect();
    assert_eq!(uses, vec![("sig", "RS256"), ("enc", "RSA-OAEP")]);
    assert!(!jwks.body.contains("\"d\""), "no private members");

    let (request_id, selection) = w.start_python(&b).await;
    assert!(
        selection.body.contains("data-method=\"bank:testpankki\""),
        "{}",
        selection.body
    );
    assert!(selection.body.contains("Testipankki"));
    let callback = w.through_bank(&b, &selection, 0, "testpankki").await;
    let q = bank::query_pairs(&callback);
    let keys: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["code", "state", "iss"], "{callback}");
    let autopost = b.get(&callback).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&request_id, &autopost).await.unwrap();
    // No RequestedAuthnContext: the bank is asked for loa2 and says loa2.
    assert_tupas2(&v, LOA2);

    // The login is audited, with a keyed hash and never the national id.
    let logs = bank::log_lines();
    let login = logs
        .iter()
        .find(|l| {
            l.contains(" audit:") && l.contains("event=\"login\"") && l.contains("bank:testpankki")
        })
        .unwrap_or_else(|| panic!("no login audit line:\n{}", logs.join("\n")));
    assert!(!logs.iter().any(|l| l.contains(TUPAS2_HETU)), "{login}");

    // Single sign-on: the next request is answered from the session, without the bank.
    let sp = w.sp.clone();
    let req = tokio::task::spawn_blocking(move || sp.authn(&AuthnOptions::default()))
        .await
        .unwrap()
        .unwrap();
    let autopost = b.get(&req.url).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&req.request_id, &autopost).await.unwrap();
    assert_tupas2(&v, LOA2);
    w.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loa3_with_rsa_oaep_256_a256gcm_and_encrypted_userinfo() {
    let mut spec = BankSpec::new("pankki256");
    spec.alg = "RSA-OAEP-256";
    spec.enc = "A256GCM";
    spec.userinfo = true;
    let w = world(&[spec]).await;
    let b = Browser::new();
    let doc = b.get(&format!("{}/oidc/jwks", w.base)).await.body;
    assert!(doc.contains("\"RSA-OAEP-256\""), "{doc}");
    let (request_id, selection) = w.start_loa3(&b).await;
    let callback = w.through_bank(&b, &selection, 0, "pankki256").await;
    let autopost = b.get(&callback).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&request_id, &autopost).await.unwrap();
    assert_tupas2(&v, LOA3);
    assert!(
        w.bank(0).stderr().contains("GET /me -> 200"),
        "userinfo was asked: {}",
        w.bank(0).stderr()
    );
}

/// One hostile bank mode: the login ends in a refusal with `code`.
async fn hostile(mode: &'static str, code: &str, loa3: bool, userinfo: bool) -> World {
    let mut spec = BankSpec::new("pankki").mode(mode);
    spec.userinfo = userinfo;
    let w = world(&[spec]).await;
    let b = Browser::new();
    let (_, selection) = if loa3 {
        w.start_loa3(&b).await
    } else {
        w.start_python(&b).await
    };
    let callback = w.through_bank(&b, &selection, 0, "pankki").await;
    let page = b.get(&callback).await;
    assert_refused(&page, code, mode);
    // The flow was consumed before the bank was asked: the same callback finds nothing now.
    let again = b.get(&callback).await;
    assert_refused(&again, "gateway.flow_not_found", mode);
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_signed_id_token_is_refused_where_encryption_is_required() {
    hostile("plain-id-token", "ftn.id_token_not_encrypted", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_id_token_is_refused() {
    hostile("alg-none", "ftn.jws_alg_refused", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_signed_with_the_banks_public_key_is_refused() {
    hostile("hs256-pubkey", "ftn.jws_alg_refused", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_is_refused() {
    let w = hostile("unknown-kid", "ftn.unknown_kid", false, false).await;
    // The bank's keys were fetched at start and once more for the unknown kid, no more.
    w.bank(0).wait_for_log("GET /jwks -> 200", 2);
    // A third fetch, if there were one, would show within this pause.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = w.bank(0).stderr();
    assert_eq!(log.matches("GET /jwks -> 200").count(), 2, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_id_token_is_refused() {
    hostile("expired", "ftn.expired", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_nonce_is_refused() {
    hostile("wrong-nonce", "ftn.nonce_mismatch", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_below_the_requested_level_is_refused() {
    hostile("low-acr", "ftn.acr_too_low", true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_sub_differing_from_the_id_token_is_refused() {
    hostile("userinfo-sub", "ftn.userinfo_sub_mismatch", false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_state_is_refused_and_a_used_state_cannot_be_replayed() {
    let w = world(&[BankSpec::new("pankki")]).await;
    let b = Browser::new();
    let (request_id, selection) = w.start_python(&b).await;
    let callback = w.through_bank(&b, &selection, 0, "pankki").await;
    let q = bank::query_pairs(&callback);

    // No state at all.
    let no_state: Vec<_> = q.iter().filter(|(k, _)| k != "state").cloned().collect();
    let page = b.get(&bank::with_query(&callback, &no_state)).await;
    assert_refused(&page, "state_missing", "missing state");

    // A state the gateway never issued.
    let wrong: Vec<_> = q
        .iter()
        .map(|(k, v)| {
            if k == "state" {
                (k.clone(), format!("{}x", &v[..v.len() - 1]))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let page = b.get(&bank::with_query(&callback, &wrong)).await;
    assert_refused(&page, "gateway.flow_not_found", "wrong state");

    // Guessing wrong did not spoil the real callback.
    let autopost = b.get(&callback).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let v = w.validate(&request_id, &autopost).await.unwrap();
    assert_tupas2(&v, LOA2);

    // The same callback again, after use: the state was taken once.
    let page = b.get(&callback).await;
    assert_refused(&page, "gateway.flow_not_found", "replayed state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_banks_are_offered_and_a_callback_cannot_cross_banks() {
    let mut a = BankSpec::new("pankki-a");
    a.names = ["Pankki Ä", "Banken Å", "Bank A"];
    let mut bb = BankSpec::new("pankki-b");
    bb.names = ["Pankki B", "Banken B", "Bank B"];
    let mut down = BankSpec::new("suljettu");
    down.names = ["Suljettu pankki", "Stängd bank", "Closed bank"];
    down.down = true;
    let w = world(&[a, bb, down]).await;

    // Each bank is a method with its display name, in the citizen's language.
    for (lang, names) in [
        ("fi", ["Pankki Ä", "Pankki B", "Suljettu pankki"]),
        ("sv", ["Banken Å", "Banken B", "Stängd bank"]),
        ("en", ["Bank A", "Bank B", "Closed bank"]),
    ] {
        let mut b = Browser::new();
        b.accept_language = Some(lang.into());
        let (_, selection) = w.start_python(&b).await;
        for (id, name) in ["pankki-a", "pankki-b", "suljettu"].iter().zip(names) {
            let marker = format!("data-method=\"bank:{id}\"");
            let i = selection
                .body
                .find(&marker)
                .unwrap_or_else(|| panic!("{lang}: {marker} missing: {}", selection.body));
            let link_end = i + selection.body[i..].find("</a>").unwrap();
            assert!(
                selection.body[i..link_end].contains(name),
                "{lang}: {id} should read {name:?}: {}",
                &selection.body[i..link_end]
            );
        }
    }

    // A bank that could not be refreshed shows an error page, and keeps being retried.
    let b = Browser::new();
    let (_, selection) = w.start_python(&b).await;
    let page = w.pick(&b, &selection, "suljettu").await;
    assert!(page.status >= 400, "{} {}", page.status, page.body);
    assert!(!page.has_saml_response());
    assert!(bank::error_id(&page).is_some(), "{}", page.body);
    let failed = w.gw.state.refresh_banks().await;
    assert_eq!(failed, vec!["suljettu".to_owned()]);

    // Bank A's answer delivered to bank B's callback: refused, and that flow is over.
    let b = Browser::new();
    let (_, selection) = w.start_python(&b).await;
    let callback_a = w.through_bank(&b, &selection, 0, "pankki-a").await;
    let to_b = callback_a.replace(
        "/login/bank/pankki-a/callback",
        "/login/bank/pankki-b/callback",
    );
    assert_ne!(to_b, callback_a);
    let page = b.get(&to_b).await;
    assert_refused(&page, "flow_mismatch", "callback for bank A at bank B");
    let page = b.get(&callback_a).await;
    assert_refused(
        &page,
        "gateway.flow_not_found",
        "the crossed state was used up",
    );

    // Bank B on its own works, in the same world.
    let (request_id, selection) = w.start_python(&b).await;
    let callback_b = w.through_bank(&b, &selection, 1, "pankki-b").await;
    let autopost = b.get(&callback_b).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    assert_tupas2(&w.validate(&request_id, &autopost).await.unwrap(), LOA2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_at_the_bank_returns_to_the_selection_then_giving_up_is_authn_failed() {
    let mut spec = BankSpec::new("pankki");
    spec.auto_person = None;
    let w = world(&[spec]).await;
    let mut b = Browser::new();
    b.accept_language = Some("sv".into());
    let (request_id, selection) = w.start_python(&b).await;
    let to_bank = w.pick(&b, &selection, "pankki").await;
    assert_eq!(to_bank.status, 303, "{}", to_bank.body);
    // The bank's login page, in the citizen's language (ui_locales in the request object).
    let login = bank::follow(&b, to_bank).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.url.contains("/interaction/"), "{}", login.url);
    assert!(
        login.body.contains("data-person=\"tupas-2\""),
        "{}",
        login.body
    );
    assert!(login.body.contains("lang=\"sv\""), "{}", login.body);
    assert!(
        login.body.contains("Bank login tests"),
        "ftn_spname shown: {}",
        login.body
    );
    let cancelled = b
        .post_form(&login.url, &[("action".to_owned(), "cancel".to_owned())])
        .await;
    let callback = bank::to_callback(&b, cancelled, &w.base).await;
    let q = bank::query_pairs(&callback);
    assert!(
        q.iter().any(|(k, v)| k == "error" && v == "access_denied"),
        "{callback}"
    );
    let back = b.get(&callback).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let notice = b.follow(back).await;
    assert_eq!(notice.status, 200, "{}", notice.body);
    assert!(notice.url.contains("notice=cancelled"), "{}", notice.url);
    assert!(
        notice.body.contains("Identifieringen avbröts"),
        "the notice in Swedish: {}",
        notice.body
    );
    assert!(
        notice.body.contains("data-method=\"bank:pankki\""),
        "the citizen may choose again: {}",
        notice.body
    );
    assert!(!notice.has_saml_response());

    // Giving up: the SP gets AuthnFailed.
    let autopost = b.submit(&notice, None, &[]).await;
    assert_eq!(autopost.status, 200, "{}", autopost.body);
    let (_, xml, _) = autopost.saml_response().unwrap();
    assert!(xml.contains(saml::STATUS_AUTHN_FAILED), "{xml}");
    let refused = w.validate(&request_id, &autopost).await.unwrap_err();
    assert!(refused.contains("AuthnFailed"), "{refused}");
}

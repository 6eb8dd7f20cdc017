//! Login flows live in the browser (issue 16): with the same keys, a flow started on one gateway
//! process completes on another, and survives a restart, with no shared store. Real child
//! processes (`gateway dev` on one data directory, so one IdP key and one flow seal key), one
//! public URL as behind a load balancer, each process on its own port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use tests::browser::Browser;
use tests::devproc::{finish_on, free_port, on, target, validated, DevArgs, DevProcess};
use tests::harness::dev_idp_key_before_start;
use tests::testsp::{RequestOptions, TestSp};

/// A `gateway dev` child on `port` (0: any) with the data of `dir` and `public_url` (None: its
/// own).
fn start(dir: &Path, sp_md: &Path, port: u16, public_url: Option<&str>) -> DevProcess {
    DevProcess::start(DevArgs {
        bin: env!("CARGO_BIN_EXE_gateway-under-test"),
        dir,
        sp_metadata: sp_md,
        port,
        public_url,
        extra: &[],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_process_completes_on_another_and_survives_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let (idp, _) = dev_idp_key_before_start(d.path());
    let sp = TestSp::new("procs", "https://sp.example", false);
    let md = sp.write_metadata(d.path());
    let a = start(d.path(), &md, 0, None);
    let public = a.base();
    let b_port = free_port();
    let b_gw = start(d.path(), &md, b_port, Some(&public));
    let sso = format!("{public}/saml/idp/sso");

    // Started on A, finished on B.
    let browser = Browser::new();
    let (xml, request_id) = sp.request_xml(&sso, &RequestOptions::default());
    let at_a = browser.get(&sp.redirect_url(&sso, &xml, None, false)).await;
    assert_eq!(at_a.status, 303, "{}", at_a.body);
    let selection = browser.get(&on(&b_gw, &target(&sso, &at_a))).await;
    let done = finish_on(&browser, &selection).await;
    validated(&sp, &done, &request_id, &public, &idp.cert);

    // Started on B, B restarted (a new process, same port), finished on it.
    let browser = Browser::new();
    let (xml, request_id) = sp.request_xml(&sso, &RequestOptions::default());
    let at_b = browser
        .get(&on(&b_gw, &sp.redirect_url(&sso, &xml, None, false)))
        .await;
    assert_eq!(at_b.status, 303, "{}", at_b.body);
    let selection_url = on(&b_gw, &target(&sso, &at_b));
    drop(b_gw);
    let _b_again = start(d.path(), &md, b_port, Some(&public));
    let selection = browser.get(&selection_url).await;
    let done = finish_on(&browser, &selection).await;
    validated(&sp, &done, &request_id, &public, &idp.cert);

    // Control: a process with another data directory (another seal key) cannot open the flow.
    let other = tempfile::tempdir().unwrap();
    dev_idp_key_before_start(other.path());
    let stranger = start(other.path(), &md, 0, Some(&public));
    let browser = Browser::new();
    let (xml, _) = sp.request_xml(&sso, &RequestOptions::default());
    let at_a = browser.get(&sp.redirect_url(&sso, &xml, None, false)).await;
    let selection = browser.get(&on(&stranger, &target(&sso, &at_a))).await;
    assert_eq!(selection.status, 400, "{}", selection.body);
    let log = stranger.log();
    assert!(
        log.contains("seal.unknown_key") || log.contains("seal.tampered"),
        "{log}"
    );
}

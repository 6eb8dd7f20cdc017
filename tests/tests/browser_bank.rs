//! A real browser (Debian's Chromium, headless) logs in with a bank: the demo SP, the method
//! selection, the stand-in FTN bank's own login page, and back to the demo SP with the bank's
//! identity attributes shown. The gateway runs in dev mode with `--bank testpankki=<issuer>`.
//! Screenshots of each page are saved under `test-artifacts/browser/bank/` (emptied first) and
//! checked by the heading the page showed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tests::bank::{BankClient, BankOptions, StandInBank, TUPAS2_HETU};
use tests::browser::screenshots;
use tests::harness::{self, LoopbackListener};
use tests::peers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_at_the_stand_in_bank() {
    tokio::task::spawn_blocking(peers::ensure_installed)
        .await
        .unwrap();
    let listener = LoopbackListener::bind().await;
    let base = listener.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut client = BankClient::for_gateway(&base, "testpankki", "RSA-OAEP", "A128CBC-HS256");
    client.client_id = gateway::dev::DEV_BANK_CLIENT_ID.into();
    let client_file = dir.path().join("client.json");
    client.write(&client_file);
    let bank = tokio::task::spawn_blocking(move || {
        StandInBank::start(&client_file, &BankOptions::default())
    })
    .await
    .unwrap();
    let gw = harness::start_with_banks(
        tempfile::tempdir().unwrap(),
        Vec::new(),
        Some(listener),
        vec![("testpankki".into(), bank.issuer.clone())],
    )
    .await;

    let artifacts = screenshots::fresh_dir("bank");
    let arg = serde_json::json!({
        "gateway": gw.base(),
        "method": "bank:testpankki",
        "person": "tupas-2",
        "artifacts": artifacts,
    });
    let report =
        tokio::task::spawn_blocking(move || peers::run_browser_script("browser_bank.js", &arg))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("browser script failed: {e}\nbank: {}", bank.stderr()));
    let steps = &report["steps"];
    assert!(
        steps["selection_text"]
            .as_str()
            .unwrap()
            .contains("Pankki testpankki"),
        "{report}"
    );
    assert!(
        steps["bank_url"]
            .as_str()
            .unwrap()
            .starts_with(&bank.issuer),
        "the bank's own page: {report}"
    );
    assert_eq!(steps["demo_result"], "ok", "{report}");
    let text = steps["demo_text"].as_str().unwrap();
    assert!(
        text.contains(TUPAS2_HETU),
        "the bank's national id reached the demo SP: {text}"
    );
    assert!(text.contains("http://ftn.ficora.fi/2017/loa"), "{text}");
    // The demo SP's headings are English only, the gateway's and the bank's Finnish (the browser's
    // locale); the stand-in bank titles its login page like the gateway's test bank, so
    // `bank_url` above is what shows it is the bank's own page.
    for (shot, heading) in [
        ("bank-01-demo-sp.png", "Demo e-service"),
        ("bank-02-method-selection.png", "Valitse tunnistustapa"),
        ("bank-03-bank-login.png", "Testipankki"),
        ("bank-04-demo-sp-logged-in.png", "Demo e-service: logged in"),
    ] {
        screenshots::assert_shows(&artifacts, shot, heading);
    }
}

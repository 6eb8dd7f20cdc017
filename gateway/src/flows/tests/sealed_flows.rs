//! The flows with their state sealed in the browser (issue 16): refusals of a sealed flow, flows
//! across processes, per-kind bounds, tabs, and when single use is recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
#[tokio::test]
async fn a_flow_belongs_to_the_browser_that_holds_it() {
    let w = world();
    let (flow_id, owner) = w.start_flow("_b1").await;
    let (other_id, other) = w.start_flow("_b2").await;
    let no_cookie = Browser::default();

    let mut lang = LanguageChoice::new(None, None);
    for intruder in [&other, &no_cookie] {
        let seen = method_selection(&w.idp, intruder, Some(&flow_id), None, &mut lang).await;
        assert!(matches!(seen, Err(FlowError::FlowNotFound)), "{seen:?}");
        let fields = vec![
            ("flow".to_owned(), flow_id.clone()),
            ("national_id".to_owned(), PERSON.to_owned()),
        ];
        let finished = finish_test_bank(&w.idp, intruder, fields, &mut lang).await;
        assert!(
            matches!(finished, Err(FlowError::FlowNotFound)),
            "{finished:?}"
        );
        let cancelled = cancel(&w.idp, intruder, &[("flow".to_owned(), flow_id.clone())]).await;
        assert!(
            matches!(cancelled, Err(FlowError::FlowNotFound)),
            "{cancelled:?}"
        );
    }
    // The other browser's own sealed flow, presented under the owner's flow ID, does not open.
    let swapped = Browser {
        flows: vec![(flow_id.clone(), other.flows[0].1.clone())],
        ..Browser::default()
    };
    let seen = method_selection(&w.idp, &swapped, Some(&flow_id), None, &mut lang).await;
    assert!(
        matches!(seen, Err(FlowError::Sealed(SealError::Tampered))),
        "{seen:?}"
    );
    assert_ne!(flow_id, other_id);
    // None of it destroyed the owner's flow.
    let done = w.log_in(&owner, &flow_id).await;
    w.sp_checks(autopost(&done), "_b1").unwrap();
}

#[tokio::test]
async fn a_sealed_flow_is_refused_when_altered_expired_or_sealed_with_a_removed_key() {
    let w = world();
    let (flow_id, browser) = w.start_flow("_s1").await;
    let sealed = browser.flows[0].1.clone();
    let with = |value: String| Browser {
        flows: vec![(flow_id.clone(), value)],
        ..Browser::default()
    };
    let mut lang = LanguageChoice::new(None, None);
    let select = |b: Browser| {
        let (w, flow_id) = (&w, flow_id.clone());
        async move {
            let mut lang = LanguageChoice::new(None, None);
            method_selection(&w.idp, &b, Some(&flow_id), None, &mut lang).await
        }
    };
    // One character of the ciphertext changed.
    let mut altered = sealed.clone().into_bytes();
    let i = altered.len() - 5;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let r = select(with(String::from_utf8(altered).unwrap())).await;
    assert!(
        matches!(r, Err(FlowError::Sealed(SealError::Tampered))),
        "{r:?}"
    );
    assert_eq!(
        FlowError::Sealed(SealError::Tampered).code(),
        "seal.tampered"
    );
    // Not a sealed value at all.
    let r = select(with("not sealed!".into())).await;
    assert!(
        matches!(r, Err(FlowError::Sealed(SealError::Malformed(_)))),
        "{r:?}"
    );
    // A process whose ring no longer holds the key the flow was sealed with.
    let rotated = world_with(ROOMY, ring("k2", &["k2"]), w.clock.clone());
    let r = method_selection(&rotated.idp, &browser, Some(&flow_id), None, &mut lang).await;
    assert!(
        matches!(&r, Err(FlowError::Sealed(SealError::UnknownKey { name })) if name == "k1"),
        "{r:?}"
    );
    // Control: a ring that seals with a new key and still holds the old one opens it.
    let overlap = world_with(ROOMY, ring("k2", &["k2", "k1"]), w.clock.clone());
    method_selection(&overlap.idp, &browser, Some(&flow_id), None, &mut lang)
        .await
        .unwrap();
    // The flow's lifetime, to the second.
    w.clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    select(browser.clone()).await.unwrap();
    w.clock.advance(Duration::seconds(1));
    let r = select(browser.clone()).await;
    assert!(
        matches!(r, Err(FlowError::Sealed(SealError::Expired { .. }))),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_flow_started_on_one_process_completes_on_another_with_the_same_keys() {
    let clock = Arc::new(ManualClock::new(NOW));
    let a = world_with(ROOMY, ring("k1", &["k1"]), clock.clone());
    let b = world_with(ROOMY, ring("k1", &["k1"]), clock.clone());
    let (flow_id, browser) = a.start_flow("_x1").await;
    // Through an upstream: started on A, the callback on B.
    let mut lang = LanguageChoice::new(None, None);
    let (state, browser) = b.to_stub_bank(&browser, &flow_id).await;
    let done = upstream_callback(&a.idp, &browser, stub_callback(&state, "ok"), &mut lang)
        .await
        .unwrap();
    a.sp_checks(autopost(&done), "_x1").unwrap();
    assert_eq!(b.sizes(), (0, 0, 0), "B kept nothing");
    // The same callback again on A: the state was used.
    let again = upstream_callback(&a.idp, &browser, stub_callback(&state, "ok"), &mut lang).await;
    assert!(matches!(again, Err(FlowError::FlowNotFound)), "{again:?}");
}

#[tokio::test]
async fn a_full_kind_answers_503_and_the_other_kinds_go_on() {
    // Replay entries full: SSO hits are refused, a new login's flow still starts.
    let w = world_with(
        Capacity { replay: 1, ..ROOMY },
        ring("k1", &["k1"]),
        Arc::new(ManualClock::new(NOW)),
    );
    let browser = with_session(logged_in(&w).await);
    let hit = w.send(&browser, "_h1", Req::default()).await;
    assert!(
        matches!(
            hit.as_ref().map_err(FlowError::cause),
            Err(FlowError::Store(StoreError::Full { kind: "replay", .. }))
        ),
        "{hit:?}"
    );
    flow_of(
        &w.send(&Browser::default(), "_n1", Req::default())
            .await
            .unwrap(),
    );

    // Sessions full: a new login is refused, the live session's SSO hits go on.
    let w = world_with(
        Capacity {
            sessions: 1,
            ..ROOMY
        },
        ring("k1", &["k1"]),
        Arc::new(ManualClock::new(NOW)),
    );
    let browser = with_session(logged_in(&w).await);
    let (flow_id, other) = w.start_flow("_n2").await;
    let mut lang = LanguageChoice::new(None, None);
    let fields = vec![
        ("flow".to_owned(), flow_id.clone()),
        ("national_id".to_owned(), PERSON.to_owned()),
    ];
    let login = finish_test_bank(&w.idp, &other, fields, &mut lang).await;
    assert!(
        matches!(
            login.as_ref().map_err(FlowError::cause),
            Err(FlowError::Store(StoreError::Full {
                kind: "sessions",
                ..
            }))
        ),
        "{login:?}"
    );
    w.sp_checks(
        autopost(&w.send(&browser, "_h2", Req::default()).await.unwrap()),
        "_h2",
    )
    .unwrap();

    // Single-use markers full: an upstream callback is refused, the test bank goes on.
    let w = world_with(
        Capacity {
            single_use: 1,
            ..ROOMY
        },
        ring("k1", &["k1"]),
        Arc::new(ManualClock::new(NOW)),
    );
    let mut states = Vec::new();
    for id in ["_u1", "_u2"] {
        let (flow_id, browser) = w.start_flow(id).await;
        states.push(w.to_stub_bank(&browser, &flow_id).await);
    }
    let first = upstream_callback(
        &w.idp,
        &states[0].1,
        stub_callback(&states[0].0, "ok"),
        &mut lang,
    )
    .await
    .unwrap();
    w.sp_checks(autopost(&first), "_u1").unwrap();
    let second = upstream_callback(
        &w.idp,
        &states[1].1,
        stub_callback(&states[1].0, "ok"),
        &mut lang,
    )
    .await;
    assert!(
        matches!(
            second.as_ref().map_err(FlowError::cause),
            Err(FlowError::Store(StoreError::Full {
                kind: "single_use",
                ..
            }))
        ),
        "{second:?}"
    );
    let (flow_id, browser) = w.start_flow("_u3").await;
    w.sp_checks(autopost(&w.log_in(&browser, &flow_id).await), "_u3")
        .unwrap();
}

#[tokio::test]
async fn two_tabs_log_in_to_two_services_at_once() {
    let w = world();
    let (first_id, browser) = w.start_flow("_t1").await;
    let second = w.send(&browser, "_t2", Req::default()).await.unwrap();
    let second_id = flow_of(&second);
    let browser = after(&browser, &second);
    assert_eq!(browser.flows.len(), 2);
    let done = w.log_in(&browser, &second_id).await;
    w.sp_checks(autopost(&done), "_t2").unwrap();
    let browser = after(&browser, &done);
    // The first tab finishes with the session of the second: a fresh login at the test bank.
    let done = w.log_in(&browser, &first_id).await;
    w.sp_checks(autopost(&done), "_t1").unwrap();
}

#[tokio::test]
async fn a_browser_holds_at_most_a_few_flows() {
    let w = world();
    let mut browser = Browser::default();
    let mut ids = Vec::new();
    for i in 0..MAX_FLOWS_PER_BROWSER + 2 {
        let answer = w
            .send(&browser, &format!("_m{i}"), Req::default())
            .await
            .unwrap();
        ids.push(flow_of(&answer));
        browser = after(&browser, &answer);
        w.clock.advance(Duration::seconds(1));
    }
    assert_eq!(browser.flows.len(), MAX_FLOWS_PER_BROWSER);
    // The oldest went first.
    let held: Vec<_> = browser.flows.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(held, ids[2..].to_vec());
}

#[tokio::test]
async fn a_callback_records_its_state_only_after_the_upstream_verified_it() {
    let w = world();
    let (flow_id, browser) = w.start_flow("_v1").await;
    let mut lang = LanguageChoice::new(None, None);
    let (state, browser) = w.to_stub_bank(&browser, &flow_id).await;
    // Cancelled at the bank: back to the selection, nothing stored, and the attempt retired
    // (the browser's cookie no longer carries its state).
    let mut cancelled = stub_callback(&state, "no");
    cancelled
        .fields
        .push(("error".into(), "access_denied".into()));
    let back = upstream_callback(&w.idp, &browser, cancelled, &mut lang)
        .await
        .unwrap();
    assert!(matches!(&back.step, Step::Redirect(to) if to.contains("notice=cancelled")));
    assert_eq!(
        w.sizes(),
        (0, 0, 0),
        "an unverified callback stores nothing"
    );
    let retired = after(&browser, &back);
    let again = upstream_callback(&w.idp, &retired, stub_callback(&state, "ok"), &mut lang).await;
    assert!(matches!(again, Err(FlowError::FlowNotFound)), "{again:?}");
    // A new attempt, verified: the state is recorded once, and a replay finds nothing.
    let (state, browser) = w.to_stub_bank(&retired, &flow_id).await;
    let done = upstream_callback(&w.idp, &browser, stub_callback(&state, "ok"), &mut lang)
        .await
        .unwrap();
    w.sp_checks(autopost(&done), "_v1").unwrap();
    assert_eq!(w.sizes(), (1, 1, 1));
    let replay = upstream_callback(&w.idp, &browser, stub_callback(&state, "ok"), &mut lang).await;
    assert!(matches!(replay, Err(FlowError::FlowNotFound)), "{replay:?}");
}

#[tokio::test]
async fn a_flow_that_expires_while_its_upstream_verifies_gets_no_assertion() {
    let w = world();
    let (flow_id, browser) = w.start_flow("_slow").await;
    let (state, browser) = w.to_stub_bank(&browser, &flow_id).await;
    // The callback arrives in the flow's last second; the bank answers a second later.
    w.clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    let (_, flow) = super::session::flow_for_state(&w.idp, &browser, &state)
        .await
        .unwrap();
    w.clock.advance(Duration::seconds(1));
    let late = super::session::claim_request(&w.idp, Some(flow.expires_at), &flow.request).await;
    assert!(
        matches!(late, Err(FlowError::Sealed(SealError::Expired { .. }))),
        "{late:?}"
    );
    assert_eq!(w.sizes(), (0, 0, 0));
}

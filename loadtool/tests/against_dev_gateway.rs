//! The load tool against a real dev gateway started in-process on 127.0.0.1:0: a login, two
//! seconds of SSO hits and of anonymous requests at two connections, every answer as expected.
//! The first gateway keeps its per-client limits (burst 2000), so those runs spread their
//! connections over loopback source addresses as `--spread-sources` does; the citizen's run is
//! against a gateway with the limits off, from 127.0.0.1 alone.
#![allow(clippy::unwrap_used)]

use gateway::dev::{start_dev_on, DevOptions, DevRateLimits};
use gateway::serve::RunningGateway;
use loadtool::citizen::Step;
use loadtool::login::log_in;
use loadtool::report::summarize;
use loadtool::run::{run, LoadPlan, Mode};
use loadtool::target::LoopbackTarget;
use std::time::Duration;

fn plan(mode: Mode) -> LoadPlan {
    LoadPlan {
        mode,
        connections: 2,
        round: Duration::from_secs(1),
        rounds: 2,
        max_hits: 1_000_000,
        pid: Some(std::process::id()),
        rate: None,
        spread_sources: true,
        citizen_every: None,
    }
}

async fn dev_gateway(data: &std::path::Path, rate_limits: DevRateLimits) -> RunningGateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    start_dev_on(
        listener,
        DevOptions {
            listen: addr,
            sp_metadata: Vec::new(),
            data_dir: data.to_owned(),
            public_url: None,
            banks: Vec::new(),
            idcard_listen: None,
            rate_limits,
            redis: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_hits_and_anonymous_requests_are_answered_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dev_gateway(&dir.path().join("data"), DevRateLimits::On).await;
    let target = LoopbackTarget::resolve(&gw.base_url).await.unwrap();

    let session = log_in(&target).await.unwrap();
    let sso = plan(Mode::SsoHits);
    let summary = summarize(
        &target.origin,
        &sso,
        &run(&target, &sso, Some(session), None).await,
    );
    assert!(summary.hits > 0, "{summary:?}");
    assert!(summary.all_expected, "{summary:?}");
    assert_eq!(summary.expected, summary.hits);
    assert!(summary.elapsed_seconds >= 2.0, "{summary:?}");
    assert!(
        summary
            .rounds
            .iter()
            .all(|r| r.rss_start.is_some() && r.rss_end.is_some()),
        "{summary:?}"
    );

    let anonymous = plan(Mode::Anonymous);
    let summary = summarize(
        &target.origin,
        &anonymous,
        &run(&target, &anonymous, None, None).await,
    );
    assert!(summary.hits > 0, "{summary:?}");
    assert!(summary.all_expected, "{summary:?}");
    assert_eq!(summary.server_errors, 0);

    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_beside_an_anonymous_flood_logs_in_and_makes_its_sso_hits() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dev_gateway(&dir.path().join("data"), DevRateLimits::Off).await;
    let target = LoopbackTarget::resolve(&gw.base_url).await.unwrap();
    // 2.5 s at a step every 200 ms: the first login, then SSO hits, and a login anew at every
    // fourth interval.
    let plan = LoadPlan {
        mode: Mode::Anonymous,
        connections: 2,
        round: Duration::from_millis(1250),
        rounds: 2,
        max_hits: 1_000_000,
        pid: None,
        rate: None,
        spread_sources: false,
        citizen_every: Some(Duration::from_millis(200)),
    };
    let measured = run(&target, &plan, None, None).await;
    let summary = summarize(&target.origin, &plan, &measured);
    let c = summary.citizen.as_ref().unwrap();
    assert!(summary.all_ok(), "{summary:?}");
    assert_eq!((c.logins_failed, c.sso_hits_failed), (0, 0), "{c:?}");
    assert!(c.logins_ok >= 2, "the first login and one anew: {c:?}");
    assert!(c.sso_hits_ok >= 4, "{c:?}");
    let log = measured.citizen.unwrap();
    assert_eq!(log.steps[0].step, Step::Login, "{log:?}");
    assert!(c.longest_gap_seconds.is_some_and(|g| g < 2.0), "{c:?}");
    // From one address, well past the burst the default limits allow (so the limits were off).
    assert!(summary.hits > 0 && summary.all_expected, "{summary:?}");
    gw.stop().await;
}

#[tokio::test]
async fn a_login_against_something_that_is_not_a_dev_gateway_fails_with_its_step() {
    // A loopback listener that answers every request with 404 (not a gateway).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found")
                .await;
        }
    });
    let target = LoopbackTarget::resolve(&format!("http://{addr}"))
        .await
        .unwrap();
    let err = log_in(&target).await.unwrap_err().to_string();
    assert!(err.contains("/demo/login") && err.contains("404"), "{err}");
    server.abort();
}

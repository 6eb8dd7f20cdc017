//! The load tool against a real dev gateway started in-process on 127.0.0.1:0: a login, two
//! seconds of SSO hits and of anonymous requests at two connections, every answer as expected.
//! The dev gateway's per-client limits (burst 2000) cannot be turned off yet, so both runs spread
//! their connections over loopback source addresses as `--spread-sources` does.

use gateway::dev::{start_dev_on, DevOptions, DevRateLimits};
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
        spread_sources: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_hits_and_anonymous_requests_are_answered_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gw = start_dev_on(
        listener,
        DevOptions {
            listen: addr,
            sp_metadata: Vec::new(),
            data_dir: dir.path().join("data"),
            public_url: None,
            banks: Vec::new(),
            idcard_listen: None,
            rate_limits: DevRateLimits::On,
        },
    )
    .await
    .unwrap();
    let target = LoopbackTarget::resolve(&gw.base_url).await.unwrap();

    let session = log_in(&target).await.unwrap();
    let sso = plan(Mode::SsoHits);
    let summary = summarize(
        &target.origin,
        &sso,
        &run(&target, &sso, Some(session)).await,
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
        &run(&target, &anonymous, None).await,
    );
    assert!(summary.hits > 0, "{summary:?}");
    assert!(summary.all_expected, "{summary:?}");
    assert_eq!(summary.server_errors, 0);

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

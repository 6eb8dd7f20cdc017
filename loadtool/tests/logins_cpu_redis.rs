//! The logins mode, the CPU reading and the Redis sampling against the real things: a dev gateway
//! started in-process on 127.0.0.1:0 (in memory, and on a redis-server of the test's own), a
//! process whose name has spaces and parentheses, and a redis-server with keys written by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway::dev::{start_dev_on, DevOptions, DevRateLimits};
use gateway::serve::RunningGateway;
use loadtool::cpu::{cpu_ticks, read_cpu_ms};
use loadtool::redis_memory::RedisProbe;
use loadtool::report::summarize;
use loadtool::run::{run, LoadPlan, Mode};
use loadtool::target::LoopbackTarget;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn logins(connections: usize, max_hits: u64) -> LoadPlan {
    LoadPlan {
        mode: Mode::Logins,
        connections,
        round: Duration::from_secs(10),
        rounds: 2,
        max_hits,
        pid: Some(std::process::id()),
        rate: None,
        spread_sources: false,
        citizen_every: None,
    }
}

async fn dev_gateway(data: &std::path::Path, redis: Option<String>) -> RunningGateway {
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
            rate_limits: DevRateLimits::Off,
            redis,
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_made_to_the_end_and_every_one_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dev_gateway(&dir.path().join("data"), None).await;
    let target = LoopbackTarget::resolve(&gw.base_url).await.unwrap();

    let plan = logins(3, 40);
    let measured = run(&target, &plan, None, None).await;
    let s = summarize(&target.origin, &plan, &measured);
    assert!(s.all_expected, "{s:?}");
    // The budget, not the clock, ended the run (a login takes milliseconds).
    assert_eq!(s.hits, 40, "{s:?}");
    assert_eq!(s.expected, 40, "{s:?}");
    assert!(s.elapsed_seconds < 20.0, "{s:?}");
    assert_eq!(s.rounds.iter().map(|r| r.hits).sum::<u64>(), s.hits);
    for r in &s.rounds {
        assert_eq!(r.expected + r.unexpected.values().sum::<u64>(), r.hits);
    }
    // Each login's latency was recorded, and the process (gateway and tool in one) used CPU.
    assert!(s.p50_ms.is_some_and(|p| p > 0.0) && s.p99_ms >= s.p50_ms);
    assert!(s.cpu_ms.is_some_and(|c| c > 0.0), "{s:?}");
    assert!(s.cpu_ms_per_hit.is_some_and(|c| c > 0.0), "{s:?}");
    assert!(s.redis.is_none());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_each_login_leaves_one_session_and_its_bytes_are_measured() {
    let redis = PrivateRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let gw = dev_gateway(&dir.path().join("data"), Some(redis.url())).await;
    let target = LoopbackTarget::resolve(&gw.base_url).await.unwrap();
    let probe = RedisProbe::connect(&redis.url(), "gw:").await.unwrap();

    let plan = logins(2, 25);
    let measured = run(&target, &plan, None, Some(probe)).await;
    let s = summarize(&target.origin, &plan, &measured);
    assert!(s.all_expected && s.expected == 25, "{s:?}");
    let r = s.redis.as_ref().unwrap();
    assert_eq!(r.error, None);
    let (before, after) = (r.before.unwrap(), r.after.unwrap());
    assert!(after.used_memory > before.used_memory, "{r:?}");
    assert!(r.bytes_per_hit.is_some_and(|b| b > 0.0), "{r:?}");
    // Every login made a session of its own (no reuse: a fresh browser each time), and its
    // services hash names the demo SP.
    let sessions = redis.cli(&["--scan", "--pattern", "gw:sso:*"]);
    let session_keys: Vec<&str> = sessions
        .lines()
        .filter(|k| !k.trim_start_matches("gw:sso:").contains(':'))
        .collect();
    assert_eq!(session_keys.len(), 25, "{sessions}");
    let sample = r.sessions.unwrap();
    assert_eq!((sample.sessions, sample.with_services), (25, 25), "{r:?}");
    let by_hand: u64 = session_keys
        .iter()
        .map(|k| {
            let usage = |key: &str| -> u64 {
                redis
                    .cli(&["MEMORY", "USAGE", key, "SAMPLES", "0"])
                    .parse()
                    .unwrap()
            };
            usage(k) + usage(&format!("{k}:m"))
        })
        .sum();
    assert_eq!(sample.total_bytes, by_hand);
    assert!((sample.bytes_per_session - by_hand as f64 / 25.0).abs() < 1e-9);
    gw.stop().await;
}

#[tokio::test]
async fn the_sample_takes_a_hundred_sessions_of_its_prefix_with_their_hashes() {
    let redis = PrivateRedis::start();
    // 150 sessions under t1: (each with its services hash, all of one size), a session under
    // another prefix, replay entries, and a key below a session that is not its hash.
    for i in 0..150 {
        let key = format!("t1:sso:{i:016x}");
        redis.cli(&["SET", &key, &"s".repeat(200), "EX", "600"]);
        redis.cli(&["HSET", &format!("{key}:m"), "https://sp.example/a", "1"]);
    }
    redis.cli(&["SET", "t2:sso:0000000000000000", &"x".repeat(5000)]);
    for i in 0..10 {
        redis.cli(&["SET", &format!("t1:replay:{i:032x}"), "1", "EX", "600"]);
    }
    redis.cli(&["SET", "t1:sso:0000000000000000:other", &"y".repeat(5000)]);

    let probe = RedisProbe::connect(&redis.url(), "t1:").await.unwrap();
    let sample = probe.sample().await.unwrap();
    assert_eq!(sample.keys, 300 + 1 + 10 + 1);
    let info = redis.cli(&["INFO", "memory"]);
    assert!(info.contains("used_memory:") && sample.used_memory > 0);

    let bytes = probe.session_bytes().await.unwrap().unwrap();
    assert_eq!((bytes.sessions, bytes.with_services), (100, 100));
    let one: u64 = ["t1:sso:0000000000000001", "t1:sso:0000000000000001:m"]
        .iter()
        .map(|k| {
            redis
                .cli(&["MEMORY", "USAGE", k, "SAMPLES", "0"])
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(bytes.total_bytes, one * 100, "{bytes:?}");
    assert_eq!(bytes.bytes_per_session, one as f64);

    // No session at all: nothing to measure, and no error.
    let other = RedisProbe::connect(&redis.url(), "none:").await.unwrap();
    assert_eq!(other.session_bytes().await.unwrap(), None);
}

#[tokio::test]
async fn a_redis_that_is_not_there_is_an_error_in_time() {
    // A listener that accepts and never answers: the probe gives up after its timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let began = Instant::now();
    assert!(RedisProbe::connect(&url, "gw:").await.is_err());
    assert!(began.elapsed() < Duration::from_secs(10));
}

#[test]
fn cpu_time_is_read_from_a_real_process_whose_name_has_spaces_and_parentheses() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a b) (c";
    let exe = dir.path().join(name);
    std::fs::copy("/bin/sh", &exe).unwrap();
    let child = Command::new(&exe)
        .args(["-c", "while :; do :; done"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child = KillOnDrop(child);
    let pid = child.0.id();
    // Between fork and exec the child still has this thread's name: wait for the exec.
    let deadline = Instant::now() + Duration::from_secs(5);
    let comm = loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        if comm.trim_end() == name || Instant::now() >= deadline {
            break comm;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(comm.trim_end(), name);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(stat.contains("(a b) (c)"), "{stat}");
    assert!(cpu_ticks(&stat).is_some(), "{stat}");

    // The busy loop's CPU time grows; wait for it (up to 10 s) rather than for a fixed time.
    let first = read_cpu_ms(pid).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = read_cpu_ms(pid).unwrap();
        if now >= first + 50.0 {
            break;
        }
        assert!(Instant::now() < deadline, "CPU time stayed at {now} ms");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(read_cpu_ms(u32::MAX).is_err());
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A redis-server of this test's own (nothing on disk), killed when dropped. The port is found
/// by binding 127.0.0.1:0; should another process take it before redis-server binds it, the
/// server exits and the next free port is tried.
struct PrivateRedis {
    port: u16,
    child: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl PrivateRedis {
    fn start() -> PrivateRedis {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server (Debian package redis-server)");
            let mut child = KillOnDrop(child);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.0.try_wait(), Ok(Some(_))) {
                    break;
                }
                // Answered by this server, not by another that took the port first.
                let ours = format!("process_id:{}", child.0.id());
                if redis_cli(port, &["INFO", "server"]).contains(&ours) {
                    return PrivateRedis {
                        port,
                        child,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.0.kill();
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let _ = &self.child;
        redis_cli(self.port, args)
    }
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

//! Measures the gateway's own CPU time per brokered bank login: the `gateway` binary runs as its
//! own process (`gateway dev --bank`), the stand-in bank as another, and this driver plays the
//! browser and the SP. CPU is read from /proc/<gateway pid>/stat (utime + stime) before and after
//! N logins, so the bank, the SP and the driver are not counted.
//!
//!   cargo build --release -p gateway
//!   cargo run --release -p tests --example measure_bank_login -- target/release/gateway 50
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::bank::{to_callback, BankClient, BankOptions, StandInBank};
use tests::browser::Browser;
use tests::testsp::{RequestOptions, TestSp};

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the comm field.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

struct World {
    base: String,
    sp: TestSp,
    child: Child,
    bank: StandInBank,
}

/// The gateway binary, the stand-in bank and the SP. The binary binds its `--listen` address
/// itself, and the bank's client file and the SP's metadata must name that address before either
/// starts: so the port is reserved (bound and released) here, and if something takes it in
/// between, the gateway exits saying it cannot listen (`Err`) and the caller starts over on
/// another port. Once the gateway prints its URL, it is the one listening there.
fn start_world(gateway_bin: &str, dir: &Path) -> Result<World, String> {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let base = format!("http://{addr}");
    let mut client = BankClient::for_gateway(&base, "mittari", "RSA-OAEP", "A128CBC-HS256");
    client.client_id = gateway::dev::DEV_BANK_CLIENT_ID.into();
    let client_file = dir.join("client.json");
    client.write(&client_file);
    let bank = StandInBank::start(
        &client_file,
        &BankOptions {
            auto_person: Some("tupas-2"),
            ..Default::default()
        },
    );
    let sp = TestSp::new("meter", &base, false);
    let md = sp.write_metadata(dir);
    let mut child = Command::new(gateway_bin)
        .args(["dev", "--listen", &addr.to_string(), "--bank"])
        .arg(format!("mittari={}", bank.issuer))
        .arg("--sp-metadata")
        .arg(&md)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let want = format!("{base}/demo");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(&want) => break,
            Ok(_) => continue,
            // stdout closed: the gateway exited.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                let _ = child.wait();
                assert!(err.contains("cannot listen"), "the gateway exited: {err}");
                return Err(err);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("the gateway did not print {want} within 30 s");
            }
        }
    }
    Ok(World {
        base,
        sp,
        child,
        bank,
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gateway_bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/gateway".into());
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    tests::peers::ensure_installed();
    let dir = tempfile::tempdir().unwrap();
    let mut refused = Vec::new();
    let World {
        base,
        sp,
        mut child,
        bank: _bank,
    } = loop {
        match start_world(&gateway_bin, dir.path()) {
            Ok(w) => break w,
            Err(e) if refused.len() < 4 => refused.push(e),
            Err(e) => panic!("the gateway could not listen: {refused:?} {e}"),
        }
    };
    let sso = format!("{base}/saml/idp/sso");
    let login = |b: Browser| {
        let sp = &sp;
        let sso = sso.clone();
        let base = base.clone();
        async move {
            let (xml, id) = sp.request_xml(&sso, &RequestOptions::default());
            let page = b.get(&sp.redirect_url(&sso, &xml, None, false)).await;
            let selection = b.follow(page).await;
            let href = selection.method_link("bank:mittari").expect("bank offered");
            let start = b.get(&format!("{base}{href}")).await;
            let callback = to_callback(&b, start, &base).await;
            let autopost = b.get(&callback).await;
            let (_, resp, _) = autopost.saml_response().expect("a SAML Response");
            assert!(resp.contains(&id));
        }
    };
    // Warm up (first connections, lazy initialisation), then measure.
    for _ in 0..3 {
        login(Browser::new()).await;
    }
    let pid = child.id();
    let hz = 100.0; // USER_HZ on Linux
    let before = cpu_ticks(pid);
    let t0 = Instant::now();
    for _ in 0..n {
        login(Browser::new()).await;
    }
    let wall = t0.elapsed();
    let ticks = cpu_ticks(pid) - before;
    let _ = child.kill();
    let _ = child.wait();
    let cpu_ms = ticks as f64 * 1000.0 / hz;
    println!(
        "{n} brokered logins: gateway CPU {cpu_ms:.0} ms in all, {:.2} ms per login; wall {:.0} ms per login (bank and driver included)",
        cpu_ms / n as f64,
        wall.as_secs_f64() * 1000.0 / n as f64
    );
}

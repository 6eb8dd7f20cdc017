//! Redis servers of a test's own (Debian's redis-server, on free ports, nothing on disk):
//! one server to stop and start again, and a primary, a replica and a sentinel for failover.

use std::path::Path;
use std::time::{Duration, Instant};

/// A redis-server on a free port, killed when dropped.
pub struct TestRedis {
    pub port: u16,
    child: Option<std::process::Child>,
    dir: tempfile::TempDir,
    args: Vec<String>,
}

impl TestRedis {
    pub fn start() -> TestRedis {
        Self::start_with(&[])
    }

    /// With extra server arguments (`--replicaof 127.0.0.1 6379`, say).
    pub fn start_with(args: &[&str]) -> TestRedis {
        let mut r = TestRedis {
            port: super::devproc::free_port(),
            child: None,
            dir: tempfile::tempdir().unwrap(),
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Start it again on the same port (empty: nothing was kept on disk).
    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A command on this server (`CONFIG SET ...`), its reply as redis-cli prints it.
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port, args)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on port {port}");
}

/// A primary, its replica, and one sentinel (quorum 1) watching them as `master`.
pub struct SentinelSet {
    pub primary: TestRedis,
    pub replica: TestRedis,
    pub sentinel_port: u16,
    sentinel: std::process::Child,
    _dir: tempfile::TempDir,
    pub master: &'static str,
}

impl SentinelSet {
    pub fn start() -> SentinelSet {
        let primary = TestRedis::start();
        let p = primary.port.to_string();
        let replica = TestRedis::start_with(&["--replicaof", "127.0.0.1", &p]);
        let dir = tempfile::tempdir().unwrap();
        let sentinel_port = super::devproc::free_port();
        let master = "gw-test";
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {dir}\nsentinel monitor {master} 127.0.0.1 {p} 1\nsentinel down-after-milliseconds {master} 1000\nsentinel failover-timeout {master} 10000\nsentinel parallel-syncs {master} 1\n",
                dir = dir.path().display()
            ),
        )
        .unwrap();
        let sentinel = sentinel_process(&conf);
        wait_for_port(sentinel_port);
        let set = SentinelSet {
            primary,
            replica,
            sentinel_port,
            sentinel,
            _dir: dir,
            master,
        };
        // The replica has synced and the sentinel knows it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let info = set.replica.cli(&["INFO", "replication"]);
            let known = redis_cli(sentinel_port, &["SENTINEL", "replicas", master]);
            if info.contains("master_link_status:up")
                && known.contains(&set.replica.port.to_string())
            {
                return set;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the replica did not sync or the sentinel did not see it");
    }

    /// `redis+sentinel://127.0.0.1:<sentinel>/<master>`, as `gateway dev --redis` takes it.
    pub fn dev_url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{}",
            self.sentinel_port, self.master
        )
    }

    /// The port the sentinel names as the primary now.
    pub fn primary_port_by_sentinel(&self) -> Option<u16> {
        let out = redis_cli(
            self.sentinel_port,
            &["SENTINEL", "get-master-addr-by-name", self.master],
        );
        out.lines().nth(1)?.trim().parse().ok()
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
    }
}

/// `redis-sentinel` (Debian's package of that name) if installed, else the same program as
/// `redis-server --sentinel`.
fn sentinel_process(conf: &Path) -> std::process::Child {
    let mut cmd = if Path::new("/usr/bin/redis-sentinel").exists() {
        let mut c = std::process::Command::new("redis-sentinel");
        c.arg(conf);
        c
    } else {
        let mut c = std::process::Command::new("redis-server");
        c.arg(conf).arg("--sentinel");
        c
    };
    cmd.stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-sentinel")
}

//! The gateway's resident memory, from `/proc/<pid>/status` (`VmRSS`), sampled once a second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One sample: seconds since the run started, RSS in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RssSample {
    pub at: f64,
    pub bytes: u64,
}

/// `VmRSS` of a `/proc/<pid>/status` text, in bytes.
pub fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next()? {
        "kB" => value.checked_mul(1024),
        _ => None,
    }
}

pub fn read_rss(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    vm_rss_bytes(&text).ok_or_else(|| format!("no VmRSS in {path}"))
}

/// Samples `pid` every second from `start` until the returned handle is stopped.
pub struct RssSampler {
    samples: Arc<Mutex<Vec<RssSample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32, start: Instant) -> RssSampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Ok(bytes) = read_rss(pid) else { return };
                let sample = RssSample {
                    at: start.elapsed().as_secs_f64(),
                    bytes,
                };
                if let Ok(mut s) = out.lock() {
                    s.push(sample);
                }
            }
        });
        RssSampler { samples, task }
    }

    /// Stops sampling, after one last sample, and returns all of them.
    pub fn finish(self, pid: u32, start: Instant) -> Vec<RssSample> {
        self.task.abort();
        let mut samples = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
        if let Ok(bytes) = read_rss(pid) {
            samples.push(RssSample {
                at: start.elapsed().as_secs_f64(),
                bytes,
            });
        }
        samples
    }
}

/// The sample nearest to `at` seconds.
pub fn nearest(samples: &[RssSample], at: f64) -> Option<u64> {
    samples
        .iter()
        .min_by(|a, b| (a.at - at).abs().total_cmp(&(b.at - at).abs()))
        .map(|s| s.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tgateway\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t4242\n\
VmPeak:\t  312044 kB\nVmSize:\t  246508 kB\nVmHWM:\t   48812 kB\nVmRSS:\t   41236 kB\n\
RssAnon:\t   30000 kB\nThreads:\t3\n";

    #[test]
    fn vm_rss_is_read_in_bytes() {
        assert_eq!(vm_rss_bytes(STATUS), Some(41236 * 1024));
    }

    #[test]
    fn a_status_without_vm_rss_gives_none() {
        // A kernel thread, or a process that has exited (zombie), has no VmRSS line.
        assert_eq!(vm_rss_bytes("Name:\tkworker/0:1\nState:\tI (idle)\n"), None);
        assert_eq!(vm_rss_bytes("VmRSS:\t   abc kB\n"), None);
        assert_eq!(vm_rss_bytes("VmRSS:\t   12 MB\n"), None);
    }

    #[test]
    fn this_process_has_an_rss() {
        assert!(read_rss(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn the_nearest_sample_is_taken() {
        let s = [
            RssSample { at: 0.0, bytes: 10 },
            RssSample { at: 1.0, bytes: 20 },
            RssSample { at: 2.1, bytes: 30 },
        ];
        assert_eq!(nearest(&s, 1.8), Some(30));
        assert_eq!(nearest(&s, 0.4), Some(10));
        assert_eq!(nearest(&[], 1.0), None);
    }
}

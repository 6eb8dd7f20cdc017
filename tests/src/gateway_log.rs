//! The log of every gateway running in this test process, captured in memory: its lines, the
//! audit line for an error ID, and a refusal as the operator sees it. Every test in one process
//! shares the buffer; a test finds its own lines by their error ID.

use crate::browser::Page;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Capture the log of everything running in this test process from now on (at INFO and above).
pub fn capture() {
    let _ = buffer();
}

/// Every captured line so far.
pub fn lines() -> Vec<String> {
    let bytes = buffer().lock().unwrap().clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The audit line (target `audit`) that carries this error ID, if any.
pub fn audit_line(error_id: &str) -> Option<String> {
    let id = format!("error_id={error_id}");
    lines()
        .into_iter()
        .find(|l| l.contains(" audit:") && l.contains(&id))
}

/// A refusal as the operator sees it: no SAMLResponse on `page`, an error ID on it, and an audit
/// line carrying that error ID and `code`. Returns the error ID and the line. The audit line is
/// written before the page is answered, so it is there when the page is.
pub fn assert_audited_refusal(page: &Page, code: &str, what: &str) -> (String, String) {
    assert!(!page.has_saml_response(), "{what}: {}", page.body);
    let id = page
        .error_id()
        .unwrap_or_else(|| panic!("{what}: no error ID: {}", page.body));
    let line = audit_line(&id).unwrap_or_else(|| {
        panic!(
            "{what}: no audit line with error_id={id}:\n{}",
            lines().join("\n")
        )
    });
    assert!(
        line.contains(&format!("code=\"{code}\"")),
        "{what}: the audit line should name {code}: {line}"
    );
    (id, line)
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .try_init();
        buf
    })
}

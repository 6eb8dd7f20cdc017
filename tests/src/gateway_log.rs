//! The log of every gateway running in this test process, captured in memory: its lines, the
//! audit line for an error ID, a refusal and a login as the operator sees them. Every test in one
//! process shares the buffer; a test finds its own lines by their error ID or Response ID.
//!
//! The gateway's own crates are captured at DEBUG, every level they write above trace (trace is
//! the one level allowed to carry an assertion), so a check that nothing personal is logged reads
//! the debug lines too. Other crates (hyper, reqwest, rustls) stay at INFO: their debug lines are
//! many and not the gateway's.

use crate::browser::Page;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The filter of the captured log: the gateway's targets (its crates and `audit`) at DEBUG,
/// everything else at INFO.
pub const FILTER: &str =
    "info,gateway=debug,idp_adapters=debug,saml=debug,certs=debug,jose=debug,metadata=debug,audit=debug";

/// Capture the log of everything running in this test process from now on (see `FILTER`).
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

/// How long `wait_for_line` waits for a line that must come.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// Wait for a line for which `wanted` holds, and return it; panics naming `what` (with the log)
/// when none comes within `LINE_TIMEOUT`. For lines written after the answer a test waits on
/// (a connection's end, say); a line written before the answer is there when the answer is.
pub fn wait_for_line(what: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + LINE_TIMEOUT;
    loop {
        if let Some(line) = lines().into_iter().find(|l| wanted(l)) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no log line {what} within {LINE_TIMEOUT:?}:\n{}",
            lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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

/// The refusal code of the audit line that carries the error ID on `page` (panics when the page
/// has no error ID or no audit line has it).
pub fn refusal_code(page: &Page) -> String {
    let id = page
        .error_id()
        .unwrap_or_else(|| panic!("no error ID ({}): {}", page.status, page.body));
    let line = audit_line(&id)
        .unwrap_or_else(|| panic!("no audit line for {id}:\n{}", lines().join("\n")));
    let i = line
        .find("code=\"")
        .unwrap_or_else(|| panic!("no code in the audit line: {line}"))
        + 6;
    let e = line[i..].find('"').unwrap();
    line[i..i + e].to_owned()
}

/// A login as the operator sees it: `page` auto-posts a SAMLResponse, the audit `assertion`
/// line carries that Response's ID, and before it an audit `login` line names `sp` and
/// `method`. (The login line carries no ID of its own; the assertion line, written by the same
/// call right after it, ties the pair to this page.) Returns the login line.
pub fn assert_login_audited(page: &Page, sp: &str, method: &str) -> String {
    let (_, xml, _) = page
        .saml_response()
        .unwrap_or_else(|| panic!("no SAMLResponse ({}): {}", page.status, page.body));
    let response_id = response_id(&xml);
    let all = lines();
    let assertion_at = all
        .iter()
        .position(|l| {
            l.contains(" audit:")
                && l.contains("event=\"assertion\"")
                && l.contains(&format!("response_id={response_id}"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no audit assertion line for Response {response_id}:\n{}",
                all.join("\n")
            )
        });
    let (sp_field, method_field) = (format!("sp={sp} "), format!("method=\"{method}\""));
    all[..assertion_at]
        .iter()
        .rev()
        .find(|l| {
            l.contains(" audit:")
                && l.contains("event=\"login\"")
                && l.contains(&sp_field)
                && l.contains(&method_field)
        })
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no audit login line for {sp} by {method} before Response {response_id}:\n{}",
                all.join("\n")
            )
        })
}

/// The `ID` of the Response element (the document's first element).
fn response_id(xml: &str) -> String {
    let start = xml
        .find(":Response ")
        .unwrap_or_else(|| panic!("not a Response: {xml}"));
    let tag_end = start + xml[start..].find('>').unwrap();
    let tag = &xml[start..tag_end];
    let i = tag.find(" ID=\"").unwrap_or_else(|| panic!("no ID: {tag}")) + 5;
    let e = tag[i..].find('"').unwrap();
    tag[i..i + e].to_owned()
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
            .with_env_filter(tracing_subscriber::EnvFilter::new(FILTER))
            .try_init();
        buf
    })
}

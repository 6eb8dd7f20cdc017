//! Reading a committed fuzz corpus, for the replay tests of every crate (as [`crate::test_pki`]
//! serves their test PKI). Seed names carry their expectation: `valid-*` must be accepted,
//! `hostile-<code>-*` refused with exactly `<code>` (a stable error code has a dot: `saml.dtd`),
//! and anything else (what the fuzzer added) must only be handled without a panic.

use std::path::{Path, PathBuf};

/// The files in `dir`, sorted; none when `dir` does not exist (a target without crash inputs).
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A seed's file name ("" when it has none or it is not UTF-8).
pub fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// A named seed, with an expectation, rather than an input the fuzzer found.
pub fn is_named(name: &str) -> bool {
    name.starts_with("valid-") || name.starts_with("hostile-")
}

/// The code a `hostile-<code>-<description>` name expects: its first part, when that is a code
/// (it has a dot) and a description follows (so `hostile-doctype.xml`, a description with a file
/// extension, names no code).
pub fn expected_code(name: &str) -> Option<&str> {
    let (first, _description) = name.strip_prefix("hostile-")?.split_once('-')?;
    first.contains('.').then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_they_expect() {
        assert_eq!(
            expected_code("hostile-saml.dtd-doctype.xml"),
            Some("saml.dtd")
        );
        assert_eq!(expected_code("hostile-doctype.xml"), None);
        assert_eq!(
            expected_code("hostile-idcard.ocsp_revoked-a-b"),
            Some("idcard.ocsp_revoked")
        );
        assert_eq!(expected_code("valid-plain"), None);
        assert!(is_named("valid-x") && is_named("hostile-x") && !is_named("3f2a9c"));
        assert_eq!(name_of(Path::new("/a/b/hostile-x")), "hostile-x");
    }
}

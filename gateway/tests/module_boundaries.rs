//! The gateway's modules by role, and the one direction their imports point: `app` builds
//! everything; `upstream` and `web` call `flows`; `flows` uses `stores`; nothing points back.
//! The flows never name HTTP: no axum, hyper, tower or `http` types under `src/flows`.
//!
//! `cargo test -p gateway --test module_boundaries -- --nocapture` prints the graph and the
//! line counts per module.

#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MODULES: [&str; 5] = ["app", "web", "upstream", "flows", "stores"];

/// Which module may import which (anything not listed is refused).
fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("app", _)
            | ("upstream", "web" | "flows" | "stores")
            | ("web", "flows" | "stores")
            | ("flows", "stores")
    )
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// A module's files: `src/<m>.rs` (if any) and everything under `src/<m>/`.
fn files_of(module: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let file = src().join(format!("{module}.rs"));
    if file.exists() {
        out.push(file);
    }
    let dir = src().join(module);
    if dir.is_dir() {
        rust_files(&dir, &mut out);
    }
    assert!(!out.is_empty(), "module {module} has no files");
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The code of a file without comments (a doc comment may name axum to say it is not used).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which of the other modules a module's code names (`crate::web`, `super::super::app`, ...).
fn imports_of(module: &str) -> BTreeMap<&'static str, usize> {
    let mut found = BTreeMap::new();
    for f in files_of(module) {
        let code = code_of(&read(&f));
        for other in MODULES {
            if other == module {
                continue;
            }
            let direct = code.matches(&format!("crate::{other}")).count();
            // `use crate::{web, flows::X}` names them inside braces.
            let grouped = code
                .match_indices("crate::{")
                .filter(|(i, _)| {
                    let rest = &code[i + "crate::{".len()..];
                    let group = &rest[..rest.find('}').unwrap_or(rest.len())];
                    group
                        .split(',')
                        .any(|item| item.trim().split("::").next() == Some(other))
                })
                .count();
            if direct + grouped > 0 {
                *found.entry(other).or_insert(0) += direct + grouped;
            }
        }
    }
    found
}

#[test]
fn imports_point_one_way() {
    let mut problems = Vec::new();
    println!("module graph (module -> modules it imports, with counts):");
    for m in MODULES {
        let imports = imports_of(m);
        println!("  {m:8} -> {imports:?}");
        for to in imports.keys() {
            if !allowed(m, to) {
                problems.push(format!("{m} imports {to}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn flows_name_no_http_types() {
    const HTTP: [&str; 7] = [
        "axum",
        "hyper",
        "tower",
        "http::",
        "HeaderMap",
        "StatusCode",
        "reqwest",
    ];
    let mut problems = Vec::new();
    for f in files_of("flows") {
        let code = code_of(&read(&f));
        for word in HTTP {
            for (i, line) in code.lines().enumerate() {
                if line.contains(word) {
                    problems.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "flows must not name HTTP types:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checks_can_fail() {
    // The scanner sees an import and an HTTP type when they are there.
    assert_eq!(
        code_of("use axum::Router; // fine").trim(),
        "use axum::Router;"
    );
    assert!(code_of("/// uses axum").trim().is_empty());
    assert!(!allowed("flows", "web"));
    assert!(!allowed("stores", "flows"));
    assert!(!allowed("web", "upstream"));
    assert!(allowed("upstream", "flows"));
}

#[test]
fn line_counts_per_module() {
    println!("lines per module (code and tests):");
    let mut total = 0;
    for m in MODULES {
        let files = files_of(m);
        let lines: usize = files.iter().map(|f| read(f).lines().count()).sum();
        total += lines;
        println!("  {m:8} {lines:6} lines in {} files", files.len());
        for f in &files {
            let n = read(f).lines().count();
            // A file over ~800 lines is a sign a boundary is missing (STYLE.md).
            assert!(n <= 1000, "{} has {n} lines", f.display());
        }
    }
    println!("  total    {total:6}");
}

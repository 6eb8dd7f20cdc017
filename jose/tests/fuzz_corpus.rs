//! Replays the committed JOSE fuzz corpora (`fuzz/corpus/jose_jws/`, `jose_jwe/`, `jose_jwk_set/`)
//! and crash inputs (`fuzz/crashes/<target>/`) through `jose::fuzzing`, the functions the fuzz
//! targets call, so a regression shows up in `cargo test` without a fuzzing toolchain.
//!
//! File names carry expectations: `valid-*` seeds must be accepted; `hostile-<code>-*` seeds must
//! be refused with exactly that `JoseError` code (`hostile-jose.embedded_key-jwk-attacker`); a
//! `hostile-` name without a code fails the test, so no hostile seed passes on just any error.
//! Every other file (what the fuzzer added) must only not panic.
//!
//! The named seeds are made by [`fuzz_seeds::all`] (`tests/fuzz_seeds/`) from the committed keys
//! (`fuzz/seed-key/jose/`) and keys generated on the spot for the attacker.
//! [`named_seeds_are_the_generated_ones`] checks the committed names are exactly the generator's;
//! with `WRITE_JOSE_SEEDS=1` it writes them instead:
//! `WRITE_JOSE_SEEDS=1 cargo test -p jose --test fuzz_corpus named_seeds_are_the_generated_ones`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::seed_corpus::{expected_code, files_in, is_named, name_of};
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use jose::fuzzing;
use jose::{parse_claims, JoseError};

mod fuzz_seeds;

const TARGETS: [&str; 3] = ["jose_jws", "jose_jwe", "jose_jwk_set"];

/// The outcome of one input: `Ok` with what was accepted (for messages), or the refusal's code.
fn outcome(target: &str, data: &[u8]) -> Result<String, &'static str> {
    let code = |e: JoseError| e.code();
    match target {
        "jose_jws" => fuzzing::jws_compact(data)
            .map(|v| format!("JWS {:?}", v.header.alg))
            .map_err(code),
        "jose_jwe" => fuzzing::jwe_compact(data)
            .map(|d| format!("JWE {} {}", d.header.alg, d.header.enc))
            .map_err(code),
        "jose_jwk_set" => fuzzing::jwk_set(data)
            .map(|set| format!("JWK set of {}", set.keys().len()))
            .map_err(code),
        other => panic!("no entry point for {other}"),
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn every_corpus_and_crash_input_is_handled_without_panic() {
    let mut failures = Vec::new();
    for target in TARGETS {
        let mut replayed = 0;
        for kind in ["corpus", "crashes"] {
            for path in files_in(&fuzz_dir().join(kind).join(target)).unwrap() {
                let data = std::fs::read(&path).unwrap();
                replayed += 1;
                if catch_unwind(AssertUnwindSafe(|| outcome(target, &data))).is_err() {
                    failures.push(format!("{} panicked", path.display()));
                }
            }
        }
        if replayed == 0 {
            failures.push(format!("no fuzz inputs for {target}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_seeds_are_accepted_and_hostile_seeds_refused_with_their_code() {
    let mut failures = Vec::new();
    for target in TARGETS {
        let (mut valid, mut hostile) = (0, 0);
        for path in files_in(&fuzz_dir().join("corpus").join(target)).unwrap() {
            let name = name_of(&path);
            let result = outcome(target, &std::fs::read(&path).unwrap());
            if name.starts_with("valid-") {
                valid += 1;
                if let Err(code) = result {
                    failures.push(format!("{target}/{name}: refused with {code}"));
                }
            } else if name.starts_with("hostile-") {
                hostile += 1;
                match (result, expected_code(name)) {
                    (_, None) => failures.push(format!("{target}/{name}: no expected code")),
                    (Ok(accepted), Some(_)) => {
                        failures.push(format!("{target}/{name}: accepted as {accepted}"))
                    }
                    (Err(code), Some(want)) if code != want => failures.push(format!(
                        "{target}/{name}: refused with {code}, expected {want}"
                    )),
                    (Err(_), Some(_)) => {}
                }
            }
        }
        if valid < 3 || hostile < 10 {
            failures.push(format!(
                "{target}: only {valid} valid and {hostile} hostile seeds"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_valid_seeds_carry_what_was_signed_and_encrypted() {
    let corpus = fuzz_dir().join("corpus");
    let jws =
        fuzzing::jws_compact(&std::fs::read(corpus.join("jose_jws/valid-rs256")).unwrap()).unwrap();
    assert_eq!(jws.payload, fuzz_seeds::PAYLOAD);
    assert_eq!(jws.header.kid.as_deref(), Some("rsa"));
    let jwe = fuzzing::jwe_compact(
        &std::fs::read(corpus.join("jose_jwe/valid-rsa-oaep-a128cbc-hs256-nested-jws")).unwrap(),
    )
    .unwrap();
    assert_eq!(jwe.header.cty.as_deref(), Some("JWT"));
    // The plaintext is itself a token the JWS reader accepts: the FTN ID token's shape.
    assert_eq!(
        fuzzing::jws_compact(&jwe.plaintext).unwrap().payload,
        fuzz_seeds::PAYLOAD
    );
}

/// The JWT reader (`verify_jwt`, the FTN adapter's: jose's checks, then `jsonwebtoken::decode`)
/// against the JWS reader on every `jose_jws` input: it never panics, accepts only what the JWS
/// reader accepts and with the same claims, accepts every valid seed whose payload is a claim set,
/// and refuses every hostile seed with the JWS reader's code.
#[test]
fn the_jwt_reader_agrees_with_the_jws_reader() {
    let mut failures = Vec::new();
    let (mut both_accepted, mut both_refused) = (0, 0);
    for kind in ["corpus", "crashes"] {
        for path in files_in(&fuzz_dir().join(kind).join("jose_jws")).unwrap() {
            let data = std::fs::read(&path).unwrap();
            let name = name_of(&path);
            let Ok(jwt) = catch_unwind(AssertUnwindSafe(|| fuzzing::jwt_compact(&data))) else {
                failures.push(format!("{name}: verify_jwt panicked"));
                continue;
            };
            let jws = fuzzing::jws_compact(&data);
            let claim_set = jws.as_ref().ok().map(|v| parse_claims(&v.payload));
            match (jws, jwt) {
                (Ok(_), Ok(jwt)) => {
                    both_accepted += 1;
                    if claim_set.and_then(Result::ok).as_ref() != Some(&jwt.claims) {
                        failures.push(format!("{name}: other claims than the payload's"));
                    }
                }
                (Err(e), Ok(_)) => {
                    failures.push(format!("{name}: JWT accepted, JWS refused ({})", e.code()))
                }
                (Ok(_), Err(e)) => {
                    let payload_is_claims = claim_set.is_some_and(|c| c.is_ok());
                    if name.starts_with("valid-") && payload_is_claims {
                        failures.push(format!("{name}: valid seed refused as JWT ({})", e.code()));
                    }
                }
                (Err(jws), Err(jwt)) => {
                    both_refused += 1;
                    if name.starts_with("hostile-") && jws.code() != jwt.code() {
                        failures.push(format!(
                            "{name}: JWS refused {}, JWT {}",
                            jws.code(),
                            jwt.code()
                        ));
                    }
                }
            }
        }
    }
    if both_accepted < 5 || both_refused < 10 {
        failures.push(format!(
            "only {both_accepted} accepted and {both_refused} refused by both"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Without `WRITE_JOSE_SEEDS=1`: the named seeds on disk are exactly the ones the generator makes
/// (a seed deleted, renamed or added by hand fails). With it: writes them, replacing the named
/// seeds and keeping what the fuzzer added.
#[test]
fn named_seeds_are_the_generated_ones() {
    let generated = fuzz_seeds::all();
    let corpus = fuzz_dir().join("corpus");
    if std::env::var_os("WRITE_JOSE_SEEDS").is_some_and(|v| v == "1") {
        for target in TARGETS {
            let dir = corpus.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for path in files_in(&dir).unwrap() {
                if is_named(name_of(&path)) {
                    std::fs::remove_file(&path).unwrap();
                }
            }
        }
        for (target, name, data) in &generated {
            std::fs::write(corpus.join(target).join(name), data).unwrap();
        }
        return;
    }
    let want: BTreeSet<String> = generated
        .iter()
        .map(|(target, name, _)| format!("{target}/{name}"))
        .collect();
    assert_eq!(want.len(), generated.len(), "a seed name is used twice");
    let have: BTreeSet<String> = TARGETS
        .iter()
        .flat_map(|target| {
            files_in(&corpus.join(target))
                .unwrap()
                .into_iter()
                .map(|p| name_of(&p).to_owned())
                .filter(|n| is_named(n))
                .map(move |n| format!("{target}/{n}"))
        })
        .collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let unknown: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "the named seeds differ from the generator's (rerun it, see fuzz/README.md): \
         missing {missing:?}, not generated {unknown:?}"
    );
}

//! Replays the committed `idcard_chain` fuzz corpus (`fuzz/corpus/idcard_chain/`) and crash
//! inputs (`fuzz/crashes/idcard_chain/`) through `idp_adapters::fuzzing::idcard_input`, the
//! function the fuzz target calls, so a regression shows up in `cargo test` without a fuzzing
//! toolchain.
//!
//! File names carry expectations: `valid-*` seeds must be accepted; `hostile-*` seeds must be
//! refused with exactly the code that is the name's first part after `hostile-` (it has a dot,
//! as in `hostile-idcard.expired-expired`), and a hostile name without a code fails: no seed is
//! satisfied by any error. Every other file (what the fuzzer added) must only not panic.
//!
//! The named seeds and the trust data they chain to (`fuzz/seed-pki/idcard/`) are written by
//! [`regenerate_seeds_when_asked`], only when `WRITE_IDCARD_SEEDS=1` is set (see
//! fuzz/README.md): generating a PKI makes new keys, so the seeds and the trust data the harness
//! is built with change together, and the harness has to be rebuilt before the replay passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::seed_corpus::{expected_code, files_in, name_of};
use idp_adapters::fuzzing::{self, Accepted};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const TARGET: &str = "idcard_chain";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn outcome(data: &[u8]) -> Result<Accepted, &'static str> {
    fuzzing::idcard_input(data)
}

#[test]
fn every_corpus_and_crash_input_is_handled_without_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for kind in ["corpus", "crashes"] {
        for path in files_in(&fuzz_dir().join(kind).join(TARGET)).unwrap() {
            let data = std::fs::read(&path).unwrap();
            replayed += 1;
            if catch_unwind(AssertUnwindSafe(|| outcome(&data))).is_err() {
                failures.push(format!("{} panicked", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        replayed > 0,
        "no fuzz inputs found under {}",
        fuzz_dir().display()
    );
}

#[test]
fn the_corpus_has_valid_and_hostile_seeds_in_both_modes() {
    let files = files_in(&fuzz_dir().join("corpus").join(TARGET)).unwrap();
    let names: Vec<&str> = files.iter().map(|p| name_of(p)).collect();
    let count = |prefix: &str| names.iter().filter(|n| n.starts_with(prefix)).count();
    assert!(count("valid-card-") >= 2, "{names:?}");
    assert!(count("valid-crl-") >= 2, "{names:?}");
    assert!(count("hostile-idcard.") >= 10, "{names:?}");
    assert!(count("hostile-crl.") >= 3, "{names:?}");
}

#[test]
fn valid_seeds_are_accepted_and_hostile_seeds_refused_with_their_code() {
    let mut failures = Vec::new();
    for path in files_in(&fuzz_dir().join("corpus").join(TARGET)).unwrap() {
        let name = name_of(&path);
        let data = std::fs::read(&path).unwrap();
        let result = outcome(&data);
        if name.starts_with("valid-") {
            match (&result, name.starts_with("valid-crl-")) {
                (Ok(Accepted::Card(_)), false) | (Ok(Accepted::Crl(_)), true) => {}
                (Ok(other), _) => failures.push(format!("{name}: accepted as {other:?}")),
                (Err(code), _) => failures.push(format!("{name}: refused with {code}")),
            }
        } else if name.starts_with("hostile-") {
            match (&result, expected_code(name)) {
                (Ok(accepted), _) => failures.push(format!("{name}: accepted as {accepted:?}")),
                (Err(code), None) => failures.push(format!(
                    "{name}: names no code (refused with {code}; name it hostile-{code}-...)"
                )),
                (Err(code), Some(want)) if *code != want => {
                    failures.push(format!("{name}: refused with {code}, expected {want}"))
                }
                (Err(_), Some(_)) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_valid_card_seed_names_its_holder() {
    let path = fuzz_dir()
        .join("corpus")
        .join(TARGET)
        .join("valid-card-valid-with-intermediate");
    let Ok(Accepted::Card(holder)) = outcome(&std::fs::read(path).unwrap()) else {
        panic!("the valid card seed was not accepted as a card");
    };
    assert_eq!(holder.given_name, "Tiina");
    assert_eq!(holder.surname, "Testinen");
    assert_eq!(
        holder.satu.expose(),
        certs::test_pki::satu_with_check("99900001")
    );
}

/// With `WRITE_IDCARD_SEEDS=1`, writes the trust data and the named seeds. Otherwise checks that
/// the committed corpus has a named seed for every card of the test PKI (a card added to
/// `certs::test_pki` without a seed, or without an expectation here, fails). Regenerate alone
/// (the other tests replay against the harness as it was built):
/// `WRITE_IDCARD_SEEDS=1 cargo test -p idp-adapters --test idcard_fuzz_corpus regenerate_seeds_when_asked`
#[test]
fn regenerate_seeds_when_asked() {
    if std::env::var_os("WRITE_IDCARD_SEEDS").is_some_and(|v| v == "1") {
        seeds::write_all(&fuzz_dir());
        return;
    }
    seeds::check_every_card_has_a_seed(&fuzz_dir().join("corpus/idcard_chain"));
}

mod seeds {
    use certs::test_pki::{IdCardTestPki, TestCard};
    use idp_adapters::fuzzing::{chain_input, crl_input, MODE_CHAIN, NOW};
    use std::path::Path;

    /// The code each test-PKI card is refused with (as the unit tests in `idcard::tests` expect);
    /// `None`: accepted.
    fn card_code(name: &str) -> Option<&'static str> {
        match name {
            "valid" | "valid_rsa" => None,
            "unmapped" => Some("idcard.not_mapped"),
            "expired" => Some("idcard.expired"),
            "not_yet_valid" => Some("idcard.not_yet_valid"),
            "rogue_same_dn" => Some("idcard.bad_signature"),
            "intermediate_not_ca" => Some("idcard.issuer_not_ca"),
            "path_len_exceeded" => Some("idcard.path_length"),
            "revoked" => Some("idcard.revoked"),
            "signing_only" => Some("idcard.key_usage"),
            "server_auth_only" => Some("idcard.extended_key_usage"),
            "name_constraint_violation" => Some("idcard.name_constraints"),
            "huge_san" => Some("idcard.too_large"),
            other => panic!("no expectation for test card {other}: add it here"),
        }
    }

    /// Every card of the test PKI has its named seed (`valid-card-<name>` or
    /// `hostile-<code>-<name>`) in `dir`.
    pub fn check_every_card_has_a_seed(dir: &Path) {
        let pki = IdCardTestPki::generate(NOW).unwrap();
        for card in pki.all_cards() {
            let name = match card_code(card.name) {
                None => format!("valid-card-{}", card.name),
                Some(code) => format!("hostile-{code}-{}", card.name),
            };
            assert!(
                dir.join(&name).is_file(),
                "no seed {name} for test card {}: run the generator",
                card.name
            );
        }
    }

    pub fn write_all(fuzz: &Path) {
        let pki = IdCardTestPki::generate(NOW).unwrap();
        write_trust_data(&fuzz.join("seed-pki/idcard"), &pki);

        let dir = fuzz.join("corpus/idcard_chain");
        std::fs::create_dir_all(&dir).unwrap();
        // Named seeds are all rewritten; what the fuzzer added (hash names) stays.
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("valid-") || name.starts_with("hostile-") {
                std::fs::remove_file(&path).unwrap();
            }
        }
        card_seeds(&dir, &pki);
        framing_seeds(&dir, &pki);
        crl_seeds(&dir, &pki);
    }

    fn write_trust_data(dir: &Path, pki: &IdCardTestPki) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in [
            ("root.der", &pki.root.cert_der),
            ("intermediate.der", &pki.intermediate.cert_der),
            ("constrained-ca.der", &pki.constrained_ca.cert_der),
            ("root.crl", &pki.root_crl),
            ("intermediate.crl", &pki.intermediate_crl),
            ("constrained.crl", &pki.constrained_crl),
            ("valid-card.der", &pki.cards.valid.chain[0]),
        ] {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    fn write(dir: &Path, name: &str, data: &[u8]) {
        std::fs::write(dir.join(name), data).unwrap();
    }

    /// Every card of the test PKI as the browser presents it, named by its expected outcome.
    fn card_seeds(dir: &Path, pki: &IdCardTestPki) {
        for card in pki.all_cards() {
            let name = match card_code(card.name) {
                None => format!("valid-card-{}", card.name),
                Some(code) => format!("hostile-{code}-{}", card.name),
            };
            write(dir, &name, &chain_input(&card.chain));
        }
        let with_intermediate = |card: &TestCard| {
            let mut chain = card.chain.clone();
            chain.push(pki.intermediate.cert_der.clone());
            chain_input(&chain)
        };
        let c = &pki.cards;
        write(
            dir,
            "valid-card-valid-with-intermediate",
            &with_intermediate(&c.valid),
        );
        write(
            dir,
            "valid-card-valid_rsa-with-intermediate",
            &with_intermediate(&c.valid_rsa),
        );
        write(
            dir,
            "hostile-idcard.revoked-revoked-with-intermediate",
            &with_intermediate(&c.revoked),
        );
        // The rogue CA sent along: the path must still end at the trusted root. The leaf is
        // signed by the rogue key under the real intermediate's name: refused for its signature.
        let mut rogue = c.rogue_same_dn.chain.clone();
        rogue.push(c.intermediate_not_ca.chain[1].clone());
        write(
            dir,
            "hostile-idcard.bad_signature-rogue_same_dn-with-ca",
            &chain_input(&rogue),
        );
        write(
            dir,
            "hostile-idcard.ca_as_end_entity-intermediate-as-leaf",
            &chain_input(std::slice::from_ref(&pki.intermediate.cert_der)),
        );
        write(
            dir,
            "hostile-idcard.ca_as_end_entity-root-as-leaf",
            &chain_input(std::slice::from_ref(&pki.root.cert_der)),
        );
        // One byte of the subject changed ("Tiina" -> "Tiinb"): the signature no longer covers it.
        let leaf = &c.valid.chain[0];
        let at = find(leaf, b"Tiina").unwrap() + 4;
        let mut tampered = leaf.clone();
        tampered[at] = b'b';
        write(
            dir,
            "hostile-idcard.bad_signature-tampered-given-name",
            &chain_input(&[tampered]),
        );
    }

    /// Hand-made framings and DER oddities around the valid card.
    fn framing_seeds(dir: &Path, pki: &IdCardTestPki) {
        let leaf = &pki.cards.valid.chain[0];
        let intermediate = &pki.intermediate.cert_der;
        write(dir, "hostile-idcard.no_certificate-empty-input", b"");
        write(
            dir,
            "hostile-idcard.no_certificate-mode-only",
            &[MODE_CHAIN],
        );
        write(
            dir,
            "hostile-idcard.chain_too_long-six-certs",
            &chain_input(&vec![leaf.clone(); 6]),
        );
        write(
            dir,
            "hostile-idcard.malformed-truncated-leaf",
            &chain_input(&[leaf[..leaf.len() / 2].to_vec()]),
        );
        // The first length claims 65,535 bytes: the leaf swallows the intermediate's frame.
        let mut past_end = vec![MODE_CHAIN, 0xff, 0xff];
        past_end.extend_from_slice(leaf);
        past_end.extend_from_slice(&chain_input(std::slice::from_ref(intermediate))[1..]);
        write(dir, "hostile-idcard.malformed-length-past-end", &past_end);
        write(
            dir,
            "hostile-idcard.malformed-zero-length-leaf",
            &chain_input(&[Vec::new(), intermediate.clone()]),
        );
        write(
            dir,
            "hostile-idcard.malformed-trailing-byte",
            &chain_input(&[[leaf.as_slice(), &[0]].concat()]),
        );
        let pem = pem::encode(&pem::Pem::new("CERTIFICATE", leaf.clone()));
        write(
            dir,
            "hostile-idcard.malformed-pem-leaf",
            &chain_input(&[pem.into_bytes()]),
        );
        write(
            dir,
            "hostile-idcard.malformed-nested-sequences",
            &chain_input(&[nested_sequences(3000)]),
        );
        write(
            dir,
            "hostile-idcard.malformed-indefinite-length",
            &chain_input(&[[&[0x30, 0x80][..], &leaf[4..], &[0, 0]].concat()]),
        );
        write(
            dir,
            "hostile-idcard.malformed-length-claims-64k",
            &chain_input(&[vec![0x30, 0x82, 0xff, 0xff]]),
        );
        write(
            dir,
            "hostile-idcard.too_large-16k-plus-one",
            &chain_input(&[vec![0x30; 16 * 1024 + 1]]),
        );
        // Garbage where the intermediates go is passed over: the configured intermediate
        // completes the path, as it does for a browser that sends only its leaf.
        write(
            dir,
            "valid-card-valid-with-garbage-intermediates",
            &chain_input(&[
                leaf.clone(),
                Vec::new(),
                b"garbage".to_vec(),
                nested_sequences(500),
            ]),
        );
    }

    fn crl_seeds(dir: &Path, pki: &IdCardTestPki) {
        write(dir, "valid-crl-root", &crl_input(&pki.root_crl));
        write(
            dir,
            "valid-crl-intermediate",
            &crl_input(&pki.intermediate_crl),
        );
        write(
            dir,
            "valid-crl-constrained",
            &crl_input(&pki.constrained_crl),
        );
        let pem_crl = pem::encode(&pem::Pem::new("X509 CRL", pki.intermediate_crl.clone()));
        write(
            dir,
            "valid-crl-intermediate-pem",
            &crl_input(pem_crl.as_bytes()),
        );
        write(dir, "hostile-crl.stale-stale", &crl_input(&pki.stale_crl));
        write(
            dir,
            "hostile-crl.bad_signature-wrong-key",
            &crl_input(&pki.wrong_key_crl),
        );
        // Verified and installed, and it revokes the card the CRL mode then validates.
        write(
            dir,
            "hostile-idcard.revoked-later-crl-revoking-valid",
            &crl_input(&pki.later_crl_revoking_valid),
        );
        let crl = &pki.intermediate_crl;
        let mut tampered = crl.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        write(
            dir,
            "hostile-crl.bad_signature-tampered-signature",
            &crl_input(&tampered),
        );
        write(
            dir,
            "hostile-crl.malformed-truncated",
            &crl_input(&crl[..crl.len() / 2]),
        );
        write(
            dir,
            "hostile-crl.malformed-trailing-byte",
            &crl_input(&[crl.as_slice(), &[0]].concat()),
        );
        write(
            dir,
            "hostile-crl.malformed-not-a-crl",
            &crl_input(b"not a crl"),
        );
        let wrong_tag = pem::encode(&pem::Pem::new("CERTIFICATE", crl.clone()));
        write(
            dir,
            "hostile-crl.malformed-pem-certificate-tag",
            &crl_input(wrong_tag.as_bytes()),
        );
        write(
            dir,
            "hostile-crl.malformed-nested-sequences",
            &crl_input(&nested_sequences(3000)),
        );
        // A certificate is not a CRL.
        write(
            dir,
            "hostile-crl.malformed-certificate",
            &crl_input(&pki.intermediate.cert_der),
        );
    }

    /// `depth` SEQUENCEs, each holding the next, with correct DER lengths.
    fn nested_sequences(depth: usize) -> Vec<u8> {
        let mut der = vec![0x05, 0x00];
        for _ in 0..depth {
            let len = der.len();
            let mut header = vec![0x30];
            if len < 0x80 {
                header.push(len as u8);
            } else if len < 0x100 {
                header.extend_from_slice(&[0x81, len as u8]);
            } else {
                header.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
            }
            der.splice(0..0, header);
        }
        der
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
}

//! The entry point shared by the `idcard_chain` fuzz target (`fuzz/`, outside the workspace) and
//! the corpus replay test (`tests/idcard_fuzz_corpus.rs`): arbitrary bytes in, the ID-card
//! certificate path run on them with fixed trust data and a fixed clock, the outcome out.
//!
//! [`idcard_input`] must not panic on any input: a panic is the bug the fuzzer reports.
//!
//! The trust data is a test PKI made by `certs::test_pki` and committed under
//! `fuzz/seed-pki/idcard/` together with the seeds issued by it (see `fuzz/README.md`). It is
//! built into this module rather than generated at start-up: a freshly generated PKI has fresh
//! keys, and the committed seeds would then no longer chain to it.
//!
//! # Input framing
//!
//! ```text
//! input = mode body
//! mode  = 1 byte; low bit 0: chain mode, low bit 1: CRL mode (no byte at all: an empty chain)
//! chain = up to 6 x (2-byte big-endian length, certificate DER), leaf first
//! crl   = the rest of the input, one CRL (DER or PEM)
//! ```
//!
//! A length running past the end takes what is left, and fewer than two bytes left end the
//! chain, so mutations that break a length still reach the validator. Bytes after the sixth
//! certificate are ignored (six is one more than the validator allows).
//!
//! Chain mode runs [`IdCard::verify_presented`]: [`ChainValidator::validate`] with
//! [`Revocation::Chain`], the PKI's root as the anchor, its intermediate and name-constrained CA
//! configured, their CRLs installed, then the SATU lookup (a national identification number is
//! required). CRL mode runs [`VerifiedCrl::verify`] against the configured CAs, installs the CRL
//! into a copy of the installed set ([`CrlSet::install`]) and validates the PKI's valid card with
//! that set, so a verified CRL also reaches webpki's CRL processing.
//!
//! The OCSP response reader has its own target and entry point, [`ocsp::ocsp_response`].

pub mod ocsp;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use certs::test_pki::satu_with_check;
use certs::SystemRandomSource;
use time::macros::datetime;
use time::OffsetDateTime;

use crate::idcard::{
    CardHolder, ChainValidator, CrlError, CrlSet, FileDirectory, IdCard, IdCardSettings, Installed,
    NationalIdDirectory, Revocation, VerifiedCrl,
};

/// The fixed "now" of the harness; the committed test PKI was generated at this instant.
pub const NOW: OffsetDateTime = datetime!(2030-03-01 08:00:00 UTC);

/// Mode byte of a presented chain (any even byte).
pub const MODE_CHAIN: u8 = 0x00;
/// Mode byte of a CRL (any odd byte).
pub const MODE_CRL: u8 = 0x01;
/// Most certificates read from one input.
pub const MAX_FRAMED_CERTS: usize = 6;

/// The SATU prefixes (before the check character) of the test PKI's cards that have a national
/// identification number mapped: `valid`, `valid_rsa` and `revoked` (as in the unit tests).
const MAPPED: [(&str, &str); 3] = [
    ("99900001", "131052-308T"),
    ("99900002", "070770-205U"),
    ("99900006", "131052-308T"),
];

/// The committed trust data (see the module documentation).
mod trust_data {
    macro_rules! seed_pki {
        ($file:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seed-pki/idcard/",
                $file
            ))
        };
    }
    pub(super) const ROOT: &[u8] = seed_pki!("root.der");
    pub(super) const INTERMEDIATE: &[u8] = seed_pki!("intermediate.der");
    pub(super) const CONSTRAINED_CA: &[u8] = seed_pki!("constrained-ca.der");
    pub(super) const ROOT_CRL: &[u8] = seed_pki!("root.crl");
    pub(super) const INTERMEDIATE_CRL: &[u8] = seed_pki!("intermediate.crl");
    pub(super) const CONSTRAINED_CRL: &[u8] = seed_pki!("constrained.crl");
    /// The leaf of the PKI's valid card, validated in CRL mode.
    pub(super) const VALID_CARD: &[u8] = seed_pki!("valid-card.der");
}

/// What an input was accepted as.
#[derive(Debug)]
pub enum Accepted {
    /// Chain mode: the chain validated and the holder's SATU is mapped.
    Card(CardHolder),
    /// CRL mode: the CRL verified and was installed, and the valid card still validates.
    Crl(Installed),
}

/// Run one fuzz input (framed as in the module documentation). `Err` carries the refusal's code:
/// a `CardError` code (`idcard.*`), a CRL refusal (`crl.*`, see [`crl_code`]), or
/// `fuzz.trust_data` when the committed trust data is unusable.
pub fn idcard_input(data: &[u8]) -> Result<Accepted, &'static str> {
    let trust = trust()?;
    match data.split_first() {
        Some((mode, body)) if mode & 1 == MODE_CRL => crl_mode(trust, body),
        Some((_, body)) => chain_mode(trust, &split_chain(body)),
        None => chain_mode(trust, &[]),
    }
}

/// Frame `chain` (leaf first) as a chain-mode input. A certificate over 65,535 bytes is cut to
/// that length (the validator refuses anything over 16 KiB before parsing it).
pub fn chain_input(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![MODE_CHAIN];
    for cert in chain {
        let len = u16::try_from(cert.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(cert.get(..usize::from(len)).unwrap_or(cert));
    }
    out
}

/// Frame `crl` as a CRL-mode input.
pub fn crl_input(crl: &[u8]) -> Vec<u8> {
    [&[MODE_CRL][..], crl].concat()
}

/// The certificates framed in a chain-mode body.
pub fn split_chain(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut chain = Vec::new();
    while chain.len() < MAX_FRAMED_CERTS {
        let Some((len, rest)) = body.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (cert, rest) = rest.split_at(len);
        chain.push(cert.to_vec());
        body = rest;
    }
    chain
}

/// A stable code for each CRL refusal (`CrlError` has none of its own).
pub fn crl_code(e: &CrlError) -> &'static str {
    match e {
        CrlError::TooLarge { .. } => "crl.too_large",
        CrlError::Malformed(_) => "crl.malformed",
        CrlError::UnknownIssuer { .. } => "crl.unknown_issuer",
        CrlError::BadSignature { .. } => "crl.bad_signature",
        CrlError::UnsupportedAlgorithm(_) => "crl.unsupported_algorithm",
        CrlError::NoNextUpdate => "crl.no_next_update",
        CrlError::Stale { .. } => "crl.stale",
        CrlError::NotYetValid { .. } => "crl.not_yet_valid",
        CrlError::Older { .. } => "crl.older",
        CrlError::Unsupported => "crl.unsupported",
    }
}

fn chain_mode(trust: &Trust, chain: &[Vec<u8>]) -> Result<Accepted, &'static str> {
    let (holder, _national_id) =
        ready(trust.card.verify_presented(chain, NOW))?.map_err(|e| e.code())?;
    Ok(Accepted::Card(holder))
}

fn crl_mode(trust: &Trust, body: &[u8]) -> Result<Accepted, &'static str> {
    let validator = trust.card.validator();
    let crl = VerifiedCrl::verify(body, validator.ca_certs(), NOW).map_err(|e| crl_code(&e))?;
    let mut crls = CrlSet::clone(&trust.card.crls());
    let installed = crls.install(crl).map_err(|e| crl_code(&e))?;
    validator
        .validate(&[trust_data::VALID_CARD.to_vec()], &crls, NOW)
        .map_err(|e| e.code())?;
    Ok(Accepted::Crl(installed))
}

/// The adapter over the committed trust data, built once. Chain mode only reads it; CRL mode
/// installs into a copy, so no input changes what the next one sees.
struct Trust {
    card: IdCard,
}

fn trust() -> Result<&'static Trust, &'static str> {
    static TRUST: OnceLock<Option<Trust>> = OnceLock::new();
    TRUST
        .get_or_init(|| build_trust().ok())
        .as_ref()
        .ok_or("fuzz.trust_data")
}

fn build_trust() -> Result<Trust, String> {
    let validator = ChainValidator::new(
        &[trust_data::ROOT.to_vec()],
        &[
            trust_data::INTERMEDIATE.to_vec(),
            trust_data::CONSTRAINED_CA.to_vec(),
        ],
        Revocation::Chain,
    )?;
    let mapping: String = MAPPED
        .iter()
        .map(|(satu, hetu)| format!("{},{hetu}\n", satu_with_check(satu)))
        .collect();
    let directory: Arc<dyn NationalIdDirectory> =
        Arc::new(FileDirectory::parse(&mapping).map_err(|e| e.to_string())?);
    let card = IdCard::new(
        IdCardSettings {
            test_environment: true,
            ..IdCardSettings::new("https://idcard.fuzz.example:8443")
        },
        validator,
        Some(directory),
        Arc::new(SystemRandomSource),
    );
    for crl in [
        trust_data::ROOT_CRL,
        trust_data::INTERMEDIATE_CRL,
        trust_data::CONSTRAINED_CRL,
    ] {
        card.install_crl(crl, NOW).map_err(|e| e.to_string())?;
    }
    Ok(Trust { card })
}

/// The output of a future that is ready without a runtime (the file directory answers at once).
/// Polled a few times only: a future that stays pending is reported, never waited for.
fn ready<F: Future>(future: F) -> Result<F::Output, &'static str> {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..16 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return Ok(value);
        }
    }
    Err("fuzz.pending")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_tolerates_broken_lengths() {
        let chain = vec![vec![1, 2, 3], Vec::new(), vec![4; 300]];
        let framed = chain_input(&chain);
        assert_eq!(framed.first(), Some(&MODE_CHAIN));
        assert_eq!(split_chain(framed.get(1..).unwrap_or_default()), chain);
        // A length past the end takes the rest; a single trailing byte ends the chain.
        assert_eq!(split_chain(&[0xff, 0xff, 9, 9]), vec![vec![9, 9]]);
        assert_eq!(split_chain(&[0, 1, 7, 0]), vec![vec![7]]);
        assert_eq!(split_chain(&[0; 40]).len(), MAX_FRAMED_CERTS);
        assert_eq!(crl_input(b"x"), vec![MODE_CRL, b'x']);
    }

    #[test]
    fn garbage_is_refused_in_both_modes() {
        for data in [
            &b""[..],
            b"\x00",
            b"\x00\x00",
            b"\x01",
            b"\x01\x30\x80",
            b"\x02\xff\xff",
        ] {
            assert!(idcard_input(data).is_err(), "{data:?}");
        }
    }
}

//! The validator and the adapter against the committed test PKI (certs::test_pki): each bad
//! certificate or CRL is refused for its own reason.

use std::sync::{Arc, OnceLock};

use certs::test_pki::{IdCardTestPki, TestCard};
use certs::SystemRandomSource;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::test_util::block_on;

const NOW: OffsetDateTime = datetime!(2030-03-01 08:00:00 UTC);
/// The codes the mapping gives the test cards: of the test series (individual number 900-999).
const VALID_HETU: &str = "131052-9085";
const RSA_HETU: &str = "070770-905D";

fn pki() -> &'static IdCardTestPki {
    static PKI: OnceLock<IdCardTestPki> = OnceLock::new();
    PKI.get_or_init(|| IdCardTestPki::generate(NOW).unwrap())
}

fn settings() -> IdCardSettings {
    IdCardSettings {
        test_environment: true,
        ..IdCardSettings::new("https://idcard.gateway.test:8443/")
    }
}

fn directory() -> Arc<dyn NationalIdDirectory> {
    let p = pki();
    Arc::new(
        FileDirectory::parse(&format!(
            "{},{VALID_HETU}\n{},{RSA_HETU}\n{},{VALID_HETU}\n",
            p.cards.valid.satu, p.cards.valid_rsa.satu, p.cards.revoked.satu
        ))
        .unwrap(),
    )
}

/// An adapter trusting the root and knowing the intermediate, with both CRLs installed.
fn adapter_with(revocation: Revocation, crls: &[&[u8]]) -> IdCard {
    let card = adapter_from(settings(), directory(), revocation);
    for crl in crls {
        card.install_crl(crl, NOW).unwrap();
    }
    card
}

/// An adapter with the given settings and mapping, no CRLs installed.
fn adapter_from(
    settings: IdCardSettings,
    directory: Arc<dyn NationalIdDirectory>,
    revocation: Revocation,
) -> IdCard {
    let p = pki();
    let validator = ChainValidator::new(
        std::slice::from_ref(&p.root.cert_der),
        std::slice::from_ref(&p.intermediate.cert_der),
        revocation,
    )
    .unwrap();
    IdCard::new(
        settings,
        validator,
        Some(directory),
        Arc::new(SystemRandomSource),
    )
}

fn adapter() -> IdCard {
    let p = pki();
    adapter_with(Revocation::Chain, &[&p.root_crl, &p.intermediate_crl])
}

fn check(card: &IdCard, presented: &TestCard) -> Result<CardHolder, CardError> {
    block_on(card.verify_presented(&presented.chain, NOW)).map(|(holder, _)| holder)
}

fn code_of(card: &IdCard, presented: &TestCard) -> &'static str {
    match check(card, presented) {
        Ok(holder) => panic!("{} was accepted: {holder:?}", presented.name),
        Err(e) => e.code(),
    }
}

#[test]
fn valid_cards_give_satu_names_and_mapped_national_id() {
    let card = adapter();
    for (presented, hetu) in [
        (&pki().cards.valid, VALID_HETU),
        (&pki().cards.valid_rsa, RSA_HETU),
    ] {
        let (holder, national_id) = block_on(card.verify_presented(&presented.chain, NOW)).unwrap();
        assert_eq!(holder.satu.expose(), presented.satu);
        assert_eq!(holder.given_name, presented.given_name);
        assert_eq!(holder.surname, presented.surname);
        assert!(
            holder.issuer.contains("Test Citizen CA 1"),
            "{}",
            holder.issuer
        );
        assert_eq!(national_id.unwrap().expose(), hetu);
    }
}

#[test]
fn leaf_alone_completes_the_path_with_the_configured_intermediate() {
    let leaf_only = TestCard {
        chain: pki().cards.valid.chain[..1].to_vec(),
        ..pki().cards.valid.clone()
    };
    assert!(check(&adapter(), &leaf_only).is_ok());
}

#[test]
fn each_bad_certificate_is_refused_for_its_own_reason() {
    let card = adapter();
    let c = &pki().cards;
    let cases = [
        (&c.expired, "idcard.expired"),
        (&c.not_yet_valid, "idcard.not_yet_valid"),
        (&c.rogue_same_dn, "idcard.bad_signature"),
        (&c.intermediate_not_ca, "idcard.issuer_not_ca"),
        (&c.path_len_exceeded, "idcard.path_length"),
        (&c.revoked, "idcard.revoked"),
        (&c.signing_only, "idcard.key_usage"),
        (&c.server_auth_only, "idcard.extended_key_usage"),
        (&c.huge_san, "idcard.too_large"),
        (&c.unmapped, "idcard.not_mapped"),
    ];
    for (presented, code) in cases {
        assert_eq!(code_of(&card, presented), code, "{}", presented.name);
    }
}

#[test]
fn a_name_outside_the_ca_name_constraints_is_refused() {
    let p = pki();
    let validator = ChainValidator::new(
        std::slice::from_ref(&p.root.cert_der),
        &[
            p.intermediate.cert_der.clone(),
            p.constrained_ca.cert_der.clone(),
        ],
        Revocation::Chain,
    )
    .unwrap();
    let card = IdCard::new(
        settings(),
        validator,
        Some(directory()),
        Arc::new(SystemRandomSource),
    );
    for crl in [&p.root_crl, &p.intermediate_crl, &p.constrained_crl] {
        card.install_crl(crl, NOW).unwrap();
    }
    assert_eq!(
        code_of(&card, &p.cards.name_constraint_violation),
        "idcard.name_constraints"
    );
    assert!(check(&card, &p.cards.valid).is_ok());
}

#[test]
fn rogue_ca_with_the_same_name_is_refused_even_with_its_certificate_sent_along() {
    // The browser sends the rogue CA too: the path still has to end at the trusted root.
    let c = &pki().cards;
    let mut with_rogue = c.rogue_same_dn.clone();
    with_rogue
        .chain
        .push(c.intermediate_not_ca.chain[1].clone());
    let code = code_of(&adapter(), &with_rogue);
    assert!(
        [
            "idcard.bad_signature",
            "idcard.unknown_issuer",
            "idcard.issuer_not_ca"
        ]
        .contains(&code),
        "{code}"
    );
}

#[test]
fn malformed_and_oversized_input_is_refused_without_parsing_it_whole() {
    let card = adapter();
    let valid = &pki().cards.valid.chain[0];
    let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
        (vec![valid[..valid.len() / 2].to_vec()], "idcard.malformed"),
        (vec![vec![0x30, 0x82, 0xff, 0xff]], "idcard.malformed"),
        (vec![Vec::new()], "idcard.malformed"),
        (
            vec![[valid.as_slice(), &[0u8]].concat()],
            "idcard.malformed",
        ),
        (
            vec![b"-----BEGIN CERTIFICATE-----".to_vec()],
            "idcard.malformed",
        ),
        (
            vec![valid.clone(); MAX_CHAIN_LEN + 1],
            "idcard.chain_too_long",
        ),
        (vec![vec![0x30; MAX_CERT_BYTES + 1]], "idcard.too_large"),
        (vec![], "idcard.no_certificate"),
    ];
    for (chain, code) in cases {
        let got = block_on(card.verify_presented(&chain, NOW))
            .unwrap_err()
            .code();
        assert_eq!(got, code);
    }
}

#[test]
fn a_ca_certificate_presented_as_the_card_is_refused() {
    let card = adapter();
    let chain = vec![pki().intermediate.cert_der.clone()];
    let code = block_on(card.verify_presented(&chain, NOW))
        .unwrap_err()
        .code();
    // The CA certificate has no citizen key usage for authentication, or is refused as a CA.
    assert!(
        ["idcard.key_usage", "idcard.ca_as_end_entity"].contains(&code),
        "{code}"
    );
}

#[test]
fn crls_are_verified_before_install_and_never_rolled_back() {
    let p = pki();
    let card = adapter_with(Revocation::Chain, &[&p.root_crl]);
    // Without the intermediate's CRL the card's status is unknown: fail closed.
    assert_eq!(code_of(&card, &p.cards.valid), "idcard.revocation_unknown");
    assert!(matches!(
        card.install_crl(&p.wrong_key_crl, NOW),
        Err(CrlError::BadSignature { .. })
    ));
    assert!(matches!(
        card.install_crl(&p.stale_crl, NOW),
        Err(CrlError::Stale { .. })
    ));
    assert!(matches!(
        card.install_crl(b"not a crl", NOW),
        Err(CrlError::Malformed(_))
    ));
    assert_eq!(card.crls().len(), 1);
    card.install_crl(&p.later_crl_revoking_valid, NOW).unwrap();
    assert_eq!(code_of(&card, &p.cards.valid), "idcard.revoked");
    // The older CRL (which does not list the valid card) cannot replace the newer one.
    assert!(matches!(
        card.install_crl(&p.intermediate_crl, NOW),
        Err(CrlError::Older { .. })
    ));
    assert_eq!(code_of(&card, &p.cards.valid), "idcard.revoked");
}

#[test]
fn a_restored_crl_is_verified_again_and_stays_the_floor_after_it_goes_stale() {
    let p = pki();
    // A restart: a new adapter takes back the CRL recorded before it.
    let card = adapter_with(Revocation::Chain, &[&p.root_crl]);
    let (crl, restored) = card.restore_crl(&p.later_crl_revoking_valid, NOW).unwrap();
    assert_eq!(restored, crate::idcard::Restored::Installed(Installed::New));
    let (_, intermediate) = x509_parser::parse_x509_certificate(&p.intermediate.cert_der).unwrap();
    assert_eq!(crl.issuer(), intermediate.subject().as_raw());
    assert_eq!(code_of(&card, &p.cards.valid), "idcard.revoked");
    assert!(matches!(
        card.install_crl(&p.intermediate_crl, NOW),
        Err(CrlError::Older { .. })
    ));
    // Stored bytes are checked like fetched ones: a forged or garbled record is refused.
    assert!(matches!(
        card.restore_crl(&p.wrong_key_crl, NOW),
        Err(CrlError::BadSignature { .. })
    ));
    assert!(matches!(
        card.restore_crl(b"garbage", NOW),
        Err(CrlError::Malformed(_))
    ));

    // Recorded a week ago and stale now: not installed (logins fail closed as with no CRL),
    // but nothing older than it is accepted either.
    let fresh = adapter_with(Revocation::Chain, &[&p.root_crl]);
    let week_later = NOW + Duration::days(7) + Duration::hours(1);
    let (_, restored) = fresh
        .restore_crl(&p.later_crl_revoking_valid, week_later)
        .unwrap();
    assert_eq!(restored, crate::idcard::Restored::FloorOnly);
    let older_but_current = p
        .intermediate_crl(
            NOW - Duration::hours(2),
            week_later + Duration::days(1),
            9,
            &[],
        )
        .unwrap();
    assert!(matches!(
        fresh.install_crl(&older_but_current, week_later),
        Err(CrlError::Older { .. })
    ));
    let newer = p
        .intermediate_crl(
            week_later,
            week_later + Duration::days(1),
            13,
            &[&p.cards.valid],
        )
        .unwrap();
    assert_eq!(
        fresh.install_crl(&newer, week_later).unwrap().1,
        Installed::New
    );
}

#[test]
fn crl_in_pem_is_accepted_and_other_pem_blocks_are_not() {
    let p = pki();
    let card = adapter_with(Revocation::Chain, &[&p.root_crl]);
    let pem_crl = pem::encode(&pem::Pem::new("X509 CRL", p.intermediate_crl.clone()));
    card.install_crl(pem_crl.as_bytes(), NOW).unwrap();
    assert!(check(&card, &p.cards.valid).is_ok());
    let wrong = pem::encode(&pem::Pem::new("CERTIFICATE", p.intermediate_crl.clone()));
    assert!(matches!(
        card.install_crl(wrong.as_bytes(), NOW),
        Err(CrlError::Malformed(_))
    ));
}

#[test]
fn an_installed_crl_that_goes_stale_fails_closed() {
    let p = pki();
    let card = adapter();
    let later = NOW + Duration::days(8);
    let err = block_on(card.verify_presented(&p.cards.valid.chain, later)).unwrap_err();
    assert_eq!(err.code(), "idcard.crl_stale");
}

#[test]
fn a_stale_crl_forced_past_the_loader_is_still_refused_by_the_path_check() {
    // The loader refuses it; webpki would too (the CRL set is built only from verified CRLs,
    // so this checks the second line of defence with a CRL verified while it was current).
    let p = pki();
    let card = adapter_with(Revocation::Chain, &[&p.root_crl]);
    let when_current = NOW - Duration::days(10);
    card.install_crl(&p.stale_crl, when_current).unwrap();
    assert_eq!(code_of(&card, &p.cards.valid), "idcard.crl_stale");
}

#[test]
fn revocation_off_and_end_entity_depths() {
    let p = pki();
    let off = adapter_with(Revocation::Off, &[]);
    assert!(check(&off, &p.cards.valid).is_ok());
    assert!(check(&off, &p.cards.revoked).is_ok());
    let leaf_only = adapter_with(Revocation::EndEntity, &[&p.intermediate_crl]);
    assert!(check(&leaf_only, &p.cards.valid).is_ok());
    assert_eq!(code_of(&leaf_only, &p.cards.revoked), "idcard.revoked");
}

#[test]
fn refresh_is_planned_before_next_update() {
    let p = pki();
    let crl = VerifiedCrl::verify(
        &p.intermediate_crl,
        std::slice::from_ref(&p.intermediate.cert_der),
        NOW,
    )
    .unwrap();
    let due = crl.refresh_due(NOW, Duration::hours(24));
    assert!(due < crl.next_update());
    assert!(due > NOW);
    assert_eq!(
        crl.refresh_due(NOW, Duration::minutes(30)),
        NOW + Duration::minutes(30)
    );
}

#[test]
fn unmapped_satu_is_released_without_national_id_when_allowed() {
    let p = pki();
    let validator = ChainValidator::new(
        std::slice::from_ref(&p.root.cert_der),
        std::slice::from_ref(&p.intermediate.cert_der),
        Revocation::Off,
    )
    .unwrap();
    let card = IdCard::new(
        IdCardSettings {
            require_national_id: false,
            ..settings()
        },
        validator,
        Some(directory()),
        Arc::new(SystemRandomSource),
    );
    let (holder, national_id) =
        block_on(card.verify_presented(&p.cards.unmapped.chain, NOW)).unwrap();
    assert_eq!(holder.satu.expose(), p.cards.unmapped.satu);
    assert!(national_id.is_none());
}

#[test]
fn start_redirects_to_the_listener_and_finish_uses_only_the_captured_chain() {
    let card = adapter();
    let start = card
        .start(&StartContext {
            flow_id: "f",
            language: Language::Sv,
            requested_loa: None,
            force_authn: false,
            now: NOW,
        })
        .unwrap();
    let StartAction::RedirectUpstream { url, state, .. } = start else {
        panic!("{start:?}");
    };
    assert_eq!(
        url,
        format!("https://idcard.gateway.test:8443/idcard/login?state={state}&lang=sv")
    );
    let ctx = |certs| FinishContext {
        flow_id: "f",
        requested_loa: None,
        now: NOW,
        pending: None,
        client_certificates: certs,
    };
    let empty = CallbackInput::default();
    let chain = pki().cards.valid.chain.clone();
    let id = block_on(card.finish(&ctx(Some(&chain)), &empty)).unwrap();
    assert_eq!(id.national_id().unwrap().expose(), VALID_HETU);
    assert_eq!(id.electronic_id(), Some(pki().cards.valid.satu.as_str()));
    assert_eq!(id.loa(), LevelOfAssurance::FtnHigh);
    assert_eq!(id.method(), "idcard");
    assert_eq!(id.birth_date(), Some(time::macros::date!(1952 - 10 - 13)));
    assert!(!format!("{id:?}").contains(&pki().cards.valid.satu));

    // A chain in the browser's fields means nothing: only the captured one counts.
    let forged: CallbackInput = [("client_certificate", "MII...")].into_iter().collect();
    assert_eq!(
        block_on(card.finish(&ctx(None), &forged))
            .unwrap_err()
            .code(),
        "idcard.not_captured"
    );
    assert_eq!(
        block_on(card.finish(&ctx(Some(&[])), &empty)).unwrap_err(),
        AdapterError::NoCertificate
    );
    let no_cert: CallbackInput = [("error", NO_CERTIFICATE)].into_iter().collect();
    assert_eq!(
        block_on(card.finish(&ctx(Some(&chain)), &no_cert)).unwrap_err(),
        AdapterError::NoCertificate
    );
    let revoked = pki().cards.revoked.chain.clone();
    assert_eq!(
        block_on(card.finish(&ctx(Some(&revoked)), &empty))
            .unwrap_err()
            .code(),
        "idcard.revoked"
    );
}

#[test]
fn invisible_characters_and_padding_are_refused_in_subject_names() {
    let p = pki();
    // Cards made here with a hostile given name, under the real intermediate.
    for (given, ok) in [
        ("Tiina", true),
        ("Tiina-Maria Öberg", true),
        ("Ti\u{202E}ina", false),
        ("Ti\u{200B}ina", false),
        ("Tiina\u{2028}", false),
        (" Tiina", false),
        ("Tiina\u{0085}", false),
    ] {
        let card = p.card_with_given_name(given).unwrap();
        let result = check(&adapter_with(Revocation::Off, &[]), &card);
        assert_eq!(result.is_ok(), ok, "{given:?}: {result:?}");
        if !ok {
            assert_eq!(result.unwrap_err().code(), "idcard.subject_invalid");
        }
    }
}

#[test]
fn the_same_current_crl_offered_again_is_unchanged_and_a_stale_one_is_still_refused() {
    let p = pki();
    let card = adapter();
    let (_, installed) = card.install_crl(&p.intermediate_crl, NOW).unwrap();
    assert_eq!(installed, Installed::Unchanged);
    // Past its nextUpdate the same bytes are verified again, and refused as stale.
    assert!(matches!(
        card.install_crl(&p.intermediate_crl, NOW + Duration::days(8)),
        Err(CrlError::Stale { .. })
    ));
    // A newer CRL still replaces it.
    let (_, installed) = card.install_crl(&p.later_crl_revoking_valid, NOW).unwrap();
    assert_eq!(installed, Installed::Replaced);
}

#[test]
fn test_series_identity_codes_are_accepted_by_default() {
    assert!(!IdCardSettings::new("https://idcard.example").refuse_test_identity_codes);
    let card = adapter();
    assert!(!card.settings().refuse_test_identity_codes);
    let (_, national_id) = block_on(card.verify_presented(&pki().cards.valid.chain, NOW)).unwrap();
    let national_id = national_id.unwrap();
    assert_eq!(national_id.expose(), VALID_HETU);
    assert!(national_id.is_test_series());
}

#[test]
fn test_series_identity_codes_are_refused_when_set() {
    let refusing = IdCardSettings {
        refuse_test_identity_codes: true,
        ..settings()
    };
    let card = adapter_from(refusing.clone(), directory(), Revocation::Off);
    assert_eq!(
        block_on(card.verify_presented(&pki().cards.valid.chain, NOW)).unwrap_err(),
        CardError::TestIdentityCode
    );
    assert_eq!(
        code_of(&card, &pki().cards.valid_rsa),
        "idcard.test_identity_code"
    );
    let ctx = FinishContext {
        flow_id: "f",
        requested_loa: None,
        now: NOW,
        pending: None,
        client_certificates: Some(&pki().cards.valid.chain),
    };
    assert_eq!(
        block_on(card.finish(&ctx, &CallbackInput::default())).unwrap_err(),
        AdapterError::Card(CardError::TestIdentityCode)
    );

    // A code outside the test series (DVV's documented example) still passes, and an unmapped
    // card is refused as unmapped, not as a test code.
    let p = pki();
    let person =
        Arc::new(FileDirectory::parse(&format!("{},131052-308T\n", p.cards.valid.satu)).unwrap());
    let card = adapter_from(refusing, person, Revocation::Off);
    let (_, national_id) = block_on(card.verify_presented(&p.cards.valid.chain, NOW)).unwrap();
    assert!(!national_id.unwrap().is_test_series());
    assert_eq!(code_of(&card, &p.cards.valid_rsa), "idcard.not_mapped");
}

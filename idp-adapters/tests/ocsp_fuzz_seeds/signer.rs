//! Signatures, algorithms, responders and response statuses.

use super::*;

pub(super) fn seeds(pki: &Pki, out: &mut Vec<(String, Vec<u8>)>) {
    let mut seed = |name: &str, data: Vec<u8>| out.push((name.to_owned(), data));
    let issuer = &pki.issuer.key;
    let good = Data::good(pki);
    let good_tbs = good.encode();
    let mut bits = signature_bits(issuer, &good_tbs);
    let last = bits.len() - 1;
    bits[last] ^= 0x01;
    seed(
        "hostile-ocsp.bad_signature-flipped-signature-bit",
        raw(&successful_response(&basic(
            &good_tbs,
            OID_ECDSA_SHA256,
            &bits,
            &[],
        ))),
    );
    // A "good" carrying the issuer's signature of a "revoked" for the same card.
    let revoked_tbs = good
        .with(|d| d.single().status = revoked_status(true))
        .encode();
    seed(
        "hostile-ocsp.bad_signature-signature-of-the-revoked-response",
        raw(&successful_response(&basic(
            &good_tbs,
            OID_ECDSA_SHA256,
            &signature_bits(issuer, &revoked_tbs),
            &[],
        ))),
    );
    seed(
        "hostile-ocsp.bad_signature-another-key-under-the-issuers-name",
        raw(&signed_by(&good_tbs, &pki.rogue, &[])),
    );
    seed(
        "hostile-ocsp.bad_signature-responder-key-claiming-to-be-the-issuer",
        raw(&signed_by(&good_tbs, &pki.responder_key, &[&pki.responder])),
    );
    for (name, alg) in [
        (
            "hostile-ocsp.signature_algorithm-ecdsa-sha1",
            OID_ECDSA_SHA1,
        ),
        ("hostile-ocsp.signature_algorithm-rsa-pss", OID_RSA_PSS),
        ("hostile-ocsp.signature_algorithm-sha256-oid", OID_SHA256),
    ] {
        seed(
            name,
            raw(&successful_response(&basic(
                &good_tbs,
                alg,
                &signature_bits(issuer, &good_tbs),
                &[],
            ))),
        );
    }
    let named = |cert: &[u8]| {
        good.with(|d| d.responder_id = by_name(&subject_of(cert)))
            .encode()
    };
    let delegated = |cert: &[u8], key: &SigningKey| raw(&signed_by(&named(cert), key, &[cert]));
    seed(
        "hostile-ocsp.unknown_responder-named-but-not-attached",
        raw(&signed_by(&named(&pki.responder), &pki.responder_key, &[])),
    );
    seed(
        "hostile-ocsp.unknown_responder-rogue-by-key",
        raw(&signed_by(
            &good.with(|d| d.responder_id = by_key(&pki.rogue)).encode(),
            &pki.rogue,
            &[&pki.responder],
        )),
    );
    seed(
        "hostile-ocsp.unauthorized_responder-without-the-ocsp-signing-eku",
        delegated(&pki.responder_without_eku, &pki.responder_key),
    );
    seed(
        "hostile-ocsp.unauthorized_responder-expired",
        delegated(&pki.responder_expired, &pki.responder_key),
    );
    seed(
        "hostile-ocsp.unauthorized_responder-issued-by-the-root",
        delegated(&pki.responder_from_root, &pki.responder_key),
    );
    seed(
        "hostile-ocsp.unauthorized_responder-attached-but-another-key-signed",
        delegated(&pki.responder, &pki.rogue),
    );
    // The issuer's own certificate sent along does not make it a delegated responder of itself.
    seed(
        "hostile-ocsp.bad_signature-rogue-key-with-the-issuer-certificate-attached",
        raw(&signed_by(&good_tbs, &pki.rogue, &[&pki.issuer.der])),
    );
    seed(
        "hostile-ocsp.malformed_certificate-garbage-sequence",
        raw(&signed_by(
            &named(&pki.responder),
            &pki.responder_key,
            &[&seq(&[der(NULL, &[])])],
        )),
    );
    seed(
        "hostile-ocsp.malformed_certificate-trailing-byte",
        raw(&signed_by(
            &named(&pki.responder),
            &pki.responder_key,
            &[&seq(&[pki.responder[2..].to_vec()])],
        )),
    );
    seed(
        "hostile-ocsp.too_many_certificates-five",
        raw(&signed_by(
            &named(&pki.responder),
            &pki.responder_key,
            &[pki.responder.as_slice(); 5],
        )),
    );
    let good_response = signed_by(&good_tbs, issuer, &[]);
    seed(
        "hostile-ocsp.response_type-not-basic",
        raw(&seq(&[
            der(ENUMERATED, &[0]),
            der(
                CONTEXT_0,
                &seq(&[
                    der(OID, OID_OCSP_RESPONSE),
                    der(OCTET_STRING, &good_response),
                ]),
            ),
        ])),
    );
    for (status, name) in [
        (1, "hostile-ocsp.status_malformed_request-1"),
        (2, "hostile-ocsp.status_internal_error-2"),
        (3, "hostile-ocsp.status_try_later-3"),
        (4, "hostile-ocsp.status_unknown-4-unused"),
        (5, "hostile-ocsp.status_sig_required-5"),
        (6, "hostile-ocsp.status_unauthorized-6"),
        (9, "hostile-ocsp.status_unknown-9"),
    ] {
        seed(name, raw(&seq(&[der(ENUMERATED, &[status])])));
    }
    seed(
        "hostile-ocsp.status_unknown-two-byte-status",
        raw(&seq(&[der(ENUMERATED, &[0, 0])])),
    );
    seed(
        "hostile-ocsp.too_large-cap-plus-one",
        raw(&vec![0x30; MAX_OCSP_RESPONSE_BYTES + 1]),
    );
    seed(
        "hostile-ocsp.too_large-signed-mode",
        signed_input(
            &good
                .with(|d| {
                    d.extensions().push(extension(
                        OID_UNKNOWN_EXTENSION,
                        false,
                        &vec![0; MAX_OCSP_RESPONSE_BYTES],
                    ))
                })
                .encode(),
            false,
            false,
        ),
    );
}

//! Statuses, freshness and nonces, all properly signed by the issuer.

use super::*;

pub(super) fn seeds(pki: &Pki, out: &mut Vec<(String, Vec<u8>)>) {
    let mut seed = |name: &str, data: Vec<u8>| out.push((name.to_owned(), data));
    let good = Data::good(pki);
    let signed = |change: &dyn Fn(&mut Data)| {
        raw(&signed_by(
            &good.with(change).encode(),
            &pki.issuer.key,
            &[],
        ))
    };
    seed(
        "hostile-idcard.ocsp_revoked-revoked",
        signed(&|d| d.single().status = revoked_status(true)),
    );
    seed(
        "hostile-idcard.ocsp_revoked-revoked-without-a-reason",
        signed(&|d| d.single().status = revoked_status(false)),
    );
    seed(
        "hostile-idcard.ocsp_revoked-signed-mode",
        signed_input(
            &good
                .with(|d| d.single().status = revoked_status(true))
                .encode(),
            false,
            false,
        ),
    );
    seed(
        "hostile-ocsp.unknown_certificate-unknown",
        signed(&|d| d.single().status = unknown_status()),
    );
    seed(
        "hostile-ocsp.nonce_missing-required",
        raw_input(
            &signed_by(
                &good.with(|d| d.extensions = None).encode(),
                &pki.issuer.key,
                &[],
            ),
            true,
        ),
    );
    seed(
        "hostile-ocsp.nonce_missing-required-signed-mode",
        signed_input(&good.with(|d| d.extensions = None).encode(), false, true),
    );
    seed(
        "hostile-ocsp.nonce_mismatch-another-nonce",
        signed(&|d| d.extensions = Some(vec![nonce_extension(&der(OCTET_STRING, &[0x42; 32]))])),
    );
    // Some responders echo the nonce without its OCTET STRING wrapping: not ours, exactly.
    seed(
        "hostile-ocsp.nonce_mismatch-unwrapped-nonce",
        signed(&|d| d.extensions = Some(vec![nonce_extension(&NONCE)])),
    );
    seed(
        "hostile-ocsp.stale-next-update-passed",
        signed(&|d| {
            d.single().this_update = generalized(NOW - Duration::days(2));
            d.single().next_update = Some(NOW - Duration::seconds(1));
        }),
    );
    seed(
        "hostile-ocsp.stale-next-update-is-now",
        signed(&|d| d.single().next_update = Some(NOW)),
    );
    seed(
        "hostile-ocsp.stale_no_next_update-two-hours-old",
        signed(&|d| {
            d.single().this_update = generalized(NOW - Duration::hours(2));
            d.single().next_update = None;
        }),
    );
    seed(
        "hostile-ocsp.not_yet_valid-this-update-in-an-hour",
        signed(&|d| d.single().this_update = generalized(NOW + Duration::hours(1))),
    );
    seed(
        "hostile-ocsp.produced_in_future-ten-minutes",
        signed(&|d| d.produced_at = NOW + Duration::minutes(10)),
    );
    seed(
        "hostile-ocsp.no_status-another-certificate",
        signed(&|d| d.single().cert_id = pki.cert_id(&pki.other_card, OID_SHA256)),
    );
    seed(
        "hostile-ocsp.no_status-sha1-cert-id",
        signed(&|d| d.single().cert_id = pki.cert_id(&pki.card, OID_SHA1)),
    );
    seed(
        "hostile-ocsp.no_status-empty-list",
        signed(&|d| d.singles.clear()),
    );
    seed(
        "hostile-ocsp.several_statuses-good-twice",
        signed(&|d| d.singles.push(d.singles[0].clone())),
    );
    seed(
        "hostile-ocsp.several_statuses-good-and-revoked",
        signed(&|d| {
            let mut revoked = d.singles[0].clone();
            revoked.status = revoked_status(true);
            d.singles.push(revoked);
        }),
    );
    seed(
        "hostile-ocsp.too_many_statuses-seventeen",
        signed(&|d| d.singles = vec![d.singles[0].clone(); 17]),
    );
    let critical = extension(OID_UNKNOWN_EXTENSION, true, &der(NULL, &[]));
    seed(
        "hostile-ocsp.critical_extension-in-the-response",
        signed(&|d| d.extensions().push(critical.clone())),
    );
    seed(
        "hostile-ocsp.critical_extension-in-the-status",
        signed(&|d| d.single().extensions.push(critical.clone())),
    );
    seed(
        "hostile-ocsp.critical_extension-signed-mode",
        signed_input(
            &good
                .with(|d| d.extensions().push(critical.clone()))
                .encode(),
            false,
            false,
        ),
    );
    seed("hostile-ocsp.version-v2", signed(&|d| d.version = Some(1)));
    // v1 is the DEFAULT, so DER leaves it out; spelled out, it is not DER.
    seed(
        "hostile-ocsp.version-explicit-v1",
        signed(&|d| d.version = Some(0)),
    );
}

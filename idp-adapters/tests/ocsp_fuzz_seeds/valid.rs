//! Seeds that must be accepted: a current "good" for the card, in every shape a responder may
//! send one.

use super::*;

pub(super) fn seeds(pki: &Pki, out: &mut Vec<(String, Vec<u8>)>) {
    let mut seed = |name: &str, data: Vec<u8>| out.push((name.to_owned(), data));
    let issuer = &pki.issuer.key;
    let good = Data::good(pki);
    let by_issuer = |data: Data| raw(&signed_by(&data.encode(), issuer, &[]));
    let responder_named = good.with(|d| d.responder_id = by_name(&subject_of(&pki.responder)));

    seed("valid-raw-good-by-the-issuer", by_issuer(good.clone()));
    seed(
        "valid-raw-good-by-the-issuer-named-by-key",
        by_issuer(good.with(|d| d.responder_id = by_key(issuer))),
    );
    seed(
        "valid-raw-good-by-the-delegated-responder",
        raw(&signed_by(
            &responder_named.encode(),
            &pki.responder_key,
            &[&pki.responder],
        )),
    );
    seed(
        "valid-raw-good-by-the-delegated-responder-named-by-key",
        raw(&signed_by(
            &good
                .with(|d| d.responder_id = by_key(&pki.responder_key))
                .encode(),
            &pki.responder_key,
            &[&pki.responder],
        )),
    );
    seed(
        "valid-raw-good-without-a-nonce",
        by_issuer(good.with(|d| d.extensions = None)),
    );
    seed(
        "valid-raw-good-nonce-required-and-echoed",
        raw_input(&signed_by(&good.encode(), issuer, &[]), true),
    );
    seed(
        "valid-raw-good-recent-without-next-update",
        by_issuer(good.with(|d| {
            d.single().this_update = generalized(NOW - Duration::minutes(10));
            d.single().next_update = None;
        })),
    );
    seed(
        "valid-raw-good-among-other-statuses",
        by_issuer(good.with(|d| {
            let mut other = d.singles[0].clone();
            other.cert_id = pki.cert_id(&pki.other_card, OID_SHA256);
            other.status = revoked_status(true);
            d.singles.insert(0, other);
        })),
    );
    let unknown = extension(OID_UNKNOWN_EXTENSION, false, &der(NULL, &[]));
    seed(
        "valid-raw-good-unknown-noncritical-extensions",
        by_issuer(good.with(|d| {
            d.extensions().push(unknown.clone());
            d.single().extensions.push(unknown.clone());
        })),
    );
    seed(
        "valid-raw-good-produced-within-the-clock-skew",
        by_issuer(good.with(|d| d.produced_at = NOW + Duration::minutes(4))),
    );
    seed(
        "valid-signed-good-by-the-issuer",
        signed_input(&good.encode(), false, false),
    );
    seed(
        "valid-signed-good-by-the-delegated-responder",
        signed_input(&responder_named.encode(), true, false),
    );
    seed(
        "valid-signed-good-nonce-required",
        signed_input(&good.encode(), false, true),
    );
}

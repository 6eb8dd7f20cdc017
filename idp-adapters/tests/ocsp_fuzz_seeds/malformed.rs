//! The DER reader: on the response as received (raw mode), and inside the response data (signed
//! mode, so the seeds get past the signature to the field reader).

use super::*;

pub(super) fn seeds(pki: &Pki, out: &mut Vec<(String, Vec<u8>)>) {
    let mut seed =
        |what: &str, data: Vec<u8>| out.push((format!("hostile-ocsp.malformed-{what}"), data));
    let issuer = &pki.issuer.key;
    let good = Data::good(pki);
    let good_tbs = good.encode();
    let response = signed_by(&good_tbs, issuer, &[]);
    // The seeds below splice the outer header: 30 82 hi lo.
    assert_eq!(response[1], 0x82, "response length: adjust the seeds");
    let body = &response[4..];

    seed("empty-input", Vec::new());
    seed("mode-byte-only", vec![0]);
    seed("truncated", raw(&response[..response.len() / 2]));
    seed("trailing-byte", raw(&[&response[..], &[0]].concat()));
    seed(
        "indefinite-length",
        raw(&[&[0x30, 0x80][..], body, &[0, 0]].concat()),
    );
    seed(
        "length-not-shortest",
        raw(&[&[0x30, 0x83, 0x00][..], &response[2..]].concat()),
    );
    seed(
        "length-past-the-end",
        raw(&[&[0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF][..], body].concat()),
    );
    seed(
        "length-of-eight-bytes",
        raw(&[&[0x30, 0x88][..], &[0xFF; 8], body].concat()),
    );
    seed(
        "length-of-127-bytes",
        raw(&[&[0x30, 0xFF][..], &[0xFF; 127]].concat()),
    );
    seed("nested-sequences", raw(&nested_sequences(3000)));
    seed(
        "high-tag-number",
        raw(&[&[0x3F, 0x81, 0x00][..], &response[1..]].concat()),
    );
    seed(
        "set-instead-of-sequence",
        raw(&[&[0x31][..], &response[1..]].concat()),
    );
    seed(
        "pem-armour",
        raw(pem::encode(&pem::Pem::new("OCSP RESPONSE", response.clone())).as_bytes()),
    );
    seed(
        "response-bytes-missing",
        raw(&seq(&[der(ENUMERATED, &[0])])),
    );
    seed(
        "response-bytes-not-explicit",
        raw(&seq(&[
            der(ENUMERATED, &[0]),
            seq(&[der(OID, OID_OCSP_BASIC), der(OCTET_STRING, &[])]),
        ])),
    );
    let mut unused_bits = signature_bits(issuer, &good_tbs);
    unused_bits[0] = 1;
    seed(
        "signature-with-unused-bits",
        raw(&successful_response(&basic(
            &good_tbs,
            OID_ECDSA_SHA256,
            &unused_bits,
            &[],
        ))),
    );
    seed(
        "basic-response-with-a-trailing-element",
        raw(&successful_response(
            &[
                &basic(
                    &good_tbs,
                    OID_ECDSA_SHA256,
                    &signature_bits(issuer, &good_tbs),
                    &[],
                )[..],
                &der(NULL, &[]),
            ]
            .concat(),
        )),
    );
    seed(
        "responder-key-hash-of-19-bytes",
        raw(&signed_by(
            &good
                .with(|d| d.responder_id = der(CONTEXT_2, &der(OCTET_STRING, &[0; 19])))
                .encode(),
            issuer,
            &[],
        )),
    );
    seed(
        "responder-id-untagged",
        raw(&signed_by(
            &good
                .with(|d| d.responder_id = pki.issuer.subject.clone())
                .encode(),
            issuer,
            &[],
        )),
    );

    // Inside the signed response data.
    let mut inside = |what: &str, data: Data| {
        seed(
            &format!("signed-{what}"),
            signed_input(&data.encode(), false, false),
        )
    };
    let hour_ago = NOW - Duration::hours(1);
    inside(
        "two-nonces",
        good.with(|d| {
            let nonce = d.extensions()[0].clone();
            d.extensions().push(nonce);
        }),
    );
    inside(
        "empty-extension-list",
        good.with(|d| d.extensions = Some(vec![])),
    );
    inside(
        "critical-false-spelled-out",
        good.with(|d| {
            d.extensions().push(seq(&[
                der(OID, OID_UNKNOWN_EXTENSION),
                der(BOOLEAN, &[0]),
                der(OCTET_STRING, &[]),
            ]))
        }),
    );
    inside(
        "status-good-with-contents",
        good.with(|d| d.single().status = der(CONTEXT_0_PRIMITIVE, &[0])),
    );
    inside(
        "status-good-constructed",
        good.with(|d| d.single().status = der(CONTEXT_0, &[])),
    );
    inside(
        "revocation-reason-not-enumerated",
        good.with(|d| {
            d.single().status = der(
                CONTEXT_1,
                &[
                    generalized(NOW - Duration::days(2)),
                    der(CONTEXT_0, &integer(&[1])),
                ]
                .concat(),
            )
        }),
    );
    inside(
        "fractional-seconds",
        good.with(|d| d.single().this_update = der(GENERALIZED_TIME, b"20300301070000.5Z")),
    );
    inside(
        "utc-time",
        good.with(|d| d.single().this_update = der(UTC_TIME, &time_text(hour_ago).as_bytes()[2..])),
    );
    inside(
        "time-without-z",
        good.with(|d| {
            d.single().this_update = der(GENERALIZED_TIME, &time_text(hour_ago).as_bytes()[..14])
        }),
    );
    inside(
        "time-with-an-offset",
        good.with(|d| d.single().this_update = der(GENERALIZED_TIME, b"20300301080000+0100")),
    );
    inside(
        "time-february-30",
        good.with(|d| d.single().this_update = der(GENERALIZED_TIME, b"20300230070000Z")),
    );
    inside(
        "cert-id-hash-parameters-not-null",
        good.with(|d| {
            let id = pki.cert_id(&pki.card, OID_SHA256);
            let null = der(NULL, &[]);
            let at = id.windows(2).position(|w| w == null.as_slice()).unwrap();
            let mut edited = id.clone();
            edited[at] = OCTET_STRING;
            d.single().cert_id = edited;
        }),
    );
    inside(
        "cert-id-with-an-extra-field",
        good.with(|d| {
            let id = pki.cert_id(&pki.card, OID_SHA256);
            d.single().cert_id = der(SEQUENCE, &[&id[2..], &der(NULL, &[])[..]].concat());
        }),
    );
    inside(
        "trailing-element",
        good.with(|d| d.trailing.push(der(NULL, &[]))),
    );
    inside(
        "nested-sequences-as-a-status",
        good.with(|d| d.singles[0].status = nested_sequences(1000)),
    );
    let mut tbs_seed = |what: &str, tbs: Vec<u8>| {
        seed(&format!("signed-{what}"), signed_input(&tbs, false, false))
    };
    tbs_seed("nested-sequences", nested_sequences(3000));
    tbs_seed("empty-tbs", Vec::new());
    assert_eq!(good_tbs[1], 0x82, "tbs length: adjust the seeds");
    tbs_seed(
        "huge-length",
        [&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xF0][..], &good_tbs[4..]].concat(),
    );
    tbs_seed("truncated-tbs", good_tbs[..good_tbs.len() - 1].to_vec());
}

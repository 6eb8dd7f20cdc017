//! samael-oracle: feed one SAML Response to samael's service provider and say whether it accepts it.
//!
//! ```text
//! samael-oracle --response FILE --idp-metadata FILE --sp-entity-id ID --acs-url URL --request-id ID
//! ```
//!
//! `--response` holds the Response XML (decoded, not base64); `--idp-metadata` the IdP metadata as
//! served by the gateway (an `md:EntityDescriptor` with an IDPSSODescriptor whose
//! `KeyDescriptor use="signing"` certificates are the only keys samael may verify with).
//!
//! Success: `{"ok": true, "name_id": ..., "attributes": {"Name": ["v", ...]}, "authn_context": ...,
//! "session_index": ...}` on stdout, exit 0. Refusal (or any error, including bad usage):
//! `{"ok": false, "error": "..."}` on stdout, exit 1. Nothing else ever exits 0.
//!
//! samael's own checks (0.0.22, `parse_xml_response` with the default
//! `ReduceMode::ValidateAndMarkNoAncestors`): every `ds:Signature` in the document must verify
//! with an IdP signing certificate from the metadata (xmlsec), with only allowlisted
//! SignatureMethod/DigestMethod algorithms; only verified content is kept and parsed; then, on
//! the Assertion: IssueInstant age (90 s), Issuer == metadata entityID, Conditions time window,
//! AudienceRestriction (when present), a bearer SubjectConfirmationData with Recipient == ACS,
//! NotOnOrAfter and InResponseTo == request ID; on the Response (only when the Response itself is
//! signed): Destination, InResponseTo, IssueInstant age, Issuer, Status.
//!
//! One guard is added here, because samael fails open on it: when the metadata yields no IdP
//! signing certificate (no KeyDescriptor, or only `use="encryption"` ones), samael skips signature
//! verification entirely and validates the raw document; the oracle refuses instead.
//!
//! Nothing else is checked outside samael: the point is what samael itself accepts. Known samael
//! leniencies (accepted today, see README.md and selfcheck.sh): Response-level fields of an unsigned
//! Response envelope are not checked at all, extra unsigned Assertions are ignored, and the input is
//! parsed by libxml2 in recover mode (malformed XML around a valid signed Assertion passes).

use samael::crypto::{AllowedSignatureAlgorithm, Crypto, CryptoProvider, ReduceMode};
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider};
use serde_json::{json, Map, Value};
use std::process::ExitCode;

const USAGE: &str = "usage: samael-oracle --response FILE --idp-metadata FILE --sp-entity-id ID --acs-url URL --request-id ID";

struct Args {
    response: String,
    idp_metadata: String,
    sp_entity_id: String,
    acs_url: String,
    request_id: String,
}

fn parse_args() -> Result<Args, String> {
    let mut response = None;
    let mut idp_metadata = None;
    let mut sp_entity_id = None;
    let mut acs_url = None;
    let mut request_id = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--response" => &mut response,
            "--idp-metadata" => &mut idp_metadata,
            "--sp-entity-id" => &mut sp_entity_id,
            "--acs-url" => &mut acs_url,
            "--request-id" => &mut request_id,
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        };
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{flag} given twice; {USAGE}"));
        }
    }
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("missing {name}; {USAGE}"));
    Ok(Args {
        response: need(response, "--response")?,
        idp_metadata: need(idp_metadata, "--idp-metadata")?,
        sp_entity_id: need(sp_entity_id, "--sp-entity-id")?,
        acs_url: need(acs_url, "--acs-url")?,
        request_id: need(request_id, "--request-id")?,
    })
}

fn read(path: &str, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {path:?}: {e}"))
}

/// Renders an error and its whole `source()` chain (samael wraps xmlsec/quick-xml errors).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn run() -> Result<Value, String> {
    let args = parse_args()?;
    let response_xml = read(&args.response, "response")?;
    let metadata_xml = read(&args.idp_metadata, "IdP metadata")?;

    let idp_metadata = metadata_xml
        .parse::<EntityDescriptor>()
        .map_err(|e| format!("IdP metadata: {}", chain(&e)))?;

    let sp = ServiceProvider {
        entity_id: Some(args.sp_entity_id.clone()),
        acs_url: Some(args.acs_url.clone()),
        idp_metadata,
        allow_idp_initiated: false,
        // samael 0.0.22 has an allowlist (checked on every ds:Signature before xmlsec runs, and the
        // Reference DigestMethods must match). SHA-256 only; ECDSA-SHA256 too because the gateway
        // can be configured with a P-256 signing key (certs/src/algorithms.rs).
        allowed_signature_algorithms: Some(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha256,
        ]),
        ..ServiceProvider::default()
    };

    // samael skips signature verification altogether when the metadata yields no signing
    // certificate (it then parses the raw, unverified document): never let that happen.
    let certs = match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => certs,
        Ok(_) => return Err(
            "IdP metadata has no signing certificate (samael would skip signature verification)"
                .into(),
        ),
        Err(e) => return Err(format!("IdP metadata certificates: {}", chain(&e))),
    };

    let request_ids = [args.request_id.as_str()];
    let assertion = match sp.parse_xml_response(&response_xml, Some(&request_ids)) {
        Ok(assertion) => assertion,
        Err(e @ SpError::FailedToValidateSignature) => {
            // samael drops the cause of a signature failure; ask its crypto layer again, with the
            // same inputs, only to say why. The verdict stays samael's refusal either way.
            let cause = match Crypto::reduce_xml_to_signed_with_allowed_algorithms(
                &response_xml,
                &certs,
                ReduceMode::default(),
                sp.allowed_signature_algorithms.as_deref(),
            ) {
                Err(c) => chain(&c),
                Ok(_) => "no further detail".to_string(),
            };
            return Err(format!("samael refused the response: {e} ({cause})"));
        }
        Err(e) => return Err(format!("samael refused the response: {}", chain(&e))),
    };
    Ok(describe(&assertion))
}

fn describe(a: &Assertion) -> Value {
    let name_id = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.clone());
    let mut attributes = Map::new();
    for statement in a.attribute_statements.iter().flatten() {
        for attr in &statement.attributes {
            let Some(name) = &attr.name else { continue };
            let entry = attributes
                .entry(name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = entry {
                for v in &attr.values {
                    values.push(Value::String(v.value.clone().unwrap_or_default()));
                }
            }
        }
    }
    let first_authn = a.authn_statements.as_ref().and_then(|v| v.first());
    let authn_context = first_authn
        .and_then(|s| s.authn_context.as_ref())
        .and_then(|c| c.value.as_ref())
        .and_then(|r| r.value.clone());
    let session_index = first_authn.and_then(|s| s.session_index.clone());
    json!({
        "ok": true,
        "name_id": name_id,
        "attributes": attributes,
        "authn_context": authn_context,
        "session_index": session_index,
    })
}

fn main() -> ExitCode {
    // A panic inside samael must not look like success either: it aborts with a non-zero code,
    // but print the JSON refusal first so the caller sees why.
    std::panic::set_hook(Box::new(|info| {
        let out = json!({"ok": false, "error": format!("panic: {info}")});
        println!("{out}");
    }));
    match run() {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", json!({"ok": false, "error": e}));
            ExitCode::FAILURE
        }
    }
}

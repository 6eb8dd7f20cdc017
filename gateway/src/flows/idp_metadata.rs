//! The gateway's own signed IdP metadata, as served: signed with a `validUntil` of the configured
//! validity, and signed again once half of it has passed, so that what the gateway serves is
//! never expired however long it runs. The next signing happens on the first request after that
//! point (read from the injected clock), so a test that moves the clock sees it at once.

use super::{FlowError, Idp};
use certs::Certificate;
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

/// One signed metadata document and when it should be replaced.
#[derive(Debug)]
pub struct SignedMetadata {
    pub xml: Arc<str>,
    pub signed_at: OffsetDateTime,
    pub valid_until: OffsetDateTime,
}

impl SignedMetadata {
    fn refresh_due(&self) -> OffsetDateTime {
        self.signed_at + (self.valid_until - self.signed_at) / 2
    }
}

/// The served document, replaced when it is due.
#[derive(Debug, Default)]
pub struct MetadataDocument {
    current: RwLock<Option<Arc<SignedMetadata>>>,
}

impl MetadataDocument {
    pub fn new() -> Self {
        Self::default()
    }
}

/// The metadata to serve at `now`: the current document, or a newly signed one when the
/// current one is past half its validity (or there is none yet).
pub fn published_metadata(
    idp: &Idp,
    doc: &MetadataDocument,
    now: OffsetDateTime,
) -> Result<Arc<SignedMetadata>, FlowError> {
    if let Some(current) = read(doc) {
        if now < current.refresh_due() && now >= current.signed_at {
            return Ok(current);
        }
    }
    let fresh = Arc::new(sign(idp, now)?);
    let mut slot = match doc.current.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    // Of two requests that both found the document due, the later signing wins; both serve
    // a valid document.
    *slot = Some(fresh.clone());
    tracing::info!(valid_until = %fresh.valid_until, "IdP metadata signed");
    Ok(fresh)
}

fn read(doc: &MetadataDocument) -> Option<Arc<SignedMetadata>> {
    match doc.current.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn sign(idp: &Idp, now: OffsetDateTime) -> Result<SignedMetadata, FlowError> {
    let valid_for = idp.settings.metadata_validity.max(Duration::hours(1));
    let published = idp.keys.published(now);
    let refs: Vec<&Certificate> = published.iter().collect();
    let doc_id = certs::random_id(idp.rng.as_ref())?;
    let valid_until = now + valid_for;
    let xml = metadata::idp_metadata_xml(
        &metadata::IdpMetadataParams {
            entity_id: &idp.entity_id,
            sso_url: &idp.sso_url,
            slo_url: Some(&idp.slo_url),
            signing_certificates: &refs,
            want_authn_requests_signed: idp.settings.require_signed_requests,
            valid_until,
            document_id: &doc_id,
            organization_name: &idp.settings.organization_name,
        },
        &idp.keys.rsa.active().key,
        &idp.keys.rsa.active().cert,
    )
    .map_err(FlowError::Build)?;
    Ok(SignedMetadata {
        xml: xml.into(),
        signed_at: now,
        valid_until,
    })
}

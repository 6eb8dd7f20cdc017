//! Enveloped XML signatures, strictly: one signature, a direct child of the element trusted, one
//! reference to that element's unique ID, only enveloped-signature + exclusive c14n transforms,
//! algorithms from an allowlist, keys only from the caller (metadata or config), never KeyInfo.

use crate::c14n::{canonicalize, EXC_C14N};
use crate::error::SamlError;
use crate::xml::{self, is, NS_DS, NS_SAML};
use base64::Engine;
use certs::{Certificate, DigestAlgorithm, SignatureAlgorithm, SigningKey};
use roxmltree::Node;

pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Proof that the element with `element_id` carried a valid signature by one of the trusted keys.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    pub element_id: String,
    pub algorithm: SignatureAlgorithm,
    pub signer_fingerprint: [u8; 32],
    node: roxmltree::NodeId,
}

impl VerifiedSignature {
    /// Does this proof cover `node`? Readers call this before trusting a subtree.
    pub fn covers(&self, node: Node<'_, '_>) -> bool {
        node.id() == self.node
    }
}

/// The `ID` attribute of a SAML element.
pub fn element_id<'a>(node: Node<'a, '_>) -> Result<&'a str, SamlError> {
    node.attribute("ID").ok_or(SamlError::Missing("ID"))
}

/// Does `node` have a direct ds:Signature child?
pub fn has_signature(node: Node<'_, '_>) -> bool {
    node.children().any(|c| is(c, NS_DS, "Signature"))
}

/// Verify the enveloped signature of `element` against `trusted` certificates.
pub fn verify_enveloped(
    element: Node<'_, '_>,
    trusted: &[Certificate],
) -> Result<VerifiedSignature, SamlError> {
    if trusted.is_empty() {
        return Err(SamlError::NoTrustedKey);
    }
    let mut sigs = element.children().filter(|c| is(*c, NS_DS, "Signature"));
    let sig = sigs.next().ok_or(SamlError::SignatureMissing)?;
    if sigs.next().is_some() {
        return Err(SamlError::SignatureMalformed(
            "more than one Signature".into(),
        ));
    }
    let id = element_id(element)?;
    if id.is_empty() {
        return Err(SamlError::Missing("ID"));
    }
    ensure_unique_id(element, id)?;

    let parts = SignatureParts::read(sig)?;
    if parts.reference_uri.strip_prefix('#') != Some(id) {
        return Err(SamlError::ReferenceMismatch);
    }
    let canonical = canonicalize(element, Some(sig.id()), &parts.reference_prefixes);
    let digest = parts.digest_alg.digest(canonical.as_bytes());
    if !certs::constant_time_eq(&digest, &parts.digest_value) {
        return Err(SamlError::DigestMismatch);
    }
    let signed_info = canonicalize(parts.signed_info, None, &parts.signed_info_prefixes);
    for cert in trusted {
        if cert
            .verifying_key()
            .verify(
                parts.sig_alg,
                signed_info.as_bytes(),
                &parts.signature_value,
            )
            .is_ok()
        {
            return Ok(VerifiedSignature {
                element_id: id.to_owned(),
                algorithm: parts.sig_alg,
                signer_fingerprint: cert.sha256_fingerprint(),
                node: element.id(),
            });
        }
    }
    Err(SamlError::SignatureRejected)
}

/// Sign our own serialized element (`xml`, whose root has an `ID`): the Signature is placed after
/// the root's `saml:Issuer` child when there is one, else as the first child. Returns the signed
/// document; the bytes returned are the bytes to send.
pub fn sign_enveloped(
    xml: &str,
    key: &SigningKey,
    cert: &Certificate,
) -> Result<String, SamlError> {
    let doc = xml::parse_strict(xml, xml::ParseLimits::METADATA)?;
    let root = doc.root_element();
    let id = element_id(root)?;
    let digest_alg = DigestAlgorithm::Sha256;
    let digest = digest_alg.digest(canonicalize(root, None, &[]).as_bytes());
    let sig_alg = key.algorithm();

    let mut w = xml::XmlWriter::new();
    w.start("ds:SignedInfo").attr("xmlns:ds", NS_DS);
    w.start("ds:CanonicalizationMethod")
        .attr("Algorithm", EXC_C14N)
        .end();
    w.start("ds:SignatureMethod")
        .attr("Algorithm", sig_alg.uri())
        .end();
    w.start("ds:Reference").attr("URI", &format!("#{id}"));
    w.start("ds:Transforms");
    w.start("ds:Transform").attr("Algorithm", ENVELOPED).end();
    w.start("ds:Transform").attr("Algorithm", EXC_C14N).end();
    w.end();
    w.start("ds:DigestMethod")
        .attr("Algorithm", digest_alg.uri())
        .end();
    w.leaf("ds:DigestValue", &B64.encode(digest));
    w.end().end();
    let signed_info = w.finish();
    let si_doc = xml::parse_strict(&signed_info, xml::ParseLimits::MESSAGE)?;
    let signature_value = key.sign(canonicalize(si_doc.root_element(), None, &[]).as_bytes())?;

    let mut s = xml::XmlWriter::new();
    s.start("ds:Signature").attr("xmlns:ds", NS_DS);
    s.raw_trusted(&signed_info);
    s.leaf("ds:SignatureValue", &B64.encode(signature_value));
    s.start("ds:KeyInfo")
        .start("ds:X509Data")
        .leaf("ds:X509Certificate", &cert.to_base64());
    let signature = s.finish();

    let at = match root.children().find(|c| is(*c, NS_SAML, "Issuer")) {
        Some(issuer) => issuer.range().end,
        None => root
            .first_child()
            .map(|c| c.range().start)
            .ok_or(SamlError::Invalid("cannot sign an empty element".into()))?,
    };
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(&xml[..at]);
    out.push_str(&signature);
    out.push_str(&xml[at..]);
    Ok(out)
}

struct SignatureParts<'a, 'i> {
    signed_info: Node<'a, 'i>,
    signed_info_prefixes: Vec<&'a str>,
    sig_alg: SignatureAlgorithm,
    reference_uri: &'a str,
    reference_prefixes: Vec<&'a str>,
    digest_alg: DigestAlgorithm,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

impl<'a, 'i> SignatureParts<'a, 'i> {
    fn read(sig: Node<'a, 'i>) -> Result<Self, SamlError> {
        let mal = |m: &str| SamlError::SignatureMalformed(m.to_owned());
        let elems: Vec<Node<'a, 'i>> = sig.children().filter(|c| c.is_element()).collect();
        let (signed_info, sig_value) = match elems.as_slice() {
            [si, sv] | [si, sv, _]
                if is(*si, NS_DS, "SignedInfo") && is(*sv, NS_DS, "SignatureValue") =>
            {
                (*si, *sv)
            }
            _ => {
                return Err(mal(
                    "Signature must be SignedInfo, SignatureValue and optionally KeyInfo",
                ))
            }
        };
        if let [_, _, ki] = elems.as_slice() {
            if !is(*ki, NS_DS, "KeyInfo") {
                return Err(mal("unexpected element in Signature"));
            }
        }
        let si: Vec<Node<'a, 'i>> = signed_info.children().filter(|c| c.is_element()).collect();
        let (c14n, method, reference) = match si.as_slice() {
            [c, m, r]
                if is(*c, NS_DS, "CanonicalizationMethod")
                    && is(*m, NS_DS, "SignatureMethod")
                    && is(*r, NS_DS, "Reference") =>
            {
                (*c, *m, *r)
            }
            _ => return Err(mal(
                "SignedInfo must hold one CanonicalizationMethod, SignatureMethod and Reference",
            )),
        };
        let signed_info_prefixes = exc_c14n_prefixes(c14n)?;
        let alg_uri = method.attribute("Algorithm").unwrap_or("");
        let sig_alg = SignatureAlgorithm::from_uri(alg_uri)
            .ok_or_else(|| SamlError::AlgorithmNotAllowed(crate::error::untrusted_text(alg_uri)))?;
        if method.children().any(|c| c.is_element()) {
            return Err(mal("SignatureMethod parameters are not accepted"));
        }

        let reference_uri = reference
            .attribute("URI")
            .ok_or(SamlError::ReferenceMismatch)?;
        let re: Vec<Node<'a, 'i>> = reference.children().filter(|c| c.is_element()).collect();
        let (transforms, dm, dv) = match re.as_slice() {
            [t, m, v]
                if is(*t, NS_DS, "Transforms")
                    && is(*m, NS_DS, "DigestMethod")
                    && is(*v, NS_DS, "DigestValue") =>
            {
                (*t, *m, *v)
            }
            _ => {
                return Err(mal(
                    "Reference must hold Transforms, DigestMethod and DigestValue",
                ))
            }
        };
        let tl: Vec<Node<'a, 'i>> = transforms.children().filter(|c| c.is_element()).collect();
        let reference_prefixes = match tl.as_slice() {
            [t1, t2]
                if is(*t1, NS_DS, "Transform")
                    && is(*t2, NS_DS, "Transform")
                    && t1.attribute("Algorithm") == Some(ENVELOPED)
                    && !t1.children().any(|c| c.is_element()) =>
            {
                exc_c14n_prefixes(*t2)?
            }
            _ => {
                return Err(mal(
                    "only enveloped-signature followed by exclusive c14n is accepted",
                ))
            }
        };
        let dalg = dm.attribute("Algorithm").unwrap_or("");
        let digest_alg = DigestAlgorithm::from_uri(dalg)
            .ok_or_else(|| SamlError::AlgorithmNotAllowed(crate::error::untrusted_text(dalg)))?;
        let digest_value = decode_b64(&xml::simple_text(dv)?, "DigestValue")?;
        let signature_value = decode_b64(&xml::simple_text(sig_value)?, "SignatureValue")?;
        Ok(SignatureParts {
            signed_info,
            signed_info_prefixes,
            sig_alg,
            reference_uri,
            reference_prefixes,
            digest_alg,
            digest_value,
            signature_value,
        })
    }
}

/// The element must name exclusive c14n; returns its InclusiveNamespaces PrefixList.
fn exc_c14n_prefixes<'a>(node: Node<'a, '_>) -> Result<Vec<&'a str>, SamlError> {
    let alg = node.attribute("Algorithm").unwrap_or("");
    if alg != EXC_C14N {
        return Err(SamlError::AlgorithmNotAllowed(
            crate::error::untrusted_text(alg),
        ));
    }
    let kids: Vec<Node<'a, '_>> = node.children().filter(|c| c.is_element()).collect();
    match kids.as_slice() {
        [] => Ok(Vec::new()),
        [incl] if is(*incl, EXC_C14N, "InclusiveNamespaces") => Ok(incl
            .attribute("PrefixList")
            .unwrap_or("")
            .split_ascii_whitespace()
            .collect()),
        _ => Err(SamlError::SignatureMalformed(
            "unexpected transform parameters".into(),
        )),
    }
}

fn ensure_unique_id(element: Node<'_, '_>, id: &str) -> Result<(), SamlError> {
    let count = element
        .document()
        .descendants()
        .filter(|n| n.is_element())
        .flat_map(|n| n.attributes())
        .filter(|a| matches!(a.name(), "ID" | "Id" | "id" | "AssertionID") && a.value() == id)
        .count();
    if count == 1 {
        Ok(())
    } else {
        Err(SamlError::DuplicateId)
    }
}

fn decode_b64(text: &str, what: &'static str) -> Result<Vec<u8>, SamlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact.as_bytes())
        .map_err(|_| SamlError::Base64(what))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

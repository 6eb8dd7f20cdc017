//! HTTP-Redirect (DEFLATE, query signature over the raw octets) and HTTP-POST (base64) bindings,
//! with caps on every length so that no input makes us allocate or inflate without bound.

use crate::error::SamlError;
use base64::Engine;
use certs::{Certificate, SignatureAlgorithm, SigningKey};
use std::io::Read;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Length caps for bound messages.
#[derive(Clone, Copy, Debug)]
pub struct BindingLimits {
    /// Raw query string or encoded form field.
    pub max_encoded: usize,
    /// Inflated / decoded XML.
    pub max_xml: usize,
    pub max_relay_state: usize,
}

impl Default for BindingLimits {
    fn default() -> Self {
        BindingLimits {
            max_encoded: 64 * 1024,
            max_xml: 128 * 1024,
            max_relay_state: 1024,
        }
    }
}

/// Which message parameter a binding carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageParam {
    SamlRequest,
    SamlResponse,
}

impl MessageParam {
    pub fn name(self) -> &'static str {
        match self {
            MessageParam::SamlRequest => "SAMLRequest",
            MessageParam::SamlResponse => "SAMLResponse",
        }
    }
}

/// A message received by HTTP-Redirect, decoded but not yet trusted.
#[derive(Debug)]
pub struct RedirectMessage {
    pub xml: String,
    pub relay_state: Option<String>,
    pub signature: Option<RedirectSignature>,
}

/// The detached query signature of a Redirect message and the exact octets it covers.
#[derive(Debug)]
pub struct RedirectSignature {
    pub sig_alg: String,
    signature: Vec<u8>,
    signed_octets: String,
}

impl RedirectSignature {
    /// Verify against trusted keys (from metadata). SHA-1 and unknown algorithms are refused.
    pub fn verify(&self, trusted: &[Certificate]) -> Result<SignatureAlgorithm, SamlError> {
        if trusted.is_empty() {
            return Err(SamlError::NoTrustedKey);
        }
        let alg = SignatureAlgorithm::from_uri(&self.sig_alg).ok_or_else(|| {
            SamlError::AlgorithmNotAllowed(crate::error::untrusted_text(&self.sig_alg))
        })?;
        for cert in trusted {
            if cert
                .verifying_key()
                .verify(alg, self.signed_octets.as_bytes(), &self.signature)
                .is_ok()
            {
                return Ok(alg);
            }
        }
        Err(SamlError::SignatureRejected)
    }
}

/// Decode an HTTP-Redirect message from the raw query string exactly as received.
pub fn decode_redirect(
    raw_query: &str,
    param: MessageParam,
    limits: &BindingLimits,
) -> Result<RedirectMessage, SamlError> {
    if raw_query.len() > limits.max_encoded {
        return Err(SamlError::TooLarge {
            what: "query string",
            limit: limits.max_encoded,
        });
    }
    let mut message: Option<(&str, String)> = None;
    let mut relay: Option<(&str, String)> = None;
    let mut sig_alg: Option<(&str, String)> = None;
    let mut signature: Option<(&str, String)> = None;
    for piece in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = form_decode(raw_key);
        let slot = match key.as_str() {
            k if k == param.name() => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SamlError::Binding(format!("parameter {key} repeated")));
        }
        *slot = Some((raw_value, form_decode(raw_value)));
    }
    let (raw_msg, msg) = message.ok_or(SamlError::Missing(
        "SAMLRequest/SAMLResponse query parameter",
    ))?;
    if let Some((_, rs)) = &relay {
        if rs.len() > limits.max_relay_state {
            return Err(SamlError::TooLarge {
                what: "RelayState",
                limit: limits.max_relay_state,
            });
        }
    }
    let deflated = decode_b64(&msg, "redirect message")?;
    let xml = inflate_capped(&deflated, limits.max_xml)?;

    let signature = match (sig_alg, signature) {
        (None, None) => None,
        (Some((raw_alg, alg)), Some((_, sig))) => {
            let mut octets = format!("{}={}", param.name(), raw_msg);
            if let Some((raw_rs, _)) = relay {
                octets.push_str("&RelayState=");
                octets.push_str(raw_rs);
            }
            octets.push_str("&SigAlg=");
            octets.push_str(raw_alg);
            Some(RedirectSignature {
                sig_alg: alg,
                signature: decode_b64(&sig, "Signature")?,
                signed_octets: octets,
            })
        }
        _ => {
            return Err(SamlError::Binding(
                "SigAlg and Signature must come together".into(),
            ))
        }
    };
    Ok(RedirectMessage {
        xml,
        relay_state: relay.map(|(_, v)| v),
        signature,
    })
}

/// Encode a message for HTTP-Redirect to `endpoint`, signing the query when a key is given.
pub fn encode_redirect(
    endpoint: &str,
    xml: &str,
    param: MessageParam,
    relay_state: Option<&str>,
    key: Option<&SigningKey>,
) -> Result<String, SamlError> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, xml.as_bytes())
        .map_err(|e| SamlError::Inflate(e.to_string()))?;
    let deflated = enc
        .finish()
        .map_err(|e| SamlError::Inflate(e.to_string()))?;
    let mut query = format!("{}={}", param.name(), form_encode(&B64.encode(deflated)));
    if let Some(rs) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&form_encode(rs));
    }
    if let Some(key) = key {
        query.push_str("&SigAlg=");
        query.push_str(&form_encode(key.algorithm().uri()));
        let sig = key.sign(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&form_encode(&B64.encode(sig)));
    }
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}{query}"))
}

/// Decode an HTTP-POST message field (base64 of the XML, line breaks tolerated).
pub fn decode_post(field: &str, limits: &BindingLimits) -> Result<String, SamlError> {
    if field.len() > limits.max_encoded {
        return Err(SamlError::TooLarge {
            what: "POST message",
            limit: limits.max_encoded,
        });
    }
    let bytes = decode_b64(field, "POST message")?;
    if bytes.len() > limits.max_xml {
        return Err(SamlError::TooLarge {
            what: "decoded message",
            limit: limits.max_xml,
        });
    }
    String::from_utf8(bytes).map_err(|_| SamlError::Binding("message is not UTF-8".into()))
}

/// Base64 for the POST binding.
pub fn encode_post(xml: &str) -> String {
    B64.encode(xml.as_bytes())
}

/// Inflate raw DEFLATE data, refusing output longer than `max`.
pub fn inflate_capped(data: &[u8], max: usize) -> Result<String, SamlError> {
    let mut out = Vec::new();
    let decoder = flate2::read::DeflateDecoder::new(data);
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| SamlError::Inflate(e.to_string()))?;
    if out.len() > max {
        return Err(SamlError::TooLarge {
            what: "inflated message",
            limit: max,
        });
    }
    String::from_utf8(out).map_err(|_| SamlError::Binding("message is not UTF-8".into()))
}

fn decode_b64(s: &str, what: &'static str) -> Result<Vec<u8>, SamlError> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact.as_bytes())
        .map_err(|_| SamlError::Base64(what))
}

fn form_decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// Percent-encode everything but unreserved characters (what most SAML stacks send).
pub fn form_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> &str {
        url.split_once('?').unwrap().1
    }

    #[test]
    fn redirect_roundtrip_unsigned() {
        let url = encode_redirect(
            "https://idp/sso",
            "<a>x</a>",
            MessageParam::SamlRequest,
            Some("r&s=<x>"),
            None,
        )
        .unwrap();
        let m = decode_redirect(
            query_of(&url),
            MessageParam::SamlRequest,
            &BindingLimits::default(),
        )
        .unwrap();
        assert_eq!(m.xml, "<a>x</a>");
        assert_eq!(m.relay_state.as_deref(), Some("r&s=<x>"));
        assert!(m.signature.is_none());
    }

    #[test]
    fn deflate_bomb_is_capped() {
        let big = "A".repeat(10 * 1024 * 1024);
        let url = encode_redirect(
            "https://idp/sso",
            &big,
            MessageParam::SamlRequest,
            None,
            None,
        )
        .unwrap();
        let q = query_of(&url);
        assert!(q.len() < 64 * 1024, "bomb compresses small: {}", q.len());
        let err =
            decode_redirect(q, MessageParam::SamlRequest, &BindingLimits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                SamlError::TooLarge {
                    what: "inflated message",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn repeated_parameters_and_half_signatures_are_refused() {
        let url = encode_redirect(
            "https://idp/sso",
            "<a/>",
            MessageParam::SamlRequest,
            None,
            None,
        )
        .unwrap();
        let q = query_of(&url);
        let doubled = format!("{q}&{q}");
        assert!(decode_redirect(
            &doubled,
            MessageParam::SamlRequest,
            &BindingLimits::default()
        )
        .is_err());
        let half = format!("{q}&SigAlg=x");
        assert!(
            decode_redirect(&half, MessageParam::SamlRequest, &BindingLimits::default()).is_err()
        );
        assert!(decode_redirect(
            "RelayState=x",
            MessageParam::SamlRequest,
            &BindingLimits::default()
        )
        .is_err());
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let lim = BindingLimits::default();
        let huge = "A".repeat(lim.max_encoded + 1);
        assert!(matches!(
            decode_post(&huge, &lim),
            Err(SamlError::TooLarge { .. })
        ));
        assert!(matches!(
            decode_redirect(
                &format!("SAMLRequest={huge}"),
                MessageParam::SamlRequest,
                &lim
            ),
            Err(SamlError::TooLarge { .. })
        ));
    }

    #[test]
    fn post_roundtrip_tolerates_line_breaks() {
        let enc = encode_post("<a>ä</a>");
        let wrapped = format!("{}\r\n{}", &enc[..4], &enc[4..]);
        assert_eq!(
            decode_post(&wrapped, &BindingLimits::default()).unwrap(),
            "<a>ä</a>"
        );
        assert!(decode_post("!!!", &BindingLimits::default()).is_err());
    }
}

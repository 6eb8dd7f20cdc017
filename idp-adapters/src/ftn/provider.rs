//! What the adapter knows about the bank between logins: its endpoints (from discovery or the
//! configuration) and its public keys, refreshed by the gateway and, on an unknown `kid`, by a
//! rate-limited refetch.

use std::sync::Arc;

use jose::{parse_claims, JwkSet};
use time::OffsetDateTime;

use crate::ftn::config::{url_allowed, Endpoints, FtnBankConfig};
use crate::ftn::error::FtnError;
use crate::ftn::http::{HttpClient, HttpMethod, HttpRequest, HttpResponse};

/// Largest discovery document or JWK set accepted.
pub(crate) const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Most keys accepted in a bank's JWK set.
pub(crate) const MAX_JWKS_KEYS: usize = 32;

/// The endpoints used for logins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedEndpoints {
    pub(crate) authorization: String,
    pub(crate) token: String,
    pub(crate) userinfo: Option<String>,
    pub(crate) jwks_uri: String,
    /// Discovery said `authorization_response_iss_parameter_supported: true` (RFC 9207).
    pub(crate) iss_param_required: bool,
}

/// A snapshot of the bank's metadata and keys.
#[derive(Clone, Debug)]
pub(crate) struct BankState {
    pub(crate) endpoints: ResolvedEndpoints,
    pub(crate) keys: Arc<JwkSet>,
    pub(crate) fetched_at: OffsetDateTime,
}

/// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery §4: a trailing `/` on
/// the issuer is dropped before appending).
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

fn get(url: &str, accept: &str) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Get,
        url: url.to_owned(),
        headers: vec![("Accept".to_owned(), accept.to_owned())],
        form: None,
        body: None,
    }
}

/// Whether a `Content-Type` value names `expected` (parameters and case ignored).
pub(crate) fn content_type_is(content_type: Option<&str>, expected: &str) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(expected))
}

/// Reads the endpoints from the configuration or from discovery.
pub(crate) async fn resolve_endpoints(
    cfg: &FtnBankConfig,
    http: &dyn HttpClient,
) -> Result<ResolvedEndpoints, FtnError> {
    match &cfg.endpoints {
        Endpoints::Static {
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint,
            jwks_uri,
        } => Ok(ResolvedEndpoints {
            authorization: authorization_endpoint.clone(),
            token: token_endpoint.clone(),
            userinfo: userinfo_endpoint.clone(),
            jwks_uri: jwks_uri.clone(),
            iss_param_required: false,
        }),
        Endpoints::Discovery => {
            let response = http
                .send(get(&discovery_url(&cfg.issuer), "application/json"))
                .await
                .map_err(|_| FtnError::Discovery("request failed"))?;
            parse_discovery(cfg, &response)
        }
    }
}

fn parse_discovery(
    cfg: &FtnBankConfig,
    response: &HttpResponse,
) -> Result<ResolvedEndpoints, FtnError> {
    if response.status != 200 {
        return Err(FtnError::Discovery("status is not 200"));
    }
    if response.body.len() > MAX_METADATA_BYTES {
        return Err(FtnError::Discovery("document too large"));
    }
    let doc = parse_claims(&response.body).map_err(|_| FtnError::Discovery("not a JSON object"))?;
    match doc.get_str("issuer") {
        Some(issuer) if issuer == cfg.issuer => {}
        _ => {
            return Err(FtnError::Discovery(
                "issuer differs from the configured one",
            ))
        }
    }
    let endpoint = |name: &'static str| -> Result<Option<String>, FtnError> {
        match doc.get(name) {
            None => Ok(None),
            Some(value) => match value.as_str() {
                Some(url) if url_allowed(url, true) => Ok(Some(url.to_owned())),
                _ => Err(FtnError::Discovery(
                    "an endpoint is not an https (or loopback http) URL",
                )),
            },
        }
    };
    let authorization = endpoint("authorization_endpoint")?
        .ok_or(FtnError::Discovery("authorization_endpoint missing"))?;
    let token = endpoint("token_endpoint")?.ok_or(FtnError::Discovery("token_endpoint missing"))?;
    let jwks_uri = endpoint("jwks_uri")?.ok_or(FtnError::Discovery("jwks_uri missing"))?;
    let userinfo = endpoint("userinfo_endpoint")?;
    if cfg.userinfo && userinfo.is_none() {
        return Err(FtnError::Discovery("userinfo_endpoint missing"));
    }
    let iss_param_required = doc
        .get_bool("authorization_response_iss_parameter_supported")
        .unwrap_or(false);
    Ok(ResolvedEndpoints {
        authorization,
        token,
        userinfo,
        jwks_uri,
        iss_param_required,
    })
}

/// Fetches and reads the bank's JWK set. An empty set is refused.
pub(crate) async fn fetch_jwks(jwks_uri: &str, http: &dyn HttpClient) -> Result<JwkSet, FtnError> {
    let response = http
        .send(get(jwks_uri, "application/jwk-set+json, application/json"))
        .await
        .map_err(|_| FtnError::Jwks("request failed"))?;
    if response.status != 200 {
        return Err(FtnError::Jwks("status is not 200"));
    }
    if response.body.len() > MAX_METADATA_BYTES {
        return Err(FtnError::Jwks("document too large"));
    }
    let set = JwkSet::from_json(&response.body, MAX_JWKS_KEYS)
        .map_err(|_| FtnError::Jwks("not a valid JWK set"))?;
    if set.keys().is_empty() {
        return Err(FtnError::Jwks("no usable key"));
    }
    Ok(set)
}

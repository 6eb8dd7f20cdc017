//! `[oidc_provider]`: the OpenID Connect provider for session tokens, its clients, and their
//! checks; and the provider built from them (keys and client files loaded).
//!
//! ```toml
//! [oidc_provider]
//! signing_key = "keys/op-sig.key.pem"   # RSA 2048+ or EC P-256, PKCS#8; kid = RFC 7638 thumbprint
//! code_seconds = 60
//! access_token_seconds = 600
//! id_token_seconds = 600
//!
//! [[oidc_provider.clients]]
//! client_id = "omasivu"
//! name = "Oma asiointi"
//! redirect_uris = ["https://oma.example.fi/callback"]          # compared exactly
//! post_logout_redirect_uris = ["https://oma.example.fi/"]
//! auth = "private_key_jwt"            # or "client_secret_basic" (with secret_file)
//! jwks_file = "clients/omasivu.jwks.json"
//! scopes = ["openid", "profile", "national_id"]
//! backchannel_logout_uri = "https://oma.example.fi/backchannel-logout"
//! ```

use super::{problem, ConfigProblem, Kind};
use crate::flows::oidc::{ClientAuth, OidcClient, OidcProvider, OidcSettings, SCOPES};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderConfig {
    pub signing_key: PathBuf,
    #[serde(default = "default_code_seconds")]
    pub code_seconds: u32,
    #[serde(default = "default_token_seconds")]
    pub access_token_seconds: u32,
    #[serde(default = "default_token_seconds")]
    pub id_token_seconds: u32,
    #[serde(default)]
    pub clients: Vec<OidcClientConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClientConfig {
    pub client_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub auth: String,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
}

fn default_code_seconds() -> u32 {
    60
}
fn default_token_seconds() -> u32 {
    600
}
fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into()]
}

pub(crate) const OIDC_SCHEMA: &[(&str, Kind)] = &[
    ("signing_key", Kind::Str),
    ("code_seconds", Kind::Int),
    ("access_token_seconds", Kind::Int),
    ("id_token_seconds", Kind::Int),
    (
        "clients",
        Kind::TableList(&[
            ("client_id", Kind::Str),
            ("name", Kind::Str),
            ("redirect_uris", Kind::StrList),
            ("post_logout_redirect_uris", Kind::StrList),
            ("auth", Kind::Str),
            ("secret_file", Kind::Str),
            ("jwks_file", Kind::Str),
            ("scopes", Kind::StrList),
            ("backchannel_logout_uri", Kind::Str),
        ]),
    ),
];

/// A client's URL: absolute https (http only on a loopback host), no fragment.
fn url_problem(u: &str) -> Option<&'static str> {
    match url::Url::parse(u) {
        Ok(url) if url.fragment().is_some() => Some("a URL with a fragment"),
        Ok(url) => {
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            match url.scheme() {
                "https" => None,
                "http" if loopback => None,
                _ => Some("must be https (http only on a loopback host)"),
            }
        }
        Err(_) => Some("not an absolute URL"),
    }
}

pub(crate) fn check(c: &OidcProviderConfig, out: &mut Vec<ConfigProblem>) {
    for (path, v, max) in [
        ("oidc_provider.code_seconds", c.code_seconds, 600),
        (
            "oidc_provider.access_token_seconds",
            c.access_token_seconds,
            86_400,
        ),
        ("oidc_provider.id_token_seconds", c.id_token_seconds, 86_400),
    ] {
        if v == 0 || v > max {
            out.push(problem(path, format!("must be 1..={max}")));
        }
    }
    let mut seen = Vec::new();
    for (i, cl) in c.clients.iter().enumerate() {
        let at = |k: &str| format!("oidc_provider.clients[{i}].{k}");
        let id_ok = (1..=64).contains(&cl.client_id.len())
            && cl
                .client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            out.push(problem(
                at("client_id"),
                "1-64 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        if seen.contains(&&cl.client_id) {
            out.push(problem(at("client_id"), "two clients have this client_id"));
        }
        seen.push(&cl.client_id);
        if cl.redirect_uris.is_empty() {
            out.push(problem(at("redirect_uris"), "at least one"));
        }
        for (j, u) in cl.redirect_uris.iter().enumerate() {
            if let Some(m) = url_problem(u) {
                out.push(problem(format!("{}[{j}]", at("redirect_uris")), m));
            }
        }
        for (j, u) in cl.post_logout_redirect_uris.iter().enumerate() {
            if let Some(m) = url_problem(u) {
                out.push(problem(
                    format!("{}[{j}]", at("post_logout_redirect_uris")),
                    m,
                ));
            }
        }
        if let Some(u) = &cl.backchannel_logout_uri {
            if let Some(m) = url_problem(u) {
                out.push(problem(at("backchannel_logout_uri"), m));
            }
        }
        match (cl.auth.as_str(), &cl.secret_file, &cl.jwks_file) {
            ("client_secret_basic", Some(_), None) | ("private_key_jwt", None, Some(_)) => {}
            ("client_secret_basic", _, _) => out.push(problem(
                at("secret_file"),
                "client_secret_basic needs secret_file (and no jwks_file)",
            )),
            ("private_key_jwt", _, _) => out.push(problem(
                at("jwks_file"),
                "private_key_jwt needs jwks_file (and no secret_file)",
            )),
            (other, _, _) => out.push(problem(
                at("auth"),
                format!("{other:?} is not client_secret_basic or private_key_jwt"),
            )),
        }
        for s in &cl.scopes {
            if !SCOPES.iter().any(|(k, _)| k == s) {
                out.push(problem(
                    at("scopes"),
                    format!(
                        "{s:?} is not one of {}",
                        SCOPES
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
}

/// The provider `[oidc_provider]` describes, its key and client files loaded; `issuer` is the
/// gateway's public URL.
pub fn build(
    c: &OidcProviderConfig,
    issuer: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<OidcProvider> {
    let key = std::fs::read_to_string(&c.signing_key)
        .map_err(|e| format!("{}: {e}", c.signing_key.display()))
        .and_then(|t| certs::SigningKey::from_pkcs8_pem(&t).map_err(|e| e.to_string()))
        .map_err(|e| problems.push(problem("oidc_provider.signing_key", e)))
        .ok()?;
    let alg = match key.algorithm() {
        certs::SignatureAlgorithm::RsaSha256 => jose::JwsAlg::RS256,
        certs::SignatureAlgorithm::EcdsaSha256 => jose::JwsAlg::ES256,
        _ => {
            problems.push(problem(
                "oidc_provider.signing_key",
                "must be RSA (2048 bits or more) or EC P-256",
            ));
            return None;
        }
    };
    let keys = (|| -> Result<_, String> {
        let public = key.verifying_key().map_err(|e| e.to_string())?;
        let kid = jose::jwk_thumbprint(&public).map_err(|e| e.to_string())?;
        let jwk = jose::public_jwk_json(&public, &kid, jose::KeyPurpose::Sign(alg))
            .map_err(|e| e.to_string())?;
        let jwks_json = serde_json::json!({ "keys": [jwk] }).to_string();
        let jwks = jose::JwkSet::from_json(jwks_json.as_bytes(), 4).map_err(|e| e.to_string())?;
        let signer = jose::JwsSigner::new(&key, &kid, alg).map_err(|e| e.to_string())?;
        Ok((signer, jwks_json, jwks))
    })()
    .map_err(|e| problems.push(problem("oidc_provider.signing_key", e)))
    .ok()?;
    let mut clients = Vec::new();
    for (i, cl) in c.clients.iter().enumerate() {
        let auth = match (&cl.secret_file, &cl.jwks_file) {
            (Some(f), _) => match std::fs::read(f) {
                Ok(s) => {
                    let s = String::from_utf8_lossy(&s).trim().as_bytes().to_vec();
                    if s.len() < 32 {
                        problems.push(problem(
                            format!("oidc_provider.clients[{i}].secret_file"),
                            "a client secret is at least 32 characters (openssl rand -base64 32)",
                        ));
                        continue;
                    }
                    ClientAuth::SecretBasic(s)
                }
                Err(e) => {
                    problems.push(problem(
                        format!("oidc_provider.clients[{i}].secret_file"),
                        format!("{}: {e}", f.display()),
                    ));
                    continue;
                }
            },
            (None, Some(f)) => match std::fs::read(f)
                .map_err(|e| format!("{}: {e}", f.display()))
                .and_then(|b| jose::JwkSet::from_json(&b, 16).map_err(|e| e.to_string()))
            {
                Ok(set) if !set.is_empty() => ClientAuth::PrivateKeyJwt(set),
                Ok(_) => {
                    problems.push(problem(
                        format!("oidc_provider.clients[{i}].jwks_file"),
                        "no usable key",
                    ));
                    continue;
                }
                Err(e) => {
                    problems.push(problem(format!("oidc_provider.clients[{i}].jwks_file"), e));
                    continue;
                }
            },
            (None, None) => continue,
        };
        let mut scopes = cl.scopes.clone();
        if !scopes.iter().any(|s| s == "openid") {
            scopes.push("openid".into());
        }
        clients.push(OidcClient {
            client_id: cl.client_id.clone(),
            name: cl.name.clone().unwrap_or_else(|| cl.client_id.clone()),
            redirect_uris: cl.redirect_uris.clone(),
            post_logout_redirect_uris: cl.post_logout_redirect_uris.clone(),
            auth,
            scopes,
            backchannel_logout_uri: cl.backchannel_logout_uri.clone(),
        });
    }
    let (signer, jwks_json, jwks) = keys;
    Some(OidcProvider {
        issuer: issuer.trim_end_matches('/').to_owned(),
        signer,
        jwks_json,
        jwks,
        clients,
        settings: OidcSettings {
            code_ttl: time::Duration::seconds(c.code_seconds.into()),
            access_token_ttl: time::Duration::seconds(c.access_token_seconds.into()),
            id_token_ttl: time::Duration::seconds(c.id_token_seconds.into()),
        },
        notifier: None,
    })
}

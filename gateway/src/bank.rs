//! Bank login in the gateway: the relying-party keys and their published JWKS, one
//! [`FtnBank`] adapter per `[[methods.banks]]` entry, and keeping each bank's discovery document
//! and keys fresh (once at start, then periodically in the background).
//!
//! The login itself runs through the generic upstream flow (`login::start_method`,
//! `login::bank_callback`); nothing bank-specific happens in the handlers.

use crate::bank_http::ReqwestHttp;
use crate::config::{bank_settings, Config, ConfigProblem};
use crate::state::Gateway;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use certs::{Clock, DecryptionKey, PublicKeyKind, RandomSource, SignatureAlgorithm, SigningKey};
use idp_adapters::ftn::{FtnBank, RpKeys};
use jose::{JweAlg, JweDecryptionKey, JwsAlg, KeyPurpose};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One configured bank, with how often it is refreshed.
pub struct BankHandle {
    pub bank: Arc<FtnBank>,
    pub refresh_every: Duration,
}

impl BankHandle {
    /// The bank's configured id (the method is `bank:<id>`).
    pub fn id(&self) -> &str {
        &self.bank.config().id
    }
}

/// The banks and the RP keys built from a config: the adapters go into `Gateway::adapters`
/// (and so onto the selection page), the handles into `Gateway::banks`.
pub struct Banks {
    pub handles: Vec<BankHandle>,
    pub jwks: Option<String>,
}

impl Banks {
    pub fn none() -> Self {
        Banks {
            handles: Vec::new(),
            jwks: None,
        }
    }
}

/// Build the RP keys (when configured) and one adapter per bank. Reads key files; no network.
pub fn from_config(cfg: &Config, rng: Arc<dyn RandomSource>) -> Result<Banks, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut settings = Vec::new();
    for (i, b) in cfg.methods.banks.iter().enumerate() {
        match bank_settings(i, b, &cfg.server.public_url) {
            Ok(s) => settings.push((i, s)),
            Err(p) => problems.extend(p),
        }
    }
    let (Some(sig_path), Some(enc_path)) =
        (&cfg.keys.oidc_signing_key, &cfg.keys.oidc_encryption_key)
    else {
        // `config::check_values` reports missing keys when banks are configured.
        return if problems.is_empty() {
            Ok(Banks::none())
        } else {
            Err(problems)
        };
    };
    let sig_algs = dedup(
        settings
            .iter()
            .flat_map(|(_, (s, _))| [s.request_object_alg, s.client_assertion_alg]),
    );
    let enc_algs = dedup(
        settings
            .iter()
            .flat_map(|(_, (s, _))| s.id_token_encryption_algs.iter().copied()),
    );
    let (rp, jwks) = match load_rp_keys(sig_path, enc_path, &sig_algs, &enc_algs) {
        Ok(v) => v,
        Err(p) => {
            problems.extend(p);
            return Err(problems);
        }
    };
    let rp = Arc::new(rp);
    let mut handles = Vec::new();
    for (i, (s, runtime)) in settings {
        let http = match ReqwestHttp::new(runtime.timeouts) {
            Ok(h) => Arc::new(h),
            Err(e) => {
                problems.push(problem(format!("methods.banks[{i}]"), e));
                continue;
            }
        };
        match FtnBank::new(s, rp.clone(), http, rng.clone()) {
            Ok(bank) => handles.push(BankHandle {
                bank: Arc::new(bank),
                refresh_every: runtime.refresh_every,
            }),
            Err(idp_adapters::ftn::FtnError::Config(msgs)) => problems.extend(
                msgs.into_iter()
                    .map(|m| problem(format!("methods.banks[{i}]"), m)),
            ),
            Err(e) => problems.push(problem(format!("methods.banks[{i}]"), e.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(Banks {
            handles,
            jwks: Some(jwks),
        })
    } else {
        Err(problems)
    }
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        path: path.into(),
        message: message.into(),
    }
}

fn dedup<T: PartialEq>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut v = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// Load the RP signing key (RSA or P-256) and encryption key (RSA), both PKCS#8 PEM, with
/// RFC 7638 thumbprints as kids, and the public JWKS document that publishes them: the signing
/// key once per signature algorithm the banks use (`use: sig`), the encryption key once per key
/// management algorithm they accept (`use: enc`; `RSA-OAEP` when none is configured).
pub fn load_rp_keys(
    signing_path: &Path,
    encryption_path: &Path,
    sig_algs: &[JwsAlg],
    enc_algs: &[JweAlg],
) -> Result<(RpKeys, String), Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let read = |path: &Path, at: &str, problems: &mut Vec<ConfigProblem>| {
        std::fs::read_to_string(path)
            .map_err(|e| problems.push(problem(at, format!("{}: {e}", path.display()))))
            .ok()
    };
    let pkcs8_only = |text: &str, at: &str, problems: &mut Vec<ConfigProblem>| {
        let ok = pem::parse(text).is_ok_and(|b| b.tag() == "PRIVATE KEY");
        if !ok {
            problems.push(problem(
                at,
                "expected one unencrypted PKCS#8 private key (-----BEGIN PRIVATE KEY-----)",
            ));
        }
        ok
    };

    let signing = read(signing_path, "keys.oidc_signing_key", &mut problems)
        .filter(|t| pkcs8_only(t, "keys.oidc_signing_key", &mut problems))
        .and_then(|text| {
            SigningKey::from_pkcs8_pem(&text)
                .map_err(|e| problems.push(problem("keys.oidc_signing_key", e.to_string())))
                .ok()
        })
        .and_then(|key| match key.algorithm() {
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::EcdsaSha256 => Some(key),
            _ => {
                problems.push(problem(
                    "keys.oidc_signing_key",
                    "must be RSA (2048 bits or more) or EC P-256",
                ));
                None
            }
        });
    let encryption = read(encryption_path, "keys.oidc_encryption_key", &mut problems)
        .filter(|t| pkcs8_only(t, "keys.oidc_encryption_key", &mut problems))
        .and_then(|text| {
            let private = DecryptionKey::from_pkcs8_pem(&text).map_err(|e| {
                problems.push(problem(
                    "keys.oidc_encryption_key",
                    format!("must be an RSA key of 2048 bits or more: {e}"),
                ))
            });
            // The public half, for the JWKS (the decryption key does not expose it).
            let public = SigningKey::from_pkcs8_pem(&text)
                .and_then(|k| k.verifying_key())
                .map_err(|e| problems.push(problem("keys.oidc_encryption_key", e.to_string())));
            match (private, public) {
                (Ok(d), Ok(p)) if matches!(p.kind(), PublicKeyKind::Rsa { .. }) => Some((d, p)),
                (Ok(_), Ok(_)) => {
                    problems.push(problem("keys.oidc_encryption_key", "must be an RSA key"));
                    None
                }
                _ => None,
            }
        });
    let (Some(signing), Some((decryption, enc_public))) = (signing, encryption) else {
        return Err(problems);
    };
    let result = (|| -> Result<(RpKeys, String), String> {
        let sig_public = signing.verifying_key().map_err(|e| e.to_string())?;
        let signing_kid = jose::jwk_thumbprint(&sig_public).map_err(|e| e.to_string())?;
        let enc_kid = jose::jwk_thumbprint(&enc_public).map_err(|e| e.to_string())?;
        if signing_kid == enc_kid {
            return Err("oidc_encryption_key must be a different key from oidc_signing_key".into());
        }
        let default_sig = match sig_public.kind() {
            PublicKeyKind::EcP256 => JwsAlg::ES256,
            _ => JwsAlg::RS256,
        };
        // An algorithm that does not fit the key is left out here; the bank using it is
        // refused by `FtnBank::new`, under its own path.
        let fits = |alg: &JwsAlg| (*alg == JwsAlg::ES256) == (default_sig == JwsAlg::ES256);
        let mut sig_algs: Vec<JwsAlg> = sig_algs.iter().copied().filter(fits).collect();
        if sig_algs.is_empty() {
            sig_algs.push(default_sig);
        }
        let enc_algs = if enc_algs.is_empty() {
            vec![JweAlg::RsaOaep]
        } else {
            enc_algs.to_vec()
        };
        let mut keys = Vec::new();
        for alg in sig_algs {
            keys.push(
                jose::public_jwk_json(&sig_public, &signing_kid, KeyPurpose::Sign(alg))
                    .map_err(|_| format!("the signing key cannot be used for {alg}"))?,
            );
        }
        for alg in enc_algs {
            keys.push(
                jose::public_jwk_json(&enc_public, &enc_kid, KeyPurpose::Encrypt(alg))
                    .map_err(|e| e.to_string())?,
            );
        }
        let jwks = serde_json::to_string(&serde_json::json!({ "keys": keys }))
            .map_err(|e| e.to_string())?;
        Ok((
            RpKeys {
                signing,
                signing_kid,
                decryption: vec![JweDecryptionKey::new(Some(enc_kid), decryption)],
            },
            jwks,
        ))
    })();
    result.map_err(|e| vec![problem("keys.oidc_encryption_key", e)])
}

/// `GET /oidc/jwks`: the gateway's public relying-party keys, for the banks.
pub async fn jwks(State(gw): State<Arc<Gateway>>) -> Response {
    match &gw.rp_jwks {
        Some(doc) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            doc.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no relying-party keys configured").into_response(),
    }
}

/// Refresh one bank (discovery and keys) and log the outcome.
async fn refresh_one(bank: &FtnBank, clock: &dyn Clock) -> bool {
    let id = bank.config().id.clone();
    match bank.refresh(clock.now()).await {
        Ok(()) => {
            tracing::info!(bank = %id, "bank discovery and keys refreshed");
            true
        }
        Err(e) => {
            tracing::warn!(bank = %id, code = e.code(), error = %e,
                "bank refresh failed; the bank keeps its previous endpoints and keys (none before the first success)");
            false
        }
    }
}

/// Refresh every bank once, concurrently; a failure is logged and does not stop the others.
/// Returns the ids of the banks that failed.
pub async fn refresh_banks(gw: &Gateway) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for h in &gw.banks {
        let bank = h.bank.clone();
        let clock = gw.clock.clone();
        set.spawn(async move {
            let ok = refresh_one(&bank, clock.as_ref()).await;
            (bank.config().id.clone(), ok)
        });
    }
    let mut failed = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((_, true)) => {}
            Ok((id, false)) => failed.push(id),
            Err(e) => tracing::error!(error = %e, "bank refresh task failed"),
        }
    }
    failed
}

/// How soon a bank that has never been refreshed successfully is tried again.
const RETRY_UNREADY: Duration = Duration::from_secs(30);

/// Keep every bank fresh in the background: one task per bank, refreshing every
/// `refresh_minutes` (sooner while the bank has no endpoints yet). Abort the handles to stop.
pub fn spawn_bank_refresh(gw: &Gateway) -> Vec<tokio::task::JoinHandle<()>> {
    gw.banks
        .iter()
        .map(|h| {
            let bank = h.bank.clone();
            let clock = gw.clock.clone();
            let every = h.refresh_every;
            tokio::spawn(async move {
                loop {
                    let wait = if bank.is_ready() {
                        every
                    } else {
                        every.min(RETRY_UNREADY)
                    };
                    tokio::time::sleep(wait).await;
                    refresh_one(&bank, clock.as_ref()).await;
                }
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use certs::KeyKind;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            let dir = tempfile::tempdir().unwrap();
            let now = time::OffsetDateTime::now_utc();
            let idp =
                certs::SigningIdentity::generate_self_signed("idp", KeyKind::Rsa2048, now, 30)
                    .unwrap();
            let w = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
            w("idp.key", idp.key.to_pkcs8_pem().unwrap());
            w("idp.crt", idp.cert.to_pem());
            std::fs::write(dir.path().join("pairwise.secret"), [7u8; 32]).unwrap();
            for (name, kind) in [
                ("rp-sig.pem", KeyKind::Rsa2048),
                ("rp-enc.pem", KeyKind::Rsa2048),
                ("rp-ec.pem", KeyKind::EcdsaP256),
            ] {
                w(
                    name,
                    SigningKey::generate(kind).unwrap().to_pkcs8_pem().unwrap(),
                );
            }
            Files { dir }
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        fn config(&self, keys: &str, banks: &str) -> Result<Gateway, Vec<ConfigProblem>> {
            let text = format!(
                r#"
[server]
listen = "127.0.0.1:0"
public_url = "https://idp.example.fi"
[keys]
signing_key = "idp.key"
signing_cert = "idp.crt"
pairwise_secret_file = "pairwise.secret"
{keys}
{banks}
"#
            );
            let cfg = crate::config::parse(&text, std::iter::empty(), self.dir.path())?;
            crate::state::from_config(
                &cfg,
                crate::state::Runtime {
                    clock: Arc::new(certs::SystemClock),
                    rng: Arc::new(certs::SystemRandomSource),
                },
            )
        }
    }

    const KEYS: &str = "oidc_signing_key = \"rp-sig.pem\"\noidc_encryption_key = \"rp-enc.pem\"";

    fn bank(id: &str, extra: &str) -> String {
        format!(
            r#"
[[methods.banks]]
id = "{id}"
display_name = {{ fi = "Pankki {id}", sv = "Banken {id}", en = "Bank {id}" }}
issuer = "https://{id}.bank.example"
client_id = "gw"
{extra}
"#
        )
    }

    #[test]
    fn banks_become_adapters_and_the_keys_a_jwks() {
        let f = Files::new();
        let gw = f
            .config(
                KEYS,
                &(bank("a", "")
                    + &bank(
                        "b",
                        "id_token_encryption = { algs = [\"RSA-OAEP-256\"], encs = [\"A256GCM\"] }",
                    )),
            )
            .unwrap();
        let ids: Vec<&str> = gw.adapters.iter().map(|a| a.id()).collect();
        assert_eq!(ids, vec!["bank:a", "bank:b"]);
        assert_eq!(gw.banks.len(), 2);
        assert!(!gw.banks[0].bank.is_ready(), "no network before a refresh");
        assert_eq!(
            gw.adapters[1].display_name(idp_adapters::Language::Sv),
            "Banken b"
        );
        let jwks: serde_json::Value = serde_json::from_str(gw.rp_jwks.as_deref().unwrap()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        let summary: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                (
                    k["use"].as_str().unwrap().to_owned(),
                    k["alg"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("sig".into(), "RS256".into()),
                ("enc".into(), "RSA-OAEP".into()),
                ("enc".into(), "RSA-OAEP-256".into()),
            ]
        );
        for k in keys {
            assert_eq!(k["kty"], "RSA");
            assert!(k.get("d").is_none() && k.get("p").is_none(), "public only");
        }
        // kids are RFC 7638 thumbprints of the keys.
        let sig =
            SigningKey::from_pkcs8_pem(&std::fs::read_to_string(f.path("rp-sig.pem")).unwrap())
                .unwrap();
        assert_eq!(
            keys[0]["kid"],
            jose::jwk_thumbprint(&sig.verifying_key().unwrap()).unwrap()
        );
        assert_eq!(keys[1]["kid"], keys[2]["kid"]);
        assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    }

    #[test]
    fn key_problems_are_reported_with_their_paths() {
        let f = Files::new();
        let paths = |keys: &str, banks: &str| -> Vec<String> {
            match f.config(keys, banks) {
                Ok(_) => panic!("accepted"),
                Err(e) => e
                    .into_iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect(),
            }
        };
        // One key for both purposes.
        let p = paths(
            "oidc_signing_key = \"rp-sig.pem\"\noidc_encryption_key = \"rp-sig.pem\"",
            &bank("a", ""),
        );
        assert!(
            p[0].starts_with("keys.oidc_encryption_key: ") && p[0].contains("different key"),
            "{p:?}"
        );
        // An EC key cannot decrypt; an EC signing key does not fit RS256.
        let p = paths(
            "oidc_signing_key = \"rp-ec.pem\"\noidc_encryption_key = \"rp-ec.pem\"",
            &bank("a", ""),
        );
        assert!(p[0].starts_with("keys.oidc_encryption_key: "), "{p:?}");
        let p = paths(
            "oidc_signing_key = \"rp-ec.pem\"\noidc_encryption_key = \"rp-enc.pem\"",
            &bank("a", ""),
        );
        assert!(
            p.iter().all(|l| l.starts_with("methods.banks[0]: ")),
            "{p:?}"
        );
        assert!(p.iter().any(|l| l.contains("RS256")), "{p:?}");
        // ES256 with the EC key is fine.
        let gw = f
            .config(
                "oidc_signing_key = \"rp-ec.pem\"\noidc_encryption_key = \"rp-enc.pem\"",
                &bank(
                    "a",
                    "request_object_signing_alg = \"ES256\"\ntoken_endpoint_auth_signing_alg = \"ES256\"",
                ),
            )
            .unwrap();
        assert!(gw.rp_jwks.unwrap().contains("\"ES256\""));
        // PKCS#1 is not PKCS#8; a missing file is named.
        let pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n";
        std::fs::write(f.path("pkcs1.pem"), pkcs1).unwrap();
        let p = paths(
            "oidc_signing_key = \"pkcs1.pem\"\noidc_encryption_key = \"nope.pem\"",
            &bank("a", ""),
        );
        assert!(
            p[0].starts_with("keys.oidc_signing_key: ") && p[0].contains("PKCS#8"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("keys.oidc_encryption_key: ") && p[1].contains("nope.pem"),
            "{p:?}"
        );
    }

    #[test]
    fn without_banks_there_is_no_jwks_unless_keys_are_given() {
        let f = Files::new();
        let gw = f.config("", "").unwrap();
        assert!(gw.rp_jwks.is_none() && gw.banks.is_empty());
        let gw = f.config(KEYS, "").unwrap();
        let jwks = gw.rp_jwks.unwrap();
        assert!(
            jwks.contains("\"RS256\"") && jwks.contains("\"RSA-OAEP\""),
            "{jwks}"
        );
    }
}

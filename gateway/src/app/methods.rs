//! The upstream methods built from the config: the relying-party keys and their JWKS, one
//! bank adapter per `[[methods.banks]]`, and the ID card's adapter and listener settings. Reads
//! key and CA files; no network.

use super::config::{
    bank_settings, revocation_mode, Config, ConfigProblem, IdCardConfig, ProxyRange,
};
use crate::stores::revocation::{self, OcspCache, RevocationState};
use crate::upstream::banks::{BankHandle, Banks};
use crate::upstream::http_client::ReqwestHttp;
use crate::upstream::idcard::{install_file, server_tls, signed_content_client, IdCardHandle};
use crate::upstream::idcard_table::SqliteDirectory;
use axum::http::HeaderName;
use certs::{DecryptionKey, PublicKeyKind, RandomSource, SignatureAlgorithm, SigningKey};
use idp_adapters::ftn::{FtnBank, RpKeys};
use idp_adapters::idcard::{
    ChainValidator, FileDirectory, IdCard, IdCardSettings, NationalIdDirectory,
};
use jose::{JweAlg, JweDecryptionKey, JwsAlg, KeyPurpose};
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

/// Build the RP keys (when configured) and one adapter per bank. Reads key files; no network.
pub fn banks_from_config(
    cfg: &Config,
    rng: Arc<dyn RandomSource>,
) -> Result<Banks, Vec<ConfigProblem>> {
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
                bank: Arc::new(
                    bank.refuse_test_identity_codes(cfg.methods.refuse_test_identity_codes),
                ),
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

/// Where the ID card's revocation state lives: the shared store with `[store] kind = "redis"`
/// (`shared`: the connected stores), else an SQLite file in `server.data_dir`, else memory.
pub fn idcard_revocation_state(
    cfg: &Config,
    shared: Option<&crate::stores::Stores>,
) -> Arc<dyn RevocationState> {
    let shared = match (cfg.store.kind, shared) {
        (super::config::StoreKind::Redis, Some(s)) => Some((s.sessions.clone(), s.layout.clone())),
        _ => None,
    };
    revocation::for_gateway(shared, cfg.server.data_dir.as_deref())
}

/// Build the handle from `[methods.idcard]`: CA files, mapping file, TLS key; every problem
/// with its path. CRL files are read here too (a bad one is logged, not fatal: logins then fail
/// closed until a good CRL arrives). `revocation_state` keeps the newest CRLs and the OCSP cache
/// across restarts ([`idcard_revocation_state`]).
pub fn idcard_from_config(
    c: &IdCardConfig,
    refuse_test_identity_codes: bool,
    rng: Arc<dyn certs::RandomSource>,
    now: time::OffsetDateTime,
    revocation_state: Arc<dyn RevocationState>,
) -> Result<IdCardHandle, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut note = |path: String, message: String| problems.push(ConfigProblem { path, message });
    let read_certs = |files: &[PathBuf], key: &str, note: &mut dyn FnMut(String, String)| {
        let mut out = Vec::new();
        for (i, file) in files.iter().enumerate() {
            match std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| certs::Certificate::from_pem(&t).map_err(|e| e.to_string()))
            {
                Ok(list) => out.extend(list.iter().map(|c| c.der().to_vec())),
                Err(e) => note(
                    format!("methods.idcard.{key}[{i}]"),
                    format!("{}: {e}", file.display()),
                ),
            }
        }
        out
    };
    let anchors = read_certs(&c.trust_anchors, "trust_anchors", &mut note);
    let intermediates = read_certs(&c.intermediates, "intermediates", &mut note);
    let revocation =
        revocation_mode(&c.revocation).unwrap_or(idp_adapters::idcard::Revocation::Chain);
    let validator = ChainValidator::new(&anchors, &intermediates, revocation)
        .map_err(|e| note("methods.idcard.trust_anchors".into(), e))
        .ok();
    let directory: Option<Arc<dyn NationalIdDirectory>> =
        match (&c.national_id_map_file, &c.national_id_table) {
            (_, Some(table)) => SqliteDirectory::open(
                &table.sqlite_file,
                &table.table,
                &table.satu_column,
                &table.national_id_column,
            )
            .map_err(|e| note("methods.idcard.national_id_table".into(), e))
            .ok()
            .map(|d| Arc::new(d) as Arc<dyn NationalIdDirectory>),
            (Some(file), None) => std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| FileDirectory::parse(&t).map_err(|e| e.to_string()))
                .map_err(|e| {
                    note(
                        "methods.idcard.national_id_map_file".into(),
                        format!("{}: {e}", file.display()),
                    )
                })
                .ok()
                .map(|d| Arc::new(d) as Arc<dyn NationalIdDirectory>),
            (None, None) => None,
        };
    let tls = match (&c.tls_cert, &c.tls_key, &validator) {
        (Some(cert), Some(key), Some(v)) => server_tls(cert, key, v, &intermediates)
            .map_err(|e| note("methods.idcard.tls_cert".into(), e))
            .ok(),
        _ => None,
    };
    let listen = c.listen.parse::<SocketAddr>().ok();
    let header = c
        .forwarded_cert_header
        .as_deref()
        .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok());
    let names = c.display_name.clone();
    let (Some(validator), Some(listen), true) = (validator, listen, problems.is_empty()) else {
        return Err(problems);
    };
    let mut settings = IdCardSettings {
        require_national_id: c.require_national_id,
        test_environment: c.test_environment,
        refuse_test_identity_codes,
        ..IdCardSettings::new(c.public_url.trim_end_matches('/'))
    };
    if let Some(n) = names {
        settings.display_name_fi = n.fi;
        settings.display_name_sv = n.sv;
        settings.display_name_en = n.en;
    }
    let mut card = IdCard::new(settings, validator, directory, rng.clone());
    if let Some(url) = &c.ocsp_responder_url {
        let checker = signed_content_client(idp_adapters::idcard::MAX_OCSP_RESPONSE_BYTES)
            .and_then(|http| {
                idp_adapters::idcard::OcspChecker::new(
                    idp_adapters::idcard::OcspSettings::responder(url.clone()),
                    Arc::new(http),
                    rng,
                )
            })
            .map(|checker| checker.with_cache(Arc::new(OcspCache::new(revocation_state.clone()))));
        match checker {
            Ok(checker) => card = card.with_ocsp(checker),
            Err(e) => {
                return Err(vec![ConfigProblem {
                    path: "methods.idcard.ocsp_responder_url".into(),
                    message: e,
                }])
            }
        }
    }
    let adapter = Arc::new(card);
    let handle = IdCardHandle {
        adapter,
        listen,
        tls,
        forwarded_header: header,
        trusted_proxies: c
            .trusted_proxies
            .iter()
            .filter_map(|p| ProxyRange::parse(p))
            .collect(),
        crl_files: c.crl_files.clone(),
        crl_urls: c.crl_urls.clone(),
        crl_refresh_max: time::Duration::seconds(c.crl_refresh_max_seconds.into()),
        revocation: revocation_state,
        recorded: Default::default(),
    };
    for file in &handle.crl_files {
        if let Err(e) = install_file(&handle, file, now) {
            tracing::warn!(file = %file.display(), error = %e, "CRL not installed");
        }
    }
    Ok(handle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::app::state::Gateway;
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
            let cfg = crate::app::config::parse(&text, std::iter::empty(), self.dir.path())?;
            crate::app::state::from_config(
                &cfg,
                crate::app::state::Runtime {
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
        let ids: Vec<&str> = gw.idp.adapters.iter().map(|a| a.id()).collect();
        assert_eq!(ids, vec!["bank:a", "bank:b"]);
        assert_eq!(gw.banks.len(), 2);
        assert!(!gw.banks[0].bank.is_ready(), "no network before a refresh");
        assert_eq!(
            gw.idp.adapters[1].display_name(idp_adapters::Language::Sv),
            "Banken b"
        );
        let jwks: serde_json::Value =
            serde_json::from_str(gw.web.rp_jwks.as_deref().unwrap()).unwrap();
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
    fn test_series_codes_are_refused_only_when_the_config_says_so() {
        let f = Files::new();
        let gw = f.config(KEYS, &bank("a", "")).unwrap();
        assert!(!gw.banks[0].bank.refuses_test_identity_codes());
        let refusing = format!("{KEYS}\n[methods]\nrefuse_test_identity_codes = true\n");
        let gw = f.config(&refusing, &bank("a", "")).unwrap();
        assert!(gw.banks[0].bank.refuses_test_identity_codes());
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
        assert!(gw.web.rp_jwks.clone().unwrap().contains("\"ES256\""));
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
        assert!(gw.web.rp_jwks.is_none() && gw.banks.is_empty());
        let gw = f.config(KEYS, "").unwrap();
        let jwks = gw.web.rp_jwks.clone().unwrap();
        assert!(
            jwks.contains("\"RS256\"") && jwks.contains("\"RSA-OAEP\""),
            "{jwks}"
        );
    }
}

//! `[[methods.banks]]`: FTN banks over OpenID Connect, as the operator writes them, and their
//! translation into the adapter's settings with every bad value reported at its path.

use super::{problem, ConfigProblem, Kind};
use serde::Deserialize;

/// One FTN bank over OpenID Connect (`[[methods.banks]]`). Algorithm names and levels are kept as
/// written and checked by [`bank_settings`], so that every bad value is reported with its path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    /// `[a-z0-9-]{1,32}`: the method is `bank:<id>`, the callback `/login/bank/<id>/callback`.
    pub id: String,
    pub display_name: LocalizedName,
    pub issuer: String,
    /// Endpoints from `{issuer}/.well-known/openid-configuration`; `false`: the four below.
    #[serde(default = "yes")]
    pub discovery: bool,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    pub client_id: String,
    #[serde(default = "default_scope")]
    pub scope: Vec<String>,
    /// `ftn_substantial` (loa2) or `ftn_high` (loa3).
    #[serde(default = "default_max_loa")]
    pub max_loa: String,
    #[serde(default)]
    pub ftn_idp_id: Option<String>,
    #[serde(default)]
    pub ftn_spname: Option<String>,
    #[serde(default = "default_jws_alg")]
    pub request_object_signing_alg: String,
    #[serde(default = "default_jws_alg")]
    pub token_endpoint_auth_signing_alg: String,
    #[serde(default = "default_jws_algs")]
    pub id_token_signing_algs: Vec<String>,
    #[serde(default)]
    pub id_token_encryption: IdTokenEncryption,
    /// Call the userinfo endpoint (an encrypted JWT is expected).
    #[serde(default)]
    pub userinfo: bool,
    /// Accept `…/loatest2|3` and label the method as a test method.
    #[serde(default)]
    pub test_environment: bool,
    #[serde(default = "default_bank_skew")]
    pub clock_skew_seconds: u32,
    /// The whole exchange with the bank, per request.
    #[serde(default = "default_bank_timeout")]
    pub timeout_seconds: u32,
    #[serde(default = "default_bank_connect_timeout")]
    pub connect_timeout_seconds: u32,
    /// How often discovery and the bank's keys are fetched again.
    #[serde(default = "default_refresh_minutes")]
    pub refresh_minutes: u32,
    #[serde(default)]
    pub claims: BankClaims,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedName {
    pub fi: String,
    pub sv: String,
    pub en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdTokenEncryption {
    pub algs: Vec<String>,
    pub encs: Vec<String>,
    /// Refuse an ID token that is not encrypted (FTN requires encryption).
    pub required: bool,
}

impl Default for IdTokenEncryption {
    fn default() -> Self {
        IdTokenEncryption {
            algs: vec!["RSA-OAEP".into()],
            encs: vec!["A128CBC-HS256".into()],
            required: true,
        }
    }
}

/// The claim names the bank uses (FTN/OP names by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankClaims {
    pub national_id: String,
    pub given_name: String,
    pub family_name: String,
    pub name: String,
    pub birth_date: String,
}

impl Default for BankClaims {
    fn default() -> Self {
        let d = idp_adapters::ftn::ClaimNames::default();
        BankClaims {
            national_id: d.national_id,
            given_name: d.given_name,
            family_name: d.family_name,
            name: d.name,
            birth_date: d.birth_date,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_scope() -> Vec<String> {
    ["openid", "profile", "personal_identity_code"]
        .map(String::from)
        .to_vec()
}
fn default_max_loa() -> String {
    "ftn_high".into()
}
fn default_jws_alg() -> String {
    "RS256".into()
}
fn default_jws_algs() -> Vec<String> {
    vec!["RS256".into()]
}
fn default_bank_skew() -> u32 {
    60
}
fn default_bank_timeout() -> u32 {
    10
}
fn default_bank_connect_timeout() -> u32 {
    5
}
fn default_refresh_minutes() -> u32 {
    60
}

pub(crate) const BANK_SCHEMA: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    (
        "display_name",
        Kind::Table(&[("fi", Kind::Str), ("sv", Kind::Str), ("en", Kind::Str)]),
    ),
    ("issuer", Kind::Str),
    ("discovery", Kind::Bool),
    ("authorization_endpoint", Kind::Str),
    ("token_endpoint", Kind::Str),
    ("userinfo_endpoint", Kind::Str),
    ("jwks_uri", Kind::Str),
    ("client_id", Kind::Str),
    ("scope", Kind::StrList),
    ("max_loa", Kind::Str),
    ("ftn_idp_id", Kind::Str),
    ("ftn_spname", Kind::Str),
    ("request_object_signing_alg", Kind::Str),
    ("token_endpoint_auth_signing_alg", Kind::Str),
    ("id_token_signing_algs", Kind::StrList),
    (
        "id_token_encryption",
        Kind::Table(&[
            ("algs", Kind::StrList),
            ("encs", Kind::StrList),
            ("required", Kind::Bool),
        ]),
    ),
    ("userinfo", Kind::Bool),
    ("test_environment", Kind::Bool),
    ("clock_skew_seconds", Kind::Int),
    ("timeout_seconds", Kind::Int),
    ("connect_timeout_seconds", Kind::Int),
    ("refresh_minutes", Kind::Int),
    (
        "claims",
        Kind::Table(&[
            ("national_id", Kind::Str),
            ("given_name", Kind::Str),
            ("family_name", Kind::Str),
            ("name", Kind::Str),
            ("birth_date", Kind::Str),
        ]),
    ),
];

/// What the gateway needs of one bank besides the adapter's settings.
#[derive(Clone, Debug)]
pub struct BankRuntime {
    pub timeouts: crate::upstream::http_client::Timeouts,
    pub refresh_every: std::time::Duration,
}

/// The adapter's settings for `[[methods.banks]]` entry `i`, with the callback URL under
/// `public_url`; every bad value is reported with its path, then the adapter's own offline
/// checks ([`idp_adapters::ftn::FtnBankConfig::validate`]) run.
pub fn bank_settings(
    i: usize,
    b: &BankConfig,
    public_url: &str,
) -> Result<(idp_adapters::ftn::FtnBankConfig, BankRuntime), Vec<ConfigProblem>> {
    use idp_adapters::ftn::{ClaimNames, Endpoints, FtnBankConfig};
    use idp_adapters::LevelOfAssurance;
    use jose::{JweAlg, JweEnc, JwsAlg};

    let at = |field: &str| format!("methods.banks[{i}].{field}");
    let mut out = Vec::new();
    let jws = |field: String, v: &str, out: &mut Vec<ConfigProblem>| {
        v.parse::<JwsAlg>()
            .map_err(|_| {
                out.push(problem(
                    field,
                    format!("{v:?} is not allowed: use RS256, PS256 or ES256 (never none or HMAC)"),
                ))
            })
            .ok()
    };
    let request_object_alg = jws(
        at("request_object_signing_alg"),
        &b.request_object_signing_alg,
        &mut out,
    );
    let client_assertion_alg = jws(
        at("token_endpoint_auth_signing_alg"),
        &b.token_endpoint_auth_signing_alg,
        &mut out,
    );
    let id_token_signing_algs: Vec<JwsAlg> = b
        .id_token_signing_algs
        .iter()
        .enumerate()
        .filter_map(|(j, v)| jws(at(&format!("id_token_signing_algs[{j}]")), v, &mut out))
        .collect();
    let enc_algs: Vec<JweAlg> = b
        .id_token_encryption
        .algs
        .iter()
        .enumerate()
        .filter_map(|(j, v)| {
            v.parse::<JweAlg>()
                .map_err(|_| {
                    out.push(problem(
                        at(&format!("id_token_encryption.algs[{j}]")),
                        format!("{v:?} is not allowed: use RSA-OAEP or RSA-OAEP-256"),
                    ))
                })
                .ok()
        })
        .collect();
    let enc_encs: Vec<JweEnc> = b
        .id_token_encryption
        .encs
        .iter()
        .enumerate()
        .filter_map(|(j, v)| {
            v.parse::<JweEnc>()
                .map_err(|_| {
                    out.push(problem(
                        at(&format!("id_token_encryption.encs[{j}]")),
                        format!("{v:?} is not allowed: use A128CBC-HS256, A256GCM or A128GCM"),
                    ))
                })
                .ok()
        })
        .collect();
    let max_loa = match b.max_loa.as_str() {
        "ftn_substantial" => Some(LevelOfAssurance::FtnSubstantial),
        "ftn_high" => Some(LevelOfAssurance::FtnHigh),
        other => {
            out.push(problem(
                at("max_loa"),
                format!("{other:?}: expected \"ftn_substantial\" (loa2) or \"ftn_high\" (loa3)"),
            ));
            None
        }
    };
    let statics = [
        ("authorization_endpoint", &b.authorization_endpoint),
        ("token_endpoint", &b.token_endpoint),
        ("userinfo_endpoint", &b.userinfo_endpoint),
        ("jwks_uri", &b.jwks_uri),
    ];
    let endpoints = if b.discovery {
        for (field, v) in statics {
            if v.is_some() {
                out.push(problem(
                    at(field),
                    "given with discovery = true (set discovery = false to configure the endpoints)",
                ));
            }
        }
        Some(Endpoints::Discovery)
    } else {
        for (field, v) in statics {
            if v.is_none() && field != "userinfo_endpoint" {
                out.push(problem(at(field), "required when discovery = false"));
            }
        }
        match (&b.authorization_endpoint, &b.token_endpoint, &b.jwks_uri) {
            (Some(a), Some(t), Some(j)) => Some(Endpoints::Static {
                authorization_endpoint: a.clone(),
                token_endpoint: t.clone(),
                userinfo_endpoint: b.userinfo_endpoint.clone(),
                jwks_uri: j.clone(),
            }),
            _ => None,
        }
    };
    if !(1..=120).contains(&b.timeout_seconds) {
        out.push(problem(at("timeout_seconds"), "must be 1..120"));
    }
    if b.connect_timeout_seconds == 0 || b.connect_timeout_seconds > b.timeout_seconds {
        out.push(problem(
            at("connect_timeout_seconds"),
            "must be 1..timeout_seconds",
        ));
    }
    if !(1..=24 * 60).contains(&b.refresh_minutes) {
        out.push(problem(at("refresh_minutes"), "must be 1..1440"));
    }
    let (
        Some(request_object_alg),
        Some(client_assertion_alg),
        Some(max_loa),
        Some(endpoints),
        true,
    ) = (
        request_object_alg,
        client_assertion_alg,
        max_loa,
        endpoints,
        out.is_empty(),
    )
    else {
        return Err(out);
    };
    let settings = FtnBankConfig {
        id: b.id.clone(),
        display_name_fi: b.display_name.fi.clone(),
        display_name_sv: b.display_name.sv.clone(),
        display_name_en: b.display_name.en.clone(),
        issuer: b.issuer.clone(),
        endpoints,
        client_id: b.client_id.clone(),
        redirect_uri: format!(
            "{}/login/bank/{}/callback",
            public_url.trim_end_matches('/'),
            b.id
        ),
        scope: b.scope.clone(),
        max_loa,
        ftn_idp_id: b.ftn_idp_id.clone(),
        ftn_spname: b.ftn_spname.clone(),
        request_object_alg,
        client_assertion_alg,
        id_token_signing_algs,
        id_token_encryption_algs: enc_algs,
        id_token_encryption_encs: enc_encs,
        require_encrypted_id_token: b.id_token_encryption.required,
        userinfo: b.userinfo,
        test_environment: b.test_environment,
        clock_skew: time::Duration::seconds(b.clock_skew_seconds.into()),
        claims: ClaimNames {
            national_id: b.claims.national_id.clone(),
            given_name: b.claims.given_name.clone(),
            family_name: b.claims.family_name.clone(),
            name: b.claims.name.clone(),
            birth_date: b.claims.birth_date.clone(),
        },
    };
    if let Err(messages) = settings.validate() {
        return Err(messages
            .into_iter()
            .map(|m| problem(adapter_problem_path(i, &b.id, &m), m))
            .collect());
    }
    let runtime = BankRuntime {
        timeouts: crate::upstream::http_client::Timeouts {
            connect: std::time::Duration::from_secs(b.connect_timeout_seconds.into()),
            total: std::time::Duration::from_secs(b.timeout_seconds.into()),
        },
        refresh_every: std::time::Duration::from_secs(u64::from(b.refresh_minutes) * 60),
    };
    Ok((settings, runtime))
}

/// Where in `[[methods.banks]]` an adapter check's message points (its messages read
/// `bank <id>: <field> ...`); the entry itself when the field is not recognised.
fn adapter_problem_path(i: usize, id: &str, message: &str) -> String {
    let entry = format!("methods.banks[{i}]");
    if message.starts_with("bank id ") {
        return format!("{entry}.id");
    }
    let rest = message
        .strip_prefix(&format!("bank {id}: "))
        .unwrap_or(message);
    let field = match rest.split_whitespace().next().unwrap_or("") {
        "display" => rest
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(lang, _)| format!("display_name.{lang}")),
        "clock" => Some("clock_skew_seconds".to_owned()),
        "claim" => rest
            .split_whitespace()
            .nth(2)
            .map(|n| format!("claims.{n}")),
        "id_token_encryption" => rest
            .split_whitespace()
            .nth(1)
            .map(|w| format!("id_token_encryption.{w}")),
        "redirect_uri" => return "server.public_url".to_owned(),
        f @ ("issuer"
        | "authorization_endpoint"
        | "token_endpoint"
        | "jwks_uri"
        | "userinfo_endpoint"
        | "client_id"
        | "scope"
        | "every"
        | "max_loa"
        | "ftn_idp_id"
        | "ftn_spname"
        | "id_token_signing_algs"
        | "userinfo") => Some(if f == "every" {
            "scope".to_owned()
        } else {
            f.to_owned()
        }),
        _ => None,
    };
    match field {
        Some(f) => format!("{entry}.{f}"),
        None => entry,
    }
}

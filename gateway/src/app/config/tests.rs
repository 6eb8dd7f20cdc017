//! The config's own tests: parsing, overlays, checks, and the README's example.

#![allow(clippy::unwrap_used)]
use super::*;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8443"
public_url = "https://idp.example.fi"
[keys]
signing_key = "k.pem"
signing_cert = "c.pem"
pairwise_secret_file = "s.bin"
[[service_providers]]
metadata_file = "sp.xml"
release = ["national_id", "given_name"]
"#;

fn no_env() -> std::vec::IntoIter<(String, String)> {
    Vec::new().into_iter()
}

#[test]
fn good_config_resolves_relative_paths() {
    let c = parse(GOOD, no_env(), Path::new("/etc/gw")).unwrap();
    assert_eq!(c.keys.signing_key, PathBuf::from("/etc/gw/k.pem"));
    assert_eq!(
        c.service_providers[0].release,
        vec![AttributeId::NationalId, AttributeId::GivenName]
    );
    assert_eq!(c.saml.clock_skew_seconds, 60);
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let bad = GOOD
        .replace("[keys]", "[keys]\nsigning_kye = 1\n")
        .replace("listen = \"127.0.0.1:8443\"", "listen = 5")
        + "\n[saml]\nclock_skew_seconds = \"x\"\n[bogus]\n";
    let errs = parse(&bad, no_env(), Path::new("/")).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "keys.signing_kye",
        "server.listen",
        "saml.clock_skew_seconds",
        "bogus",
    ] {
        assert!(paths.contains(&want), "{want} missing from {errs:?}");
    }
}

#[test]
fn missing_required_keys_and_bad_values() {
    let errs = parse(
        "[server]\nlisten = \"nope\"\npublic_url = \"http://idp.example\"\n",
        no_env(),
        Path::new("/"),
    )
    .unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"keys"), "{errs:?}");
    let errs = parse(
        &GOOD
            .replace("127.0.0.1:8443", "nope")
            .replace("https://idp", "http://idp"),
        no_env(),
        Path::new("/"),
    )
    .unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, vec!["server.listen", "server.public_url"]);
    let errs = parse(
        &GOOD.replace("\"given_name\"", "\"shoe_size\""),
        no_env(),
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "service_providers[0].release[1]");
}

#[test]
fn environment_overlays_the_file() {
    let env = vec![
        (
            "GATEWAY__SERVER__LISTEN".to_owned(),
            "127.0.0.1:9999".to_owned(),
        ),
        (
            "GATEWAY__SAML__CLOCK_SKEW_SECONDS".to_owned(),
            "5".to_owned(),
        ),
        (
            "GATEWAY__METHODS__TESTBANK__ENABLED".to_owned(),
            "true".to_owned(),
        ),
        ("GATEWAY__ENVIRONMENT".to_owned(), "test".to_owned()),
        ("UNRELATED".to_owned(), "x".to_owned()),
    ];
    let c = parse(GOOD, env.into_iter(), Path::new("/")).unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9999");
    assert_eq!(c.saml.clock_skew_seconds, 5);
    assert!(c.methods.testbank.enabled);
    let env = vec![("GATEWAY__SAML__NOPE".to_owned(), "1".to_owned())];
    let errs = parse(GOOD, env.into_iter(), Path::new("/")).unwrap_err();
    assert_eq!(errs[0].path, "saml.nope");
}
const BANK: &str = r#"
[[methods.banks]]
id = "op"
display_name = { fi = "OP", sv = "OP", en = "OP" }
issuer = "https://isb.op.fi"
client_id = "gw"
"#;

fn with_bank(extra: &str) -> String {
    GOOD.replace(
        "[keys]\n",
        "[keys]\noidc_signing_key = \"rp-sig.pem\"\noidc_encryption_key = \"rp-enc.pem\"\n",
    ) + BANK
        + extra
}

#[test]
fn a_bank_with_defaults() {
    let c = parse(&with_bank(""), no_env(), Path::new("/etc/gw")).unwrap();
    assert_eq!(
        c.keys.oidc_signing_key,
        Some(PathBuf::from("/etc/gw/rp-sig.pem"))
    );
    let (s, rt) = bank_settings(0, &c.methods.banks[0], &c.server.public_url).unwrap();
    assert_eq!(
        s.redirect_uri,
        "https://idp.example.fi/login/bank/op/callback"
    );
    assert_eq!(s.adapter_id(), "bank:op");
    assert!(matches!(
        s.endpoints,
        idp_adapters::ftn::Endpoints::Discovery
    ));
    assert_eq!(s.request_object_alg, jose::JwsAlg::RS256);
    assert_eq!(s.id_token_signing_algs, vec![jose::JwsAlg::RS256]);
    assert_eq!(s.id_token_encryption_algs, vec![jose::JweAlg::RsaOaep]);
    assert_eq!(s.id_token_encryption_encs, vec![jose::JweEnc::A128CbcHs256]);
    assert!(s.require_encrypted_id_token);
    assert_eq!(s.max_loa, idp_adapters::LevelOfAssurance::FtnHigh);
    assert_eq!(s.scope, vec!["openid", "profile", "personal_identity_code"]);
    assert_eq!(s.claims, idp_adapters::ftn::ClaimNames::default());
    assert_eq!(rt.timeouts.total, std::time::Duration::from_secs(10));
    assert_eq!(rt.refresh_every, std::time::Duration::from_secs(3600));
}

#[test]
fn bad_bank_values_are_reported_with_their_paths() {
    let text = with_bank(
        r#"request_object_signing_alg = "HS256"
token_endpoint_auth_signing_alg = "none"
id_token_signing_algs = ["RS256", "none", "HS256"]
id_token_encryption = { algs = ["RSA1_5"], encs = ["A128CBC-HS256", "A128CBC"] }
max_loa = "loa3"
jwks_uri = "https://isb.op.fi/jwks"
timeout_seconds = 0
[methods.banks.claims]
national_id = "nin"
shoe = "x"
[[methods.banks]]
id = "op"
display_name = { fi = "Pankki B", sv = "OP" }
issuer = "http://isb.op.fi"
client_id = "gw"
discovery = false
token_endpoint = "https://isb.op.fi/token"
"#,
    );
    let errs = parse(&text, no_env(), Path::new("/")).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    // Shape problems first: nothing else is looked at until the shape is right.
    assert_eq!(
        paths,
        vec![
            "methods.banks[0].claims.shoe",
            "methods.banks[1].display_name.en"
        ],
        "{errs:?}"
    );
    let text = text
        .replace("shoe = \"x\"\n", "")
        .replace("sv = \"OP\" }", "sv = \"OP\", en = \"OP\" }");
    let errs = parse(&text, no_env(), Path::new("/")).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "methods.banks[0].request_object_signing_alg",
        "methods.banks[0].token_endpoint_auth_signing_alg",
        "methods.banks[0].id_token_signing_algs[1]",
        "methods.banks[0].id_token_signing_algs[2]",
        "methods.banks[0].id_token_encryption.algs[0]",
        "methods.banks[0].id_token_encryption.encs[1]",
        "methods.banks[0].max_loa",
        "methods.banks[0].jwks_uri",
        "methods.banks[0].timeout_seconds",
        "methods.banks[1].id",
        "methods.banks[1].authorization_endpoint",
        "methods.banks[1].jwks_uri",
    ] {
        assert!(paths.contains(&want), "{want} missing from {errs:#?}");
    }
    assert!(!paths.contains(&"methods.banks[0].id_token_signing_algs[0]"));
    let hs = errs
        .iter()
        .find(|p| p.path == "methods.banks[0].id_token_signing_algs[2]")
        .unwrap();
    assert!(hs.message.contains("\"HS256\" is not allowed"), "{hs}");
    // With the per-field problems fixed, the adapter's own checks run (http issuer).
    let text = text
        .replace("request_object_signing_alg = \"HS256\"\n", "")
        .replace("token_endpoint_auth_signing_alg = \"none\"\n", "")
        .replace(", \"none\", \"HS256\"", "")
        .replace("\"RSA1_5\"", "\"RSA-OAEP-256\"")
        .replace(", \"A128CBC\"", "")
        .replace("\"loa3\"", "\"ftn_substantial\"")
        .replace("jwks_uri = \"https://isb.op.fi/jwks\"\n", "")
        .replace("timeout_seconds = 0\n", "")
        .replace(
            "id = \"op\"\ndisplay_name = { fi = \"Pankki B\"",
            "id = \"b\"\ndisplay_name = { fi = \"Pankki B\"",
        )
        .replace(
            "discovery = false\n",
            "discovery = false\nauthorization_endpoint = \"https://isb.op.fi/auth\"\njwks_uri = \"https://isb.op.fi/jwks\"\n",
        );
    let errs = parse(&text, no_env(), Path::new("/")).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, vec!["methods.banks[1].issuer"], "{errs:#?}");
}

#[test]
fn banks_need_the_oidc_keys() {
    let errs = parse(&(GOOD.to_owned() + BANK), no_env(), Path::new("/")).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["keys.oidc_signing_key", "keys.oidc_encryption_key"]
    );
}

#[test]
fn environment_reaches_a_bank_by_position() {
    let env = vec![
        (
            "GATEWAY__METHODS__BANKS__0__CLIENT_ID".to_owned(),
            "from-env".to_owned(),
        ),
        (
            "GATEWAY__METHODS__BANKS__0__USERINFO".to_owned(),
            "true".to_owned(),
        ),
    ];
    let c = parse(&with_bank(""), env.into_iter(), Path::new("/")).unwrap();
    assert_eq!(c.methods.banks[0].client_id, "from-env");
    assert!(c.methods.banks[0].userinfo);
    for (name, want) in [
        ("GATEWAY__METHODS__BANKS__5__CLIENT_ID", "no entry 5"),
        ("GATEWAY__METHODS__BANKS__X__CLIENT_ID", "not an index"),
    ] {
        let env = vec![(name.to_owned(), "x".to_owned())];
        let errs = parse(&with_bank(""), env.into_iter(), Path::new("/")).unwrap_err();
        assert_eq!(errs[0].path, format!("env {name}"));
        assert!(errs[0].message.contains(want), "{errs:?}");
    }
}

#[test]
fn sp_encrypt_assertions_is_in_the_schema() {
    let c = parse(
        &(GOOD.to_owned() + "encrypt_assertions = false\n"),
        no_env(),
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(c.service_providers[0].encrypt_assertions, Some(false));
}

#[test]
fn the_test_bank_only_in_a_test_environment() {
    let testbank = "\n[methods.testbank]\nenabled = true\n";
    let c = parse(GOOD, no_env(), Path::new("/")).unwrap();
    assert_eq!(c.environment, Environment::Production);
    for text in [
        GOOD.to_owned() + testbank,
        format!("environment = \"production\"\n{GOOD}{testbank}"),
    ] {
        let errs = parse(&text, no_env(), Path::new("/")).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "methods.testbank.enabled");
        assert!(
            errs[0].message.contains("environment = \"test\""),
            "{errs:?}"
        );
    }
    let c = parse(
        &format!("environment = \"test\"\n{GOOD}{testbank}"),
        no_env(),
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(c.environment, Environment::Test);
    assert!(c.methods.testbank.enabled);
    // A test environment without the test bank is fine; a disabled test bank needs nothing.
    parse(
        &format!("environment = \"test\"\n{GOOD}"),
        no_env(),
        Path::new("/"),
    )
    .unwrap();
    parse(
        &(GOOD.to_owned() + "\n[methods.testbank]\nenabled = false\n"),
        no_env(),
        Path::new("/"),
    )
    .unwrap();
}

#[test]
fn unknown_environment_and_log_format_are_reported_at_their_paths() {
    let text = format!("environment = \"staging\"\n{GOOD}\n[log]\nformat = \"yaml\"\n");
    let errs = parse(&text, no_env(), Path::new("/")).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["environment", "log.format"], "{errs:?}");
    assert!(errs[0].message.contains("production, test"), "{errs:?}");
    assert!(errs[1].message.contains("text, json"), "{errs:?}");
    let errs = parse(
        &(GOOD.to_owned() + "\n[log]\nformat = \"json\"\nlevel = \"debug\"\n"),
        no_env(),
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(errs[0].path, "log.level");
}

#[test]
fn log_format_from_the_file_or_the_environment() {
    let c = parse(GOOD, no_env(), Path::new("/")).unwrap();
    assert_eq!(c.log.format, LogFormat::Text);
    let c = parse(
        &(GOOD.to_owned() + "\n[log]\nformat = \"json\"\n"),
        no_env(),
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    let env = vec![("GATEWAY__LOG__FORMAT".to_owned(), "json".to_owned())];
    let c = parse(GOOD, env.into_iter(), Path::new("/")).unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    let env = vec![("GATEWAY__LOG__FORMAT".to_owned(), "xml".to_owned())];
    let errs = parse(GOOD, env.into_iter(), Path::new("/")).unwrap_err();
    assert_eq!(errs[0].path, "log.format");
}

#[test]
fn the_readme_example_is_a_valid_config() {
    let readme = include_str!("../../../../README.md");
    let start = readme.find("```toml\n[server]").unwrap() + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let c = parse(&readme[start..end], no_env(), Path::new("/etc/gw")).unwrap();
    assert_eq!(c.methods.banks.len(), 1);
    bank_settings(0, &c.methods.banks[0], &c.server.public_url).unwrap();
}

fn store_problems(store: &str) -> Vec<(String, String)> {
    match parse(
        &format!("{GOOD}\n[store]\n{store}\n"),
        no_env(),
        Path::new("/etc/gw"),
    ) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.into_iter().map(|p| (p.path, p.message)).collect(),
    }
}

#[test]
fn a_redis_store_is_checked_before_anything_connects() {
    let ok = parse(
        &format!("{GOOD}\n[store]\nkind = \"redis\"\nurl = \"redis://10.0.0.7:6379\"\nkey_prefix = \"gw1:\"\nseal_keys = [{{ name = \"s1\", file = \"store.key\" }}]\n"),
        no_env(),
        Path::new("/etc/gw"),
    )
    .unwrap();
    assert_eq!(ok.store.kind, StoreKind::Redis);
    assert_eq!(
        ok.store.seal_keys[0].file,
        PathBuf::from("/etc/gw/store.key")
    );
    assert!(ok.store.redis_settings().is_some());

    let cases: &[(&str, &str, &str)] = &[
        ("kind = \"redis\"\nurl = \"redis://h:6379\"", "store.seal_keys", "sealed"),
        ("kind = \"redis\"\nseal_keys = [{ name = \"s\", file = \"f\" }]", "store.url", "needs url"),
        ("kind = \"redis\"\nurl = \"rediss://h:6379\"\nseal_keys = [{ name = \"s\", file = \"f\" }]", "store.url", "TLS"),
        ("kind = \"redis\"\nurl = \"http://h\"\nseal_keys = [{ name = \"s\", file = \"f\" }]", "store.url", "expected redis://"),
        ("kind = \"redis\"\nurl = \"redis://h\"\nsentinel_master = \"m\"\nsentinels = [\"redis://s:26379\"]\nseal_keys = [{ name = \"s\", file = \"f\" }]", "store.url", "not both"),
        ("kind = \"redis\"\nsentinel_master = \"m\"\nseal_keys = [{ name = \"s\", file = \"f\" }]", "store.sentinels", "at least one"),
        ("kind = \"redis\"\nsentinel_master = \"m\"\nsentinels = [\"tcp://s\"]\nseal_keys = [{ name = \"s\", file = \"f\" }]", "store.sentinels[0]", "expected redis://"),
        ("url = \"redis://h:6379\"", "store.url", "only for kind"),
        ("kind = \"memcached\"", "store.kind", "not one of"),
        ("timeout_ms = 5", "store.timeout_ms", "10..=60000"),
        ("key_prefix = \"a b\"", "store.key_prefix", "printable"),
    ];
    for (store, path, says) in cases {
        let got = store_problems(store);
        assert!(
            got.iter().any(|(p, m)| p == path && m.contains(says)),
            "{store:?}: expected {path} saying {says:?}, got {got:?}"
        );
    }
}

#[test]
fn the_idle_lifetime_is_within_the_absolute_one() {
    let errs = parse(
        &format!("{GOOD}\n[session]\nsso_session_minutes = 30\nsso_idle_minutes = 60\n"),
        no_env(),
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(errs[0].path, "session.sso_idle_minutes");
    let c = parse(GOOD, no_env(), Path::new("/")).unwrap();
    assert_eq!(
        (c.session.sso_session_minutes, c.session.sso_idle_minutes),
        (480, 60)
    );
}

//! How long one RS256 signature takes through `JwsSigner` (jsonwebtoken with jose's provider)
//! against a bare aws-lc-rs signature with the same key parsed once: `cargo run --release -p jose
//! --example sign_speed`.

#![allow(clippy::unwrap_used)]

fn main() {
    let id = certs::SigningIdentity::generate_self_signed(
        "speed",
        certs::KeyKind::Rsa2048,
        time::OffsetDateTime::now_utc(),
        1,
    )
    .unwrap();
    let signer = jose::JwsSigner::new(&id.key, "k", jose::JwsAlg::RS256).unwrap();
    let payload = br#"{"iss":"https://gw.example","sub":"abc","aud":"c","exp":2000000000}"#;
    let n = 400;
    let t = std::time::Instant::now();
    for _ in 0..n {
        signer.sign(serde_json::Map::new(), payload).unwrap();
    }
    let jws = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let t = std::time::Instant::now();
    for _ in 0..n {
        id.key.sign(payload).unwrap();
    }
    let bare = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("RS256 through JwsSigner: {jws:.0} µs; bare RSA-2048 signature: {bare:.0} µs");
}

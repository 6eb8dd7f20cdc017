//! The bank adapter's HTTP client: reqwest over rustls (aws-lc-rs provider, the system's roots).
//!
//! One client per bank, built once at start with that bank's timeouts. Redirects are never
//! followed (a bank endpoint that redirects is misconfigured or hostile), no proxy is taken from
//! the environment, only `https` URLs are fetched (plain `http` only on a loopback host, for test
//! banks), and a response body is read in chunks up to a cap, so an oversize answer is refused
//! before it is held in memory.

use idp_adapters::ftn::{HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse};
use idp_adapters::AdapterFuture;
use std::time::Duration;

/// Largest response body read from a bank (discovery, JWKS, token, userinfo are a few KiB).
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// Timeouts for one bank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// The whole exchange, from connecting to the last byte of the body.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(10),
        }
    }
}

/// [`HttpClient`] over reqwest. Cheap to share (`Arc`); never rebuilt per request.
pub struct ReqwestHttp {
    client: reqwest::Client,
    total: Duration,
    max_body: usize,
    /// Plain http to any host: only for content that is verified by its own signature.
    plain_http: bool,
}

impl ReqwestHttp {
    pub fn new(timeouts: Timeouts) -> Result<Self, String> {
        Self::with_body_cap(timeouts, MAX_RESPONSE_BODY)
    }

    pub fn with_body_cap(timeouts: Timeouts, max_body: usize) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .user_agent(concat!("identity-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(ReqwestHttp {
            client,
            total: timeouts.total,
            max_body,
            plain_http: false,
        })
    }

    /// For CRLs and OCSP responses: signed by the CA, and published over plain http by
    /// convention (RFC 5280 §4.2.1.13, RFC 6960 appendix A), so http to any host is allowed.
    /// Everything else is as for banks: no redirects, no proxy, timeouts, the body cap.
    pub fn for_signed_responses(timeouts: Timeouts, max_body: usize) -> Result<Self, String> {
        let mut client = Self::with_body_cap(timeouts, max_body)?;
        client.plain_http = true;
        Ok(client)
    }

    async fn exchange(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| HttpError::Refused(format!("not a URL: {e}")))?;
        let signed_over_http = self.plain_http
            && url.scheme() == "http"
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none();
        if !url_allowed(&url) && !signed_over_http {
            return Err(HttpError::Refused(
                "only https URLs (http only on a loopback host) without credentials".into(),
            ));
        }
        let mut rb = match req.method {
            HttpMethod::Get => self.client.get(url),
            HttpMethod::Post => self.client.post(url),
        };
        for (name, value) in &req.headers {
            rb = rb.header(name.as_str(), value.as_str());
        }
        if req.form.is_some() && req.body.is_some() {
            return Err(HttpError::Refused("both a form and a raw body".into()));
        }
        if let Some((content_type, bytes)) = req.body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        if let Some(form) = &req.form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter())
                .finish();
            rb = rb
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body);
        }
        let mut resp = rb.send().await.map_err(map_error)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(HttpError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_error)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            content_type,
            body,
        })
    }
}

impl HttpClient for ReqwestHttp {
    fn send<'a>(&'a self, req: HttpRequest) -> AdapterFuture<'a, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            // reqwest's own total timeout covers the body too; this also bounds our reading loop.
            match tokio::time::timeout(self.total, self.exchange(req)).await {
                Ok(r) => r,
                Err(_) => Err(HttpError::Timeout),
            }
        })
    }
}

fn map_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else {
        HttpError::Io(e.to_string())
    }
}

/// Whether the gateway may fetch `url`: https, or http on a loopback host; no credentials.
pub fn url_allowed(url: &url::Url) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback_host(url),
        _ => false,
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn plain_http_to_other_hosts_only_for_signed_responses() {
        let req = || HttpRequest {
            method: HttpMethod::Get,
            // TEST-NET-1: nothing answers; what matters is whether the client tries.
            url: "http://192.0.2.1:9/ca.crl".into(),
            headers: Vec::new(),
            form: None,
            body: None,
        };
        let quick = Timeouts {
            connect: Duration::from_millis(200),
            total: Duration::from_millis(400),
        };
        let bank = ReqwestHttp::new(quick).unwrap();
        assert!(matches!(bank.send(req()).await, Err(HttpError::Refused(_))));
        let signed = ReqwestHttp::for_signed_responses(quick, 1024).unwrap();
        let err = signed.send(req()).await.unwrap_err();
        assert!(!matches!(err, HttpError::Refused(_)), "{err:?}");
        let mut with_user = req();
        with_user.url = "http://user:pw@192.0.2.1/ca.crl".into();
        assert!(matches!(
            signed.send(with_user).await,
            Err(HttpError::Refused(_))
        ));
        let mut ftp = req();
        ftp.url = "ftp://192.0.2.1/ca.crl".into();
        assert!(matches!(signed.send(ftp).await, Err(HttpError::Refused(_))));
    }

    #[test]
    fn only_https_or_loopback_http() {
        let ok = |s: &str| url_allowed(&url::Url::parse(s).unwrap());
        assert!(ok("https://bank.example/token"));
        assert!(ok("http://127.0.0.1:8080/token"));
        assert!(ok("http://127.1.2.3/token"));
        assert!(ok("http://[::1]:9/x"));
        assert!(ok("http://localhost/x"));
        assert!(!ok("http://bank.example/token"));
        assert!(!ok("http://10.0.0.1/token"));
        assert!(!ok("ftp://127.0.0.1/x"));
        assert!(!ok("file:///etc/passwd"));
        assert!(!ok("https://user:pw@bank.example/token"));
    }

    /// A one-shot HTTP server on loopback answering every connection with `answer`, recording
    /// what it was sent.
    async fn server(answer: Vec<u8>) -> (String, tokio::sync::mpsc::Receiver<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = vec![0u8; 16 * 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let _ = tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .await;
                let _ = s.write_all(&answer).await;
                let _ = s.shutdown().await;
            }
        });
        (base, rx)
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            url: url.to_owned(),
            headers: vec![("Authorization".into(), "Bearer t".into())],
            form: None,
            body: None,
        }
    }

    #[tokio::test]
    async fn posts_forms_and_reads_the_answer() {
        let (base, mut rx) = server(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                .to_vec(),
        )
        .await;
        let http = ReqwestHttp::new(Timeouts::default()).unwrap();
        let r = http
            .send(HttpRequest {
                method: HttpMethod::Post,
                url: format!("{base}/token"),
                headers: vec![],
                form: Some(vec![("a".into(), "b c&".into()), ("d".into(), "é".into())]),
                body: None,
            })
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(r.body, b"{}");
        let seen = rx.recv().await.unwrap();
        assert!(seen.starts_with("POST /token HTTP/1.1"), "{seen}");
        assert!(
            seen.contains("content-type: application/x-www-form-urlencoded"),
            "{seen}"
        );
        assert!(seen.ends_with("a=b+c%26&d=%C3%A9"), "{seen}");
    }

    #[tokio::test]
    async fn posts_raw_bodies_with_their_content_type() {
        let (base, mut rx) = server(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 3\r\nConnection: close\r\n\r\n\x30\x01\x00"
                .to_vec(),
        )
        .await;
        let http = ReqwestHttp::new(Timeouts::default()).unwrap();
        let r = http
            .send(HttpRequest {
                method: HttpMethod::Post,
                url: format!("{base}/ocsp"),
                headers: vec![],
                form: None,
                body: Some((
                    "application/ocsp-request".into(),
                    b"\x30\x03\x02\x01\x00".to_vec(),
                )),
            })
            .await
            .unwrap();
        assert_eq!(r.body, b"\x30\x01\x00");
        let seen = rx.recv().await.unwrap();
        assert!(seen.starts_with("POST /ocsp HTTP/1.1"), "{seen}");
        assert!(
            seen.contains("content-type: application/ocsp-request"),
            "{seen}"
        );
        assert!(seen.contains("content-length: 5"), "{seen}");
        assert!(seen.ends_with("0\u{3}\u{2}\u{1}\0"), "{seen:?}");

        let both = HttpRequest {
            method: HttpMethod::Post,
            url: format!("{base}/x"),
            headers: vec![],
            form: Some(vec![]),
            body: Some(("application/ocsp-request".into(), vec![])),
        };
        assert!(matches!(http.send(both).await, Err(HttpError::Refused(_))));
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (base, mut rx) = server(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec(),
        )
        .await;
        let http = ReqwestHttp::new(Timeouts::default()).unwrap();
        let r = http.send(get(&format!("{base}/jwks"))).await.unwrap();
        assert_eq!(r.status, 302);
        let seen = rx.recv().await.unwrap();
        assert!(seen.contains("authorization: Bearer t"), "{seen}");
    }

    #[tokio::test]
    async fn oversize_bodies_are_refused_while_reading() {
        // Declared too large.
        let (base, _rx) = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n".to_vec(),
        )
        .await;
        let http = ReqwestHttp::with_body_cap(Timeouts::default(), 1000).unwrap();
        assert!(matches!(
            http.send(get(&format!("{base}/x"))).await,
            Err(HttpError::TooLarge)
        ));
        // Chunked, no length: refused once the cap is passed.
        let mut answer =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for _ in 0..5 {
            answer.extend_from_slice(b"12c\r\n");
            answer.extend_from_slice(&[b'x'; 300]);
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        let (base, _rx) = server(answer).await;
        assert!(matches!(
            http.send(get(&format!("{base}/x"))).await,
            Err(HttpError::TooLarge)
        ));
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let http = ReqwestHttp::new(Timeouts {
            connect: Duration::from_millis(500),
            total: Duration::from_millis(300),
        })
        .unwrap();
        let t = std::time::Instant::now();
        assert!(matches!(
            http.send(get(&format!("{base}/x"))).await,
            Err(HttpError::Timeout)
        ));
        assert!(t.elapsed() < Duration::from_secs(3));
        hold.abort();
    }

    #[tokio::test]
    async fn non_loopback_http_is_refused_without_a_connection() {
        let http = ReqwestHttp::new(Timeouts::default()).unwrap();
        for url in [
            "http://bank.example/token",
            "gopher://127.0.0.1/",
            "not a url",
        ] {
            assert!(
                matches!(http.send(get(url)).await, Err(HttpError::Refused(_))),
                "{url}"
            );
        }
    }
}

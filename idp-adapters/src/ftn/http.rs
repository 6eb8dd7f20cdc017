//! The HTTP seam between the bank adapter and the gateway: the adapter builds requests and reads
//! responses as plain values; the gateway implements [`HttpClient`] (timeouts, no redirects, body
//! cap, https-or-loopback). Nothing in this crate opens a socket.

use std::fmt;

use thiserror::Error;

/// Sends one request. Implementations must not follow redirects and must cap the body size
/// (answering [`HttpError::TooLarge`]).
pub trait HttpClient: Send + Sync {
    fn send<'a>(
        &'a self,
        req: HttpRequest,
    ) -> crate::AdapterFuture<'a, Result<HttpResponse, HttpError>>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

/// A request to a bank (or an OCSP responder). `form`, when present, is sent as
/// `application/x-www-form-urlencoded` (a POST body); `body`, when present, is sent as it is with
/// its content type (an OCSP request: `application/ocsp-request`, DER). At most one of the two.
/// `Debug` shows header and form field names and the body's type and length only: values hold the
/// authorization code, the PKCE verifier, the client assertion or a bearer token.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub form: Option<Vec<(String, String)>>,
    /// A raw POST body: (content type, bytes).
    pub body: Option<(String, Vec<u8>)>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "form",
                &self
                    .form
                    .as_ref()
                    .map(|form| form.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            )
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|(content_type, bytes)| (content_type, bytes.len())),
            )
            .finish()
    }
}

/// A bank's answer. `content_type` is the raw `Content-Type` header value, if any.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, Error)]
pub enum HttpError {
    #[error("timeout")]
    Timeout,
    #[error("response too large")]
    TooLarge,
    #[error("refused: {0}")]
    Refused(String),
    #[error("I/O: {0}")]
    Io(String),
}

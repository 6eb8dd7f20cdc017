//! One HTTP/1.1 keep-alive connection to the target (hyper's connection-level client, no pool),
//! and the few parts of an answer the tool looks at. Cookies are kept by the caller: the
//! gateway's are `Secure` and `__Host-`, which a browser-grade jar would not send over http.

use crate::target::LoopbackTarget;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use thiserror::Error;

/// What the tool keeps of an answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    /// `name=value` of each Set-Cookie (attributes dropped).
    pub set_cookies: Vec<(String, String)>,
    pub body: Bytes,
}

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("bad request: {0}")]
    Request(#[from] hyper::http::Error),
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    /// Connects to the target, from `source` if given (a loopback address to bind to).
    pub async fn open(
        target: &LoopbackTarget,
        source: Option<IpAddr>,
    ) -> Result<Connection, ClientError> {
        let addr = target.addr;
        let connect_err = |source| ClientError::Connect { addr, source };
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(connect_err)?;
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0)).map_err(connect_err)?;
        }
        let stream = socket.connect(addr).await.map_err(connect_err)?;
        stream.set_nodelay(true).map_err(connect_err)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection's end (closed by either side) shows as an error on the next request.
            let _ = conn.await;
        });
        Ok(Connection {
            sender,
            authority: target.authority.clone(),
        })
    }

    pub async fn get(
        &mut self,
        path_and_query: &str,
        cookies: &str,
    ) -> Result<Answer, ClientError> {
        self.send(Method::GET, path_and_query, cookies, None).await
    }

    pub async fn post_form(
        &mut self,
        path: &str,
        cookies: &str,
        form: String,
    ) -> Result<Answer, ClientError> {
        self.send(Method::POST, path, cookies, Some(form)).await
    }

    async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        cookies: &str,
        form: Option<String>,
    ) -> Result<Answer, ClientError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, &self.authority);
        if !cookies.is_empty() {
            req = req.header(COOKIE, cookies);
        }
        let body = match form {
            Some(f) => {
                req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(f))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body)?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        let location = parts
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = parts
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(crate::pages::cookie_pair)
            .collect();
        Ok(Answer {
            status: parts.status,
            location,
            set_cookies,
            body,
        })
    }
}

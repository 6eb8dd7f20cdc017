//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): a logout token POSTed to each
//! client that took part in a session that ended. Sent in the background, each with a timeout, no
//! redirects followed, no proxy; a client that does not answer 200 is logged, never retried (the
//! tokens of the session fail introspection already, whatever the client does).

use crate::flows::oidc::LogoutNotifier;
use std::time::Duration;

pub struct HttpNotifier {
    client: Option<reqwest::Client>,
}

impl HttpNotifier {
    pub fn new() -> HttpNotifier {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("identity-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| tracing::error!(cause = %e, "back-channel logout client: cannot build; logout tokens will not be sent"))
            .ok();
        HttpNotifier { client }
    }
}

impl Default for HttpNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl LogoutNotifier for HttpNotifier {
    fn notify(&self, uri: String, logout_token: String) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::error!("back-channel logout outside the runtime: not sent");
            return;
        };
        handle.spawn(async move {
            let sent = client
                .post(&uri)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(format!(
                    "logout_token={}",
                    url::form_urlencoded::byte_serialize(logout_token.as_bytes()).collect::<String>()
                ))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(target: "audit", event = "backchannel_logout_sent", uri = %uri, status = r.status().as_u16());
                }
                Ok(r) => {
                    tracing::warn!(uri = %uri, status = r.status().as_u16(), "a client refused its back-channel logout token");
                }
                Err(e) => tracing::warn!(uri = %uri, cause = %e, "a client's back-channel logout endpoint did not answer"),
            }
        });
    }
}

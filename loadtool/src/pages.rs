//! Reading the gateway's answers: where a redirect goes (same origin only), the auto-post page
//! that carries a SAML message, and the cookies it sets.

/// The self-submitting form of an auto-post page.
#[derive(Debug, PartialEq, Eq)]
pub struct Autopost {
    pub action: String,
    /// `SAMLResponse` or `SAMLRequest`.
    pub field: String,
    /// The base64 message (not decoded: the tool counts answers, it does not verify them).
    pub value: String,
    /// The hidden `RelayState`, when there is one.
    pub relay_state: Option<String>,
}

/// The auto-post form in `html`, if it is one: `<form id="saml" ... action="...">` holding a
/// hidden `SAMLResponse` or `SAMLRequest`.
pub fn autopost(html: &str) -> Option<Autopost> {
    let form_start = html.find("<form id=\"saml\"")?;
    let form = &html[form_start..];
    let form = &form[..form.find("</form>")?];
    let form_tag = &form[..form.find('>')?];
    let action = attr(form_tag, "action")?;
    for field in ["SAMLResponse", "SAMLRequest"] {
        let marker = format!("name=\"{field}\"");
        if let Some(at) = form.find(&marker) {
            let input = &form[form[..at].rfind('<')?..];
            let input = &input[..input.find('>')?];
            let value = attr(input, "value")?;
            if value.is_empty() {
                return None;
            }
            return Some(Autopost {
                action: unescape(&action),
                field: field.to_owned(),
                value: unescape(&value),
                relay_state: hidden_value(form, "RelayState").map(|v| unescape(&v)),
            });
        }
    }
    None
}

/// A redirect's target as a path and query on `origin`; `None` if it leaves the origin (the tool
/// follows nothing off the loopback target) or does not parse.
pub fn same_origin_path(origin: &str, location: &str) -> Option<String> {
    let base = url::Url::parse(origin).ok()?;
    let to = base.join(location).ok()?;
    if to.origin() != base.origin() {
        return None;
    }
    Some(match to.query() {
        Some(q) => format!("{}?{q}", to.path()),
        None => to.path().to_owned(),
    })
}

/// One query parameter of a path and query.
pub fn query_param(path_and_query: &str, name: &str) -> Option<String> {
    let (_, query) = path_and_query.split_once('?')?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `name=value` of a Set-Cookie header; a cookie being deleted (`Max-Age=0`) gives an empty value.
pub fn cookie_pair(set_cookie: &str) -> Option<(String, String)> {
    let mut parts = set_cookie.split(';');
    let (name, value) = parts.next()?.trim().split_once('=')?;
    let deleted = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
    let value = if deleted { "" } else { value };
    Some((name.to_owned(), value.to_owned()))
}

/// The cookies a simulated browser holds, kept whatever their `Secure` attribute says.
#[derive(Clone, Debug, Default)]
pub struct CookieStore {
    pairs: Vec<(String, String)>,
}

impl CookieStore {
    pub fn update(&mut self, set: &[(String, String)]) {
        for (name, value) in set {
            self.pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.pairs.push((name.clone(), value.clone()));
            }
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// The Cookie header for the names given (the gateway's own cookies, not the demo SP's); a
    /// name ending in `*` stands for every cookie whose name starts with what precedes it.
    pub fn header(&self, names: &[&str]) -> String {
        let wanted = |n: &str| {
            names.iter().any(|w| match w.strip_suffix('*') {
                Some(prefix) => n.starts_with(prefix),
                None => n == *w,
            })
        };
        self.pairs
            .iter()
            .filter(|(n, _)| wanted(n))
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The value of the `<input ... name="NAME" ...>` in `form`.
fn hidden_value(form: &str, name: &str) -> Option<String> {
    let at = form.find(&format!("name=\"{name}\""))?;
    let input = &form[form[..at].rfind('<')?..];
    attr(&input[..input.find('>')?], "value")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the gateway's `autopost_page` writes it.
    const AUTOPOST: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Returning</title></head><body>\
<form id=\"saml\" method=\"post\" action=\"http://127.0.0.1:8080/demo/acs?a=1&amp;b=2\"><input type=\"hidden\" name=\"SAMLResponse\" value=\"PHNhbWxwOlJlc3BvbnNl+/=\"><input type=\"hidden\" name=\"RelayState\" value=\"demo-&quot;x\">\
<p>Returning</p><noscript><p>No script</p><button type=\"submit\">Continue</button></noscript></form>\
<script nonce=\"abc\">document.getElementById('saml').submit();</script></body></html>";

    #[test]
    fn the_autopost_form_is_read() {
        assert_eq!(
            autopost(AUTOPOST),
            Some(Autopost {
                action: "http://127.0.0.1:8080/demo/acs?a=1&b=2".into(),
                field: "SAMLResponse".into(),
                value: "PHNhbWxwOlJlc3BvbnNl+/=".into(),
                relay_state: Some("demo-\"x".into()),
            })
        );
    }

    #[test]
    fn pages_that_are_not_an_autopost_are_not_read_as_one() {
        assert_eq!(
            autopost("<html><body><p>Authentication failed</p></body></html>"),
            None
        );
        // A form of another id (the test bank's), and an empty value.
        assert_eq!(
            autopost("<form method=\"post\" action=\"/login/testbank/finish\"><input type=\"hidden\" name=\"SAMLResponse\" value=\"x\"></form>"),
            None
        );
        assert_eq!(
            autopost(&AUTOPOST.replace("PHNhbWxwOlJlc3BvbnNl+/=", "")),
            None
        );
        // Cut off before the form ends.
        assert_eq!(
            autopost(&AUTOPOST[..AUTOPOST.find("</form>").unwrap()]),
            None
        );
    }

    #[test]
    fn redirects_are_followed_on_the_same_origin_only() {
        let o = "http://127.0.0.1:8080";
        assert_eq!(
            same_origin_path(
                o,
                "http://127.0.0.1:8080/saml/idp/sso?SAMLRequest=a%2Bb&Signature=c"
            )
            .as_deref(),
            Some("/saml/idp/sso?SAMLRequest=a%2Bb&Signature=c")
        );
        assert_eq!(
            same_origin_path(o, "/login?flow=F1").as_deref(),
            Some("/login?flow=F1")
        );
        assert_eq!(same_origin_path(o, "/login").as_deref(), Some("/login"));
        assert_eq!(same_origin_path(o, "http://127.0.0.1:8081/login"), None);
        assert_eq!(same_origin_path(o, "https://127.0.0.1:8080/login"), None);
        assert_eq!(same_origin_path(o, "http://example.com/login"), None);
        assert_eq!(same_origin_path(o, "//example.com/login"), None);
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            query_param("/login?flow=a%2Bb&lang=fi", "flow").as_deref(),
            Some("a+b")
        );
        assert_eq!(query_param("/login?lang=fi", "flow"), None);
        assert_eq!(query_param("/login", "flow"), None);
    }

    #[test]
    fn secure_cookies_are_kept_and_deleted_ones_dropped() {
        let mut jar = CookieStore::default();
        let set: Vec<_> = [
            "__Host-gw_flow_F1=V1; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax",
            "__Host-gw_sso=S1; Path=/; Max-Age=28800; Secure; HttpOnly; SameSite=None",
            "gw_demo_req=R1; Path=/demo; Max-Age=900; Secure; HttpOnly; SameSite=Lax",
        ]
        .iter()
        .filter_map(|s| cookie_pair(s))
        .collect();
        jar.update(&set);
        assert_eq!(
            jar.header(&["__Host-gw_sso", "__Host-gw_flow_*"]),
            "__Host-gw_flow_F1=V1; __Host-gw_sso=S1"
        );
        jar.update(&[cookie_pair("__Host-gw_flow_F1=; Path=/; Max-Age=0").unwrap()]);
        assert!(!jar.has("__Host-gw_flow_F1"));
        assert_eq!(
            jar.header(&["__Host-gw_sso", "__Host-gw_flow_*"]),
            "__Host-gw_sso=S1"
        );
    }
}

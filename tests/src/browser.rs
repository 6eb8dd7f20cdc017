//! A minimal browser: a cookie jar (Secure cookies are sent to loopback, as browsers do),
//! manual redirects, and just enough HTML reading to find forms, links and fields.

use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    /// Extra request headers sent with every request (Accept-Language, say).
    pub accept_language: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub url: String,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            client,
            accept_language: None,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let mut rb = self.client.get(url);
        if let Some(l) = &self.accept_language {
            rb = rb.header("Accept-Language", l);
        }
        Page::from(url, rb.send().await.expect("GET")).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Page {
        let mut rb = self.client.post(url).form(fields);
        if let Some(l) = &self.accept_language {
            rb = rb.header("Accept-Language", l);
        }
        Page::from(url, rb.send().await.expect("POST")).await
    }

    pub async fn post_raw(&self, url: &str, body: Vec<u8>) -> Page {
        let rb = self
            .client
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        Page::from(url, rb.send().await.expect("POST")).await
    }

    /// Follow redirects by GET until a page that is not a redirect.
    pub async fn follow(&self, mut page: Page) -> Page {
        for _ in 0..10 {
            let Some(loc) = page.location.clone() else {
                return page;
            };
            let next = url::Url::parse(&page.url).unwrap().join(&loc).unwrap();
            page = self.get(next.as_str()).await;
        }
        panic!("too many redirects");
    }

    /// Submit the page's form with id `form_id` (or the first form), with extra fields.
    pub async fn submit(&self, page: &Page, form_id: Option<&str>, extra: &[(&str, &str)]) -> Page {
        let form = page.form(form_id).expect("form on page");
        let mut fields = form.fields.clone();
        for (k, v) in extra {
            fields.retain(|(n, _)| n != k);
            fields.push(((*k).to_owned(), (*v).to_owned()));
        }
        let action = url::Url::parse(&page.url)
            .unwrap()
            .join(&form.action)
            .unwrap();
        self.post_form(action.as_str(), &fields).await
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    pub id: Option<String>,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Page {
    async fn from(url: &str, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = r.text().await.unwrap_or_default();
        Page {
            status,
            url: url.to_owned(),
            location,
            set_cookies,
            headers,
            body,
        }
    }

    /// All forms on the page with their hidden/text inputs' values (HTML-unescaped).
    pub fn forms(&self) -> Vec<Form> {
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find("<form") {
            let after = &rest[start..];
            let end = after.find("</form>").unwrap_or(after.len());
            let chunk = &after[..end];
            let tag_end = chunk.find('>').unwrap_or(chunk.len());
            let tag = &chunk[..tag_end];
            let mut fields = Vec::new();
            let mut r2 = chunk;
            while let Some(i) = r2.find("<input") {
                let t = &r2[i..];
                let e = t.find('>').unwrap_or(t.len());
                let input = &t[..e];
                if let Some(name) = attr(input, "name") {
                    fields.push((name, attr(input, "value").unwrap_or_default()));
                }
                r2 = &t[e..];
            }
            out.push(Form {
                id: attr(tag, "id"),
                action: attr(tag, "action").unwrap_or_default(),
                fields,
            });
            rest = &after[end..];
        }
        out
    }

    pub fn form(&self, id: Option<&str>) -> Option<Form> {
        let forms = self.forms();
        match id {
            Some(id) => forms.into_iter().find(|f| f.id.as_deref() == Some(id)),
            None => forms.into_iter().next(),
        }
    }

    /// The href of the link carrying `data-method="..."`.
    pub fn method_link(&self, method: &str) -> Option<String> {
        let marker = format!("data-method=\"{method}\"");
        let i = self.body.find(&marker)?;
        let tag_start = self.body[..i].rfind('<')?;
        let tag_end = i + self.body[i..].find('>')?;
        attr(&self.body[tag_start..tag_end], "href")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .cloned()
    }

    /// The SAMLResponse field this page auto-posts, as sent (base64).
    pub fn saml_response_b64(&self) -> Option<String> {
        let form = self.form(Some("saml"))?;
        form.fields
            .into_iter()
            .find(|(k, _)| k == "SAMLResponse")
            .map(|(_, v)| v)
    }

    /// The SAMLResponse this page auto-posts, decoded, with its RelayState and target.
    pub fn saml_response(&self) -> Option<(String, String, Option<String>)> {
        let form = self.form(Some("saml"))?;
        let v = self.saml_response_b64()?;
        let xml = saml::binding::decode_post(&v, &saml::binding::BindingLimits::default()).ok()?;
        let rs = form
            .fields
            .iter()
            .find(|(k, _)| k == "RelayState")
            .map(|(_, v)| v.clone());
        Some((form.action, xml, rs))
    }

    pub fn has_saml_response(&self) -> bool {
        self.body.contains("SAMLResponse")
    }

    /// The error ID shown on a gateway error page.
    pub fn error_id(&self) -> Option<String> {
        let marker = "<code id=\"error-id\">";
        let i = self.body.find(marker)? + marker.len();
        let e = self.body[i..].find('<')?;
        Some(self.body[i..i + e].to_owned())
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let e = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + e]))
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The Chromium tests' screenshots (`tests/peers/browser_*.js`), kept under
/// `test-artifacts/browser/<test>/` for a person to look at, and checked by content: beside each
/// `NAME.png` the script writes `NAME.heading.txt`, the page's `<h1>` text read from the DOM when
/// the screenshot was taken.
pub mod screenshots {
    use std::path::{Path, PathBuf};

    /// `test-artifacts/browser/<test>/`, emptied, so that every file in it is from this run.
    pub fn fresh_dir(test: &str) -> PathBuf {
        let dir = crate::peers::artifacts_dir().join(test);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot clear {}: {e}", dir.display()),
        }
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }

    /// `dir/name` is a PNG image taken of a page whose heading was `heading`.
    pub fn assert_shows(dir: &Path, name: &str, heading: &str) {
        let png = dir.join(name);
        let bytes =
            std::fs::read(&png).unwrap_or_else(|e| panic!("screenshot {}: {e}", png.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
            "{} is not a PNG screenshot ({} bytes)",
            png.display(),
            bytes.len()
        );
        let txt = png.with_extension("heading.txt");
        let got = std::fs::read_to_string(&txt)
            .unwrap_or_else(|e| panic!("heading of {name}: {}: {e}", txt.display()));
        assert_eq!(got, heading, "the page in {name} is not the expected one");
    }
}

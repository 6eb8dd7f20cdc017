//! HTML pages. Every value from outside is escaped with `esc`; pages work without JavaScript.

use super::i18n::{texts, Texts};
use crate::flows::{Notice, SelectionView};
use idp_adapters::{Language, TestBankPage};
use saml::xml::escape_html as esc;

pub const CSS: &str = r#"body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.5}
h1{font-size:1.5rem}a,button{font-size:1rem}.methods{list-style:none;padding:0}.methods li{margin:.5rem 0}
.method{display:block;padding:.8rem 1rem;border:2px solid #0b5;border-radius:.4rem;text-decoration:none;color:#063;background:#fff;width:100%;text-align:left;cursor:pointer}
.badge{background:#c60;color:#fff;border-radius:.3rem;padding:0 .4rem;margin-left:.5rem;font-size:.8rem}
.warn{background:#fff3cd;border:1px solid #c90;padding:.5rem 1rem}.err{background:#fde;border:1px solid #c33;padding:.5rem 1rem}
label{display:block;margin-top:.8rem;font-weight:600}input,select{font-size:1rem;padding:.3rem;width:100%;max-width:20rem}
.hint{font-size:.9rem;color:#555}nav.lang a{margin-right:1rem}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}
.persons form{display:inline}iframe.slo{width:0;height:0;border:0;position:absolute}"#;

fn page(t: &Texts, title: &str, lang_links: Option<&str>, body: &str) -> String {
    let nav = lang_links.map(|q| language_nav(t, q)).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><link rel=\"stylesheet\" href=\"/static/gateway.css\"></head><body>{nav}<main><h1>{title}</h1>{body}</main></body></html>",
        lang = t.lang,
        title = esc(title),
    )
}

/// Links to the same page in the other languages; `query` is the page's query without `lang`.
fn language_nav(t: &Texts, query: &str) -> String {
    let mut s = format!(
        "<nav class=\"lang\" aria-label=\"{}\">",
        esc(t.language_nav)
    );
    for (code, name) in [
        ("fi", "Suomeksi"),
        ("sv", "På svenska"),
        ("en", "In English"),
    ] {
        if code != t.lang {
            s.push_str(&format!(
                "<a href=\"?{}&amp;lang={code}\" lang=\"{code}\" hreflang=\"{code}\">{name}</a>",
                esc(query)
            ));
        }
    }
    s.push_str("</nav>");
    s
}

pub fn selection_page(view: &SelectionView) -> String {
    let t = texts(view.lang);
    let (flow_id, sp_name, methods) = (&view.flow_id, &view.sp_name, &view.methods);
    let mut body = String::new();
    let notice = view.notice.map(|n| match n {
        Notice::CancelledAtMethod => t.cancelled_at_method,
        Notice::NoCertificate => t.no_certificate,
    });
    if let Some(n) = notice {
        body.push_str(&format!("<p class=\"warn\" role=\"status\">{}</p>", esc(n)));
    }
    body.push_str(&format!(
        "<p>{} <strong>{}</strong></p><ul class=\"methods\">",
        esc(t.select_intro),
        esc(sp_name)
    ));
    for m in methods {
        let badge = if m.is_test {
            format!("<span class=\"badge\">{}</span>", esc(t.test_badge))
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<li><a class=\"method\" data-method=\"{id}\" href=\"/login/{id}?flow={flow}&amp;lang={lang}\">{name}{badge}</a></li>",
            id = esc(&m.id),
            flow = esc(flow_id),
            lang = t.lang,
            name = esc(&m.name),
        ));
    }
    body.push_str(&format!(
        "</ul><form method=\"post\" action=\"/login/cancel\"><input type=\"hidden\" name=\"flow\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        esc(flow_id),
        t.lang,
        esc(t.cancel_to_service)
    ));
    page(t, t.select_title, Some(&format!("flow={flow_id}")), &body)
}

pub fn testbank_page(lang: Language, data: &TestBankPage, error: Option<&str>) -> String {
    let t = texts(lang);
    let flow = esc(&data.flow_id);
    let mut body = format!(
        "<p class=\"warn\" role=\"note\">{}</p>",
        esc(t.testbank_warning)
    );
    if let Some(e) = error {
        body.push_str(&format!(
            "<p class=\"err\" role=\"alert\">{} {}</p>",
            esc(t.err_invalid_input),
            esc(e)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/login/testbank/finish\"><input type=\"hidden\" name=\"flow\" value=\"{flow}\"><input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
<label for=\"national_id\">{nid}</label><input id=\"national_id\" name=\"national_id\" type=\"text\" autocomplete=\"off\" required maxlength=\"11\" aria-describedby=\"nid-hint\"><div class=\"hint\" id=\"nid-hint\">{nid_hint}</div>\
<label for=\"given_name\">{gn}</label><input id=\"given_name\" name=\"given_name\" type=\"text\" maxlength=\"100\" aria-describedby=\"names-hint\">\
<label for=\"family_name\">{fn_}</label><input id=\"family_name\" name=\"family_name\" type=\"text\" maxlength=\"100\" aria-describedby=\"names-hint\"><div class=\"hint\" id=\"names-hint\">{names_hint}</div>\
<label for=\"loa\">{loa}</label><select id=\"loa\" name=\"loa\"><option value=\"\">-</option><option value=\"loa2\">loa2 (substantial)</option><option value=\"loa3\">loa3 (high)</option></select>\
<p><button type=\"submit\" id=\"submit\">{identify}</button></p></form>",
        nid = esc(t.national_id),
        nid_hint = esc(t.national_id_hint),
        gn = esc(t.given_name),
        fn_ = esc(t.family_name),
        names_hint = esc(t.names_hint),
        loa = esc(t.loa),
        identify = esc(t.identify),
        lang = t.lang,
    ));
    body.push_str(&format!(
        "<h2>{}</h2><ul class=\"persons\">",
        esc(t.ready_persons)
    ));
    for p in &data.persons {
        body.push_str(&format!(
            "<li><form method=\"post\" action=\"/login/testbank/finish\"><input type=\"hidden\" name=\"flow\" value=\"{flow}\"><input type=\"hidden\" name=\"lang\" value=\"{lang}\"><input type=\"hidden\" name=\"national_id\" value=\"{nid}\"><button type=\"submit\" data-person=\"{nid}\">{gn} {fn_} ({nid})</button></form></li>",
            nid = esc(p.national_id),
            gn = esc(p.given_name),
            fn_ = esc(p.family_name),
            lang = t.lang,
        ));
    }
    body.push_str(&format!(
        "</ul><form method=\"post\" action=\"/login/testbank/finish\"><input type=\"hidden\" name=\"flow\" value=\"{flow}\"><input type=\"hidden\" name=\"lang\" value=\"{lang}\"><button type=\"submit\" name=\"cancel\" value=\"1\">{}</button></form>",
        esc(t.back_to_methods),
        lang = t.lang,
    ));
    page(t, t.testbank_title, None, &body)
}

/// The self-submitting form that carries a SAML message to the SP. `nonce` allows the one script.
pub fn autopost_page(
    lang: Language,
    action: &str,
    field: &str,
    value: &str,
    relay_state: Option<&str>,
    nonce: &str,
) -> String {
    let t = texts(lang);
    let rs = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                esc(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
<form id=\"saml\" method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"{field}\" value=\"{value}\">{rs}\
<p>{returning}</p><noscript><p>{noscript}</p><button type=\"submit\">{cont}</button></noscript></form>\
<script nonce=\"{nonce}\">document.getElementById('saml').submit();</script></body></html>",
        lang = t.lang,
        title = esc(t.returning),
        action = esc(action),
        field = esc(field),
        value = esc(value),
        returning = esc(t.returning),
        noscript = esc(t.noscript),
        cont = esc(t.continue_),
        nonce = esc(nonce),
    )
}

pub fn error_page(lang: Language, message: &str, error_id: &str) -> String {
    let t = texts(lang);
    let body = format!(
        "<p class=\"err\" role=\"alert\">{}</p><p>{}: <code id=\"error-id\">{}</code></p>",
        esc(message),
        esc(t.error_id),
        esc(error_id)
    );
    page(t, t.error_title, None, &body)
}

/// The page for a client over its rate limit (sent with 429 and Retry-After).
pub fn too_many_requests_page(lang: Language) -> String {
    let t = texts(lang);
    let body = format!(
        "<p class=\"err\" role=\"alert\">{}</p>",
        esc(t.err_too_many_requests)
    );
    page(t, t.too_many_requests_title, None, &body)
}

/// Single logout in progress: one hidden frame per participant, and the form that continues
/// (the `nonce` script submits it once every frame has come back to us, or after `wait`).
pub fn logout_page(p: &crate::flows::LogoutPage, nonce: &str) -> String {
    let t = texts(p.lang);
    let mut body = format!("<p role=\"status\">{}</p>", esc(t.logout_progress));
    for (i, src) in p.frames.iter().enumerate() {
        body.push_str(&format!(
            "<iframe class=\"slo\" title=\"{} {n}\" src=\"{}\"></iframe>",
            esc(t.logout_title),
            esc(src),
            n = i + 1
        ));
    }
    body.push_str(&format!(
        "<form id=\"slo-done\" method=\"post\" action=\"/saml/idp/slo/done\"><input type=\"hidden\" name=\"logout\" value=\"{}\"><noscript><p>{}</p></noscript><button type=\"submit\">{}</button></form>",
        esc(&p.logout_id),
        esc(t.noscript),
        esc(t.continue_),
    ));
    body.push_str(&format!(
        "<script nonce=\"{nonce}\">(function(){{var f=document.getElementById('slo-done');var fr=[].slice.call(document.querySelectorAll('iframe.slo'));var end=Date.now()+{wait};function back(x){{try{{return x.contentWindow.location.pathname==='/saml/idp/slo'&&x.contentDocument.readyState==='complete';}}catch(e){{return false;}}}}function tick(){{if(fr.every(back)||Date.now()>end){{f.submit();}}else{{setTimeout(tick,100);}}}}tick();}})();</script>",
        nonce = esc(nonce),
        wait = p.wait.as_millis(),
    ));
    page(t, t.logout_title, None, &body)
}

/// What a participant's frame shows once its answer has arrived.
pub fn logout_frame_page(lang: Language, service: &str, ok: bool) -> String {
    let t = texts(lang);
    let said = if ok {
        t.logout_frame_ok
    } else {
        t.logout_frame_refused
    };
    page(
        t,
        t.logout_title,
        None,
        &format!("<p>{} {}</p>", esc(said), esc(service)),
    )
}

/// The end of the citizen's own logout; `unconfirmed` names the services that did not confirm.
pub fn logged_out_page(lang: Language, unconfirmed: &[String]) -> String {
    let t = texts(lang);
    let mut body = format!("<p role=\"status\">{}</p>", esc(t.logged_out));
    if !unconfirmed.is_empty() {
        body.push_str(&format!(
            "<div class=\"warn\" role=\"alert\"><p>{}</p><ul>",
            esc(t.logged_out_partial)
        ));
        for s in unconfirmed {
            body.push_str(&format!("<li>{}</li>", esc(s)));
        }
        body.push_str("</ul></div>");
    }
    page(t, t.logged_out_title, None, &body)
}

/// `GET /logout`: the confirmation form (its token binds it to the session), or a note that
/// there is no session.
pub fn logout_confirm_page(lang: Language, token: Option<&str>) -> String {
    let t = texts(lang);
    let body = match token {
        Some(tok) => format!(
            "<p>{}</p><form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"token\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}</button></form>",
            esc(t.logout_confirm),
            esc(tok),
            t.lang,
            esc(t.logout_button)
        ),
        None => format!("<p>{}</p>", esc(t.logout_not_logged_in)),
    };
    page(t, t.logout_title, Some(""), &body)
}

/// A plain page for the demo service (English only: it is a developer's tool).
pub fn demo_page(title: &str, body_html: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title><link rel=\"stylesheet\" href=\"/static/gateway.css\"></head><body><main><h1>{t}</h1>{body_html}</main></body></html>",
        t = esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autopost_escapes_relay_state_and_values() {
        let html = autopost_page(
            Language::En,
            "https://sp/acs?a=1&b=2",
            "SAMLResponse",
            "PHg+",
            Some("\"><script>x</script>&"),
            "n1",
        );
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;\""));
        assert!(html.contains("action=\"https://sp/acs?a=1&amp;b=2\""));
        assert!(html.contains("<noscript>"));
        assert!(!html.contains("<script>x"));
    }

    #[test]
    fn selection_page_has_data_method_and_language() {
        let view = SelectionView {
            flow_id: "F1".into(),
            lang: Language::Fi,
            sp_name: "<SP>".into(),
            methods: vec![crate::flows::MethodChoice {
                id: "testbank".into(),
                name: "Testipankki".into(),
                is_test: true,
            }],
            notice: Some(Notice::NoCertificate),
        };
        let html = selection_page(&view);
        assert!(html.contains("data-method=\"testbank\""));
        assert!(html.contains("lang=\"fi\""));
        assert!(html.contains("&lt;SP&gt;"));
        assert!(html.contains("class=\"badge\""));
        assert!(html.contains(crate::web::i18n::texts(Language::Fi).no_certificate));
    }
}

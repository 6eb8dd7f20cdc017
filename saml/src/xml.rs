//! The one strict XML parse of hostile input, and the escaping writer for everything we emit.
//!
//! Parsing: roxmltree with DTDs refused, a node cap, and a size cap; comments and processing
//! instructions are refused too, because SAML never needs them and a comment inside a signed
//! identifier is invisible to canonicalization (the "comment truncation" bug class).

use crate::error::SamlError;

pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_ALG: &str = "urn:oasis:names:tc:SAML:metadata:algsupport";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

/// Caps applied to every parse of input that came from outside.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    pub max_bytes: usize,
    pub max_nodes: u32,
    pub max_depth: usize,
}

impl ParseLimits {
    /// Protocol messages (AuthnRequest, Response, LogoutRequest).
    pub const MESSAGE: ParseLimits = ParseLimits {
        max_bytes: 256 * 1024,
        max_nodes: 4_000,
        max_depth: 32,
    };
    /// Metadata documents (an aggregate may be large, but operators load it, not citizens).
    pub const METADATA: ParseLimits = ParseLimits {
        max_bytes: 16 * 1024 * 1024,
        max_nodes: 1_000_000,
        max_depth: 64,
    };
}

/// Parse `text` strictly. The returned tree is the only tree fields are ever read from.
pub fn parse_strict(text: &str, limits: ParseLimits) -> Result<roxmltree::Document<'_>, SamlError> {
    if text.len() > limits.max_bytes {
        return Err(SamlError::TooLarge {
            what: "XML document",
            limit: limits.max_bytes,
        });
    }
    // roxmltree refuses DTDs when allow_dtd is false but lets an empty one through; we refuse
    // any DOCTYPE or ENTITY declaration outright, before the parser sees it.
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") || text.contains("<!doctype") {
        return Err(SamlError::DtdForbidden);
    }
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| SamlError::Xml(e.to_string()))?;
    for node in doc.descendants() {
        match node.node_type() {
            roxmltree::NodeType::Comment => return Err(SamlError::Forbidden("XML comment")),
            roxmltree::NodeType::PI => return Err(SamlError::Forbidden("processing instruction")),
            roxmltree::NodeType::Element if node.ancestors().count() > limits.max_depth + 1 => {
                return Err(SamlError::TooLarge {
                    what: "XML nesting depth",
                    limit: limits.max_depth,
                });
            }
            _ => {}
        }
    }
    Ok(doc)
}

/// The qualified name of an element as written in the source (`saml:Assertion`), read lexically
/// from the same input the tree was built from.
pub fn element_qname<'a>(node: roxmltree::Node<'a, '_>) -> &'a str {
    let text = node.document().input_text();
    let start = node.range().start + 1;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The prefix part of a qualified name, `None` for an unprefixed name.
pub fn qname_prefix(qname: &str) -> Option<&str> {
    qname.split_once(':').map(|(p, _)| p)
}

/// Is `node` an element named `local` in namespace `ns`?
pub fn is(node: roxmltree::Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// Element children named (ns, local).
pub fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(*c, ns, local))
}

/// The single child (ns, local); more than one is an error, none is `Ok(None)`.
pub fn optional_child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &'a str,
    local: &'static str,
) -> Result<Option<roxmltree::Node<'a, 'i>>, SamlError> {
    let mut it = children(node, ns, local);
    let first = it.next();
    if it.next().is_some() {
        return Err(SamlError::Invalid(format!("more than one {local} element")));
    }
    Ok(first)
}

/// The single required child (ns, local).
pub fn required_child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &'a str,
    local: &'static str,
) -> Result<roxmltree::Node<'a, 'i>, SamlError> {
    optional_child(node, ns, local)?.ok_or(SamlError::Missing(local))
}

/// The text content of a simple element: all of its children must be text (no elements), and
/// the whole of it is returned, so nothing can hide behind a split text node.
pub fn simple_text(node: roxmltree::Node<'_, '_>) -> Result<String, SamlError> {
    let mut out = String::new();
    for c in node.children() {
        if c.is_text() {
            out.push_str(c.text().unwrap_or(""));
        } else {
            return Err(SamlError::Invalid(format!(
                "{} must contain only text",
                node.tag_name().name()
            )));
        }
    }
    Ok(out)
}

/// Escaping writer: every text and attribute value goes through `text`/`attr`, so markup in data
/// stays data.
#[derive(Default)]
pub struct XmlWriter {
    buf: String,
    open: Vec<String>,
    in_start_tag: bool,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn start(&mut self, qname: &str) -> &mut Self {
        self.close_start_tag();
        self.buf.push('<');
        self.buf.push_str(qname);
        self.open.push(qname.to_owned());
        self.in_start_tag = true;
        self
    }

    pub fn attr(&mut self, name: &str, value: &str) -> &mut Self {
        debug_assert!(self.in_start_tag, "attribute outside a start tag");
        self.buf.push(' ');
        self.buf.push_str(name);
        self.buf.push_str("=\"");
        escape_attr_into(&mut self.buf, value);
        self.buf.push('"');
        self
    }

    pub fn attr_opt(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.attr(name, v);
        }
        self
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.close_start_tag();
        escape_text_into(&mut self.buf, value);
        self
    }

    /// Insert already-serialized XML (only ever our own writer's or signer's output).
    pub fn raw_trusted(&mut self, xml: &str) -> &mut Self {
        self.close_start_tag();
        self.buf.push_str(xml);
        self
    }

    pub fn end(&mut self) -> &mut Self {
        self.close_start_tag();
        if let Some(q) = self.open.pop() {
            self.buf.push_str("</");
            self.buf.push_str(&q);
            self.buf.push('>');
        }
        self
    }

    /// `<qname>text</qname>`
    pub fn leaf(&mut self, qname: &str, text: &str) -> &mut Self {
        self.start(qname).text(text).end()
    }

    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.buf
    }

    fn close_start_tag(&mut self) {
        if self.in_start_tag {
            self.buf.push('>');
            self.in_start_tag = false;
        }
    }
}

/// Escape for element content. `>` is escaped too, which canonical XML also does.
pub fn escape_text_into(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(ch),
        }
    }
}

/// Escape for a double-quoted attribute value, as canonical XML does.
pub fn escape_attr_into(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(ch),
        }
    }
}

/// HTML escaping for values placed into pages (attribute or text context).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_doctype_entities_comments_pis() {
        let lim = ParseLimits::MESSAGE;
        assert!(matches!(
            parse_strict("<!DOCTYPE a><a/>", lim),
            Err(SamlError::DtdForbidden)
        ));
        assert!(matches!(
            parse_strict(
                "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                lim
            ),
            Err(SamlError::DtdForbidden)
        ));
        assert!(matches!(
            parse_strict("<a><!-- c --></a>", lim),
            Err(SamlError::Forbidden(_))
        ));
        assert!(matches!(
            parse_strict("<a><?pi x?></a>", lim),
            Err(SamlError::Forbidden(_))
        ));
        assert!(parse_strict("<a><b/></a>", lim).is_ok());
    }

    #[test]
    fn caps_size_nodes_depth() {
        let lim = ParseLimits {
            max_bytes: 100,
            max_nodes: 10,
            max_depth: 3,
        };
        assert!(matches!(
            parse_strict(&"<a>".repeat(50), lim),
            Err(SamlError::TooLarge { .. })
        ));
        let many = format!("<a>{}</a>", "<b/>".repeat(20));
        assert!(parse_strict(
            &many,
            ParseLimits {
                max_bytes: 1000,
                ..lim
            }
        )
        .is_err());
        let deep = "<a><a><a><a><a></a></a></a></a></a>";
        assert!(parse_strict(
            deep,
            ParseLimits {
                max_bytes: 1000,
                max_nodes: 100,
                max_depth: 3
            }
        )
        .is_err());
    }

    #[test]
    fn writer_escapes_markup() {
        let mut w = XmlWriter::new();
        w.start("x:a")
            .attr("v", "\"<&>\t")
            .text("<b>&amp;</b>")
            .end();
        let s = w.finish();
        assert_eq!(
            s,
            "<x:a v=\"&quot;&lt;&amp;>&#x9;\">&lt;b&gt;&amp;amp;&lt;/b&gt;</x:a>"
        );
        let plain = s.replace("x:a", "a");
        let doc = roxmltree::Document::parse(&plain).unwrap();
        assert_eq!(doc.root_element().text(), Some("<b>&amp;</b>"));
        assert_eq!(doc.root_element().attribute("v"), Some("\"<&>\t"));
    }

    #[test]
    fn qname_is_read_from_source() {
        let doc = roxmltree::Document::parse("<p:a xmlns:p=\"u\"><b/></p:a>").unwrap();
        assert_eq!(element_qname(doc.root_element()), "p:a");
        assert_eq!(
            element_qname(doc.root_element().first_child().unwrap()),
            "b"
        );
    }

    #[test]
    fn simple_text_refuses_mixed_content() {
        let doc = roxmltree::Document::parse("<a>x<b/>y</a>").unwrap();
        assert!(simple_text(doc.root_element()).is_err());
        let doc = roxmltree::Document::parse("<a>x&amp;y</a>").unwrap();
        assert_eq!(simple_text(doc.root_element()).unwrap(), "x&y");
    }
}

//! Exclusive XML Canonicalization 1.0 (without comments) of one element subtree of a parsed tree,
//! optionally leaving out one descendant (the enveloped signature being checked or made).
//!
//! Written over roxmltree so that the bytes digested are produced from the very tree whose fields
//! are later read. Element and attribute prefixes are taken from the source text of that tree.

use crate::xml::{element_qname, escape_attr_into, escape_text_into, qname_prefix};
use roxmltree::{Node, NodeId};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Canonicalize `apex` and its descendants, skipping the subtree rooted at `exclude`.
/// `inclusive_prefixes` is the InclusiveNamespaces PrefixList (`#default` for the default namespace).
pub fn canonicalize(
    apex: Node<'_, '_>,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[&str],
) -> String {
    let mut out = String::with_capacity(apex.range().len());
    let mut rendered: Vec<(String, String)> = Vec::new();
    write_node(apex, exclude, inclusive_prefixes, &mut rendered, &mut out);
    out
}

fn write_node(
    node: Node<'_, '_>,
    exclude: Option<NodeId>,
    incl: &[&str],
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) {
    if Some(node.id()) == exclude {
        return;
    }
    match node.node_type() {
        roxmltree::NodeType::Element => write_element(node, exclude, incl, rendered, out),
        roxmltree::NodeType::Text => escape_text_into(out, node.text().unwrap_or("")),
        roxmltree::NodeType::PI => {
            if let Some(pi) = node.pi() {
                out.push_str("<?");
                out.push_str(pi.target);
                if let Some(v) = pi.value {
                    out.push(' ');
                    out.push_str(v);
                }
                out.push_str("?>");
            }
        }
        // Comments are dropped (the without-comments variant); the root has no place in a subtree.
        roxmltree::NodeType::Comment | roxmltree::NodeType::Root => {}
    }
}

fn write_element(
    node: Node<'_, '_>,
    exclude: Option<NodeId>,
    incl: &[&str],
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) {
    let qname = element_qname(node);
    let doc_text = node.document().input_text();

    // Prefixes this element visibly utilizes: its own, and those of its prefixed attributes.
    let mut utilized: Vec<&str> = vec![qname_prefix(qname).unwrap_or("")];
    let mut attrs: Vec<(&str, &str, &str, &str)> = Vec::new(); // (ns uri, local, qname, value)
    for a in node.attributes() {
        let aq = &doc_text[a.range_qname()];
        if let Some(p) = qname_prefix(aq) {
            if p != "xml" && !utilized.contains(&p) {
                utilized.push(p);
            }
        }
        attrs.push((a.namespace().unwrap_or(""), a.name(), aq, a.value()));
    }
    for p in incl {
        let p = if *p == "#default" { "" } else { *p };
        if !utilized.contains(&p) && (p.is_empty() || node.lookup_namespace_uri(Some(p)).is_some())
        {
            utilized.push(p);
        }
    }

    let mut decls: Vec<(&str, String)> = Vec::new();
    for p in utilized {
        let uri = if p.is_empty() {
            node.default_namespace().unwrap_or("").to_owned()
        } else {
            match node.lookup_namespace_uri(Some(p)) {
                Some(u) => u.to_owned(),
                None => continue, // unbound prefix cannot occur in a namespace-well-formed tree
            }
        };
        let in_output = rendered
            .iter()
            .rev()
            .find(|(rp, _)| rp == p)
            .map(|(_, u)| u.as_str());
        let needed = match in_output {
            Some(u) => u != uri,
            // The empty default namespace needs declaring only to undo a rendered default.
            None => !(p.is_empty() && uri.is_empty()),
        };
        if needed {
            decls.push((p, uri));
        }
    }
    decls.sort_by(|a, b| a.0.cmp(b.0));
    attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    out.push('<');
    out.push_str(qname);
    let mark = rendered.len();
    for (p, uri) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr_into(out, uri);
        out.push('"');
        rendered.push(((*p).to_owned(), uri.clone()));
    }
    for (_, _, aq, v) in &attrs {
        out.push(' ');
        out.push_str(aq);
        out.push_str("=\"");
        escape_attr_into(out, v);
        out.push('"');
    }
    out.push('>');
    for child in node.children() {
        write_node(child, exclude, incl, rendered, out);
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
    rendered.truncate(mark);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn c14n(xml: &str, path: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mut n = doc.root_element();
        for p in path {
            n = n
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == *p)
                .unwrap();
        }
        canonicalize(n, None, &[])
    }

    #[test]
    fn renders_only_utilized_namespaces_sorted() {
        let xml = r#"<r:root xmlns:r="urn:r" xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:x b:z="2" y="1"   a:w='3'><b:c/></a:x></r:root>"#;
        assert_eq!(
            c14n(xml, &["x"]),
            r#"<a:x xmlns:a="urn:a" xmlns:b="urn:b" y="1" a:w="3" b:z="2"><b:c></b:c></a:x>"#
        );
    }

    #[test]
    fn default_namespace_and_undeclaration() {
        let xml = r#"<root xmlns="urn:d"><x><y xmlns=""/></x></root>"#;
        assert_eq!(
            c14n(xml, &["x"]),
            r#"<x xmlns="urn:d"><y xmlns=""></y></x>"#
        );
        let xml = r#"<root><x/></root>"#;
        assert_eq!(c14n(xml, &["x"]), r#"<x></x>"#);
    }

    #[test]
    fn escapes_text_and_attributes() {
        let xml = "<a v=\"&lt;&amp;&quot;&#9;&#10;\">&lt;&gt;&amp;\r\n</a>";
        assert_eq!(
            c14n(xml, &[]),
            "<a v=\"&lt;&amp;&quot;&#x9;&#xA;\">&lt;&gt;&amp;\n</a>"
        );
    }

    #[test]
    fn inherited_declaration_is_not_repeated() {
        let xml = r#"<s:a xmlns:s="urn:s"><s:b><s:c xmlns:s="urn:s"/></s:b></s:a>"#;
        assert_eq!(
            c14n(xml, &[]),
            r#"<s:a xmlns:s="urn:s"><s:b><s:c></s:c></s:b></s:a>"#
        );
    }

    #[test]
    fn excludes_the_given_subtree() {
        let xml = r#"<a ID="x"><b/><Signature><q/></Signature><c/></a>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let sig = doc
            .descendants()
            .find(|n| n.has_tag_name("Signature"))
            .unwrap();
        assert_eq!(
            canonicalize(doc.root_element(), Some(sig.id()), &[]),
            r#"<a ID="x"><b></b><c></c></a>"#
        );
    }

    #[test]
    fn inclusive_prefix_list_renders_unused_prefix() {
        let xml = r#"<r xmlns:xs="urn:xs"><a xmlns:p="urn:p"/></r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let a = doc.root_element().first_child().unwrap();
        assert_eq!(
            canonicalize(a, None, &["xs"]),
            r#"<a xmlns:xs="urn:xs"></a>"#
        );
    }
}

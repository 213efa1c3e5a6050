//! A tiny XML tree and a pretty printer with the reference layout:
//! two-space indentation, elements with text content kept on one line.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub enum XNode {
    Elem(Elem),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Elem {
    /// Tag names and attribute keys are mostly literals: no allocation for those.
    pub tag: Cow<'static, str>,
    pub attrs: Vec<(Cow<'static, str>, String)>,
    pub children: Vec<XNode>,
}

impl Elem {
    pub fn new(tag: impl Into<Cow<'static, str>>) -> Self {
        Elem {
            tag: tag.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn attr(mut self, k: impl Into<Cow<'static, str>>, v: impl Into<String>) -> Self {
        self.set_attr(k, v);
        self
    }

    /// Set (or replace, keeping position) an attribute.
    pub fn set_attr(&mut self, k: impl Into<Cow<'static, str>>, v: impl Into<String>) {
        let k = k.into();
        let v = v.into();
        if let Some(a) = self.attrs.iter_mut().find(|a| a.0 == k) {
            a.1 = v;
        } else {
            self.attrs.push((k, v));
        }
    }

    pub fn text(mut self, t: impl Into<String>) -> Self {
        self.children.push(XNode::Text(t.into()));
        self
    }

    pub fn child(mut self, e: Elem) -> Self {
        self.children.push(XNode::Elem(e));
        self
    }

    pub fn push(&mut self, e: Elem) {
        self.children.push(XNode::Elem(e));
    }

    pub fn get_attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.0 == k).map(|a| a.1.as_str())
    }

    pub fn write_pretty(&self, out: &mut String) {
        write_elem(self, out, "", "  ", "\n");
    }
}

/// Append `s`, replacing the bytes in `special` by their entity (runs of
/// plain text are copied at once).
fn escape_into(s: &str, out: &mut String, attr: bool) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if attr => "&quot;",
            _ => continue,
        };
        // `i` is at an ASCII byte, so a char boundary.
        out.push_str(&s[start..i]);
        out.push_str(rep);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

pub fn escape_text(s: &str, out: &mut String) {
    escape_into(s, out, false);
}

pub fn escape_attr(s: &str, out: &mut String) {
    escape_into(s, out, true);
}

pub fn escape_text_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    escape_text(s, &mut o);
    o
}

fn write_elem(e: &Elem, out: &mut String, indent: &str, addindent: &str, newl: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(&e.tag);
    for (k, v) in &e.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_attr(v, out);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        out.push_str(newl);
        return;
    }
    out.push('>');
    let has_text = e.children.iter().any(|c| matches!(c, XNode::Text(_)));
    if has_text {
        let n = e.children.len();
        for (idx, c) in e.children.iter().enumerate() {
            if n > 1 && idx == 0 && matches!(c, XNode::Text(_)) {
                out.push(' ');
            }
            match c {
                XNode::Text(t) => escape_text(t, out),
                XNode::Elem(ce) => write_elem(ce, out, "", "", ""),
            }
            if n > 1 && idx + 1 == n {
                out.push(' ');
            }
        }
    } else {
        out.push_str(newl);
        let mut child_indent = String::with_capacity(indent.len() + addindent.len());
        child_indent.push_str(indent);
        child_indent.push_str(addindent);
        for c in &e.children {
            if let XNode::Elem(ce) = c {
                write_elem(ce, out, &child_indent, addindent, newl);
            }
        }
        out.push_str(indent);
    }
    out.push_str("</");
    out.push_str(&e.tag);
    out.push('>');
    out.push_str(newl);
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let r = &rest[p..];
        let ents = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&apos;", '\''),
        ];
        let mut matched = false;
        for (e, c) in ents {
            if r.starts_with(e) {
                out.push(c);
                rest = &r[e.len()..];
                matched = true;
                break;
            }
        }
        if !matched {
            out.push('&');
            rest = &r[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Parse an escaped text fragment that may contain `<output value="..."/>`
/// elements (as produced when inserting references into labels).
pub fn parse_fragment(s: &str) -> Vec<XNode> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(p) = rest.find('<') {
        if p > 0 {
            out.push(XNode::Text(unescape(&rest[..p])));
        }
        let r = &rest[p..];
        let Some(end) = r.find('>') else {
            out.push(XNode::Text(unescape(r)));
            return out;
        };
        let tag_src = &r[1..end];
        let tag_src = tag_src.trim_end_matches('/').trim();
        let (name, attrs_src) = match tag_src.find(char::is_whitespace) {
            Some(i) => (&tag_src[..i], &tag_src[i..]),
            None => (tag_src, ""),
        };
        let mut el = Elem::new(name.to_string());
        let mut a = attrs_src.trim();
        while let Some(eq) = a.find('=') {
            let key = a[..eq].trim().to_string();
            let after = a[eq + 1..].trim_start();
            let q = after.chars().next().unwrap_or('"');
            let body = &after[1..];
            let close = body.find(q).unwrap_or(body.len());
            el.attrs.push((key.into(), unescape(&body[..close])));
            a = body.get(close + 1..).unwrap_or("").trim_start();
        }
        out.push(XNode::Elem(el));
        rest = &r[end + 1..];
    }
    if !rest.is_empty() {
        out.push(XNode::Text(unescape(rest)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty() {
        let e = Elem::new("a")
            .child(Elem::new("b").text("x"))
            .child(Elem::new("c"));
        let mut s = String::new();
        e.write_pretty(&mut s);
        assert_eq!(s, "<a>\n  <b>x</b>\n  <c/>\n</a>\n");
    }

    #[test]
    fn fragment() {
        let f = parse_fragment("a &amp; <output value=\" /d/q \"/> b");
        assert_eq!(f.len(), 3);
    }
}

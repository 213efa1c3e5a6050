//! Submission XML (an instance of an XForm) → Iaso's flat JSON.
//!
//! Safety first: the input is untrusted. A document type declaration (DTD) is refused outright,
//! so no entity can be declared, expanded (billion laughs) or fetched (external entities); only
//! the five predefined entities and numeric character references are understood. Character
//! references written as UTF-16 surrogate pairs (`&#55357;&#57313;`, as some Android keyboards
//! produce for emoji) are combined into the character they encode. Depth, element count and
//! text size are bounded.
//!
//! The JSON is Iaso's representation: keys are the **leaf element names** (group prefixes
//! dropped), repeat groups become lists of objects, values are the text exactly as sent, and
//! `_version` holds the root's `version` attribute. When the form version is known, leaves whose
//! path is not a question of that version are left out (answers to questions of an older
//! version that Collect kept in the XML).

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in one submission.
pub const MAX_ELEMENTS: usize = 200_000;

/// Paths always kept even when the version's questions are known.
pub const ALWAYS_ALLOWED_PATHS: &[&str] = &[
    "formhub",
    "formhub/uuid",
    "meta",
    "meta/instanceID",
    "meta/editUserID",
    "meta/deprecatedID",
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmissionError {
    #[error("the submission XML declares a DTD; documents with DOCTYPE are refused")]
    Dtd,
    #[error("the submission XML refers to the undefined entity &{0};")]
    UnknownEntity(String),
    #[error("the submission XML is nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("the submission XML has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("the submission XML has no root element")]
    Empty,
    #[error("the submission is not valid UTF-8")]
    NotUtf8,
    #[error("malformed submission XML: {0}")]
    Malformed(String),
}

/// One element of the parsed document.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// What a submission says about itself.
#[derive(Debug, Clone)]
pub struct Submission {
    pub root: Node,
    /// The root's `id` attribute: the form's `form_id` (XLSForm `id_string`).
    pub form_id: Option<String>,
    /// The root's `version` attribute: the form version's `version_id`.
    pub version: Option<String>,
    /// `meta/instanceID` (e.g. `uuid:...`), ODK's id of this submission.
    pub instance_id: Option<String>,
    /// `meta/deprecatedID`: set when the submission edits an earlier one.
    pub deprecated_id: Option<String>,
    /// Root attribute `iasoInstance`: the Iaso id of the submission an Enketo edit replaces.
    pub iaso_instance: Option<String>,
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

fn char_ref(body: &str) -> Option<u32> {
    if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        body.strip_prefix('#')?.parse().ok()
    }
}

/// Unescapes attribute values and text with only predefined entities and character
/// references (surrogate pairs combined).
fn unescape(raw: &str) -> Result<String, SubmissionError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut high: Option<u32> = None;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| SubmissionError::Malformed("unterminated entity reference".into()))?;
        let body = &after[..end];
        push_ref(&mut out, body, &mut high)?;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn push_ref(out: &mut String, body: &str, high: &mut Option<u32>) -> Result<(), SubmissionError> {
    if let Some(c) = predefined(body) {
        out.push(c);
        return Ok(());
    }
    let Some(code) = char_ref(body) else {
        return Err(SubmissionError::UnknownEntity(
            body.chars().take(40).collect(),
        ));
    };
    match code {
        0xD800..=0xDBFF => {
            *high = Some(code);
        }
        0xDC00..=0xDFFF => {
            if let Some(h) = high.take() {
                let c = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                if let Some(ch) = char::from_u32(c) {
                    out.push(ch);
                }
            }
        }
        _ => {
            if let Some(ch) = char::from_u32(code) {
                // Information separators end up in some messages and mean nothing.
                if !(0x1C..=0x1F).contains(&code) && code != 0 {
                    out.push(ch);
                }
            } else {
                return Err(SubmissionError::Malformed(format!(
                    "invalid character reference &{body};"
                )));
            }
        }
    }
    Ok(())
}

/// Parses a submission document.
pub fn parse(xml: &[u8]) -> Result<Submission, SubmissionError> {
    let text = std::str::from_utf8(xml).map_err(|_| SubmissionError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    let mut high: Option<u32> = None;
    let malformed = |e: quick_xml::Error| SubmissionError::Malformed(e.to_string());
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::DocType(_) => return Err(SubmissionError::Dtd),
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(SubmissionError::Malformed(
                    "content after the root element".into(),
                ));
            }
            Event::Start(e) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(SubmissionError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(SubmissionError::TooDeep);
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(SubmissionError::TooManyElements);
                }
                let node = open(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| {
                    SubmissionError::Malformed("closing tag without opening tag".into())
                })?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let raw = t.xml10_content();
                if let Some(top) = stack.last_mut() {
                    push_text(&mut top.text, &raw);
                } else if !raw.trim().is_empty() {
                    return Err(SubmissionError::Malformed(
                        "text outside the root element".into(),
                    ));
                }
            }
            Event::CData(t) => {
                let raw = t.html_content().into_owned();
                if let Some(top) = stack.last_mut() {
                    push_text(&mut top.text, &raw);
                }
            }
            Event::GeneralRef(r) => {
                let body: &str = &r;
                if let Some(top) = stack.last_mut() {
                    push_ref(&mut top.text, body, &mut high)?;
                } else {
                    return Err(SubmissionError::Malformed(
                        "reference outside the root element".into(),
                    ));
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(SubmissionError::Malformed(format!(
            "the element <{}> is not closed",
            stack.last().map(|n| n.name.as_str()).unwrap_or("")
        )));
    }
    let root = root.ok_or(SubmissionError::Empty)?;
    let meta = root.child("meta");
    let meta_text = |name: &str| {
        meta.and_then(|m| m.child(name))
            .map(|n| n.text.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    Ok(Submission {
        form_id: root.attr("id").map(String::from),
        version: root.attr("version").map(String::from),
        instance_id: meta_text("instanceID"),
        deprecated_id: meta_text("deprecatedID"),
        iaso_instance: root.attr("iasoInstance").map(String::from),
        root,
    })
}

fn push_text(out: &mut String, raw: &str) {
    out.extend(raw.chars().filter(|c| !matches!(*c as u32, 0x1C..=0x1F)));
}

fn open(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, SubmissionError> {
    let mut attributes = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| SubmissionError::Malformed(e.to_string()))?;
        let raw: String = a.value.as_ref().to_string();
        attributes.push((local(a.key.as_ref()), unescape(&raw)?));
    }
    Ok(Node {
        name: local(e.name().as_ref()),
        attributes,
        text: String::new(),
        children: Vec::new(),
    })
}

impl Submission {
    /// Iaso's flat JSON. `repeats`: names of the version's repeat groups; `allowed`: question
    /// paths of the version (`group/question`), `None` when the version is unknown.
    pub fn flat_json(
        &self,
        repeats: &HashSet<String>,
        allowed: Option<&HashSet<String>>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        flatten(&self.root, "", &mut out, repeats, allowed);
        if let Some(v) = &self.version {
            out.insert("_version".into(), Value::String(v.clone()));
        }
        out
    }
}

fn flatten(
    el: &Node,
    path: &str,
    out: &mut Map<String, Value>,
    repeats: &HashSet<String>,
    allowed: Option<&HashSet<String>>,
) {
    for child in &el.children {
        let child_path = if path.is_empty() {
            child.name.clone()
        } else {
            format!("{path}/{}", child.name)
        };
        if repeats.contains(&child.name) {
            let mut item = Map::new();
            flatten(child, &child_path, &mut item, repeats, None);
            match out.get_mut(&child.name) {
                Some(Value::Array(items)) => items.push(Value::Object(item)),
                _ => {
                    out.insert(child.name.clone(), Value::Array(vec![Value::Object(item)]));
                }
            }
        } else if !child.children.is_empty() {
            flatten(child, &child_path, out, repeats, allowed);
        } else {
            let keep = allowed.is_none_or(|a| {
                a.contains(&child_path) || ALWAYS_ALLOWED_PATHS.contains(&child_path.as_str())
            });
            if keep {
                out.insert(child.name.clone(), Value::String(child.text.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_groups_and_repeats() {
        let xml = br#"<?xml version="1.0"?><data id="f" version="3"><a>1</a><g><b>x &amp; y</b></g>
            <r><c>1</c></r><r><c>2</c><h><d>z</d></h></r><meta><instanceID>uuid:1</instanceID></meta></data>"#;
        let s = parse(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.form_id.as_deref(), Some("f"));
        assert_eq!(s.instance_id.as_deref(), Some("uuid:1"));
        let repeats: HashSet<String> = ["r".to_string()].into();
        let j = Value::Object(s.flat_json(&repeats, None));
        assert_eq!(
            j,
            serde_json::json!({"a": "1", "b": "x & y", "r": [{"c": "1"}, {"c": "2", "d": "z"}],
                "instanceID": "uuid:1", "_version": "3"})
        );
        let allowed: HashSet<String> = ["a".to_string()].into();
        let j = s.flat_json(&HashSet::new(), Some(&allowed));
        assert!(j.contains_key("a") && j.contains_key("instanceID") && !j.contains_key("b"));
    }

    #[test]
    fn refuses_dtd_and_entities() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><data>&lol2;</data>"#;
        assert_eq!(parse(bomb).err(), Some(SubmissionError::Dtd));
        let ext = br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><data>&x;</data>"#;
        assert_eq!(parse(ext).err(), Some(SubmissionError::Dtd));
        assert!(matches!(
            parse(b"<data>&x;</data>"),
            Err(SubmissionError::UnknownEntity(_))
        ));
        assert!(matches!(
            parse(b"<data><a></data>"),
            Err(SubmissionError::Malformed(_))
        ));
        assert!(matches!(parse(b""), Err(SubmissionError::Empty)));
        let deep = format!("<a>{}{}</a>", "<b>".repeat(100), "</b>".repeat(100));
        assert_eq!(parse(deep.as_bytes()).err(), Some(SubmissionError::TooDeep));
    }

    #[test]
    fn combines_surrogate_pairs() {
        let s =
            parse(b"<data><c>&#55357;&#57313;Yellow</c></data>").unwrap_or_else(|e| panic!("{e}"));
        let j = s.flat_json(&HashSet::new(), None);
        assert_eq!(j["c"], "\u{1F7E1}Yellow");
    }
}

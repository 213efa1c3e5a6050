//! Form metadata and the descriptor (question tree) Iaso stores per form version.
//!
//! The descriptor has the shape of pyxform's `Survey.to_json_dict()`, which is
//! what Iaso keeps in `FormVersion.form_descriptor`: a tree of nodes with
//! `name`, `type`, optional `label`/`hint` (a string, or `{language: text}`),
//! `bind`, `control`, `media`, `itemset`/`list_name`, ..., and `children`
//! (the elements of a survey/group/repeat, or the choices of a select). The
//! survey node also carries the settings (`id_string`, `title`, `version`,
//! `default_language`, ...) and `choices` (every list by name).
//!
//! [`FormDescriptor`] keeps the common keys typed and every other key in
//! [`FormDescriptor::extra`], so serialising it gives the stored JSON back key
//! for key. [`FormDescriptor::questions`] walks the leaf questions with their
//! path, for submission parsing and export columns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::headers::SETTINGS_COLUMNS;
use crate::qtd;
use crate::survey::{loop_substitute, Survey};

/// Metadata Iaso stores per form version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormMeta {
    pub form_id: String,
    pub version: Option<String>,
    pub title: String,
    pub default_language: String,
    pub languages: Vec<String>,
    pub descriptor: FormDescriptor,
}

/// A node of the descriptor tree: the survey, a group, a repeat, a question,
/// or (in the `children` of a select question) a choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormDescriptor {
    pub name: String,
    /// The XLSForm type as pyxform spells it (`text`, `select one`,
    /// `select all that apply`, `group`, `repeat`, `survey`, ...); empty for
    /// choices.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itemset: Option<String>,
    /// Elements of a survey/group/repeat, or choices of a select question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FormDescriptor>,
    /// Every other key, as stored (`media`, `parameters`, `default`,
    /// `choice_filter`, `instance`, and on the survey node `id_string`,
    /// `title`, `version`, `choices`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A question with its place in the form, from [`FormDescriptor::questions`].
#[derive(Debug, Clone, PartialEq)]
pub struct Question<'a> {
    /// Names from the survey's child down to the question, e.g.
    /// `["household", "member", "age"]`.
    pub path: Vec<&'a str>,
    /// The question node.
    pub node: &'a FormDescriptor,
    /// Whether any ancestor is a repeat (the answer may occur many times).
    pub in_repeat: bool,
    /// The nearest enclosing repeat's path (joined with `/`), if any.
    pub repeat_path: Option<String>,
}

impl Question<'_> {
    /// The path joined with `/` (`household/member/age`), as Iaso's export
    /// columns and `possible_fields` "by path" use it.
    pub fn joined_path(&self) -> String {
        self.path.join("/")
    }

    /// The XLSForm type (`integer`, `select one`, ...).
    pub fn kind(&self) -> &str {
        &self.node.kind
    }

    /// The question name.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// The `/root/...` XPath of the question's instance node under `root`.
    pub fn xpath(&self, root: &str) -> String {
        format!("/{root}/{}", self.joined_path())
    }
}

impl FormDescriptor {
    /// Whether this node contains other elements (survey, group, repeat).
    pub fn is_section(&self) -> bool {
        matches!(self.kind.as_str(), "survey" | "group" | "repeat")
    }

    /// Whether this node is a select question (its `children` are choices).
    pub fn is_select(&self) -> bool {
        self.kind.starts_with("select") || self.kind == "rank"
    }

    /// The choices of a select question (empty for other nodes).
    pub fn choices(&self) -> &[FormDescriptor] {
        if self.is_select() {
            &self.children
        } else {
            &[]
        }
    }

    /// A key of [`FormDescriptor::extra`] as a string (settings on the survey
    /// node: `id_string`, `title`, `version`, `default_language`...).
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(Value::as_str)
    }

    /// Leaf questions in form order, with their path through groups and
    /// repeats (the survey node itself is not part of the path). Questions
    /// of every type are returned, including `note` and `calculate`, and the
    /// `meta` group's (`meta/instanceID`); filter on [`Question::kind`] as needed.
    pub fn questions(&self) -> Vec<Question<'_>> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        let start: &[FormDescriptor] = if self.kind == "survey" {
            &self.children
        } else {
            std::slice::from_ref(self)
        };
        for c in start {
            walk(c, &mut path, None, &mut out);
        }
        out
    }

    /// Build from the stored JSON (e.g. a `form_descriptor` column).
    pub fn from_json(v: Value) -> Result<FormDescriptor, serde_json::Error> {
        serde_json::from_value(v)
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn walk<'a>(
    n: &'a FormDescriptor,
    path: &mut Vec<&'a str>,
    repeat: Option<String>,
    out: &mut Vec<Question<'a>>,
) {
    if n.kind == "entity" {
        // An entity declaration (under `meta`) holds no answers.
        return;
    }
    path.push(n.name.as_str());
    if n.kind == "group" || n.kind == "repeat" {
        let repeat = if n.kind == "repeat" {
            Some(path.join("/"))
        } else {
            repeat
        };
        for c in &n.children {
            walk(c, path, repeat.clone(), out);
        }
    } else {
        out.push(Question {
            path: path.clone(),
            node: n,
            in_repeat: repeat.is_some(),
            repeat_path: repeat,
        });
    }
    path.pop();
}

/// Build the stored descriptor from the survey definition (the sheets as JSON,
/// before elements are built), consuming it: each element keeps the keys its
/// kind of element has (survey settings, section keys, question keys, choice
/// keys), loops become a group per choice, selects (and other questions that
/// take a choice list) get their choices as `children`, and empty values are
/// left out.
pub(crate) fn build_descriptor(mut def: Map<String, Value>, survey: &Survey) -> FormDescriptor {
    let choices = match def.remove("choices") {
        Some(Value::Object(c)) => c,
        _ => Map::new(),
    };
    let children = def.remove("children");
    let mut node = FormDescriptor::default();
    for (k, v) in def {
        if k.starts_with('_') || is_empty(&v) || !SETTINGS_COLUMNS.contains(&k.as_str()) {
            continue;
        }
        node.set(k, v);
    }
    node.kind = "survey".into();
    for (key, map) in [
        ("setvalues_by_triggering_ref", &survey.setvalues_by_trigger),
        (
            "setgeopoint_by_triggering_ref",
            &survey.setgeopoint_by_trigger,
        ),
    ] {
        if !map.is_empty() {
            let m: Map<String, Value> = map
                .iter()
                .map(|(t, refs)| {
                    let list = refs
                        .iter()
                        .map(|(n, v)| Value::Array(vec![n.clone().into(), v.clone().into()]))
                        .collect();
                    (t.clone(), Value::Array(list))
                })
                .collect();
            node.extra.insert(key.into(), Value::Object(m));
        }
    }
    node.children = elements(children, &choices);
    if !choices.is_empty() {
        let lists: Map<String, Value> = choices
            .iter()
            .map(|(name, opts)| {
                let list = options(Some(opts))
                    .into_iter()
                    .map(|o| o.to_json())
                    .collect();
                (name.clone(), Value::Array(list))
            })
            .collect();
        node.extra.insert("choices".into(), Value::Object(lists));
    }
    node
}

impl FormDescriptor {
    /// Store a key: typed fields for the common keys, `extra` for the rest.
    fn set(&mut self, k: String, v: Value) {
        let text = |v: Value| match v {
            Value::String(s) => s,
            o => o.to_string(),
        };
        match (k.as_str(), v) {
            ("name", v) => self.name = text(v),
            ("type", v) => self.kind = text(v),
            ("label", v) => self.label = Some(v),
            ("hint", v) => self.hint = Some(v),
            ("bind", Value::Object(m)) => self.bind = Some(m),
            ("control", Value::Object(m)) => self.control = Some(m),
            // Not a key/value table: not something the element can hold.
            ("bind" | "control" | "children", _) => {}
            ("list_name", v) => self.list_name = Some(text(v)),
            ("itemset", v) => self.itemset = Some(text(v)),
            (_, v) => {
                self.extra.insert(k, v);
            }
        }
    }

    /// An empty label on an element shown as a label row becomes a single space.
    fn label_appearance(&mut self) {
        let is_label = self
            .control
            .as_ref()
            .and_then(|c| c.get("appearance"))
            .and_then(Value::as_str)
            == Some("label");
        if is_label && self.label.is_none() {
            self.label = Some(Value::String(" ".into()));
        }
    }
}

fn elements(children: Option<Value>, choices: &Map<String, Value>) -> Vec<FormDescriptor> {
    match children {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|c| match c {
                Value::Object(m) => Some(element(m, choices)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Choices keep their name, label, media and SMS option.
fn options(opts: Option<&Value>) -> Vec<FormDescriptor> {
    opts.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .map(|o| {
                    let mut c = FormDescriptor::default();
                    for (k, v) in o {
                        if matches!(k.as_str(), "name" | "label" | "media" | "sms_option")
                            && !is_empty(v)
                        {
                            c.set(k.clone(), v.clone());
                        }
                    }
                    c
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Keys a section (survey group/repeat) has.
fn section_key(k: &str) -> bool {
    matches!(
        k,
        "name"
            | "label"
            | "bind"
            | "control"
            | "hint"
            | "media"
            | "type"
            | "instance"
            | "flat"
            | "sms_field"
    )
}

/// Keys a question has (before the choice-list keys).
fn question_key(k: &str) -> bool {
    matches!(
        k,
        "name"
            | "label"
            | "actions"
            | "default"
            | "guidance_hint"
            | "instance"
            | "query"
            | "sms_field"
            | "trigger"
            | "bind"
            | "choice_filter"
            | "control"
            | "hint"
            | "media"
            | "parameters"
            | "type"
    )
}

fn copy_into(src: Map<String, Value>, keep: fn(&str) -> bool, node: &mut FormDescriptor) {
    for (k, v) in src {
        if keep(&k) && !is_empty(&v) {
            node.set(k, v);
        }
    }
}

fn element(mut src: Map<String, Value>, choices: &Map<String, Value>) -> FormDescriptor {
    let ty = src
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut node = FormDescriptor::default();
    match ty.as_str() {
        "group" | "repeat" => {
            let children = src.remove("children");
            copy_into(src, section_key, &mut node);
            if ty == "group" {
                node.bind = None;
            }
            node.label_appearance();
            node.children = elements(children, choices);
        }
        "loop" => {
            // A group holding a group per choice ("columns"), each with the
            // loop's children, `%(name)s`/`%(label)s` replaced.
            let template = src.remove("children");
            let columns = src.remove("columns");
            copy_into(src, section_key, &mut node);
            node.bind = None;
            node.kind = "group".into();
            let template: Vec<Map<String, Value>> = match template {
                Some(Value::Array(a)) => a
                    .into_iter()
                    .filter_map(|c| match c {
                        Value::Object(m) => Some(m),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for col in columns
                .as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
            {
                if col.get("name").and_then(Value::as_str) == Some("none") {
                    continue;
                }
                let mut g = FormDescriptor::default();
                copy_into(col.clone(), section_key, &mut g);
                g.bind = None;
                g.kind = "group".into();
                g.children = template
                    .iter()
                    .map(|c| element(loop_substitute(c, col), choices))
                    .collect();
                node.children.push(g);
            }
        }
        // An entity declaration: its attributes and label.
        "entity" => {
            let children = src.remove("children");
            copy_into(src, |k| matches!(k, "name" | "label" | "type"), &mut node);
            if let Some(Value::Array(a)) = children {
                for c in a {
                    if let Value::Object(m) = c {
                        let mut attr = FormDescriptor::default();
                        copy_into(
                            m,
                            |k| {
                                matches!(
                                    k,
                                    "name" | "label" | "actions" | "value" | "bind" | "type"
                                )
                            },
                            &mut attr,
                        );
                        node.children.push(attr);
                    }
                }
            }
        }
        "__attribute" | "csv-external" | "xml-external" | "" => {
            copy_into(src, question_key, &mut node);
        }
        _ => {
            let q = qtd::lookup(&ty);
            let tag = q
                .as_ref()
                .and_then(|q| q.control.iter().find(|(k, _)| *k == "tag").map(|(_, v)| *v))
                .unwrap_or("");
            let select = matches!(tag, "select1" | "select" | "odk:rank");
            let itemset_kind = select
                || tag == "range"
                || tag == "osm"
                || matches!(ty.as_str(), "geopoint" | "geoshape" | "geotrace");
            let own_choices = src.remove("choices").or_else(|| src.remove("children"));
            let itemset = src.remove("itemset");
            let list_name = src.remove("list_name");
            copy_into(src, question_key, &mut node);
            if q.as_ref().is_some_and(|q| q.hint.is_some()) {
                // A hint the type provides is not stored.
                node.hint = None;
            }
            if itemset_kind {
                let list = itemset
                    .as_ref()
                    .and_then(Value::as_str)
                    .and_then(|n| choices.get(n))
                    .or(own_choices.as_ref());
                node.children = options(list);
                if let Some(Value::String(s)) = itemset {
                    if !s.is_empty() {
                        node.itemset = Some(s);
                    }
                }
            }
            if select {
                if let Some(Value::String(s)) = list_name {
                    if !s.is_empty() {
                        node.list_name = Some(s);
                    }
                }
            }
            node.label_appearance();
        }
    }
    node
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
    }
}

pub(crate) fn build_meta(survey_json: Map<String, Value>, survey: &Survey) -> FormMeta {
    let get = |k: &str| {
        survey_json
            .get(k)
            .map(|v| match v {
                Value::String(x) => x.clone(),
                o => o.to_string(),
            })
            .filter(|x| !x.is_empty())
    };
    let form_id = get("id_string").unwrap_or_default();
    let version = get("version");
    let title = get("title").unwrap_or_default();
    FormMeta {
        form_id,
        version,
        title,
        default_language: survey.default_language.clone(),
        languages: survey.translation_languages.clone(),
        descriptor: build_descriptor(survey_json, survey),
    }
}

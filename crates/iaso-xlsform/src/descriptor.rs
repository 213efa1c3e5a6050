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

use crate::headers::{OPTION_COLUMNS, SETTINGS_COLUMNS};
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

/// Turn the survey definition (the sheets as JSON, before elements are built)
/// into the stored descriptor shape: each element keeps the keys its kind of
/// element has (survey settings, section keys, question keys, choice keys),
/// loops become a group per choice, selects (and other questions that take a
/// choice list) get their choices as `children`, and empty values are left out.
pub(crate) fn descriptor_json(def: &Map<String, Value>, survey: &Survey) -> Value {
    let choices = def.get("choices").and_then(Value::as_object);
    let mut out = Map::new();
    for (k, v) in def {
        if k == "children" || k == "choices" || k.starts_with('_') {
            continue;
        }
        if SETTINGS_COLUMNS.contains(&k.as_str()) && !is_empty(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    out.insert("type".into(), Value::String("survey".into()));
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
            out.insert(key.into(), Value::Object(m));
        }
    }
    let kids = children_json(def.get("children"), choices);
    if !kids.is_empty() {
        out.insert("children".into(), Value::Array(kids));
    }
    if let Some(c) = choices {
        let lists: Map<String, Value> = c
            .iter()
            .map(|(name, opts)| (name.clone(), options_json(Some(opts))))
            .collect();
        if !lists.is_empty() {
            out.insert("choices".into(), Value::Object(lists));
        }
    }
    Value::Object(out)
}

fn children_json(children: Option<&Value>, choices: Option<&Map<String, Value>>) -> Vec<Value> {
    children
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .filter_map(|c| element_json(c, choices))
                .collect()
        })
        .unwrap_or_default()
}

/// Choices keep their name, label, media and SMS option.
fn options_json(opts: Option<&Value>) -> Value {
    let list = opts
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .map(|o| {
                    let mut m = Map::new();
                    for k in OPTION_COLUMNS {
                        if k.starts_with('_') {
                            continue;
                        }
                        if let Some(v) = o.get(*k) {
                            if !is_empty(v) {
                                m.insert((*k).to_string(), v.clone());
                            }
                        }
                    }
                    Value::Object(m)
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(list)
}

/// Section keys (groups drop `bind`, repeats keep it).
const SECTION_KEYS: &[&str] = &[
    "name",
    "label",
    "bind",
    "children",
    "control",
    "hint",
    "media",
    "type",
    "instance",
    "flat",
    "sms_field",
];

/// Question keys (before the choice-list keys).
const QUESTION_KEYS: &[&str] = &[
    "name",
    "label",
    "actions",
    "default",
    "guidance_hint",
    "instance",
    "query",
    "sms_field",
    "trigger",
    "bind",
    "choice_filter",
    "control",
    "hint",
    "media",
    "parameters",
    "type",
];

fn copy_keys(src: &Map<String, Value>, keys: &[&str], out: &mut Map<String, Value>) {
    for k in keys {
        if *k == "children" {
            continue;
        }
        if let Some(v) = src.get(*k) {
            if !is_empty(v) {
                out.insert((*k).to_string(), v.clone());
            }
        }
    }
}

/// An empty label on an element shown as a label row becomes a single space.
fn label_appearance(out: &mut Map<String, Value>) {
    let is_label = out
        .get("control")
        .and_then(|c| c.get("appearance"))
        .and_then(Value::as_str)
        == Some("label");
    if is_label && !out.contains_key("label") {
        out.insert("label".into(), Value::String(" ".into()));
    }
}

fn element_json(src: &Map<String, Value>, choices: Option<&Map<String, Value>>) -> Option<Value> {
    let ty = src.get("type").and_then(Value::as_str).unwrap_or("");
    let mut out = Map::new();
    match ty {
        "group" | "repeat" => {
            copy_keys(src, SECTION_KEYS, &mut out);
            if ty == "group" {
                out.remove("bind");
            }
            label_appearance(&mut out);
            let kids = children_json(src.get("children"), choices);
            if !kids.is_empty() {
                out.insert("children".into(), Value::Array(kids));
            }
        }
        "loop" => {
            // A group holding a group per choice ("columns"), each with the
            // loop's children, `%(name)s`/`%(label)s` replaced.
            copy_keys(src, SECTION_KEYS, &mut out);
            out.remove("bind");
            out.insert("type".into(), Value::String("group".into()));
            let mut groups = Vec::new();
            let template = src.get("children").and_then(Value::as_array);
            for col in src
                .get("columns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
            {
                if col.get("name").and_then(Value::as_str) == Some("none") {
                    continue;
                }
                let mut g = Map::new();
                copy_keys(col, SECTION_KEYS, &mut g);
                g.remove("bind");
                g.insert("type".into(), Value::String("group".into()));
                let kids: Vec<Value> = template
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .filter_map(|c| element_json(&loop_substitute(c, col), choices))
                    .collect();
                if !kids.is_empty() {
                    g.insert("children".into(), Value::Array(kids));
                }
                groups.push(Value::Object(g));
            }
            if !groups.is_empty() {
                out.insert("children".into(), Value::Array(groups));
            }
        }
        // An entity declaration: its attributes and label.
        "entity" => {
            copy_keys(src, &["name", "label", "type"], &mut out);
            let kids: Vec<Value> = src
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .map(|c| {
                    let mut m = Map::new();
                    copy_keys(
                        c,
                        &["name", "label", "actions", "value", "bind", "type"],
                        &mut m,
                    );
                    Value::Object(m)
                })
                .collect();
            if !kids.is_empty() {
                out.insert("children".into(), Value::Array(kids));
            }
        }
        "__attribute" | "csv-external" | "xml-external" | "" => {
            copy_keys(src, QUESTION_KEYS, &mut out);
        }
        _ => {
            let q = qtd::lookup(ty);
            let tag = q
                .as_ref()
                .and_then(|q| q.control.iter().find(|(k, _)| *k == "tag").map(|(_, v)| *v))
                .unwrap_or("");
            let select = matches!(tag, "select1" | "select" | "odk:rank");
            let itemset_kind = select
                || tag == "range"
                || tag == "osm"
                || matches!(ty, "geopoint" | "geoshape" | "geotrace");
            copy_keys(src, QUESTION_KEYS, &mut out);
            if q.as_ref().is_some_and(|q| q.hint.is_some()) {
                // A hint the type provides is not stored.
                out.remove("hint");
            }
            if itemset_kind {
                if let Some(v) = src.get("itemset").filter(|v| !is_empty(v)) {
                    out.insert("itemset".into(), v.clone());
                }
                let list = src
                    .get("itemset")
                    .and_then(Value::as_str)
                    .and_then(|n| choices.and_then(|c| c.get(n)))
                    .or_else(|| src.get("choices"))
                    .or_else(|| src.get("children"));
                let opts = options_json(list);
                if opts.as_array().is_some_and(|a| !a.is_empty()) {
                    out.insert("children".into(), opts);
                }
            }
            if select {
                if let Some(v) = src.get("list_name").filter(|v| !is_empty(v)) {
                    out.insert("list_name".into(), v.clone());
                }
            }
            label_appearance(&mut out);
        }
    }
    Some(Value::Object(out))
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

pub(crate) fn build_meta(survey_json: &Map<String, Value>, survey: &Survey) -> FormMeta {
    let json = descriptor_json(survey_json, survey);
    let descriptor = FormDescriptor::from_json(json).unwrap_or_default();
    let get = |k: &str| {
        survey_json
            .get(k)
            .map(|v| match v {
                Value::String(x) => x.clone(),
                o => o.to_string(),
            })
            .filter(|x| !x.is_empty())
    };
    FormMeta {
        form_id: get("id_string").unwrap_or_default(),
        version: get("version"),
        title: get("title").unwrap_or_default(),
        default_language: survey.default_language.clone(),
        languages: survey.translation_languages.clone(),
        descriptor,
    }
}

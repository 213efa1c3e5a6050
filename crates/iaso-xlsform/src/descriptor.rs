//! Form metadata and the descriptor (question tree) Iaso stores per version.

use serde::Serialize;
use serde_json::Value;

use crate::survey::{Kind, Survey};

/// Metadata Iaso stores per form version.
#[derive(Debug, Clone, Serialize)]
pub struct FormMeta {
    pub form_id: String,
    pub version: Option<String>,
    pub title: String,
    pub default_language: String,
    pub languages: Vec<String>,
    pub descriptor: FormDescriptor,
}

/// A node of the descriptor tree (survey, group, repeat, question).
#[derive(Debug, Clone, Serialize)]
pub struct FormDescriptor {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceDescriptor>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FormDescriptor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChoiceDescriptor {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
}

fn node(s: &Survey, i: usize) -> FormDescriptor {
    let e = &s.els[i];
    let kind = match e.kind {
        Kind::Survey => "survey".to_string(),
        Kind::Group => "group".to_string(),
        Kind::Repeat => "repeat".to_string(),
        _ => e.ty.clone(),
    };
    let itemset = e.itemset.clone().or(e.list_name.clone());
    let choices = itemset
        .as_ref()
        .and_then(|is| s.choices.get(is))
        .map(|c| {
            c.options
                .iter()
                .map(|o| ChoiceDescriptor {
                    name: o.name.clone(),
                    label: o.label.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    FormDescriptor {
        name: e.name.clone(),
        kind,
        label: e.label.clone(),
        hint: e.hint.clone(),
        bind: e.bind.clone().map(Value::Object),
        list_name: itemset,
        choices,
        children: e
            .children
            .iter()
            .filter(|&&c| matches!(s.els[c].kind, Kind::Question | Kind::Group | Kind::Repeat))
            .map(|&c| node(s, c))
            .collect(),
    }
}

pub fn build_meta(s: &Survey) -> FormMeta {
    let get = |k: &str| {
        s.settings
            .get(k)
            .map(|v| match v {
                Value::String(x) => x.clone(),
                o => o.to_string(),
            })
            .filter(|x| !x.is_empty())
    };
    let mut languages: Vec<String> = Vec::new();
    let mut collect = |v: &Option<Value>| {
        if let Some(Value::Object(m)) = v {
            for k in m.keys() {
                if !languages.contains(k) {
                    languages.push(k.clone());
                }
            }
        }
    };
    for e in &s.els {
        collect(&e.label);
        collect(&e.hint);
    }
    FormMeta {
        form_id: get("id_string").unwrap_or_default(),
        version: get("version"),
        title: get("title").unwrap_or_default(),
        default_language: s.default_language.clone(),
        languages,
        descriptor: node(s, 0),
    }
}

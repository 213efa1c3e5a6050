//! Forms and form versions: the rules that need no database (version numbers, questions of a
//! descriptor, possible fields).
//!
//! A descriptor is the JSON tree Iaso stores per version (pyxform's `to_json_dict` shape):
//! `{name, type: "survey", title, id_string, version, children: [...]}`, where groups and
//! repeats have `children` and select questions carry their choices in `children` too.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

pub const PERIOD_TYPES: &[&str] = &[
    "DAY",
    "WEEK",
    "MONTH",
    "QUARTER",
    "QUARTER_NOV",
    "SIX_MONTH",
    "YEAR",
    "FINANCIAL_NOV",
];

pub const CR_MODES: &[&str] = &["CR_MODE_NONE", "CR_MODE_IF_REFERENCE_FORM"];

/// The version number of a new form version: the XLSForm's own, or generated as `yyyymmddNN`
/// after `previous`; it must be numeric, at most 10 digits, and greater than `previous`.
pub fn next_version(
    from_file: Option<&str>,
    previous: Option<&str>,
    today: NaiveDate,
) -> Result<String, String> {
    let version = match from_file.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v.to_string(),
        None => generate_version(previous, today)?,
    };
    if version.is_empty() || version.len() > 10 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Invalid version (must be a string of 1-10 numbers).".into());
    }
    if let Some(prev) = previous {
        if let (Ok(p), Ok(v)) = (prev.parse::<u64>(), version.parse::<u64>()) {
            if p >= v {
                return Err("Parsed version should be greater than previous version.".into());
            }
        }
    }
    Ok(version)
}

fn generate_version(previous: Option<&str>, today: NaiveDate) -> Result<String, String> {
    let day = today.format("%Y%m%d").to_string();
    if let Some(prev) = previous.filter(|p| p.len() == 10) {
        if prev[..8] == day {
            if &prev[8..] == "99" {
                return Err("Too many versions.".into());
            }
            if let Ok(n) = prev.parse::<u64>() {
                return Ok((n + 1).to_string());
            }
        }
    }
    Ok(format!("{day}01"))
}

fn is_container(node: &Value) -> bool {
    matches!(
        node.get("type").and_then(Value::as_str),
        Some("survey" | "group")
    )
}

/// Questions by name (Iaso's `questions_by_name`): groups are walked, every other node —
/// repeats included, whose children are not visited — is a question.
pub fn questions_by_name(descriptor: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    fn visit(node: &Value, out: &mut Vec<(String, Value)>) {
        if is_container(node) {
            for c in node
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                visit(c, out);
            }
        } else if let Some(name) = node.get("name").and_then(Value::as_str) {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = node.clone(),
                None => out.push((name.to_string(), node.clone())),
            }
        }
    }
    if descriptor.is_object() {
        visit(descriptor, &mut out);
    }
    out
}

/// Question paths (`group/question`) relative to the root.
pub fn question_paths(descriptor: &Value) -> HashSet<String> {
    let mut out = HashSet::new();
    fn visit(node: &Value, path: &str, root: bool, out: &mut HashSet<String>) {
        let name = node.get("name").and_then(Value::as_str).unwrap_or("");
        let here = if root {
            String::new()
        } else if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}/{name}")
        };
        if is_container(node) {
            for c in node
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                visit(c, &here, false, out);
            }
        } else {
            out.insert(here);
        }
    }
    if descriptor.is_object() {
        visit(descriptor, "", true, &mut out);
    }
    out
}

/// Names of the repeat groups (top level or inside groups).
pub fn repeat_names(descriptor: &Value) -> HashSet<String> {
    fn visit(node: &Value, out: &mut HashSet<String>) {
        if node.get("type").and_then(Value::as_str) == Some("repeat") {
            if let Some(n) = node.get("name").and_then(Value::as_str) {
                out.insert(n.to_string());
            }
        }
        for c in node
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if c.get("children").is_some() {
                visit(c, out);
            }
        }
    }
    let mut out = HashSet::new();
    visit(descriptor, &mut out);
    out
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn label_text(label: Option<&Value>) -> Value {
    match label {
        None | Some(Value::Null) => json!(""),
        Some(Value::String(s)) => json!(strip_tags(s)),
        Some(Value::Object(m)) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json!(strip_tags(v.as_str().unwrap_or("")))))
                .collect::<Map<String, Value>>(),
        ),
        Some(other) => other.clone(),
    }
}

/// `possible_fields` of a form: the questions of every descriptor, oldest first (later labels
/// win), notes left out, as `{name, label, type}`.
pub fn possible_fields<'a>(descriptors: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut all: Vec<(String, Value)> = Vec::new();
    for d in descriptors {
        for (name, q) in questions_by_name(d) {
            match all.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = q,
                None => all.push((name, q)),
            }
        }
    }
    Value::Array(
        all.into_iter()
            .filter(|(_, q)| q.get("type").and_then(Value::as_str) != Some("note"))
            .map(|(name, q)| {
                json!({"name": name, "label": label_text(q.get("label")), "type": q.get("type").cloned().unwrap_or(Value::Null)})
            })
            .collect(),
    )
}

/// `possible_fields` of one version: its questions by path.
pub fn version_possible_fields(descriptor: &Value) -> Value {
    let mut out = Vec::new();
    fn visit(node: &Value, path: &str, root: bool, out: &mut Vec<Value>) {
        let name = node.get("name").and_then(Value::as_str).unwrap_or("");
        let here = if root {
            String::new()
        } else if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}/{name}")
        };
        if is_container(node) {
            for c in node
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                visit(c, &here, false, out);
            }
        } else if node.get("type").and_then(Value::as_str) != Some("note") {
            out.push(json!({"name": here, "label": label_text(node.get("label")), "type": node.get("type").cloned().unwrap_or(Value::Null)}));
        }
    }
    if descriptor.is_object() {
        visit(descriptor, "", true, &mut out);
    }
    Value::Array(out)
}

/// The first geopoint question, used as the location field when the form names none.
pub fn first_geopoint(descriptor: &Value) -> Option<String> {
    questions_by_name(descriptor)
        .into_iter()
        .find(|(_, q)| q.get("type").and_then(Value::as_str) == Some("geopoint"))
        .map(|(n, _)| n)
}

/// Parses a geopoint answer `"lat lon [alt [accuracy]]"`.
pub fn parse_geopoint(s: &str) -> Option<(f64, f64, Option<f64>, Option<f64>)> {
    let parts: Vec<f64> = s
        .split_whitespace()
        .map(str::parse::<f64>)
        .collect::<Result<_, _>>()
        .ok()?;
    if parts.len() < 2 || !parts.iter().all(|v| v.is_finite()) {
        return None;
    }
    let (lat, lon) = (parts[0], parts[1]);
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    Some((lat, lon, parts.get(2).copied(), parts.get(3).copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn versions() {
        let today = day("2024-03-05");
        assert_eq!(next_version(None, None, today), Ok("2024030501".into()));
        assert_eq!(
            next_version(None, Some("2024030501"), today),
            Ok("2024030502".into())
        );
        assert_eq!(
            next_version(None, Some("7"), today),
            Ok("2024030501".into())
        );
        assert!(next_version(None, Some("2024030599"), today).is_err());
        assert!(next_version(Some("abc"), None, today).is_err());
        assert!(next_version(Some("3"), Some("3"), today).is_err());
        assert_eq!(next_version(Some("4"), Some("3"), today), Ok("4".into()));
    }

    #[test]
    fn questions_and_paths() {
        let d = json!({"name": "data", "type": "survey", "children": [
            {"name": "a", "type": "text", "label": "<b>A</b>"},
            {"name": "g", "type": "group", "children": [{"name": "b", "type": "integer"}, {"name": "n", "type": "note"}]},
            {"name": "r", "type": "repeat", "children": [{"name": "c", "type": "text"}]},
        ]});
        let names: Vec<String> = questions_by_name(&d).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "n", "r"]);
        let paths = question_paths(&d);
        assert!(paths.contains("g/b") && paths.contains("a") && paths.contains("r"));
        assert_eq!(repeat_names(&d), ["r".to_string()].into());
        let pf = possible_fields([&d]);
        assert_eq!(pf[0], json!({"name": "a", "label": "A", "type": "text"}));
        assert_eq!(pf.as_array().map(Vec::len), Some(3));
        assert_eq!(
            parse_geopoint("1.5 2.5 3 4"),
            Some((1.5, 2.5, Some(3.0), Some(4.0)))
        );
        assert_eq!(parse_geopoint("x"), None);
    }
}

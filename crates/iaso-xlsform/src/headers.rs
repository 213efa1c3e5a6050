//! Column headers: aliases, `::language` grouping, and row cleanup.

use serde_json::{Map, Value};

use crate::error::{err, msg, ConvertError};
use crate::reader::Sheet;

/// A header alias target: one column, or a nested pair like `bind::relevant`.
pub type Alias = &'static [&'static str];

pub fn survey_alias(h: &str) -> Option<Alias> {
    Some(match h {
        "sms_field" => &["sms_field"],
        "sms_option" => &["sms_option"],
        "sms_separator" => &["sms_separator"],
        "sms_allow_media" => &["sms_allow_media"],
        "sms_date_format" => &["sms_date_format"],
        "sms_datetime_format" => &["sms_datetime_format"],
        "sms_response" => &["sms_response"],
        "compact_tag" => &["instance", "odk:tag"],
        "read_only" | "readonly" => &["bind", "readonly"],
        "relevant" | "relevance" => &["bind", "relevant"],
        "caption" => &["label"],
        "appearance" => &["control", "appearance"],
        "required" => &["bind", "required"],
        "constraint" => &["bind", "constraint"],
        "constraining_message" | "constraint_message" => &["bind", "jr:constraintMsg"],
        "calculation" | "calculate" => &["bind", "calculate"],
        "command" => &["type"],
        "tag" | "value" => &["name"],
        "image" => &["media", "image"],
        "big-image" => &["media", "big-image"],
        "audio" => &["media", "audio"],
        "video" => &["media", "video"],
        "count" | "repeat_count" | "jr:count" => &["control", "jr:count"],
        "autoplay" => &["control", "autoplay"],
        "rows" => &["control", "rows"],
        "noapperrorstring" | "no_app_error_string" => &["bind", "jr:noAppErrorString"],
        "requiredmsg" | "required_message" => &["bind", "jr:requiredMsg"],
        "body" => &["control"],
        "save_to" => &["bind", "entities:saveto"],
        _ => return None,
    })
}

pub fn list_alias(h: &str) -> Option<Alias> {
    Some(match h {
        "caption" => &["label"],
        "list_name" => &["list name"],
        "value" => &["name"],
        "image" => &["media", "image"],
        "big-image" => &["media", "big-image"],
        "audio" => &["media", "audio"],
        "video" => &["media", "video"],
        _ => return None,
    })
}

pub fn settings_alias(h: &str) -> Option<Alias> {
    Some(match h {
        "form_title" | "set_form_title" => &["title"],
        "form_id" | "set_form_id" => &["id_string"],
        "prefix" => &["prefix"],
        _ => return None,
    })
}

pub fn entities_alias(h: &str) -> Option<Alias> {
    match h {
        "list_name" => Some(&["dataset"]),
        _ => None,
    }
}

pub const SURVEY_COLUMNS: &[&str] = &[
    "name",
    "label",
    "parent",
    "extra_data",
    "_survey_element_xpath",
    "_dynamic_default",
    "_qtd_defaults",
    "_qtd_kwargs",
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
    "_itemset_has_ref",
    "choices",
    "itemset",
    "list_name",
];

pub const OPTION_COLUMNS: &[&str] = &[
    "name",
    "label",
    "parent",
    "extra_data",
    "_survey_element_xpath",
    "_choice_itext_ref",
    "media",
    "sms_option",
];

pub const SETTINGS_COLUMNS: &[&str] = &[
    "name",
    "label",
    "parent",
    "extra_data",
    "_survey_element_xpath",
    "bind",
    "children",
    "control",
    "hint",
    "media",
    "type",
    "instance",
    "flat",
    "sms_field",
    "_created",
    "_translations",
    "_xpath",
    "add_none_option",
    "clean_text_values",
    "attribute",
    "auto_delete",
    "auto_send",
    "choices",
    "default_language",
    "file_name",
    "id_string",
    "instance_name",
    "instance_xmlns",
    "namespaces",
    "omit_instanceID",
    "public_key",
    "setgeopoint_by_triggering_ref",
    "setvalues_by_triggering_ref",
    "sms_allow_media",
    "sms_date_format",
    "sms_datetime_format",
    "sms_keyword",
    "sms_response",
    "sms_separator",
    "style",
    "submission_url",
    "title",
    "version",
    "allow_choice_duplicates",
    "client_editable",
    "delimiter",
    "prefix",
    "entity_version",
];

pub const ENTITIES_COLUMNS: &[&str] = &[
    "dataset",
    "entity_id",
    "create_if",
    "update_if",
    "repeat",
    "label",
];

pub fn to_snake_case(v: &str) -> String {
    v.split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .to_lowercase()
}

fn process_header(
    header: &str,
    use_double_colon: bool,
    aliases: fn(&str) -> Option<Alias>,
    columns: &[&str],
) -> (String, Vec<String>) {
    if columns.contains(&header) && aliases(header).is_none() {
        return (header.to_string(), vec![header.to_string()]);
    }
    let norm = to_snake_case(header);
    if columns.contains(&norm.as_str()) && aliases(&norm).is_none() {
        return (norm.clone(), vec![norm]);
    }
    let mut tokens: Vec<String> = if use_double_colon || header.contains("::") {
        header.split("::").map(|t| t.trim().to_string()).collect()
    } else {
        let t: Vec<String> = header.split(':').map(|t| t.trim().to_string()).collect();
        if let Some(jr) = t.iter().position(|x| x == "jr") {
            let mut n: Vec<String> = t[..jr].to_vec();
            n.push(format!("jr:{}", t.get(jr + 1).cloned().unwrap_or_default()));
            n.extend(t.iter().skip(jr + 2).cloned());
            n
        } else {
            t
        }
    };
    let first = to_snake_case(tokens.first().map(String::as_str).unwrap_or(""));
    if let Some(al) = aliases(&first) {
        let mut n: Vec<String> = al.iter().map(|s| s.to_string()).collect();
        n.extend(tokens.into_iter().skip(1));
        (al[0].to_string(), n)
    } else if columns.contains(&first.as_str()) {
        tokens[0] = first.clone();
        (first, tokens)
    } else {
        (header.to_string(), tokens)
    }
}

/// Recursive dict merge with the default-language fallback for plain values.
pub fn merge_values(a: Option<Value>, b: Option<Value>, default_key: &str) -> Option<Value> {
    let a_empty = match &a {
        None => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    };
    if a_empty {
        return b;
    }
    let b_empty = match &b {
        None => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    };
    if b_empty {
        return a;
    }
    let (a, b) = (a?, b?);
    let a_map = match a {
        Value::Object(m) => m,
        other => {
            if let Value::Object(bm) = &b {
                if bm.contains_key(default_key) {
                    return Some(b);
                }
            }
            let mut m = Map::new();
            m.insert(default_key.to_string(), other);
            m
        }
    };
    let b_map = match b {
        Value::Object(m) => m,
        other => {
            if a_map.contains_key(default_key) {
                return Some(Value::Object(a_map));
            }
            let mut m = Map::new();
            m.insert(default_key.to_string(), other);
            m
        }
    };
    let mut out = a_map;
    for (k, bv) in b_map {
        if let Some(av) = out.get_mut(&k) {
            let taken = std::mem::replace(av, Value::Null);
            *av = merge_values(Some(taken), Some(bv), default_key).unwrap_or(Value::Null);
        } else if let Some(mv) = merge_values(None, Some(bv), default_key) {
            out.insert(k, mv);
        }
    }
    Some(Value::Object(out))
}

fn nested(tokens: &[String], val: Value) -> Value {
    if tokens.is_empty() {
        return val;
    }
    let mut m = Map::new();
    m.insert(tokens[0].clone(), nested(&tokens[1..], val));
    Value::Object(m)
}

pub fn clean_text_value(v: &str, strip_whitespace: bool) -> String {
    let mut s = if strip_whitespace {
        let t = v.trim();
        let mut o = String::with_capacity(t.len());
        let mut prev = false;
        for c in t.chars() {
            if c == ' ' {
                if !prev {
                    o.push(' ');
                }
                prev = true;
            } else {
                o.push(c);
                prev = false;
            }
        }
        o
    } else {
        v.to_string()
    };
    if s.contains(['\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}']) {
        s = s
            .replace(['\u{2018}', '\u{2019}'], "'")
            .replace(['\u{201c}', '\u{201d}'], "\"");
    }
    s
}

pub struct Dealiased {
    /// Distinct parsed headers (token lists), in column order.
    pub headers: Vec<Vec<String>>,
    /// Original header text for each parsed header (same order).
    pub original: Vec<String>,
    pub data: Vec<Map<String, Value>>,
}

#[allow(clippy::too_many_arguments)]
pub fn dealias_and_group(
    sheet_name: &str,
    sheet: &Sheet,
    aliases: fn(&str) -> Option<Alias>,
    columns: &[&str],
    required: &[&str],
    default_language: &str,
    strip_whitespace: bool,
    add_row_number: bool,
) -> Result<Dealiased, ConvertError> {
    let mut header_key: Vec<(String, Vec<String>)> = Vec::new();
    let mut tokens_key: Vec<(Vec<String>, String)> = Vec::new();
    let mut headers: Vec<String> = sheet.headers.clone();
    if headers.is_empty() && !sheet.rows.is_empty() {
        for r in sheet.rows.iter().take(100) {
            for k in r.keys() {
                if !headers.contains(k) {
                    headers.push(k.clone());
                }
            }
        }
    }
    let use_double_colon = headers.iter().any(|h| h.contains("::"));
    for header in &headers {
        if header_key.iter().any(|(h, _)| h == header) {
            continue;
        }
        let (new_header, tokens) = process_header(header, use_double_colon, aliases, columns);
        if let Some((_, other)) = tokens_key.iter().find(|(t, _)| *t == tokens) {
            if new_header != *header {
                return err(msg::header_002(sheet_name, other, header));
            }
        }
        header_key.push((header.clone(), tokens.clone()));
        if let Some(e) = tokens_key.iter_mut().find(|(t, _)| *t == tokens) {
            e.1 = header.clone();
        } else {
            tokens_key.push((tokens, header.clone()));
        }
    }
    // Headers are few: a linear scan beats hashing every cell's header.
    let lookup = |h: &str| header_key.iter().find(|(k, _)| k == h).map(|(_, t)| t);
    let mut data = Vec::with_capacity(sheet.rows.len());
    for (i, row) in sheet.rows.iter().enumerate() {
        let row_number = i + 2;
        let mut out = Map::new();
        for (header, val) in row {
            let val = clean_text_value(val, strip_whitespace);
            let Some(tokens) = lookup(header.as_str()) else {
                return err(msg::header_001(sheet_name, header));
            };
            if tokens.len() == 1 {
                out.insert(tokens[0].clone(), Value::String(val));
            } else {
                let new_value = nested(&tokens[1..], Value::String(val));
                let mut b = Map::new();
                b.insert(tokens[0].clone(), new_value);
                if let Some(Value::Object(m)) = merge_values(
                    Some(Value::Object(std::mem::take(&mut out))),
                    Some(Value::Object(b)),
                    default_language,
                ) {
                    out = m;
                }
            }
        }
        if add_row_number {
            out.insert("__row".into(), Value::from(row_number));
        }
        data.push(out);
    }
    if !required.is_empty() && (!data.is_empty() || sheet_name == "survey") {
        let firsts: Vec<&str> = tokens_key
            .iter()
            .filter_map(|(t, _)| t.first().map(String::as_str))
            .collect();
        let missing: Vec<String> = required
            .iter()
            .filter(|h| !firsts.contains(h))
            .map(|h| format!("'{h}'"))
            .collect();
        if !missing.is_empty() {
            let missing = msg::header_003(sheet_name, &missing.join(", "));
            if sheet.unnamed_data {
                // Values under blank headers and no required column: most likely
                // the header row itself is missing; say so first.
                return err(format!(
                    "{} {missing}",
                    msg::header_001(sheet_name, "unknown")
                ));
            }
            return err(missing);
        }
    }
    Ok(Dealiased {
        headers: tokens_key.iter().map(|(t, _)| t.clone()).collect(),
        original: tokens_key.iter().map(|(_, h)| h.clone()).collect(),
        data,
    })
}

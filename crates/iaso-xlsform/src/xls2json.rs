//! Sheet rows -> the nested survey definition (JSON-like tree).

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::error::{err, msg, ConvertError};
use crate::expression::{self as ex, is_xml_tag, RefError};
use crate::headers::{self, dealias_and_group};
use crate::params;
use crate::reader::{Sheet, Workbook};

pub type Obj = Map<String, Value>;

pub fn yes_no(v: &str) -> Option<bool> {
    match v {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "true()" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "false()" => Some(false),
        _ => None,
    }
}

pub fn sget<'a>(m: &'a Obj, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

pub fn oget<'a>(m: &'a Obj, k: &str) -> Option<&'a Obj> {
    m.get(k).and_then(Value::as_object)
}

pub fn omut<'a>(m: &'a mut Obj, k: &str) -> &'a mut Obj {
    let e = m
        .entry(k.to_string())
        .or_insert_with(|| Value::Object(Obj::new()));
    if !e.is_object() {
        *e = Value::Object(Obj::new());
    }
    match e {
        Value::Object(o) => o,
        _ => unreachable!("just made it an object"),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut v0: Vec<usize> = (0..=b.len()).collect();
    let mut v1 = vec![0; b.len() + 1];
    for i in 0..a.len() {
        v1[0] = i + 1;
        for j in 0..b.len() {
            let cost = if a[i] == b[j] { v0[j] } else { v0[j] + 1 };
            v1[j + 1] = (v0[j + 1] + 1).min(v1[j] + 1).min(cost);
        }
        std::mem::swap(&mut v0, &mut v1);
    }
    v0[b.len()]
}

pub fn find_sheet_misspellings(key: &str, names: &[String]) -> Option<String> {
    let cands: Vec<String> = names
        .iter()
        .filter(|k| {
            levenshtein(&k.to_lowercase(), key) <= 2
                && !crate::reader::SUPPORTED_SHEETS.contains(&k.as_str())
                && !k.starts_with('_')
        })
        .map(|k| format!("'{k}'"))
        .collect();
    if cands.is_empty() {
        None
    } else {
        Some(msg::names_013(key, &cands.join(", ")))
    }
}

const MSG_SUPPRESS_SPELLING: &str = " If you do not mean to include a sheet, to suppress this message, prefix the sheet name with an underscore. For example 'setting' becomes '_setting'.";

const CONTROL_TYPES: &[(&str, &str)] = &[
    ("group", "group"),
    ("lgroup", "repeat"),
    ("repeat", "repeat"),
    ("loop", "loop"),
    ("looped group", "repeat"),
];

/// begin/end control parse: returns (is_begin, control type, optional list name).
fn parse_control(t: &str) -> Option<(bool, &'static str, Option<String>)> {
    let (is_begin, rest) = if let Some(r) = t.strip_prefix("begin") {
        (true, r)
    } else if let Some(r) = t.strip_prefix("end") {
        (false, r)
    } else {
        return None;
    };
    let rest = rest.strip_prefix([' ', '_'])?;
    // Longest alias first.
    let mut aliases: Vec<&(&str, &str)> = CONTROL_TYPES.iter().collect();
    aliases.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in aliases {
        if let Some(after) = rest.strip_prefix(k) {
            if after.is_empty() {
                return Some((is_begin, v, None));
            }
            if is_begin {
                let a = after.strip_prefix(' ')?;
                let a = a.strip_prefix("over ").unwrap_or(a);
                if !a.is_empty() && !a.contains(char::is_whitespace) {
                    return Some((is_begin, v, Some(a.to_string())));
                }
            }
        }
    }
    None
}

const SELECT_ALIASES: &[(&str, &str)] = &[
    ("add select one prompt using", "select one"),
    ("add select multiple prompt using", "select all that apply"),
    ("select all that apply from", "select all that apply"),
    ("select one from", "select one"),
    ("select1", "select one"),
    ("select_one", "select one"),
    ("select one", "select one"),
    ("select_multiple", "select all that apply"),
    ("select all that apply", "select all that apply"),
    ("select_one_external", "select one external"),
    ("select_one_from_file", "select one"),
    ("select_multiple_from_file", "select all that apply"),
    ("select one from file", "select one"),
    ("select multiple from file", "select all that apply"),
    ("rank", "rank"),
];

pub fn is_select_from_file_cmd(c: &str) -> bool {
    matches!(
        c,
        "select_one_from_file"
            | "select_multiple_from_file"
            | "select one from file"
            | "select multiple from file"
    )
}

struct SelectParse {
    command: String,
    select_type: &'static str,
    list_name: String,
    specify_other: bool,
}

fn parse_select(t: &str) -> Option<SelectParse> {
    // ^(cmd) (\S+)( (or specify other|or_other|or other))?$  -- regex alternation order
    for (cmd, st) in SELECT_ALIASES {
        let Some(rest) = t.strip_prefix(cmd) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(' ') else {
            continue;
        };
        let ln_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if ln_end == 0 {
            continue;
        }
        let list_name = &rest[..ln_end];
        let tail = &rest[ln_end..];
        let specify_other = match tail {
            "" => false,
            " or specify other" | " or_other" | " or other" => true,
            _ => continue,
        };
        return Some(SelectParse {
            command: cmd.to_string(),
            select_type: st,
            list_name: list_name.to_string(),
            specify_other,
        });
    }
    None
}

fn type_alias(t: &str) -> &str {
    match t {
        "imei" => "deviceid",
        "image" => "photo",
        "add image prompt" | "add photo prompt" => "photo",
        "add audio prompt" => "audio",
        "add video prompt" => "video",
        "add file prompt" => "file",
        _ => t,
    }
}

fn splitext(s: &str) -> (&str, &str) {
    // os.path.splitext on a bare name: last '.' not at position 0 (ignoring leading dots)
    let base_start = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &s[base_start..];
    let lead = base.len() - base.trim_start_matches('.').len();
    match base[lead..].rfind('.') {
        Some(i) => {
            let at = base_start + lead + i;
            (&s[..at], &s[at..])
        }
        None => (s, ""),
    }
}

pub fn split_ext(s: &str) -> (&str, &str) {
    splitext(s)
}

pub const EXTERNAL_INSTANCE_EXTENSIONS: &[&str] = &[".xml", ".csv", ".geojson"];

struct Frame {
    control_type: Option<&'static str>,
    control_name: Option<String>,
    node: Obj,
    children: Vec<Value>,
    child_names: HashSet<String>,
    child_names_lower: HashSet<String>,
    row_number: Option<usize>,
}

impl Frame {
    fn new(
        control_type: Option<&'static str>,
        name: Option<String>,
        node: Obj,
        row: Option<usize>,
    ) -> Self {
        Frame {
            control_type,
            control_name: name,
            node,
            children: Vec::new(),
            child_names: HashSet::new(),
            child_names_lower: HashSet::new(),
            row_number: row,
        }
    }
}

/// Everything the later stages need from the sheets.
pub struct Parsed {
    pub json: Obj,
    pub warnings: Vec<String>,
}

fn validate_qgr_name(
    name: &str,
    frame: &mut Frame,
    warnings: &mut Vec<String>,
    row: Option<usize>,
) -> Result<(), ConvertError> {
    if name == "meta" {
        return err(msg::names_005(row));
    }
    if frame.child_names.contains(name) {
        return err(msg::names_001(row, name));
    }
    frame.child_names.insert(name.to_string());
    let lower = name.to_lowercase();
    if frame.child_names_lower.contains(&lower) {
        warnings.push(msg::names_002(row, name));
    }
    frame.child_names_lower.insert(lower);
    Ok(())
}

fn py_dict_str(row: &Obj) -> String {
    // Approximation of Python's str(dict) for warning text.
    let parts: Vec<String> = row
        .iter()
        .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Object(m) => py_dict_str(m),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn translations_missing_warnings(
    survey_headers: &[Vec<String>],
    choices_headers: &[Vec<String>],
    warnings: &mut Vec<String>,
) -> (bool, bool) {
    fn analyse(
        headers: &[Vec<String>],
        translatable: &dyn Fn(&str) -> Option<&'static str>,
    ) -> (Vec<(String, Vec<String>)>, bool) {
        let mut seen: Vec<(String, Vec<String>)> = Vec::new();
        let mut cols_seen: Vec<String> = Vec::new();
        for h in headers {
            let head: &[String] = if h.len() > 1 && (h[0] == "media" || h[0] == "bind") {
                &h[1..]
            } else {
                &h[..]
            };
            if let Some(name) = translatable(&head[0]) {
                let lang = if head.len() == 1 {
                    Some("default".to_string())
                } else if head.len() == 2 {
                    Some(head[1].clone())
                } else {
                    None
                };
                if let Some(lang) = lang {
                    match seen.iter_mut().find(|(l, _)| *l == lang) {
                        Some((_, v)) => v.push(name.to_string()),
                        None => seen.push((lang, vec![name.to_string()])),
                    }
                }
                if !cols_seen.contains(&name.to_string()) {
                    cols_seen.push(name.to_string());
                }
            }
        }
        let default_only = seen.is_empty() || (seen.len() == 1 && seen[0].0 == "default");
        let mut missing = Vec::new();
        if !default_only {
            for (lang, cols) in &seen {
                let m: Vec<String> = cols_seen
                    .iter()
                    .filter(|c| !cols.contains(c))
                    .cloned()
                    .collect();
                if !m.is_empty() {
                    missing.push((lang.clone(), m));
                }
            }
        }
        (missing, default_only)
    }
    let survey_tr = |h: &str| -> Option<&'static str> {
        Some(match h {
            "label" => "label",
            "hint" => "hint",
            "guidance_hint" => "guidance_hint",
            "image" => "image",
            "big-image" => "big-image",
            "audio" => "audio",
            "video" => "video",
            "jr:constraintMsg" => "constraint_message",
            "jr:requiredMsg" => "required_message",
            _ => return None,
        })
    };
    let choices_tr = |h: &str| -> Option<&'static str> {
        Some(match h {
            "label" => "label",
            "image" => "image",
            "big-image" => "big-image",
            "audio" => "audio",
            "video" => "video",
            _ => return None,
        })
    };
    let (sm, sdo) = analyse(survey_headers, &survey_tr);
    let (cm, cdo) = analyse(choices_headers, &choices_tr);
    let fmt = |name: &str, missing: &[(String, Vec<String>)]| -> Option<String> {
        if missing.is_empty() {
            return None;
        }
        let mut langs: Vec<&(String, Vec<String>)> = missing.iter().collect();
        langs.sort_by(|a, b| a.0.cmp(&b.0));
        let msgs: Vec<String> = langs
            .iter()
            .map(|(lang, cols)| {
                if cols.len() == 1 {
                    format!(
                        "Language '{lang}' is missing the {name} {} column.",
                        cols[0]
                    )
                } else {
                    let mut c = cols.clone();
                    c.sort();
                    format!(
                        "Language '{lang}' is missing the {name} columns {}.",
                        c.join(", ")
                    )
                }
            })
            .collect();
        Some(msgs.join("\n"))
    };
    let parts: Vec<String> = [fmt("survey", &sm), fmt("choices", &cm)]
        .into_iter()
        .flatten()
        .collect();
    if !parts.is_empty() {
        warnings.push(parts.join("\n"));
    }
    (sdo, cdo)
}

pub fn workbook_to_json(
    wb: &Workbook,
    form_name: Option<&str>,
    fallback_form_name: Option<&str>,
) -> Result<Parsed, ConvertError> {
    let mut warnings: Vec<String> = Vec::new();
    let sheet_names = &wb.sheet_names;
    let survey_sheet_raw = wb.sheets.get("survey");
    let survey_present = survey_sheet_raw
        .map(|s| !s.rows.is_empty() || !s.headers.is_empty())
        .unwrap_or(false);
    if !survey_present {
        let mut m = "You must have a sheet named 'survey'. ".to_string();
        if let Some(s) = find_sheet_misspellings("survey", sheet_names) {
            m.push_str(&s);
        }
        return err(m);
    }
    if let Some(n) = form_name {
        if !is_xml_tag(n) {
            return err(msg::names_009("form_name"));
        }
    }
    let form_name = form_name.unwrap_or("data").to_string();
    let mut default_language = "default".to_string();

    // Settings.
    let mut settings = Obj::new();
    let settings_sheet = wb.sheets.get("settings");
    if let Some(ss) = settings_sheet.filter(|s| !s.rows.is_empty()) {
        let mut ss = ss.clone();
        let has_both = ss.headers.iter().any(|h| h == "id_string")
            && ss.headers.iter().any(|h| h == "form_id");
        if has_both {
            ss.headers.retain(|h| h != "id_string");
            if let Some(r) = ss.rows.first_mut() {
                r.shift_remove("id_string");
            }
            warnings.push("The form_id and id_string column headers are both specified in the settings sheet provided. This may cause errors during conversion. In future, its best to avoid specifying both column headers in the settings sheet.".into());
        }
        let d = dealias_and_group(
            "settings",
            &ss,
            headers::settings_alias,
            headers::SETTINGS_COLUMNS,
            &[],
            "default",
            false,
            false,
        )?;
        settings = d.data.into_iter().next().unwrap_or_default();
        if let Some(n) = sget(&settings, "name") {
            if !is_xml_tag(n) {
                return err(msg::names_008("settings", Some(1), "name"));
            }
        }
    } else if let Some(s) = find_sheet_misspellings("settings", sheet_names) {
        warnings.push(format!("{s}{MSG_SUPPRESS_SPELLING}"));
    }
    let clean_text_values = sget(&settings, "clean_text_values")
        .map(|v| yes_no(v).unwrap_or(true))
        .unwrap_or(true);
    if let Some(dl) = sget(&settings, "default_language") {
        default_language = dl.to_string();
    }
    if let Some(v) = settings.get("add_none_option").cloned() {
        let b = v.as_str().and_then(yes_no).unwrap_or(false);
        settings.insert("add_none_option".into(), Value::Bool(b));
    }
    if let Some(v) = settings.get("client_editable").cloned() {
        let b = v.as_str().and_then(yes_no).unwrap_or(false);
        settings.insert("client_editable".into(), Value::Bool(b));
    }
    let id_string = sget(&settings, "id_string")
        .map(str::to_string)
        .unwrap_or_else(|| fallback_form_name.unwrap_or("data").to_string());
    let sms_keyword = sget(&settings, "sms_keyword")
        .map(str::to_string)
        .unwrap_or_else(|| id_string.clone());
    let mut json_dict = Obj::new();
    json_dict.insert("type".into(), json!("survey"));
    json_dict.insert("name".into(), json!(form_name));
    json_dict.insert("title".into(), json!(id_string));
    json_dict.insert("id_string".into(), json!(id_string));
    json_dict.insert("sms_keyword".into(), json!(sms_keyword));
    json_dict.insert("default_language".into(), json!(default_language));
    for (k, v) in &settings {
        json_dict.insert(k.clone(), v.clone());
    }

    // External choices.
    let mut external_choices: HashMap<String, Vec<Obj>> = HashMap::new();
    if let Some(ec) = wb
        .sheets
        .get("external_choices")
        .filter(|s| !s.rows.is_empty())
    {
        let d = dealias_and_group(
            "external_choices",
            ec,
            headers::list_alias,
            headers::OPTION_COLUMNS,
            &[],
            &default_language,
            false,
            false,
        )?;
        for mut r in d.data {
            if let Some(Value::String(ln)) = r.shift_remove("list name") {
                external_choices.entry(ln).or_default().push(r);
            }
        }
    }

    // Choices.
    let mut choices: indexmap::IndexMap<String, Vec<Obj>> = indexmap::IndexMap::new();
    let mut choices_headers: Vec<Vec<String>> = Vec::new();
    let mut choices_original: Vec<String> = Vec::new();
    let choices_sheet = wb.sheets.get("choices").filter(|s| !s.rows.is_empty());
    if let Some(cs) = choices_sheet {
        let d = dealias_and_group(
            "choices",
            cs,
            headers::list_alias,
            headers::OPTION_COLUMNS,
            &["name"],
            &default_language,
            false,
            true,
        )?;
        choices_headers = d.headers.clone();
        choices_original = d.original.clone();
        for mut r in d.data {
            if let Some(Value::String(ln)) = r.shift_remove("list name") {
                choices.entry(ln).or_default().push(r);
            }
        }
        // Validate & clean.
        let invalid: Vec<String> = choices_headers
            .iter()
            .filter_map(|h| {
                let h0 = &h[0];
                if h0 != "list name" && (h0.contains(' ') || h0.is_empty()) {
                    warnings.push(msg::header_004(h0));
                    Some(h0.clone())
                } else {
                    None
                }
            })
            .collect();
        let allow_dups = sget(&settings, "allow_choice_duplicates")
            .and_then(yes_no)
            .unwrap_or(false);
        for options in choices.values_mut() {
            let mut seen: HashSet<String> = HashSet::new();
            let mut dup_errors: Vec<String> = Vec::new();
            for o in options.iter() {
                let row = o.get("__row").and_then(Value::as_u64).unwrap_or(0) as usize;
                match o.get("name") {
                    None => return err(msg::names_006(row)),
                    Some(n) => {
                        if !o.contains_key("label") {
                            warnings.push(msg::label_001(row));
                        }
                        if !allow_dups {
                            let n = n.as_str().unwrap_or("").to_string();
                            if seen.contains(&n) {
                                dup_errors.push(msg::names_007(row));
                            } else {
                                seen.insert(n);
                            }
                        }
                    }
                }
            }
            if !dup_errors.is_empty() {
                return err(dup_errors.join("\n"));
            }
            for o in options.iter_mut() {
                for h in &invalid {
                    o.shift_remove(h);
                }
                o.shift_remove("__row");
            }
        }
        if !choices.is_empty() {
            let mut cm = Obj::new();
            for (k, v) in &choices {
                cm.insert(
                    k.clone(),
                    Value::Array(v.iter().cloned().map(Value::Object).collect()),
                );
            }
            json_dict.insert("choices".into(), Value::Object(cm));
        }
    }

    // Entities.
    let mut entities = crate::entities::Entities::default();
    if let Some(es) = wb.sheets.get("entities").filter(|s| !s.rows.is_empty()) {
        let d = dealias_and_group(
            "entities",
            es,
            headers::entities_alias,
            headers::ENTITIES_COLUMNS,
            &[],
            "default",
            false,
            false,
        )?;
        entities = crate::entities::Entities::from_sheet(&d)?;
    } else if let Some(s) = find_sheet_misspellings("entities", sheet_names) {
        warnings.push(format!("{s}{MSG_SUPPRESS_SPELLING}"));
    }

    // OSM tags.
    let mut osm_tags: HashMap<String, Vec<Obj>> = HashMap::new();
    if let Some(os) = wb.sheets.get("osm").filter(|s| !s.rows.is_empty()) {
        let d = dealias_and_group(
            "osm",
            os,
            headers::list_alias,
            headers::OPTION_COLUMNS,
            &[],
            "default",
            false,
            false,
        )?;
        for mut r in d.data {
            if let Some(Value::String(ln)) = r.shift_remove("list name") {
                osm_tags.entry(ln).or_default().push(r);
            }
        }
    }

    // Survey.
    let no_survey = Sheet::default();
    let survey_raw = survey_sheet_raw.unwrap_or(&no_survey);
    let mut survey = dealias_and_group(
        "survey",
        survey_raw,
        headers::survey_alias,
        headers::SURVEY_COLUMNS,
        &["type"],
        &default_language,
        clean_text_values,
        false,
    )?;
    let (survey_default_only, choices_default_only) =
        translations_missing_warnings(&survey.headers, &choices_headers, &mut warnings);
    let mut or_other_seen = false;

    let mut stack: Vec<Frame> = vec![Frame::new(None, None, Obj::new(), None)];
    let mut table_list: Option<Option<String>> = None; // Some(None) = table list active, no list yet
    let mut meta_children: Vec<Value> = Vec::new();
    let mut question_names: HashSet<String> = HashSet::new();
    let mut element_names: HashMap<String, usize> = HashMap::new();
    let mut trigger_references: Vec<(String, usize)> = Vec::new();
    let mut geo_references: Vec<(String, usize)> = Vec::new();
    let mut secondary_instances: HashSet<String> = HashSet::new();
    let mut repeat_names: HashSet<String> = HashSet::new();

    let survey_rows = std::mem::take(&mut survey.data);
    for (idx, mut row) in survey_rows.into_iter().enumerate() {
        let row_number = idx + 2;
        let prev_control_type = stack.last().and_then(|f| f.control_type);

        if let Some(disabled) = row.get("disabled").cloned() {
            warnings.push(format!("[row : {row_number}] The 'disabled' column header is not part of the current spec. We recommend using relevant instead."));
            row.shift_remove("disabled");
            if disabled.as_str().and_then(yes_no) == Some(true) {
                continue;
            }
        }
        if row.is_empty() {
            continue;
        }
        let question_type = match sget(&row, "type") {
            Some(t) => type_alias(t).to_string(),
            None => {
                if !(row.contains_key("name") || row.contains_key("label")) {
                    warnings.push(format!(
                        "[row : {row_number}] Row without name, text, or label is being skipped:\n{}",
                        py_dict_str(&row)
                    ));
                    continue;
                }
                return err(format!(
                    "[row : {row_number}] Question with no type.\n{}",
                    py_dict_str(&row)
                ));
            }
        };
        row.insert("type".into(), json!(question_type));
        let appearance = oget(&row, "control")
            .and_then(|c| sget(c, "appearance"))
            .map(str::to_string);

        if let Some(trigger) = sget(&row, "trigger").map(str::to_string) {
            let names = process_trigger(&trigger, row_number)?;
            match names {
                Some(n) => {
                    for t in &n {
                        trigger_references.push((t.clone(), row_number));
                    }
                    row.insert(
                        "trigger".into(),
                        Value::Array(n.into_iter().map(Value::String).collect()),
                    );
                }
                None => {
                    row.shift_remove("trigger");
                }
            }
        }

        if let Some(def) = sget(&row, "default").map(str::to_string) {
            if !def.is_empty() && ex::default_is_dynamic(&def, bind_type_for(&question_type)) {
                row.insert("_dynamic_default".into(), Value::Bool(true));
                let mut actions =
                    vec![json!({"name": "setvalue", "event": "odk-instance-first-load"})];
                if stack.iter().rev().any(|f| f.control_type == Some("repeat")) {
                    actions.push(json!({"name": "setvalue", "event": "odk-new-repeat"}));
                }
                push_actions(&mut row, actions);
            }
        }

        let parameters = params::parse(sget(&row, "parameters").unwrap_or(""), row_number)?;

        if question_type == "audit" {
            if let Some(n) = sget(&row, "name") {
                if !n.is_empty() && n != "audit" {
                    return err(format!("[row : {row_number}] Audits must always be named 'audit.' The name column should be left blank."));
                }
            }
            row.insert("name".into(), json!("audit"));
            params::process_audit(&mut row, &parameters, row_number)?;
            meta_children.push(Value::Object(row));
            continue;
        }
        if question_type == "calculate" {
            let calc = oget(&row, "bind").and_then(|b| sget(b, "calculate"));
            let dd = row
                .get("_dynamic_default")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if calc.map(str::is_empty).unwrap_or(true) && !dd {
                return err(format!("[row : {row_number}] Missing calculation."));
            }
        }
        if question_type == "subscriberid" || question_type == "simserial" {
            warnings.push(format!("[row : {row_number}] {question_type} is no longer supported on most devices. Only old versions of Collect on Android versions older than 11 still support it."));
        }
        if let Some(st) = headers::settings_alias(&question_type) {
            let name = row.get("name").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            json_dict.insert(
                st[0].to_string(),
                json!(name.unwrap_or_else(|| "None".into())),
            );
            continue;
        }

        let begin_parse = parse_control(&question_type).filter(|p| p.0);
        let end_parse = parse_control(&question_type).filter(|p| !p.0);

        let mut question_name: Option<String> = None;
        if end_parse.is_none() {
            if !row.contains_key("name") {
                if question_type == "note" {
                    row.insert(
                        "name".into(),
                        json!(format!("generated_note_name_{row_number}")),
                    );
                } else {
                    return err(format!(
                        "[row : {row_number}] Question or group with no name."
                    ));
                }
            }
            let qn = sget(&row, "name").unwrap_or("").to_string();
            if !is_xml_tag(&qn) {
                return err(msg::names_008("survey", Some(row_number), "name"));
            }
            *element_names.entry(qn.clone()).or_default() += 1;
            let frame = stack
                .last_mut()
                .ok_or_else(|| ConvertError::Form("internal stack".into()))?;
            validate_qgr_name(&qn, frame, &mut warnings, Some(row_number))?;
            question_name = Some(qn);
        }

        let container_path: Vec<String> = stack
            .iter()
            .skip(1)
            .filter_map(|f| f.control_name.clone())
            .collect();
        let container_kinds: Vec<&'static str> = stack
            .iter()
            .skip(1)
            .filter_map(|f| f.control_type)
            .collect();
        entities.note_survey_row(
            &container_path,
            &container_kinds,
            &mut row,
            row_number,
            question_name.as_deref(),
            begin_parse.is_some(),
            end_parse.is_some(),
        )?;

        if let Some((_, control_type, _)) = end_parse {
            if prev_control_type != Some(control_type) || stack.len() == 1 {
                return err(msg::survey_001(
                    Some(row_number),
                    control_type,
                    sget(&row, "name"),
                ));
            }
            let frame = stack
                .pop()
                .ok_or_else(|| ConvertError::Form("internal stack".into()))?;
            let mut node = frame.node;
            node.insert("children".into(), Value::Array(frame.children));
            if let Some(parent) = stack.last_mut() {
                parent.children.push(Value::Object(node));
            }
            table_list = None;
            continue;
        }

        if let Some((_, control_type, list_name)) = begin_parse {
            let qn = question_name.clone().unwrap_or_default();
            if control_type == "repeat" {
                if qn == form_name {
                    return err(msg::names_003(Some(row_number), &qn));
                } else if repeat_names.contains(&qn) {
                    return err(msg::names_004(Some(row_number), &qn));
                }
                repeat_names.insert(qn.clone());
                if !row.contains_key("label") && row.get("media").is_none() {
                    warnings.push(format!(
                        "[row : {row_number}] Repeat has no label: {{'name': {}, 'type': {}}}",
                        py_repr(row.get("name").unwrap_or(&Value::Null)),
                        py_repr(row.get("type").unwrap_or(&Value::Null))
                    ));
                }
            }
            let mut node = row.clone();
            node.insert("type".into(), json!(control_type));
            let mut first_children: Vec<Value> = Vec::new();
            if control_type == "loop" {
                let Some(ln) = list_name else {
                    return err(format!(
                        "[row : {row_number}] Repeat loop without list name."
                    ));
                };
                let Some(cols) = choices.get(&ln) else {
                    return err(format!(
                        "[row : {row_number}] List name not in columns sheet: {ln}"
                    ));
                };
                node.insert(
                    "columns".into(),
                    Value::Array(cols.iter().cloned().map(Value::Object).collect()),
                );
            }
            let count_expr = oget(&node, "control")
                .and_then(|c| sget(c, "jr:count"))
                .map(str::to_string);
            if let Some(expr) = count_expr.filter(|e| !e.is_empty()) {
                if !ex::is_ref(&expr) {
                    let gen = format!("{qn}_count");
                    let parent = stack
                        .last_mut()
                        .ok_or_else(|| ConvertError::Form("internal stack".into()))?;
                    parent.children.push(json!({
                        "name": gen,
                        "bind": {"readonly": "true()", "calculate": expr},
                        "type": "calculate",
                    }));
                    omut(&mut node, "control")
                        .insert("jr:count".into(), json!(format!("${{{gen}}}")));
                }
            }
            if let Some(app) = &appearance {
                let mods: Vec<&str> = app.split_whitespace().collect();
                if mods.contains(&"table-list") {
                    table_list = Some(None);
                    let mut a = "field-list".to_string();
                    for w in &mods {
                        if *w != "table-list" {
                            a.push(' ');
                            a.push_str(w);
                        }
                    }
                    omut(&mut node, "control").insert("appearance".into(), json!(a));
                    if node.contains_key("label") || node.contains_key("hint") {
                        let mut gen = Obj::new();
                        gen.insert("type".into(), json!("note"));
                        gen.insert(
                            "name".into(),
                            json!(format!("generated_table_list_label_{row_number}")),
                        );
                        if let Some(l) = node.shift_remove("label") {
                            gen.insert("label".into(), l);
                        }
                        if let Some(h) = node.shift_remove("hint") {
                            gen.insert("hint".into(), h);
                        }
                        first_children.push(Value::Object(gen));
                    }
                }
            }
            if let Some(intent) = node.get("intent").cloned() {
                omut(&mut node, "control").insert("intent".into(), intent);
            }
            let mut frame = Frame::new(Some(control_type), Some(qn), node, Some(row_number));
            frame.children = first_children;
            stack.push(frame);
            continue;
        }

        let qn = question_name.clone().unwrap_or_default();
        question_names.insert(qn.clone());
        if question_type == "csv-external" || question_type == "xml-external" {
            secondary_instances.insert(splitext(&qn).0.to_string());
        }

        if let Some(sp) = parse_select(&question_type) {
            let select_type = sp.select_type;
            if select_type == "select one external" && !row.contains_key("choice_filter") {
                warnings.push(format!(
                    "[row : {row_number}] select one external is only meant for filtered selects."
                ));
            }
            let list_name = sp.list_name.clone();
            let (instance_name, file_extension) = splitext(&list_name);
            let (instance_name, file_extension) =
                (instance_name.to_string(), file_extension.to_string());
            if select_type == "select one external" {
                if external_choices.is_empty() {
                    let mut m =
                        "There should be an external_choices sheet in this xlsform.".to_string();
                    if let Some(s) = find_sheet_misspellings("external_choices", sheet_names) {
                        m = format!("{m} {s}");
                    }
                    return err(format!("{m} Please ensure that the external_choices sheet has columns 'list name', and 'name'."));
                }
                if !external_choices.contains_key(&list_name) {
                    return err(format!(
                        "[row : {row_number}]List name not in external choices sheet: {list_name}"
                    ));
                }
            } else {
                secondary_instances.insert(instance_name.clone());
            }
            if is_select_from_file_cmd(&sp.command) {
                let ok_single = {
                    // Path(list_name).suffixes has exactly 1 and suffix allowed
                    let base = list_name.rsplit('/').next().unwrap_or(&list_name);
                    let stripped = base.trim_start_matches('.');
                    let n_suffixes = stripped.matches('.').count();
                    n_suffixes == 1
                        && EXTERNAL_INSTANCE_EXTENSIONS.contains(&file_extension.as_str())
                };
                if !ok_single {
                    return err(format!("[row : {row_number}] File name for '{} {list_name}' should end with one of the supported file extensions: '.xml', '.csv', '.geojson'", sp.command));
                }
            }
            let is_file = EXTERNAL_INSTANCE_EXTENSIONS.contains(&file_extension.as_str());
            if !choices.contains_key(&list_name)
                && select_type != "select one external"
                && !is_file
                && !ex::has_ref(&list_name)
            {
                if choices.is_empty() {
                    let mut m = "There should be a choices sheet in this xlsform.".to_string();
                    if let Some(s) = find_sheet_misspellings("choices", sheet_names) {
                        m = format!("{m} {s}");
                    }
                    return err(format!("{m} Please ensure that the choices sheet has the mandatory columns 'list_name', 'name', and 'label'."));
                }
                return err(format!(
                    "[row : {row_number}] List name not in choices sheet: {list_name}"
                ));
            }
            if select_type == "select all that apply" && !is_file {
                if let Some(cl) = choices.get(&list_name) {
                    for c in cl {
                        let n = sget(c, "name").unwrap_or("");
                        if n.contains(' ') {
                            return err(format!("Choice names with spaces cannot be added to multiple choice selects. See [{n}] in [{list_name}]"));
                        }
                    }
                }
            }
            let mut specify_other_question: Option<Value> = None;
            if sp.specify_other {
                or_other_seen = true;
                if row
                    .get("choice_filter")
                    .map(|v| v.as_str() != Some(""))
                    .unwrap_or(false)
                {
                    return err(format!(
                        "[row : {row_number}] Choice filter not supported with or_other."
                    ));
                }
                let Some(list) = choices.get_mut(&list_name).filter(|l| !l.is_empty()) else {
                    return err(format!(
                        "[row : {row_number}] Please specify choices for this 'or other' question."
                    ));
                };
                if !list.iter().any(|c| sget(c, "name") == Some("other")) {
                    let translated: Vec<String> = {
                        let mut langs: Vec<String> = Vec::new();
                        for c in list.iter() {
                            if let Some(Value::Object(l)) = c.get("label") {
                                for k in l.keys() {
                                    if !langs.contains(k) {
                                        langs.push(k.clone());
                                    }
                                }
                            }
                        }
                        langs
                    };
                    let any_dict = list
                        .iter()
                        .any(|c| matches!(c.get("label"), Some(Value::Object(_))));
                    if any_dict {
                        let mut lab = Obj::new();
                        for l in translated {
                            lab.insert(l, json!("Other"));
                        }
                        let mut o = Obj::new();
                        o.insert("name".into(), json!("other"));
                        o.insert("label".into(), Value::Object(lab));
                        list.push(o);
                    } else {
                        let mut o = Obj::new();
                        o.insert("name".into(), json!("other"));
                        o.insert("label".into(), json!("Other"));
                        list.push(o);
                    }
                    // keep json_dict choices in sync
                    if let Some(Value::Object(cm)) = json_dict.get_mut("choices") {
                        cm.insert(
                            list_name.clone(),
                            Value::Array(list.iter().cloned().map(Value::Object).collect()),
                        );
                    }
                }
                specify_other_question = Some(json!({
                    "type": "text",
                    "name": format!("{qn}_other"),
                    "label": "Specify other.",
                    "bind": {"relevant": format!("selected(../{qn}, 'other')")},
                }));
            }
            let mut node = row.clone();
            node.insert("type".into(), json!(select_type));
            let parameters = parameters;
            if is_select_from_file_cmd(&sp.command) {
                params::validate_keys(
                    &parameters,
                    &["label", "randomize", "seed", "value"],
                    row_number,
                )?;
                for key in ["value", "label"] {
                    if let Some(v) = parameters.get(key) {
                        if !is_xml_tag(v) {
                            return err(msg::names_008(
                                "survey",
                                Some(row_number),
                                &format!("parameters ({key})"),
                            ));
                        }
                    }
                }
            } else {
                params::validate_keys(&parameters, &["randomize", "seed"], row_number)?;
            }
            if let Some(r) = parameters.get("randomize") {
                if r != "true" && r != "false" {
                    return err(format!(
                        "randomize must be set to true or false: '{r}' is an invalid value"
                    ));
                }
                if let Some(seed) = parameters.get("seed") {
                    if !ex::is_ref(seed) && seed.trim().parse::<f64>().is_err() {
                        return err("seed value must be a number or a reference to another field.");
                    }
                }
            } else if parameters.contains_key("seed") {
                return err("Parameters must include randomize=true to use a seed.");
            }
            let pobj: Obj = parameters
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            node.insert("parameters".into(), Value::Object(pobj));
            // add_choices_info_to_question
            node.insert("itemset".into(), json!(list_name));
            let cf = sget(&row, "choice_filter").unwrap_or("");
            if !cf.is_empty() {
                if select_type == "select one external" {
                    node.insert("query".into(), json!(list_name));
                } else if let Some(cl) = choices.get(&list_name).filter(|c| !c.is_empty()) {
                    node.insert("list_name".into(), json!(list_name));
                    // The list is read from the survey's choices by name; an inline
                    // copy is only kept when the survey does not hold it.
                    if !survey_has_list(&json_dict, &list_name) {
                        node.insert(
                            "choices".into(),
                            Value::Array(cl.iter().cloned().map(Value::Object).collect()),
                        );
                    }
                }
            } else if !(parameters
                .get("randomize")
                .map(|r| r == "true")
                .unwrap_or(false)
                || is_file
                || ex::has_ref(&list_name))
            {
                node.insert("list_name".into(), json!(list_name));
                if !survey_has_list(&json_dict, &list_name) {
                    let cl = choices.get(&list_name).cloned().unwrap_or_default();
                    node.insert(
                        "choices".into(),
                        Value::Array(cl.into_iter().map(Value::Object).collect()),
                    );
                }
            }
            if let Some(tl) = table_list.as_mut() {
                if tl.is_none() {
                    *tl = Some(list_name.clone());
                    if row.contains_key("choice_filter") {
                        return err(format!("[row : {row_number}] Choice filter not supported for table-list appearance."));
                    }
                    let cl = choices.get(&list_name).cloned().unwrap_or_default();
                    let header = json!({
                        "type": select_type,
                        "name": format!("reserved_name_for_field_list_labels_{row_number}"),
                        "control": {"appearance": "label"},
                        "choices": Value::Array(cl.into_iter().map(Value::Object).collect()),
                        "itemset": list_name,
                    });
                    if let Some(f) = stack.last_mut() {
                        f.children.push(header);
                    }
                }
                if tl.as_deref() != Some(list_name.as_str()) {
                    return err(format!("[row : {row_number}] Badly formatted table list, list names don't match: {} vs. {list_name}", tl.clone().unwrap_or_default()));
                }
                omut(&mut node, "control").insert("appearance".into(), json!("list-nolabel"));
            }
            if let Some(f) = stack.last_mut() {
                f.children.push(Value::Object(node));
                if let Some(so) = specify_other_question {
                    f.children.push(so);
                }
            }
            continue;
        }

        if let Some(rest) = question_type.strip_prefix("osm ") {
            let list = rest.split_whitespace().next().unwrap_or("").to_string();
            if !list.is_empty() {
                let mut node = row.clone();
                node.insert("type".into(), json!("osm"));
                if let Some(tags) = osm_tags.get(&list) {
                    node.insert(
                        "tags".into(),
                        Value::Array(tags.iter().cloned().map(Value::Object).collect()),
                    );
                }
                if let Some(f) = stack.last_mut() {
                    f.children.push(Value::Object(node));
                }
                continue;
            }
        }

        let mut node = row.clone();
        match question_type.as_str() {
            "range" => {
                crate::params::process_range(
                    &mut node,
                    row_number,
                    parameters,
                    appearance.as_deref(),
                    &choices,
                )?;
            }
            "text" => {
                params::validate_keys(&parameters, &["rows"], row_number)?;
                if let Some(r) = parameters.get("rows") {
                    if r.trim().parse::<i64>().is_err() {
                        return err(format!(
                            "[row : {row_number}] Parameter rows must have an integer value."
                        ));
                    }
                    omut(&mut node, "control").insert("rows".into(), json!(r));
                }
            }
            "photo" => {
                if let Some(d) = sget(&row, "default").filter(|d| !d.is_empty()) {
                    if !d.contains("jr://images/") {
                        node.insert("default".into(), json!(format!("jr://images/{d}")));
                    }
                }
                params::validate_keys(&parameters, &["app", "max-pixels"], row_number)?;
                if let Some(mp) = parameters.get("max-pixels") {
                    if mp.trim().parse::<i64>().is_err() {
                        return err("Parameter max-pixels must have an integer value.");
                    }
                    omut(&mut node, "bind").insert("orx:max-pixels".into(), json!(mp));
                } else {
                    warnings.push(format!("[row : {row_number}] Use the max-pixels parameter to speed up submission sending and save storage space. Learn more: https://xlsform.org/#image"));
                }
                if let Some(app) = parameters.get("app") {
                    if appearance.is_none() || appearance.as_deref() == Some("annotate") {
                        match params::validate_android_package_name(app) {
                            None => {
                                omut(&mut node, "control").insert("intent".into(), json!(app));
                            }
                            Some(e) => return err(format!("[row : {row_number}] {e}")),
                        }
                    }
                }
            }
            "audio" => {
                params::validate_keys(&parameters, &["quality"], row_number)?;
                if let Some(q) = parameters.get("quality") {
                    if !matches!(q.as_str(), "voice-only" | "low" | "normal" | "external") {
                        return err("Invalid value for quality.");
                    }
                    omut(&mut node, "bind").insert("odk:quality".into(), json!(q));
                }
            }
            "background-audio" => {
                params::validate_keys(&parameters, &["quality"], row_number)?;
                let mut action = json!({"name": "odk:recordaudio", "event": "odk-instance-load"});
                if let Some(q) = parameters.get("quality") {
                    if !matches!(q.as_str(), "voice-only" | "low" | "normal") {
                        return err("Invalid value for quality.");
                    }
                    if let Some(a) = action.as_object_mut() {
                        a.insert("odk:quality".into(), json!(q));
                    }
                }
                push_actions(&mut node, vec![action]);
            }
            "geopoint" | "geoshape" | "geotrace" => {
                params::process_geo(&mut node, row_number, &parameters, &mut geo_references)?;
            }
            "start-geopoint" => {
                push_actions(
                    &mut node,
                    vec![json!({"name": "odk:setgeopoint", "event": "odk-instance-first-load"})],
                );
            }
            "background-geopoint" => {
                if sget(&row, "trigger").is_none()
                    && !matches!(row.get("trigger"), Some(Value::Array(a)) if !a.is_empty())
                {
                    return err(format!("[row : {row_number}] For 'background-geopoint' questions, the 'trigger' column must not be empty."));
                }
                if oget(&row, "bind")
                    .map(|b| b.contains_key("calculate"))
                    .unwrap_or(false)
                {
                    return err(format!("[row : {row_number}] For 'background-geopoint' questions, the 'calculation' column must be empty."));
                }
            }
            _ => {}
        }
        if let Some(f) = stack.last_mut() {
            f.children.push(Value::Object(node));
        }
    }

    if or_other_seen && (!survey_default_only || !choices_default_only) {
        warnings.push("This form uses or_other and translations, which is not recommended. An untranslated input question label and choice label is generated for 'other'. Learn more: https://xlsform.org/en/#specify-other).".into());
    }
    for (target, row) in &trigger_references {
        if !question_names.contains(target) {
            return err(msg::pyref_003("survey", Some(*row), "trigger", target));
        }
    }
    for (target, row) in &geo_references {
        if secondary_instances.contains(target)
            || choices.contains_key(target)
            || entities.has_dataset(target)
        {
            continue;
        }
        if ex::is_ref_candidate(target) {
            match ex::parse_refs(target, Some(1), true) {
                Ok(refs) => {
                    if let Some(r) = refs.first() {
                        if repeat_names.contains(&r.name) {
                            continue;
                        }
                    }
                }
                Err(_) => return err(msg::survey_006(*row)),
            }
        }
        return err(msg::survey_006(*row));
    }
    if stack.len() > 1 {
        let f = stack
            .last()
            .ok_or_else(|| ConvertError::Form("internal stack".into()))?;
        return err(msg::survey_002(
            f.row_number,
            f.control_type.unwrap_or("group"),
            f.control_name.as_deref(),
        ));
    }
    let root = stack
        .pop()
        .ok_or_else(|| ConvertError::Form("internal stack".into()))?;
    let mut children = root.children;

    if sget(&settings, "omit_instanceID").and_then(yes_no) == Some(true) {
        if sget(&settings, "public_key").is_some() {
            return err("Cannot omit instanceID, it is required for encryption.");
        }
    } else {
        meta_children.push(json!({
            "name": "instanceID",
            "bind": {"readonly": "true()", "jr:preload": sget(&settings, "instance_id").unwrap_or("uid")},
            "type": "calculate",
        }));
        *element_names.entry("instanceID".into()).or_default() += 1;
    }
    if let Some(iname) = settings.get("instance_name") {
        meta_children.push(json!({
            "name": "instanceName",
            "bind": {"calculate": iname},
            "type": "calculate",
        }));
    }
    json_dict.insert("children".into(), Value::Array(Vec::new()));
    entities.apply(&mut json_dict, &mut children)?;
    if !meta_children.is_empty() {
        let existing = children.iter_mut().find(|c| {
            c.get("name").and_then(Value::as_str) == Some("meta")
                && c.get("type").and_then(Value::as_str) == Some("group")
        });
        match existing {
            Some(Value::Object(m)) => {
                if let Some(Value::Array(ch)) = m.get_mut("children") {
                    ch.extend(meta_children);
                }
            }
            _ => {
                children.push(json!({
                    "name": "meta",
                    "type": "group",
                    "control": {"bodyless": true},
                    "children": meta_children,
                }));
            }
        }
    }
    json_dict.insert("children".into(), Value::Array(children));

    validate_references_in_workbook(
        wb,
        &survey,
        &choices_headers,
        &choices_original,
        &element_names,
    )?;
    Ok(Parsed {
        json: json_dict,
        warnings,
    })
}

fn bind_type_for(question_type: &str) -> Option<&'static str> {
    // default_is_dynamic receives the XLSForm type name (e.g. "date").
    match question_type {
        "date" => Some("date"),
        "dateTime" => Some("dateTime"),
        "geopoint" => Some("geopoint"),
        "geotrace" => Some("geotrace"),
        "geoshape" => Some("geoshape"),
        _ => None,
    }
}

fn push_actions(row: &mut Obj, actions: Vec<Value>) {
    let e = row
        .entry("actions".to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = e {
        a.extend(actions);
    }
}

fn process_trigger(trigger: &str, row: usize) -> Result<Option<Vec<String>>, ConvertError> {
    if trigger.is_empty() {
        return Ok(None);
    }
    if !ex::is_ref_candidate(trigger) {
        return err(msg::pyref_001("survey", Some(row), "trigger"));
    }
    let mut out = Vec::new();
    for t in trigger.split(',') {
        match ex::parse_refs(t, Some(1), false) {
            Ok(refs) => out.extend(refs.into_iter().map(|r| r.name)),
            Err(RefError::Malformed) => return err(msg::pyref_001("survey", Some(row), "trigger")),
            Err(RefError::TooMany) => return err(msg::pyref_002("survey", Some(row), "trigger")),
        }
    }
    if out.is_empty() {
        Ok(None)
    } else {
        Ok(Some(out))
    }
}

fn validate_sheet_refs(
    sheet_name: &str,
    sheet: Option<&crate::reader::Sheet>,
    element_names: &HashMap<String, usize>,
    include: &dyn Fn(&str) -> bool,
) -> Result<(), ConvertError> {
    let Some(sheet) = sheet else { return Ok(()) };
    for (i, row) in sheet.rows.iter().enumerate() {
        let row_number = i + 2;
        for (column, value) in row {
            if !include(column) {
                continue;
            }
            let refs = match ex::parse_refs(value, None, false) {
                Ok(r) => r,
                Err(RefError::Malformed) => {
                    return err(msg::pyref_001(sheet_name, Some(row_number), column))
                }
                Err(RefError::TooMany) => {
                    return err(msg::pyref_002(sheet_name, Some(row_number), column))
                }
            };
            for r in refs {
                match element_names.get(&r.name) {
                    None => {
                        return err(msg::pyref_003(
                            sheet_name,
                            Some(row_number),
                            column,
                            &r.name,
                        ))
                    }
                    Some(1) => {}
                    Some(_) => {
                        return err(msg::pyref_004(
                            sheet_name,
                            Some(row_number),
                            column,
                            &r.name,
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

fn validate_references_in_workbook(
    wb: &Workbook,
    survey: &headers::Dealiased,
    choices_headers: &[Vec<String>],
    choices_original: &[String],
    element_names: &HashMap<String, usize>,
) -> Result<(), ConvertError> {
    validate_sheet_refs(
        "settings",
        wb.sheets.get("settings"),
        element_names,
        &|_| true,
    )?;
    validate_sheet_refs("entities", wb.sheets.get("entities"), element_names, &|c| {
        !matches!(c, "list name" | "list_name" | "repeat")
    })?;
    let ignore: HashSet<&str> = survey
        .headers
        .iter()
        .zip(survey.original.iter())
        .filter(|(t, _)| matches!(t[0].as_str(), "type" | "name" | "trigger"))
        .map(|(_, o)| o.as_str())
        .collect();
    validate_sheet_refs("survey", wb.sheets.get("survey"), element_names, &|c| {
        !ignore.contains(c)
    })?;
    let limit: HashSet<&str> = choices_headers
        .iter()
        .zip(choices_original.iter())
        .filter(|(t, _)| {
            matches!(
                t[0].as_str(),
                "label" | "image" | "big-image" | "audio" | "video" | "media"
            )
        })
        .map(|(_, o)| o.as_str())
        .collect();
    validate_sheet_refs("choices", wb.sheets.get("choices"), element_names, &|c| {
        limit.contains(c)
    })?;
    Ok(())
}

/// Whether the survey definition's `choices` holds the list `name`.
fn survey_has_list(json_dict: &Obj, name: &str) -> bool {
    matches!(json_dict.get("choices"), Some(Value::Object(cm)) if cm.contains_key(name))
}

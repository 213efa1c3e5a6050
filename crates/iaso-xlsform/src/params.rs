//! The `parameters` column: parsing and per-question-type processing.

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::error::{err, msg, ConvertError};
use crate::xls2json::{omut, sget, Obj};

pub type Params = IndexMap<String, String>;

/// Parse `key1=value1 key2=value2` (separators: whitespace, `,`, `;`).
pub fn parse(raw: &str, row: usize) -> Result<Params, ConvertError> {
    let mut out = Params::new();
    if raw.trim().is_empty() {
        return Ok(out);
    }
    let is_sep = |c: char| c.is_whitespace() || c == ',' || c == ';';
    // Tokenize into TOKEN and '='.
    let mut toks: Vec<Option<String>> = Vec::new(); // None = '='
    let mut cur = String::new();
    for c in raw.chars() {
        if c == '=' {
            if !cur.is_empty() {
                toks.push(Some(std::mem::take(&mut cur)));
            }
            toks.push(None);
        } else if is_sep(c) {
            if !cur.is_empty() {
                toks.push(Some(std::mem::take(&mut cur)));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        toks.push(Some(cur));
    }
    if toks.len() % 3 != 0 {
        return err(msg::survey_004(row));
    }
    for chunk in toks.chunks(3) {
        match (&chunk[0], &chunk[1], &chunk[2]) {
            (Some(k), None, Some(v)) => {
                let key = k.trim().to_lowercase();
                let mut val = v.trim().to_string();
                if key != "label" && key != "value" {
                    val = val.to_lowercase();
                }
                out.insert(key, val);
            }
            _ => return err(msg::survey_004(row)),
        }
    }
    Ok(out)
}

pub fn validate_keys(p: &Params, accepted: &[&str], row: usize) -> Result<(), ConvertError> {
    let mut extras: Vec<&str> = p
        .keys()
        .map(String::as_str)
        .filter(|k| !accepted.contains(k))
        .collect();
    if extras.is_empty() {
        return Ok(());
    }
    extras.sort();
    let mut acc: Vec<&str> = accepted.to_vec();
    acc.sort();
    err(msg::survey_005(row, &acc.join(", "), &extras.join(", ")))
}

pub fn process_audit(row: &mut Obj, p: &Params, row_number: usize) -> Result<(), ConvertError> {
    validate_keys(
        p,
        &[
            "identify-user",
            "location-max-age",
            "location-min-interval",
            "location-priority",
            "track-changes",
            "track-changes-reasons",
        ],
        row_number,
    )?;
    if let Some(v) = p.get("track-changes") {
        if v != "true" && v != "false" {
            return err(format!(
                "track-changes must be set to true or false: '{v}' is an invalid value."
            ));
        }
        omut(row, "bind").insert("odk:track-changes".into(), json!(v));
    }
    if let Some(v) = p.get("track-changes-reasons") {
        if v != "on-form-edit" {
            return err("track-changes-reasons must be set to on-form-edit");
        }
        omut(row, "bind").insert("odk:track-changes-reasons".into(), json!("on-form-edit"));
    }
    if let Some(v) = p.get("identify-user") {
        if v != "true" && v != "false" {
            return err(format!(
                "identify-user must be set to true or false: '{v}' is an invalid value."
            ));
        }
        omut(row, "bind").insert("odk:identify-user".into(), json!(v));
    }
    let keys = [
        "location-priority",
        "location-min-interval",
        "location-max-age",
    ];
    if keys.iter().any(|k| p.contains_key(*k)) {
        if !keys.iter().all(|k| p.contains_key(*k)) {
            return err("To include location information in the audit, 'location-priority', 'location-min-interval', and 'location-max-age' are required parameters.");
        }
        let prio = &p["location-priority"];
        if !matches!(
            prio.as_str(),
            "no-power" | "low-power" | "balanced" | "high-accuracy"
        ) {
            return err(format!("Parameter location-priority must be set to no-power, low-power, balanced, or high-accuracy:'{prio}' is an invalid value"));
        }
        let Ok(min_i) = p["location-min-interval"].parse::<i64>() else {
            return err("Parameter location-min-interval must have an integer value.");
        };
        if min_i < 0 {
            return err("Parameter location-min-interval must be greater than or equal to zero.");
        }
        let Ok(max_a) = p["location-max-age"].parse::<i64>() else {
            return err("Parameter location-max-age must have an integer value.");
        };
        if max_a < 0 {
            return err("Parameter location-max-age must be greater  than or equal to zero.");
        }
        if max_a < min_i {
            return err(
                "Parameter location-max-age must be greater than or equal to location-min-interval.",
            );
        }
        let b = omut(row, "bind");
        b.insert("odk:location-max-age".into(), json!(p["location-max-age"]));
        b.insert(
            "odk:location-min-interval".into(),
            json!(p["location-min-interval"]),
        );
        b.insert(
            "odk:location-priority".into(),
            json!(p["location-priority"]),
        );
    }
    Ok(())
}

pub fn validate_android_package_name(name: &str) -> Option<String> {
    let prefix = "Parameter 'app' has an invalid Android package name - ";
    if name.trim().is_empty() {
        return Some(format!("{prefix}package name is missing."));
    }
    if !name.contains('.') {
        return Some(format!(
            "{prefix}the package name must have at least one '.' separator."
        ));
    }
    if name.ends_with('.') {
        return Some(format!(
            "{prefix}the package name cannot end in a '.' separator."
        ));
    }
    let segs: Vec<&str> = name.split('.').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Some(format!(
            "{prefix}package segments must be of non-zero length."
        ));
    }
    if segs.iter().any(|s| s.starts_with('_')) {
        return Some(format!(
            "{prefix}the character '_' cannot be the first character in a package name segment."
        ));
    }
    if segs.iter().any(|s| {
        s.chars()
            .next()
            .map(|c| c.is_ascii_digit())
            .unwrap_or(false)
    }) {
        return Some(format!(
            "{prefix}a digit cannot be the first character in a package name segment."
        ));
    }
    if segs.iter().any(|s| {
        s.chars()
            .any(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
    }) {
        return Some(format!("{prefix}the package name can only include letters (a-z, A-Z), numbers (0-9), dots (.), and underscores (_)."));
    }
    None
}

fn is_float(s: &str) -> bool {
    let t = s.trim();
    t.parse::<f64>().is_ok()
        || matches!(
            t.to_lowercase().as_str(),
            "inf" | "-inf" | "+inf" | "nan" | "infinity" | "-infinity"
        )
}

pub fn process_geo(
    row: &mut Obj,
    row_number: usize,
    p: &Params,
    geo_refs: &mut Vec<(String, usize)>,
) -> Result<(), ConvertError> {
    omut(row, "control");
    let qtype = sget(row, "type").unwrap_or("").to_string();
    let mock_key = "allow-mock-accuracy";
    if qtype == "geopoint" {
        validate_keys(
            p,
            &[
                "allow-mock-accuracy",
                "capture-accuracy",
                "reference-geometry",
                "warning-accuracy",
            ],
            row_number,
        )?;
        if let Some(v) = p.get("capture-accuracy") {
            if !is_float(v) {
                return err(msg::survey_007(row_number));
            }
            omut(row, "control").insert("accuracyThreshold".into(), json!(v));
        }
        if let Some(v) = p.get("warning-accuracy") {
            if !is_float(v) {
                return err(msg::survey_008(row_number));
            }
            omut(row, "control").insert("unacceptableAccuracyThreshold".into(), json!(v));
        }
    } else {
        validate_keys(
            p,
            &["allow-mock-accuracy", "incremental", "reference-geometry"],
            row_number,
        )?;
        if let Some(v) = p.get("incremental") {
            if crate::xls2json::yes_no(v) != Some(true) {
                return err(format!("[row : {row_number}] On the 'survey' sheet, the 'parameters' value is invalid. For geoshape and geotrace questions, the 'incremental' parameter may either be 'true' or not included."));
            }
            omut(row, "control").insert("incremental".into(), json!("true"));
        }
    }
    if let Some(v) = p.get(mock_key) {
        if v != "true" && v != "false" {
            return err(msg::survey_009(row_number));
        }
        omut(row, "bind").insert("odk:allow-mock-accuracy".into(), json!(v));
    }
    if let Some(v) = p.get("reference-geometry") {
        geo_refs.push((v.clone(), row_number));
        row.insert("itemset".into(), json!(v));
    }
    Ok(())
}

/// Exact decimal: mantissa * 10^-scale.
#[derive(Debug, Clone, Copy)]
struct Dec {
    m: i128,
    s: u32,
}

impl Dec {
    fn parse(v: &str) -> Option<Dec> {
        let t = v.trim();
        let (mant, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
            None => (t, 0),
        };
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, mant.strip_prefix('+').unwrap_or(mant)),
        };
        let (ip, fp) = match mant.split_once('.') {
            Some((a, b)) => (a, b),
            None => (mant, ""),
        };
        if ip.is_empty() && fp.is_empty() {
            return None;
        }
        if !ip.chars().all(|c| c.is_ascii_digit()) || !fp.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        if ip.len() + fp.len() > 30 {
            return None;
        }
        let digits = format!("{ip}{fp}");
        let mut m: i128 = digits.parse().unwrap_or(0);
        let mut scale: i32 = fp.len() as i32 - exp;
        while scale < 0 {
            m = m.checked_mul(10)?;
            scale += 1;
        }
        if scale > 30 {
            return None;
        }
        if neg {
            m = -m;
        }
        Some(Dec { m, s: scale as u32 })
    }
    fn align(a: Dec, b: Dec) -> (i128, i128) {
        let s = a.s.max(b.s);
        let am = a.m * 10i128.pow(s - a.s);
        let bm = b.m * 10i128.pow(s - b.s);
        (am, bm)
    }
    fn cmp(self, o: Dec) -> std::cmp::Ordering {
        let (a, b) = Dec::align(self, o);
        a.cmp(&b)
    }
    fn sub(self, o: Dec) -> Dec {
        let s = self.s.max(o.s);
        let (a, b) = Dec::align(self, o);
        Dec { m: a - b, s }
    }
    fn is_zero(self) -> bool {
        self.m == 0
    }
    fn abs(self) -> Dec {
        Dec {
            m: self.m.abs(),
            s: self.s,
        }
    }
    /// self % o == 0
    fn is_multiple_of(self, o: Dec) -> bool {
        let (a, b) = Dec::align(self, o);
        b != 0 && a % b == 0
    }
    fn is_integral(self) -> bool {
        self.m % 10i128.pow(self.s) == 0
    }
}

pub fn process_range(
    row: &mut Obj,
    row_number: usize,
    mut p: Params,
    appearance: Option<&str>,
    choices: &IndexMap<String, Vec<Obj>>,
) -> Result<(), ConvertError> {
    validate_keys(
        &p,
        &[
            "end",
            "placeholder",
            "start",
            "step",
            "tick_interval",
            "tick_labelset",
        ],
        row_number,
    )?;
    let base = format!("[row : {row_number}] On the 'survey' sheet, the 'parameters' value is invalid. For the 'range' question type, ");
    if let Some(app) = appearance.filter(|a| !a.is_empty()) {
        if !app.contains("vertical")
            && !app.contains("no-ticks")
            && ["tick_interval", "placeholder", "tick_labelset"]
                .iter()
                .any(|k| p.contains_key(*k))
        {
            return err(format!("{base}the parameters 'tick_interval', 'placeholder', and 'tick_labelset' are only supported for the appearances 'vertical', 'no-ticks', 'vertical no-ticks', and the default (empty) horizontal."));
        }
    }
    for (k, v) in [("start", "1"), ("end", "10"), ("step", "1")] {
        if !p.contains_key(k) {
            p.insert(k.to_string(), v.to_string());
        }
    }
    let num = |name: &str, p: &Params| -> Result<Option<Dec>, ConvertError> {
        match p.get(name) {
            None => Ok(None),
            Some(v) => match Dec::parse(v) {
                Some(d) => Ok(Some(d)),
                None => err(format!("{base}the parameter '{name}' must be a number.")),
            },
        }
    };
    let start = num("start", &p)?.unwrap_or(Dec { m: 1, s: 0 });
    let end = num("end", &p)?.unwrap_or(Dec { m: 10, s: 0 });
    let step = num("step", &p)?.unwrap_or(Dec { m: 1, s: 0 });
    let tick_interval = num("tick_interval", &p)?;
    let placeholder = num("placeholder", &p)?;
    let tick_labelset = p.get("tick_labelset").cloned();
    let width = end.sub(start).abs();
    if step.is_zero() {
        return err(format!(
            "{base}the parameter 'step' must not be '0' (zero)."
        ));
    }
    if step.cmp(width).is_gt() {
        return err(format!("{base}the parameter 'step' must not be larger than the range (the difference between 'start' and 'end')."));
    }
    let (lo, hi) = if start.cmp(end).is_le() {
        (start, end)
    } else {
        (end, start)
    };
    if let Some(ti) = tick_interval {
        if ti.is_zero() {
            return err(format!(
                "{base}the parameter 'tick_interval' must not be '0' (zero)."
            ));
        }
        if ti.cmp(width).is_gt() {
            return err(format!("{base}the parameter 'tick_interval' must not be larger than the range (the difference between 'start' and 'end')."));
        }
        if !ti.is_multiple_of(step) {
            return err(format!(
                "{base}the parameter 'tick_interval' must be a multiple of 'step'."
            ));
        }
        if let Some(v) = p.shift_remove("tick_interval") {
            p.insert("odk:tick-interval".into(), v);
        }
    }
    if let Some(ph) = placeholder {
        if !ph.sub(start).is_multiple_of(step) {
            return err(format!(
                "{base}the parameter 'placeholder' must be a multiple of 'step'."
            ));
        }
        if ph.cmp(lo).is_lt() || ph.cmp(hi).is_gt() {
            return err(format!("{base}the parameter 'placeholder' must be between the 'start' and 'end' values, inclusive)."));
        }
        if let Some(v) = p.shift_remove("placeholder") {
            p.insert("odk:placeholder".into(), v);
        }
    }
    if let Some(tl) = tick_labelset.as_deref().filter(|t| !t.is_empty()) {
        let Some(list) = choices.get(tl) else {
            return err(format!("{base}the parameter 'tick_labelset' must be a choice list name from the 'list_name' column on the choices sheet."));
        };
        let no_ticks = appearance.map(|a| a.contains("no-ticks")).unwrap_or(false);
        let mut labels: Vec<Dec> = Vec::new();
        for item in list {
            let Some(v) = sget(item, "name").and_then(Dec::parse) else {
                return err(format!("[row : {row_number}] On the 'survey' sheet, the 'parameters' value is invalid. For the 'range' question type, the parameter 'unknown' choice values must all be numbers."));
            };
            if v.cmp(lo).is_lt() || v.cmp(hi).is_gt() {
                return err(format!("{base}the parameter 'tick_labelset' choices must be between the 'start' and 'end' values, inclusive."));
            }
            if let Some(ti) = tick_interval {
                if !v.sub(start).is_multiple_of(ti) {
                    return err(format!("{base}the parameter 'tick_labelset' choices' values must be equal to the start of the range plus a multiple of 'tick_interval'."));
                }
            } else if !v.sub(start).is_multiple_of(step) {
                return err(format!("{base}the parameter 'tick_labelset' choices' values must be equal to the start of the range plus a multiple of 'step'."));
            }
            if no_ticks && !labels.iter().any(|l| l.cmp(v).is_eq()) {
                labels.push(v);
            }
        }
        if no_ticks {
            if labels.len() > 2 {
                return err(format!("{base}the parameter 'tick_labelset' choice list must have only 2 items when the 'appearance' is 'no-ticks'."));
            }
            let has = |d: Dec| labels.iter().any(|l| l.cmp(d).is_eq());
            if !(has(start)
                && has(end)
                && labels.len() == if start.cmp(end).is_eq() { 1 } else { 2 })
            {
                return err(format!("{base}the parameter 'tick_labelset' choice list values may onlymatch the range 'start' and 'end' values when the 'appearance' is 'no-ticks'."));
            }
        }
        p.shift_remove("tick_labelset");
    }
    let any_frac = [
        Some(start),
        Some(end),
        Some(step),
        tick_interval,
        placeholder,
    ]
    .iter()
    .flatten()
    .any(|d| !d.is_integral());
    if any_frac {
        omut(row, "bind").insert("type".into(), json!("decimal"));
    }
    {
        let c = omut(row, "control");
        for (k, v) in &p {
            c.insert(k.clone(), json!(v));
        }
    }
    let pobj: Obj = p
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    row.insert("parameters".into(), Value::Object(pobj));
    if let Some(tl) = tick_labelset {
        row.insert("itemset".into(), json!(tl));
    }
    Ok(())
}

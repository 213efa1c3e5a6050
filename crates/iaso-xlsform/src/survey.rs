//! The survey model built from the parsed definition, and XForm generation.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{err, ConvertError};
use crate::expression::{self as ex, RefMatch};
use crate::qtd;
use crate::xls2json::Obj;
use crate::xml::{escape_attr, escape_text_string, parse_fragment, Elem, XNode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Survey,
    Group,
    Repeat,
    Question,
    External,
    Attribute,
    Entity,
    Label,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QClass {
    Plain,
    Input,
    Select,
    Range,
    Geo,
    Trigger,
    Upload,
    Osm,
}

#[derive(Debug, Clone)]
pub struct El {
    pub kind: Kind,
    pub class: QClass,
    pub name: String,
    pub ty: String,
    pub label: Option<Value>,
    pub hint: Option<Value>,
    pub guidance_hint: Option<Value>,
    pub media: Option<Obj>,
    pub bind: Option<Obj>,
    pub control: Option<Obj>,
    pub instance: Option<Obj>,
    pub default: Option<String>,
    pub dynamic_default: bool,
    pub actions: Vec<Obj>,
    pub trigger: Vec<String>,
    pub choice_filter: Option<String>,
    pub parameters: Obj,
    pub itemset: Option<String>,
    pub list_name: Option<String>,
    pub query: Option<String>,
    pub value: Option<String>,
    pub children: Vec<usize>,
    pub parent: Option<usize>,
    pub xpath: String,
    pub extra: Obj,
}

impl El {
    fn new(kind: Kind, name: &str) -> El {
        El {
            kind,
            class: QClass::Plain,
            name: name.to_string(),
            ty: String::new(),
            label: None,
            hint: None,
            guidance_hint: None,
            media: None,
            bind: None,
            control: None,
            instance: None,
            default: None,
            dynamic_default: false,
            actions: Vec::new(),
            trigger: Vec::new(),
            choice_filter: None,
            parameters: Obj::new(),
            itemset: None,
            list_name: None,
            query: None,
            value: None,
            children: Vec::new(),
            parent: None,
            xpath: String::new(),
            extra: Obj::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Option_ {
    pub name: String,
    pub label: Option<Value>,
    pub media: Option<Obj>,
    pub sms_option: Option<String>,
    pub extra: Vec<(String, Value)>,
    pub itext_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Itemset {
    pub name: String,
    pub options: Vec<Option_>,
    pub requires_itext: bool,
    pub used_by_search: bool,
}

fn truthy(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

fn vstr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        other => other.to_string(),
    }
}

impl Itemset {
    fn new(name: &str, choices: &[Value]) -> Itemset {
        let mut requires_itext = false;
        let mut options = Vec::new();
        for c in choices {
            let Some(m) = c.as_object() else { continue };
            let mut o = Option_ {
                name: m.get("name").map(vstr).unwrap_or_default(),
                label: m.get("label").cloned(),
                media: m.get("media").and_then(Value::as_object).cloned(),
                sms_option: m
                    .get("sms_option")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                extra: Vec::new(),
                itext_ref: None,
            };
            for (k, v) in m {
                if !matches!(k.as_str(), "name" | "label" | "media" | "sms_option") {
                    o.extra.push((k.clone(), v.clone()));
                }
            }
            if !requires_itext {
                if o.media.as_ref().map(|m| !m.is_empty()).unwrap_or(false) {
                    requires_itext = true;
                } else {
                    match &o.label {
                        Some(Value::Object(_)) => requires_itext = true,
                        Some(Value::String(s)) if ex::has_ref(s) => requires_itext = true,
                        _ => {}
                    }
                }
            }
            options.push(o);
        }
        Itemset {
            name: name.to_string(),
            options,
            requires_itext,
            used_by_search: false,
        }
    }
}

pub struct Survey {
    pub els: Vec<El>,
    pub settings: Obj,
    pub choices: IndexMap<String, Itemset>,
    pub default_language: String,
    pub setvalues_by_trigger: IndexMap<String, Vec<(String, String)>>,
    pub setgeopoint_by_trigger: IndexMap<String, Vec<(String, String)>>,
    xpaths: HashMap<String, Option<usize>>,
    pub entity_version: Option<String>,
    /// Languages of the itext translations, in output order (set by `to_xml`).
    pub translation_languages: Vec<String>,
}

fn obj_of(v: Option<&Value>) -> Option<Obj> {
    v.and_then(Value::as_object).cloned()
}

impl Survey {
    pub fn build(json: &Obj) -> Result<Survey, ConvertError> {
        let mut s = Survey {
            els: Vec::new(),
            // Settings only: the element tree and choice lists are read below.
            settings: json
                .iter()
                .filter(|(k, _)| *k != "children" && *k != "choices")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            choices: IndexMap::new(),
            default_language: json
                .get("default_language")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string(),
            setvalues_by_trigger: IndexMap::new(),
            setgeopoint_by_trigger: IndexMap::new(),
            xpaths: HashMap::new(),
            entity_version: json
                .get("entity_version")
                .and_then(Value::as_str)
                .map(str::to_string),
            translation_languages: Vec::new(),
        };
        if let Some(Value::Object(cm)) = json.get("choices") {
            for (k, v) in cm {
                if let Value::Array(a) = v {
                    s.choices.insert(k.clone(), Itemset::new(k, a));
                }
            }
        }
        let name = json.get("name").and_then(Value::as_str).unwrap_or("data");
        let mut root = El::new(Kind::Survey, name);
        root.ty = "survey".into();
        s.els.push(root);
        if let Some(Value::Array(children)) = json.get("children") {
            for c in children {
                if let Value::Object(m) = c {
                    s.add_from_dict(m, 0)?;
                }
            }
        }
        s.compute_xpaths();
        Ok(s)
    }

    fn add_from_dict(&mut self, d: &Obj, parent: usize) -> Result<(), ConvertError> {
        let ty = d
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = d.get("name").map(vstr).unwrap_or_default();
        match ty.as_str() {
            "group" | "repeat" => {
                let mut el = El::new(
                    if ty == "group" {
                        Kind::Group
                    } else {
                        Kind::Repeat
                    },
                    &name,
                );
                el.ty = ty.clone();
                el.label = d.get("label").cloned();
                el.hint = d.get("hint").cloned();
                el.media = obj_of(d.get("media"));
                el.bind = obj_of(d.get("bind"));
                el.control = obj_of(d.get("control"));
                el.instance = obj_of(d.get("instance"));
                el.parent = Some(parent);
                fix_label_appearance(&mut el);
                let idx = self.els.len();
                self.els.push(el);
                self.els[parent].children.push(idx);
                if let Some(Value::Array(children)) = d.get("children") {
                    for c in children {
                        if let Value::Object(m) = c {
                            self.add_from_dict(m, idx)?;
                        }
                    }
                }
            }
            "loop" => {
                // Loop over choices: a group per column, each with the children templated.
                let mut el = El::new(Kind::Group, &name);
                el.ty = "group".into();
                el.label = d.get("label").cloned();
                el.control = obj_of(d.get("control"));
                el.bind = obj_of(d.get("bind"));
                el.parent = Some(parent);
                let idx = self.els.len();
                self.els.push(el);
                self.els[parent].children.push(idx);
                let columns = d
                    .get("columns")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let children = d
                    .get("children")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for col in columns {
                    let Some(colm) = col.as_object() else {
                        continue;
                    };
                    let cname = colm.get("name").map(vstr).unwrap_or_default();
                    if cname == "none" {
                        continue;
                    }
                    let mut g = El::new(Kind::Group, &cname);
                    g.ty = "group".into();
                    g.label = colm.get("label").cloned();
                    g.parent = Some(idx);
                    let gidx = self.els.len();
                    self.els.push(g);
                    self.els[idx].children.push(gidx);
                    for ch in &children {
                        if let Some(chm) = ch.as_object() {
                            let sub = loop_substitute(chm, colm);
                            self.add_from_dict(&sub, gidx)?;
                        }
                    }
                }
            }
            "csv-external" | "xml-external" => {
                let mut el = El::new(Kind::External, &name);
                el.ty = ty.clone();
                el.parent = Some(parent);
                let idx = self.els.len();
                self.els.push(el);
                self.els[parent].children.push(idx);
            }
            "entity" => {
                let mut el = El::new(Kind::Entity, &name);
                el.ty = "entity".into();
                el.parent = Some(parent);
                let idx = self.els.len();
                self.els.push(el);
                self.els[parent].children.push(idx);
                if let Some(Value::Array(children)) = d.get("children") {
                    for c in children {
                        let Some(m) = c.as_object() else { continue };
                        let cty = m.get("type").and_then(Value::as_str).unwrap_or("");
                        let cname = m.get("name").map(vstr).unwrap_or_default();
                        let mut ce = El::new(
                            if cty == "label" {
                                Kind::Label
                            } else {
                                Kind::Attribute
                            },
                            &cname,
                        );
                        ce.ty = cty.to_string();
                        ce.value = m.get("value").and_then(Value::as_str).map(str::to_string);
                        ce.bind = obj_of(m.get("bind"));
                        if let Some(Value::Array(a)) = m.get("actions") {
                            ce.actions = a.iter().filter_map(|x| x.as_object().cloned()).collect();
                        }
                        ce.parent = Some(idx);
                        let cidx = self.els.len();
                        self.els.push(ce);
                        self.els[idx].children.push(cidx);
                    }
                }
            }
            "__attribute" => {
                let mut el = El::new(Kind::Attribute, &name);
                el.ty = "attribute".into();
                el.value = d.get("value").and_then(Value::as_str).map(str::to_string);
                el.bind = obj_of(d.get("bind"));
                if let Some(Value::Array(a)) = d.get("actions") {
                    el.actions = a.iter().filter_map(|x| x.as_object().cloned()).collect();
                }
                el.parent = Some(parent);
                let idx = self.els.len();
                self.els.push(el);
                self.els[parent].children.push(idx);
            }
            _ => {
                let el = self.make_question(d, &ty, &name, parent)?;
                // Triggers.
                if !el.trigger.is_empty() {
                    let value = el
                        .bind
                        .as_ref()
                        .and_then(|b| b.get("calculate"))
                        .map(vstr)
                        .unwrap_or_default();
                    for t in &el.trigger {
                        let map = if ty == "background-geopoint" {
                            &mut self.setgeopoint_by_trigger
                        } else {
                            &mut self.setvalues_by_trigger
                        };
                        map.entry(t.clone())
                            .or_default()
                            .push((name.clone(), value.clone()));
                    }
                }
                let idx = self.els.len();
                self.els.push(el);
                self.els[parent].children.push(idx);
                if let Some(Value::Array(children)) = d.get("children") {
                    // entity/meta-like nested dicts under questions are not expected
                    let _ = children;
                }
            }
        }
        Ok(())
    }

    fn make_question(
        &mut self,
        d: &Obj,
        ty: &str,
        name: &str,
        parent: usize,
    ) -> Result<El, ConvertError> {
        let Some(q) = qtd::lookup(ty) else {
            return err(format!("Unknown question type '{ty}'."));
        };
        let mut el = El::new(Kind::Question, name);
        el.ty = ty.to_string();
        el.parent = Some(parent);
        let tag = q
            .control
            .iter()
            .find(|(k, _)| *k == "tag")
            .map(|(_, v)| *v)
            .unwrap_or("");
        let mediatype = q
            .control
            .iter()
            .find(|(k, _)| *k == "mediatype")
            .map(|(_, v)| *v);
        el.class = match ty {
            "geopoint" | "geoshape" | "geotrace" => QClass::Geo,
            _ => match tag {
                "input" => QClass::Input,
                "select" | "select1" | "odk:rank" => QClass::Select,
                "range" => QClass::Range,
                "trigger" => QClass::Trigger,
                "upload" if mediatype == Some("osm/*") => QClass::Osm,
                "upload" => QClass::Upload,
                _ => QClass::Plain,
            },
        };
        if !q.control.is_empty() {
            let mut c: Obj = q
                .control
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            if let Some(Value::Object(rc)) = d.get("control") {
                for (k, v) in rc {
                    c.insert(k.clone(), v.clone());
                }
            }
            el.control = Some(c);
        } else {
            el.control = obj_of(d.get("control"));
        }
        if !q.bind.is_empty() {
            let mut b: Obj = q
                .bind
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            if let Some(Value::Object(rb)) = d.get("bind") {
                for (k, v) in rb {
                    b.insert(k.clone(), v.clone());
                }
            }
            el.bind = Some(b);
        } else {
            el.bind = obj_of(d.get("bind"));
        }
        el.label = d.get("label").cloned();
        el.hint = d
            .get("hint")
            .cloned()
            .or_else(|| q.hint.map(|h| Value::String(h.into())));
        el.guidance_hint = d.get("guidance_hint").cloned();
        el.media = obj_of(d.get("media"));
        el.instance = obj_of(d.get("instance"));
        el.default = d.get("default").map(vstr);
        el.dynamic_default = d
            .get("_dynamic_default")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(Value::Array(a)) = d.get("actions") {
            el.actions = a.iter().filter_map(|x| x.as_object().cloned()).collect();
        }
        if let Some(Value::Array(t)) = d.get("trigger") {
            el.trigger = t
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
        }
        el.choice_filter = d.get("choice_filter").map(vstr).filter(|s| !s.is_empty());
        el.parameters = obj_of(d.get("parameters")).unwrap_or_default();
        el.itemset = d.get("itemset").and_then(Value::as_str).map(str::to_string);
        el.list_name = d
            .get("list_name")
            .and_then(Value::as_str)
            .map(str::to_string);
        el.query = d.get("query").and_then(Value::as_str).map(str::to_string);
        if el.class == QClass::Select {
            if let (None, Some(Value::Array(cl))) = (&el.itemset, d.get("choices")) {
                // inline choices without itemset
                let _ = cl;
            }
        }
        if let Some(Value::Array(cl)) = d.get("choices") {
            // Keep inline choices for itemsets that are not in the survey choices.
            if let Some(is) = &el.itemset {
                if !self.choices.contains_key(is) {
                    self.choices_inline_insert(is.clone(), cl);
                }
            }
        }
        for (k, v) in d {
            if k == "tags" || k == "sms_field" || k == "intent" {
                el.extra.insert(k.clone(), v.clone());
            }
        }
        fix_label_appearance(&mut el);
        Ok(el)
    }

    fn choices_inline_insert(&mut self, _name: String, _cl: &[Value]) {}

    fn compute_xpaths(&mut self) {
        for i in 0..self.els.len() {
            let mut parts = Vec::new();
            let mut cur = Some(i);
            while let Some(c) = cur {
                let e = &self.els[c];
                if e.kind == Kind::Attribute {
                    parts.push(format!("@{}", e.name));
                } else {
                    parts.push(e.name.clone());
                }
                cur = e.parent;
            }
            parts.reverse();
            self.els[i].xpath = format!("/{}", parts.join("/"));
        }
        let mut xp: HashMap<String, Option<usize>> = HashMap::new();
        for i in self.preorder() {
            let e = &self.els[i];
            if matches!(
                e.kind,
                Kind::Question | Kind::Group | Kind::Repeat | Kind::Survey
            ) {
                let n = e.name.clone();
                if xp.contains_key(&n) {
                    xp.insert(n, None);
                } else {
                    xp.insert(n, Some(i));
                }
            }
        }
        self.xpaths = xp;
    }

    pub fn preorder(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.els.len());
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            out.push(i);
            for &c in self.els[i].children.iter().rev() {
                stack.push(c);
            }
        }
        out
    }

    fn descendants(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            out.push(j);
            for &c in self.els[j].children.iter().rev() {
                stack.push(c);
            }
        }
        out
    }

    fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.els[i].parent;
        while let Some(c) = cur {
            out.push(c);
            cur = self.els[c].parent;
        }
        out
    }

    fn nearest_repeat(&self, i: usize) -> Option<usize> {
        self.ancestors(i)
            .into_iter()
            .find(|&a| self.els[a].kind == Kind::Repeat)
    }

    /// (steps from a, lca) considering only ancestors of the given kinds.
    fn lca(&self, a: usize, b: usize, repeat_only: bool) -> Option<(usize, usize)> {
        let ok = |k: Kind| {
            if repeat_only {
                k == Kind::Repeat
            } else {
                matches!(k, Kind::Repeat | Kind::Group)
            }
        };
        let mut a_anc: HashMap<usize, usize> = HashMap::new();
        let mut b_anc: HashMap<usize, usize> = HashMap::new();
        let mut ac = self.els[a].parent;
        let mut bc = self.els[b].parent;
        let (mut ad, mut bd) = (1usize, 1usize);
        while ac.is_some() || bc.is_some() {
            if let Some(x) = ac {
                a_anc.insert(x, ad);
                if ok(self.els[x].kind) && b_anc.contains_key(&x) {
                    return Some((ad, x));
                }
                ad += 1;
                ac = self.els[x].parent;
            }
            if let Some(y) = bc {
                b_anc.insert(y, bd);
                if ok(self.els[y].kind) && a_anc.contains_key(&y) {
                    return Some((a_anc[&y], y));
                }
                bd += 1;
                bc = self.els[y].parent;
            }
        }
        None
    }

    fn xpath_relative_to(&self, i: usize, rel: Option<usize>) -> String {
        let mut parts = Vec::new();
        let e = &self.els[i];
        parts.push(if e.kind == Kind::Attribute {
            format!("@{}", e.name)
        } else {
            e.name.clone()
        });
        let mut cur = e.parent;
        while let Some(c) = cur {
            if Some(c) == rel {
                break;
            }
            parts.push(self.els[c].name.clone());
            cur = self.els[c].parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    fn element_by_name(&self, name: &str, prefix: &str) -> Result<usize, ConvertError> {
        match self.xpaths.get(name) {
            None => err(format!(
                "{prefix} There is no survey element named '{name}'."
            )),
            Some(None) => err(format!(
                "{prefix} There are multiple survey elements named '{name}'."
            )),
            Some(Some(i)) => Ok(*i),
        }
    }

    fn var_repl(
        &self,
        m: &RefMatch,
        full: &str,
        context: Option<usize>,
        use_current: bool,
        reference_parent: bool,
    ) -> Result<String, ConvertError> {
        let name = &m.name;
        let intro = format!(
            "There has been a problem trying to replace {} with the XPath to the survey element named '{name}'.",
            &full[m.start..m.end]
        );
        let target = self.element_by_name(name, &intro)?;
        let target_xpath = &self.els[target].xpath;
        if let Some(ctx) = context {
            if !m.last_saved && self.is_return_relative(m, full, name) {
                let use_current = use_current || in_secondary_instance_predicate(m, full);
                if let Some((steps_src, lcar)) = self.lca(ctx, target, true) {
                    let (steps, mut ref_path) =
                        self.path_relative_to_lcar(target, ctx, steps_src, lcar, reference_parent);
                    if steps > 0 {
                        if !ref_path.ends_with(name.as_str()) {
                            ref_path = format!("/{name}");
                        }
                        let prefix = if use_current { " current()/" } else { " " };
                        let ups = vec![".."; steps].join("/");
                        return Ok(format!("{prefix}{ups}{ref_path} "));
                    }
                }
            }
        }
        let ls = if m.last_saved {
            "instance('__last-saved')"
        } else {
            ""
        };
        Ok(format!(" {ls}{target_xpath} "))
    }

    fn is_return_relative(&self, m: &RefMatch, full: &str, name: &str) -> bool {
        if !full.contains("indexed-repeat(") {
            return true;
        }
        let irs = find_indexed_repeats(full);
        let mut k = 0;
        while k < irs.len() {
            let (s, e) = irs[k];
            if m.end > e {
                if k + 1 < irs.len() {
                    k += 2;
                    continue;
                }
                return true;
            }
            if m.end < s || m.start > e {
                return true;
            }
            let group = &full[s..e];
            let args = match (group.find('('), group.rfind(')')) {
                (Some(a), Some(b)) if b > a => &group[a + 1..b],
                _ => "",
            };
            let needle = format!("${{{name}}}");
            let mut idx_found = None;
            for (idx, arg) in args.split(',').enumerate() {
                if arg.trim().contains(&needle) {
                    idx_found = Some(idx);
                }
            }
            return matches!(idx_found, Some(i) if ![0, 1, 3, 5].contains(&i));
        }
        false
    }

    fn path_relative_to_lcar(
        &self,
        target: usize,
        source: usize,
        lcar_steps_source: usize,
        lcar: usize,
        reference_parent: bool,
    ) -> (usize, String) {
        if reference_parent {
            let source_car = self.nearest_repeat(source);
            let target_car = self.nearest_repeat(target);
            let lcar_not_in_repeat = self.nearest_repeat(lcar).is_none();
            if Some(lcar) == target_car && (lcar_not_in_repeat || source_car != Some(lcar)) {
                return (
                    lcar_steps_source + 1,
                    self.xpath_relative_to(target, self.els[lcar].parent),
                );
            }
        }
        match self.lca(source, target, false) {
            Some((steps, lca)) => (steps, self.xpath_relative_to(target, Some(lca))),
            None => (0, self.els[target].xpath.clone()),
        }
    }

    pub fn insert_xpaths(
        &self,
        text: &str,
        ctx: Option<usize>,
        use_current: bool,
        reference_parent: bool,
    ) -> Result<String, ConvertError> {
        if !ex::is_ref_candidate(text) {
            return Ok(text.to_string());
        }
        ex::replace_refs(text, |m| {
            self.var_repl(m, text, ctx, use_current, reference_parent)
        })
    }

    /// Returns (text, changed) where changed text is XML markup with <output/> elements.
    fn insert_output_values(
        &self,
        text: &str,
        ctx: Option<usize>,
    ) -> Result<(String, bool), ConvertError> {
        if text == "-" {
            return Ok((text.to_string(), false));
        }
        let original = escape_text_string(text);
        let mut value = self.replace_with_output(&original, ctx)?;
        if ex::is_ref_candidate(&value) {
            let v2 = value.clone();
            value = ex::replace_refs(&v2, |m| {
                Ok(format!(
                    "<output value=\"{}\" />",
                    self.var_repl(m, &v2, ctx, false, false)?
                ))
            })?;
        }
        if value != original {
            Ok((value, true))
        } else {
            Ok((text.to_string(), false))
        }
    }

    fn replace_with_output(
        &self,
        xml_text: &str,
        ctx: Option<usize>,
    ) -> Result<String, ConvertError> {
        if xml_text.len() <= 9 || !xml_text.contains("instance(") {
            return Ok(xml_text.to_string());
        }
        let bounds = ex::instance_boundaries(xml_text);
        if bounds.is_empty() {
            return Ok(xml_text.to_string());
        }
        let mut out = xml_text.to_string();
        let mut offset: isize = 0;
        for (s, e) in bounds {
            let old = &xml_text[s..e];
            let new = ex::replace_refs(old, |m| self.var_repl(m, old, ctx, false, false))?;
            let mut n = String::from("<output value=\"");
            escape_attr(&new, &mut n);
            n.push_str("\"/>");
            let a = (s as isize + offset) as usize;
            let b = (e as isize + offset) as usize;
            out = format!("{}{}{}", &out[..a], n, &out[b..]);
            offset += n.len() as isize - old.len() as isize;
        }
        Ok(out)
    }

    fn text_node(
        &self,
        tag: &'static str,
        text: &str,
        ctx: Option<usize>,
    ) -> Result<Elem, ConvertError> {
        let (v, changed) = self.insert_output_values(text, ctx)?;
        let mut e = Elem::new(tag);
        if changed {
            e.children = parse_fragment(&v);
        } else {
            e.children.push(XNode::Text(v));
        }
        Ok(e)
    }
}

fn find_indexed_repeats(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = s[i..].find("indexed-repeat(") {
        let start = i + p;
        let after = start + "indexed-repeat(".len();
        match s[after..].find(')') {
            Some(q) if q > 0 => {
                let end = after + q + 1;
                out.push((start, end));
                i = end;
            }
            _ => {
                i = after;
            }
        }
    }
    out
}

fn in_secondary_instance_predicate(m: &RefMatch, full: &str) -> bool {
    // instance\([^)]+.+
    let has_instance = full.match_indices("instance(").any(|(i, _)| {
        let rest = &full[i + 9..];
        let n = rest.find(')').unwrap_or(rest.len());
        n >= 1 && rest.len() > n
    });
    if !has_instance {
        return false;
    }
    // \[([^]]+)\]
    let b = full.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'[' {
            if let Some(close) = full[i + 1..].find(']') {
                if close > 0 {
                    let end = i + 1 + close + 1;
                    if m.start >= i && m.end <= end {
                        return true;
                    }
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    false
}

fn fix_label_appearance(el: &mut El) {
    let is_label_app = el
        .control
        .as_ref()
        .and_then(|c| c.get("appearance"))
        .and_then(Value::as_str)
        == Some("label");
    if is_label_app && !truthy(&el.label) {
        el.label = Some(Value::String(" ".into()));
    }
}

pub(crate) fn loop_substitute(template: &Obj, column: &Obj) -> Obj {
    let name = column.get("name").map(vstr).unwrap_or_default();
    let sub = |s: &str, label: &str| -> String {
        s.replace("%(name)s", &name).replace("%(label)s", label)
    };
    let col_label = column.get("label");
    let mut out = Map::new();
    for (k, v) in template {
        match v {
            Value::String(s) => {
                let l = col_label.map(vstr).unwrap_or_default();
                out.insert(k.clone(), Value::String(sub(s, &l)));
            }
            Value::Object(m) => {
                let mut nm = Map::new();
                for (k2, v2) in m {
                    let l = match col_label {
                        Some(Value::Object(lm)) => lm.get(k2).map(vstr).unwrap_or_default(),
                        Some(other) => vstr(other),
                        None => String::new(),
                    };
                    match v2 {
                        Value::String(s2) => {
                            nm.insert(k2.clone(), Value::String(sub(s2, &l)));
                        }
                        other => {
                            nm.insert(k2.clone(), other.clone());
                        }
                    }
                }
                out.insert(k.clone(), Value::Object(nm));
            }
            other => {
                out.insert(k.clone(), other.clone());
            }
        }
    }
    out
}

impl Survey {
    pub fn text_node_impl(
        &self,
        tag: &'static str,
        text: &str,
        ctx: Option<usize>,
    ) -> Result<Elem, ConvertError> {
        self.text_node(tag, text, ctx)
    }
    pub fn nearest_repeat_pub(&self, i: usize) -> Option<usize> {
        self.nearest_repeat(i)
    }
    pub fn element_by_name_pub(&self, name: &str) -> Result<usize, ConvertError> {
        self.element_by_name(name, "")
    }
    pub fn descendants_pub(&self, i: usize) -> Vec<usize> {
        self.descendants(i)
    }
}

//! XForm output: model (itext, instances, binds) and body controls.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{err, msg, ConvertError};
use crate::expression as ex;
use crate::survey::{Itemset, Kind, QClass, Survey};
use crate::xls2json::{split_ext, EXTERNAL_INSTANCE_EXTENSIONS};
use crate::xml::Elem;

const NSMAP: &[(&str, &str)] = &[
    ("xmlns", "http://www.w3.org/2002/xforms"),
    ("xmlns:h", "http://www.w3.org/1999/xhtml"),
    ("xmlns:ev", "http://www.w3.org/2001/xml-events"),
    ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
    ("xmlns:jr", "http://openrosa.org/javarosa"),
    ("xmlns:orx", "http://openrosa.org/xforms"),
    ("xmlns:odk", "http://www.opendatakit.org/xforms"),
];

fn vs(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        o => {
            let mut out = String::new();
            py_repr(o, &mut out);
            out
        }
    }
}

/// Python's `repr()` of a JSON-like value (dicts and lists are rendered that way
/// when a nested column such as `body::esri::style` becomes an attribute).
fn py_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => py_repr_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr_str(k, out);
                out.push_str(": ");
                py_repr(x, out);
            }
            out.push('}');
        }
    }
}

fn py_repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
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

fn binding_conversion(v: &str) -> Option<&'static str> {
    match v {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" => Some("true()"),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" => Some("false()"),
        _ => None,
    }
}

struct InstanceInfo {
    kind: &'static str,
    context: String,
    name: String,
    src: Option<String>,
    node: Elem,
}

#[derive(Default)]
struct Tr {
    // lang -> path -> form -> value
    langs: IndexMap<String, IndexMap<String, IndexMap<String, TrV>>>,
}

#[derive(Clone)]
enum TrV {
    Text(String, Option<usize>),
    Plain(String),
}

impl Survey {
    fn s(&self, k: &str) -> Option<String> {
        self.settings.get(k).map(vs).filter(|s| !s.is_empty())
    }

    pub fn validate(&self) -> Result<(), ConvertError> {
        let mut repeat_names: HashSet<&str> = HashSet::new();
        let root_name = &self.els[0].name;
        for i in self.preorder() {
            let e = &self.els[i];
            if !matches!(e.kind, Kind::Attribute) && !ex::is_xml_tag(&e.name) {
                return err(msg::names_009("name"));
            }
            if matches!(
                e.kind,
                Kind::Survey | Kind::Group | Kind::Repeat | Kind::Entity
            ) {
                let mut seen: HashSet<&str> = HashSet::new();
                for &c in &e.children {
                    let n = self.els[c].name.as_str();
                    if n.is_empty() {
                        continue;
                    }
                    if !seen.insert(n) {
                        return err(msg::names_001(None, n));
                    }
                }
            }
            if e.kind == Kind::Repeat {
                if &e.name == root_name {
                    return err(msg::names_003(None, &e.name));
                }
                if !repeat_names.insert(e.name.as_str()) {
                    return err(msg::names_004(None, &e.name));
                }
            }
        }
        Ok(())
    }

    pub fn to_xml(&mut self) -> Result<String, ConvertError> {
        self.validate()?;
        let mut html = Elem::new("h:html");
        for (k, v) in self.nsmap() {
            html.attrs.push((k.into(), v));
        }
        let title = self.s("title").unwrap_or_else(|| self.els[0].name.clone());
        let model = self.xml_model()?;
        let head = Elem::new("h:head")
            .child(Elem::new("h:title").text(title))
            .child(model);
        let mut body = Elem::new("h:body");
        if let Some(style) = self.s("style") {
            body.set_attr("class", style);
        }
        let root_children = self.els[0].children.clone();
        for c in root_children {
            if let Some(n) = self.xml_control(c)? {
                body.push(n);
            }
        }
        html.push(head);
        html.push(body);
        let mut out = String::with_capacity(64 * 1024);
        out.push_str("<?xml version=\"1.0\"?>\n");
        html.write_pretty(&mut out);
        Ok(out)
    }

    fn nsmap(&self) -> Vec<(String, String)> {
        let mut ns: Vec<(String, String)> = NSMAP
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut extra = self.s("namespaces").unwrap_or_default();
        if self.entity_version.is_some() {
            extra.push_str(" entities=http://www.opendatakit.org/xforms/entities");
        }
        for part in extra.split_whitespace() {
            let kv: Vec<&str> = part.split('=').collect();
            if kv.len() == 2 && !kv[0].is_empty() {
                let key = format!("xmlns:{}", kv[0]);
                if !ns.iter().any(|(k, _)| *k == key) {
                    ns.push((key, kv[1].replace(['"', '\''], "")));
                }
            }
        }
        ns
    }

    fn xml_model(&mut self) -> Result<Elem, ConvertError> {
        let tr = self.setup_translations()?;
        self.translation_languages = tr.langs.keys().cloned().collect();
        let mut model = Elem::new("model").attr("odk:xforms-version", "1.0.0");
        if let Some(v) = &self.entity_version {
            model.set_attr("entities:entities-version", v.clone());
        }
        let submission_url = self.s("submission_url");
        let public_key = self.s("public_key");
        let auto_send = self.s("auto_send");
        let auto_delete = self.s("auto_delete");
        let client_editable = matches!(
            self.settings.get("client_editable"),
            Some(Value::Bool(true))
        );
        if submission_url.is_some()
            || public_key.is_some()
            || auto_send.is_some()
            || auto_delete.is_some()
            || client_editable
        {
            let mut sub = Elem::new("submission");
            if let Some(u) = submission_url {
                sub.set_attr("action", u);
                sub.set_attr("method", "post");
            }
            if let Some(k) = public_key {
                sub.set_attr("base64RsaPublicKey", k);
            }
            if let Some(a) = auto_send {
                sub.set_attr("orx:auto-send", a);
            }
            if let Some(a) = auto_delete {
                sub.set_attr("orx:auto-delete", a);
            }
            if client_editable {
                sub.set_attr("odk:client-editable", "true");
            }
            model.push(sub);
        }
        if !tr.langs.is_empty() {
            model.push(self.itext(&tr)?);
        }
        let inst = self.survey_instance()?;
        model.push(Elem::new("instance").child(inst));
        for i in self.generate_instances()? {
            model.push(i);
        }
        for i in self.preorder() {
            for b in self.xml_bindings(i)? {
                model.push(b);
            }
            if matches!(self.els[i].kind, Kind::Question | Kind::Attribute) {
                for a in self.xml_actions(i, false)? {
                    model.push(a);
                }
            }
        }
        Ok(model)
    }

    fn survey_instance(&self) -> Result<Elem, ConvertError> {
        let mut r = self.section_instance(0, false)?;
        if let Some(Value::Object(attrs)) = self.settings.get("attribute") {
            for (k, v) in attrs {
                r.set_attr(k.clone(), vs(v));
            }
        }
        let id = self.s("id_string").unwrap_or_default();
        r.set_attr("id", id);
        if let Some(x) = self.s("instance_xmlns") {
            r.set_attr("xmlns", x);
        }
        if let Some(v) = self.s("version") {
            r.set_attr("version", v);
        }
        if let Some(v) = self.s("prefix") {
            r.set_attr("odk:prefix", v);
        }
        if let Some(v) = self.s("delimiter") {
            r.set_attr("odk:delimiter", v);
        }
        Ok(r)
    }

    fn element_instance(&self, i: usize, append_template: bool) -> Result<Elem, ConvertError> {
        let e = &self.els[i];
        match e.kind {
            Kind::Group | Kind::Repeat | Kind::Survey | Kind::Entity => {
                self.section_instance(i, append_template)
            }
            _ => {
                let mut n = Elem::new(e.name.clone());
                if let Some(d) = e.default.as_ref().filter(|d| !d.is_empty()) {
                    if !ex::default_is_dynamic(d, Some(e.ty.as_str())) {
                        n = n.text(d.clone());
                    }
                }
                if let Some(attrs) = &e.instance {
                    for (k, v) in attrs {
                        n.set_attr(
                            k.clone(),
                            self.insert_xpaths(&vs(v), Some(i), false, false)?,
                        );
                    }
                }
                Ok(n)
            }
        }
    }

    fn section_instance(&self, i: usize, append_template: bool) -> Result<Elem, ConvertError> {
        let e = &self.els[i];
        let mut r = Elem::new(e.name.clone());
        if e.kind != Kind::Survey {
            if let Some(attrs) = &e.instance {
                for (k, v) in attrs {
                    r.set_attr(
                        k.clone(),
                        self.insert_xpaths(&vs(v), Some(i), false, false)?,
                    );
                }
            }
        }
        let mut append_template = append_template;
        for &c in &e.children {
            let ce = &self.els[c];
            if ce.kind == Kind::External {
                continue;
            }
            if ce.kind == Kind::Attribute {
                r.set_attr(ce.name.clone(), ce.value.clone().unwrap_or_default());
                continue;
            }
            let mut template = None;
            if ce.kind == Kind::Repeat && !append_template {
                append_template = true;
                template = Some(self.repeating_template(c)?);
            }
            let ci = self.element_instance(c, append_template)?;
            r.push(ci);
            if append_template {
                if let Some(t) = template {
                    append_template = false;
                    let pos = r.children.len() - 1;
                    r.children.insert(pos, crate::xml::XNode::Elem(t));
                }
            }
        }
        Ok(r)
    }

    fn repeating_template(&self, i: usize) -> Result<Elem, ConvertError> {
        let e = &self.els[i];
        let mut r = Elem::new(e.name.clone()).attr("jr:template", "");
        if let Some(attrs) = &e.instance {
            // Template keeps only the template attribute plus instance attributes? Reference: only jr:template.
            let _ = attrs;
        }
        for &c in &e.children {
            let ce = &self.els[c];
            if ce.kind == Kind::External {
                r.push(Elem::new(ce.name.clone()));
                continue;
            }
            if ce.kind == Kind::Attribute {
                r.set_attr(ce.name.clone(), ce.value.clone().unwrap_or_default());
                continue;
            }
            if ce.kind == Kind::Repeat {
                r.push(self.repeating_template(c)?);
            } else {
                r.push(self.element_instance(c, false)?);
            }
        }
        Ok(r)
    }

    fn xml_bindings(&self, i: usize) -> Result<Vec<Elem>, ConvertError> {
        let e = &self.els[i];
        let Some(bind) = &e.bind else {
            return Ok(vec![]);
        };
        if e.kind == Kind::Survey {
            return Ok(vec![]);
        }
        let mut b = Elem::new("bind").attr("nodeset", e.xpath.clone());
        for (k, v) in bind {
            if !e.trigger.is_empty() && k == "calculate" {
                continue;
            }
            let is_dict = v.is_object();
            let sv = vs(v);
            let val = if matches!(
                k.as_str(),
                "readonly" | "required" | "relevant" | "constraint" | "calculate"
            ) && binding_conversion(&sv).is_some()
            {
                binding_conversion(&sv).unwrap_or_default().to_string()
            } else if (k == "jr:constraintMsg" || k == "jr:requiredMsg")
                && (is_dict || ex::has_ref(&sv))
            {
                format!("jr:itext('{}:{}')", e.xpath, k)
            } else if k == "jr:noAppErrorString" && is_dict {
                format!("jr:itext('{}:{}')", e.xpath, k)
            } else {
                sv
            };
            b.set_attr(k.clone(), self.insert_xpaths(&val, Some(i), false, false)?);
        }
        Ok(vec![b])
    }

    fn xml_actions(&self, i: usize, in_repeat: bool) -> Result<Vec<Elem>, ConvertError> {
        let e = &self.els[i];
        let mut out = Vec::new();
        for a in &e.actions {
            let event = a.get("event").map(vs).unwrap_or_default();
            let is_new_repeat = event == "odk-new-repeat";
            if (!in_repeat && is_new_repeat) || (in_repeat && !is_new_repeat) {
                continue;
            }
            let name = a.get("name").map(vs).unwrap_or_default();
            let value = if e.kind == Kind::Attribute {
                a.get("value").map(vs)
            } else if e.dynamic_default
                || e.default
                    .as_ref()
                    .map(|d| ex::default_is_dynamic(d, Some(e.ty.as_str())))
                    .unwrap_or(false)
            {
                Some(self.insert_xpaths(
                    e.default.as_deref().unwrap_or(""),
                    Some(i),
                    false,
                    false,
                )?)
            } else if let Some(d) = e.default.as_ref().filter(|d| !d.is_empty()) {
                Some(d.clone())
            } else {
                a.get("value").map(vs)
            };
            let mut n = Elem::new(name.clone())
                .attr("ref", e.xpath.clone())
                .attr("event", event);
            if name == "setvalue" {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    n.set_attr("value", v);
                }
            }
            if name == "odk:recordaudio" {
                if let Some(q) = a.get("odk:quality").map(vs).filter(|q| !q.is_empty()) {
                    n.set_attr("odk:quality", q);
                }
            }
            out.push(n);
        }
        Ok(out)
    }

    fn needs_itext_ref(&self, i: usize) -> bool {
        let e = &self.els[i];
        matches!(e.label, Some(Value::Object(_)))
            || e.media.as_ref().map(|m| !m.is_empty()).unwrap_or(false)
    }

    fn xml_label(&self, i: usize) -> Result<Elem, ConvertError> {
        let e = &self.els[i];
        if self.needs_itext_ref(i) {
            return Ok(Elem::new("label").attr("ref", format!("jr:itext('{}:label')", e.xpath)));
        }
        if truthy(&e.label) {
            let l = e.label.as_ref().map(vs).unwrap_or_default();
            return self.text_node_pub("label", &l, Some(i));
        }
        Ok(Elem::new("label"))
    }

    fn xml_hint(&self, i: usize) -> Result<Elem, ConvertError> {
        let e = &self.els[i];
        if matches!(e.hint, Some(Value::Object(_))) || truthy(&e.guidance_hint) {
            return Ok(Elem::new("hint").attr("ref", format!("jr:itext('{}:hint')", e.xpath)));
        }
        if truthy(&e.hint) {
            let h = e.hint.as_ref().map(vs).unwrap_or_default();
            return self.text_node_pub("hint", &h, Some(i));
        }
        Ok(Elem::new("hint"))
    }

    fn label_and_hint(&self, i: usize) -> Result<Vec<Elem>, ConvertError> {
        let e = &self.els[i];
        let mut out = Vec::new();
        let has_media = e.media.as_ref().map(|m| !m.is_empty()).unwrap_or(false);
        let mut label_appended = false;
        if truthy(&e.label) || has_media {
            out.push(self.xml_label(i)?);
            label_appended = true;
        }
        if truthy(&e.hint) || truthy(&e.guidance_hint) {
            if !label_appended {
                out.push(self.xml_label(i)?);
            }
            out.push(self.xml_hint(i)?);
        }
        let m = format!(
            "The survey element named '{}' has no label or hint.",
            e.name
        );
        if out.is_empty() {
            return err(m);
        }
        if !(truthy(&e.label) || has_media || truthy(&e.hint)) && truthy(&e.guidance_hint) {
            return err(m);
        }
        if let Some(media) = &e.media {
            if !media.contains_key("image") && media.contains_key("big-image") {
                return err(format!("To use big-image, you must also specify an image for the survey element named {}.", e.name));
            }
        }
        Ok(out)
    }

    fn xml_control(&self, i: usize) -> Result<Option<Elem>, ConvertError> {
        let e = &self.els[i];
        match e.kind {
            Kind::Group => {
                let ctrl = e.control.clone().unwrap_or_default();
                if ctrl
                    .get("bodyless")
                    .map(|v| v.as_bool() == Some(true) || vs(v) == "true")
                    .unwrap_or(false)
                {
                    return Ok(None);
                }
                let mut g = Elem::new("group");
                for (k, v) in &ctrl {
                    if k == "appearance" {
                        g.set_attr(k.clone(), vs(v));
                    } else {
                        g.set_attr(
                            k.clone(),
                            self.insert_xpaths(&vs(v), Some(i), false, false)?,
                        );
                    }
                }
                g.set_attr("ref", e.xpath.clone());
                if truthy(&e.label) {
                    g.push(self.xml_label(i)?);
                }
                for &c in &e.children {
                    if let Some(n) = self.xml_control(c)? {
                        g.push(n);
                    }
                }
                Ok(Some(g))
            }
            Kind::Repeat => {
                let mut rep = Elem::new("repeat").attr("nodeset", e.xpath.clone());
                if let Some(ctrl) = &e.control {
                    for (k, v) in ctrl {
                        rep.set_attr(
                            k.clone(),
                            self.insert_xpaths(&vs(v), Some(i), false, false)?,
                        );
                    }
                }
                for &c in &e.children {
                    if let Some(n) = self.xml_control(c)? {
                        rep.push(n);
                    }
                }
                for d in self.descendants_pub(i) {
                    let de = &self.els[d];
                    if !matches!(de.kind, Kind::Question | Kind::Attribute) {
                        continue;
                    }
                    let nearest = self.nearest_repeat_pub(d);
                    if de.parent == Some(i) || nearest == Some(i) {
                        for a in self.xml_actions(d, true)? {
                            rep.push(a);
                        }
                    }
                }
                let label = self.xml_label(i)?;
                Ok(Some(
                    Elem::new("group")
                        .attr("ref", e.xpath.clone())
                        .child(label)
                        .child(rep),
                ))
            }
            Kind::Question => self.question_control(i),
            _ => Ok(None),
        }
    }

    fn question_control(&self, i: usize) -> Result<Option<Elem>, ConvertError> {
        let e = &self.els[i];
        let has_calc = e
            .bind
            .as_ref()
            .map(|b| b.contains_key("calculate"))
            .unwrap_or(false);
        if e.ty == "calculate"
            || ((has_calc || !e.trigger.is_empty()) && !(truthy(&e.label) || truthy(&e.hint)))
        {
            if let Some(list) = self.setvalues_by_trigger.get(&e.name) {
                if let Some((q, _)) = list.first() {
                    return err(format!("The question ${{{}}} is not user-visible so it can't be used as a calculation trigger for question ${{{q}}}.", e.name));
                }
            }
            return Ok(None);
        }
        if e.class == QClass::Plain {
            return Ok(None);
        }
        let ctrl = e.control.clone().unwrap_or_default();
        let tag = ctrl.get("tag").map(vs).unwrap_or_default();
        let mut n = Elem::new(tag);
        n.set_attr("ref", e.xpath.clone());
        for c in self.label_and_hint(i)? {
            n.push(c);
        }
        for (k, v) in &ctrl {
            if k != "tag" {
                n.set_attr(
                    k.clone(),
                    self.insert_xpaths(&vs(v), Some(i), false, false)?,
                );
            }
        }
        match e.class {
            QClass::Input => {
                if let Some(q) = &e.query {
                    let query = match &e.choice_filter {
                        Some(cf) => format!(
                            "instance('{q}')/root/item[{}]",
                            self.insert_xpaths(cf, Some(i), true, false)?
                        ),
                        None => format!("instance('{q}')/root/item"),
                    };
                    n.set_attr("query", query);
                }
            }
            QClass::Select => {
                let itemset = e.itemset.clone().unwrap_or_default();
                let choices = self.choices.get(&itemset);
                if !itemset.is_empty() && !self.search_redirected(i) {
                    n.push(self.build_itemset(i, choices, true)?);
                } else if let Some(ch) = choices {
                    if ch.used_by_search {
                        for o in &ch.options {
                            let label = if ch.requires_itext {
                                Elem::new("label")
                                    .attr("ref", o.itext_ref.clone().unwrap_or_default())
                            } else if truthy(&e.label) {
                                let l = o.label.as_ref().map(vs).unwrap_or_default();
                                self.text_node_pub("label", &l, None)?
                            } else {
                                Elem::new("label")
                            };
                            n.push(
                                Elem::new("item")
                                    .child(label)
                                    .child(Elem::new("value").text(o.name.clone())),
                            );
                        }
                    }
                }
            }
            QClass::Range => {
                if let Some(is) = &e.itemset {
                    let ch = self.choices.get(is);
                    let label_ref = if ch.map(|c| c.requires_itext).unwrap_or(false) {
                        "jr:itext(itextId)"
                    } else {
                        "label"
                    };
                    n.push(itemset_node(
                        &format!("instance('{is}')/root/item"),
                        "name",
                        label_ref,
                    ));
                }
            }
            QClass::Geo => {
                if e.itemset.is_some() {
                    let ch = e.itemset.as_ref().and_then(|is| self.choices.get(is));
                    n.push(self.build_itemset(i, ch, false)?);
                }
            }
            QClass::Osm => {
                if let Some(Value::Array(tags)) = e.extra.get("tags") {
                    for t in tags {
                        if let Some(tm) = t.as_object() {
                            let key = tm.get("name").map(vs).unwrap_or_default();
                            let label = match tm.get("label") {
                                Some(l) if truthy(&Some(l.clone())) => {
                                    self.text_node_pub("label", &vs(l), None)?
                                }
                                _ => Elem::new("label"),
                            };
                            n.push(Elem::new("tag").attr("key", key).child(label));
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(list) = self.setvalues_by_trigger.get(&e.name) {
            for (q, value) in list {
                let target = self.element_by_name_pub(q)?;
                let mut sv = Elem::new("setvalue")
                    .attr("ref", self.els[target].xpath.clone())
                    .attr("event", "xforms-value-changed");
                let v = self.insert_xpaths(value, Some(i), false, false)?;
                if !v.is_empty() {
                    sv.set_attr("value", v);
                }
                n.push(sv);
            }
        }
        if let Some(list) = self.setgeopoint_by_trigger.get(&e.name) {
            for (q, _) in list {
                let target = self.element_by_name_pub(q)?;
                n.push(
                    Elem::new("odk:setgeopoint")
                        .attr("ref", self.els[target].xpath.clone())
                        .attr("event", "xforms-value-changed"),
                );
            }
        }
        Ok(Some(n))
    }

    fn search_redirected(&self, i: usize) -> bool {
        self.els[i]
            .extra
            .get("__search")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn build_itemset(
        &self,
        i: usize,
        choices: Option<&Itemset>,
        is_select: bool,
    ) -> Result<Elem, ConvertError> {
        let e = &self.els[i];
        let itemset = e.itemset.clone().unwrap_or_default();
        let has_ref = ex::has_ref(&itemset);
        let (base, ext) = split_ext(&itemset);
        let (mut nodeset, value_ref, label_ref, mut cf): (String, String, String, Option<String>);
        if EXTERNAL_INSTANCE_EXTENSIONS.contains(&ext) {
            let (mut v, mut l) = if ext == ".geojson" {
                ("id".to_string(), "title".to_string())
            } else {
                ("name".to_string(), "label".to_string())
            };
            if let Some(pv) = e.parameters.get("value") {
                v = vs(pv);
            }
            if let Some(pl) = e.parameters.get("label") {
                l = vs(pl);
            }
            nodeset = format!("instance('{base}')/root/item");
            value_ref = v;
            label_ref = l;
            cf = None;
        } else if has_ref {
            let path = self.insert_xpaths(&itemset, Some(i), false, true)?;
            let path = path.trim().to_string();
            if is_select {
                let parts: Vec<&str> = path.split('/').collect();
                let last = parts.last().copied().unwrap_or("").to_string();
                nodeset = parts[..parts.len().saturating_sub(1)].join("/");
                value_ref = last.clone();
                label_ref = last.clone();
                cf = Some(format!("./{last} != ''"));
            } else {
                nodeset = path;
                value_ref = "geometry".into();
                label_ref = "geometry".into();
                cf = Some("./geometry != ''".into());
            }
        } else {
            let l = if choices.map(|c| c.requires_itext).unwrap_or(false) {
                "jr:itext(itextId)"
            } else {
                "label"
            };
            nodeset = format!("instance('{itemset}')/root/item");
            value_ref = "name".into();
            label_ref = l.into();
            cf = None;
        }
        if let Some(c) = &e.choice_filter {
            let mut f = self.insert_xpaths(c, Some(i), true, has_ref)?;
            if has_ref {
                f = f
                    .replace(&format!("current()/{nodeset}"), ".")
                    .replace(&nodeset, ".");
            }
            cf = Some(f);
        }
        if let Some(f) = cf.filter(|f| !f.is_empty()) {
            nodeset = format!("{nodeset}[{f}]");
        }
        if e.parameters.get("randomize").map(vs).as_deref() == Some("true") {
            if let Some(seed) = e.parameters.get("seed") {
                let s = self.insert_xpaths(&vs(seed), Some(i), false, false)?;
                nodeset = format!("randomize({nodeset}, {})", s.trim());
            } else {
                nodeset = format!("randomize({nodeset})");
            }
        }
        Ok(itemset_node(&nodeset, &value_ref, &label_ref))
    }

    pub fn text_node_pub(
        &self,
        tag: &'static str,
        text: &str,
        ctx: Option<usize>,
    ) -> Result<Elem, ConvertError> {
        self.text_node_impl(tag, text, ctx)
    }

    // ---------- translations ----------

    fn setup_translations(&mut self) -> Result<Tr, ConvertError> {
        let mut tr = Tr::default();
        let dl = self.default_language.clone();
        let add = |tr: &mut Tr, lang: &str, path: &str, form: &str, v: TrV| {
            let l = tr.langs.entry(lang.to_string()).or_default();
            let p = l.entry(path.to_string()).or_default();
            p.insert(form.to_string(), v);
        };
        for (name, itemset) in &self.choices {
            if !itemset.requires_itext {
                continue;
            }
            for (idx, o) in itemset.options.iter().enumerate() {
                let id = format!("{name}-{idx}");
                match &o.label {
                    Some(Value::Object(m)) => {
                        for (lang, v) in m {
                            if let Value::Object(inner) = v {
                                for (language, val) in inner {
                                    add(&mut tr, language, &id, lang, TrV::Text(vs(val), None));
                                }
                            } else {
                                add(&mut tr, lang, &id, "long", TrV::Text(vs(v), None));
                            }
                        }
                    }
                    Some(v) if truthy(&Some(v.clone())) => {
                        add(&mut tr, &dl, &id, "long", TrV::Text(vs(v), None))
                    }
                    _ => {}
                }
                if let Some(media) = &o.media {
                    for (mt, v) in media {
                        if let Value::Object(inner) = v {
                            for (language, val) in inner {
                                add(&mut tr, language, &id, mt, TrV::Plain(vs(val)));
                            }
                        } else {
                            add(&mut tr, &dl, &id, mt, TrV::Plain(vs(v)));
                        }
                    }
                }
            }
        }
        // search() redirection, then element translations.
        let order = self.preorder();
        let mut search_lists: Vec<(String, String)> = Vec::new();
        let mut non_search_lists: Vec<(String, String)> = Vec::new();
        for &i in &order {
            let e = &self.els[i];
            if !matches!(
                e.kind,
                Kind::Question | Kind::Group | Kind::Repeat | Kind::Survey
            ) {
                continue;
            }
            if e.kind == Kind::Question && e.class == QClass::Select {
                let r = (e.name.clone(), e.list_name.clone().unwrap_or_default());
                if self.redirect_search(i)? {
                    search_lists.push(r);
                } else {
                    non_search_lists.push(r);
                }
            }
            let e = &self.els[i];
            let path = |d: &str| format!("{}:{}", e.xpath, d);
            if let Some(bind) = &e.bind {
                for key in ["jr:constraintMsg", "jr:requiredMsg", "jr:noAppErrorString"] {
                    match bind.get(key) {
                        Some(Value::Object(m)) => {
                            for (lang, t) in m {
                                add(&mut tr, lang, &path(key), "long", TrV::Text(vs(t), Some(i)));
                            }
                        }
                        Some(Value::String(s))
                            if key != "jr:noAppErrorString" && !s.is_empty() && ex::has_ref(s) =>
                        {
                            add(
                                &mut tr,
                                &dl,
                                &path(key),
                                "long",
                                TrV::Text(s.clone(), Some(i)),
                            );
                        }
                        _ => {}
                    }
                }
            }
            let needs_itext = matches!(e.label, Some(Value::Object(_)))
                || e.media.as_ref().map(|m| !m.is_empty()).unwrap_or(false);
            for de in ["label", "hint", "guidance_hint"] {
                let mut v = match de {
                    "label" => e.label.clone(),
                    "hint" => e.hint.clone(),
                    _ => e.guidance_hint.clone(),
                };
                if de == "label"
                    && needs_itext
                    && !matches!(v, Some(Value::Object(_)))
                    && truthy(&v)
                {
                    v = Some(serde_json::json!({ dl.clone(): v.clone().unwrap_or(Value::Null) }));
                }
                if de == "guidance_hint" && truthy(&v) && !matches!(v, Some(Value::Object(_))) {
                    v = Some(serde_json::json!({ dl.clone(): v.clone().unwrap_or(Value::Null) }));
                }
                if de == "hint"
                    && !matches!(v, Some(Value::Object(_)))
                    && truthy(&v)
                    && truthy(&e.guidance_hint)
                {
                    v = Some(serde_json::json!({ dl.clone(): v.clone().unwrap_or(Value::Null) }));
                }
                if let Some(Value::Object(m)) = v {
                    let (p, form) = if de == "guidance_hint" {
                        (path("hint"), "guidance")
                    } else {
                        (path(de), "long")
                    };
                    for (lang, t) in m {
                        add(&mut tr, &lang, &p, form, TrV::Text(vs(&t), Some(i)));
                    }
                }
            }
        }
        for (q, ln) in &search_lists {
            let refs: Vec<String> = non_search_lists
                .iter()
                .filter(|(_, c)| c == ln)
                .map(|(qq, _)| format!("'{qq}'"))
                .collect();
            if !refs.is_empty() {
                return err(format!("Question '{q}' uses 'search()', and its select type references the choice list name '{ln}'. This choice list name is referenced by at least one other question that is not using 'search()', which will not work: {}. Either 1) use 'search()' for all questions using this choice list name, or 2) use a different choice list name for the question using 'search()'.", refs.join(", ")));
            }
        }
        // Media.
        for &i in &order {
            let e = &self.els[i];
            if !matches!(e.kind, Kind::Question | Kind::Group | Kind::Repeat) {
                continue;
            }
            let Some(media) = &e.media else { continue };
            if media.is_empty() {
                continue;
            }
            let key = format!("{}:label", e.xpath);
            let media = match media.get("default") {
                Some(Value::Object(d)) => d.clone(),
                _ => media.clone(),
            };
            for (mt, v) in &media {
                if !matches!(mt.as_str(), "image" | "big-image" | "audio" | "video") {
                    return err(format!("Media type: {mt} not supported"));
                }
                match v {
                    Value::Object(m) => {
                        for (lang, val) in m {
                            add(&mut tr, lang, &key, mt, TrV::Plain(vs(val)));
                        }
                    }
                    other => add(&mut tr, &dl, &key, mt, TrV::Plain(vs(other))),
                }
            }
        }
        // Empty translations fill-in.
        let mut paths: IndexMap<String, Vec<String>> = IndexMap::new();
        for l in tr.langs.values() {
            for (p, content) in l {
                let e = paths.entry(p.clone()).or_default();
                for f in content.keys() {
                    if !e.contains(f) {
                        e.push(f.clone());
                    }
                }
            }
        }
        for l in tr.langs.values_mut() {
            for (p, forms) in &paths {
                let entry = l.entry(p.clone()).or_default();
                for f in forms {
                    if !entry.contains_key(f) {
                        entry.insert(f.clone(), TrV::Plain("-".into()));
                    }
                }
            }
        }
        Ok(tr)
    }

    fn itext(&self, tr: &Tr) -> Result<Elem, ConvertError> {
        let mut it = Elem::new("itext");
        for (lang, paths) in &tr.langs {
            let mut t = Elem::new("translation").attr("lang", lang.clone());
            if *lang == self.default_language {
                t.set_attr("default", "true()");
            }
            for (p, content) in paths {
                let label_type = p.split_once(':').map(|x| x.1).unwrap_or("");
                let mut text = Elem::new("text").attr("id", p.clone());
                for (form, v) in content {
                    let (raw, ctx) = match v {
                        TrV::Text(s, c) => (s.clone(), *c),
                        TrV::Plain(s) => (s.clone(), None),
                    };
                    if label_type == "hint" {
                        let mut n = self.text_node_impl("value", &raw, ctx)?;
                        if form == "guidance" {
                            n.set_attr("form", "guidance");
                        }
                        text.push(n);
                        continue;
                    }
                    if form == "long" {
                        text.push(self.text_node_impl("value", &raw, ctx)?);
                    } else if raw != "-" {
                        let prefix = if form == "image" || form == "big-image" {
                            "images".to_string()
                        } else {
                            form.clone()
                        };
                        let mut n =
                            self.text_node_impl("value", &format!("jr://{prefix}/{raw}"), ctx)?;
                        n.set_attr("form", form.clone());
                        text.push(n);
                    }
                }
                t.push(text);
            }
            it.push(t);
        }
        Ok(it)
    }

    fn redirect_search(&mut self, i: usize) -> Result<bool, ConvertError> {
        let e = &self.els[i];
        let app = e
            .control
            .as_ref()
            .and_then(|c| c.get("appearance"))
            .map(vs)
            .unwrap_or_default();
        let is_search = app.len() > 7
            && app.contains("search(")
            && app[app.find("search(").unwrap_or(0)..].contains(')');
        if !is_search {
            return Ok(false);
        }
        let itemset = e.itemset.clone().unwrap_or_default();
        let ext = split_ext(&itemset).1;
        if !ext.is_empty() && EXTERNAL_INSTANCE_EXTENSIONS.contains(&ext) {
            return err(format!("Question '{}' is a select from file type, using 'search()'. This combination is not supported. Remove the 'search()' usage, or change the select type.", e.name));
        }
        self.els[i]
            .extra
            .insert("__search".into(), Value::Bool(true));
        if let Some(ch) = self.choices.get_mut(&itemset) {
            if !ch.used_by_search {
                ch.used_by_search = true;
                let n = ch.name.clone();
                for (k, o) in ch.options.iter_mut().enumerate() {
                    o.itext_ref = Some(format!("jr:itext('{n}-{k}')"));
                }
            }
        }
        Ok(true)
    }

    // ---------- secondary instances ----------

    fn generate_instances(&self) -> Result<Vec<Elem>, ConvertError> {
        let mut infos: Vec<InstanceInfo> = Vec::new();
        let mut last_saved = false;
        for i in self.preorder() {
            let e = &self.els[i];
            match e.kind {
                Kind::Question => {
                    self.pulldata_instances(i, &mut infos);
                    if e.class == QClass::Select {
                        if let Some(is) = e
                            .itemset
                            .as_ref()
                            .filter(|s| !s.is_empty() && !self.search_redirected(i))
                        {
                            let (base, ext) = split_ext(is);
                            if EXTERNAL_INSTANCE_EXTENSIONS.contains(&ext) {
                                let fe = if ext == ".xml" || ext == ".geojson" {
                                    "file".to_string()
                                } else {
                                    format!("file-{}", &ext[1..])
                                };
                                let uri = format!("jr://{fe}/{is}");
                                let p = &self.els[e.parent.unwrap_or(0)];
                                infos.push(InstanceInfo {
                                    kind: "file",
                                    context: format!("[type: {}, name: {}]", p.ty, p.name),
                                    name: base.to_string(),
                                    src: Some(uri.clone()),
                                    node: Elem::new("instance").attr("id", base).attr("src", uri),
                                });
                            }
                        }
                    }
                    if !last_saved {
                        last_saved = self.uses_last_saved(i);
                    }
                }
                Kind::Group | Kind::Repeat | Kind::Survey => self.pulldata_instances(i, &mut infos),
                Kind::External => {
                    let ext = e.ty.split('-').next().unwrap_or("xml");
                    let prefix = if ext == "csv" { "file-csv" } else { "file" };
                    let src = format!("jr://{prefix}/{}.{ext}", e.name);
                    let p = &self.els[e.parent.unwrap_or(0)];
                    infos.push(InstanceInfo {
                        kind: "external",
                        context: format!("[type: {}, name: {}]", p.ty, p.name),
                        name: e.name.clone(),
                        src: Some(src.clone()),
                        node: Elem::new("instance")
                            .attr("id", e.name.clone())
                            .attr("src", src),
                    });
                }
                _ => {}
            }
        }
        if last_saved {
            infos.push(InstanceInfo {
                kind: "instance",
                context: String::new(),
                name: "__last-saved".into(),
                src: Some("jr://instance/last-saved".into()),
                node: Elem::new("instance")
                    .attr("id", "__last-saved")
                    .attr("src", "jr://instance/last-saved"),
            });
        }
        for (k, v) in &self.choices {
            if v.used_by_search {
                continue;
            }
            let mut root = Elem::new("root");
            for (idx, o) in v.options.iter().enumerate() {
                let mut item = Elem::new("item");
                if v.requires_itext {
                    item.push(Elem::new("itextId").text(format!("{k}-{idx}")));
                }
                item.push(Elem::new("name").text(o.name.clone()));
                if !v.requires_itext {
                    if let Some(Value::String(l)) = &o.label {
                        item.push(Elem::new("label").text(l.clone()));
                    }
                }
                for (ek, ev) in &o.extra {
                    match ev {
                        Value::String(s) => item.push(Elem::new(ek.clone()).text(s.clone())),
                        Value::Object(_) | Value::Array(_) | Value::Null => {}
                        other => item.push(Elem::new(ek.clone()).text(other.to_string())),
                    }
                }
                if let Some(s) = o.sms_option.as_ref().filter(|s| !s.is_empty()) {
                    item.push(Elem::new("sms_option").text(s.clone()));
                }
                root.push(item);
            }
            infos.push(InstanceInfo {
                kind: "choice",
                context: "survey".into(),
                name: k.clone(),
                src: None,
                node: Elem::new("instance").attr("id", k.clone()).child(root),
            });
        }
        // Unique external instance names.
        let mut seen_ext: IndexMap<String, Vec<&InstanceInfo>> = IndexMap::new();
        for i in infos.iter().filter(|x| x.kind == "external") {
            seen_ext.entry(i.name.clone()).or_default().push(i);
        }
        let mut errors = Vec::new();
        for (name, copies) in &seen_ext {
            if copies.len() > 1 {
                let ctx: Vec<String> = copies
                    .iter()
                    .map(|x| format!("{}({})", x.context, x.kind))
                    .collect();
                errors.push(format!("Instance names must be unique within a form. The name '{name}' was found {} time(s), under these contexts: {}", copies.len(), ctx.join(", ")));
            }
        }
        if !errors.is_empty() {
            return err(errors.join("\n"));
        }
        let mut out = Vec::new();
        let mut seen: IndexMap<String, (String, Option<String>)> = IndexMap::new();
        for i in infos {
            if let Some((pk, psrc)) = seen.get(&i.name) {
                if *psrc != i.src {
                    return err(format!("The same instance id will be generated for different external instance source URIs. Please check the form. Instance name: '{}', Existing type: '{}', Existing URI: '{}', Duplicate type: '{}', Duplicate URI: '{}', Duplicate context: '{}'.", i.name, pk, psrc.clone().unwrap_or_else(|| "None".into()), i.kind, i.src.clone().unwrap_or_else(|| "None".into()), if i.context.is_empty() { "None".to_string() } else { i.context.clone() }));
                }
                continue;
            }
            seen.insert(i.name.clone(), (i.kind.to_string(), i.src.clone()));
            out.push(i.node);
        }
        Ok(out)
    }

    fn pulldata_instances(&self, i: usize, infos: &mut Vec<InstanceInfo>) {
        let e = &self.els[i];
        let mut usages: Vec<String> = Vec::new();
        if let Some(b) = &e.bind {
            for k in [
                "calculate",
                "constraint",
                "readonly",
                "required",
                "relevant",
            ] {
                if let Some(v) = b.get(k) {
                    let s = vs(v);
                    if s.contains("pulldata(") {
                        usages.push(s);
                    }
                }
            }
        }
        if let Some(cf) = &e.choice_filter {
            if cf.contains("pulldata(") {
                usages.push(cf.clone());
            }
        }
        if let Some(d) = &e.default {
            if d.contains("pulldata(") {
                usages.push(d.clone());
            }
        }
        let p = &self.els[e.parent.unwrap_or(0)];
        for u in usages {
            // (pulldata\s*\(\s*)(.*?),
            let mut rest = u.as_str();
            while let Some(pos) = rest.find("pulldata") {
                let after = &rest[pos + 8..];
                let a2 = after.trim_start();
                let Some(a3) = a2.strip_prefix('(') else {
                    rest = after;
                    continue;
                };
                let a3 = a3.trim_start();
                let Some(comma) = a3.find(',') else { break };
                let first = a3[..comma].replace(['\'', '"'], "");
                let first = first.trim().to_string();
                let uri = format!("jr://file-csv/{first}.csv");
                infos.push(InstanceInfo {
                    kind: "pulldata",
                    context: format!("[type: {}, name: {}]", p.ty, p.name),
                    name: first.clone(),
                    src: Some(uri.clone()),
                    node: Elem::new("instance").attr("id", first).attr("src", uri),
                });
                rest = &a3[comma..];
            }
        }
    }

    fn uses_last_saved(&self, i: usize) -> bool {
        let e = &self.els[i];
        if e.default
            .as_deref()
            .map(ex::has_last_saved_ref)
            .unwrap_or(false)
        {
            return true;
        }
        if e.choice_filter
            .as_deref()
            .map(ex::has_last_saved_ref)
            .unwrap_or(false)
        {
            return true;
        }
        if let Some(b) = &e.bind {
            for (k, v) in b {
                if matches!(
                    k.as_str(),
                    "calculate" | "constraint" | "readonly" | "required" | "relevant"
                ) && ex::has_last_saved_ref(&vs(v))
                {
                    return true;
                }
            }
        }
        false
    }
}

fn itemset_node(nodeset: &str, value_ref: &str, label_ref: &str) -> Elem {
    Elem::new("itemset")
        .attr("nodeset", nodeset)
        .child(Elem::new("value").attr("ref", value_ref))
        .child(Elem::new("label").attr("ref", label_ref))
}

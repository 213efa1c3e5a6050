//! Entities sheet: declarations (create/update/upsert), `save_to` references,
//! and placement of each entity's `meta/entity` block in the right container.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::error::{err, msg, ConvertError};
use crate::expression::{is_xml_tag, parse_refs};
use crate::headers::Dealiased;
use crate::xls2json::Obj;

type Node = (String, String); // (name, type)
type Path = Vec<Node>;

fn root_path() -> Path {
    vec![("survey".into(), "survey".into())]
}

fn path_str(p: &Path) -> String {
    format!(
        "/{}",
        p.iter().map(|n| n.0.as_str()).collect::<Vec<_>>().join("/")
    )
}

fn scope_boundary(p: &Path) -> Path {
    for i in (0..p.len()).rev() {
        if p[i].1 == "repeat" || p[i].1 == "survey" {
            return p[..=i].to_vec();
        }
    }
    root_path()
}

fn boundary_node_count(p: &Path) -> usize {
    (1..p.len()).rev().filter(|&i| p[i].1 == "repeat").count()
}

fn subpath_node_count(p: &Path) -> usize {
    let mut c = 0;
    for i in (0..p.len()).rev() {
        if p[i].1 == "repeat" || p[i].1 == "survey" {
            break;
        }
        c += 1;
    }
    c
}

#[derive(Debug, Clone)]
struct RefSource {
    path: Path,
    row: usize,
    property: Option<String>,
    question: Option<String>,
}

#[derive(Debug, Clone)]
struct EntityRefs {
    dataset: String,
    row: usize,
    refs: Vec<RefSource>,
}

struct AllocReq {
    scope: Path,
    dataset: String,
    requested: Path,
    row: usize,
    saveto_lineages: Vec<Path>,
}

#[derive(Debug, Default)]
pub struct Entities {
    /// dataset -> (declaration json, row)
    decls: IndexMap<String, (Obj, usize)>,
    /// question name -> datasets referring to it
    var_refs: HashMap<String, Vec<String>>,
    refs: IndexMap<String, EntityRefs>,
}

impl Entities {
    pub fn from_sheet(d: &Dealiased) -> Result<Self, ConvertError> {
        let mut out = Entities::default();
        let cols = [
            "dataset",
            "entity_id",
            "create_if",
            "update_if",
            "repeat",
            "label",
        ];
        for (i, row) in d.data.iter().enumerate() {
            let row_number = i + 2;
            let extra: Vec<String> = row
                .keys()
                .filter(|k| !cols.contains(&k.as_str()))
                .map(|k| format!("'{k}'"))
                .collect();
            if !extra.is_empty() {
                return err(msg::header_005(&extra.join(", ")));
            }
            let g = |k: &str| {
                row.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let dataset = g("dataset");
            let entity_id = g("entity_id");
            let create_if = g("create_if");
            let update_if = g("update_if");
            let label = g("label");
            let Some(dataset) = dataset else {
                return err(msg::names_015(row_number));
            };
            if dataset.starts_with("__") {
                return err(msg::names_010("entities", row_number, "dataset"));
            } else if dataset.contains('.') {
                return err(msg::names_011("entities", row_number, "dataset"));
            } else if !is_xml_tag(&dataset) {
                return err(msg::names_008("entities", Some(row_number), "dataset"));
            }
            if entity_id.is_none() && update_if.is_some() {
                return err(format!("[row : {row_number}] On the 'entities' sheet, the entity declaration is invalid. The entity list name '{dataset}' does not have an 'entity_id' expression, but an 'entity_id' is required when updating entities. Updating entities is indicated by using 'entity_id' and/or 'update_if' expressions. Please either: add an 'entity_id' for this entity declaration, or to only create entities instead move the 'update_if' to 'create_if'."));
            }
            if entity_id.is_some() && create_if.is_some() && update_if.is_none() {
                return err(format!("[row : {row_number}] On the 'entities' sheet, the entity declaration is invalid. The entity list name '{dataset}' does not have an 'update_if' expression, but an 'update_if' is required when upserting entities. Upserting entities is indicated by using 'create_if' and 'entity_id' expressions. Please either: add an 'update_if' for this entity declaration, or to only create entities instead remove the 'entity_id' expression."));
            }
            if entity_id.is_none() && label.is_none() {
                return err(format!("[row : {row_number}] On the 'entities' sheet, the entity declaration is invalid. The entity list name '{dataset}' does not have a label, but a 'label' is required when creating entities. Creating entities is indicated by using a 'create_if' expression, or by not using 'entity_id' expression. Please either: add a 'label' for this entity declaration, or to update entities instead provide an 'entity_id' (and optionally 'update_if') expression."));
            }
            let mut var_refs: Vec<String> = Vec::new();
            for c in [&entity_id, &create_if, &update_if, &label]
                .into_iter()
                .flatten()
            {
                if let Ok(refs) = parse_refs(c, None, false) {
                    for r in refs {
                        if !var_refs.contains(&r.name) {
                            var_refs.push(r.name);
                        }
                    }
                }
            }
            let mut children: Vec<Value> =
                vec![json!({"name": "dataset", "type": "attribute", "value": dataset})];
            let mut id_attr = json!({
                "name": "id", "type": "attribute",
                "bind": {"readonly": "true()", "type": "string"},
                "actions": [],
            });
            if entity_id.is_none() || create_if.is_some() {
                let mut create = json!({"name": "create", "type": "attribute", "value": "1"});
                if let Some(ci) = &create_if {
                    create["bind"] =
                        json!({"calculate": ci, "readonly": "true()", "type": "string"});
                }
                children.push(create);
                if entity_id.is_none() {
                    id_attr["actions"] = json!([{"name": "setvalue", "event": "odk-instance-first-load", "value": "uuid()"}]);
                }
            }
            if let Some(eid) = &entity_id {
                let mut update = json!({"name": "update", "type": "attribute", "value": "1"});
                if let Some(ui) = &update_if {
                    update["bind"] =
                        json!({"calculate": ui, "readonly": "true()", "type": "string"});
                }
                children.push(update);
                id_attr["bind"]["calculate"] = json!(eid);
                let expr = format!("instance('{dataset}')/root/item[name={eid}]");
                for (n, f) in [
                    ("baseVersion", "__version"),
                    ("trunkVersion", "__trunkVersion"),
                    ("branchId", "__branchId"),
                ] {
                    children.push(json!({
                        "name": n, "type": "attribute",
                        "bind": {"calculate": format!("{expr}/{f}"), "readonly": "true()", "type": "string"},
                    }));
                }
            }
            children.push(id_attr);
            if let Some(l) = &label {
                children.push(json!({"type": "label", "name": "label", "bind": {"calculate": l, "readonly": "true()", "type": "string"}}));
            }
            let mut decl = Obj::new();
            decl.insert("name".into(), json!("entity"));
            decl.insert("type".into(), json!("entity"));
            decl.insert("children".into(), Value::Array(children));
            if out.decls.contains_key(&dataset) {
                return err(msg::names_014(row_number));
            }
            for q in var_refs {
                out.var_refs.entry(q).or_default().push(dataset.clone());
            }
            out.decls.insert(dataset, (decl, row_number));
        }
        Ok(out)
    }

    pub fn has_dataset(&self, name: &str) -> bool {
        self.decls.contains_key(name)
    }

    fn refs_for(&mut self, dataset: &str) -> &mut EntityRefs {
        let row = self.decls.get(dataset).map(|d| d.1).unwrap_or(0);
        self.refs
            .entry(dataset.to_string())
            .or_insert_with(|| EntityRefs {
                dataset: dataset.to_string(),
                row,
                refs: Vec::new(),
            })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn note_survey_row(
        &mut self,
        container_names: &[String],
        container_kinds: &[&'static str],
        row: &mut Obj,
        row_number: usize,
        question_name: Option<&str>,
        is_begin: bool,
        is_end: bool,
    ) -> Result<(), ConvertError> {
        let mut path = root_path();
        for (n, k) in container_names.iter().zip(container_kinds) {
            path.push((n.clone(), k.to_string()));
        }
        let save_to = row
            .get("bind")
            .and_then(Value::as_object)
            .and_then(|b| b.get("entities:saveto"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let base =
            format!("[row : {row_number}] On the 'survey' sheet, the 'save_to' value is invalid.");
        if let Some(mut saveto) = save_to.filter(|s| !s.is_empty()) {
            if self.decls.is_empty() {
                return err(format!("{base} To save entity properties using the save_to column, add an entities sheet and declare an entity."));
            }
            let count = saveto.matches('#').count();
            let dataset;
            if count == 1 {
                let (d, s) = saveto
                    .split_once('#')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or_default();
                dataset = d;
                saveto = s;
                if let Some(Value::Object(b)) = row.get_mut("bind") {
                    b.insert("entities:saveto".into(), json!(saveto));
                }
            } else if count > 1 {
                return err(format!("{base} A 'save_to' value must have at most one '#' delimiter character. Please check the spelling of this 'save_to' value."));
            } else {
                if self.decls.len() > 1 {
                    return err(format!("{base} When there is more than one entity declaration, 'save_to' names must be prefixed with the entity 'list_name' that the property belongs to. Please either: add the entity 'list_name' prefix separated with a '#' e.g. my_list#my_save_to (where 'my_list' is the entity 'list_name', and 'my_save_to' is the 'save_to' property name), or remove all but one entity declarations."));
                }
                dataset = self.decls.keys().next().cloned().unwrap_or_default();
            }
            if !self.decls.contains_key(&dataset) {
                return err(format!("{base} The entity list name '{dataset}' was not found on the entities sheet. Please either: check the spelling of the list name in the save_to value, or on the entities sheet add a row for this entity list, or check the spelling of existing entity list names."));
            }
            // validate_saveto
            if saveto.is_empty() {
                return err(msg::names_008("survey", Some(row_number), "save_to"));
            } else if is_begin || is_end {
                return err(format!("{base} Groups and repeats can't be saved as entity properties. Either remove or move the save_to value in this row."));
            } else if matches!(saveto.to_lowercase().as_str(), "name" | "label") {
                return err(msg::names_012("survey", row_number, "save_to"));
            } else if saveto.starts_with("__") {
                return err(msg::names_010("survey", row_number, "save_to"));
            } else if !is_xml_tag(&saveto) {
                return err(msg::names_008("survey", Some(row_number), "save_to"));
            }
            let er = self.refs_for(&dataset);
            if let Some(prev) = er
                .refs
                .iter()
                .find(|r| r.property.as_deref() == Some(saveto.as_str()))
            {
                return err(format!("{base} The save_to property '{saveto}' is already assigned by row '{}'. Either remove or change one of these duplicate save_to property names.", prev.row));
            }
            er.refs.push(RefSource {
                path: path.clone(),
                row: row_number,
                property: Some(saveto),
                question: None,
            });
        }
        if let Some(q) = question_name {
            if let Some(datasets) = self.var_refs.get(q).cloned() {
                for d in datasets {
                    self.refs_for(&d).refs.push(RefSource {
                        path: path.clone(),
                        row: row_number,
                        property: None,
                        question: Some(q.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    fn allocation_request(er: &EntityRefs) -> Result<AllocReq, ConvertError> {
        let mut deepest_scope_ref: Option<&RefSource> = None;
        let mut deepest_scope_boundary: Option<Path> = None;
        let mut deepest_scope_count = 0usize;
        let mut deepest_container_ref: Option<&RefSource> = None;
        let mut deepest_container_sub = 0usize;
        let mut deepest_saveto: Option<&RefSource> = None;
        let mut deepest_saveto_sub = 0usize;
        let mut saveto_lineages: Vec<Path> = Vec::new();
        let mut boundaries: Vec<(&RefSource, Path)> = Vec::new();
        for r in &er.refs {
            let sub = subpath_node_count(&r.path);
            let boundary = scope_boundary(&r.path);
            let blen = boundary_node_count(&boundary);
            if deepest_scope_boundary.is_none() || blen > deepest_scope_count {
                if Some(&boundary) != deepest_scope_boundary.as_ref() {
                    deepest_container_ref = Some(r);
                    deepest_container_sub = sub;
                    if r.property.is_some() {
                        deepest_saveto = Some(r);
                        deepest_saveto_sub = sub;
                    }
                }
                deepest_scope_boundary = Some(boundary.clone());
                deepest_scope_count = blen;
                deepest_scope_ref = Some(r);
            }
            boundaries.push((r, boundary.clone()));
            if deepest_container_ref.is_none()
                || (Some(&boundary) == deepest_scope_boundary.as_ref()
                    && sub > deepest_container_sub)
            {
                deepest_container_ref = Some(r);
                deepest_container_sub = sub;
            }
            if r.property.is_some() {
                if !saveto_lineages.contains(&r.path) {
                    saveto_lineages.push(r.path.clone());
                }
                if deepest_saveto.is_none()
                    || (Some(&boundary) == deepest_scope_boundary.as_ref()
                        && sub > deepest_saveto_sub)
                {
                    deepest_saveto = Some(r);
                    deepest_saveto_sub = sub;
                }
            }
        }
        let dsb = deepest_scope_boundary.unwrap_or_else(root_path);
        let mut requested = match (deepest_saveto, deepest_container_ref) {
            (Some(s), _) => s.path.clone(),
            (None, Some(c)) => c.path.clone(),
            _ => root_path(),
        };
        if !saveto_lineages.is_empty() {
            let min_len = saveto_lineages.iter().map(Vec::len).min().unwrap_or(0);
            let any = saveto_lineages[0].clone();
            let mut common: Path = any[..min_len].to_vec();
            if saveto_lineages.len() > 1 {
                'outer: for i in 0..min_len {
                    for j in &saveto_lineages {
                        if j[i] != any[i] {
                            common = any[..i].to_vec();
                            break 'outer;
                        }
                    }
                }
                let a = scope_boundary(
                    &deepest_saveto
                        .map(|s| s.path.clone())
                        .unwrap_or_else(root_path),
                );
                let key = |p: &Path| (boundary_node_count(p), subpath_node_count(p));
                requested = if key(&common) > key(&a) { common } else { a };
            } else {
                requested = common;
            }
        }
        let req_boundary = scope_boundary(&requested);
        let dsr = deepest_scope_ref
            .map(|r| path_str(&r.path))
            .unwrap_or_default();
        for (r, b) in &boundaries {
            let prefix_ok = dsb.len() >= b.len() && dsb[..b.len()] == b[..];
            if !prefix_ok {
                if r.property.is_some() {
                    return err(format!("[row : {}] On the 'survey' sheet, the 'save_to' value is invalid. The entity list name '{}' has a reference in container scope '{}' which is not compatible with this 'save_to' reference in scope '{}'. Please either: check the spelling of the list name in the 'save_to', or copy either value into the desired container scope with a 'calculate' question then use that 'calculate' for the 'save_to'.", r.row, er.dataset, dsr, path_str(&r.path)));
                } else {
                    return err(format!("[row : {}] On the 'entities' sheet, the entity declaration is invalid. The entity list name '{}' has a reference in container scope '{}' which is not compatible with the variable reference to '{}' in scope '{}'. Please either: check the spelling of the variable references, or copy either value into the desired container scope with a 'calculate' question then use that 'calculate' for the 'save_to'.", er.row, er.dataset, dsr, r.question.clone().unwrap_or_default(), path_str(&r.path)));
                }
            }
            if r.property.is_some() && req_boundary != *b {
                return err(format!("[row : {}] On the 'survey' sheet, the 'save_to' value is invalid. The entity list name '{}' has a reference in container scope '{}' which is not compatible with this 'save_to' reference in scope '{}'. Please either: check the spelling of the list name in the 'save_to', or copy either value into the desired container scope with a 'calculate' question then use that 'calculate' for the 'save_to'.", r.row, er.dataset, path_str(&requested), path_str(&r.path)));
            }
        }
        Ok(AllocReq {
            scope: dsb,
            dataset: er.dataset.clone(),
            requested,
            row: er.row,
            saveto_lineages,
        })
    }

    fn allocate(&self) -> Result<Vec<(Path, String)>, ConvertError> {
        let mut scope_paths: IndexMap<Path, Vec<AllocReq>> = IndexMap::new();
        for er in self.refs.values() {
            let req = Self::allocation_request(er)?;
            scope_paths.entry(req.scope.clone()).or_default().push(req);
        }
        let survey = root_path();
        for (d, (_, row)) in &self.decls {
            if !self.refs.contains_key(d) {
                scope_paths
                    .entry(survey.clone())
                    .or_default()
                    .push(AllocReq {
                        scope: survey.clone(),
                        dataset: d.clone(),
                        requested: survey.clone(),
                        row: *row,
                        saveto_lineages: Vec::new(),
                    });
            }
        }
        if scope_paths.len() == 1 {
            if let Some((sp, reqs)) = scope_paths.iter().next() {
                if *sp == survey && reqs.len() == 1 {
                    return Ok(vec![(survey, reqs[0].dataset.clone())]);
                }
            }
        }
        let mut allocations: IndexMap<Path, String> = IndexMap::new();
        let mut reserved: HashMap<Path, String> = HashMap::new();
        for (sp, reqs) in scope_paths.iter_mut() {
            let limit = sp.len() as isize - 1;
            reqs.sort_by_key(|r| r.row);
            for req in reqs.iter() {
                let mut conflict: Option<String> = None;
                let mut depth = req.requested.len() as isize;
                while depth > limit {
                    let cur: Path = req.requested[..depth as usize].to_vec();
                    conflict = allocations
                        .get(&cur)
                        .cloned()
                        .or_else(|| reserved.get(&cur).cloned());
                    if conflict.is_some() {
                        let c2 = req
                            .saveto_lineages
                            .first()
                            .and_then(|l| reserved.get(l).cloned());
                        if let Some(c2) = c2 {
                            conflict = Some(c2);
                            break;
                        }
                        depth -= 1;
                        continue;
                    }
                    allocations.insert(cur.clone(), req.dataset.clone());
                    reserved.insert(cur.clone(), req.dataset.clone());
                    for lineage in &req.saveto_lineages {
                        let mut i = lineage.len();
                        while i + 1 > cur.len() && i > 0 {
                            reserved.insert(lineage[..i].to_vec(), req.dataset.clone());
                            i -= 1;
                        }
                    }
                    break;
                }
                if let Some(c) = conflict {
                    let other = self.decls.get(&c).map(|d| d.1).unwrap_or(0);
                    return err(format!("[row : {}] On the 'entities' sheet, the entity declaration is invalid. Each container (survey, group, repeat) may have only one entity declaration, but there are no valid containers available in the scope: '{}', which has been allocated to the entity on row '{}'. Please either: check which entities are referred to from the 'survey' sheetin the 'save_to' column, or check which questions are being referred to from the 'entities' sheet with variable references (such as in the 'label').", req.row, path_str(sp), other));
                }
            }
        }
        Ok(allocations.into_iter().collect())
    }

    #[allow(clippy::too_many_arguments)]
    fn inject(
        &self,
        children: &mut Vec<Value>,
        allocations: &[(Path, String)],
        current: &Path,
        prefixes: &HashSet<Path>,
        allocated: &mut HashSet<String>,
        has_repeat_ancestor: bool,
    ) {
        if let Some((_, d)) = allocations.iter().find(|(p, _)| p == current) {
            if !allocated.contains(d) {
                if let Some((decl, _)) = self.decls.get(d) {
                    let mut decl = decl.clone();
                    if has_repeat_ancestor {
                        if let Some(Value::Array(ch)) = decl.get_mut("children") {
                            for c in ch.iter_mut() {
                                if c.get("name").and_then(Value::as_str) == Some("id") {
                                    if let Some(Value::Array(acts)) = c.get_mut("actions") {
                                        if acts.len() == 1 {
                                            let v = acts[0]
                                                .get("value")
                                                .cloned()
                                                .unwrap_or(Value::Null);
                                            acts.push(json!({"name": "setvalue", "event": "odk-new-repeat", "value": v}));
                                        }
                                    }
                                }
                            }
                        }
                    }
                    children.push(json!({
                        "name": "meta", "type": "group", "control": {"bodyless": true},
                        "children": [Value::Object(decl)],
                    }));
                    allocated.insert(d.clone());
                }
            }
        }
        let mut has_rep = has_repeat_ancestor;
        for child in children.iter_mut() {
            let Some(m) = child.as_object_mut() else {
                continue;
            };
            let name = m.get("name").and_then(Value::as_str).map(str::to_string);
            let ty = m.get("type").and_then(Value::as_str).map(str::to_string);
            if let (Some(n), Some(t)) = (name, ty) {
                if t == "group" || t == "repeat" {
                    let mut cp = current.clone();
                    cp.push((n, t.clone()));
                    if !has_rep && t == "repeat" {
                        has_rep = true;
                    }
                    if prefixes.contains(&cp) {
                        let ch = m
                            .entry("children".to_string())
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(arr) = ch {
                            self.inject(arr, allocations, &cp, prefixes, allocated, has_rep);
                        }
                    }
                }
            }
        }
    }

    pub fn apply(&mut self, json: &mut Obj, children: &mut Vec<Value>) -> Result<(), ConvertError> {
        if self.decls.is_empty() {
            return Ok(());
        }
        let allocations = self.allocate()?;
        let mut prefixes: HashSet<Path> = HashSet::new();
        for (p, _) in &allocations {
            for i in 1..=p.len() {
                prefixes.insert(p[..i].to_vec());
            }
        }
        let mut allocated = HashSet::new();
        self.inject(
            children,
            &allocations,
            &root_path(),
            &prefixes,
            &mut allocated,
            false,
        );
        let v2025 =
            self.decls.len() > 1 || allocations.iter().any(|(p, _)| boundary_node_count(p) > 0);
        json.insert(
            "entity_version".into(),
            json!(if v2025 { "2025.1.0" } else { "2024.1.0" }),
        );
        Ok(())
    }
}

//! Applying a checked pyramid file (GeoPackage or simple CSV, `iaso_exchange::GpkgInput`) to a
//! version, inside the task's transaction: Iaso's GeoPackage import rules
//! (`iaso-import-export.md` §2.2) computed in memory and written set-wise.
//!
//! 1. types (`get_or_create` per layer, linked to the source's projects), groups (`groups`
//!    table: created or renamed, audited);
//! 2. references resolved against the file and the version (`source_ref` or `iaso:<id>`):
//!    unknown parent or group refs fail, naming the layer and feature;
//! 3. the final tree of the whole version is computed in memory (ids reserved for new units,
//!    parents from the file, others unchanged): a cycle fails; paths and depths follow;
//! 4. new units are inserted in multi-row statements, parents first; matched units are
//!    updated; moved units get their new paths; memberships are replaced where `group_refs`
//!    is given; one audit row per unit with a location or a shape.
//!
//! Every step runs in the task's transaction: any error or a kill leaves nothing.

use crate::{TaskContext, TaskError, TaskTx};
use iaso_domain::{AccountId, OrgUnitTypeId, UserId};
use iaso_exchange::gpkg_import::{GpkgInput, UnitIn};
use iaso_store::org_unit_io::{
    self, ref_of, AuditRow, ImportSource, ImportUpdate, ImportVersion, TreeMove,
};
use iaso_store::org_units::{insert_org_units_bulk, reserve_org_unit_ids, BulkOrgUnit};
use std::collections::{HashMap, HashSet};

/// Units written per statement batch (and between two kill checkpoints).
const BATCH: usize = 5_000;

/// Who and what an import writes.
pub struct Target<'a> {
    pub account: AccountId,
    pub user: Option<UserId>,
    pub source: &'a ImportSource,
    pub version: ImportVersion,
    pub validation_status: &'a str,
    pub audit_source: &'a str,
}

/// The tree of a version after the import: parent of every unit, by id.
pub struct Tree {
    pub parent: HashMap<i64, Option<i64>>,
}

impl Tree {
    /// Paths (`1.5.42`) of every unit, or the ids of a cycle.
    pub fn paths(&self) -> Result<HashMap<i64, String>, Vec<i64>> {
        let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut roots = Vec::new();
        for (id, p) in &self.parent {
            match p {
                Some(p) => children.entry(*p).or_default().push(*id),
                None => roots.push(*id),
            }
        }
        let mut paths: HashMap<i64, String> = HashMap::with_capacity(self.parent.len());
        let mut stack: Vec<i64> = roots;
        for r in &stack {
            paths.insert(*r, r.to_string());
        }
        while let Some(id) = stack.pop() {
            if let Some(kids) = children.get(&id) {
                let base = paths.get(&id).cloned().unwrap_or_default();
                for k in kids {
                    paths.insert(*k, format!("{base}.{k}"));
                    stack.push(*k);
                }
            }
        }
        if paths.len() == self.parent.len() {
            return Ok(paths);
        }
        // Some unit is not under a root: follow its parents until one repeats.
        let start = self
            .parent
            .keys()
            .copied()
            .filter(|id| !paths.contains_key(id))
            .min()
            .unwrap_or(0);
        let mut seen = Vec::new();
        let mut cur = start;
        while !seen.contains(&cur) {
            seen.push(cur);
            match self.parent.get(&cur).copied().flatten() {
                Some(p) => cur = p,
                None => break,
            }
        }
        let from = seen.iter().position(|x| *x == cur).unwrap_or(0);
        Err(seen[from..].to_vec())
    }
}

fn fail(msg: String) -> TaskError {
    TaskError::Failed(msg)
}

/// Runs the import; returns the number of units of the file.
pub async fn apply(
    ctx: &TaskContext,
    tx: &mut TaskTx,
    t: &Target<'_>,
    input: GpkgInput,
) -> Result<i64, TaskError> {
    let total = input.units.len() as i64;
    let version = t.version.id;
    let started = std::time::Instant::now();
    let phase = |name: &str| {
        tracing::info!(
            phase = name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import progress"
        );
    };
    let first_project = t.source.project_ids.first().copied();

    // 1. Types and groups.
    ctx.progress(0, total, "Creating org unit types and groups")
        .await?;
    let mut layer_types: Vec<OrgUnitTypeId> = Vec::with_capacity(input.layers.len());
    for l in &input.layers {
        layer_types.push(
            org_unit_io::get_or_create_type(
                &mut **tx,
                t.account,
                &l.type_name,
                Some(l.depth),
                first_project,
                &t.source.project_ids,
            )
            .await?,
        );
    }
    let existing_groups = org_unit_io::version_groups(&mut **tx, version).await?;
    let mut group_by_ref: HashMap<String, i64> = existing_groups
        .iter()
        .map(|g| (ref_of(g.id, g.source_ref.as_deref()), g.id))
        .collect();
    for g in &input.groups {
        let current = group_by_ref
            .get(&g.reference)
            .and_then(|id| existing_groups.iter().find(|e| e.id == *id));
        let id = org_unit_io::upsert_group(
            &mut **tx,
            &org_unit_io::Author {
                account: t.account,
                user: t.user,
                source: t.audit_source,
            },
            version,
            current,
            &g.reference,
            &g.name,
        )
        .await?;
        group_by_ref.insert(g.reference.clone(), id);
    }

    // 2. References.
    ctx.progress(0, total, "Retrieving existing org units' references")
        .await?;
    let index = org_unit_io::version_unit_index(&mut **tx, version).await?;
    let mut existing_by_ref: HashMap<String, usize> = HashMap::with_capacity(index.len());
    for (i, u) in index.iter().enumerate() {
        existing_by_ref
            .entry(ref_of(u.id, u.source_ref.as_deref()))
            .or_insert(i);
    }
    let file_refs: HashSet<&str> = input.units.iter().map(|u| u.reference.as_str()).collect();
    for u in &input.units {
        if let Some(p) = &u.parent_ref {
            if !file_refs.contains(p.as_str()) && !existing_by_ref.contains_key(p) {
                return Err(fail(format!(
                    "{}: Bad GPKG parent {p} for {} don't exist in input or SourceVersion",
                    input.place(u),
                    u.name
                )));
            }
        }
        if let Some(groups) = &u.group_refs {
            let unknown: Vec<&str> = groups
                .iter()
                .filter(|g| !group_by_ref.contains_key(*g))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                return Err(fail(format!(
                    "{}: Bad GPKG group {unknown:?} for {} don't exist in input or SourceVersion",
                    input.place(u),
                    u.name
                )));
            }
        }
    }
    // Codes of valid units are unique in a version: catch duplicates of the file by name.
    if t.validation_status == "VALID" {
        let mut codes: HashMap<&str, &UnitIn> = HashMap::new();
        for u in &input.units {
            if u.code.is_empty() {
                continue;
            }
            if let Some(other) = codes.insert(u.code.as_str(), u) {
                return Err(fail(format!(
                    "{}: code '{}' is also used by {} ({}); codes of valid org units are unique in a version",
                    input.place(u),
                    u.code,
                    input.place(other),
                    other.name
                )));
            }
        }
    }

    // 3. Ids and the final tree.
    let new_count = input
        .units
        .iter()
        .filter(|u| !existing_by_ref.contains_key(&u.reference))
        .count();
    let mut fresh = reserve_org_unit_ids(&mut **tx, new_count)
        .await?
        .into_iter();
    let mut id_by_ref: HashMap<&str, i64> = HashMap::with_capacity(input.units.len());
    let mut unit_ids: Vec<i64> = Vec::with_capacity(input.units.len());
    for u in &input.units {
        let id = match existing_by_ref.get(&u.reference) {
            Some(i) => index[*i].id,
            None => fresh
                .next()
                .ok_or_else(|| TaskError::internal("not enough reserved ids"))?,
        };
        id_by_ref.insert(u.reference.as_str(), id);
        unit_ids.push(id);
    }
    let resolve = |r: &str| -> Option<i64> {
        id_by_ref
            .get(r)
            .copied()
            .or_else(|| existing_by_ref.get(r).map(|i| index[*i].id))
    };
    let mut tree = Tree {
        parent: index.iter().map(|u| (u.id, u.parent_id)).collect(),
    };
    for (u, id) in input.units.iter().zip(&unit_ids) {
        tree.parent
            .insert(*id, u.parent_ref.as_deref().and_then(resolve));
    }
    let paths = tree.paths().map_err(|cycle| {
        let refs_by_id: HashMap<i64, String> = input
            .units
            .iter()
            .zip(&unit_ids)
            .map(|(u, id)| (*id, format!("{} ({})", u.reference, input.place(u))))
            .chain(
                index
                    .iter()
                    .map(|u| (u.id, ref_of(u.id, u.source_ref.as_deref()))),
            )
            .collect();
        let names: Vec<String> = cycle
            .iter()
            .map(|id| {
                refs_by_id
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.to_string())
            })
            .collect();
        fail(format!(
            "The parents form a cycle: {} → back to the first",
            names.join(" → ")
        ))
    })?;
    drop(tree);

    // Snapshots of matched units before any change (audit).
    let matched: Vec<i64> = input
        .units
        .iter()
        .zip(&unit_ids)
        .filter(|(u, _)| existing_by_ref.contains_key(&u.reference))
        .map(|(_, id)| *id)
        .collect();
    let before = org_unit_io::unit_snapshots(&mut **tx, &matched).await?;

    phase("references and tree computed");
    // 4a. New units, parents first.
    let mut new_units: Vec<(usize, &UnitIn, i64)> = input
        .units
        .iter()
        .zip(&unit_ids)
        .filter(|(u, _)| !existing_by_ref.contains_key(&u.reference))
        .map(|(u, id)| {
            let depth = paths.get(id).map_or(0, |p| p.matches('.').count());
            (depth, u, *id)
        })
        .collect();
    new_units.sort_by_key(|(d, _, id)| (*d, *id));
    let mut done = 0i64;
    for chunk in new_units.chunks(BATCH) {
        ctx.progress(
            done,
            total,
            format!("Creating org units: {done} of {total}"),
        )
        .await?;
        let rows: Vec<BulkOrgUnit> = chunk
            .iter()
            .map(|(_, u, id)| BulkOrgUnit {
                id: *id,
                parent_id: u.parent_ref.as_deref().and_then(resolve),
                path: paths.get(id).cloned().unwrap_or_else(|| id.to_string()),
                name: u.name.clone(),
                validation_status: t.validation_status.to_string(),
                org_unit_type_id: layer_types.get(u.layer).map(|t| t.get()),
                source_ref: Some(u.reference.clone()),
                code: u.code.clone(),
                uuid: None,
                aliases: None,
                location: u.location,
                geom: u.geom.clone(),
                opening_date: u.opening_date.value(),
                closed_date: u.closed_date.value(),
            })
            .collect();
        insert_org_units_bulk(&mut **tx, version, &rows, t.user)
            .await
            .map_err(code_conflict)?;
        done += chunk.len() as i64;
    }

    phase("new units inserted");
    // 4b. Matched units.
    for (u, id) in input.units.iter().zip(&unit_ids) {
        if !existing_by_ref.contains_key(&u.reference) {
            continue;
        }
        if done % 1_000 == 0 {
            ctx.progress(
                done,
                total,
                format!("Updating org units: {done} of {total}"),
            )
            .await?;
        }
        org_unit_io::apply_import_update(
            &mut **tx,
            &ImportUpdate {
                id: *id,
                name: u.name.clone(),
                org_unit_type_id: layer_types.get(u.layer).map_or(0, |t| t.get()),
                validation_status: t.validation_status.to_string(),
                source_ref: u.reference.clone(),
                code: u.code.clone(),
                opening_date: u.opening_date.change(),
                closed_date: u.closed_date.change(),
                location: u.location,
                geom: u.geom.clone(),
            },
        )
        .await
        .map_err(|e| match e {
            iaso_store::StoreError::Conflict(m) => fail(format!("{}: {m}", input.place(u))),
            other => other.into(),
        })?;
        done += 1;
    }

    // 4c. Moves of existing units (paths of whole subtrees may change).
    let moves: Vec<TreeMove> = index
        .iter()
        .filter_map(|u| {
            let path = paths.get(&u.id)?;
            let parent = path_parent(path);
            (path != &u.path || parent != u.parent_id).then(|| TreeMove {
                id: u.id,
                parent_id: parent,
                path: path.clone(),
            })
        })
        .collect();
    if !moves.is_empty() {
        ctx.progress(done, total, format!("Moving {} org units", moves.len()))
            .await?;
        org_unit_io::apply_tree_moves(&mut **tx, &moves).await?;
    }
    drop(paths);

    phase("matched units updated and moved");
    // 4d. Group memberships.
    ctx.progress(done, total, "Writing group memberships")
        .await?;
    let mut replaced: Vec<i64> = Vec::new();
    let mut pairs: Vec<(i64, i64)> = Vec::new();
    for (u, id) in input.units.iter().zip(&unit_ids) {
        if let Some(groups) = &u.group_refs {
            if existing_by_ref.contains_key(&u.reference) {
                replaced.push(*id);
            }
            let mut gs: Vec<i64> = groups
                .iter()
                .filter_map(|g| group_by_ref.get(g).copied())
                .collect();
            gs.sort_unstable();
            gs.dedup();
            pairs.extend(gs.into_iter().map(|g| (g, *id)));
        }
    }
    org_unit_io::delete_memberships(&mut **tx, &replaced).await?;
    org_unit_io::insert_memberships(&mut **tx, &pairs).await?;

    phase("memberships written");
    // 4e. Audit: units that have a location or a shape after the import (as Iaso).
    ctx.progress(done, total, "Storing the audit log").await?;
    let logged: Vec<i64> = input
        .units
        .iter()
        .zip(&unit_ids)
        .filter(|(u, id)| {
            u.location.is_some()
                || u.geom.is_some()
                || before.get(id).is_some_and(|s| {
                    !s[0]["fields"]["location"].is_null() || !s[0]["fields"]["geom"].is_null()
                })
        })
        .map(|(_, id)| *id)
        .collect();
    for chunk in logged.chunks(BATCH) {
        ctx.checkpoint().await?;
        let after = org_unit_io::unit_snapshots(&mut **tx, chunk).await?;
        let rows: Vec<AuditRow> = chunk
            .iter()
            .filter_map(|id| {
                Some(AuditRow {
                    object_id: *id,
                    past: before
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| serde_json::json!([])),
                    new: after.get(id)?.clone(),
                })
            })
            .collect();
        org_unit_io::insert_audit_bulk(
            &mut **tx,
            t.account,
            "iaso.orgunit",
            t.audit_source,
            t.user,
            &rows,
        )
        .await?;
    }
    phase("audit written");
    ctx.progress(total, total, format!("Imported {total} OrgUnits"))
        .await?;
    Ok(total)
}

/// The parent id written in a path (`None` for a root).
pub fn path_parent(path: &str) -> Option<i64> {
    let mut parts = path.rsplit('.');
    parts.next();
    parts.next().and_then(|p| p.parse().ok())
}

/// A unique violation on codes becomes a message for the person.
pub fn code_conflict(e: iaso_store::StoreError) -> TaskError {
    if let iaso_store::StoreError::Db(db) = &e {
        if db.is_unique_on("code")
            || matches!(db, iaso_db::DbError::UniqueViolation { constraint } if constraint.contains("code"))
        {
            return fail(
                "Another valid OrgUnit already exists in this version with a code of the file (codes of valid org units are unique in a version)".into(),
            );
        }
    }
    e.into()
}

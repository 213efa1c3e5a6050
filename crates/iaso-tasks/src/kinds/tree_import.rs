//! `tree_importer` (Iaso's management command of that name, as a task): builds a pyramid from
//! a CSV or XLSX table with a data dictionary (level columns top first, leaf name, reference
//! and coordinates), or reads the simple CSV layout (one row per unit with `ref` and
//! `parent_ref`, imported with the GeoPackage rules). One transaction: a bad row fails the
//! whole import (Iaso's command commits what it read before the bad row).

use super::pyramid::{self, Target};
use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_domain::{DataSourceId, OrgUnitTypeId};
use iaso_exchange::tree::{self, DataDict};
use iaso_store::audit::sources as audit_sources;
use iaso_store::org_unit_io::{self, ImportSource};
use iaso_store::org_units::{insert_org_units_bulk, reserve_org_unit_ids, BulkOrgUnit};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const NAME: &str = "tree_importer";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Params {
    pub file_key: String,
    pub file_name: String,
    pub data_source_id: i64,
    pub version_number: Option<i64>,
    /// Iaso's data dictionary; `None` = the simple CSV layout.
    pub data_dict: Option<DataDict>,
    /// Name of the leaf type (Iaso's `--main_org_unit_name`).
    pub main_org_unit_name: Option<String>,
    /// `csv` or `xlsx`.
    pub format: String,
    /// CSV delimiter (default `;` with a data dictionary, `,` for the simple layout).
    pub delimiter: Option<String>,
    /// Simple layout only: `VALID` or `NEW` (a data-dictionary import makes everything VALID).
    pub validation_status: Option<String>,
}

pub struct TreeImport;

/// Iaso's type lookup of the tree importer: a type of that name linked to the project, else
/// any type of the account with that name, else a new one (short name: 4 first characters).
async fn type_by_name(
    tx: &mut crate::TaskTx,
    ctx: &TaskContext,
    source: &ImportSource,
    name: &str,
) -> Result<OrgUnitTypeId, TaskError> {
    let types = ctx.store().list_org_unit_types(ctx.account_id()).await?;
    let project = source.project_ids.first().copied();
    let found = types
        .iter()
        .filter(|t| t.name == name)
        .find(|t| project.is_some_and(|p| t.project_ids.iter().any(|x| x.get() == p)))
        .or_else(|| types.iter().find(|t| t.name == name));
    let id = match found {
        Some(t) => t.id,
        None => {
            iaso_store::org_unit_types::insert_org_unit_type(
                &mut **tx,
                ctx.account_id(),
                &iaso_store::org_unit_types::TypeChanges {
                    name: Some(name.to_string()),
                    short_name: Some(name.chars().take(4).collect()),
                    ..Default::default()
                },
            )
            .await?
        }
    };
    org_unit_io::link_type_to_projects(&mut **tx, id, &source.project_ids).await?;
    Ok(id)
}

#[async_trait::async_trait]
impl TaskHandler for TreeImport {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let p: Params = ctx.params()?;
        ctx.message(format!("Reading {}", p.file_name)).await?;
        let bytes = ctx.files().get_bytes(&p.file_key).await?;
        let xlsx = p.format == "xlsx";
        let delimiter = p
            .delimiter
            .as_deref()
            .and_then(|d| d.bytes().next())
            .unwrap_or(if p.data_dict.is_some() { b';' } else { b',' });
        let fail =
            |e: iaso_exchange::ImportError| TaskError::Failed(format!("{}: {}", p.file_name, e.0));
        let table = tokio::task::spawn_blocking(move || {
            if xlsx {
                tree::read_xlsx(&bytes)
            } else {
                tree::read_csv(&bytes, delimiter)
            }
        })
        .await
        .map_err(TaskError::internal)?
        .map_err(fail)?;

        let mut tx = ctx.begin().await?;
        let source = match org_unit_io::import_source(
            &mut *tx,
            ctx.account_id(),
            DataSourceId(p.data_source_id),
        )
        .await
        {
            Ok(s) => s,
            Err(iaso_store::StoreError::NotFound) => {
                return Err(TaskError::fail("Unauthorized DataSource"))
            }
            Err(e) => return Err(e.into()),
        };
        if source.project_ids.is_empty() {
            return Err(TaskError::fail(
                "DataSource must have at least one project assigned",
            ));
        }
        let version =
            org_unit_io::import_version(&mut *tx, &source, p.version_number, None).await?;

        let Some(dict) = &p.data_dict else {
            // The simple layout: the GeoPackage rules on a table.
            let input = tree::simple_from_table(&table).map_err(fail)?;
            let status = match p.validation_status.as_deref() {
                Some(s) if s.eq_ignore_ascii_case("VALID") => "VALID",
                _ => "NEW",
            };
            let n = pyramid::apply(
                ctx,
                &mut tx,
                &Target {
                    account: ctx.account_id(),
                    user: ctx.user_id(),
                    source: &source,
                    version,
                    validation_status: status,
                    audit_source: audit_sources::GPKG_IMPORT,
                },
                input,
            )
            .await
            .map_err(|e| match e {
                TaskError::Failed(m) => TaskError::Failed(format!("{}: {m}", p.file_name)),
                other => other,
            })?;
            return Ok(TaskOutcome::message(format!("Imported {n} OrgUnits")));
        };

        let input = tree::tree_from_table(&table, dict).map_err(fail)?;
        drop(table);
        // Types: one per level, the leaf type; each level accepts every deeper type.
        let leaf_name = p
            .main_org_unit_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| dict.name.clone());
        let leaf_type = type_by_name(&mut tx, ctx, &source, &leaf_name).await?;
        let mut level_types = Vec::new();
        for name in &input.levels {
            level_types.push(type_by_name(&mut tx, ctx, &source, name).await?);
        }
        for (i, t) in level_types.iter().enumerate() {
            for sub in level_types[i + 1..]
                .iter()
                .chain(std::iter::once(&leaf_type))
            {
                if sub != t {
                    org_unit_io::link_sub_type(&mut *tx, *t, *sub).await?;
                }
            }
        }

        // Existing level units of the version, by (type, parent, name).
        let index = org_unit_io::version_unit_index(&mut *tx, version.id).await?;
        let paths: HashMap<i64, String> = index.iter().map(|u| (u.id, u.path.clone())).collect();
        let mut known: HashMap<(i64, Option<i64>, String), Node> = HashMap::new();
        for u in &index {
            if let Some(t) = u.org_unit_type_id {
                known
                    .entry((t, u.parent_id, u.name.clone()))
                    .or_insert(Node::Existing(u.id));
            }
        }
        drop(index);
        // New nodes get positions first, real ids after.
        struct NewNode {
            parent: Option<Node>,
            name: String,
            type_id: i64,
            source_ref: Option<String>,
            location: Option<iaso_geo::Point>,
            depth: usize,
        }
        let mut nodes: Vec<NewNode> = Vec::new();
        let total = input.leaves.len() as i64;
        for (i, leaf) in input.leaves.iter().enumerate() {
            if i.is_multiple_of(5_000) {
                ctx.progress(i as i64, total, format!("Reading row {}", leaf.row))
                    .await?;
            }
            let mut parent: Option<Node> = None;
            let mut depth = 0;
            for (li, name) in &leaf.levels {
                let t = level_types[*li].get();
                let parent_key = match parent {
                    Some(Node::Existing(id)) => Some(id),
                    Some(Node::New(k)) => Some(-(k as i64) - 1),
                    None => None,
                };
                let key = (t, parent_key, name.trim().to_string());
                let node = match known.get(&key) {
                    Some(n) => *n,
                    None => {
                        nodes.push(NewNode {
                            parent,
                            name: name.trim().to_string(),
                            type_id: t,
                            source_ref: None,
                            location: None,
                            depth,
                        });
                        let n = Node::New(nodes.len() - 1);
                        known.insert(key, n);
                        n
                    }
                };
                depth = match node {
                    Node::New(k) => nodes[k].depth + 1,
                    Node::Existing(id) => paths.get(&id).map_or(1, |p| p.matches('.').count() + 1),
                };
                parent = Some(node);
            }
            nodes.push(NewNode {
                parent,
                name: leaf.name.clone(),
                type_id: leaf_type.get(),
                source_ref: Some(leaf.source_ref.clone()),
                location: leaf.location,
                depth,
            });
        }
        let ids = reserve_org_unit_ids(&mut *tx, nodes.len()).await?;
        let mut new_paths: Vec<String> = Vec::with_capacity(nodes.len());
        // Parents always precede their children in `nodes`.
        for (k, n) in nodes.iter().enumerate() {
            let path = match n.parent {
                None => ids[k].to_string(),
                Some(Node::Existing(id)) => {
                    format!("{}.{}", paths.get(&id).cloned().unwrap_or_default(), ids[k])
                }
                Some(Node::New(pk)) => format!("{}.{}", new_paths[pk], ids[k]),
            };
            new_paths.push(path);
        }
        let levels = nodes.iter().filter(|n| n.source_ref.is_none()).count();
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(|k| (new_paths[*k].matches('.').count(), *k));
        let mut done = 0i64;
        for chunk in order.chunks(5_000) {
            ctx.progress(
                done,
                nodes.len() as i64,
                format!("Creating org units: {done}"),
            )
            .await?;
            let rows: Vec<BulkOrgUnit> = chunk
                .iter()
                .map(|k| {
                    let n = &nodes[*k];
                    BulkOrgUnit {
                        id: ids[*k],
                        parent_id: match n.parent {
                            None => None,
                            Some(Node::Existing(id)) => Some(id),
                            Some(Node::New(pk)) => Some(ids[pk]),
                        },
                        path: new_paths[*k].clone(),
                        name: n.name.clone(),
                        validation_status: "VALID".into(),
                        org_unit_type_id: Some(n.type_id),
                        source_ref: n.source_ref.clone(),
                        code: String::new(),
                        uuid: None,
                        aliases: None,
                        location: n.location,
                        geom: None,
                        opening_date: None,
                        closed_date: None,
                    }
                })
                .collect();
            insert_org_units_bulk(&mut *tx, version.id, &rows, ctx.user_id()).await?;
            done += chunk.len() as i64;
        }
        let created = nodes.len();
        ctx.progress(created as i64, created as i64, "").await?;
        Ok(TaskOutcome::message(format!(
            "Imported {created} OrgUnits ({levels} parent levels, {} leaves)",
            created - levels
        )))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    Existing(i64),
    New(usize),
}

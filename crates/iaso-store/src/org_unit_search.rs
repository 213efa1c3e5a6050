//! Listing and searching org units: Iaso's filters, ordering and page numbers, the lazy tree.
//!
//! A list runs in two steps: the ids of the page are chosen on narrow indexes (version,
//! status, sort key), then the full rows of those ids are loaded with their joins. Page
//! numbers are Iaso's API, so an OFFSET cannot be avoided; the store reads from whichever end
//! of the ordered set is closer (reversing the order for the second half), so the last pages
//! cost what the first ones do and the worst case is the middle page.

use crate::org_units::{load_org_units_by_ids, path_ids, push_subtrees, OrgUnit, OrgUnitScope};
use crate::{Store, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use iaso_db::{sql, Backend, Conn, Sql};
use std::collections::HashMap;

/// The text search of Iaso (`search=`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Search {
    /// Name contains (case-insensitive) or an alias equals the text.
    Text(String),
    /// `ids:1,2`
    Ids(Vec<i64>),
    /// `refs:a,b,iaso:12`
    Refs { refs: Vec<String>, ids: Vec<i64> },
    /// `codes:a,b`
    Codes(Vec<String>),
}

impl Search {
    pub fn parse(value: &str) -> Search {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        if let Some(rest) = value.strip_prefix("ids:") {
            Search::Ids(split(rest).iter().filter_map(|s| s.parse().ok()).collect())
        } else if let Some(rest) = value.strip_prefix("refs:") {
            let mut refs = Vec::new();
            let mut ids = Vec::new();
            for r in rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':'))
                .filter(|s| !s.is_empty())
            {
                match r.strip_prefix("iaso:").map(str::parse::<i64>) {
                    Some(Ok(id)) => ids.push(id),
                    Some(Err(_)) => {}
                    None => refs.push(r.to_string()),
                }
            }
            Search::Refs { refs, ids }
        } else if let Some(rest) = value.strip_prefix("codes:") {
            Search::Codes(split(rest))
        } else {
            Search::Text(value.to_string())
        }
    }
}

/// Geography filter (`geography=`, `withShape=`, `withLocation=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GeoFilter {
    pub has_location: Option<bool>,
    pub has_shape: Option<bool>,
    /// `geography=any`: a location or a shape.
    pub any: bool,
    /// `geography=none`.
    pub none: bool,
}

/// One set of Iaso list filters (one entry of `searches`, or the query string).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrgUnitFilter {
    /// `None` = every status (`validation_status=all`).
    pub validation_statuses: Option<Vec<String>>,
    pub search: Option<Search>,
    pub groups: Vec<i64>,
    /// Restrict to these versions (from `version`, `source`, `defaultVersion`, `sourceId`...).
    pub versions: Option<Vec<i64>>,
    /// Units whose type is linked to this project.
    pub project: Option<i64>,
    pub type_ids: Vec<i64>,
    pub geo: GeoFilter,
    /// `Some(None)`: roots only; `Some(Some(id))`: children of id.
    pub parent: Option<Option<i64>>,
    pub ids: Option<Vec<i64>>,
    /// Units in the sub-trees of these units (the units included).
    pub hierarchy_of: Vec<i64>,
    /// Leave this unit out (Iaso's `onlyDirectChildren=false` with `orgUnitParentId`).
    pub exclude_id: Option<i64>,
    pub excluded_hierarchies: Vec<i64>,
    pub sub_source: Option<String>,
    pub type_category: Option<String>,
    pub ignore_empty_names: bool,
    pub depth: Option<i64>,
    /// Open on that day: opened on or before it, not closed before or on it.
    pub open_on: Option<NaiveDate>,
    pub opening_date: Option<NaiveDate>,
    pub closed_date: Option<NaiveDate>,
    /// `[min_lon, min_lat, max_lon, max_lat]`: bounding boxes intersecting this box.
    pub bbox: Option<[f64; 4]>,
    /// Units with a location or a simplified shape (map mode).
    pub located: bool,
    pub updated_since: Option<DateTime<Utc>>,
}

/// Result of a list query.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgUnitListing {
    pub items: Vec<OrgUnit>,
    pub count: i64,
    /// Matches per search, for `searches` queries.
    pub counts: Vec<i64>,
    /// The page actually served (clamped to the last one).
    pub page: i64,
}

#[derive(Debug, Clone)]
struct SortKey {
    expr: &'static str,
    desc: bool,
    nullable: bool,
}

fn sort_keys(order: &[String]) -> Vec<SortKey> {
    let mut keys = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let key = key.trim();
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        let (expr, nullable) = match key {
            "id" => ("ou.id", false),
            "name" => ("ou.name_key", false),
            "validation_status" => ("ou.validation_status", false),
            "source_ref" => ("ou.source_ref", true),
            "code" => ("ou.code", false),
            "created_at" => ("ou.created_at", false),
            "updated_at" => ("ou.updated_at", false),
            "source_created_at" => ("ou.source_created_at", true),
            "opening_date" => ("ou.opening_date", true),
            "closed_date" => ("ou.closed_date", true),
            "depth" | "path__depth" => ("ou.depth", false),
            "path" => ("ou.path", false),
            "uuid" => ("ou.uuid", true),
            "sub_source" => ("ou.sub_source", true),
            "org_unit_type__name" | "org_unit_type_name" => (
                "(SELECT lower(t_o.name) FROM org_unit_types t_o WHERE t_o.id = ou.org_unit_type_id)",
                true,
            ),
            "org_unit_type__short_name" => (
                "(SELECT lower(t_o.short_name) FROM org_unit_types t_o WHERE t_o.id = ou.org_unit_type_id)",
                true,
            ),
            "org_unit_type__depth" => (
                "(SELECT t_o.depth FROM org_unit_types t_o WHERE t_o.id = ou.org_unit_type_id)",
                true,
            ),
            "parent__name" | "parent_name" => (
                "(SELECT p_o.name_key FROM org_units p_o WHERE p_o.id = ou.parent_id)",
                true,
            ),
            "version__data_source__name" | "source" => (
                "(SELECT lower(ds_o.name) FROM source_versions sv_o JOIN data_sources ds_o ON ds_o.id = sv_o.data_source_id WHERE sv_o.id = ou.version_id)",
                false,
            ),
            "version__number" | "version" => (
                "(SELECT sv_o.number FROM source_versions sv_o WHERE sv_o.id = ou.version_id)",
                false,
            ),
            _ => continue,
        };
        if keys.iter().any(|k: &SortKey| k.expr == expr) {
            continue;
        }
        keys.push(SortKey {
            expr,
            desc,
            nullable,
        });
    }
    if !keys.iter().any(|k| k.expr == "ou.id") {
        keys.push(SortKey {
            expr: "ou.id",
            desc: false,
            nullable: false,
        });
    }
    keys
}

/// `ORDER BY` items; `reverse` flips every direction (reading from the end). Nulls sort as
/// PostgreSQL (and so Iaso) does: last ascending, first descending.
fn order_items(keys: &[SortKey], reverse: bool, alias_cols: bool) -> String {
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let desc = k.desc != reverse;
            let expr = if alias_cols {
                format!("s{i}")
            } else {
                k.expr.to_string()
            };
            let nulls = if k.nullable {
                if desc {
                    " NULLS FIRST"
                } else {
                    " NULLS LAST"
                }
            } else {
                ""
            };
            format!("{expr} {}{nulls}", if desc { "DESC" } else { "ASC" })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Paths of the units named by a filter's hierarchy clauses, resolved once.
#[derive(Debug, Default, Clone)]
struct Resolved {
    hierarchy: Option<Vec<String>>,
    excluded: Vec<String>,
    /// SQLite, text search of a rare term: the FTS5 phrase that finds every unit whose name or
    /// aliases contain it (trigram table; rechecked by the `LIKE`). `None`: walk the name index.
    trigram_phrase: Option<String>,
    /// SQLite only: write the hierarchy ranges so that no index serves them (`+ou.path`),
    /// making the planner walk the index of the ORDER BY instead of sorting the sub-tree.
    walk_order_index: bool,
}

/// Above this many trigram matches (in all accounts) a term is frequent: walking the name index
/// finds a page of matches sooner than sorting every candidate by name.
const RARE_TERM_MATCHES: i64 = 50_000;

/// The trigram phrase of a rare text search on SQLite (the table needs three characters).
async fn trigram_phrase(c: &mut impl Conn, search: Option<&Search>) -> StoreResult<Option<String>> {
    let Some(Search::Text(term)) = search else {
        return Ok(None);
    };
    let term = term.to_lowercase();
    if c.backend() != Backend::Sqlite || term.chars().count() < 3 {
        return Ok(None);
    }
    // An FTS5 string: the term as one phrase, which the trigram tokenizer matches as a substring.
    let phrase = format!("\"{}\"", term.replace('"', "\"\""));
    let (n,): (i64,) = c
        .fetch_one(sql!(
            "SELECT COUNT(*) FROM (SELECT rowid FROM org_units_trgm WHERE org_units_trgm MATCH $1 LIMIT $2)",
            phrase.clone(),
            RARE_TERM_MATCHES + 1
        ))
        .await?;
    Ok((n <= RARE_TERM_MATCHES).then_some(phrase))
}

async fn resolve(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    f: &OrgUnitFilter,
) -> StoreResult<Resolved> {
    async fn paths(
        c: &mut impl Conn,
        scope: &OrgUnitScope,
        ids: &[i64],
    ) -> StoreResult<Vec<String>> {
        if ids.is_empty() || scope.versions.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT ou.path FROM org_units ou WHERE ou.id IN (");
        q.bind_list(ids.iter().copied()).push(")");
        scope.push(&mut q, "ou");
        let rows: Vec<(String,)> = c.fetch_all(q).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
    Ok(Resolved {
        hierarchy: if f.hierarchy_of.is_empty() {
            None
        } else {
            Some(paths(c, scope, &f.hierarchy_of).await?)
        },
        excluded: paths(c, scope, &f.excluded_hierarchies).await?,
        trigram_phrase: trigram_phrase(c, f.search.as_ref()).await?,
        walk_order_index: false,
    })
}

/// `WHERE` conditions of one filter (after `WHERE 1 = 1`).
fn push_filter(
    q: &mut Sql,
    backend: Backend,
    scope: &OrgUnitScope,
    f: &OrgUnitFilter,
    r: &Resolved,
) {
    let versions: Vec<i64> = match &f.versions {
        Some(v) => scope
            .versions
            .iter()
            .copied()
            .filter(|x| v.contains(x))
            .collect(),
        None => scope.versions.clone(),
    };
    if versions.is_empty() {
        q.push(" AND 1 = 0");
        return;
    }
    q.push(" AND ou.version_id IN (")
        .bind_list(versions)
        .push(")");
    push_subtrees(q, "ou", &scope.roots);
    if let Some(statuses) = &f.validation_statuses {
        if statuses.is_empty() {
            q.push(" AND 1 = 0");
        } else {
            q.push(" AND ou.validation_status IN (")
                .bind_list(statuses.iter().map(String::as_str))
                .push(")");
        }
    }
    match &f.search {
        None => {}
        Some(Search::Text(t)) => {
            if let Some(phrase) = &r.trigram_phrase {
                q.push(
                    " AND ou.id IN (SELECT rowid FROM org_units_trgm WHERE org_units_trgm MATCH ",
                )
                .bind(phrase.clone())
                .push(")");
            }
            let alias = format!("%|{}|%", crate::like_contains(t).trim_matches('%'));
            q.push(" AND (ou.name_key LIKE ")
                .bind(crate::like_contains(t))
                .push(" ESCAPE '\\' OR ou.aliases_key LIKE ")
                .bind(alias)
                .push(" ESCAPE '\\')");
        }
        Some(Search::Ids(ids)) => push_in_i64(q, "ou.id", ids),
        Some(Search::Codes(codes)) => push_in_text(q, "ou.code", codes),
        Some(Search::Refs { refs, ids }) => {
            if refs.is_empty() && ids.is_empty() {
                q.push(" AND 1 = 0");
            } else {
                q.push(" AND (1 = 0");
                if !refs.is_empty() {
                    q.push(" OR ou.source_ref IN (")
                        .bind_list(refs.iter().map(String::as_str))
                        .push(")");
                }
                if !ids.is_empty() {
                    q.push(" OR ou.id IN (")
                        .bind_list(ids.iter().copied())
                        .push(")");
                }
                q.push(")");
            }
        }
    }
    if !f.groups.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM group_org_units gu WHERE gu.org_unit_id = ou.id AND gu.group_id IN (")
            .bind_list(f.groups.iter().copied())
            .push("))");
    }
    if let Some(p) = f.project {
        q.push(" AND ou.org_unit_type_id IN (SELECT org_unit_type_id FROM org_unit_type_projects WHERE project_id = ")
            .bind(p)
            .push(")");
    }
    if !f.type_ids.is_empty() {
        push_in_i64(q, "ou.org_unit_type_id", &f.type_ids);
    }
    let has_location = "ou.latitude IS NOT NULL";
    let has_shape = "ou.simplified_geom IS NOT NULL";
    match f.geo.has_location {
        Some(true) => {
            q.push(&format!(" AND {has_location}"));
        }
        Some(false) => {
            q.push(&format!(" AND NOT ({has_location})"));
        }
        None => {}
    }
    match f.geo.has_shape {
        Some(true) => {
            q.push(&format!(" AND {has_shape}"));
        }
        Some(false) => {
            q.push(&format!(" AND NOT ({has_shape})"));
        }
        None => {}
    }
    if f.geo.any || f.located {
        q.push(&format!(" AND ({has_location} OR {has_shape})"));
    }
    if f.geo.none {
        q.push(&format!(" AND NOT ({has_location} OR {has_shape})"));
    }
    match f.parent {
        Some(None) => {
            q.push(" AND ou.parent_id IS NULL");
        }
        Some(Some(p)) => {
            q.push(" AND ou.parent_id = ").bind(p);
        }
        None => {}
    }
    if let Some(ids) = &f.ids {
        push_in_i64(q, "ou.id", ids);
    }
    if let Some(h) = &r.hierarchy {
        if h.is_empty() {
            q.push(" AND 1 = 0");
        } else if r.walk_order_index && backend == Backend::Sqlite {
            // `+ou.path` is the same value, but SQLite uses no index for it.
            q.push(" AND (");
            for (i, p) in h.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("(+ou.path >= ")
                    .bind(p.clone())
                    .push(" AND +ou.path < ")
                    .bind(format!("{p}/"))
                    .push(")");
            }
            q.push(")");
        } else {
            push_subtrees(q, "ou", h);
        }
    }
    if let Some(x) = f.exclude_id {
        q.push(" AND ou.id <> ").bind(x);
    }
    for p in &r.excluded {
        q.push(" AND NOT (ou.path >= ")
            .bind(p.clone())
            .push(" AND ou.path < ")
            .bind(format!("{p}/"))
            .push(")");
    }
    if let Some(s) = &f.sub_source {
        q.push(" AND ou.sub_source = ").bind(s.as_str());
    }
    if let Some(cat) = &f.type_category {
        q.push(" AND ou.org_unit_type_id IN (SELECT id FROM org_unit_types WHERE category = ")
            .bind(cat.to_uppercase())
            .push(")");
    }
    if f.ignore_empty_names {
        q.push(" AND ou.name <> ''");
    }
    if let Some(d) = f.depth {
        q.push(" AND ou.depth = ").bind(d);
    }
    if let Some(d) = f.open_on {
        q.push(" AND (ou.opening_date IS NULL OR ou.opening_date <= ")
            .bind(d)
            .push(") AND (ou.closed_date IS NULL OR ou.closed_date > ")
            .bind(d)
            .push(")");
    }
    if let Some(d) = f.opening_date {
        q.push(" AND ou.opening_date = ").bind(d);
    }
    if let Some(d) = f.closed_date {
        q.push(" AND ou.closed_date = ").bind(d);
    }
    if let Some([min_lon, min_lat, max_lon, max_lat]) = f.bbox {
        // The spatial index narrows, the exact comparisons below decide.
        match backend {
            Backend::Sqlite => {
                q.push(" AND ou.id IN (SELECT id FROM org_units_rtree WHERE min_lon <= ")
                    .bind(max_lon)
                    .push(" AND max_lon >= ")
                    .bind(min_lon)
                    .push(" AND min_lat <= ")
                    .bind(max_lat)
                    .push(" AND max_lat >= ")
                    .bind(min_lat)
                    .push(")");
            }
            Backend::Postgres => {
                q.push(" AND ou.min_lon IS NOT NULL AND box(point(ou.min_lon, ou.min_lat), point(ou.max_lon, ou.max_lat)) && box(point(")
                    .bind(min_lon)
                    .push(", ")
                    .bind(min_lat)
                    .push("), point(")
                    .bind(max_lon)
                    .push(", ")
                    .bind(max_lat)
                    .push("))");
            }
        }
        q.push(" AND ou.min_lon <= ")
            .bind(max_lon)
            .push(" AND ou.max_lon >= ")
            .bind(min_lon)
            .push(" AND ou.min_lat <= ")
            .bind(max_lat)
            .push(" AND ou.max_lat >= ")
            .bind(min_lat);
    }
    if let Some(t) = f.updated_since {
        q.push(" AND ou.updated_at >= ").bind(t);
    }
}

fn push_in_i64(q: &mut Sql, col: &str, ids: &[i64]) {
    if ids.is_empty() {
        q.push(" AND 1 = 0");
    } else {
        q.push(&format!(" AND {col} IN ("))
            .bind_list(ids.iter().copied())
            .push(")");
    }
}

fn push_in_text(q: &mut Sql, col: &str, values: &[String]) {
    if values.is_empty() {
        q.push(" AND 1 = 0");
    } else {
        q.push(&format!(" AND {col} IN ("))
            .bind_list(values.iter().map(String::as_str))
            .push(")");
    }
}

/// A node of the lazy tree.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TreeNode {
    pub id: i64,
    pub name: String,
    pub validation_status: String,
    pub has_children: bool,
    pub org_unit_type_id: Option<i64>,
    pub org_unit_type_short_name: Option<String>,
}

/// What `/api/orgunits/tree/` asks.
#[derive(Debug, Clone, Default)]
pub struct TreeQuery {
    /// Children of this unit; `None` = the top level (roots, or the caller's sub-tree roots).
    pub parent: Option<i64>,
    /// List mode at the top level: the restricted caller's roots instead of the real roots.
    pub top_level: bool,
    pub versions: Option<Vec<i64>>,
    pub validation_statuses: Vec<String>,
    pub ignore_empty_names: bool,
    pub search: Option<String>,
    pub order: Vec<String>,
}

impl Store {
    /// A page of units matching `filters` (one filter, or several for `searches`, each
    /// result then carrying its `search_index`). `limit: None` returns everything.
    pub async fn list_org_units(
        &self,
        scope: &OrgUnitScope,
        filters: &[OrgUnitFilter],
        indexed: bool,
        order: &[String],
        limit: Option<i64>,
        page: i64,
    ) -> StoreResult<OrgUnitListing> {
        let mut db = self.db.clone();
        let keys = sort_keys(order);
        let mut resolved = Vec::new();
        for f in filters {
            resolved.push(resolve(&mut db, scope, f).await?);
        }
        let mut counts = Vec::new();
        for (f, r) in filters.iter().zip(&resolved) {
            let mut q = Sql::new("SELECT COUNT(*) FROM org_units ou WHERE 1 = 1");
            push_filter(&mut q, db.backend(), scope, f, r);
            counts.push(self.cached_count(&mut db, q).await?);
        }
        let count: i64 = counts.iter().sum();
        let (offset, take, page) = match limit {
            Some(l) => {
                let pages = ((count + l - 1) / l).max(1);
                let page = page.clamp(1, pages);
                ((page - 1) * l, l, page)
            }
            None => (0, count, 1),
        };
        let take = take.min((count - offset).max(0));
        if take == 0 {
            return Ok(OrgUnitListing {
                items: Vec::new(),
                count,
                counts,
                page,
            });
        }
        // Read from the nearer end.
        let reverse = limit.is_some() && offset > count / 2;
        let (offset_q, limit_q) = if reverse {
            (count - offset - take, take)
        } else {
            (offset, take)
        };
        let mut q;
        if filters.len() == 1 && !indexed {
            let mut r = resolved[0].clone();
            r.walk_order_index = self
                .walk_order_index(&mut db, scope, &filters[0], &r, count, offset_q + limit_q)
                .await?;
            q = Sql::new(
                "SELECT ou.id, CAST(0 AS BIGINT) AS search_index FROM org_units ou WHERE 1 = 1",
            );
            push_filter(&mut q, db.backend(), scope, &filters[0], &r);
            q.push(" ORDER BY ")
                .push(&order_items(&keys, reverse, false));
        } else {
            let cols: String = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!(", {} AS s{i}", k.expr))
                .collect();
            q = Sql::new("SELECT id, search_index FROM (");
            for (i, (f, r)) in filters.iter().zip(&resolved).enumerate() {
                if i > 0 {
                    q.push(" UNION ALL ");
                }
                q.push(&format!(
                    "SELECT ou.id, CAST({i} AS BIGINT) AS search_index{cols} FROM org_units ou WHERE 1 = 1"
                ));
                push_filter(&mut q, db.backend(), scope, f, r);
            }
            let mut items = order_items(&keys, reverse, true);
            items.push_str(if reverse {
                ", search_index DESC"
            } else {
                ", search_index ASC"
            });
            q.push(") u ORDER BY ").push(&items);
        }
        q.push(" LIMIT ")
            .bind(limit_q)
            .push(" OFFSET ")
            .bind(offset_q);
        let mut ids: Vec<(i64, i64)> = db.fetch_all(q).await?;
        if reverse {
            ids.reverse();
        }
        let units =
            load_org_units_by_ids(&mut db, &ids.iter().map(|x| x.0).collect::<Vec<_>>()).await?;
        let mut by_id: HashMap<i64, OrgUnit> = units.into_iter().map(|u| (u.id.get(), u)).collect();
        let items = ids
            .iter()
            .filter_map(|(id, idx)| {
                // A unit found by two searches appears twice: clone for all but the last.
                let mut u = if ids.iter().filter(|x| x.0 == *id).count() > 1 {
                    by_id.get(id).cloned()
                } else {
                    by_id.remove(id)
                }?;
                if indexed {
                    u.search_index = Some(*idx);
                }
                Some(u)
            })
            .collect();
        Ok(OrgUnitListing {
            items,
            count,
            counts,
            page,
        })
    }

    /// SQLite plans a sub-tree filter (`orgUnitParentId`) with the path index and then sorts
    /// every unit of the sub-tree: seconds for the whole country of a 1M-unit version. When
    /// the sub-tree is a large part of the version, walking the index of the ORDER BY and
    /// testing the path of each unit finds the page sooner: about `rows × total / count` units
    /// read instead of `count` sorted. PostgreSQL's planner makes this choice from its
    /// statistics.
    async fn walk_order_index(
        &self,
        db: &mut iaso_db::Db,
        scope: &OrgUnitScope,
        f: &OrgUnitFilter,
        r: &Resolved,
        count: i64,
        rows: i64,
    ) -> StoreResult<bool> {
        // Below this many matches the sort is cheap whatever the version's size.
        const SMALL: i64 = 5_000;
        if db.backend() != Backend::Sqlite
            || count < SMALL
            || r.hierarchy.as_ref().is_none_or(|h| h.is_empty())
            || f.search.is_some()
        {
            return Ok(false);
        }
        // The same filter without the sub-tree: how many units the walk may pass over.
        let wider = Resolved {
            hierarchy: None,
            ..r.clone()
        };
        let mut q = Sql::new("SELECT COUNT(*) FROM org_units ou WHERE 1 = 1");
        push_filter(&mut q, db.backend(), scope, f, &wider);
        let total = self.cached_count(db, q).await?;
        Ok((rows as f64) * (total as f64) < (count as f64) * (count as f64))
    }

    /// Ids of every unit matching a filter, in id order (bulk operations, exports).
    pub async fn org_unit_ids(
        &self,
        scope: &OrgUnitScope,
        filter: &OrgUnitFilter,
    ) -> StoreResult<Vec<i64>> {
        let mut db = self.db.clone();
        let r = resolve(&mut db, scope, filter).await?;
        let mut q = Sql::new("SELECT ou.id FROM org_units ou WHERE 1 = 1");
        push_filter(&mut q, db.backend(), scope, filter, &r);
        q.push(" ORDER BY ou.id");
        let rows: Vec<(i64,)> = db.fetch_all(q).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// One level of the tree (or a search in it), with a children flag computed without
    /// loading anything else. `limit: None` = everything.
    pub async fn org_unit_tree(
        &self,
        scope: &OrgUnitScope,
        t: &TreeQuery,
        limit: Option<i64>,
        page: i64,
    ) -> StoreResult<(Vec<TreeNode>, i64)> {
        let mut db = self.db.clone();
        let valid_only = t.validation_statuses.len() == 1 && t.validation_statuses[0] == "VALID";
        let children = if valid_only {
            "EXISTS (SELECT 1 FROM org_units c WHERE c.parent_id = ou.id AND c.validation_status NOT IN ('REJECTED', 'NEW'))"
        } else {
            "EXISTS (SELECT 1 FROM org_units c WHERE c.parent_id = ou.id)"
        };
        let filter = OrgUnitFilter {
            validation_statuses: if t.validation_statuses.is_empty() {
                None
            } else {
                Some(t.validation_statuses.clone())
            },
            versions: t.versions.clone(),
            parent: match (t.parent, t.top_level) {
                (Some(p), _) => Some(Some(p)),
                (None, true) if !scope.is_restricted() => Some(None),
                _ => None,
            },
            ids: if t.parent.is_none() && t.top_level && scope.is_restricted() {
                Some(scope.root_ids.iter().map(|i| i.get()).collect())
            } else {
                None
            },
            ignore_empty_names: t.ignore_empty_names,
            search: t
                .search
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| Search::Text(s.to_string())),
            ..Default::default()
        };
        let r = Resolved::default();
        let mut count = Sql::new("SELECT COUNT(*) FROM org_units ou WHERE 1 = 1");
        push_filter(&mut count, db.backend(), scope, &filter, &r);
        // Tree search matches names only (not aliases).
        let mut q = Sql::new(format!(
            "SELECT ou.id, ou.name, ou.validation_status, {children} AS has_children, ou.org_unit_type_id,
                (SELECT t.short_name FROM org_unit_types t WHERE t.id = ou.org_unit_type_id) AS org_unit_type_short_name
             FROM org_units ou WHERE 1 = 1"
        ));
        push_filter(&mut q, db.backend(), scope, &filter, &r);
        let mut keys = Vec::new();
        for key in t.order.iter().flat_map(|o| o.split(',')) {
            let key = key.trim();
            let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
            let col = match key {
                "id" => "ou.id",
                "name" => "ou.name_key",
                _ => continue,
            };
            keys.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
        }
        if keys.is_empty() {
            keys.push("ou.name_key ASC".into());
        }
        keys.push("ou.id ASC".into());
        q.push(" ORDER BY ").push(&keys.join(", "));
        let total = if let Some(l) = limit {
            let total: i64 = self.cached_count(&mut db, count).await?;
            q.push(" LIMIT ")
                .bind(l)
                .push(" OFFSET ")
                .bind((page.max(1) - 1) * l);
            total
        } else {
            -1
        };
        let nodes: Vec<TreeNode> = db.fetch_all(q).await?;
        let total = if total < 0 { nodes.len() as i64 } else { total };
        Ok((nodes, total))
    }

    /// Ancestors (root first, the unit excluded) of each unit, as brief rows in one query.
    pub async fn ancestors_of(
        &self,
        units: &[(i64, String)],
    ) -> StoreResult<HashMap<i64, crate::org_units::OrgUnitBrief>> {
        let mut ids: Vec<i64> = units
            .iter()
            .flat_map(|(id, path)| path_ids(path).into_iter().filter(move |x| x != id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let briefs = self.org_unit_briefs(&ids).await?;
        Ok(briefs.into_iter().map(|b| (b.id, b)).collect())
    }
}

/// Filters with their hierarchy clauses resolved, ready to be written into a query (exports,
/// bulk selections).
#[derive(Debug)]
pub struct ResolvedFilters {
    items: Vec<(OrgUnitFilter, Resolved)>,
}

/// Resolves the paths named by each filter once.
pub async fn resolve_filters(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    filters: &[OrgUnitFilter],
) -> StoreResult<ResolvedFilters> {
    let mut items = Vec::with_capacity(filters.len());
    for f in filters {
        items.push((f.clone(), resolve(c, scope, f).await?));
    }
    Ok(ResolvedFilters { items })
}

/// Appends ` AND (<filter 1> OR <filter 2> ...)` on alias `ou` (nothing matches without
/// filters).
pub fn push_filters(
    q: &mut Sql,
    backend: Backend,
    scope: &OrgUnitScope,
    filters: &ResolvedFilters,
) {
    if let [(f, r)] = filters.items.as_slice() {
        // One filter: no `OR` around it, so that SQLite can use the indexes its conditions
        // name (an `OR` wrapper makes it scan the table and sort).
        q.push(" AND (1 = 1");
        push_filter(q, backend, scope, f, r);
        q.push(")");
        return;
    }
    q.push(" AND (1 = 0");
    for (f, r) in &filters.items {
        q.push(" OR (1 = 1");
        push_filter(q, backend, scope, f, r);
        q.push(")");
    }
    q.push(")");
}

/// `ORDER BY` items for an export in Iaso's `order` (default name), on alias `ou`.
pub fn export_order(order: &[String]) -> String {
    order_items(&sort_keys(order), false, false)
}

//! `/api/orgunits/`: the search and list (Iaso's filters, `searches`, paging, map mode), the
//! detail with ancestors, changes (PATCH), creation from the dashboard
//! (`create_org_unit/`) and from the mobile app (POST with `app_id`), and the lazy tree
//! (`tree/`, `tree/search/`).
//!
//! Reading needs one of Iaso's org unit read permissions; writing needs `iaso_org_units` (or
//! `iaso_registry_write`). Everything is scoped to the account's versions and, for a profile
//! restricted to sub-trees, to those sub-trees.

use crate::auth::{MaybeCaller, Member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{pages, Paging, MAX_LIMIT};
use crate::routes::geo_common::{
    self, app_project, as_dict, as_dict_for_mobile, as_dict_with_parents, detail_context,
    editable_types, group_json, keep_fields, parse_date, search_parent_json, select_fields,
    type_small_json, ORG_UNIT_READ,
};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use iaso_domain::json_fields;
use iaso_domain::{FieldErrors, GroupId, OrgUnitId, OrgUnitTypeId, Permission, SourceVersionId};
use iaso_geo::{Geometry, Limits, MultiPolygon, Point};
use iaso_store::audit::sources as audit_sources;
use iaso_store::org_unit_search::{GeoFilter, OrgUnitFilter, Search, TreeQuery};
use iaso_store::org_units::{
    NewOrgUnit, OrgUnit, OrgUnitChanges, OrgUnitScope, Shape, Writer, VALIDATION_STATUSES,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Fields of Iaso's `OrgUnitSearchSerializer` (the paged list), in its order.
const SEARCH_FIELDS: &[&str] = &[
    "id",
    "name",
    "aliases",
    "parent_id",
    "validation_status",
    "parent_name",
    "source",
    "source_ref",
    "sub_source",
    "org_unit_type_name",
    "parent",
    "latitude",
    "longitude",
    "altitude",
    "has_geo_json",
    "search_index",
    "created_at",
    "source_id",
    "org_unit_type",
    "org_unit_type_id",
    "instances_count",
    "updated_at",
    "groups",
    "creator",
    "projects",
    "default_image",
];

pub(crate) const WRITE: &[Permission] = &[Permission::OrgUnits, Permission::RegistryWrite];

/// Reads a parameter from the query string or from one entry of `searches`.
type Getter<'a> = dyn Fn(&str) -> Option<String> + Send + Sync + 'a;

fn get_bool(get: &Getter, name: &str) -> ApiResult<Option<bool>> {
    match get(name) {
        None => Ok(None),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(ApiError::field(
                name,
                format!("{v:?} is not a boolean (use true or false)."),
            )),
        },
    }
}

fn get_ids(get: &Getter, name: &str) -> ApiResult<Vec<i64>> {
    match get(name) {
        None => Ok(Vec::new()),
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| ApiError::field(name, format!("{s:?} is not a valid id.")))
            })
            .collect(),
    }
}

fn get_id(get: &Getter, name: &str) -> ApiResult<Option<i64>> {
    match get(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::field(name, format!("{v:?} is not a valid id."))),
    }
}

fn get_dmy(get: &Getter, name: &str) -> ApiResult<Option<NaiveDate>> {
    match get(name) {
        None => Ok(None),
        Some(v) => parse_date(&v)
            .map(Some)
            .ok_or_else(|| ApiError::field(name, format!("{v:?} is not a date (use DD-MM-YYYY)."))),
    }
}

/// Iaso's org unit filters (`build_org_units_queryset`) into a store filter.
async fn parse_filter(
    state: &AppState,
    member: &Member,
    scope: &OrgUnitScope,
    get: &Getter<'_>,
) -> ApiResult<OrgUnitFilter> {
    let mut f = OrgUnitFilter {
        validation_statuses: match get("validation_status") {
            None => Some(vec!["VALID".into()]),
            Some(v) if v == "all" => None,
            Some(v) => Some(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            ),
        },
        search: get("search").map(|s| Search::parse(&s)),
        groups: get_ids(get, "group")?,
        project: get_id(get, "project")?,
        type_ids: get_ids(get, "orgUnitTypeId")?,
        sub_source: get("sourceId"),
        type_category: get("orgUnitTypeCategory"),
        ignore_empty_names: get_bool(get, "ignoreEmptyNames")?.unwrap_or(false),
        depth: get_id(get, "depth")?,
        open_on: get_dmy(get, "open_date")?,
        opening_date: get_dmy(get, "opening_date")?,
        closed_date: get_dmy(get, "closed_date")?,
        ..Default::default()
    };
    // Versions: `version`, `source` (its default version, else all its versions),
    // `defaultVersion=true` (the account's).
    let mut versions: Option<Vec<i64>> = None;
    let mut restrict = |v: Vec<i64>| {
        versions = Some(match versions.take() {
            Some(old) => old.into_iter().filter(|x| v.contains(x)).collect(),
            None => v,
        });
    };
    if let Some(source) = get_id(get, "source")? {
        match state
            .store
            .source(member.account_id(), iaso_domain::DataSourceId(source))
            .await
        {
            Ok(s) => restrict(match s.default_version_id {
                Some(d) => vec![d.get()],
                None => s.versions.iter().map(|v| v.id.get()).collect(),
            }),
            Err(iaso_store::StoreError::NotFound) => restrict(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(v) = get_id(get, "version")? {
        restrict(vec![v]);
    }
    if get("defaultVersion").as_deref() == Some("true") {
        restrict(
            member
                .membership()
                .account
                .default_version_id
                .map(|v| vec![v.get()])
                .unwrap_or_default(),
        );
    }
    if let Some(app_id) = get("app_id") {
        match app_project(state, Some(&member.principal), &app_id).await? {
            Some(p) => {
                f.project = Some(p.id.get());
                let account = state.store.account(p.account_id).await?;
                restrict(
                    account
                        .default_version_id
                        .map(|v| vec![v.get()])
                        .unwrap_or_default(),
                );
            }
            None => restrict(Vec::new()),
        }
    }
    f.versions = versions;
    // Geography.
    let mut geo = GeoFilter::default();
    match get("geography").as_deref() {
        Some("location") => geo.has_location = Some(true),
        Some("shape") => geo.has_shape = Some(true),
        Some("none") => geo.none = true,
        Some("any") => geo.any = true,
        _ => {}
    }
    match get("withShape").as_deref() {
        Some("true") => geo.has_shape = Some(true),
        Some("false") => geo.has_shape = Some(false),
        _ => {}
    }
    match get("withLocation").as_deref() {
        Some("true") => geo.has_location = Some(true),
        Some("false") => geo.has_location = Some(false),
        _ => {}
    }
    f.geo = geo;
    match get("parent_id").as_deref() {
        None => {}
        Some("0") => f.parent = Some(None),
        Some(_) => f.parent = Some(get_id(get, "parent_id")?),
    }
    if get("rootsForUser").is_some_and(|v| !v.is_empty()) {
        if scope.is_restricted() {
            f.ids = Some(scope.root_ids.iter().map(|i| i.get()).collect());
        } else {
            f.parent = Some(None);
        }
    }
    if let Some(p) = get_id(get, "orgUnitParentId")? {
        f.hierarchy_of.push(p);
        if get("onlyDirectChildren").as_deref() == Some("false") {
            f.exclude_id = Some(p);
        }
    }
    f.hierarchy_of.extend(get_ids(get, "orgUnitParentIds")?);
    f.excluded_hierarchies = get_ids(get, "excludedOrgUnitParentIds")?;
    if let Some(b) = get("bbox") {
        let parts: Vec<f64> = b.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        match parts.as_slice() {
            [a, b, c, d] if a <= c && b <= d => f.bbox = Some([*a, *b, *c, *d]),
            _ => {
                return Err(ApiError::field(
                    "bbox",
                    "Expected min_lon,min_lat,max_lon,max_lat.",
                ))
            }
        }
    }
    Ok(f)
}

/// Rendering context of list items: ancestors, groups, types' projects.
struct ListContext {
    ancestors: HashMap<i64, iaso_store::org_units::OrgUnitBrief>,
    groups: HashMap<i64, Vec<iaso_store::org_units::GroupBrief>>,
    type_projects: HashMap<i64, Vec<Value>>,
}

async fn list_context(
    state: &AppState,
    member: &Member,
    units: &[OrgUnit],
) -> ApiResult<ListContext> {
    let ancestors = state
        .store
        .ancestors_of(
            &units
                .iter()
                .map(|u| (u.id.get(), u.path.clone()))
                .collect::<Vec<_>>(),
        )
        .await?;
    let mut groups: HashMap<i64, Vec<_>> = HashMap::new();
    for g in state
        .store
        .org_unit_groups(&units.iter().map(|u| u.id.get()).collect::<Vec<_>>())
        .await?
    {
        groups.entry(g.org_unit_id).or_default().push(g);
    }
    // Projects of the listed units' types, in one query.
    let mut type_ids: Vec<i64> = units
        .iter()
        .filter_map(|u| u.org_unit_type_id().map(|t| t.get()))
        .collect();
    type_ids.sort_unstable();
    type_ids.dedup();
    let mut type_projects: HashMap<i64, Vec<Value>> = HashMap::new();
    for (t, p) in state
        .store
        .org_unit_type_projects(member.account_id(), &type_ids)
        .await?
    {
        type_projects.entry(t).or_default().push(
            json!({"id": p.id, "name": p.name, "app_id": p.app_id, "color": p.color, "description": p.description}),
        );
    }
    Ok(ListContext {
        ancestors,
        groups,
        type_projects,
    })
}

/// Iaso's `OrgUnitSearchSerializer`.
fn search_json(ou: &OrgUnit, ctx: &ListContext) -> Value {
    json!({
        "id": ou.id,
        "name": ou.name,
        "aliases": ou.aliases,
        "parent_id": ou.parent_id,
        "validation_status": ou.validation_status,
        "parent_name": ou.parent_name,
        "source": ou.source_name,
        "source_ref": ou.source_ref,
        "sub_source": ou.sub_source,
        "org_unit_type_name": ou.org_unit_type.as_ref().map(|t| t.name.clone()),
        "parent": search_parent_json(ou.parent_id.map(|p| p.get()), &ctx.ancestors),
        "latitude": ou.location.map(|p| p.y),
        "longitude": ou.location.map(|p| p.x),
        "altitude": ou.location.and_then(|p| p.z),
        "has_geo_json": ou.has_simplified_geom,
        "search_index": ou.search_index,
        "created_at": epoch(ou.created_at),
        "source_id": ou.source_id,
        "org_unit_type": ou.org_unit_type.as_ref().map(type_small_json),
        "org_unit_type_id": ou.org_unit_type_id(),
        "instances_count": 0,
        "updated_at": epoch(ou.updated_at),
        "groups": ctx.groups.get(&ou.id.get()).map(|g| g.iter().map(group_json).collect::<Vec<_>>()).unwrap_or_default(),
        "creator": ou.creator.as_ref().map(|c| c.display()),
        "projects": ou.org_unit_type.as_ref().and_then(|t| ctx.type_projects.get(&t.id.get())).cloned().unwrap_or_default(),
        "default_image": ou.default_image_id,
    })
}

/// Iaso's `OrgUnitSmallSearchSerializer` (parents nested the same way, creator as an id).
fn small_search_json(id: Option<i64>, ou: Option<&OrgUnit>, ctx: &ListContext) -> Value {
    match ou {
        Some(ou) => json!({
            "id": ou.id,
            "name": ou.name,
            "parent_id": ou.parent_id,
            "validation_status": ou.validation_status,
            "parent_name": ou.parent_name,
            "source": ou.source_name,
            "source_ref": ou.source_ref,
            "org_unit_type_name": ou.org_unit_type.as_ref().map(|t| t.name.clone()),
            "search_index": ou.search_index,
            "parent": small_search_json(ou.parent_id.map(|p| p.get()), None, ctx),
            "creator": ou.creator.as_ref().map(|c| c.id),
        }),
        None => match id.and_then(|i| ctx.ancestors.get(&i)) {
            None => Value::Null,
            Some(b) => json!({
                "id": b.id,
                "name": b.name,
                "parent_id": b.parent_id,
                "validation_status": b.validation_status,
                "parent_name": b.parent_id.and_then(|p| ctx.ancestors.get(&p)).map(|p| p.name.clone()),
                "org_unit_type_name": b.org_unit_type_name,
                "parent": small_search_json(b.parent_id, None, ctx),
            }),
        },
    }
}

/// Iaso's `as_location` (map mode).
fn as_location(ou: &OrgUnit, geo: Option<&Geometry>) -> Value {
    json!({
        "id": ou.id,
        "name": ou.name,
        "short_name": ou.name,
        "parent_id": ou.parent_id,
        "parent_name": ou.parent_name,
        "latitude": ou.location.map(|p| p.y),
        "longitude": ou.location.map(|p| p.x),
        "altitude": ou.location.and_then(|p| p.z),
        "has_geo_json": ou.has_simplified_geom,
        "org_unit_type": ou.org_unit_type.as_ref().map(|t| t.name.clone()),
        "org_unit_type_id": ou.org_unit_type_id(),
        "org_unit_type_depth": ou.org_unit_type.as_ref().and_then(|t| t.depth),
        "source_id": ou.source_id,
        "source_name": ou.source_name,
        "geo_json": geo.map(|g| iaso_geo::geojson::to_feature_collection(Some(ou.id.get()), g, true)),
    })
}

/// One filter per entry of Iaso's `searches` (a JSON array of objects of list parameters).
pub(crate) async fn filters_from_searches(
    state: &AppState,
    member: &Member,
    scope: &OrgUnitScope,
    items: &[Value],
) -> ApiResult<Vec<OrgUnitFilter>> {
    let mut filters = Vec::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            return Err(ApiError::field(
                "searches",
                "Expected a JSON array of objects.",
            ));
        };
        let get = |name: &str| -> Option<String> {
            match obj.get(name)? {
                Value::Null => None,
                Value::String(s) if s.trim().is_empty() => None,
                Value::String(s) => Some(s.trim().to_string()),
                Value::Array(a) => Some(
                    a.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                other => Some(other.to_string()),
            }
        };
        filters.push(parse_filter(state, member, scope, &get).await?);
    }
    Ok(filters)
}

/// The filters of a list query: the query string itself, or each entry of `searches` (then
/// results carry their `search_index`).
pub(crate) async fn list_filters(
    state: &AppState,
    member: &Member,
    scope: &OrgUnitScope,
    q: &QueryParams,
) -> ApiResult<(Vec<OrgUnitFilter>, bool)> {
    let getter = |name: &str| q.get(name).map(String::from);
    let (filters, indexed) = match q.get("searches") {
        Some(raw) => {
            let parsed: Value = serde_json::from_str(raw)
                .map_err(|e| ApiError::field("searches", format!("Invalid JSON: {e}")))?;
            let Some(items) = parsed.as_array() else {
                return Err(ApiError::field(
                    "searches",
                    "Expected a JSON array of objects.",
                ));
            };
            let filters = filters_from_searches(state, member, scope, items).await?;
            (filters, true)
        }
        None => (
            vec![parse_filter(state, member, scope, &getter).await?],
            false,
        ),
    };
    if filters.is_empty() {
        return Err(ApiError::field(
            "searches",
            "At least one search is needed.",
        ));
    }
    Ok((filters, indexed))
}

/// Search, list and map mode of org units.
#[utoipa::path(get, path = "/api/orgunits/", tag = "org units",
    params(("search" = Option<String>, Query, description = "Text in names (or an alias), or ids:1,2 / refs:a,b / codes:x"),
           ("searches" = Option<String>, Query, description = "JSON array of filter objects"),
           ("validation_status" = Option<String>, Query, description = "Comma-separated, `all`; default VALID"),
           ("orgUnitTypeId" = Option<String>, Query), ("orgUnitParentId" = Option<i64>, Query), ("parent_id" = Option<i64>, Query),
           ("version" = Option<i64>, Query), ("source" = Option<i64>, Query), ("defaultVersion" = Option<bool>, Query),
           ("group" = Option<String>, Query), ("geography" = Option<String>, Query), ("withShape" = Option<bool>, Query),
           ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat (extension)"),
           ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query),
           ("asLocation" = Option<bool>, Query), ("withShapes" = Option<bool>, Query), ("smallSearch" = Option<bool>, Query),
           ("fields" = Option<String>, Query)),
    responses((status = 200, description = "`{count, counts, orgunits, ...}` with `limit`, `{orgUnits: [...]}` without")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Response> {
    let scope = geo_common::scope(&state, &member).await?;
    let (filters, indexed) = list_filters(&state, &member, &scope, &q).await?;
    if let Some(format) = super::org_unit_io::export_format(&q)? {
        let order = q
            .get("order")
            .map_or_else(|| vec!["name".to_string()], |o| vec![o.to_string()]);
        return super::org_unit_io::export_response(&state, &member, scope, filters, order, format)
            .await;
    }
    let order: Vec<String> = match q.get("order") {
        Some(o) => vec![o.to_string()],
        None => vec!["name".into()],
    };
    let limit = match q.i64("limit")? {
        Some(l) if l < 1 => {
            return Err(ApiError::field("limit", "Ensure this value is at least 1."))
        }
        Some(l) => Some(l.min(MAX_LIMIT)),
        None => None,
    };
    let page = q.i64("page")?.unwrap_or(1).max(1);
    let map_mode = q.bool("asLocation")?.unwrap_or(false);
    let with_shapes = q.bool("withShapes")?.unwrap_or(false);

    if map_mode {
        // Map mode: the first `limit` located units, each with its shape (Iaso ignores `page`).
        let mut filters = filters;
        for f in &mut filters {
            f.located = true;
        }
        let limit = limit.unwrap_or(MAX_LIMIT);
        let listing = state
            .store
            .list_org_units(&scope, &filters, indexed, &order, Some(limit), 1)
            .await?;
        let ids: Vec<i64> = listing.items.iter().map(|u| u.id.get()).collect();
        let shapes = state.store.org_unit_shapes(&ids, Shape::Simplified).await?;
        let items: Vec<Value> = listing
            .items
            .iter()
            .map(|u| {
                let mut v = as_location(u, shapes.get(&u.id.get()));
                if let Some(i) = u.search_index {
                    v["search_index"] = json!(i);
                }
                v
            })
            .collect();
        return Ok(Json(Value::Array(items)).into_response());
    }

    if let Some(limit) = limit {
        let listing = state
            .store
            .list_org_units(&scope, &filters, indexed, &order, Some(limit), page)
            .await?;
        let ctx = list_context(&state, &member, &listing.items).await?;
        let small = q.bool("smallSearch")?.unwrap_or(false);
        let items: Vec<Value> = if small {
            listing
                .items
                .iter()
                .map(|u| small_search_json(None, Some(u), &ctx))
                .collect()
        } else {
            let fields = select_fields(&q, SEARCH_FIELDS, SEARCH_FIELDS)?;
            listing
                .items
                .iter()
                .map(|u| keep_fields(search_json(u, &ctx), &fields))
                .collect()
        };
        let pages = pages(listing.count, limit);
        let counts: Vec<Value> = if indexed {
            listing
                .counts
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"index": i, "count": c}))
                .collect()
        } else {
            Vec::new()
        };
        return Ok(Json(json!({
            "count": listing.count,
            "counts": counts,
            "orgunits": items,
            "has_next": listing.page < pages,
            "has_previous": listing.page > 1,
            "page": listing.page,
            "pages": pages,
            "limit": limit,
        }))
        .into_response());
    }

    let listing = state
        .store
        .list_org_units(&scope, &filters, indexed, &order, None, 1)
        .await?;
    if with_shapes {
        let ids: Vec<i64> = listing.items.iter().map(|u| u.id.get()).collect();
        let shapes = state.store.org_unit_shapes(&ids, Shape::Simplified).await?;
        let items: Vec<Value> = listing
            .items
            .iter()
            .map(|u| {
                let mut v = as_dict(u);
                v["geo_json"] = shapes
                    .get(&u.id.get())
                    .map(|g| iaso_geo::geojson::to_feature_collection(Some(u.id.get()), g, true))
                    .unwrap_or(Value::Null);
                v
            })
            .collect();
        return Ok(Json(json!({ "orgUnits": items })).into_response());
    }
    Ok(Json(json!({
        "orgUnits": listing.items.iter().map(as_dict_for_mobile).collect::<Vec<_>>()
    }))
    .into_response())
}

fn can_edit_shape(member: &Member) -> bool {
    member
        .membership()
        .account
        .feature_flags
        .iter()
        .any(|f| f == "ALLOW_SHAPE_EDITION")
}

/// The detail shape: `as_dict_with_parents`, the unit's shapes and its first shaped ancestor.
async fn detail_json(
    state: &AppState,
    member: &Member,
    ou: &OrgUnit,
    light_parents: bool,
) -> ApiResult<Value> {
    let ancestors = state.store.org_unit_ancestors(ou).await?;
    let mut refs: Vec<&OrgUnit> = vec![ou];
    if !light_parents {
        refs.extend(ancestors.iter());
    }
    let ctx = detail_context(state, member, &refs).await?;
    let by_id: HashMap<i64, OrgUnit> = ancestors.iter().map(|a| (a.id.get(), a.clone())).collect();
    let mut v = as_dict_with_parents(ou, &by_id, &ctx, false, light_parents);
    // The nearest ancestor with a shape gets its geo_json, for the map.
    if !light_parents {
        if let Some(shaped) = ancestors.iter().rev().find(|a| a.has_simplified_geom) {
            let shapes = state
                .store
                .org_unit_shapes(&[shaped.id.get()], Shape::Simplified)
                .await?;
            if let Some(g) = shapes.get(&shaped.id.get()) {
                let mut node = &mut v["parent"];
                while node.is_object() {
                    if node["id"].as_i64() == Some(shaped.id.get()) {
                        node["geo_json"] = iaso_geo::geojson::to_feature_collection(
                            Some(shaped.id.get()),
                            g,
                            true,
                        );
                        break;
                    }
                    node = &mut node["parent"];
                }
            }
        }
    }
    let id = ou.id.get();
    v["geo_json"] = Value::Null;
    v["catchment"] = Value::Null;
    let full = can_edit_shape(member) && ou.has_geom;
    if full || ou.has_simplified_geom {
        let shape = if full { Shape::Geom } else { Shape::Simplified };
        if let Some(g) = state.store.org_unit_shapes(&[id], shape).await?.get(&id) {
            v["geo_json"] = iaso_geo::geojson::to_feature_collection(Some(id), g, true);
        }
    }
    if ou.has_catchment {
        if let Some(g) = state
            .store
            .org_unit_shapes(&[id], Shape::Catchment)
            .await?
            .get(&id)
        {
            v["catchment"] = iaso_geo::geojson::to_feature_collection(Some(id), g, true);
        }
    }
    v["reference_instances"] = json!([]);
    Ok(v)
}

/// One org unit with its ancestors (each with groups and type), shapes and catchment.
#[utoipa::path(get, path = "/api/orgunits/{id}/", tag = "org units", params(("id" = i64, Path)),
    responses((status = 200, description = "Org unit"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(ORG_UNIT_READ)?;
    let scope = geo_common::scope(&state, &member).await?;
    let ou = state.store.org_unit(&scope, OrgUnitId(id)).await?;
    let mut v = detail_json(&state, &member, &ou, false).await?;
    v["instances_count"] = json!(0);
    Ok(Json(v))
}

/// Iaso's error list for org unit writes: `[{"errorKey": field, "errorMessage": message}]`.
fn iaso_errors(errors: &FieldErrors) -> Response {
    let list: Vec<Value> = errors
        .iter()
        .flat_map(|(field, messages)| {
            messages
                .iter()
                .map(move |m| json!({"errorKey": field, "errorMessage": m}))
        })
        .collect();
    (StatusCode::BAD_REQUEST, Json(Value::Array(list))).into_response()
}

fn to_response(e: ApiError) -> Response {
    match e {
        ApiError::Invalid(errors) => iaso_errors(&errors),
        other => other.into_response(),
    }
}

/// A geometry from a GeoJSON object, a JSON string holding one, or a Feature(Collection).
fn parse_shape(v: &Value, field: &str, errors: &mut FieldErrors) -> Option<MultiPolygon> {
    let parsed = match v {
        Value::String(s) => iaso_geo::geojson::parse_geo_json_str(s, &Limits::default()),
        other => iaso_geo::geojson::parse_geo_json(other, &Limits::default()),
    };
    match parsed {
        Ok(Geometry::MultiPolygon(mp)) => Some(mp),
        Ok(Geometry::Point(_)) => {
            errors.add(field, "Expected a Polygon or MultiPolygon, not a Point.");
            None
        }
        Err(e) => {
            errors.add(field, format!("Can't parse {field}: {e}"));
            None
        }
    }
}

fn opt_text(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut FieldErrors,
) -> Option<Option<String>> {
    match body.get(key) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(Value::Number(n)) => Some(Some(n.to_string())),
        Some(_) => {
            errors.add(key, "Not a valid string.");
            None
        }
    }
}

fn opt_date(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut FieldErrors,
) -> Option<Option<NaiveDate>> {
    match body.get(key) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) => match parse_date(s) {
            Some(d) => Some(Some(d)),
            None => {
                errors.add(
                    key,
                    format!("{s:?} is not a date (use DD-MM-YYYY or YYYY-MM-DD)."),
                );
                None
            }
        },
        Some(_) => {
            errors.add(key, "Not a valid date.");
            None
        }
    }
}

fn id_list(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<Vec<i64>> {
    match body.get(key) {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for i in items {
                match i {
                    Value::Number(n) if n.as_i64().is_some() => out.extend(n.as_i64()),
                    Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                        out.extend(s.trim().parse::<i64>().ok())
                    }
                    // The dashboard may send group objects.
                    Value::Object(o) if o.get("id").and_then(Value::as_i64).is_some() => {
                        out.extend(o.get("id").and_then(Value::as_i64))
                    }
                    _ => {
                        errors.add(key, "Expected a list of ids.");
                        return None;
                    }
                }
            }
            Some(out)
        }
        Some(_) => {
            errors.add(key, "Expected a list of ids.");
            None
        }
    }
}

fn aliases(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<Vec<String>> {
    match body.get("aliases") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for i in items {
                match i.as_str() {
                    Some(s) if s.chars().count() > 255 => {
                        errors.add(
                            "aliases",
                            "Ensure each alias has no more than 255 characters.",
                        );
                    }
                    Some(s) => out.push(s.to_string()),
                    None => {
                        errors.add("aliases", "Expected a list of strings.");
                    }
                }
            }
            Some(out)
        }
        Some(_) => {
            errors.add("aliases", "Expected a list of strings.");
            None
        }
    }
}

fn feature_shape(v: &Value, field: &str, errors: &mut FieldErrors) -> Option<Option<MultiPolygon>> {
    if v.is_null() {
        return Some(None);
    }
    // An empty FeatureCollection or a feature without coordinates clears the shape.
    let geometry = v
        .get("features")
        .and_then(|f| f.get(0))
        .map(|f| f.get("geometry").cloned().unwrap_or(Value::Null));
    if let Some(g) = &geometry {
        if g.is_null()
            || g.get("coordinates")
                .is_none_or(|c| c.as_array().is_some_and(|a| a.is_empty()))
        {
            return Some(None);
        }
    }
    parse_shape(v, field, errors).map(Some)
}

/// PATCH body → changes.
fn to_changes(body: &Map<String, Value>, member: &Member) -> Result<OrgUnitChanges, FieldErrors> {
    let mut e = FieldErrors::new();
    let mut ch = OrgUnitChanges {
        name: match opt_text(body, "name", &mut e) {
            Some(Some(n)) if !n.trim().is_empty() => Some(n.trim().to_string()),
            _ => None,
        },
        source_ref: opt_text(body, "source_ref", &mut e),
        code: opt_text(body, "code", &mut e).map(Option::unwrap_or_default),
        opening_date: opt_date(body, "opening_date", &mut e),
        closed_date: opt_date(body, "closed_date", &mut e),
        aliases: aliases(body, &mut e),
        ..Default::default()
    };
    if let Some(s) = opt_text(body, "validation_status", &mut e) {
        ch.validation_status = Some(s.unwrap_or_default());
    }
    if body.contains_key("org_unit_type_id") {
        match json_fields::id(body, "org_unit_type_id", &mut e) {
            Some(t) => ch.org_unit_type_id = Some(OrgUnitTypeId(t)),
            None => {
                e.add("org_unit_type_id", "Org unit type is required");
            }
        }
    }
    if body.contains_key("parent_id") {
        ch.parent_id = Some(json_fields::id(body, "parent_id", &mut e).map(OrgUnitId));
    }
    if let Some(groups) = id_list(body, "groups", &mut e) {
        ch.groups = Some(groups.into_iter().map(GroupId).collect());
    }
    if body.contains_key("default_image_id") {
        ch.default_image_id = Some(json_fields::id(body, "default_image_id", &mut e));
    }
    if let Some(g) = body.get("geom") {
        ch.geom = Some(if g.is_null() || g.as_str() == Some("") {
            None
        } else {
            parse_shape(g, "geom", &mut e)
        });
    } else if let Some(g) = body.get("simplified_geom") {
        ch.simplified_geom = Some(if g.is_null() {
            None
        } else {
            parse_shape(g, "simplified_geom", &mut e)
        });
    }
    if let Some(g) = body.get("geo_json").filter(|g| !g.is_null()) {
        // Shapes can be drawn in the dashboard only when the account allows it (Iaso's rule).
        if can_edit_shape(member) {
            if let Some(shape) = feature_shape(g, "geo_json", &mut e) {
                if shape.is_some() {
                    ch.geom = Some(shape);
                }
            }
        }
    }
    if let Some(c) = body.get("catchment") {
        if let Some(shape) = feature_shape(c, "catchment", &mut e) {
            ch.catchment = Some(shape);
        }
    }
    if body.contains_key("latitude") && body.contains_key("longitude") {
        let lat = json_fields::number(body, "latitude", &mut e);
        let lon = json_fields::number(body, "longitude", &mut e);
        let altitude = json_fields::number(body, "altitude", &mut e);
        ch.location = Some(match (lat, lon) {
            (Some(y), Some(x)) => {
                let p = Point::new(x, y, altitude);
                match Geometry::Point(p).validate(&Limits::default()) {
                    Ok(()) => Some(p),
                    Err(err) => {
                        e.add("latitude", format!("Invalid location: {err}"));
                        None
                    }
                }
            }
            _ => None,
        });
    }
    e.into_result().map(|()| ch)
}

/// Change an org unit: name, parent (moving its sub-tree), type, status, shapes, location,
/// groups, aliases, dates, code. Errors come as Iaso's `[{errorKey, errorMessage}]`.
#[utoipa::path(patch, path = "/api/orgunits/{id}/", tag = "org units", params(("id" = i64, Path)),
    request_body = Object,
    responses((status = 200, description = "Updated org unit"), (status = 400, description = "[{errorKey, errorMessage}]"),
              (status = 404, description = "Not visible")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    q: QueryParams,
    ApiJson(body): ApiJson<Value>,
) -> Response {
    match do_update(&state, &member, id, &q, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => to_response(e),
    }
}

async fn do_update(
    state: &AppState,
    member: &Member,
    id: i64,
    q: &QueryParams,
    body: Value,
) -> ApiResult<Value> {
    let scope = geo_common::scope(state, member).await?;
    // 404 before 403: another tenant's id is simply not found.
    state.store.org_unit(&scope, OrgUnitId(id)).await?;
    member.require_any(WRITE)?;
    let Value::Object(body) = body else {
        return Err(ApiError::BadRequest("Expected a JSON object.".into()));
    };
    let changes = to_changes(&body, member)?;
    let writer = Writer {
        user: Some(member.principal.user.id),
        scope: &scope,
        editable_types: editable_types(member),
        source: audit_sources::ORG_UNIT_API,
    };
    let ou = match state
        .store
        .update_org_unit(&writer, OrgUnitId(id), &changes)
        .await
    {
        Err(iaso_store::StoreError::Conflict(m)) => return Err(ApiError::Forbidden(m)),
        other => other?,
    };
    if q.get("fields").is_some() {
        let fields = select_fields(q, SEARCH_FIELDS, SEARCH_FIELDS)?;
        let ctx = list_context(state, member, std::slice::from_ref(&ou)).await?;
        return Ok(keep_fields(search_json(&ou, &ctx), &fields));
    }
    detail_json(state, member, &ou, true).await
}

/// Create an org unit from the dashboard (`iaso_org_units`). Version defaults to the
/// account's; the parent must be in the same version; restricted users cannot create roots.
#[utoipa::path(post, path = "/api/orgunits/create_org_unit/", tag = "org units", request_body = Object,
    responses((status = 200, description = "Created org unit"), (status = 400, description = "[{errorKey, errorMessage}]")))]
pub async fn create_org_unit(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<Value>,
) -> Response {
    match do_create(&state, &member, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => to_response(e),
    }
}

async fn do_create(state: &AppState, member: &Member, body: Value) -> ApiResult<Value> {
    member.require_any(WRITE)?;
    let Value::Object(body) = body else {
        return Err(ApiError::BadRequest("Expected a JSON object.".into()));
    };
    let mut e = FieldErrors::new();
    let name = opt_text(&body, "name", &mut e)
        .flatten()
        .unwrap_or_default();
    let geom = match body.get("geom") {
        None | Some(Value::Null) => None,
        Some(g) => parse_shape(g, "geom", &mut e),
    };
    let location = match (
        json_fields::number(&body, "latitude", &mut e),
        json_fields::number(&body, "longitude", &mut e),
    ) {
        (Some(y), Some(x)) => {
            let p = Point::new(
                x,
                y,
                Some(json_fields::number(&body, "altitude", &mut e).unwrap_or(0.0)),
            );
            match Geometry::Point(p).validate(&Limits::default()) {
                Ok(()) => Some(p),
                Err(err) => {
                    e.add("latitude", format!("Invalid location: {err}"));
                    None
                }
            }
        }
        _ => None,
    };
    let new = NewOrgUnit {
        version_id: json_fields::id(&body, "version_id", &mut e).map(SourceVersionId),
        parent_id: json_fields::id(&body, "parent_id", &mut e).map(OrgUnitId),
        name,
        validation_status: opt_text(&body, "validation_status", &mut e).flatten(),
        org_unit_type_id: json_fields::id(&body, "org_unit_type_id", &mut e).map(OrgUnitTypeId),
        aliases: aliases(&body, &mut e),
        source_ref: opt_text(&body, "source_ref", &mut e).flatten(),
        code: opt_text(&body, "code", &mut e).flatten(),
        location,
        geom,
        opening_date: opt_date(&body, "opening_date", &mut e).flatten(),
        closed_date: opt_date(&body, "closed_date", &mut e).flatten(),
        groups: id_list(&body, "groups", &mut e)
            .unwrap_or_default()
            .into_iter()
            .map(GroupId)
            .collect(),
        creator: Some(member.principal.user.id),
        ..Default::default()
    };
    e.into_result()?;
    let scope = geo_common::scope(state, member).await?;
    let writer = Writer {
        user: Some(member.principal.user.id),
        scope: &scope,
        editable_types: editable_types(member),
        source: audit_sources::ORG_UNIT_API,
    };
    let ou = state
        .store
        .create_org_unit(
            &writer,
            member.membership().account.default_version_id,
            &new,
        )
        .await?;
    let ancestors = state.store.org_unit_ancestors(&ou).await?;
    let ctx = detail_context(state, member, &[&ou]).await?;
    let by_id: HashMap<i64, OrgUnit> = ancestors.into_iter().map(|a| (a.id.get(), a)).collect();
    Ok(as_dict_with_parents(&ou, &by_id, &ctx, false, true))
}

/// Creates units sent by the mobile app (`POST /api/orgunits/?app_id=` and
/// `/api/mobile/orgunits/`): NEW, in the account's default version, idempotent on the client
/// `id` (uuid). Shared with the mobile module.
pub(crate) async fn create_from_mobile(
    state: &AppState,
    caller: &MaybeCaller,
    q: &QueryParams,
    body: Value,
) -> ApiResult<Json<Value>> {
    let Some(app_id) = q.get("app_id") else {
        return Err(ApiError::field("app_id", "This field is required."));
    };
    let project = app_project(state, caller.0.as_ref(), app_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let account = state.store.account(project.account_id).await?;
    let Some(version) = account.default_version_id else {
        return Err(ApiError::BadRequest(
            "The project's account has no default version.".into(),
        ));
    };
    let items = iaso_ingest::org_units::parse_device_org_units(&body).map_err(|e| {
        if e.iter().any(|(f, _)| f == "non_field_errors") {
            ApiError::BadRequest("Expected a JSON list of org units.".into())
        } else {
            ApiError::Invalid(e)
        }
    })?;
    // The writer's scope: the account, and the caller's sub-trees when it is a member there.
    let member_roots = caller
        .0
        .as_ref()
        .and_then(|p| p.membership.as_ref())
        .filter(|m| m.account.id == account.id)
        .filter(|_| caller.0.as_ref().is_some_and(|p| !p.user.is_superuser))
        .map(|m| m.org_unit_ids.clone())
        .unwrap_or_default();
    let scope = state
        .store
        .org_unit_scope(account.id, &member_roots)
        .await?;
    let writer = Writer {
        user: caller.0.as_ref().map(|p| p.user.id),
        scope: &scope,
        editable_types: &[],
        source: audit_sources::MOBILE,
    };
    let created = state
        .store
        .create_device_org_units(&writer, version, &items)
        .await?;
    Ok(Json(Value::Array(created.iter().map(as_dict).collect())))
}

/// Org units created by the mobile app (`app_id` required).
#[utoipa::path(post, path = "/api/orgunits/", tag = "org units", request_body = Object,
    params(("app_id" = String, Query)),
    responses((status = 200, description = "The created units"), (status = 404, description = "Unknown app")))]
pub async fn create_mobile(
    State(state): State<AppState>,
    caller: MaybeCaller,
    q: QueryParams,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    create_from_mobile(&state, &caller, &q, body).await
}

/// Tree filters common to `tree/` and `tree/search/`.
async fn tree_query(
    state: &AppState,
    member: &Member,
    scope: &OrgUnitScope,
    q: &QueryParams,
    top_level: bool,
) -> ApiResult<TreeQuery> {
    let mut statuses = Vec::new();
    for s in q.all("validation_status") {
        for s in s.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !VALIDATION_STATUSES.contains(&s) {
                return Err(ApiError::field(
                    "validation_status",
                    format!("\"{s}\" is not a valid choice."),
                ));
            }
            statuses.push(s.to_string());
        }
    }
    let parent = q.i64("parent_id")?;
    let versions = if let Some(v) = q.i64("version")? {
        if !scope.versions.contains(&v) {
            return Err(ApiError::field(
                "version",
                "Select a valid choice. That choice is not one of the available choices.",
            ));
        }
        Some(vec![v])
    } else if let Some(ds) = q.i64("data_source_id")? {
        let s = state
            .store
            .source(member.account_id(), iaso_domain::DataSourceId(ds))
            .await
            .map_err(|_| {
                ApiError::field(
                    "data_source_id",
                    format!("DataSource with id {ds} does not exist."),
                )
            })?;
        Some(match s.default_version_id {
            Some(d) => vec![d.get()],
            None => s.versions.iter().map(|v| v.id.get()).collect(),
        })
    } else {
        Some(
            member
                .membership()
                .account
                .default_version_id
                .map(|v| vec![v.get()])
                .unwrap_or_default(),
        )
    };
    Ok(TreeQuery {
        parent,
        top_level: top_level && parent.is_none() && !q.bool("force_full_tree")?.unwrap_or(false),
        versions,
        validation_statuses: statuses,
        ignore_empty_names: q.bool("ignore_empty_names")?.unwrap_or(false),
        search: q.get("search").map(String::from),
        order: q.list("ordering"),
    })
}

fn tree_json(n: &iaso_store::org_unit_search::TreeNode) -> Value {
    json!({
        "id": n.id,
        "name": n.name,
        "validation_status": n.validation_status,
        "has_children": n.has_children,
        "org_unit_type_id": n.org_unit_type_id,
        "org_unit_type_short_name": n.org_unit_type_short_name,
    })
}

/// One level of the tree: the roots (or the caller's sub-tree roots), or the children of
/// `parent_id`, each with `has_children`. Not paginated.
#[utoipa::path(get, path = "/api/orgunits/tree/", tag = "org units",
    params(("parent_id" = Option<i64>, Query), ("validation_status" = Option<String>, Query), ("version" = Option<i64>, Query),
           ("data_source_id" = Option<i64>, Query), ("ignore_empty_names" = Option<bool>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, description = "A list of nodes")))]
pub async fn tree(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let scope = geo_common::scope(&state, &member).await?;
    let t = tree_query(&state, &member, &scope, &q, true).await?;
    let (nodes, _) = state.store.org_unit_tree(&scope, &t, None, 1).await?;
    Ok(Json(Value::Array(nodes.iter().map(tree_json).collect())))
}

/// Search the tree by name: `{count, results, ...}`, 10 per page by default.
#[utoipa::path(get, path = "/api/orgunits/tree/search/", tag = "org units",
    params(("search" = Option<String>, Query), ("validation_status" = Option<String>, Query), ("version" = Option<i64>, Query),
           ("data_source_id" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "Paged nodes"), (status = 404, description = "Invalid page")))]
pub async fn tree_search(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let scope = geo_common::scope(&state, &member).await?;
    let t = tree_query(&state, &member, &scope, &q, false).await?;
    let paging = Paging::from_query(&q, Some(10))?;
    let limit = paging.limit.unwrap_or(10);
    let (nodes, count) = state
        .store
        .org_unit_tree(&scope, &t, Some(limit), paging.page)
        .await?;
    let paging = paging.resolve(count, crate::paging::OutOfRange::NotFound)?;
    Ok(Json(paging.envelope(
        "results",
        nodes.iter().map(tree_json).collect(),
        count,
    )))
}

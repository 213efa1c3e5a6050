//! What the georegistry endpoints share: the caller's scope, Iaso's date formats, dynamic
//! `fields=` selection, and the JSON shapes of org units that several endpoints return.

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::state::AppState;
use crate::timestamps::epoch;
use chrono::NaiveDate;
use iaso_domain::{OrgUnitTypeId, Permission};
use iaso_store::org_units::{GroupBrief, OrgUnit, OrgUnitBrief, OrgUnitScope, TypeBrief};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The caller's georegistry scope: the account's versions, and the profile's sub-trees unless
/// the caller is a superuser (Iaso's rule).
pub(crate) async fn scope(state: &AppState, member: &Member) -> ApiResult<OrgUnitScope> {
    let roots = if member.principal.user.is_superuser {
        Vec::new()
    } else {
        member.membership().org_unit_ids.clone()
    };
    Ok(state
        .store
        .org_unit_scope(member.account_id(), &roots)
        .await?)
}

/// Types the caller may create or edit (empty = all).
pub(crate) fn editable_types(member: &Member) -> &[OrgUnitTypeId] {
    &member.membership().editable_org_unit_type_ids
}

/// Read access to org units (Iaso's `HasOrgUnitPermission`).
pub(crate) const ORG_UNIT_READ: &[Permission] = &[
    Permission::Forms,
    Permission::OrgUnits,
    Permission::OrgUnitsRead,
    Permission::Submissions,
    Permission::RegistryWrite,
    Permission::RegistryRead,
];

/// A date as Iaso's APIs accept it: `%d-%m-%Y`, `%d/%m/%Y`, `%Y-%m-%d`, `%Y/%m/%d`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    ["%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// `dd/mm/YYYY` as Iaso's legacy dicts write dates.
pub(crate) fn dmy(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| json!(d.format("%d/%m/%Y").to_string()))
}

/// Keeps the keys named by `fields=a,b` (`:all` = every field, `:default` or nothing = the
/// defaults); an unknown name is a 400 on `fields`, as Iaso's dynamic fields answer.
pub(crate) fn select_fields(
    q: &QueryParams,
    all: &[&str],
    default: &[&str],
) -> ApiResult<Option<Vec<String>>> {
    let asked = q.list("fields");
    if asked.is_empty() {
        return Ok(if default.len() == all.len() {
            None
        } else {
            Some(default.iter().map(|s| s.to_string()).collect())
        });
    }
    if asked.iter().any(|f| f == ":all") && asked.iter().any(|f| f == ":default") {
        return Err(ApiError::field(
            "fields",
            "Dynamic fields cannot contain both :all and :default",
        ));
    }
    let invalid: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|f| *f != ":all" && *f != ":default" && !all.contains(f))
        .collect();
    if !invalid.is_empty() {
        return Err(ApiError::field(
            "fields",
            format!("Invalid dynamic fields: {}", invalid.join(", ")),
        ));
    }
    if asked.iter().any(|f| f == ":all") {
        return Ok(None);
    }
    if asked.iter().any(|f| f == ":default") {
        return Ok(Some(default.iter().map(|s| s.to_string()).collect()));
    }
    Ok(Some(asked))
}

/// Keeps only `fields` of an object (in their original order).
pub(crate) fn keep_fields(v: Value, fields: &Option<Vec<String>>) -> Value {
    match (v, fields) {
        (Value::Object(map), Some(keep)) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| keep.iter().any(|f| f == k))
                .collect::<Map<String, Value>>(),
        ),
        (v, _) => v,
    }
}

/// The org unit type as nested in org unit answers (`OrgUnitTypeSerializer`).
pub(crate) fn type_small_json(t: &TypeBrief) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "short_name": t.short_name,
        "created_at": epoch(t.created_at),
        "updated_at": epoch(t.updated_at),
        "depth": t.depth,
    })
}

pub(crate) fn group_json(g: &GroupBrief) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "source_ref": g.source_ref,
        "source_version": g.source_version_id,
        "created_at": epoch(g.created_at),
        "updated_at": epoch(g.updated_at),
    })
}

/// Iaso's `Group.as_dict(with_counts=False)`.
pub(crate) fn group_dict(g: &GroupBrief) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "source_ref": g.source_ref,
        "created_at": epoch(g.created_at),
        "updated_at": epoch(g.updated_at),
        "source_version": g.source_version_id,
        "block_of_countries": g.block_of_countries,
    })
}

fn lat(ou: &OrgUnit) -> Value {
    ou.location.map_or(Value::Null, |p| json!(p.y))
}

fn lon(ou: &OrgUnit) -> Value {
    ou.location.map_or(Value::Null, |p| json!(p.x))
}

fn alt(ou: &OrgUnit) -> Value {
    ou.location.map_or(Value::Null, |p| json!(p.z))
}

/// Iaso's `OrgUnit.as_dict()` (mobile creation answers, profiles' org units, `withShapes`).
pub(crate) fn as_dict(ou: &OrgUnit) -> Value {
    let mut v = json!({
        "name": ou.name,
        "short_name": ou.name,
        "id": ou.id,
        "source": ou.source_name,
        "source_id": ou.source_id,
        "source_ref": ou.source_ref,
        "parent_id": ou.parent_id,
        "org_unit_type_id": ou.org_unit_type_id(),
        "org_unit_type_name": ou.org_unit_type.as_ref().map(|t| t.name.clone()),
        "org_unit_type_depth": ou.org_unit_type.as_ref().and_then(|t| t.depth),
        "created_at": epoch(ou.created_at_with_fallback()),
        "updated_at": epoch(ou.updated_at),
        "aliases": ou.aliases,
        "validation_status": ou.validation_status,
        "latitude": lat(ou),
        "longitude": lon(ou),
        "altitude": alt(ou),
        "has_geo_json": ou.has_simplified_geom,
        "version": ou.version_number,
        "opening_date": dmy(ou.opening_date),
        "closed_date": dmy(ou.closed_date),
    });
    if let Some(i) = ou.search_index {
        v["search_index"] = json!(i);
    }
    v
}

/// Iaso's `as_dict_for_mobile()` (list without `limit`).
pub(crate) fn as_dict_for_mobile(ou: &OrgUnit) -> Value {
    json!({
        "name": ou.name,
        "id": ou.id,
        "parent_id": ou.parent_id,
        "org_unit_type_id": ou.org_unit_type_id(),
        "org_unit_type_name": ou.org_unit_type.as_ref().map(|t| t.name.clone()),
        "validation_status": if ou.org_unit_type.is_some() { json!(ou.validation_status) } else { Value::Null },
        "created_at": epoch(ou.created_at_with_fallback()),
        "updated_at": epoch(ou.updated_at),
        "latitude": lat(ou),
        "longitude": lon(ou),
        "altitude": alt(ou),
        "aliases": ou.aliases,
    })
}

/// Everything the detail shapes need besides the units themselves.
#[derive(Default)]
pub(crate) struct DetailContext {
    pub groups: HashMap<i64, Vec<GroupBrief>>,
    /// Full type dicts (with sub types) by type id.
    pub types: HashMap<i64, Value>,
}

/// Iaso's `as_dict_with_parents(light, light_parents)`; `ancestors` maps id → unit for the
/// parent chain.
pub(crate) fn as_dict_with_parents(
    ou: &OrgUnit,
    ancestors: &HashMap<i64, OrgUnit>,
    ctx: &DetailContext,
    light: bool,
    light_parents: bool,
) -> Value {
    let parent = ou
        .parent_id
        .and_then(|p| ancestors.get(&p.get()))
        .map(|p| as_dict_with_parents(p, ancestors, ctx, light_parents, light_parents));
    let mut v = json!({
        "name": ou.name,
        "short_name": ou.name,
        "id": ou.id,
        "code": ou.code,
        "sub_source": ou.sub_source,
        "sub_source_id": ou.sub_source,
        "source_ref": ou.source_ref,
        "source_url": Value::Null,
        "parent_id": ou.parent_id,
        "validation_status": ou.validation_status,
        "parent_name": ou.parent_name,
        "parent": parent,
        "org_unit_type_id": ou.org_unit_type_id(),
        "created_at": epoch(ou.created_at_with_fallback()),
        "updated_at": epoch(ou.updated_at),
        "aliases": ou.aliases,
        "latitude": lat(ou),
        "longitude": lon(ou),
        "altitude": alt(ou),
        "has_geo_json": ou.has_simplified_geom,
        "creator": ou.creator.as_ref().map(|c| c.display()),
        "opening_date": dmy(ou.opening_date),
        "closed_date": dmy(ou.closed_date),
        "default_image_id": ou.default_image_id,
    });
    if !light {
        let mut groups: Vec<Value> = ctx
            .groups
            .get(&ou.id.get())
            .map(|g| g.iter().map(group_dict).collect())
            .unwrap_or_default();
        groups.sort_by_key(|g| g["id"].as_i64());
        v["groups"] = json!(groups);
        v["org_unit_type_name"] = json!(ou.org_unit_type.as_ref().map(|t| t.name.clone()));
        v["org_unit_type"] = ou
            .org_unit_type
            .as_ref()
            .and_then(|t| ctx.types.get(&t.id.get()).cloned())
            .unwrap_or(Value::Null);
        v["source"] = json!(ou.source_name);
        v["source_id"] = json!(ou.source_id);
        v["version"] = json!(ou.version_number);
        v["version_id"] = json!(ou.version_id);
    }
    if let Some(i) = ou.search_index {
        v["search_index"] = json!(i);
    }
    v
}

/// Loads the groups and type dicts a detail answer needs for `units`.
pub(crate) async fn detail_context(
    state: &AppState,
    member: &Member,
    units: &[&OrgUnit],
) -> ApiResult<DetailContext> {
    let ids: Vec<i64> = units.iter().map(|u| u.id.get()).collect();
    let mut groups: HashMap<i64, Vec<GroupBrief>> = HashMap::new();
    for g in state.store.org_unit_groups(&ids).await? {
        groups.entry(g.org_unit_id).or_default().push(g);
    }
    let all_types = state.store.list_org_unit_types(member.account_id()).await?;
    let by_id: HashMap<i64, &iaso_store::org_unit_types::OrgUnitType> =
        all_types.iter().map(|t| (t.id.get(), t)).collect();
    let mut types = HashMap::new();
    for u in units {
        if let Some(t) = &u.org_unit_type {
            if let Some(full) = by_id.get(&t.id.get()) {
                types.insert(t.id.get(), type_as_dict(full, &by_id));
            }
        }
    }
    Ok(DetailContext { groups, types })
}

/// Iaso's `OrgUnitType.as_dict()`, with its sub types as small dicts.
pub(crate) fn type_as_dict(
    t: &iaso_store::org_unit_types::OrgUnitType,
    all: &HashMap<i64, &iaso_store::org_unit_types::OrgUnitType>,
) -> Value {
    let small = |t: &iaso_store::org_unit_types::OrgUnitType| {
        json!({
            "id": t.id,
            "name": t.name,
            "short_name": t.short_name,
            "created_at": epoch(t.created_at),
            "updated_at": epoch(t.updated_at),
            "depth": t.depth,
        })
    };
    let mut v = small(t);
    v["sub_unit_types"] = json!(t
        .sub_unit_type_ids
        .iter()
        .filter_map(|s| all.get(&s.get()))
        .map(|s| small(s))
        .collect::<Vec<_>>());
    v
}

/// The parent chain in the list shape (`OrgUnitSearchParentSerializer`), built from briefs.
pub(crate) fn search_parent_json(id: Option<i64>, briefs: &HashMap<i64, OrgUnitBrief>) -> Value {
    let Some(b) = id.and_then(|i| briefs.get(&i)) else {
        return Value::Null;
    };
    json!({
        "id": b.id,
        "name": b.name,
        "parent": search_parent_json(b.parent_id, briefs),
        "org_unit_type_id": b.org_unit_type_id,
        "org_unit_type_name": b.org_unit_type_name,
    })
}

/// Iaso's `Project.get_for_user_and_app_id`: the project of `app_id` if it needs no
/// authentication, or if the caller belongs to its account; `None` otherwise.
pub(crate) async fn app_project(
    state: &AppState,
    principal: Option<&iaso_store::principal::Principal>,
    app_id: &str,
) -> ApiResult<Option<iaso_domain::project::Project>> {
    let Some(project) = state.store.project_by_app_id(app_id).await? else {
        return Ok(None);
    };
    let same_account = principal
        .and_then(|p| p.account_id())
        .is_some_and(|a| a == project.account_id);
    if !project.needs_authentication || same_account {
        Ok(Some(project))
    } else {
        Ok(None)
    }
}

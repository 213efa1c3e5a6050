//! `/api/permissions/`: what can be granted in the account. User administrators see every
//! permission of the active modules; others see their own.

use crate::auth::Member;
use crate::error::ApiResult;
use axum::Json;
use iaso_domain::Permission;
use serde_json::{json, Map, Value};

fn visible(member: &Member) -> Vec<Permission> {
    let m = member.membership();
    let mut perms: Vec<Permission> = if member
        .principal
        .has_any(&[Permission::Users, Permission::UsersManaged])
    {
        Permission::available_for(&m.account.modules)
    } else {
        m.permissions.granted().to_vec()
    };
    perms.sort_by_key(|p| p.label());
    perms
}

fn perm_json(p: Permission) -> Value {
    json!({"id": p.id(), "name": p.label(), "codename": p.code()})
}

/// Permissions, sorted by name.
#[utoipa::path(get, path = "/api/permissions/", tag = "permissions", responses((status = 200, description = "`{permissions: [{id, name, codename}]}`")))]
pub async fn list(member: Member) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "permissions": visible(&member).into_iter().map(perm_json).collect::<Vec<_>>() }),
    ))
}

/// Permissions grouped as the dashboard shows them (forms, org_units, admin, ...).
#[utoipa::path(get, path = "/api/permissions/grouped_permissions/", tag = "permissions", responses((status = 200, description = "`{permissions: {group: [...]}}`")))]
pub async fn grouped(member: Member) -> ApiResult<Json<Value>> {
    const ORDER: &[&str] = &[
        "forms",
        "org_units",
        "data_validation",
        "registry",
        "entities",
        "dhis2_mapping",
        "external_storage",
        "planning",
        "embedded_links",
        "stock_management",
        "validation_workflow",
        "payments",
        "admin",
    ];
    let perms = visible(&member);
    let mut groups = Map::new();
    for group in ORDER {
        let items: Vec<Value> = perms
            .iter()
            .filter(|p| p.ui_group() == Some(group))
            .map(|p| perm_json(*p))
            .collect();
        if !items.is_empty() {
            groups.insert((*group).to_string(), Value::Array(items));
        }
    }
    Ok(Json(json!({ "permissions": groups })))
}

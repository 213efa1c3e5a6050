//! `/api/profiles/`: the users of the caller's account.
//!
//! Everyone may read and edit a few fields of their own profile through `me`; listing,
//! creating, editing and deleting others needs `iaso_users`. Only a holder of `iaso_users` may
//! grant `iaso_users`, and only permissions of the account's active modules can be granted.

use crate::auth::{AuthMethod, Caller, Member, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use axum_extra::extract::CookieJar;
use iaso_domain::account::Account;
use iaso_domain::password::check_new_password;
use iaso_domain::user::{valid_email, valid_username};
use iaso_domain::{
    FieldErrors, OrgUnitId, OrgUnitTypeId, Permission, ProfileId, ProjectId, UserId, UserRoleId,
};
use iaso_store::profiles::{ProfileChanges, ProfileFilter, ProfileView};
use iaso_store::user_roles::UserRole;
use serde::Deserialize;
use serde_json::{json, Value};

/// The account's default version as nested in profile answers (Iaso's
/// `NestedDefaultVersionSerializer`), or null.
pub(crate) async fn default_version_json(state: &AppState, a: &Account) -> ApiResult<Value> {
    let Some(v) = a.default_version_id else {
        return Ok(Value::Null);
    };
    let version = match state.store.version(a.id, v).await {
        Ok(v) => v,
        Err(iaso_store::StoreError::NotFound) => return Ok(Value::Null),
        Err(e) => return Err(e.into()),
    };
    let source = state.store.source(a.id, version.data_source_id).await?;
    Ok(json!({
        "data_source": {
            "name": source.name,
            "description": source.description,
            "id": source.id,
            "url": Value::Null,
            "created_at": epoch(source.created_at),
            "updated_at": epoch(source.updated_at),
            "tree_config_status_fields": source.tree_config_status_fields,
        },
        "number": version.number,
        "description": version.description,
        "id": version.id,
        "created_at": epoch(version.created_at),
        "updated_at": epoch(version.updated_at),
    }))
}

/// The account as nested in profile answers (`default_version` filled by the caller).
pub(crate) fn account_json(a: &Account, with_modules: bool) -> Value {
    let mut v = json!({
        "name": a.name,
        "id": a.id,
        "created_at": epoch(a.created_at),
        "updated_at": epoch(a.updated_at),
        "default_version": Value::Null,
        "feature_flags": a.feature_flags,
        "user_manual_path": a.user_manual_path,
        "forum_path": a.forum_path,
        "analytics_script": a.analytics_script,
    });
    if with_modules {
        v["modules"] = json!(a.modules);
    }
    v
}

fn role_json(r: &UserRole) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "group_id": r.id,
        "permissions": r.permissions,
        "created_at": epoch(r.created_at),
        "updated_at": epoch(r.updated_at),
    })
}

fn phone(p: &ProfileView) -> Value {
    if p.profile.phone_number.is_empty() {
        Value::Null
    } else {
        json!(p.profile.phone_number)
    }
}

/// Iaso's detail shape (`ProfileRetrieveSerializer`).
async fn detail_json(state: &AppState, view: &ProfileView, account: &Account) -> ApiResult<Value> {
    let store = &state.store;
    let roles = store
        .user_roles_by_ids(
            account.id,
            &view.roles.iter().map(|r| r.id).collect::<Vec<_>>(),
        )
        .await?;
    // Permissions in *this* account: the principal may currently be in another one.
    let permissions: Vec<Permission> = if view.user.is_superuser {
        Permission::available_for(&account.modules)
    } else {
        let mut all: Vec<Permission> = view.direct_permissions.clone();
        all.extend(roles.iter().flat_map(|r| r.permissions.iter().copied()));
        all.retain(|p| p.available_with(&account.modules));
        all.sort();
        all.dedup();
        all
    };
    let mut others: Vec<Value> = Vec::new();
    for a in store
        .accounts_of_user(view.user.id)
        .await?
        .iter()
        .filter(|a| a.id != account.id)
    {
        let mut v = account_json(a, false);
        v["default_version"] = default_version_json(state, a).await?;
        others.push(v);
    }
    let mut account_v = account_json(account, true);
    account_v["default_version"] = default_version_json(state, account).await?;
    let org_units: Vec<Value> = store
        .org_units_by_ids(
            &view
                .org_unit_ids
                .iter()
                .map(|o| o.get())
                .collect::<Vec<_>>(),
        )
        .await?
        .iter()
        .map(crate::routes::geo_common::as_dict)
        .collect();
    let types = store.list_org_unit_types(account.id).await?;
    let editable: Vec<Value> = view
        .editable_org_unit_type_ids
        .iter()
        .filter_map(|t| types.iter().find(|x| x.id == *t))
        .map(|t| json!({"id": t.id, "name": t.name}))
        .collect();
    Ok(json!({
        "id": view.profile.id,
        "first_name": view.user.first_name,
        "user_name": view.user.username,
        "last_name": view.user.last_name,
        "email": view.user.email,
        "date_joined": view.user.date_joined.to_rfc3339(),
        "permissions": permissions,
        "user_permissions": view.direct_permissions.iter().filter(|p| p.available_with(&account.modules)).collect::<Vec<_>>(),
        "is_staff": view.user.is_staff,
        "is_superuser": view.user.is_superuser,
        "user_roles": view.roles.iter().map(|r| r.id).collect::<Vec<_>>(),
        "user_roles_permissions": roles.iter().map(role_json).collect::<Vec<_>>(),
        "language": view.profile.language,
        "organization": view.profile.organization,
        "user_id": view.user.id,
        "dhis2_id": view.profile.dhis2_id,
        "home_page": view.profile.home_page,
        "phone_number": phone(view),
        "country_code": Value::Null,
        "projects": view.projects.iter().map(|p| json!({"id": p.id, "name": p.name, "app_id": p.app_id, "color": p.color})).collect::<Vec<_>>(),
        "other_accounts": others,
        "editable_org_unit_types": editable,
        "user_roles_editable_org_unit_type_ids": view.role_editable_org_unit_type_ids,
        "color": view.profile.color,
        "account": account_v,
        "org_units": org_units,
    }))
}

/// Iaso's list item shape (`ProfileListSerializer`).
fn list_json(view: &ProfileView) -> Value {
    json!({
        "id": view.profile.id,
        "user_id": view.user.id,
        "first_name": view.user.first_name,
        "user_name": view.user.username,
        "last_name": view.user.last_name,
        "email": view.user.email,
        "phone_number": phone(view),
        "user_roles": view.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect::<Vec<_>>(),
        "projects": view.projects.iter().map(|p| json!({"id": p.id, "name": p.name, "color": p.color})).collect::<Vec<_>>(),
        "user_display": view.user.display(),
    })
}

/// The caller's own profile, with its account, permissions and projects.
#[utoipa::path(get, path = "/api/profiles/me/", tag = "profiles",
    responses((status = 200, description = "The caller's profile"), (status = 401, description = "Not authenticated")))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let p = &caller.principal;
    let Some(m) = &p.membership else {
        // A login without any account (a bare superuser): Iaso's fallback shape.
        return Ok(Json(json!({
            "first_name": p.user.first_name,
            "user_name": p.user.username,
            "last_name": p.user.last_name,
            "email": p.user.email,
            "user_id": p.user.id,
            "projects": [],
            "is_staff": p.user.is_staff,
            "is_superuser": p.user.is_superuser,
            "account": Value::Null,
        })));
    };
    let view = state.store.profile(m.account.id, m.profile.id).await?;
    Ok(Json(detail_json(&state, &view, &m.account).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeChanges {
    language: Option<String>,
    home_page: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// Update the caller's own language, home page and names.
#[utoipa::path(patch, path = "/api/profiles/me/", tag = "profiles", request_body = MeChanges,
    responses((status = 200, description = "Updated profile")))]
pub async fn update_me(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<MeChanges>,
) -> ApiResult<Json<Value>> {
    let m = member.membership();
    let view = state.store.profile(m.account.id, m.profile.id).await?;
    let touches_names = body.first_name.is_some() || body.last_name.is_some();
    let changes = ProfileChanges {
        language: body
            .language
            .map(|l| Some(l.trim().to_string()).filter(|l| !l.is_empty())),
        home_page: body.home_page.map(Some),
        // A login shared with other accounts keeps its names (its owner changes them).
        first_name: body.first_name.filter(|_| !view.shared_login),
        last_name: body.last_name.filter(|_| !view.shared_login),
        ..Default::default()
    };
    if touches_names && view.shared_login {
        tracing::info!(user = %view.user.id, "name change ignored for a login shared by several accounts");
    }
    let view = state
        .store
        .update_profile(m.account.id, m.profile.id, &changes)
        .await?;
    Ok(Json(detail_json(&state, &view, &m.account).await?))
}

/// List the account's users (`iaso_users`). Paged by default (20 per page) under `results`.
#[utoipa::path(get, path = "/api/profiles/", tag = "profiles",
    params(("search" = Option<String>, Query, description = "In username, names and e-mail"),
           ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query),
           ("ids" = Option<String>, Query, description = "User ids, comma-separated"),
           ("user_roles" = Option<String>, Query), ("projects" = Option<String>, Query),
           ("permissions" = Option<String>, Query), ("has_email" = Option<bool>, Query),
           ("order" = Option<String>, Query, description = "e.g. user__username,-id")),
    responses((status = 200, description = "Paged profiles"), (status = 403, description = "Missing iaso_users")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(&[Permission::Users, Permission::UsersManaged])?;
    let filter = ProfileFilter {
        search: q.get("search").map(String::from),
        user_ids: q.ids("ids")?.into_iter().map(UserId).collect(),
        user_roles: q.ids("user_roles")?.into_iter().map(UserRoleId).collect(),
        projects: q.ids("projects")?.into_iter().map(ProjectId).collect(),
        permissions: q
            .list("permissions")
            .iter()
            .filter_map(|c| Permission::from_code(c))
            .collect(),
        has_email: q.bool("has_email")?,
        order: q.list("order"),
    };
    let paging = Paging::from_query(&q, Some(20))?;
    let page = state
        .store
        .list_profiles(member.account_id(), &filter, paging.request())
        .await?;
    let paging = paging.resolve(page.count, OutOfRange::NotFound)?;
    let items: Vec<Value> = page.items.iter().map(list_json).collect();
    Ok(Json(paging.envelope("results", items, page.count)))
}

/// Profile fields accepted on create and update (Iaso's names).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    user_name: Option<String>,
    password: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default)]
    send_email_invitation: bool,
    user_roles: Option<Vec<i64>>,
    projects: Option<Vec<i64>>,
    user_permissions: Option<Vec<String>>,
    language: Option<Option<String>>,
    organization: Option<Option<String>>,
    dhis2_id: Option<Option<String>>,
    home_page: Option<Option<String>>,
    phone_number: Option<Option<String>>,
    country_code: Option<Option<String>>,
    color: Option<String>,
    /// Org units whose sub-trees the user is restricted to (ids, or objects with an `id`).
    org_units: Option<Vec<Value>>,
    editable_org_unit_type_ids: Option<Vec<i64>>,
}

/// Validates a body into store changes; `creating` makes `user_name` required.
fn to_changes(
    state: &AppState,
    member: &Member,
    body: ProfileBody,
    creating: bool,
) -> ApiResult<(ProfileChanges, Option<String>)> {
    let account = &member.membership().account;
    let mut errors = FieldErrors::new();
    let username = body.user_name.map(|u| u.trim().to_string());
    match (&username, creating) {
        (None, true) => {
            errors.add("user_name", "This field is required.");
        }
        (Some(u), _) => {
            if let Err(e) = valid_username(u) {
                errors.add("user_name", e);
            }
        }
        _ => {}
    }
    if let Some(email) = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if !valid_email(email) {
            errors.add("email", "Enter a valid email address.");
        }
    }
    let mut permissions = None;
    if let Some(codes) = &body.user_permissions {
        let mut perms = Vec::new();
        for code in codes {
            match Permission::from_code(code) {
                Some(p) if !p.available_with(&account.modules) => {
                    errors.add(
                        "user_permissions",
                        format!("{code} needs a module this account has not activated."),
                    );
                }
                Some(p) => perms.push(p),
                None => {
                    errors.add(
                        "user_permissions",
                        format!("Object with codename={code} does not exist."),
                    );
                }
            }
        }
        if perms.contains(&Permission::Users) && !member.has(Permission::Users) {
            errors.add(
                "user_permissions",
                "Only a user holding iaso_users may grant it.",
            );
        }
        permissions = Some(perms);
    }
    let mut password_hash = None;
    if let Some(pw) = body.password.as_deref().filter(|p| !p.is_empty()) {
        if account.enforce_password_validation {
            if let Err(problems) = check_new_password(pw, username.as_deref().unwrap_or_default()) {
                for p in problems {
                    errors.add("password", p);
                }
            }
        }
        password_hash = Some(state.hasher.hash(pw));
    }
    let mut invitation_email = None;
    if creating && body.send_email_invitation {
        match body
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Some(e) => invitation_email = Some(e.to_string()),
            None => {
                errors.add(
                    "email",
                    "An e-mail address is needed to send an invitation.",
                );
            }
        }
    }
    let color = body
        .color
        .as_ref()
        .map(|c| iaso_domain::validation::color(&mut errors, "color", c));
    let mut org_units = None;
    if let Some(list) = &body.org_units {
        let mut ids = Vec::new();
        for v in list {
            match v.as_i64().or_else(|| v.get("id").and_then(Value::as_i64)) {
                Some(id) => ids.push(OrgUnitId(id)),
                None => {
                    errors.add("org_units", "Expected a list of org unit ids.");
                }
            }
        }
        org_units = Some(ids);
    }
    errors.into_result()?;
    let blank_to_none = |v: Option<Option<String>>| {
        v.map(|o| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
    };
    let _ = body.country_code;
    Ok((
        ProfileChanges {
            username,
            password_hash,
            email: body.email,
            first_name: body.first_name,
            last_name: body.last_name,
            language: blank_to_none(body.language),
            organization: blank_to_none(body.organization),
            dhis2_id: blank_to_none(body.dhis2_id),
            home_page: blank_to_none(body.home_page),
            phone_number: body
                .phone_number
                .map(|p| p.unwrap_or_default().trim().to_string()),
            color,
            user_roles: body
                .user_roles
                .map(|r| r.into_iter().map(UserRoleId).collect()),
            projects: body
                .projects
                .map(|p| p.into_iter().map(ProjectId).collect()),
            permissions,
            org_units,
            editable_org_unit_type_ids: body
                .editable_org_unit_type_ids
                .map(|t| t.into_iter().map(OrgUnitTypeId).collect()),
        },
        invitation_email,
    ))
}

/// A user restricted to sub-trees may only restrict others inside its own sub-trees.
async fn check_org_unit_grant(
    state: &AppState,
    member: &Member,
    changes: &ProfileChanges,
) -> ApiResult<()> {
    let Some(units) = changes.org_units.as_ref().filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    let scope = crate::routes::geo_common::scope(state, member).await?;
    if !scope.is_restricted() {
        return Ok(());
    }
    let ids: Vec<i64> = units.iter().map(|u| u.get()).collect();
    let found = state.store.org_unit_paths(&ids).await?;
    let all_inside = ids
        .iter()
        .all(|id| found.iter().any(|(i, v, p)| i == id && scope.covers(*v, p)));
    if all_inside {
        Ok(())
    } else {
        Err(ApiError::field(
            "org_units",
            "You can only assign org units inside your own org units.",
        ))
    }
}

/// Create a user in the account (`iaso_users`).
#[utoipa::path(post, path = "/api/profiles/", tag = "profiles", request_body = ProfileBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors"), (status = 403, description = "Missing iaso_users")))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Users)?;
    let (changes, invitation) = to_changes(&state, &member, body, true)?;
    check_org_unit_grant(&state, &member, &changes).await?;
    let account = &member.membership().account;
    let view = state.store.create_profile(account.id, &changes).await?;
    if let Some(email) = invitation {
        crate::routes::password_reset::send_invitation(&state, &view.user, &email, &account.name)
            .await;
    }
    Ok((
        StatusCode::CREATED,
        Json(detail_json(&state, &view, account).await?),
    ))
}

/// One user of the account (`iaso_users`).
#[utoipa::path(get, path = "/api/profiles/{id}/", tag = "profiles", params(("id" = i64, Path)),
    responses((status = 200, description = "Profile"), (status = 404, description = "Not in this account")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(&[Permission::Users, Permission::UsersManaged])?;
    let account = &member.membership().account;
    let view = state.store.profile(account.id, ProfileId(id)).await?;
    Ok(Json(detail_json(&state, &view, account).await?))
}

async fn do_update(
    state: &AppState,
    member: &Member,
    id: i64,
    body: ProfileBody,
) -> ApiResult<Json<Value>> {
    member.require(Permission::Users)?;
    let account = &member.membership().account;
    let (changes, _) = to_changes(state, member, body, false)?;
    check_org_unit_grant(state, member, &changes).await?;
    let view = state
        .store
        .update_profile(account.id, ProfileId(id), &changes)
        .await?;
    Ok(Json(detail_json(state, &view, account).await?))
}

/// Change a user of the account (`iaso_users`); absent fields stay as they are.
#[utoipa::path(patch, path = "/api/profiles/{id}/", tag = "profiles", params(("id" = i64, Path)), request_body = ProfileBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not in this account")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &member, id, body).await
}

/// Same as PATCH.
#[utoipa::path(put, path = "/api/profiles/{id}/", tag = "profiles", params(("id" = i64, Path)), request_body = ProfileBody,
    responses((status = 200, description = "Updated")))]
pub async fn update_put(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &member, id, body).await
}

/// Remove a user from the account (`iaso_users`); one cannot delete oneself.
#[utoipa::path(delete, path = "/api/profiles/{id}/", tag = "profiles", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not in this account")))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    member.require(Permission::Users)?;
    if member.membership().profile.id == ProfileId(id) {
        return Err(ApiError::BadRequest(
            "You cannot delete your own profile.".into(),
        ));
    }
    state
        .store
        .delete_profile(member.account_id(), ProfileId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    password: String,
}

/// Set a password: one's own (`me` or one's id), or another user's with `iaso_users`. Every
/// token and session of that user issued before stops working, except the browser session that
/// changed its own password: it is replaced by a new one (new `sessionid` and `csrftoken`
/// cookies), so the dashboard stays logged in.
#[utoipa::path(patch, path = "/api/profiles/{id}/update-password/", tag = "profiles",
    params(("id" = String, Path, description = "A profile id or `me`")), request_body = PasswordBody,
    responses((status = 204, description = "Changed"), (status = 400, description = "Password refused")))]
pub async fn update_password(
    State(state): State<AppState>,
    member: Member,
    jar: CookieJar,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<(StatusCode, CookieJar)> {
    let m = member.membership();
    let target = if id == "me" {
        m.profile.id
    } else {
        ProfileId(id.parse().map_err(|_| ApiError::NotFound)?)
    };
    if target != m.profile.id {
        member.require(Permission::Users)?;
    }
    let view = state.store.profile(m.account.id, target).await?;
    if view.shared_login && target != m.profile.id {
        return Err(ApiError::field(
            "password",
            "This login also belongs to other accounts; only its owner can change its password.",
        ));
    }
    if m.account.enforce_password_validation {
        if let Err(problems) = check_new_password(&body.password, &view.user.username) {
            let mut errors = FieldErrors::new();
            for p in problems {
                errors.add("password", p);
            }
            return Err(errors.into());
        }
    }
    let hasher = state.hasher.clone();
    let hash = tokio::task::spawn_blocking(move || hasher.hash(&body.password))
        .await
        .map_err(ApiError::internal)?;
    state.store.set_password_hash(view.user.id, &hash).await?;
    if target == m.profile.id && member.method == AuthMethod::Session {
        if let Some(old) = jar.get(SESSION_COOKIE) {
            state.store.delete_session(old.value()).await?;
        }
        let user = state.store.user(view.user.id).await?;
        let (jar, _) = crate::routes::session::start_session(&state, jar, &user).await?;
        return Ok((StatusCode::NO_CONTENT, jar));
    }
    Ok((StatusCode::NO_CONTENT, jar))
}

//! `/api/tasks/`: background tasks of the caller's account (Iaso's TaskSourceViewSet), their
//! logs and result files, and the task-creation endpoints under `/api/tasks/create/`.

use crate::auth::{Caller, MaybeCaller, Member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::{epoch, epoch_opt};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, TimeZone, Utc};
use futures::TryStreamExt;
use iaso_domain::{AccountId, Permission, TaskId, UserId};
use iaso_store::principal::Principal;
use iaso_store::tasks::{Task, TaskFilter, TaskStatus, TaskUser};
use iaso_tasks::kinds::{profiles_bulk_update, profiles_export};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Who may list tasks and act on others' tasks.
const TASK_PERMISSIONS: &[Permission] = &[Permission::DataTasks, Permission::PlanningWrite];

/// How long a download link from `presigned-url` stays valid.
const LINK_LIFETIME_SECS: i64 = 15 * 60;

fn user_json(u: &Option<TaskUser>) -> Value {
    match u {
        None => Value::Null,
        Some(u) => json!({
            "id": u.id.get(),
            "first_name": u.first_name,
            "last_name": u.last_name,
            "username": u.username,
            "full_name": format!("{} {}", u.first_name, u.last_name).trim(),
        }),
    }
}

/// Iaso's TaskSerializer (params are never shown: they may hold credentials).
pub fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id.get(),
        "created_at": epoch(t.created_at),
        "started_at": epoch_opt(t.started_at),
        "ended_at": epoch_opt(t.ended_at),
        "progress_value": t.progress_value,
        "end_value": t.end_value,
        "created_by": user_json(&t.created_by),
        "launcher": user_json(&t.launcher),
        "result": t.result,
        "status": t.status.code(),
        "name": t.name,
        "should_be_killed": t.should_be_killed,
        "progress_message": t.progress_message,
        "polio_notification_import_id": null,
    })
}

/// Answer of every task-creation endpoint: 201 `{"task": ...}`.
pub fn created(task: &Task) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "task": task_json(task) })),
    )
}

/// Queues a task of type `name` for the caller's account with `params` and answers as Iaso's
/// creation endpoints do. Creation endpoints check permissions and validate their body, then
/// call this.
pub async fn launch(
    state: &AppState,
    member: &Member,
    name: &str,
    params: &impl Serialize,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let task = state
        .tasks
        .launch(
            member.account_id(),
            Some(member.principal.user.id),
            name,
            params,
        )
        .await?;
    Ok(created(&task))
}

fn parse_day(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%d-%m-%Y"))
        .ok()
}

/// A task of the caller's account that the caller may see: with the task permissions, or
/// its own (403 otherwise, as Iaso).
async fn visible_task(state: &AppState, member: &Member, id: i64) -> ApiResult<Task> {
    visible_to(state, &member.principal, member.account_id(), id).await
}

async fn visible_to(
    state: &AppState,
    principal: &Principal,
    account: AccountId,
    id: i64,
) -> ApiResult<Task> {
    let task = state.store.task(account, TaskId(id)).await?;
    let own = task.created_by.as_ref().map(|u| u.id) == Some(principal.user.id);
    if !own && !principal.has_any(TASK_PERMISSIONS) {
        return Err(ApiError::permission_denied());
    }
    Ok(state.tasks.overlay(task))
}

/// List the account's tasks
#[utoipa::path(get, path = "/api/tasks/", tag = "tasks",
    params(
        ("task_type" = Option<String>, Query, description = "Task name"),
        ("users" = Option<String>, Query, description = "Comma-separated ids of creators or launchers"),
        ("status" = Option<String>, Query, description = "Comma-separated statuses"),
        ("start_date" = Option<String>, Query, description = "YYYY-MM-DD: tasks with a timestamp on or after that day"),
        ("end_date" = Option<String>, Query, description = "YYYY-MM-DD: tasks with a timestamp on or before that day"),
        ("order" = Option<String>, Query, description = "name, status, created_by__username, created_at, started_at, ended_at (- for descending); default -created_at"),
        ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query),
    ),
    responses((status = 200, description = "`{count, tasks, has_next, has_previous, page, pages, limit}` (or `{tasks}` without limit)")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(TASK_PERMISSIONS)?;
    let mut statuses = Vec::new();
    for code in q.list("status") {
        statuses.push(
            TaskStatus::from_code(&code).ok_or_else(|| {
                ApiError::field("status", format!("{code:?} is not a task status."))
            })?,
        );
    }
    let users: Vec<UserId> = q
        .list("users")
        .iter()
        .filter_map(|v| v.parse().ok())
        .map(UserId)
        .collect();
    // Unparsable dates are ignored, as Iaso does.
    let start = q
        .get("start_date")
        .and_then(parse_day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d));
    let end = q
        .get("end_date")
        .and_then(parse_day)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map(|d| Utc.from_utc_datetime(&d));
    let filter = TaskFilter {
        name: q.get("task_type").map(String::from),
        users,
        statuses,
        start,
        end,
        created_by: None,
        order: q.list("order"),
    };
    let paging = Paging::from_query(&q, None)?;
    let page = state
        .store
        .list_tasks(member.account_id(), &filter, paging.request())
        .await?;
    let paging = paging.resolve(page.count, OutOfRange::NotFound)?;
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|t| task_json(&state.tasks.overlay(t)))
        .collect();
    Ok(Json(paging.envelope("tasks", items, page.count)))
}

/// A task
#[utoipa::path(get, path = "/api/tasks/{id}/", tag = "tasks",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The task"), (status = 403), (status = 404)))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let task = visible_task(&state, &member, id).await?;
    Ok(Json(task_json(&task)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TaskPatch {
    pub should_be_killed: Option<bool>,
}

/// Ask a task to stop
///
/// `{"should_be_killed": true}`: a queued task is killed at once, a running one stops at its
/// next checkpoint and its work is rolled back.
#[utoipa::path(patch, path = "/api/tasks/{id}/", tag = "tasks",
    params(("id" = i64, Path)), request_body = TaskPatch,
    responses((status = 200, description = "The task"), (status = 403), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<TaskPatch>,
) -> ApiResult<Json<Value>> {
    member.require_any(TASK_PERMISSIONS)?;
    let task = if body.should_be_killed == Some(true) {
        state
            .tasks
            .request_kill(member.account_id(), TaskId(id))
            .await?
    } else {
        state.store.task(member.account_id(), TaskId(id)).await?
    };
    Ok(Json(task_json(&state.tasks.overlay(task))))
}

/// Queue an ERRORED task again
#[utoipa::path(patch, path = "/api/tasks/{id}/relaunch/", tag = "tasks",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The task, QUEUED"), (status = 400), (status = 403), (status = 404)))]
pub async fn relaunch(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    visible_task(&state, &member, id).await?;
    let task = state
        .store
        .relaunch_task(member.account_id(), TaskId(id), member.principal.user.id)
        .await?;
    state.tasks.wake();
    Ok(Json(task_json(&task)))
}

/// The history of a task
#[utoipa::path(get, path = "/api/tasks/{id}/logs/", tag = "tasks",
    params(("id" = i64, Path), ("order" = Option<String>, Query, description = "created_at (default) or -created_at")),
    responses((status = 200, description = "`{status, logs: [{created_at, message}], end_value, progress_value}`")))]
pub async fn logs(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let task = visible_task(&state, &member, id).await?;
    let newest_first = q.get("order") == Some("-created_at");
    let logs = state
        .store
        .task_logs(member.account_id(), task.id, newest_first)
        .await?;
    let logs: Vec<Value> = logs
        .iter()
        .map(|l| json!({"created_at": epoch(l.created_at), "message": l.message}))
        .collect();
    Ok(Json(json!({
        "status": task.status.code(),
        "logs": logs,
        "end_value": task.end_value,
        "progress_value": task.progress_value,
    })))
}

/// Task names used in the account
#[utoipa::path(get, path = "/api/tasks/types/", tag = "tasks",
    responses((status = 200, description = "Distinct task names")))]
pub async fn types(State(state): State<AppState>, member: Member) -> ApiResult<Json<Value>> {
    member.require_any(TASK_PERMISSIONS)?;
    Ok(Json(json!(
        state.store.task_types(member.account_id()).await?
    )))
}

/// Queued and running tasks of every account (superuser and staff)
#[utoipa::path(get, path = "/api/tasks/deployment-status/", tag = "tasks",
    responses((status = 200, description = "`{can_deploy, blocking_tasks_count, statuses, blocking_tasks}`"), (status = 403)))]
pub async fn deployment_status(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let user = &caller.principal.user;
    if !(user.is_superuser && user.is_staff) {
        return Err(ApiError::permission_denied());
    }
    let alive = state.store.alive_tasks().await?;
    let mut queued = 0;
    let mut running = 0;
    let mut groups: Vec<(String, i64, i64, Vec<Value>)> = Vec::new();
    for t in &alive {
        let is_running = t.status == TaskStatus::Running;
        if is_running {
            running += 1;
        } else {
            queued += 1;
        }
        let i = match groups.iter().position(|g| g.0 == t.name) {
            Some(i) => i,
            None => {
                groups.push((t.name.clone(), 0, 0, Vec::new()));
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        if is_running {
            g.2 += 1;
        } else {
            g.1 += 1;
        }
        g.3.push(json!({
            "id": t.id.get(),
            "name": t.name,
            "status": t.status.code(),
            "created_at": epoch(t.created_at),
            "started_at": epoch_opt(t.started_at),
            "launcher": t.launcher,
        }));
    }
    let blocking: Vec<Value> = groups
        .into_iter()
        .map(|(name, q, r, tasks)| json!({"name": name, "QUEUED": q, "RUNNING": r, "tasks": tasks}))
        .collect();
    Ok(Json(json!({
        "can_deploy": queued + running == 0,
        "blocking_tasks_count": queued + running,
        "statuses": {"QUEUED": queued, "RUNNING": running},
        "blocking_tasks": blocking,
    })))
}

#[derive(Serialize, Deserialize)]
struct DownloadClaims {
    purpose: String,
    task: i64,
    exp: i64,
}

fn download_token(state: &AppState, task: TaskId) -> ApiResult<String> {
    let claims = DownloadClaims {
        purpose: "task_result".into(),
        task: task.get(),
        exp: Utc::now().timestamp() + LINK_LIFETIME_SECS,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(state.settings.secret_key.as_bytes()),
    )
    .map_err(ApiError::internal)
}

fn check_download_token(state: &AppState, task: i64, token: &str) -> bool {
    jsonwebtoken::decode::<DownloadClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(state.settings.secret_key.as_bytes()),
        &jsonwebtoken::Validation::default(),
    )
    .is_ok_and(|d| d.claims.purpose == "task_result" && d.claims.task == task)
}

fn no_file() -> ApiError {
    ApiError::field(
        "presigned_url",
        "Could not create a presigned URL, are you sure the task generated a file?",
    )
}

/// A temporary link to the task's result file
///
/// A presigned S3 URL when files are on S3, otherwise a link to `/api/tasks/{id}/download/`
/// carrying a token valid 15 minutes.
#[utoipa::path(get, path = "/api/tasks/{id}/presigned-url/", tag = "tasks",
    params(("id" = i64, Path)),
    responses((status = 200, description = "`{presigned_url}`"), (status = 400, description = "The task has no result file")))]
pub async fn presigned_url(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let task = visible_task(&state, &member, id).await?;
    let key = iaso_tasks::result_file_key(task.result.as_ref()).ok_or_else(no_file)?;
    let expires = std::time::Duration::from_secs(LINK_LIFETIME_SECS as u64);
    let url = match state
        .files
        .presigned_url(key, expires)
        .await
        .map_err(ApiError::internal)?
    {
        Some(url) => url.to_string(),
        None => format!(
            "{}/api/tasks/{}/download/?token={}",
            state.settings.public_url.trim_end_matches('/'),
            task.id,
            download_token(&state, task.id)?
        ),
    };
    Ok(Json(json!({ "presigned_url": url })))
}

fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => "text/csv; charset=utf-8",
        "json" | "geojson" => "application/json",
        "gpkg" => "application/geopackage+sqlite3",
        "zip" => "application/zip",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Download the task's result file
///
/// Streams the file. Either authenticated (with the task permissions, or the task's creator)
/// or with the `token` of a link from `presigned-url`.
#[utoipa::path(get, path = "/api/tasks/{id}/download/", tag = "tasks",
    params(("id" = i64, Path), ("token" = Option<String>, Query, description = "Token of a presigned link")),
    responses((status = 200, description = "The file"), (status = 404)))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    q: QueryParams,
    MaybeCaller(caller): MaybeCaller,
) -> ApiResult<Response> {
    let member = caller.and_then(|p| p.account_id().map(|a| (p, a)));
    let task = match (q.get("token"), member) {
        (Some(token), _) if check_download_token(&state, id, token) => {
            state.store.task_any_account(TaskId(id)).await?
        }
        (Some(_), None) => {
            return Err(ApiError::Forbidden(
                "This download link is invalid or has expired.".into(),
            ))
        }
        (_, Some((principal, account))) => visible_to(&state, &principal, account, id).await?,
        (None, None) => {
            return Err(ApiError::Unauthenticated(
                "Authentication credentials were not provided.".into(),
            ))
        }
    };
    let key = iaso_tasks::result_file_key(task.result.as_ref()).ok_or(ApiError::NotFound)?;
    let file = state.files.get(key).await.map_err(|e| match e {
        iaso_tasks::FileError::NotFound(_) => ApiError::NotFound,
        other => ApiError::internal(other),
    })?;
    let name = key.rsplit('/').next().unwrap_or("result");
    let body = Body::from_stream(file.stream.map_err(std::io::Error::other));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(key)),
    );
    if let Ok(v) = HeaderValue::from_str(&file.size.to_string()) {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Bulk update of profiles (task `profiles_bulk_update`)
///
/// Iaso's body: `select_all`, `selected_ids`, `unselected_ids`, `projects_ids_added`,
/// `projects_ids_removed`, `roles_id_added`, `roles_id_removed`, `language`, `organization`,
/// and with `select_all` the filters `search`, `user_roles`, `projects`.
#[utoipa::path(post, path = "/api/tasks/create/profilesbulkupdate/", tag = "tasks",
    responses((status = 201, description = "`{task}`"), (status = 403)))]
pub async fn create_profiles_bulk_update(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Users)?;
    let params = bulk_params(body)?;
    launch(&state, &member, profiles_bulk_update::NAME, &params).await
}

/// Accepts lists as JSON arrays or comma-separated strings, as Iaso's web client sends both.
fn bulk_params(mut body: Value) -> ApiResult<profiles_bulk_update::Params> {
    if let Some(obj) = body.as_object_mut() {
        for key in ["user_roles", "projects"] {
            if let Some(Value::String(s)) = obj.get(key) {
                let ids: Result<Vec<i64>, _> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::parse::<i64>)
                    .collect();
                let ids = ids.map_err(|_| ApiError::field(key, "Expected comma-separated ids."))?;
                obj.insert(key.into(), json!(ids));
            }
        }
        obj.retain(|_, v| !v.is_null());
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::BadRequest(format!("Invalid JSON data - {e}")))
}

/// Export the account's users as CSV (task `profiles_export`)
///
/// An addition of this port: the file is produced in the background and downloaded from
/// `/api/tasks/{id}/download/` once the task succeeded. Body: `search`, `user_roles`,
/// `projects` (the filters of `/api/profiles/`), all optional.
#[utoipa::path(post, path = "/api/tasks/create/exportprofiles/", tag = "tasks",
    responses((status = 201, description = "`{task}`"), (status = 403)))]
pub async fn create_profiles_export(
    State(state): State<AppState>,
    member: Member,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require_any(&[Permission::Users, Permission::UsersManaged])?;
    let params: profiles_export::Params = if body.trim().is_empty() {
        profiles_export::Params::default()
    } else {
        serde_json::from_str(&body)
            .map_err(|e| ApiError::BadRequest(format!("Invalid JSON data - {e}")))?
    };
    launch(&state, &member, profiles_export::NAME, &params).await
}

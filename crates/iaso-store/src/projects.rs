//! Projects and their feature flags.

use crate::feature_flags::{FeatureFlagRow, FLAG_COLUMNS};
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::project::{Project, ProjectFeatureFlag, REQUIRE_AUTHENTICATION};
use iaso_domain::{AccountId, FieldErrors, ProjectId};
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: i64,
    account_id: i64,
    name: String,
    app_id: String,
    needs_authentication: bool,
    description: String,
    color: String,
    min_version: Option<i64>,
    redirection_url: Option<String>,
    external_token: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const PROJECT_COLUMNS: &str =
    "p.id, p.account_id, p.name, p.app_id, p.needs_authentication, p.description, \
    p.color, p.min_version, p.redirection_url, p.external_token, p.created_at, p.updated_at";

#[derive(sqlx::FromRow)]
struct ProjectFlagRow {
    project_id: i64,
    configuration: Option<Json<serde_json::Value>>,
    #[sqlx(flatten)]
    flag: FeatureFlagRow,
}

/// Which projects a list shows.
#[derive(Debug, Clone, Default)]
pub struct ProjectScope {
    /// Profile restriction: when not empty, only these projects.
    pub only: Vec<ProjectId>,
}

/// A flag to switch on, by code, with its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagChoice {
    pub code: String,
    pub configuration: Option<serde_json::Value>,
}

/// Fields of a project; `None` leaves a field unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub needs_authentication: Option<bool>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub feature_flags: Option<Vec<FlagChoice>>,
}

async fn with_flags(c: &mut impl Conn, rows: Vec<ProjectRow>) -> StoreResult<Vec<Project>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(format!(
        "SELECT pf.project_id, pf.configuration, {FLAG_COLUMNS} FROM project_feature_flags pf
         JOIN feature_flags f ON f.id = pf.feature_flag_id WHERE pf.project_id IN ("
    ));
    q.bind_list(rows.iter().map(|r| r.id))
        .push(") ORDER BY f.id");
    let flags: Vec<ProjectFlagRow> = c.fetch_all(q).await?;
    let mut flags: Vec<(i64, ProjectFeatureFlag)> = flags
        .into_iter()
        .map(|f| {
            (
                f.project_id,
                ProjectFeatureFlag {
                    flag: f.flag.into(),
                    configuration: f.configuration.map(|j| j.0),
                },
            )
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let (mine, rest): (Vec<_>, Vec<_>) = flags.drain(..).partition(|(pid, _)| *pid == r.id);
            flags = rest;
            Project {
                id: ProjectId(r.id),
                account_id: AccountId(r.account_id),
                name: r.name,
                app_id: r.app_id,
                needs_authentication: r.needs_authentication,
                description: r.description,
                color: r.color,
                min_version: r.min_version,
                redirection_url: r.redirection_url,
                external_token: r.external_token,
                feature_flags: mine.into_iter().map(|(_, f)| f).collect(),
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// Resolves flag codes and applies Iaso's rule: a flag that requires authentication needs
/// `REQUIRE_AUTHENTICATION` (added automatically when the project needs authentication).
async fn resolve_flags(
    c: &mut impl Conn,
    choices: &[FlagChoice],
    needs_authentication: bool,
) -> StoreResult<(Vec<(i64, Option<serde_json::Value>)>, bool)> {
    let catalogue: Vec<FeatureFlagRow> = c
        .fetch_all(Sql::new(format!(
            "SELECT {FLAG_COLUMNS} FROM feature_flags f"
        )))
        .await?;
    let catalogue: Vec<iaso_domain::project::FeatureFlag> =
        catalogue.into_iter().map(Into::into).collect();
    let mut errors = FieldErrors::new();
    let mut chosen = Vec::new();
    let requires_auth =
        needs_authentication || choices.iter().any(|c| c.code == REQUIRE_AUTHENTICATION);
    for choice in choices {
        match catalogue.iter().find(|f| f.code == choice.code) {
            None => {
                errors.add(
                    "feature_flags",
                    format!("Unknown feature flag code {:?}.", choice.code),
                );
            }
            Some(flag) if flag.requires_authentication && !requires_auth => {
                errors.add(
                    "feature_flags",
                    format!(
                        "'{}' requires authentication. The feature flag '{REQUIRE_AUTHENTICATION}' must be added alongside this one.",
                        flag.code
                    ),
                );
            }
            Some(flag) => {
                if !chosen.iter().any(|(id, _)| *id == flag.id) {
                    chosen.push((flag.id, choice.configuration.clone()));
                }
            }
        }
    }
    if requires_auth {
        if let Some(flag) = catalogue.iter().find(|f| f.code == REQUIRE_AUTHENTICATION) {
            if !chosen.iter().any(|(id, _)| *id == flag.id) {
                chosen.push((flag.id, None));
            }
        }
    }
    errors.into_result()?;
    Ok((chosen, requires_auth))
}

async fn write_flags(
    c: &mut impl Conn,
    project: i64,
    flags: &[(i64, Option<serde_json::Value>)],
) -> StoreResult<()> {
    c.execute(sql!(
        "DELETE FROM project_feature_flags WHERE project_id = $1",
        project
    ))
    .await?;
    for (flag, configuration) in flags {
        c.execute(sql!(
            "INSERT INTO project_feature_flags (project_id, feature_flag_id, configuration) VALUES ($1, $2, $3)",
            project,
            *flag,
            configuration.clone()
        ))
        .await?;
    }
    Ok(())
}

fn app_id_taken(e: iaso_db::DbError) -> StoreError {
    match e {
        iaso_db::DbError::UniqueViolation { .. } => {
            StoreError::invalid("app_id", "App id already used")
        }
        other => other.into(),
    }
}

pub(crate) async fn insert_project(
    c: &mut impl Conn,
    account: AccountId,
    name: &str,
    app_id: &str,
    needs_authentication: bool,
) -> StoreResult<ProjectId> {
    let now = iaso_db::now();
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO projects (account_id, name, app_id, needs_authentication, description, color,
                external_token, created_at, updated_at)
             VALUES ($1, $2, $3, $4, '', '#1976D2', $5, $6, $6) RETURNING id",
            account.get(),
            name,
            app_id,
            needs_authentication,
            uuid::Uuid::new_v4(),
            now
        ))
        .await
        .map_err(app_id_taken)?;
    Ok(ProjectId(id))
}

impl Store {
    pub async fn list_projects(
        &self,
        account: AccountId,
        scope: &ProjectScope,
        order: &[String],
    ) -> StoreResult<Vec<Project>> {
        let mut db = self.db.clone();
        let mut q = Sql::new(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.account_id = "
        ));
        q.bind(account.get());
        if !scope.only.is_empty() {
            q.push(" AND p.id IN (")
                .bind_list(scope.only.iter().map(|p| p.get()))
                .push(")");
        }
        let mut parts = Vec::new();
        for key in order.iter().flat_map(|o| o.split(',')) {
            let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
            let col = match key.trim() {
                "app_id" => "p.app_id",
                "name" => "p.name",
                "id" => "p.id",
                "created_at" => "p.created_at",
                _ => continue,
            };
            parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
        }
        parts.push("p.id".into());
        q.push(" ORDER BY ").push(&parts.join(", "));
        let rows: Vec<ProjectRow> = db.fetch_all(q).await?;
        with_flags(&mut db, rows).await
    }

    pub async fn project(&self, account: AccountId, id: ProjectId) -> StoreResult<Project> {
        let mut db = self.db.clone();
        let row: ProjectRow = db
            .fetch_one(sql!(
                &format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.account_id = $1 AND p.id = $2"),
                account.get(),
                id.get()
            ))
            .await?;
        with_flags(&mut db, vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// A project by `app_id`, in any account (the mobile gate checks the account afterwards).
    pub async fn project_by_app_id(&self, app_id: &str) -> StoreResult<Option<Project>> {
        let mut db = self.db.clone();
        let row: Option<ProjectRow> = db
            .fetch_optional(sql!(
                &format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.app_id = $1"),
                app_id
            ))
            .await?;
        Ok(match row {
            Some(row) => with_flags(&mut db, vec![row]).await?.pop(),
            None => None,
        })
    }

    pub async fn create_project(
        &self,
        account: AccountId,
        ch: &ProjectChanges,
    ) -> StoreResult<Project> {
        let mut tx = self.db.begin().await?;
        let (flags, needs_auth) = resolve_flags(
            &mut tx,
            ch.feature_flags.as_deref().unwrap_or_default(),
            ch.needs_authentication.unwrap_or(false),
        )
        .await?;
        let id = insert_project(
            &mut tx,
            account,
            ch.name.as_deref().unwrap_or_default(),
            ch.app_id.as_deref().unwrap_or_default(),
            needs_auth,
        )
        .await?;
        let now = iaso_db::now();
        tx.execute(sql!(
            "UPDATE projects SET description = $1, color = $2, updated_at = $3 WHERE id = $4",
            ch.description.clone().unwrap_or_default(),
            ch.color.clone().unwrap_or_else(|| "#1976D2".into()),
            now,
            id.get()
        ))
        .await?;
        write_flags(&mut tx, id.get(), &flags).await?;
        tx.commit().await?;
        self.project(account, id).await
    }

    pub async fn update_project(
        &self,
        account: AccountId,
        id: ProjectId,
        ch: &ProjectChanges,
    ) -> StoreResult<Project> {
        let current = self.project(account, id).await?;
        let mut tx = self.db.begin().await?;
        let now = iaso_db::now();
        let needs_auth_in = ch
            .needs_authentication
            .unwrap_or(current.needs_authentication);
        let (flags, needs_auth) = match &ch.feature_flags {
            Some(choices) => {
                let (flags, auth) =
                    resolve_flags(&mut tx, choices, ch.needs_authentication.unwrap_or(false))
                        .await?;
                (Some(flags), auth)
            }
            None => (None, needs_auth_in),
        };
        tx.execute(sql!(
            "UPDATE projects SET name = $1, app_id = $2, needs_authentication = $3, description = $4, color = $5,
                updated_at = $6 WHERE id = $7 AND account_id = $8",
            ch.name.clone().unwrap_or(current.name),
            ch.app_id.clone().unwrap_or(current.app_id),
            needs_auth,
            ch.description.clone().unwrap_or(current.description),
            ch.color.clone().unwrap_or(current.color),
            now,
            id.get(),
            account.get()
        ))
        .await
        .map_err(app_id_taken)?;
        if let Some(flags) = flags {
            write_flags(&mut tx, id.get(), &flags).await?;
        }
        tx.commit().await?;
        self.project(account, id).await
    }

    /// Ids of the projects a profile is restricted to (empty = all projects of the account).
    pub async fn profile_project_ids(
        &self,
        profile: iaso_domain::ProfileId,
    ) -> StoreResult<Vec<ProjectId>> {
        let mut db = self.db.clone();
        let rows: Vec<(i64,)> = db
            .fetch_all(sql!(
                "SELECT project_id FROM profile_projects WHERE profile_id = $1 ORDER BY project_id",
                profile.get()
            ))
            .await?;
        Ok(rows.into_iter().map(|r| ProjectId(r.0)).collect())
    }
}

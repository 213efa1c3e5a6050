//! `POST /api/setupaccount/`: a superuser creates an account with its first user.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use iaso_domain::password::check_new_password;
use iaso_domain::user::{valid_email, valid_username};
use iaso_domain::validation::required_text;
use iaso_domain::{FieldErrors, Module};
use iaso_store::setup::NewAccount;
use iaso_store::users::NewUser;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetupBody {
    account_name: String,
    user_username: String,
    user_first_name: Option<String>,
    user_last_name: Option<String>,
    user_email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    email_invitation: bool,
    language: Option<String>,
    modules: Vec<String>,
}

/// Create an account, its main project and its first user holding every permission of the
/// chosen modules. Superusers only.
#[utoipa::path(post, path = "/api/setupaccount/", tag = "accounts", request_body = SetupBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors"), (status = 403, description = "Not a superuser")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SetupBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !caller.principal.user.is_superuser {
        return Err(ApiError::permission_denied());
    }
    let mut errors = FieldErrors::new();
    let account_name = required_text(&mut errors, "account_name", &body.account_name, 255);
    let username = body.user_username.trim().to_string();
    if let Err(e) = valid_username(&username) {
        errors.add("user_username", e);
    } else if state.store.credentials(&username).await?.is_some() {
        errors.add("user_username", "user_name_already_exist");
    }
    let email = body
        .user_email
        .clone()
        .unwrap_or_default()
        .trim()
        .to_string();
    if !email.is_empty() && !valid_email(&email) {
        errors.add("user_email", "Enter a valid email address.");
    }
    if body.modules.is_empty() {
        errors.add("modules", "modules_empty");
    }
    let modules: Vec<Module> = body
        .modules
        .iter()
        .filter_map(|m| Module::from_code(m))
        .collect();
    if modules.len() != body.modules.len() {
        errors.add("modules", "module_not_exist");
    }
    let password = body.password.clone().unwrap_or_default();
    if body.email_invitation {
        if email.is_empty() {
            errors.add(
                "user_email",
                "Email is required when email_invitation is True",
            );
        }
    } else if password.is_empty() {
        errors.add(
            "password",
            "Password is required when email_invitation is False",
        );
    } else if let Err(problems) = check_new_password(&password, &username) {
        for p in problems {
            errors.add("password", p);
        }
    }
    errors.into_result()?;

    let hash = if password.is_empty() {
        String::new()
    } else {
        state.hasher.hash(&password)
    };
    let result = state
        .store
        .setup_account(&NewAccount {
            account_name: account_name.clone(),
            user: NewUser {
                username: username.clone(),
                password_hash: hash,
                email: email.clone(),
                first_name: body.user_first_name.clone().unwrap_or_default(),
                last_name: body.user_last_name.clone().unwrap_or_default(),
                is_superuser: false,
                current_account_id: None,
            },
            modules,
            language: body.language.clone(),
        })
        .await?;
    if body.email_invitation {
        crate::routes::password_reset::send_invitation(&state, &result.user, &email, &account_name)
            .await;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "account_name": result.account.name,
            "user_username": result.user.username,
            "user_first_name": result.user.first_name,
            "user_last_name": result.user.last_name,
            "user_email": result.user.email,
            "email_invitation": body.email_invitation,
            "language": body.language,
            "modules": result.account.modules,
            "created_account_id": result.account.id,
        })),
    ))
}

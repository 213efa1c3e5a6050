//! Errors as DRF clients expect them: `{"detail": "..."}` or `{"field": ["message"]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use iaso_domain::FieldErrors;
use iaso_store::StoreError;
use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a sentence (malformed body or query).
    #[error("{0}")]
    BadRequest(String),
    /// 400 with messages per field.
    #[error("invalid fields: {0}")]
    Invalid(FieldErrors),
    /// 401: no credentials, or credentials that do not identify anyone.
    #[error("{0}")]
    Unauthenticated(String),
    /// 401 for an expired, tampered or revoked token (SimpleJWT's wording and code).
    #[error("token not valid")]
    InvalidToken,
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 404; other tenants' objects are reported the same way.
    #[error("not found")]
    NotFound,
    /// 404 for a page number beyond the last (DRF-paginated endpoints).
    #[error("invalid page")]
    InvalidPage,
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    /// 429 with the number of seconds to wait.
    #[error("too many requests")]
    TooManyRequests { retry_after: i64, detail: String },
    /// 500: details go to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldErrors::single(field, message))
    }

    pub fn permission_denied() -> Self {
        ApiError::Forbidden("You do not have permission to perform this action.".into())
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Value {
        match self {
            ApiError::Invalid(errors) => {
                let mut map = Map::new();
                for (field, messages) in errors.iter() {
                    map.insert(field.clone(), json!(messages));
                }
                Value::Object(map)
            }
            ApiError::InvalidToken => json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
            }),
            ApiError::NotFound => json!({"detail": "Not found."}),
            ApiError::InvalidPage => json!({"detail": "Invalid page."}),
            ApiError::PayloadTooLarge => json!({"detail": "Request body too large."}),
            ApiError::Internal(_) => {
                json!({"detail": "Internal server error; the problem was logged."})
            }
            ApiError::BadRequest(d)
            | ApiError::Unauthenticated(d)
            | ApiError::Forbidden(d)
            | ApiError::Conflict(d)
            | ApiError::TooManyRequests { detail: d, .. } => json!({ "detail": d }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthenticated(_) | ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Invalid(errors) => ApiError::Invalid(errors),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Db(db) => ApiError::Internal(db.to_string()),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}

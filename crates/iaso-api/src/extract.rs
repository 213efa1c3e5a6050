//! Request extractors whose rejections are [`ApiError`]s, and lenient query-string helpers.

use crate::error::ApiError;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// A JSON body; malformed JSON or wrong types are a 400 naming the problem, an oversized body
/// is a 413.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest(
            "Send the body as JSON with the header Content-Type: application/json.".into(),
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("JSON parse error - {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::BadRequest(format!("Invalid JSON data - {}", e.body_text()))
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// A body that may be JSON or an HTML form (`application/x-www-form-urlencoded`), as the
/// token and login endpoints accept both.
pub struct JsonOrForm<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(bytes_rejection)?;
            serde_urlencoded_like(&bytes).map(JsonOrForm)
        } else {
            ApiJson::<T>::from_request(req, state)
                .await
                .map(|ApiJson(v)| JsonOrForm(v))
        }
    }
}

fn bytes_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(r.body_text())
    }
}

/// Decodes a urlencoded form into `T` through a JSON object of strings.
fn serde_urlencoded_like<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::BadRequest(format!("Invalid form data - {e}")))
}

/// The query string as Iaso reads it: unknown parameters are ignored, known ones are parsed
/// strictly and a bad value is a 400 naming the parameter.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(HashMap<String, String>, Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(QueryParams(pairs.iter().cloned().collect(), pairs))
    }
}

impl QueryParams {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        QueryParams(pairs.iter().cloned().collect(), pairs)
    }

    /// Every non-empty value of a repeated parameter (`a=1&a=2`), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.1
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A non-empty value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// `true`/`false` as sent by iaso-client, `True`/`False` as sent by Python's str(), `1`/`0`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(ApiError::field(
                    name,
                    format!("{v:?} is not a boolean (use true or false)."),
                )),
            },
        }
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::field(name, format!("{v:?} is not a whole number."))),
        }
    }

    /// A comma-separated list of ids (`orgUnitTypeId=3,4`).
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, ApiError> {
        match self.get(name) {
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

    /// A comma-separated list of words.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The raw request body (uploads that are logged before they are parsed); a body over the
/// limit is a 413.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(bytes_rejection)
    }
}

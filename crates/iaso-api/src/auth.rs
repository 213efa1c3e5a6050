//! Who is calling: a Bearer JWT, or a browser session cookie (with CSRF protection for
//! writes), or nobody.
//!
//! Handlers take [`Caller`] (must be authenticated: 401 otherwise) or [`Member`] (must also
//! belong to an account: 403 otherwise), or [`MaybeCaller`] for endpoints open to anonymous
//! callers. The principal is loaded once per request and cached in its extensions.

use crate::error::ApiError;
use crate::jwt::TokenType;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum_extra::extract::CookieJar;
use iaso_domain::{AccountId, Permission};
use iaso_store::principal::{Membership, Principal};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrftoken";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Bearer,
    Session,
}

#[derive(Clone)]
struct Resolved(Option<(Principal, AuthMethod)>);

async fn resolve(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<(Principal, AuthMethod)>, ApiError> {
    if let Some(Resolved(cached)) = parts.extensions.get::<Resolved>() {
        return Ok(cached.clone());
    }
    let resolved = authenticate(parts, state).await?;
    parts.extensions.insert(Resolved(resolved.clone()));
    Ok(resolved)
}

async fn authenticate(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<(Principal, AuthMethod)>, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
        if value.starts_with("Basic ") || value.starts_with("basic ") {
            // HTTP Basic is only understood by the OpenRosa endpoints (ODK Collect), which
            // verify it themselves; elsewhere the caller is simply not authenticated.
            return Ok(None);
        }
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(ApiError::Unauthenticated(
                "Unsupported authorization scheme; send Authorization: Bearer <access token>."
                    .into(),
            ));
        };
        let claims = state
            .jwt
            .verify(token.trim(), TokenType::Access)
            .ok_or(ApiError::InvalidToken)?;
        let principal = state
            .store
            .principal(iaso_domain::UserId(claims.user_id))
            .await?
            .filter(|p| p.user.token_version == claims.ver)
            .ok_or(ApiError::InvalidToken)?;
        return Ok(Some((principal, AuthMethod::Bearer)));
    }

    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state.store.session(cookie.value()).await? else {
        return Ok(None);
    };
    if is_unsafe(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(session.csrf_token.as_bytes())) {
            return Err(ApiError::Forbidden(
                "CSRF Failed: send the csrftoken cookie's value in the X-CSRFToken header.".into(),
            ));
        }
    }
    let principal = state
        .store
        .principal(session.user_id)
        .await?
        .filter(|p| p.user.token_version == session.token_version);
    Ok(principal.map(|p| (p, AuthMethod::Session)))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// An authenticated caller.
pub struct Caller {
    pub principal: Principal,
    pub method: AuthMethod,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match resolve(parts, state).await? {
            Some((principal, method)) => Ok(Caller { principal, method }),
            None => Err(ApiError::Unauthenticated(
                "Authentication credentials were not provided.".into(),
            )),
        }
    }
}

/// The caller if any (endpoints open to anonymous mobile apps).
pub struct MaybeCaller(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(resolve(parts, state).await?.map(|(p, _)| p)))
    }
}

/// An authenticated caller working in an account: every tenant-scoped endpoint takes this.
pub struct Member {
    pub principal: Principal,
    pub method: AuthMethod,
    membership: Membership,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let membership = caller.principal.membership.clone().ok_or_else(|| {
            ApiError::Forbidden("This user has no profile in any account.".into())
        })?;
        Ok(Member {
            principal: caller.principal,
            method: caller.method,
            membership,
        })
    }
}

impl Member {
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn account_id(&self) -> AccountId {
        self.membership().account.id
    }

    pub fn has(&self, p: Permission) -> bool {
        self.principal.has(p)
    }

    /// 403 unless the caller holds at least one of `ps`.
    pub fn require_any(&self, ps: &[Permission]) -> Result<(), ApiError> {
        if self.principal.has_any(ps) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        self.require_any(&[p])
    }
}

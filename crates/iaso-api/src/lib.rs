//! The HTTP API, compatible with Iaso's paths, parameters and JSON shapes.
//!
//! A request goes: axum router ([`router`]) → extractors (authentication in
//! [`auth::Caller`], JSON and query parsing in [`extract`]) → a handler in [`routes`] that checks
//! permissions, converts input to domain types and calls one [`iaso_store::Store`] use case →
//! a DTO serialised as JSON, or an [`error::ApiError`] rendered the way DRF clients expect.

pub mod auth;
pub mod error;
pub mod extract;
pub mod files;
pub mod jwt;
pub mod mail;
pub mod paging;
pub mod routes;
pub mod settings;
pub mod state;
pub mod timestamps;
pub mod uploads;
pub mod web;

pub use error::ApiError;
pub use settings::Settings;
pub use state::AppState;

use axum::Router;

/// The whole application: every route plus the cross-cutting layers (body limit, tracing).
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves `router` on `listener` until `shutdown` resolves (tests pass port 0).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(feature = "testing")]
pub mod testing;

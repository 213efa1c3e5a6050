//! Route table. Every handler carries a `#[utoipa::path]` annotation and is registered through
//! `utoipa_axum::routes!`, so the OpenAPI document (`/api/openapi.json`) cannot drift from
//! the router.

mod accounts;
mod datasources;
mod enketo;
pub mod exports;
pub mod form_versions;
mod forms;
mod geo_common;
mod groups;
mod health;
mod instances;
mod logs;
mod mobile_org_units;
mod openapi;
mod org_unit_io;
mod org_unit_types;
mod org_units;
mod password_reset;
mod permissions;
mod profiles;
mod projects;
mod session;
mod setup_account;
mod submissions;
pub mod tasks;
mod theme;
mod token;
mod user_roles;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use openapi::BearerAuth;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Iaso-compatible API", description = "Georegistry and data collection; paths, parameters and JSON shapes follow Iaso."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Every route with its OpenAPI description, before state and layers are attached.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::health_alias))
        .routes(routes!(token::obtain))
        .routes(routes!(token::refresh))
        .routes(routes!(session::login))
        .routes(routes!(session::logout, session::logout_get))
        .routes(routes!(profiles::me, profiles::update_me))
        .routes(routes!(profiles::list, profiles::create))
        .routes(routes!(
            profiles::retrieve,
            profiles::update,
            profiles::update_put,
            profiles::delete
        ))
        .routes(routes!(profiles::update_password))
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(
            projects::retrieve,
            projects::update,
            projects::update_put
        ))
        .routes(routes!(projects::feature_flags))
        .routes(routes!(user_roles::list, user_roles::create))
        .routes(routes!(
            user_roles::retrieve,
            user_roles::update,
            user_roles::delete
        ))
        .routes(routes!(permissions::list))
        .routes(routes!(permissions::grouped))
        .routes(routes!(accounts::list))
        .routes(routes!(accounts::retrieve, accounts::update))
        .routes(routes!(accounts::switch))
        .routes(routes!(
            accounts::set_default_version,
            accounts::set_default_version_patch
        ))
        .routes(routes!(setup_account::create))
        .routes(routes!(password_reset::request))
        .routes(routes!(password_reset::confirm))
        .routes(routes!(forms::list, forms::create))
        .routes(routes!(
            forms::retrieve,
            forms::update,
            forms::update_put,
            forms::delete
        ))
        .routes(routes!(forms::manifest))
        .routes(routes!(forms::mobile_list))
        .routes(routes!(form_versions::list, form_versions::create))
        .routes(routes!(
            form_versions::retrieve,
            form_versions::update,
            form_versions::update_put
        ))
        .routes(routes!(
            form_versions::attachments_list,
            form_versions::attachment_create
        ))
        .routes(routes!(
            form_versions::attachment_retrieve,
            form_versions::attachment_delete
        ))
        .routes(routes!(instances::list, submissions::mobile_post))
        .routes(routes!(
            instances::retrieve,
            instances::update,
            instances::delete
        ))
        .routes(routes!(instances::bulk_delete))
        .routes(routes!(instances::map))
        .routes(routes!(instances::add_lock))
        .routes(routes!(instances::unlock_lock))
        .routes(routes!(instances::attachments))
        .routes(routes!(instances::attachments_count))
        .routes(routes!(enketo::submission_head, enketo::submission_post))
        .routes(routes!(submissions::form_upload))
        .routes(routes!(submissions::bulk_upload))
        .routes(routes!(submissions::form_list))
        .routes(routes!(submissions::form_download))
        .routes(routes!(submissions::form_manifest))
        .routes(routes!(
            submissions::submission_head,
            submissions::submission_post
        ))
        .routes(routes!(theme::theme))
        .routes(routes!(tasks::list))
        .routes(routes!(tasks::retrieve, tasks::update))
        .routes(routes!(tasks::relaunch))
        .routes(routes!(tasks::logs))
        .routes(routes!(tasks::types))
        .routes(routes!(tasks::deployment_status))
        .routes(routes!(tasks::presigned_url))
        .routes(routes!(tasks::download))
        .routes(routes!(tasks::create_profiles_bulk_update))
        .routes(routes!(tasks::create_profiles_export))
        .routes(routes!(org_unit_io::create_import_gpkg))
        .routes(routes!(org_unit_io::create_export))
        .routes(routes!(org_unit_io::create_bulk_update))
        .routes(routes!(org_unit_io::create_tree_import))
        .routes(routes!(org_unit_io::create_copy_version))
        .routes(routes!(org_unit_io::create_copy_version_iaso))
        .routes(routes!(datasources::list, datasources::create))
        .routes(routes!(datasources::retrieve, datasources::update))
        .routes(routes!(
            datasources::list_versions,
            datasources::create_version
        ))
        .routes(routes!(
            datasources::retrieve_version,
            datasources::update_version,
            datasources::delete_version
        ))
        .routes(routes!(org_unit_types::list_v2, org_unit_types::create_v2))
        .routes(routes!(
            org_unit_types::retrieve_v2,
            org_unit_types::update_v2,
            org_unit_types::update_put_v2,
            org_unit_types::delete_v2
        ))
        .routes(routes!(org_unit_types::hierarchy))
        .routes(routes!(org_unit_types::dropdown))
        .routes(routes!(org_unit_types::list_v1, org_unit_types::create_v1))
        .routes(routes!(
            org_unit_types::retrieve_v1,
            org_unit_types::update_v1,
            org_unit_types::update_put_v1,
            org_unit_types::delete_v1
        ))
        .routes(routes!(org_units::list, org_units::create_mobile))
        .routes(routes!(org_units::retrieve, org_units::update))
        .routes(routes!(org_units::create_org_unit))
        .routes(routes!(org_units::tree))
        .routes(routes!(org_units::tree_search))
        .routes(routes!(mobile_org_units::list, mobile_org_units::create))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::dropdown))
        .routes(routes!(groups::retrieve, groups::update, groups::delete))
        .routes(routes!(groups::list_sets, groups::create_set))
        .routes(routes!(
            groups::retrieve_set,
            groups::update_set,
            groups::update_set_put,
            groups::delete_set
        ))
        .routes(routes!(logs::list))
        .routes(routes!(logs::retrieve))
}

pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let (router, doc) = api_routes().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    router
        .route(
            "/api/openapi.json",
            axum::routing::get(move || openapi::serve(doc.clone())),
        )
        .route("/files/{*key}", axum::routing::get(crate::files::download))
        // The dashboard's files and client routes; JSON 404 for everything else.
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(crate::web::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

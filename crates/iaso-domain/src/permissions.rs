//! Iaso's permission codes and the modules that activate them.
//!
//! Codes, labels, modules and UI groups are Iaso's (clients and the dashboard send and show
//! them as they are). A permission can only be granted when the account has its module active;
//! the two data-store permissions belong to no module and are always available.

use serde::{Serialize, Serializer};

macro_rules! modules {
    ($($variant:ident => $code:literal, $name:literal;)*) => {
        /// A feature module an account can activate (`Account.modules`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Module { $($variant),* }

        impl Module {
            pub const ALL: &'static [Module] = &[$(Module::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Module::$variant => $code),* }
            }

            pub fn name(self) -> &'static str {
                match self { $(Module::$variant => $name),* }
            }

            pub fn from_code(code: &str) -> Option<Module> {
                match code { $($code => Some(Module::$variant),)* _ => None }
            }
        }
    };
}

modules! {
    DataCollectionForms => "DATA_COLLECTION_FORMS", "Data collection - Forms";
    Default => "DEFAULT", "Default";
    Dhis2Mapping => "DHIS2_MAPPING", "DHIS2 mapping";
    EmbeddedLinks => "EMBEDDED_LINKS", "Embedded links";
    Entities => "ENTITIES", "Entities";
    ExternalStorage => "EXTERNAL_STORAGE", "External storage";
    Planning => "PLANNING", "Planning";
    PolioProject => "POLIO_PROJECT", "Polio project";
    Registry => "REGISTRY", "Registry";
    Payments => "PAYMENTS", "Payments";
    CompletenessPerPeriod => "COMPLETENESS_PER_PERIOD", "Completeness per Period";
    TrypelimProject => "TRYPELIM_PROJECT", "Trypelim project";
    DataValidation => "DATA_VALIDATION", "Change requests";
    Saas => "SAAS", "SaaS";
    StockManagement => "STOCK_MANAGEMENT", "Stock management";
    SntMalaria => "SNT_MALARIA", "SNT Malaria";
    FormAi => "FORM_AI", "Form AI";
    ValidationWorkflow => "VALIDATION_WORKFLOW", "Validation workflow";
}

impl Serialize for Module {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

macro_rules! permissions {
    ($($variant:ident => $code:literal, $label:literal, $module:expr, $group:expr;)*) => {
        /// One of Iaso's `iaso_*` permission codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant),* }

        impl Permission {
            /// Every permission, in a fixed order; `id()` is the position in this list plus one.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Permission::$variant => $code),* }
            }

            /// Iaso's label (some are French in Iaso itself; kept as clients show them).
            pub fn label(self) -> &'static str {
                match self { $(Permission::$variant => $label),* }
            }

            /// The module that must be active for the permission to be granted.
            pub fn module(self) -> Option<Module> {
                match self { $(Permission::$variant => $module),* }
            }

            /// The dashboard group the permission is shown in.
            pub fn ui_group(self) -> Option<&'static str> {
                match self { $(Permission::$variant => $group),* }
            }

            pub fn from_code(code: &str) -> Option<Permission> {
                match code { $($code => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

use Module as M;

permissions! {
    Assignments => "iaso_assignments", "Attributions", Some(M::Planning), Some("planning");
    Completeness => "iaso_completeness", "Complétude des données", Some(M::CompletenessPerPeriod), Some("forms");
    CompletenessStats => "iaso_completeness_stats", "Completeness stats", Some(M::DataCollectionForms), Some("forms");
    DatastoreRead => "iaso_datastore_read", "Read data store", None, None;
    DatastoreWrite => "iaso_datastore_write", "Write data store", None, None;
    DataTasks => "iaso_data_tasks", "Tâches", Some(M::Default), Some("admin");
    Entities => "iaso_entities", "Entities", Some(M::Entities), Some("entities");
    EntityTypeWrite => "iaso_entity_type_write", "Write entity type", Some(M::Entities), Some("entities");
    EntityDuplicatesRead => "iaso_entity_duplicates_read", "Read Entity duplicates", Some(M::Entities), Some("entities");
    EntityDuplicatesWrite => "iaso_entity_duplicates_write", "Write Entity duplicates", Some(M::Entities), Some("entities");
    Forms => "iaso_forms", "Formulaires", Some(M::DataCollectionForms), Some("forms");
    FormsStats => "iaso_forms_stats", "Statistiques pour les formulaires", Some(M::DataCollectionForms), Some("forms");
    Links => "iaso_links", "Correspondances sources", Some(M::Default), Some("admin");
    Mappings => "iaso_mappings", "Correspondances avec DHIS2", Some(M::Dhis2Mapping), Some("dhis2_mapping");
    MobileAppOfflineSetup => "iaso_mobile_app_offline_setup", "Mobile app offline setup", Some(M::Default), Some("admin");
    Modules => "iaso_modules", "modules", Some(M::Default), Some("admin");
    MetricTypes => "iaso_metric_types", "Metric types", Some(M::Default), Some("admin");
    OrgUnits => "iaso_org_units", "Unités d'organisations", Some(M::Default), Some("org_units");
    OrgUnitsHistory => "iaso_org_units_history", "Historique des unités d'organisation", Some(M::Default), Some("org_units");
    OrgUnitsRead => "iaso_org_units_read", "Lire les unités d'organisations", Some(M::Default), Some("org_units");
    OrgUnitTypes => "iaso_org_unit_types", "Org unit types", Some(M::Default), Some("org_units");
    OrgUnitGroups => "iaso_org_unit_groups", "Org unit groups", Some(M::Default), Some("org_units");
    OrgUnitChangeRequestReview => "iaso_org_unit_change_request_review", "Org unit change request review", Some(M::DataValidation), Some("data_validation");
    OrgUnitChangeRequestConfigurations => "iaso_org_unit_change_request_configurations", "Org unit change request configurations", Some(M::DataValidation), Some("data_validation");
    Pages => "iaso_pages", "Pages", Some(M::EmbeddedLinks), Some("embedded_links");
    PageWrite => "iaso_page_write", "Write page", Some(M::EmbeddedLinks), Some("embedded_links");
    Payments => "iaso_payments", "Payments page", Some(M::Payments), Some("payments");
    PlanningWrite => "iaso_planning_write", "Editer le planning", Some(M::Planning), Some("planning");
    PlanningRead => "iaso_planning_read", "Lire le planning", Some(M::Planning), Some("planning");
    Projects => "iaso_projects", "Projets", Some(M::Default), Some("admin");
    RegistryWrite => "iaso_registry_write", "Editer le Registre", Some(M::Registry), Some("registry");
    RegistryRead => "iaso_registry_read", "Lire le Registre", Some(M::Registry), Some("registry");
    Reports => "iaso_reports", "Reports", Some(M::Default), Some("admin");
    WriteSources => "iaso_write_sources", "Write data source", Some(M::Default), Some("admin");
    Sources => "iaso_sources", "Sources", Some(M::Default), Some("admin");
    SourcesCanChangeDefaultVersion => "iaso_sources_can_change_default_version", "Can change the default version of a data source", Some(M::Default), Some("admin");
    StockManagement => "iaso_stock_management", "Stock management", Some(M::StockManagement), Some("stock_management");
    Storages => "iaso_storages", "Storages", Some(M::ExternalStorage), Some("external_storage");
    Submissions => "iaso_submissions", "Soumissions", Some(M::DataCollectionForms), Some("forms");
    UpdateSubmission => "iaso_update_submission", "Editer soumissions", Some(M::DataCollectionForms), Some("forms");
    Teams => "iaso_teams", "Equipes", Some(M::Default), Some("admin");
    Users => "iaso_users", "Users", Some(M::Default), Some("admin");
    UsersManaged => "iaso_users_managed", "Users managed", Some(M::Default), Some("admin");
    UserRoles => "iaso_user_roles", "Manage user roles", Some(M::Default), Some("admin");
    Workflows => "iaso_workflows", "Workflows", Some(M::Entities), Some("entities");
    ValidationWorkflows => "iaso_validation_workflows", "Validation workflows", Some(M::ValidationWorkflow), Some("validation_workflow");
    AccountManagement => "iaso_account_management", "Account management", Some(M::Default), Some("admin");
    PipelineManagement => "iaso_pipeline_management", "Pipeline management", Some(M::Default), Some("admin");
}

impl Permission {
    /// Stable numeric id shown by `/api/permissions/` (Iaso exposes its table's ids).
    pub fn id(self) -> i64 {
        Permission::ALL
            .iter()
            .position(|p| *p == self)
            .map_or(0, |i| i as i64 + 1)
    }

    /// True when an account with these active modules may hold this permission.
    pub fn available_with(self, modules: &[Module]) -> bool {
        self.module().is_none_or(|m| modules.contains(&m))
    }

    /// Every permission the given modules make available.
    pub fn available_for(modules: &[Module]) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| p.available_with(modules))
            .collect()
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The set of permissions a user holds in the current account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet {
    superuser: bool,
    granted: Vec<Permission>,
}

impl PermissionSet {
    pub fn new(superuser: bool, mut granted: Vec<Permission>) -> Self {
        granted.sort();
        granted.dedup();
        PermissionSet { superuser, granted }
    }

    pub fn is_superuser(&self) -> bool {
        self.superuser
    }

    /// A superuser holds every permission.
    pub fn has(&self, p: Permission) -> bool {
        self.superuser || self.granted.binary_search(&p).is_ok()
    }

    /// Any of the given permissions (Iaso's `HasPermission(a, b, ...)`).
    pub fn has_any(&self, ps: &[Permission]) -> bool {
        ps.iter().any(|p| self.has(*p))
    }

    /// The explicitly granted permissions (what `/api/profiles/me/` lists).
    pub fn granted(&self) -> &[Permission] {
        &self.granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_ids_are_unique() {
        assert_eq!(Permission::ALL.len(), 48);
        for p in Permission::ALL {
            assert_eq!(Permission::from_code(p.code()), Some(*p));
            assert!(p.code().starts_with("iaso_"));
        }
        let mut ids: Vec<i64> = Permission::ALL.iter().map(|p| p.id()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 48);
        assert_eq!(
            Module::from_code("DATA_VALIDATION"),
            Some(Module::DataValidation)
        );
        assert_eq!(Permission::from_code("iaso_nope"), None);
    }

    #[test]
    fn modules_gate_permissions() {
        let default_only = Permission::available_for(&[Module::Default]);
        assert!(default_only.contains(&Permission::OrgUnits));
        assert!(
            default_only.contains(&Permission::DatastoreRead),
            "module-less permissions are always available"
        );
        assert!(!default_only.contains(&Permission::Forms));
        assert!(Permission::Forms.available_with(&[Module::DataCollectionForms]));
    }

    #[test]
    fn superuser_has_everything() {
        let su = PermissionSet::new(true, vec![]);
        assert!(su.has(Permission::Users));
        let user = PermissionSet::new(false, vec![Permission::Forms, Permission::Forms]);
        assert_eq!(user.granted(), &[Permission::Forms]);
        assert!(user.has_any(&[Permission::Users, Permission::Forms]));
        assert!(!user.has(Permission::Users));
    }
}

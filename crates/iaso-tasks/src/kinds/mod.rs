//! The task types this build can run. Each module holds a handler, its parameters (what the
//! API's creation endpoint stores) and its name.

pub mod copy_version;
pub mod export_org_units;
pub mod import_gpkg;
pub mod mobile_bulk_upload;
pub mod org_unit_bulk_update;
pub mod profiles_bulk_update;
pub mod profiles_export;
pub mod pyramid;
pub mod tree_import;

use crate::Registry;

/// Every task type of the product.
pub fn registry() -> Registry {
    Registry::new()
        .with(profiles_export::ProfilesExport)
        .with(profiles_bulk_update::ProfilesBulkUpdate)
        .with(import_gpkg::ImportGpkg)
        .with(export_org_units::ExportOrgUnits)
        .with(org_unit_bulk_update::OrgUnitBulkUpdate)
        .with(copy_version::CopyVersion)
        .with(tree_import::TreeImport)
        .with(mobile_bulk_upload::MobileBulkUpload)
}

//! The task types this build can run. Each module holds a handler, its parameters (what the
//! API's creation endpoint stores) and its name.

pub mod mobile_bulk_upload;
pub mod profiles_bulk_update;
pub mod profiles_export;

use crate::Registry;

/// Every task type of the product.
pub fn registry() -> Registry {
    Registry::new()
        .with(profiles_export::ProfilesExport)
        .with(profiles_bulk_update::ProfilesBulkUpdate)
        .with(mobile_bulk_upload::MobileBulkUpload)
}

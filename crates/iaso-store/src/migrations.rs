//! The schema, one template per migration for both backends (see [`iaso_db::migrate`]).

use iaso_db::migrate::{self, Migration, MigrationReport};
use iaso_db::Db;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "identity",
        template: include_str!("../migrations/0001_identity.sql"),
    },
    Migration {
        version: 2,
        name: "georegistry",
        template: include_str!("../migrations/0002_georegistry.sql"),
    },
    Migration {
        version: 3,
        name: "bbox_rtree_and_generation",
        template: include_str!("../migrations/0003_bbox_rtree_generation.sql"),
    },
    Migration {
        version: 4,
        name: "name_trigram",
        template: include_str!("../migrations/0004_name_trigram.sql"),
    },
    Migration {
        version: 10,
        name: "tasks",
        template: include_str!("../migrations/0010_tasks.sql"),
    },
    Migration {
        version: 20,
        name: "forms",
        template: include_str!("../migrations/0020_forms.sql"),
    },
];

pub async fn run(db: &Db) -> Result<MigrationReport, iaso_db::DbError> {
    migrate::run(db, MIGRATIONS).await
}

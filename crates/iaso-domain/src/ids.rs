//! Typed identifiers: an `AccountId` cannot be passed where a `ProjectId` is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                $name(v)
            }
        }
    )*};
}

id_types!(
    /// A tenant.
    AccountId,
    /// A login identity (may have profiles in several accounts).
    UserId,
    /// A user's membership of one account.
    ProfileId,
    ProjectId,
    UserRoleId,
    DataSourceId,
    SourceVersionId,
    OrgUnitTypeId,
    OrgUnitId,
    GroupId,
    GroupSetId,
    FormId,
    FormVersionId,
    InstanceId,
    TaskId,
);

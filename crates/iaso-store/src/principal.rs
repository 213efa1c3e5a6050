//! Who is calling: the user, its current account and what it may do there.

use crate::accounts::{AccountRow, ACCOUNT_COLUMNS};
use crate::profiles::profile_row;
use crate::{Store, StoreResult};
use iaso_db::{sql, Conn};
use iaso_domain::account::Account;
use iaso_domain::permissions::PermissionSet;
use iaso_domain::user::{Profile, User};
use iaso_domain::{AccountId, OrgUnitId, OrgUnitTypeId, Permission, ProjectId, UserId};

/// The caller's membership of its current account.
#[derive(Debug, Clone)]
pub struct Membership {
    pub account: Account,
    pub profile: Profile,
    pub permissions: PermissionSet,
    /// Projects the profile is restricted to; empty means every project of the account.
    pub project_ids: Vec<ProjectId>,
    /// Org units whose sub-trees the profile is restricted to; empty means the whole account.
    pub org_unit_ids: Vec<OrgUnitId>,
    /// Org unit types the profile (directly or through its roles) may create and edit; empty
    /// means every type.
    pub editable_org_unit_type_ids: Vec<OrgUnitTypeId>,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// `None` for a login without any profile (a bare superuser).
    pub membership: Option<Membership>,
}

impl Principal {
    pub fn account_id(&self) -> Option<AccountId> {
        self.membership.as_ref().map(|m| m.account.id)
    }

    /// Superusers hold every permission; others what their profile and roles grant.
    pub fn has(&self, p: Permission) -> bool {
        self.user.is_superuser
            || self
                .membership
                .as_ref()
                .is_some_and(|m| m.permissions.has(p))
    }

    pub fn has_any(&self, ps: &[Permission]) -> bool {
        ps.iter().any(|p| self.has(*p))
    }
}

impl Store {
    /// Loads the caller; `None` when the user is gone or inactive.
    pub async fn principal(&self, user_id: UserId) -> StoreResult<Option<Principal>> {
        let mut db = self.db.clone();
        let user = match self.user(user_id).await {
            Ok(u) if u.is_active => u,
            Ok(_) | Err(crate::StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        // The current account, or else the first account the user belongs to.
        let account: Option<AccountRow> = db
            .fetch_optional(sql!(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN profiles p ON p.account_id = a.id
                     WHERE p.user_id = $1
                     ORDER BY CASE WHEN a.id = $2 THEN 0 ELSE 1 END, a.id LIMIT 1"
                ),
                user_id.get(),
                user.current_account_id.map_or(-1, |a| a.get())
            ))
            .await?;
        let Some(account) = account.map(Account::from) else {
            return Ok(Some(Principal {
                user,
                membership: None,
            }));
        };
        let Some(profile) = profile_row(&mut db, account.id, user_id).await? else {
            return Ok(Some(Principal {
                user,
                membership: None,
            }));
        };
        let codes: Vec<(String,)> = db
            .fetch_all(sql!(
                "SELECT permission FROM profile_permissions WHERE profile_id = $1
                 UNION
                 SELECT rp.permission FROM profile_user_roles pr
                 JOIN user_role_permissions rp ON rp.user_role_id = pr.user_role_id
                 WHERE pr.profile_id = $1",
                profile.id.get()
            ))
            .await?;
        let granted: Vec<Permission> = if user.is_superuser {
            Permission::available_for(&account.modules)
        } else {
            codes
                .iter()
                .filter_map(|(c,)| Permission::from_code(c))
                .filter(|p| p.available_with(&account.modules))
                .collect()
        };
        let project_ids = self.profile_project_ids(profile.id).await?;
        let org_unit_ids = self.profile_org_unit_ids(profile.id).await?;
        let editable_org_unit_type_ids = self.editable_org_unit_type_ids(profile.id).await?;
        Ok(Some(Principal {
            membership: Some(Membership {
                permissions: PermissionSet::new(user.is_superuser, granted),
                account,
                profile,
                project_ids,
                org_unit_ids,
                editable_org_unit_type_ids,
            }),
            user,
        }))
    }
}

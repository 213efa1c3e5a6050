//! Creating an account with its first user in one transaction (`/api/setupaccount/`,
//! `iaso serve --demo`).

use crate::accounts::insert_account;
use crate::profiles::{insert_profile, ProfileChanges};
use crate::projects::insert_project;
use crate::users::{insert_user, NewUser};
use crate::{Store, StoreResult};
use iaso_db::{sql, Conn};
use iaso_domain::account::Account;
use iaso_domain::project::default_app_id;
use iaso_domain::user::User;
use iaso_domain::{Module, Permission, ProjectId};

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub account_name: String,
    pub user: NewUser,
    pub modules: Vec<Module>,
    pub language: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SetupResult {
    pub account: Account,
    pub user: User,
    pub project_id: ProjectId,
}

impl Store {
    /// Creates the account, its "Main Project" (app_id from the account name), the user with a
    /// profile holding every permission the account's modules allow, and makes the account the
    /// user's current one. All or nothing.
    pub async fn setup_account(&self, new: &NewAccount) -> StoreResult<SetupResult> {
        let mut modules = new.modules.clone();
        if !modules.contains(&Module::Default) {
            modules.push(Module::Default);
        }
        let mut tx = self.db.begin().await?;
        let account = insert_account(&mut tx, new.account_name.trim(), &modules).await?;
        let project_id = insert_project(
            &mut tx,
            account.id,
            "Main Project",
            &default_app_id(&new.account_name),
            false,
        )
        .await?;
        let user = insert_user(
            &mut tx,
            &NewUser {
                current_account_id: Some(account.id),
                ..new.user.clone()
            },
        )
        .await?;
        let changes = ProfileChanges {
            language: Some(new.language.clone()),
            permissions: Some(Permission::available_for(&modules)),
            ..ProfileChanges::default()
        };
        insert_profile(&mut tx, account.id, user.id, &changes).await?;
        // Like Iaso: a data source named after the account, its version 1 as the account's
        // default version (the tenant's pyramid), linked to the main project.
        let source = crate::sources::insert_source(
            &mut tx,
            account.id,
            new.account_name.trim(),
            Some("via setup_account"),
            &[project_id],
        )
        .await?;
        let version = crate::sources::insert_version(&mut tx, source, Some(1), None).await?;
        tx.execute(sql!(
            "UPDATE data_sources SET default_version_id = $1 WHERE id = $2",
            version.get(),
            source.get()
        ))
        .await?;
        tx.execute(sql!(
            "UPDATE accounts SET default_version_id = $1 WHERE id = $2",
            version.get(),
            account.id.get()
        ))
        .await?;
        let account = iaso_domain::account::Account {
            default_version_id: Some(version),
            ..account
        };
        tx.execute(sql!(
            "UPDATE users SET current_account_id = $1 WHERE id = $2",
            account.id.get(),
            user.id.get()
        ))
        .await?;
        tx.commit().await?;
        let user = self.user(user.id).await?;
        Ok(SetupResult {
            account,
            user,
            project_id,
        })
    }
}

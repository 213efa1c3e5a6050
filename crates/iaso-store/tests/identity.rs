//! Identity use cases on both backends.
#![allow(clippy::unwrap_used)]

use iaso_db::{backend_test, Db};
use iaso_domain::{Module, Permission};
use iaso_store::migrations::MIGRATIONS;
use iaso_store::profiles::{ProfileChanges, ProfileFilter};
use iaso_store::projects::{FlagChoice, ProjectChanges, ProjectScope};
use iaso_store::setup::NewAccount;
use iaso_store::throttle::ThrottlePolicy;
use iaso_store::users::NewUser;
use iaso_store::{PageRequest, Store, StoreError};

fn new_account(name: &str, user: &str) -> NewAccount {
    NewAccount {
        account_name: name.into(),
        user: NewUser {
            username: user.into(),
            password_hash: "h".into(),
            ..Default::default()
        },
        modules: vec![Module::DataCollectionForms],
        language: Some("fr".into()),
    }
}

backend_test!(
    MIGRATIONS,
    setup_account_grants_module_permissions,
    |db: Db| async move {
        let store = Store::new(db);
        let setup = store
            .setup_account(&new_account("Burkina", "bf_admin"))
            .await
            .unwrap();
        assert_eq!(setup.account.name, "Burkina");
        assert!(setup.account.modules.contains(&Module::Default));
        let project = store
            .project(setup.account.id, setup.project_id)
            .await
            .unwrap();
        assert_eq!(project.app_id, "burkina");

        let me = store.principal(setup.user.id).await.unwrap().unwrap();
        let m = me.membership.as_ref().unwrap();
        assert_eq!(m.account.id, setup.account.id);
        assert!(me.has(Permission::Forms));
        assert!(me.has(Permission::Users));
        assert!(
            !me.has(Permission::Mappings),
            "DHIS2 mapping module is not active"
        );
        assert_eq!(m.profile.language.as_deref(), Some("fr"));

        // Same account name again: a field error, and nothing half-written.
        let err = store
            .setup_account(&new_account("Burkina", "other"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref e) if e.get("account_name").is_some()),
            "{err:?}"
        );
        assert!(store.credentials("other").await.unwrap().is_none());
    }
);

backend_test!(
    MIGRATIONS,
    profiles_are_account_scoped,
    |db: Db| async move {
        let store = Store::new(db);
        let a = store
            .setup_account(&new_account("A", "a_admin"))
            .await
            .unwrap();
        let b = store
            .setup_account(&new_account("B", "b_admin"))
            .await
            .unwrap();
        let role = store
            .create_user_role(a.account.id, "Data manager", &[Permission::Forms])
            .await
            .unwrap();
        let created = store
            .create_profile(
                a.account.id,
                &ProfileChanges {
                    username: Some("jane".into()),
                    email: Some("jane@example.org".into()),
                    user_roles: Some(vec![role.id]),
                    projects: Some(vec![a.project_id]),
                    permissions: Some(vec![Permission::OrgUnits]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(created.roles.len(), 1);
        assert_eq!(created.projects[0].id, a.project_id.get());

        let jane = store.principal(created.user.id).await.unwrap().unwrap();
        assert!(jane.has(Permission::Forms) && jane.has(Permission::OrgUnits));
        assert!(!jane.has(Permission::Users));
        assert_eq!(jane.membership.unwrap().project_ids, vec![a.project_id]);

        // Account B sees none of A's profiles and cannot touch them.
        let page = store
            .list_profiles(
                b.account.id,
                &ProfileFilter::default(),
                PageRequest::new(20, 1),
            )
            .await
            .unwrap();
        assert_eq!(page.count, 1);
        assert!(matches!(
            store.profile(b.account.id, created.profile.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .update_profile(b.account.id, created.profile.id, &ProfileChanges::default())
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_profile(b.account.id, created.profile.id).await,
            Err(StoreError::NotFound)
        ));
        // B cannot give its users A's role or project.
        let err = store
            .create_profile(
                b.account.id,
                &ProfileChanges {
                    username: Some("bob".into()),
                    user_roles: Some(vec![role.id]),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref e) if e.get("user_roles").is_some()),
            "{err:?}"
        );
        assert!(
            store.credentials("bob").await.unwrap().is_none(),
            "refused create left no login"
        );

        // Filters and search.
        let f = ProfileFilter {
            search: Some("JAN".into()),
            ..Default::default()
        };
        let page = store
            .list_profiles(a.account.id, &f, PageRequest::new(20, 1))
            .await
            .unwrap();
        assert_eq!(
            page.items
                .iter()
                .map(|p| p.user.username.as_str())
                .collect::<Vec<_>>(),
            ["jane"]
        );
        let f = ProfileFilter {
            user_roles: vec![role.id],
            ..Default::default()
        };
        assert_eq!(
            store
                .list_profiles(a.account.id, &f, PageRequest::new(20, 1))
                .await
                .unwrap()
                .count,
            1
        );
        let f = ProfileFilter {
            has_email: Some(false),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_profiles(a.account.id, &f, PageRequest::new(20, 1))
                .await
                .unwrap()
                .count,
            1
        );

        store
            .delete_profile(a.account.id, created.profile.id)
            .await
            .unwrap();
        assert!(
            store.credentials("jane").await.unwrap().is_none(),
            "login without profile is removed"
        );
    }
);

backend_test!(
    MIGRATIONS,
    shared_login_spans_accounts,
    |db: Db| async move {
        let store = Store::new(db);
        let a = store
            .setup_account(&new_account("A", "a_admin"))
            .await
            .unwrap();
        let b = store
            .setup_account(&new_account("B", "b_admin"))
            .await
            .unwrap();
        // a_admin also joins B.
        let joined = store
            .create_profile(
                b.account.id,
                &ProfileChanges {
                    username: Some("A_ADMIN".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(joined.user.id, a.user.id);
        assert!(joined.shared_login);
        let accounts = store.accounts_of_user(a.user.id).await.unwrap();
        assert_eq!(accounts.len(), 2);
        // B's admin may not rename or re-password the shared login.
        let err = store
            .update_profile(
                b.account.id,
                joined.profile.id,
                &ProfileChanges {
                    email: Some("x@y.z".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        store.switch_account(a.user.id, b.account.id).await.unwrap();
        let p = store.principal(a.user.id).await.unwrap().unwrap();
        assert_eq!(p.account_id(), Some(b.account.id));
        // Removing the B profile keeps the login (still in A).
        store
            .delete_profile(b.account.id, joined.profile.id)
            .await
            .unwrap();
        assert!(store.credentials("a_admin").await.unwrap().is_some());
        let p = store.principal(a.user.id).await.unwrap().unwrap();
        assert_eq!(p.account_id(), Some(a.account.id));
    }
);

backend_test!(MIGRATIONS, projects_and_flags, |db: Db| async move {
    let store = Store::new(db);
    let a = store
        .setup_account(&new_account("A", "a_admin"))
        .await
        .unwrap();
    let err = store
        .create_project(
            a.account.id,
            &ProjectChanges {
                name: Some("Field".into()),
                app_id: Some("burkina.field".into()),
                feature_flags: Some(vec![FlagChoice {
                    code: "ENTITY".into(),
                    configuration: None,
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.get("feature_flags").unwrap()[0].contains("requires authentication"))
    );
    let p = store
        .create_project(
            a.account.id,
            &ProjectChanges {
                name: Some("Field".into()),
                app_id: Some("burkina.field".into()),
                needs_authentication: Some(true),
                feature_flags: Some(vec![FlagChoice {
                    code: "ENTITY".into(),
                    configuration: None,
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let codes: Vec<&str> = p
        .feature_flags
        .iter()
        .map(|f| f.flag.code.as_str())
        .collect();
    assert!(
        codes.contains(&"ENTITY") && codes.contains(&"REQUIRE_AUTHENTICATION"),
        "{codes:?}"
    );
    let err = store
        .create_project(
            a.account.id,
            &ProjectChanges {
                name: Some("x".into()),
                app_id: Some("burkina.field".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(ref e) if e.get("app_id").is_some()));
    let list = store
        .list_projects(a.account.id, &ProjectScope::default(), &["-name".into()])
        .await
        .unwrap();
    assert_eq!(
        list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Main Project", "Field"]
    );
    let only = ProjectScope { only: vec![p.id] };
    assert_eq!(
        store
            .list_projects(a.account.id, &only, &[])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .project_by_app_id("burkina.field")
        .await
        .unwrap()
        .is_some());
});

backend_test!(MIGRATIONS, throttling_and_tokens, |db: Db| async move {
    let store = Store::new(db);
    let policy = ThrottlePolicy {
        max_failures: 3,
        ..Default::default()
    };
    assert!(store
        .record_login_failure("Eve", &policy)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .record_login_failure("eve", &policy)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .record_login_failure("EVE", &policy)
        .await
        .unwrap()
        .is_some());
    assert!(store.login_locked_until("eve").await.unwrap().is_some());
    store.clear_login_failures("eve").await.unwrap();
    assert!(store.login_locked_until("eve").await.unwrap().is_none());

    let a = store
        .setup_account(&new_account("A", "a_admin"))
        .await
        .unwrap();
    let s = store
        .create_session(a.user.id, a.user.token_version, chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.session(&s.key).await.unwrap().unwrap().user_id,
        a.user.id
    );
    let token = store
        .create_reset_token(a.user.id, chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.consume_reset_token(&token).await.unwrap(),
        Some(a.user.id)
    );
    assert_eq!(
        store.consume_reset_token(&token).await.unwrap(),
        None,
        "single use"
    );
    let before = a.user.token_version;
    let user = store.set_password_hash(a.user.id, "new").await.unwrap();
    assert_eq!(user.token_version, before + 1);
    assert!(
        store.session(&s.key).await.unwrap().is_none(),
        "password change ends sessions"
    );
});

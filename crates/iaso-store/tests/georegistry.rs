//! Georegistry storage on both backends: sources, versions, types, the tree, scope, search.
#![allow(clippy::unwrap_used)]

use iaso_db::{backend_test, Db};
use iaso_domain::{AccountId, Module, OrgUnitId, OrgUnitTypeId, SourceVersionId, UserId};
use iaso_geo::{Coord, MultiPolygon, Point, Polygon};
use iaso_store::audit::{sources, LogFilter};
use iaso_store::migrations::MIGRATIONS;
use iaso_store::org_unit_search::{OrgUnitFilter, Search, TreeQuery};
use iaso_store::org_unit_types::TypeChanges;
use iaso_store::org_units::{NewOrgUnit, OrgUnitChanges, OrgUnitScope, Writer};
use iaso_store::setup::NewAccount;
use iaso_store::users::NewUser;
use iaso_store::{PageRequest, Store, StoreError};

struct Fixture {
    account: AccountId,
    user: UserId,
    version: SourceVersionId,
    district: OrgUnitTypeId,
    scope: OrgUnitScope,
}

async fn fixture(store: &Store, name: &str) -> Fixture {
    let setup = store
        .setup_account(&NewAccount {
            account_name: name.into(),
            user: NewUser {
                username: format!("{}_admin", name.to_lowercase()),
                password_hash: "h".into(),
                ..Default::default()
            },
            modules: vec![Module::Default],
            language: None,
        })
        .await
        .unwrap();
    let version = setup.account.default_version_id.unwrap();
    let district = store
        .create_org_unit_type(
            setup.account.id,
            &TypeChanges {
                name: Some("District".into()),
                depth: Some(Some(2)),
                project_ids: Some(vec![setup.project_id]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let scope = store.org_unit_scope(setup.account.id, &[]).await.unwrap();
    Fixture {
        account: setup.account.id,
        user: setup.user.id,
        version,
        district: district.id,
        scope,
    }
}

fn writer<'a>(f: &'a Fixture, scope: &'a OrgUnitScope) -> Writer<'a> {
    Writer {
        user: Some(f.user),
        scope,
        editable_types: &[],
        source: sources::ORG_UNIT_API,
    }
}

fn square(x: f64, y: f64, side: f64) -> MultiPolygon {
    MultiPolygon::new(vec![Polygon::new(vec![vec![
        Coord::new(x, y),
        Coord::new(x + side, y),
        Coord::new(x + side, y + side),
        Coord::new(x, y + side),
        Coord::new(x, y),
    ]])])
}

async fn unit(store: &Store, f: &Fixture, name: &str, parent: Option<OrgUnitId>) -> OrgUnitId {
    store
        .create_org_unit(
            &writer(f, &f.scope),
            Some(f.version),
            &NewOrgUnit {
                name: name.into(),
                parent_id: parent,
                org_unit_type_id: Some(f.district),
                validation_status: Some("VALID".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
}

backend_test!(
    MIGRATIONS,
    setup_creates_default_version,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let sources = store
            .list_sources(f.account, &Default::default())
            .await
            .unwrap();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].name, "Niger");
        assert_eq!(sources[0].default_version_id, Some(f.version));
        assert_eq!(sources[0].versions.len(), 1);
        assert_eq!(sources[0].versions[0].number, 1);
        let v2 = store
            .create_version(f.account, sources[0].id, None, Some("second"))
            .await
            .unwrap();
        assert_eq!(v2.number, 2);
        // Another account sees none of it.
        let other = fixture(&store, "Mali").await;
        assert!(matches!(
            store.source(other.account, sources[0].id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.version(other.account, v2.id).await,
            Err(StoreError::NotFound)
        ));
    }
);

backend_test!(
    MIGRATIONS,
    tree_paths_moves_and_cycles,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let country = unit(&store, &f, "Niger", None).await;
        let region = unit(&store, &f, "Tahoua", Some(country)).await;
        let district = unit(&store, &f, "Konni", Some(region)).await;
        let area = unit(&store, &f, "Area 1", Some(district)).await;
        let d = store.org_unit(&f.scope, area).await.unwrap();
        assert_eq!(
            d.path,
            format!("{}.{}.{}.{}", country, region, district, area)
        );
        assert_eq!(d.depth, 4);
        let anc = store.org_unit_ancestors(&d).await.unwrap();
        assert_eq!(
            anc.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![country, region, district]
        );

        // A cycle is refused with a field error.
        let err = store
            .update_org_unit(
                &writer(&f, &f.scope),
                region,
                &OrgUnitChanges {
                    parent_id: Some(Some(area)),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(e) if e.get("parent_id").is_some()),
            "{err:?}"
        );
        let err = store
            .update_org_unit(
                &writer(&f, &f.scope),
                region,
                &OrgUnitChanges {
                    parent_id: Some(Some(region)),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Invalid(e) if e.get("parent_id").is_some()));

        // Moving the district to the root moves its subtree.
        let other_root = unit(&store, &f, "Elsewhere", None).await;
        store
            .update_org_unit(
                &writer(&f, &f.scope),
                district,
                &OrgUnitChanges {
                    parent_id: Some(Some(other_root)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let a = store.org_unit(&f.scope, area).await.unwrap();
        assert_eq!(a.path, format!("{}.{}.{}", other_root, district, area));
        assert_eq!(a.depth, 3);
        store
            .update_org_unit(
                &writer(&f, &f.scope),
                district,
                &OrgUnitChanges {
                    parent_id: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let a = store.org_unit(&f.scope, area).await.unwrap();
        assert_eq!(a.path, format!("{}.{}", district, area));
        assert_eq!(a.depth, 2);

        // Dates: closed before opened names the field.
        let err = store
            .update_org_unit(
                &writer(&f, &f.scope),
                area,
                &OrgUnitChanges {
                    opening_date: Some(chrono::NaiveDate::from_ymd_opt(2020, 5, 1)),
                    closed_date: Some(chrono::NaiveDate::from_ymd_opt(2020, 1, 1)),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Invalid(e) if e.get("closed_date").is_some()));

        // Every write was logged.
        let logs = store
            .list_modifications(
                f.account,
                &LogFilter {
                    content_type: Some("iaso.orgunit".into()),
                    object_id: Some(district.to_string()),
                    ..Default::default()
                },
                PageRequest::all(),
            )
            .await
            .unwrap();
        assert_eq!(logs.count, 3);
        let first = logs.items.last().unwrap();
        assert_eq!(first.past_value, serde_json::json!([]));
        assert_eq!(first.new_value[0]["model"], "iaso.orgunit");
        assert_eq!(first.user.as_ref().unwrap().user_id, f.user);
    }
);

backend_test!(
    MIGRATIONS,
    cross_version_parent_is_refused,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let src = store
            .source(
                f.account,
                store
                    .list_sources(f.account, &Default::default())
                    .await
                    .unwrap()[0]
                    .id,
            )
            .await
            .unwrap();
        let v2 = store
            .create_version(f.account, src.id, None, None)
            .await
            .unwrap();
        let scope = store.org_unit_scope(f.account, &[]).await.unwrap();
        let a = unit(&store, &f, "A", None).await;
        let err = store
            .create_org_unit(
                &writer(&f, &scope),
                Some(f.version),
                &NewOrgUnit {
                    name: "B".into(),
                    version_id: Some(v2.id),
                    parent_id: Some(a),
                    org_unit_type_id: Some(f.district),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(e) if e.get("parent_id").is_some()),
            "{err:?}"
        );
    }
);

backend_test!(
    MIGRATIONS,
    scope_restricts_to_subtrees,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let country = unit(&store, &f, "Niger", None).await;
        let r1 = unit(&store, &f, "Tahoua", Some(country)).await;
        let r2 = unit(&store, &f, "Zinder", Some(country)).await;
        let d1 = unit(&store, &f, "Konni", Some(r1)).await;
        let d2 = unit(&store, &f, "Mirriah", Some(r2)).await;
        let scope = store.org_unit_scope(f.account, &[r1]).await.unwrap();
        assert!(store.org_unit(&scope, d1).await.is_ok());
        assert!(matches!(
            store.org_unit(&scope, d2).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.org_unit(&scope, country).await,
            Err(StoreError::NotFound)
        ));
        let all = store
            .list_org_units(
                &scope,
                &[OrgUnitFilter::default()],
                false,
                &["id".into()],
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(
            all.items.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![r1, d1]
        );
        // A restricted writer cannot create a root nor move a unit out of its sub-tree.
        let w = writer(&f, &scope);
        let err = store
            .create_org_unit(
                &w,
                Some(f.version),
                &NewOrgUnit {
                    name: "Root".into(),
                    org_unit_type_id: Some(f.district),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Invalid(e) if e.get("parent_id").is_some()));
        let err = store
            .update_org_unit(
                &w,
                d1,
                &OrgUnitChanges {
                    parent_id: Some(Some(r2)),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound));
        // Another account sees nothing.
        let other = fixture(&store, "Mali").await;
        assert!(matches!(
            store.org_unit(&other.scope, d1).await,
            Err(StoreError::NotFound)
        ));
    }
);

backend_test!(
    MIGRATIONS,
    list_search_paging_and_geometry,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let country = store
            .create_org_unit(
                &writer(&f, &f.scope),
                Some(f.version),
                &NewOrgUnit {
                    name: "Niger".into(),
                    org_unit_type_id: Some(f.district),
                    validation_status: Some("VALID".into()),
                    geom: Some(square(0.0, 10.0, 5.0)),
                    aliases: Some(vec!["Republique du Niger".into(), "".into()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(country.has_geom && country.has_simplified_geom);
        assert_eq!(
            country.aliases,
            Some(vec!["Republique du Niger".to_string()])
        );
        let mut ids = Vec::new();
        for i in 0..25 {
            let id = store
                .create_org_unit(
                    &writer(&f, &f.scope),
                    Some(f.version),
                    &NewOrgUnit {
                        name: format!("Health Centre {i:02}"),
                        parent_id: Some(country.id),
                        org_unit_type_id: Some(f.district),
                        validation_status: Some(if i % 5 == 0 { "NEW" } else { "VALID" }.into()),
                        location: Some(Point::new(1.0 + i as f64 * 0.1, 11.0, Some(300.0))),
                        source_ref: Some(format!("ref{i}")),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .id;
            ids.push(id);
        }
        let valid = OrgUnitFilter {
            validation_statuses: Some(vec!["VALID".into()]),
            ..Default::default()
        };
        // Pages by name: 21 VALID units, 10 per page; the last page comes from the other end.
        let p1 = store
            .list_org_units(
                &f.scope,
                std::slice::from_ref(&valid),
                false,
                &["name".into()],
                Some(10),
                1,
            )
            .await
            .unwrap();
        assert_eq!(p1.count, 21);
        assert_eq!(p1.items[0].name, "Health Centre 01");
        let p3 = store
            .list_org_units(
                &f.scope,
                std::slice::from_ref(&valid),
                false,
                &["name".into()],
                Some(10),
                9,
            )
            .await
            .unwrap();
        assert_eq!(p3.page, 3);
        assert_eq!(
            p3.items.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            vec!["Niger"]
        );
        let p2 = store
            .list_org_units(
                &f.scope,
                std::slice::from_ref(&valid),
                false,
                &["-name".into()],
                Some(10),
                2,
            )
            .await
            .unwrap();
        assert_eq!(p2.items.len(), 10);
        assert_eq!(p2.items[0].name, "Health Centre 13");
        assert_eq!(p2.items[9].name, "Health Centre 02");
        // Text search in names and aliases (exact alias), ids:, refs:.
        let search = |s: &str| OrgUnitFilter {
            search: Some(Search::parse(s)),
            validation_statuses: None,
            ..Default::default()
        };
        let by_ids = format!("ids:{},{}", country.id, ids[0]);
        let by_iaso_ref = format!("refs:ref3,iaso:{}", country.id);
        for (q, n) in [
            ("centre 1", 10),
            ("republique du niger", 1),
            ("republique", 0),
            (by_ids.as_str(), 2),
            ("refs:ref3,ref4", 2),
            (by_iaso_ref.as_str(), 2),
            ("50%", 0),
        ] {
            let r = store
                .list_org_units(&f.scope, &[search(q)], false, &["id".into()], None, 1)
                .await
                .unwrap();
            assert_eq!(r.count, n as i64, "search {q}");
        }
        // The search index follows renames and alias changes (trigram table on SQLite, GIN
        // index on PostgreSQL); two-letter terms are found too (they scan the name index).
        store
            .update_org_unit(
                &writer(&f, &f.scope),
                ids[3],
                &OrgUnitChanges {
                    name: Some("Dispensary Zeta".into()),
                    aliases: Some(vec!["Old Centre Three".into()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for (q, n) in [
            ("zeta", 1),
            ("ary ze", 1),
            ("ze", 1),
            ("centre 03", 0),
            ("old centre three", 1),
            ("centre 0", 9),
        ] {
            let r = store
                .list_org_units(&f.scope, &[search(q)], false, &["id".into()], None, 1)
                .await
                .unwrap();
            assert_eq!(r.count, n as i64, "search {q} after the rename");
            if n == 1 {
                assert_eq!(r.items[0].id, ids[3], "search {q}");
            }
        }
        store
            .update_org_unit(
                &writer(&f, &f.scope),
                ids[3],
                &OrgUnitChanges {
                    name: Some("Health Centre 03".into()),
                    aliases: Some(Vec::new()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for (q, n) in [("zeta", 0), ("centre 03", 1), ("old centre", 0)] {
            let r = store
                .list_org_units(&f.scope, &[search(q)], false, &["id".into()], None, 1)
                .await
                .unwrap();
            assert_eq!(r.count, n as i64, "search {q} after renaming back");
        }
        // Bounding box, hierarchy, searches with indexes.
        let bbox = OrgUnitFilter {
            bbox: Some([1.05, 10.5, 1.25, 11.5]),
            validation_statuses: None,
            ..Default::default()
        };
        let r = store
            .list_org_units(&f.scope, &[bbox], false, &["id".into()], None, 1)
            .await
            .unwrap();
        assert_eq!(
            r.items.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![country.id, ids[1], ids[2]]
        );
        let r = store
            .list_org_units(
                &f.scope,
                &[search("centre 0"), search("centre 2")],
                true,
                &["name".into()],
                Some(100),
                1,
            )
            .await
            .unwrap();
        assert_eq!(r.counts, vec![10, 5]);
        assert_eq!(r.items[0].search_index, Some(0));
        let shapes = store
            .org_unit_shapes(
                &[country.id.get()],
                iaso_store::org_units::Shape::Simplified,
            )
            .await
            .unwrap();
        assert!(shapes.contains_key(&country.id.get()));
        // Tree: the root has children, a leaf has none.
        let (nodes, _) = store
            .org_unit_tree(
                &f.scope,
                &TreeQuery {
                    top_level: true,
                    ..Default::default()
                },
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(nodes.len(), 1);
        assert!(nodes[0].has_children);
        let (nodes, _) = store
            .org_unit_tree(
                &f.scope,
                &TreeQuery {
                    parent: Some(country.id.get()),
                    validation_statuses: vec!["VALID".into()],
                    ..Default::default()
                },
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(nodes.len(), 20);
        assert!(!nodes[0].has_children);
    }
);

/// Every unit's path is its parent's path plus its id (so no unit is its own ancestor).
async fn assert_tree_consistent(db: &Db) {
    use iaso_db::Conn;
    let mut c = db.clone();
    let rows: Vec<(i64, Option<i64>, String, i64)> = c
        .fetch_all(iaso_db::Sql::new(
            "SELECT id, parent_id, path, depth FROM org_units ORDER BY id",
        ))
        .await
        .unwrap();
    let by_id: std::collections::HashMap<i64, &(i64, Option<i64>, String, i64)> =
        rows.iter().map(|r| (r.0, r)).collect();
    for (id, parent, path, depth) in &rows {
        let expected = match parent {
            Some(p) => format!("{}.{id}", by_id[p].2),
            None => id.to_string(),
        };
        assert_eq!(path, &expected, "unit {id}");
        assert_eq!(*depth as usize, path.split('.').count(), "unit {id}");
    }
}

backend_test!(
    MIGRATIONS,
    concurrent_moves_never_corrupt_the_tree,
    |db: Db| async move {
        let store = Store::new(db.clone());
        let f = fixture(&store, "Niger").await;
        let root = unit(&store, &f, "Root", None).await;
        let mut nodes = Vec::new();
        for i in 0..8 {
            nodes.push(unit(&store, &f, &format!("N{i}"), Some(root)).await);
        }
        // Pairs of opposite moves at the same time (a under b, b under a), many rounds: at most
        // one of each pair may win, and the tree must stay a tree.
        for round in 0..12 {
            let a = nodes[round % nodes.len()];
            let b = nodes[(round * 3 + 1) % nodes.len()];
            if a == b {
                continue;
            }
            let (s1, s2) = (store.clone(), store.clone());
            let (scope1, scope2) = (f.scope.clone(), f.scope.clone());
            let user = f.user;
            let t1 = tokio::spawn(async move {
                let w = Writer {
                    user: Some(user),
                    scope: &scope1,
                    editable_types: &[],
                    source: sources::ORG_UNIT_API,
                };
                s1.update_org_unit(
                    &w,
                    a,
                    &OrgUnitChanges {
                        parent_id: Some(Some(b)),
                        ..Default::default()
                    },
                )
                .await
            });
            let t2 = tokio::spawn(async move {
                let w = Writer {
                    user: Some(user),
                    scope: &scope2,
                    editable_types: &[],
                    source: sources::ORG_UNIT_API,
                };
                s2.update_org_unit(
                    &w,
                    b,
                    &OrgUnitChanges {
                        parent_id: Some(Some(a)),
                        ..Default::default()
                    },
                )
                .await
            });
            let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
            for r in [&r1, &r2] {
                if let Err(e) = r {
                    assert!(
                        matches!(e, StoreError::Invalid(_)),
                        "a losing move must be a field error, got {e:?}"
                    );
                }
            }
            assert_tree_consistent(&db).await;
            // Reset: both back under the root.
            for n in [a, b] {
                let _ = store
                    .update_org_unit(
                        &writer(&f, &f.scope),
                        n,
                        &OrgUnitChanges {
                            parent_id: Some(Some(root)),
                            ..Default::default()
                        },
                    )
                    .await;
            }
            assert_tree_consistent(&db).await;
        }
    }
);

backend_test!(
    MIGRATIONS,
    cached_counts_follow_writes,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let root = unit(&store, &f, "Root", None).await;
        let all = OrgUnitFilter {
            validation_statuses: None,
            ..Default::default()
        };
        let count = |store: Store, scope: OrgUnitScope, filter: OrgUnitFilter| async move {
            store
                .list_org_units(&scope, &[filter], false, &["id".into()], Some(10), 1)
                .await
                .unwrap()
                .count
        };
        assert_eq!(count(store.clone(), f.scope.clone(), all.clone()).await, 1);
        assert_eq!(count(store.clone(), f.scope.clone(), all.clone()).await, 1);
        let child = unit(&store, &f, "Child", Some(root)).await;
        assert_eq!(count(store.clone(), f.scope.clone(), all.clone()).await, 2);
        let valid = OrgUnitFilter {
            validation_statuses: Some(vec!["VALID".into()]),
            ..Default::default()
        };
        assert_eq!(
            count(store.clone(), f.scope.clone(), valid.clone()).await,
            2
        );
        store
            .update_org_unit(
                &writer(&f, &f.scope),
                child,
                &OrgUnitChanges {
                    validation_status: Some("REJECTED".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            count(store.clone(), f.scope.clone(), valid.clone()).await,
            1
        );
        // Another tenant's units do not appear in the (shared) cache.
        let other = fixture(&store, "Mali").await;
        assert_eq!(
            count(store.clone(), other.scope.clone(), all.clone()).await,
            0
        );
    }
);

backend_test!(
    MIGRATIONS,
    bbox_uses_the_spatial_index,
    |db: Db| async move {
        let store = Store::new(db);
        let f = fixture(&store, "Niger").await;
        let big = store
            .create_org_unit(
                &writer(&f, &f.scope),
                Some(f.version),
                &NewOrgUnit {
                    name: "Big".into(),
                    org_unit_type_id: Some(f.district),
                    validation_status: Some("VALID".into()),
                    geom: Some(square(0.0, 0.0, 10.0)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let p = store
            .create_org_unit(
                &writer(&f, &f.scope),
                Some(f.version),
                &NewOrgUnit {
                    name: "Point".into(),
                    parent_id: Some(big.id),
                    org_unit_type_id: Some(f.district),
                    validation_status: Some("VALID".into()),
                    location: Some(Point::new(2.0, 2.0, None)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let in_box = |b: [f64; 4]| OrgUnitFilter {
            bbox: Some(b),
            validation_statuses: None,
            ..Default::default()
        };
        let ids = |l: iaso_store::org_unit_search::OrgUnitListing| {
            l.items.iter().map(|u| u.id).collect::<Vec<_>>()
        };
        let r = store
            .list_org_units(
                &f.scope,
                &[in_box([1.5, 1.5, 2.5, 2.5])],
                false,
                &["id".into()],
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(ids(r), vec![big.id, p.id]);
        let r = store
            .list_org_units(
                &f.scope,
                &[in_box([5.0, 5.0, 6.0, 6.0])],
                false,
                &["id".into()],
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(ids(r), vec![big.id]);
        // Moving the point out of the window updates the index.
        store
            .update_org_unit(
                &writer(&f, &f.scope),
                p.id,
                &OrgUnitChanges {
                    location: Some(Some(Point::new(20.0, 20.0, None))),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let r = store
            .list_org_units(
                &f.scope,
                &[in_box([1.5, 1.5, 2.5, 2.5])],
                false,
                &["id".into()],
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(ids(r), vec![big.id]);
        let r = store
            .list_org_units(
                &f.scope,
                &[in_box([19.0, 19.0, 21.0, 21.0])],
                false,
                &["id".into()],
                None,
                1,
            )
            .await
            .unwrap();
        assert_eq!(ids(r), vec![p.id]);
    }
);

backend_test!(
    MIGRATIONS,
    pages_of_a_large_subtree_follow_the_order,
    |db: Db| async move {
        // Sub-trees of more than a few thousand units are paged by walking the index of the
        // ORDER BY on SQLite (see `walk_order_index`): same pages as a sort, from both ends.
        use iaso_store::org_units::{insert_org_units_bulk, reserve_org_unit_ids, BulkOrgUnit};
        let store = Store::new(db);
        let f = fixture(&store, "Big").await;
        let n_big = 6_000usize;
        let n_small = 100usize;
        let mut tx = store.db().begin().await.unwrap();
        let ids = reserve_org_unit_ids(&mut tx, 3 + n_big + n_small)
            .await
            .unwrap();
        let bulk = |id: i64, parent: Option<(i64, &str)>, name: String| BulkOrgUnit {
            id,
            parent_id: parent.map(|p| p.0),
            path: parent.map_or(id.to_string(), |p| format!("{}.{id}", p.1)),
            name,
            validation_status: "VALID".into(),
            org_unit_type_id: Some(f.district.get()),
            source_ref: None,
            code: String::new(),
            uuid: None,
            aliases: None,
            location: None,
            geom: None,
            opening_date: None,
            closed_date: None,
        };
        let root = ids[0];
        let (big, small) = (ids[1], ids[2]);
        let root_path = root.to_string();
        let big_path = format!("{root}.{big}");
        let small_path = format!("{root}.{small}");
        let mut units = vec![
            bulk(root, None, "Country".into()),
            bulk(big, Some((root, &root_path)), "Region big".into()),
            bulk(small, Some((root, &root_path)), "Region small".into()),
        ];
        // Names in an order unrelated to ids, with duplicates (ties broken by id).
        for (k, id) in ids[3..3 + n_big].iter().enumerate() {
            let name = format!("Unit {:04}", (k * 7_919) % 4_000);
            units.push(bulk(*id, Some((big, &big_path)), name));
        }
        for (k, id) in ids[3 + n_big..].iter().enumerate() {
            units.push(bulk(
                *id,
                Some((small, &small_path)),
                format!("Post {k:03}"),
            ));
        }
        insert_org_units_bulk(&mut tx, f.version, &units, None)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        for (parent, order) in [
            (big, "name"),
            (big, "-name"),
            (root, "name"),
            (big, "id"),
            (small, "name"),
        ] {
            let mut expected: Vec<(String, i64)> = units
                .iter()
                .filter(|u| {
                    let p = if parent == root {
                        &root_path
                    } else if parent == big {
                        &big_path
                    } else {
                        &small_path
                    };
                    u.path == *p || u.path.starts_with(&format!("{p}."))
                })
                .map(|u| (u.name.to_lowercase(), u.id))
                .collect();
            match order {
                "name" => expected.sort(),
                "-name" => expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1))),
                _ => expected.sort_by_key(|x| x.1),
            }
            let filter = OrgUnitFilter {
                validation_statuses: Some(vec!["VALID".into()]),
                hierarchy_of: vec![parent],
                ..Default::default()
            };
            let limit = 50i64;
            let pages = (expected.len() as i64 + limit - 1) / limit;
            for page in [1, 2, pages / 2, pages - 1, pages] {
                let got = store
                    .list_org_units(
                        &f.scope,
                        std::slice::from_ref(&filter),
                        false,
                        &[order.into()],
                        Some(limit),
                        page,
                    )
                    .await
                    .unwrap();
                assert_eq!(got.count, expected.len() as i64, "{parent} {order}");
                let from = ((page - 1) * limit) as usize;
                let want: Vec<i64> = expected[from..(from + limit as usize).min(expected.len())]
                    .iter()
                    .map(|x| x.1)
                    .collect();
                assert_eq!(
                    got.items.iter().map(|u| u.id.get()).collect::<Vec<_>>(),
                    want,
                    "parent {parent}, order {order}, page {page}"
                );
            }
        }
    }
);

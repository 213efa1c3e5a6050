//! The form descriptor: same JSON as the reference converter's
//! `Survey.to_json_dict()` (what Iaso stores per form version), readable from
//! stored descriptors, and walkable question by question.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use iaso_xlsform::{convert, ConvertOptions, FormDescriptor};
use serde_json::Value;

fn shared_dir() -> Option<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var("SHARED_DIR").ok().map(PathBuf::from),
        Some(here.join("../../../shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// Golden descriptors (tests/data/descriptors/NAME.json) were produced by the
/// reference converter (pyxform 4.5.0, `create_survey_from_xls(...).to_json_dict()`)
/// from Iaso's seed forms (shared/reference/iaso-data/testdata/NAME.xlsx).
#[test]
fn seed_forms_match_reference_descriptors() {
    let Some(shared) = shared_dir() else {
        eprintln!("shared/ not found: skipped");
        return;
    };
    let golden_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/descriptors");
    let mut n = 0;
    for entry in std::fs::read_dir(&golden_dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let xlsx = shared.join(format!("reference/iaso-data/testdata/{stem}.xlsx"));
        let Ok(bytes) = std::fs::read(&xlsx) else {
            continue;
        };
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let c = convert(&bytes, &format!("{stem}.xlsx"), &ConvertOptions::default()).unwrap();
        let ours = c.meta.descriptor.to_json();
        assert_eq!(ours, golden, "{stem}");
        // And the typed tree reads it back unchanged.
        let back = FormDescriptor::from_json(golden.clone()).unwrap();
        assert_eq!(back.to_json(), golden, "{stem}");
        n += 1;
    }
    assert!(n >= 4, "only {n} seed forms compared");
}

/// Descriptors Iaso stored with older converter versions (extra keys such as
/// `_xpath`, `_translations`, `sms_keyword`) read and write back key for key.
#[test]
fn stored_iaso_descriptors_round_trip() {
    let Some(shared) = shared_dir() else {
        eprintln!("shared/ not found: skipped");
        return;
    };
    let fixture = shared.join("reference/iaso-data/iaso/tests/fixtures/odk_json_descriptor.json");
    if let Ok(text) = std::fs::read_to_string(fixture) {
        let v: Value = serde_json::from_str(&text).unwrap();
        let d = FormDescriptor::from_json(v.clone()).unwrap();
        assert_eq!(d.to_json(), v);
        assert_eq!(d.kind, "survey");
        let qs = d.questions();
        let q = qs.iter().find(|q| q.name() == "PBF_PCA_qlt_3_1_1").unwrap();
        assert_eq!(q.joined_path(), "PBF_PCA_qlt_begin_v3/PBF_PCA_qlt_3_1_1");
        assert_eq!(q.kind(), "select one");
        assert_eq!(q.node.choices().len(), 2);
        assert!(!q.in_repeat);
    }
    let versions = shared.join(
        "reference/iaso-data/openhexa-toolbox/tests/iaso/responses/dataframe/form_versions.json",
    );
    if let Ok(text) = std::fs::read_to_string(versions) {
        let v: Value = serde_json::from_str(&text).unwrap();
        for fv in v["form_versions"].as_array().unwrap() {
            let stored = fv["descriptor"].clone();
            let d = FormDescriptor::from_json(stored.clone()).unwrap();
            assert_eq!(d.to_json(), stored);
            assert_eq!(d.extra_str("version"), stored["version"].as_str());
            assert!(d
                .questions()
                .iter()
                .any(|q| q.joined_path() == "geo_group/statut_fosa"));
        }
    }
}

#[test]
fn questions_carry_paths_types_and_repeats() {
    let csv = "survey,type,name,label,calculation\n\
               ,text,name,Name,\n\
               ,begin group,hh,Household,\n\
               ,integer,size,Size,\n\
               ,begin repeat,member,Member,\n\
               ,text,first,First name,\n\
               ,begin group,details,Details,\n\
               ,select_one yn,adult,Adult?,\n\
               ,end group,,,\n\
               ,end repeat,,,\n\
               ,end group,,,\n\
               ,calculate,total,,${size} * 2\n\
               choices,list_name,name,label,\n\
               ,yn,yes,Yes,\n\
               ,yn,no,No,\n";
    let c = convert(csv.as_bytes(), "hh.csv", &ConvertOptions::default()).unwrap();
    let d = &c.meta.descriptor;
    let qs = d.questions();
    let rows: Vec<(String, &str, bool, Option<String>)> = qs
        .iter()
        .map(|q| {
            (
                q.joined_path(),
                q.kind(),
                q.in_repeat,
                q.repeat_path.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("name".to_string(), "text", false, None),
            ("hh/size".to_string(), "integer", false, None),
            (
                "hh/member/first".to_string(),
                "text",
                true,
                Some("hh/member".to_string())
            ),
            (
                "hh/member/details/adult".to_string(),
                "select one",
                true,
                Some("hh/member".to_string())
            ),
            ("total".to_string(), "calculate", false, None),
            ("meta/instanceID".to_string(), "calculate", false, None),
        ]
    );
    let adult = &qs[3];
    assert_eq!(adult.xpath("hh"), "/hh/hh/member/details/adult");
    let names: Vec<&str> = adult
        .node
        .choices()
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["yes", "no"]);
    assert_eq!(adult.node.list_name.as_deref(), Some("yn"));
    let total = &qs[4];
    assert_eq!(
        total.node.bind.as_ref().unwrap()["calculate"],
        Value::String("${size} * 2".into())
    );
    // Survey-level settings and choice lists are on the root node.
    assert_eq!(d.kind, "survey");
    assert_eq!(d.extra_str("id_string"), Some("hh"));
    assert!(d.extra["choices"]["yn"].is_array());
}

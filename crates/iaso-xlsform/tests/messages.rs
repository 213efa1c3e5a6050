//! Error and warning wording on small CSV forms (the one-file CSV layout).
#![allow(clippy::unwrap_used)]

use iaso_xlsform::{convert, ConvertOptions};

fn run(csv: &str) -> Result<iaso_xlsform::Conversion, String> {
    convert(csv.as_bytes(), "form.csv", &ConvertOptions::default()).map_err(|e| e.to_string())
}

#[test]
fn missing_header_row_is_named() {
    // First row is a question, not a header; a later row has a value in a column
    // without a header.
    let e = run("survey,,,\n,text,q0,Q0\n,text,q1,Q1\n,text,q2,Q2,?\n").unwrap_err();
    assert!(
        e.starts_with("Invalid headers provided for sheet: 'survey'. For XLSForms, this may be due a missing header row"),
        "{e}"
    );
    assert!(e.contains("missing mapping for 'unknown'"), "{e}");
    assert!(
        e.contains("One or more required column headers were not found: 'type'."),
        "{e}"
    );
}

#[test]
fn missing_required_column_without_stray_values() {
    let e = run("survey,,,,\n,kind,name,label,\n,text,q1,Q1,\n").unwrap_err();
    assert_eq!(e, "Invalid headers provided for sheet: 'survey'. One or more required column headers were not found: 'type'. Learn more: https://xlsform.org/en/#setting-up-your-worksheets");
}

#[test]
fn language_codes_are_checked() {
    let c = run("survey,,,,\n,type,name,label::English (en),label::French\n,text,q1,Hi,Salut\n")
        .unwrap();
    assert_eq!(
        c.warnings,
        vec!["The following language declarations do not contain valid machine-readable codes: French. Learn more: http://xlsform.org#multiple-language-support".to_string()]
    );
    let c =
        run("survey,,,,\n,type,name,label::English (en),label::Français (fr)\n,text,q1,Hi,Salut\n")
            .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn nested_control_columns_render_like_python_dicts() {
    let c =
        run("survey,,,,\n,type,name,label,body::esri::style\n,text,q1,Q,watermark='x'\n").unwrap();
    assert!(
        c.xform
            .contains(r#"esri="{'style': &quot;watermark='x'&quot;}""#),
        "{}",
        c.xform
    );
}

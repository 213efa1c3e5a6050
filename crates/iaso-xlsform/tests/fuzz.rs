//! Property tests: arbitrary and mutated inputs never panic.
//!
//! `PROPTEST_CASES=N cargo test -p iaso-xlsform --test fuzz` runs N cases per
//! property (default 256); coverage-guided fuzzing lives in `fuzz/`.
#![allow(clippy::unwrap_used)]

use iaso_xlsform::{convert, ConvertOptions};
use proptest::prelude::*;

fn test_file(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(p).unwrap_or_default()
}

fn sample_xlsx() -> Vec<u8> {
    test_file("sample.xlsx")
}

/// Cases per property: `PROPTEST_CASES` from the environment, else 256.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn mutate(mut b: Vec<u8>, pos: prop::sample::Index, val: u8, n: usize) -> Vec<u8> {
    if !b.is_empty() {
        for k in 0..n {
            let i = (pos.index(b.len()) + k * 7919) % b.len();
            b[i] = val.wrapping_add(k as u8);
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), ext in prop_oneof![Just("x.xlsx"), Just("x.xls"), Just("x.csv")]) {
        let _ = convert(&bytes, ext, &ConvertOptions::default());
    }

    #[test]
    fn mutated_xlsx_never_panics(pos in any::<prop::sample::Index>(), val in any::<u8>(), n in 1usize..8) {
        let b = mutate(sample_xlsx(), pos, val, n);
        let _ = convert(&b, "x.xlsx", &ConvertOptions::default());
    }

    #[test]
    fn mutated_xls_never_panics(pos in any::<prop::sample::Index>(), val in any::<u8>(), n in 1usize..8) {
        let b = mutate(test_file("translated.xls"), pos, val, n);
        let _ = convert(&b, "x.xls", &ConvertOptions::default());
    }

    #[test]
    fn mutated_csv_never_panics(pos in any::<prop::sample::Index>(), val in any::<u8>(), n in 1usize..8) {
        let b = mutate(test_file("translated.csv"), pos, val, n);
        let _ = convert(&b, "x.csv", &ConvertOptions::default());
    }

    #[test]
    fn arbitrary_csv_forms_never_panic(cells in proptest::collection::vec("[a-z_${} ():=,.0-9#-]{0,12}", 0..40)) {
        let mut s = String::from("survey,,,\n,type,name,label\n");
        for c in cells.chunks(3) {
            s.push(',');
            s.push_str(&c.join(","));
            s.push('\n');
        }
        let _ = convert(s.as_bytes(), "x.csv", &ConvertOptions::default());
    }
}

#[test]
fn sample_converts() {
    let b = sample_xlsx();
    let c = convert(&b, "sample.xlsx", &ConvertOptions::default()).unwrap();
    assert!(c.xform.contains("<h:html"));
}

#[test]
fn non_utf8_csv_is_an_error() {
    let e = convert(
        &[0xff, 0xfe, b',', b',', b',', b','],
        "x.csv",
        &ConvertOptions::default(),
    );
    assert!(e.is_err());
}

#[test]
fn not_a_zip_is_an_error() {
    let e = convert(b"PK\x03\x04garbage", "x.xlsx", &ConvertOptions::default());
    assert!(e.is_err());
}

//! Inputs found by `cargo fuzz run convert` (see fuzz/): each once crashed,
//! hung or exhausted memory. The first byte picks the file name, as in the
//! fuzz target; conversion must now end with a result or an error, quickly.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use iaso_xlsform::{convert, ConvertOptions};

#[test]
fn fuzz_findings_convert_or_fail_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Some((&selector, input)) = data.split_first() else {
            continue;
        };
        let name = match selector % 3 {
            0 => "form.xlsx",
            1 => "form.xls",
            _ => "form.csv",
        };
        let start = Instant::now();
        let _ = convert(input, name, &ConvertOptions::default());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{} took {:?}",
            path.display(),
            start.elapsed()
        );
        n += 1;
    }
    assert!(n > 0);
}

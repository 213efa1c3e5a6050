//! Fuzz `iaso_xlsform::convert` on xlsx, xls and csv inputs.
//!
//! The first byte picks the file name (and so the format when the magic bytes
//! do not decide it); the rest is the file. Any outcome but a panic, a hang or
//! unbounded memory is fine.
#![no_main]

use iaso_xlsform::{convert, ConvertOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let name = match selector % 3 {
        0 => "form.xlsx",
        1 => "form.xls",
        _ => "form.csv",
    };
    let _ = convert(input, name, &ConvertOptions::default());
});

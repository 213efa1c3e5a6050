//! XLSForm -> ODK XForm converter in pure Rust.
//!
//! Reads `.xlsx`/`.xlsm` (own reader: one zip pass, only the parts a form
//! needs), `.xls` (own bounded Compound File + BIFF8/BIFF5 reader) and `.csv`
//! (sheet name in the first column, the layout pyxform accepts), and produces
//! the XForm that pyxform 4.5.0 produces, its warnings, or an error naming the
//! sheet/row/column.
//!
//! # Library API
//!
//! ```no_run
//! use iaso_xlsform::{convert, ConvertOptions};
//! let bytes = std::fs::read("form.xlsx").unwrap();
//! let conv = convert(&bytes, "form.xlsx", &ConvertOptions::default()).unwrap();
//! println!("{} {:?}", conv.meta.form_id, conv.meta.version);
//! println!("{}", conv.xform);
//! ```
//!
//! * [`convert`]`(input, file_name, &options) -> Result<`[`Conversion`]`, `[`ConvertError`]`>`:
//!   the format is picked from magic bytes, then the file name extension.
//! * [`Conversion`]: `xform`, `warnings`, and [`FormMeta`] (form_id, version, title,
//!   default language, languages, and the [`FormDescriptor`]: the JSON Iaso stores
//!   per form version, in the shape of pyxform's `Survey.to_json_dict()`, with
//!   [`FormDescriptor::questions`] to walk questions with their group/repeat path
//!   for submission parsing and export columns).
//! * [`ConvertOptions`]: `form_name`, and [`Limits`] (bytes, rows, columns, cells).
//! * [`cli::convert_command`] implements `iaso xlsform convert FILE [--form-name NAME] [--json]`;
//!   `--descriptor` prints the descriptor instead.
//!
//! Bad input (not a zip, zip bombs, cyclic `.xls` sector chains, huge sheets,
//! non-UTF-8 CSV...) yields a [`ConvertError`], never a panic; memory stays
//! proportional to the input and the [`Limits`].

// Style lints that fight the reference-faithful control flow in a few places.
#![allow(
    clippy::if_same_then_else,
    clippy::collapsible_if,
    clippy::collapsible_match,
    clippy::needless_range_loop,
    clippy::wrong_self_convention,
    clippy::manual_strip,
    clippy::map_entry,
    clippy::int_plus_one,
    clippy::manual_is_multiple_of
)]

pub mod cli;
pub mod descriptor;
mod entities;
pub mod error;
pub mod expression;
mod headers;
mod language_subtags;
pub mod languages;
mod params;
mod qtd;
pub mod reader;
mod survey;
mod xform;
mod xls;
mod xls2json;
mod xlsx;
pub mod xml;

pub use descriptor::{FormDescriptor, FormMeta, Question};
pub use error::ConvertError;
pub use reader::Limits;

/// Options for [`convert`].
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Name of the main instance element (pyxform's `form_name`, default `data`).
    pub form_name: Option<String>,
    /// Input size limits (bytes, rows, columns, cells).
    pub limits: reader::Limits,
}

/// A successful conversion.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conversion {
    /// The XForm XML.
    pub xform: String,
    /// Warnings, in the reference wording.
    pub warnings: Vec<String>,
    /// Metadata stored per form version.
    pub meta: FormMeta,
}

/// Convert an XLSForm (bytes) into an XForm.
pub fn convert(
    input: &[u8],
    file_name: &str,
    options: &ConvertOptions,
) -> Result<Conversion, ConvertError> {
    let wb = reader::read_workbook(input, file_name, &options.limits)?;
    let stem = std::path::Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("data")
        .to_string();
    let parsed = xls2json::workbook_to_json(&wb, options.form_name.as_deref(), Some(&stem))?;
    let mut survey = survey::Survey::build(&parsed.json)?;
    let xform = survey.to_xml()?;
    let xls2json::Parsed { json, warnings } = parsed;
    let mut warnings = warnings;
    warnings.extend(languages::bad_language_warning(
        survey.translation_languages.iter().map(String::as_str),
    ));
    let meta = descriptor::build_meta(json, &survey);
    Ok(Conversion {
        xform,
        warnings,
        meta,
    })
}

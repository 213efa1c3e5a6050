//! `iaso xlsform convert FILE [--form-name NAME] [--json]`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::{convert, ConvertOptions};

/// Run the conversion command. With `json`, prints exactly one JSON object
/// `{"xform": ..., "warnings": [...], "error": ...}` on stdout; otherwise the
/// XForm on stdout and warnings/errors on stderr.
pub fn convert_command(path: &Path, form_name: Option<&str>, json: bool) -> ExitCode {
    convert_command_with(path, form_name, json, false)
}

/// Like [`convert_command`]; with `descriptor`, prints the form descriptor
/// (the JSON Iaso stores per form version) instead of the XForm.
pub fn convert_command_with(
    path: &Path,
    form_name: Option<&str>,
    json: bool,
    descriptor: bool,
) -> ExitCode {
    let name = path
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("data.xlsx")
        .to_string();
    let opts = ConvertOptions {
        form_name: form_name.map(str::to_string),
        ..ConvertOptions::default()
    };
    let result = match std::fs::read(path) {
        Ok(bytes) => convert(&bytes, &name, &opts),
        Err(e) => Err(crate::ConvertError::Read(format!(
            "Could not read {}: {e}",
            path.display()
        ))),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if descriptor {
        return match &result {
            Ok(c) => {
                let _ = writeln!(out, "{}", c.meta.descriptor.to_json());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if json {
        let v = match &result {
            Ok(c) => serde_json::json!({"xform": c.xform, "warnings": c.warnings, "error": null}),
            Err(e) => serde_json::json!({"xform": null, "warnings": [], "error": e.to_string()}),
        };
        let _ = writeln!(out, "{v}");
        return if result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match result {
        Ok(c) => {
            let _ = out.write_all(c.xform.as_bytes());
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parse `FILE [--form-name NAME] [--json | --descriptor]` (after the `convert` word).
pub fn run_args(args: &[String]) -> ExitCode {
    let mut file: Option<&str> = None;
    let mut form_name: Option<&str> = None;
    let mut json = false;
    let mut descriptor = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--json" => json = true,
            "--descriptor" => descriptor = true,
            "--form-name" => {
                i += 1;
                form_name = args.get(i).map(String::as_str);
            }
            a => file = Some(a),
        }
        i += 1;
    }
    match file {
        Some(f) => convert_command_with(Path::new(f), form_name, json, descriptor),
        None => {
            eprintln!("usage: xlsform-convert FILE [--form-name NAME] [--json | --descriptor]");
            ExitCode::from(2)
        }
    }
}

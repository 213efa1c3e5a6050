use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum XlsformCommand {
    /// Convert an XLSForm (.xlsx, .xls or .csv) to an ODK XForm.
    Convert {
        /// The XLSForm file.
        file: PathBuf,
        /// Name of the main instance element (default: from the settings sheet or "data").
        #[arg(long)]
        form_name: Option<String>,
        /// Print one JSON object {"xform", "warnings", "error"} instead of the XForm.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: &XlsformCommand) -> ExitCode {
    match command {
        XlsformCommand::Convert {
            file,
            form_name,
            json,
        } => iaso_xlsform::cli::convert_command(file, form_name.as_deref(), *json),
    }
}

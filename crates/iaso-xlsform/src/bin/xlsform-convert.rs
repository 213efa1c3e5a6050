//! Stand-alone converter: `xlsform-convert FILE [--form-name NAME] [--json]`.
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<String> = if args.first().map(String::as_str) == Some("convert") {
        args[1..].to_vec()
    } else {
        args
    };
    iaso_xlsform::cli::run_args(&args)
}

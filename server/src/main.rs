//! The `corral` binary: parses the command line and hands off to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = corral_server::cli::Cli::parse();
    match corral_server::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corral: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

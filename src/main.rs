//! Parses, dispatches, maps errors to exit codes; nothing else.

use std::process::ExitCode;

use clap::Parser;

use gen_core::cli::Cli;
use gen_core::error::status_of;
use gen_core::ui::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.global.json, cli.global.quiet, cli.global.verbose);
    match gen_core::commands::run(cli, &printer) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            printer.error(err.to_string());
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            let (status, hint) = status_of(&err);
            if let Some(hint) = hint {
                eprintln!("  hint: {hint}");
            }
            ExitCode::from(status.code())
        }
    }
}

//! One file per command, each returning an exit status; `run` is the
//! dispatcher.

pub mod index;
pub mod models;
pub mod system;

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::error::{GenError, Status};
use crate::ui::Printer;

pub fn run(cli: Cli, printer: &Printer) -> anyhow::Result<Status> {
    let settings = Settings::resolve(&cli.global)?;
    match cli.command {
        Some(Command::Index(args)) => index::run(&settings, &args, printer),
        Some(Command::Models(cmd)) => models::run(&settings, cmd, printer),
        Some(Command::Completions { shell }) => {
            use std::io::Write;
            // A closed pipe is not worth an error.
            let _ = std::io::stdout().write_all(&crate::docs::completion(shell));
            Ok(Status::Success)
        }
        Some(Command::Generate(_)) | Some(Command::Explain(_)) | None => not_yet("generation"),
        Some(Command::Presets(_)) => not_yet("presets"),
        Some(Command::System) => system::run(&settings, printer),
    }
}

fn not_yet(what: &str) -> anyhow::Result<Status> {
    Err(GenError::failed(format!(
        "{what} is not yet available in this version of gen"
    ))
    .with_hint("`gen index` and `gen models` work today")
    .into())
}

//! One file per command, each returning an exit status; `run` is the
//! dispatcher.

pub mod generate;
pub mod index;
pub mod init_image;
pub mod models;
pub mod presets;
pub mod system;

use crate::catalog::store::Store;
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
        Some(Command::Generate(args)) => generate::run(&settings, &args, false, printer),
        Some(Command::Explain(args)) => generate::run(&settings, &args, true, printer),
        None => generate::run(&settings, &cli.generate, false, printer),
        Some(Command::Presets(cmd)) => presets::run(&settings, cmd, printer),
        Some(Command::System) => system::run(&settings, printer),
    }
}

/// Opens the catalogue, which must already exist: reading commands must not
/// create an empty one silently.
pub fn open_catalogue(settings: &Settings) -> anyhow::Result<Store> {
    if !settings.db.exists() {
        return Err(
            GenError::nothing(format!("no catalogue at {}", settings.db.display()))
                .with_hint("run `gen index` first")
                .into(),
        );
    }
    Store::open(&settings.db)
}

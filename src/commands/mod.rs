//! One file per command, each returning an exit status; `run` is the
//! dispatcher.

pub mod generate;
pub mod index;
pub mod models;
pub mod presets;

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
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "gen", &mut std::io::stdout());
            Ok(Status::Success)
        }
        Some(Command::Generate(args)) => generate::run(&settings, &args, false, printer),
        Some(Command::Explain(args)) => generate::run(&settings, &args, true, printer),
        None => generate::run(&settings, &cli.generate, false, printer),
        Some(Command::Presets(cmd)) => presets::run(&settings, cmd, printer),
        Some(Command::System) => not_yet("system"),
    }
}

fn not_yet(what: &str) -> anyhow::Result<Status> {
    Err(GenError::failed(format!(
        "{what} is not yet available in this version of gen"
    ))
    .with_hint("`gen index` and `gen models` work today")
    .into())
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

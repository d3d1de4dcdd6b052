//! `gen models`.
use crate::{cli::ModelsCommand, config::Settings, error::Status, ui::Printer};
pub fn run(_s: &Settings, _c: ModelsCommand, _p: &Printer) -> anyhow::Result<Status> { todo!() }

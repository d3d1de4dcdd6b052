//! `gen index`.
use crate::{cli::IndexArgs, config::Settings, error::Status, ui::Printer};
pub fn run(_s: &Settings, _a: &IndexArgs, _p: &Printer) -> anyhow::Result<Status> { todo!() }

//! `gen index`: build or update the catalogue, with a progress bar on a
//! terminal and a summary on stderr (or the report as JSON on stdout).

use indicatif::{HumanBytes, ProgressBar};

use crate::catalog::index::{IndexOptions, Progress, index};
use crate::catalog::roots;
use crate::catalog::store::Store;
use crate::cli::IndexArgs;
use crate::config::Settings;
use crate::error::{GenError, Status};
use crate::ui::Printer;

struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, _files: u64, bytes: u64) {
        self.0.set_length(bytes);
    }
    fn bytes(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

pub fn run(settings: &Settings, args: &IndexArgs, printer: &Printer) -> anyhow::Result<Status> {
    if args.threads == Some(0) {
        return Err(GenError::usage("--threads must be at least 1").into());
    }
    let dirs = roots::resolve(settings)?;
    if dirs.is_empty() {
        return Err(GenError::nothing("no model folders found")
            .with_hint("pass --comfyui DIR (a ComfyUI install) or --models DIR (a models folder), or set them in the config file")
            .into());
    }
    for d in &dirs {
        printer.debug(format!("walking {} ({})", d.path.display(), d.category));
    }
    let mut store = Store::open(&settings.db)?;
    let bar = Bar(printer.bytes_bar(0, "hashing"));
    let report = index(
        &mut store,
        &dirs,
        &IndexOptions {
            threads: args.threads,
        },
        &bar,
    )?;

    for w in &report.warnings {
        printer.warn(w);
    }
    if printer.json {
        printer.out_json(&report)?;
    } else {
        let rate = if report.seconds > 0.0 {
            report.hashed_bytes as f64 / report.seconds
        } else {
            0.0
        };
        printer.info(format!(
            "indexed {} files in {} folders: {} new, {} changed, {} moved, {} unchanged, {} vanished; \
             hashed {} files ({}) in {:.1} s ({}/s)",
            report.files,
            report.folders,
            report.new,
            report.changed,
            report.moved,
            report.unchanged,
            report.vanished,
            report.hashed_files,
            HumanBytes(report.hashed_bytes),
            report.seconds,
            HumanBytes(rate as u64),
        ));
        if !report.problems.is_empty() {
            printer.warn(format!(
                "{} files could not be used:",
                report.problems.len()
            ));
            for p in &report.problems {
                printer.info(format!("  {}: {}", p.path, p.error));
            }
        }
    }
    if !settings.offline && !args.no_fetch {
        printer.debug(
            "CivitAI lookup is not part of this version; catalogue built from file headers only",
        );
    }
    if report.files == 0 {
        return Err(GenError::nothing(format!(
            "no model files found in {} model folders",
            dirs.len()
        ))
        .with_hint("check the folders with `gen -v index`")
        .into());
    }
    if report.usable() == 0 {
        return Err(GenError::failed("no file could be indexed; see the reasons above").into());
    }
    Ok(Status::Success)
}

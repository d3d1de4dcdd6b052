//! `gen index`: build or update the catalogue, with a progress bar on a
//! terminal and a summary on stderr (or the report as JSON on stdout).

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use crate::catalog::civitai::{Client, ClientConfig};
use crate::catalog::enrich::{self, LookupProgress, MetaReport};
use crate::catalog::index::{IndexOptions, Progress, index};
use crate::catalog::metadata::{Clock, LookupStatus, SystemClock};
use crate::catalog::roots;
use crate::catalog::store::Store;
use crate::cli::IndexArgs;
use crate::config::Settings;
use crate::error::{GenError, Status};
use crate::system::thermal::ThermalWatcher;
use crate::ui::Printer;

/// The hashing bar, and a watch on the machine's temperature: hashing a
/// large library keeps every core busy for minutes, long enough for a hot
/// machine to slow down, which the user should hear about once.
struct Bar {
    bar: ProgressBar,
    thermal: Mutex<ThermalWatcher>,
    printer: Printer,
}

impl Progress for Bar {
    fn start(&self, _files: u64, bytes: u64) {
        self.bar.set_length(bytes);
    }
    fn bytes(&self, n: u64) {
        self.bar.inc(n);
        // The watcher reads sensors at most every few seconds; a poisoned
        // lock only means another thread panicked, and then no warning.
        let warning = self.thermal.lock().ok().and_then(|mut w| w.poll());
        if let Some(w) = warning {
            self.bar.suspend(|| self.printer.warn(w));
        }
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The lookups' own progress line (a count, not bytes).
struct Lookups(ProgressBar);

impl LookupProgress for Lookups {
    fn start(&self, n: u64) {
        self.0.set_length(n);
    }
    fn done(&self, _sha256: &str, _status: LookupStatus) {
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn lookups_bar(printer: &Printer) -> ProgressBar {
    if printer.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>8} [{bar:30}] {pos}/{len} files, ETA {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message("civitai");
    bar
}

/// Sidecars, then CivitAI for the files whose lookup is due.
fn metadata(
    settings: &Settings,
    args: &IndexArgs,
    printer: &Printer,
    store: &Store,
) -> anyhow::Result<MetaReport> {
    let clock = SystemClock;
    let mut meta = MetaReport::default();
    enrich::import_sidecars(store, &clock, &mut meta)?;
    let ttl = settings.civitai.cache_ttl_hours as i64 * 3600;
    let due = store.lookups_due(clock.now(), ttl, args.refresh)?;
    meta.due = due.len();
    if settings.offline || args.no_fetch {
        meta.skipped_offline = due.len();
        return Ok(meta);
    }
    if due.is_empty() {
        return Ok(meta);
    }
    let log_printer = *printer;
    let client = Client::new(
        ClientConfig::from_settings(&settings.civitai),
        Box::new(move |line| log_printer.debug(line)),
    );
    printer.debug(format!(
        "asking {} about {} files ({} requests/s at most)",
        settings.civitai.url,
        due.len(),
        settings.civitai.requests_per_second
    ));
    let bar = Lookups(lookups_bar(printer));
    enrich::fetch(store, &client, &clock, &due, &bar, &mut meta)?;
    Ok(meta)
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
    let bar = Bar {
        bar: printer.bytes_bar(0, "hashing"),
        thermal: Mutex::new(ThermalWatcher::new(settings.nvml_library.as_deref())),
        printer: *printer,
    };
    let report = index(
        &mut store,
        &dirs,
        &IndexOptions {
            threads: args.threads,
        },
        &bar,
    )?;

    let meta = metadata(settings, args, printer, &store)?;

    for w in &report.warnings {
        printer.warn(w);
    }
    if printer.json {
        let mut doc = serde_json::to_value(&report)?;
        doc["metadata"] = serde_json::to_value(&meta)?;
        printer.out_json(&doc)?;
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
    print_metadata(printer, &meta);
    if report.files == 0 {
        return Err(GenError::nothing(format!(
            "no model files found in {} model folders",
            dirs.len()
        ))
        .with_hint("check the folders with `gen -v index`")
        .into());
    }
    if report.indexed() == 0 {
        return Err(GenError::failed("no file could be indexed; see the reasons above").into());
    }
    Ok(Status::Success)
}

fn print_metadata(printer: &Printer, meta: &MetaReport) {
    let mut line = format!(
        "metadata: {} sidecars imported; CivitAI: found {}, not found {}, failed {}",
        meta.sidecars_imported, meta.found, meta.not_found, meta.failed
    );
    if meta.skipped_offline > 0 {
        line.push_str(&format!(", skipped offline {}", meta.skipped_offline));
    }
    if meta.found + meta.not_found + meta.failed > 0 {
        line.push_str(&format!(" in {:.1} s", meta.seconds));
    }
    if !printer.json {
        printer.info(line);
    }
    const SHOWN: usize = 10;
    for p in meta.problems.iter().take(SHOWN) {
        printer.warn(format!("{}: {}", p.path, p.error));
    }
    if meta.problems.len() > SHOWN {
        printer.warn(format!(
            "... and {} more (`gen models show` tells each file's lookup)",
            meta.problems.len() - SHOWN
        ));
    }
}

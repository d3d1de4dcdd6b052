//! `gen models list` and `gen models show`.

use indicatif::HumanBytes;

use crate::catalog::store::ListFilter;
use crate::catalog::{Base, CatalogEntry, Kind};
use crate::cli::ModelsCommand;
use crate::config::Settings;
use crate::error::{GenError, Status};
use crate::ui::Printer;

pub fn run(settings: &Settings, cmd: ModelsCommand, printer: &Printer) -> anyhow::Result<Status> {
    match cmd {
        ModelsCommand::List { kind, base, all } => {
            let filter = ListFilter {
                kind: kind
                    .map(|k| k.parse::<Kind>())
                    .transpose()
                    .map_err(GenError::usage)?,
                base: base
                    .map(|b| b.parse::<Base>())
                    .transpose()
                    .map_err(GenError::usage)?,
                include_inactive: all,
            };
            let store = super::open_catalogue(settings)?;
            let entries = store.list(&filter)?;
            if printer.json {
                printer.out_json(&entries)?;
            } else {
                print_table(printer, &entries);
            }
            Ok(Status::Success)
        }
        ModelsCommand::Show { model } => {
            let store = super::open_catalogue(settings)?;
            let Some(entry) = store.find(&model)? else {
                return Err(GenError::nothing(format!("no catalogued model matches '{model}'"))
                    .with_hint("`gen models list` shows what is catalogued; `gen index` adds new files")
                    .into());
            };
            if printer.json {
                printer.out_json(&entry)?;
            } else {
                print_entry(printer, &entry);
            }
            Ok(Status::Success)
        }
    }
}

fn print_table(printer: &Printer, entries: &[CatalogEntry]) {
    printer.out(format!(
        "{:>5}  {:<15} {:<12} {:<5} {:>9}  NAME",
        "ID", "KIND", "BASE", "PREC", "SIZE"
    ));
    for e in entries {
        let mut line = format!(
            "{:>5}  {:<15} {:<12} {:<5} {:>9}  {}",
            e.id,
            e.kind.as_str(),
            e.base.as_str(),
            e.precision.as_deref().unwrap_or("-"),
            HumanBytes(e.size).to_string(),
            e.name
        );
        if !e.active {
            line.push_str("  (gone)");
        }
        if let Some(err) = &e.error {
            line.push_str(&format!("  ! {err}"));
        }
        printer.out(line);
    }
}

fn print_entry(printer: &Printer, e: &CatalogEntry) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<(&str, String)> = vec![
        ("id", e.id.to_string()),
        ("name", e.name.clone()),
        ("path", e.path.clone()),
        (
            "state",
            if e.active {
                "present".into()
            } else {
                "gone (kept in the catalogue)".into()
            },
        ),
        ("kind", e.kind.to_string()),
        ("base", e.base.to_string()),
        ("format", e.format.to_string()),
        ("precision", opt(&e.precision)),
        (
            "parameters",
            e.params
                .map(|p| format!("{p} ({:.2} B)", p as f64 / 1e9))
                .unwrap_or_else(|| "-".into()),
        ),
        ("prediction", opt(&e.prediction)),
        ("size", format!("{} ({} bytes)", HumanBytes(e.size), e.size)),
        ("sha256", opt(&e.sha256)),
        ("autov2", opt(&e.autov2)),
        ("autov3", opt(&e.autov3)),
        ("folder", e.category.to_string()),
    ];
    for (k, v) in rows {
        printer.out(format!("{k:<11} {v}"));
    }
    if let Some(err) = &e.error {
        printer.out(format!("{:<11} {err}", "problem"));
    }
    for r in &e.reasons {
        printer.out(format!("{:<11} {r}", "why"));
    }
    if let Some(meta) = &e.metadata {
        for key in [
            "ss_base_model_version",
            "modelspec.architecture",
            "modelspec.title",
            "ss_output_name",
        ] {
            if let Some(v) = meta.get(key).and_then(|v| v.as_str()) {
                printer.out(format!("{:<11} {key} = {v}", "metadata"));
            }
        }
    }
}

//! `gen presets populate|list|show|set|reset`: the per-model preset rows,
//! printed with the catalogue's names.

use std::collections::HashMap;

use crate::catalog::store::{ListFilter, Store};
use crate::catalog::{Base, CatalogEntry, Kind};
use crate::cli::PresetsCommand;
use crate::config::Settings;
use crate::error::{GenError, Status};
use crate::presets::db::{self, PopulateOptions, StoredPreset};
use crate::presets::{ExampleStats, Level, Preset, PresetTable};
use crate::ui::Printer;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn run(settings: &Settings, cmd: PresetsCommand, printer: &Printer) -> anyhow::Result<Status> {
    let table = PresetTable::load().map_err(GenError::from)?;
    let store = super::open_catalogue(settings)?;
    let stats = |e: &CatalogEntry| example_stats(&store, e);
    match cmd {
        PresetsCommand::Populate { force, base } => {
            let base = base
                .map(|b| b.parse::<Base>())
                .transpose()
                .map_err(GenError::usage)?;
            let entries = store.list(&ListFilter::default())?;
            let report = db::populate(
                store.conn(),
                &table,
                &entries,
                &stats,
                PopulateOptions {
                    force,
                    base,
                    now: now(),
                },
            )
            .map_err(GenError::from)?;
            if printer.json {
                printer.out_json(&report)?;
            } else {
                printer.out(format!(
                    "created {}, kept {}, skipped {}",
                    report.created, report.kept, report.skipped
                ));
            }
        }
        PresetsCommand::List { model } => {
            let sha = match &model {
                Some(m) => Some(model_sha(&find_model(&store, m)?)?),
                None => None,
            };
            let rows = db::list(store.conn(), sha.as_deref()).map_err(GenError::from)?;
            let names = names_by_sha(&store)?;
            if printer.json {
                let out: Vec<serde_json::Value> =
                    rows.iter().map(|r| row_json(r, &names)).collect();
                printer.out_json(&out)?;
            } else {
                print_rows(printer, &rows, &names);
            }
        }
        PresetsCommand::Show { model } => {
            let entry = find_model(&store, &model)?;
            let sha = model_sha(&entry)?;
            let rows = db::list(store.conn(), Some(&sha)).map_err(GenError::from)?;
            let levels: Vec<(Level, Preset, String)> = Level::ALL
                .iter()
                .map(
                    |level| match rows.iter().find(|r| r.preset.level == *level) {
                        Some(r) => (
                            *level,
                            r.preset.clone(),
                            format!(
                                "stored ({}{})",
                                r.origin,
                                if r.edited { ", edited" } else { "" }
                            ),
                        ),
                        None => (
                            *level,
                            table.get(entry.base, *level).clone(),
                            "base preset (run `gen presets populate`)".into(),
                        ),
                    },
                )
                .collect();
            if printer.json {
                let out: Vec<serde_json::Value> = levels
                    .iter()
                    .map(|(_, p, src)| serde_json::json!({"model": entry.name, "source": src, "preset": p}))
                    .collect();
                printer.out_json(&out)?;
            } else {
                printer.out(format!("{} ({}, {})", entry.name, entry.base, entry.path));
                for (level, p, src) in &levels {
                    printer.out(format!("  {:<9} {}  [{src}]", level.as_str(), summary(p)));
                }
            }
        }
        PresetsCommand::Set {
            model,
            level,
            values,
        } => {
            let entry = find_model(&store, &model)?;
            let level: Level = level.parse().map_err(GenError::from)?;
            let row = db::set(store.conn(), &table, &entry, level, &values, now())
                .map_err(GenError::from)?;
            if printer.json {
                printer.out_json(&row_json(&row, &names_by_sha(&store)?))?;
            } else {
                printer.out(format!(
                    "{} {}: {}",
                    entry.name,
                    level,
                    summary(&row.preset)
                ));
            }
        }
        PresetsCommand::Reset { model, level } => {
            let entry = find_model(&store, &model)?;
            let level = level
                .map(|l| l.parse::<Level>())
                .transpose()
                .map_err(GenError::from)?;
            let n = db::reset(
                store.conn(),
                &table,
                &entry,
                level,
                stats(&entry).as_ref(),
                now(),
            )
            .map_err(GenError::from)?;
            printer.out(format!(
                "reset {n} level{} of {}",
                if n == 1 { "" } else { "s" },
                entry.name
            ));
        }
    }
    Ok(Status::Success)
}

/// What CivitAI's example images say of a model, when known.
fn example_stats(store: &Store, entry: &CatalogEntry) -> Option<ExampleStats> {
    let info = store.model_info(entry.sha256.as_deref()?).ok().flatten()?;
    info.examples.as_ref().map(ExampleStats::from)
}

fn find_model(store: &Store, query: &str) -> anyhow::Result<CatalogEntry> {
    let entry = store.find(query)?.ok_or_else(|| {
        GenError::nothing(format!("no catalogued model matches '{query}'"))
            .with_hint("`gen models list --kind checkpoint`")
    })?;
    if !matches!(entry.kind, Kind::Checkpoint | Kind::DiffusionModel) {
        return Err(GenError::usage(format!(
            "{} is a {}; presets belong to checkpoints and diffusion models",
            entry.name, entry.kind
        ))
        .into());
    }
    Ok(entry)
}

fn model_sha(entry: &CatalogEntry) -> anyhow::Result<String> {
    entry.sha256.clone().ok_or_else(|| {
        GenError::failed(format!("{} has not been hashed yet", entry.name))
            .with_hint("run `gen index`")
            .into()
    })
}

fn names_by_sha(store: &Store) -> anyhow::Result<HashMap<String, String>> {
    Ok(store
        .list(&ListFilter {
            include_inactive: true,
            ..Default::default()
        })?
        .into_iter()
        .filter_map(|e| Some((e.sha256?, e.name)))
        .collect())
}

fn summary(p: &Preset) -> String {
    let m = &p.model_specific_params;
    let mut s = format!(
        "{} steps, cfg {}, {} / {}, {}x{}",
        p.steps, p.cfg_scale, p.sampler, p.scheduler, m.width, m.height
    );
    if let Some(c) = m.clip_skip {
        s.push_str(&format!(", clip skip {c}"));
    }
    if let Some(g) = m.guidance {
        s.push_str(&format!(", guidance {g}"));
    }
    s
}

fn row_json(r: &StoredPreset, names: &HashMap<String, String>) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["model"] = names
        .get(&r.model_sha256)
        .cloned()
        .unwrap_or_default()
        .into();
    v
}

fn print_rows(printer: &Printer, rows: &[StoredPreset], names: &HashMap<String, String>) {
    if rows.is_empty() {
        printer.out("no presets stored; run `gen presets populate`");
        return;
    }
    for r in rows {
        let name = names
            .get(&r.model_sha256)
            .map(String::as_str)
            .unwrap_or("?");
        let edited = if r.edited { " (edited)" } else { "" };
        printer.out(format!(
            "{name:<30} {:<9} {}{edited}",
            r.preset.level.as_str(),
            summary(&r.preset)
        ));
    }
}

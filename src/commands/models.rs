//! `gen models list` and `gen models show`.

use std::collections::HashMap;

use indicatif::HumanBytes;
use serde_json::Value;

use crate::catalog::metadata::{InfoSource, LookupStatus, ModelInfo, explain_base};
use crate::catalog::store::ListFilter;
use crate::catalog::{Base, CatalogEntry, Kind};
use crate::cli::ModelsCommand;
use crate::config::Settings;
use crate::error::{GenError, Status};
use crate::ui::Printer;

pub fn run(settings: &Settings, cmd: ModelsCommand, printer: &Printer) -> anyhow::Result<Status> {
    match cmd {
        ModelsCommand::List { kind, base, all } => {
            let base = base
                .map(|b| b.parse::<Base>())
                .transpose()
                .map_err(GenError::usage)?;
            // The base filter applies to the effective base (metadata
            // decides pony/illustrious/flux_krea), so it is applied below.
            let filter = ListFilter {
                kind: kind
                    .map(|k| k.parse::<Kind>())
                    .transpose()
                    .map_err(GenError::usage)?,
                base: None,
                include_inactive: all,
            };
            let store = super::open_catalogue(settings)?;
            let infos = store.model_infos()?;
            let rows: Vec<Row> = store
                .list(&filter)?
                .into_iter()
                .map(|e| Row::new(e, &infos))
                .filter(|r| base.is_none_or(|b| r.base == b))
                .collect();
            if printer.json {
                let docs = rows
                    .iter()
                    .map(Row::json)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                printer.out_json(&docs)?;
            } else {
                print_table(printer, &rows);
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
            let info = match &entry.sha256 {
                Some(sha) => store.model_info(sha)?,
                None => None,
            };
            let row = Row::with_info(entry, info);
            if printer.json {
                printer.out_json(&row.json()?)?;
            } else {
                print_entry(printer, &row.entry);
                print_info(printer, &row);
            }
            Ok(Status::Success)
        }
    }
}

/// An entry with what metadata adds: the effective base and the info.
struct Row {
    entry: CatalogEntry,
    info: Option<ModelInfo>,
    base: Base,
    base_reason: Option<String>,
}

impl Row {
    fn new(entry: CatalogEntry, infos: &HashMap<String, ModelInfo>) -> Row {
        let info = entry.sha256.as_ref().and_then(|s| infos.get(s)).cloned();
        Row::with_info(entry, info)
    }

    fn with_info(entry: CatalogEntry, info: Option<ModelInfo>) -> Row {
        let (base, base_reason) = explain_base(entry.base, info.as_ref());
        Row {
            entry,
            info,
            base,
            base_reason,
        }
    }

    /// The entry's own fields, then `effective_base` and `info` (null when
    /// nothing is known).
    fn json(&self) -> anyhow::Result<Value> {
        let mut doc = serde_json::to_value(&self.entry)?;
        doc["effective_base"] = Value::from(self.base.as_str());
        doc["info"] = serde_json::to_value(&self.info)?;
        Ok(doc)
    }
}

fn print_table(printer: &Printer, rows: &[Row]) {
    printer.out(format!(
        "{:>5}  {:<15} {:<12} {:<5} {:>9}  NAME",
        "ID", "KIND", "BASE", "PREC", "SIZE"
    ));
    for row in rows {
        let e = &row.entry;
        let mut line = format!(
            "{:>5}  {:<15} {:<12} {:<5} {:>9}  {}",
            e.id,
            e.kind.as_str(),
            row.base.as_str(),
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

/// What sidecars and CivitAI say, readably.
fn print_info(printer: &Printer, row: &Row) {
    let line = |k: &str, v: String| printer.out(format!("{k:<11} {v}"));
    if row.base != row.entry.base || row.base_reason.is_some() {
        line(
            "base (use)",
            match &row.base_reason {
                Some(why) => format!("{} ({why})", row.base),
                None => row.base.to_string(),
            },
        );
    }
    let Some(i) = &row.info else {
        line(
            "civitai",
            "not looked up yet (`gen index` asks; --offline and --no-fetch do not)".into(),
        );
        return;
    };
    let mut from = i.source.describe().to_string();
    if let Some(p) = &i.sidecar {
        from.push_str(&format!(" {p}"));
    }
    line("info from", format!("{from}, {}", ago(i.fetched_at)));
    // A CivitAI miss is said once, on the civitai line below.
    if i.status != LookupStatus::Found && (i.source != InfoSource::Civitai || i.lookup.is_none()) {
        line(
            "info",
            format!(
                "{}{}",
                i.status.as_str().replace('_', " "),
                i.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        );
    }
    let name = match (&i.model_name, &i.version_name) {
        (Some(m), Some(v)) => Some(format!("{m} — {v}")),
        (Some(m), None) => Some(m.clone()),
        (None, Some(v)) => Some(v.clone()),
        _ => None,
    };
    if let Some(n) = name {
        line("model", n);
    }
    if let (Some(m), v) = (i.model_id, i.version_id) {
        line(
            "civitai id",
            match v {
                Some(v) => format!("model {m}, version {v}"),
                None => format!("model {m}"),
            },
        );
    }
    if let Some(t) = &i.model_type {
        line("type", t.clone());
    }
    if let Some(b) = &i.base_model {
        line(
            "base model",
            format!("{b} ({})", i.base.as_deref().unwrap_or("?")),
        );
    }
    if !i.trained_words.is_empty() {
        line("triggers", i.trained_words.join(", "));
    }
    if let Some(w) = i.preferred_weight {
        line("weight", format!("{w}"));
    }
    if !i.tags.is_empty() {
        line("tags", i.tags.join(", "));
    }
    let mut stats = Vec::new();
    if let Some(d) = i.downloads {
        stats.push(format!("{d} downloads"));
    }
    if let Some(t) = i.thumbs_up {
        stats.push(format!("{t} thumbs up"));
    }
    if let Some(r) = i.rating {
        stats.push(format!(
            "rated {r:.2}{}",
            i.rating_count
                .map(|c| format!(" by {c}"))
                .unwrap_or_default()
        ));
    }
    if let Some(n) = i.nsfw {
        stats.push(if n { "NSFW".into() } else { "not NSFW".into() });
    }
    if !stats.is_empty() {
        line("stats", stats.join(", "));
    }
    if let Some(ex) = &i.examples {
        let mut parts = Vec::new();
        if let Some(s) = ex.steps {
            parts.push(format!("{s} steps"));
        }
        if let Some(c) = ex.cfg {
            parts.push(format!("CFG {c}"));
        }
        if let Some(s) = &ex.sampler {
            parts.push(s.clone());
        }
        if let Some(c) = ex.clip_skip {
            parts.push(format!("clip skip {c}"));
        }
        if let (Some(w), Some(h)) = (ex.width, ex.height) {
            parts.push(format!("{w}x{h}"));
        }
        let what = if ex.count == 0 {
            "recommended by the sidecar".to_string()
        } else {
            let s = if ex.count == 1 { "" } else { "s" };
            format!("median/most common of {} example image{s}", ex.count)
        };
        line("examples", format!("{} ({what})", parts.join(", ")));
    }
    match &i.lookup {
        Some(l) => line(
            "civitai",
            format!(
                "{}, {}{}",
                l.status.as_str().replace('_', " "),
                ago(l.at),
                l.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        None => line("civitai", "not asked yet".into()),
    }
}

/// "3 h ago" from unix seconds.
fn ago(t: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(t);
    let d = (now - t).max(0);
    match d {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", d / 60),
        3600..172_800 => format!("{} h ago", d / 3600),
        _ => format!("{} days ago", d / 86_400),
    }
}

//! `gen system`: what gen sees of this machine and of its settings, in one
//! place, for people troubleshooting and for bug reports.
//!
//! It diagnoses rather than fails: no GPU, no catalogue, no model roots or a
//! broken `extra_model_paths.yaml` are reported in the output, and the exit
//! status stays 0.

use std::path::PathBuf;

use indicatif::HumanBytes;
use serde::Serialize;

use crate::catalog::roots::{self, Found, ModelDir};
use crate::catalog::store::Store;
use crate::catalog::{Base, Kind};
use crate::config::{Settings, Source};
use crate::error::Status;
use crate::system::memory::{self, Family, Level, RenderRequest};
use crate::system::{DeviceKind, DeviceSupport, GpuInfo, NvidiaInfo, SystemInfo};
use crate::ui::Printer;

/// The whole report; `--json` prints it as one document.
#[derive(Debug, Serialize)]
pub struct Report {
    pub gen_version: &'static str,
    #[serde(flatten)]
    pub machine: SystemInfo,
    /// What each family's reference model would need here, on the default
    /// device at its native size.
    pub what_fits: WhatFits,
    pub model_roots: Roots,
    pub catalogue: Catalogue,
    pub config: ConfigFile,
}

#[derive(Debug, Serialize)]
pub struct WhatFits {
    pub device: DeviceKind,
    pub available_bytes: u64,
    pub families: Vec<FamilyFit>,
}

#[derive(Debug, Serialize)]
pub struct FamilyFit {
    pub family: Family,
    pub width: u32,
    pub height: u32,
    pub level: Level,
    pub estimated_peak_bytes: u64,
    pub fits: bool,
}

#[derive(Debug, Serialize)]
pub struct Roots {
    pub folders: Vec<ModelDir>,
    /// Why the roots could not be resolved (a missing `--models` folder, a
    /// broken `extra_model_paths.yaml`).
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Catalogue {
    pub path: PathBuf,
    pub exists: bool,
    /// Active files.
    pub total: u64,
    pub counts: Vec<Count>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Count {
    pub kind: Kind,
    pub base: Base,
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub exists: bool,
}

pub fn run(settings: &Settings, printer: &Printer) -> anyhow::Result<Status> {
    let report = gather(settings);
    if printer.json {
        // The readable report shows it in place; a script reading the JSON
        // may not look for it, so it goes to stderr as well.
        if let Some(e) = &report.model_roots.error {
            printer.warn(format!("model roots: {e}"));
        }
        printer.out_json(&report)?;
    } else {
        for line in render(&report) {
            printer.out(line);
        }
    }
    Ok(Status::Success)
}

/// Reads everything; never fails.
pub fn gather(settings: &Settings) -> Report {
    let (folders, error) = match roots::resolve(settings) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    };
    let machine = SystemInfo::read(settings.nvml_library.as_deref());
    Report {
        gen_version: env!("CARGO_PKG_VERSION"),
        what_fits: what_fits(&machine),
        machine,
        model_roots: Roots { folders, error },
        catalogue: catalogue(settings),
        config: ConfigFile {
            path: settings.config_path.clone(),
            exists: settings.config_loaded,
        },
    }
}

/// The memory plan of each family's reference model on the default device.
pub fn what_fits(machine: &SystemInfo) -> WhatFits {
    let device = machine.best_device();
    let available_bytes = machine.available_bytes(device, 0).unwrap_or(0);
    let families = Family::ALL
        .iter()
        .map(|&family| {
            let req = RenderRequest::reference(family, device);
            let p = memory::plan(&req, available_bytes);
            FamilyFit {
                family,
                width: req.width,
                height: req.height,
                level: p.level,
                estimated_peak_bytes: p.estimated_peak_bytes,
                fits: p.fits,
            }
        })
        .collect();
    WhatFits {
        device,
        available_bytes,
        families,
    }
}

/// The catalogue's counts, without creating one that does not exist.
fn catalogue(settings: &Settings) -> Catalogue {
    let mut c = Catalogue {
        path: settings.db.clone(),
        exists: settings.db.is_file(),
        total: 0,
        counts: Vec::new(),
        error: None,
    };
    if !c.exists {
        return c;
    }
    match Store::open(&settings.db).and_then(|s| s.counts()) {
        Ok(counts) => {
            c.total = counts.iter().map(|x| x.2).sum();
            c.counts = counts
                .into_iter()
                .map(|(kind, base, count)| Count { kind, base, count })
                .collect();
        }
        Err(e) => c.error = Some(format!("{e:#}")),
    }
    c
}

/// The human-readable report, line by line.
pub fn render(r: &Report) -> Vec<String> {
    let m = &r.machine;
    let mut out = vec![format!(
        "gen {}{}",
        r.gen_version,
        m.os.as_deref()
            .map(|o| format!(" on {o}"))
            .unwrap_or_default()
    )];
    out.push(String::new());
    out.extend(cpu_lines(m));
    out.extend(gpu_lines(&m.nvidia));
    for (i, d) in devices_lines(&m.devices).into_iter().enumerate() {
        out.push(format!("{:<10}{d}", if i == 0 { "Devices" } else { "" }));
    }
    out.push(String::new());
    out.extend(fits_lines(&r.what_fits));
    out.push(String::new());
    out.extend(roots_lines(&r.model_roots));
    out.push(String::new());
    out.extend(catalogue_lines(&r.catalogue));
    out.push(format!(
        "{:<10}{}{}",
        "Config",
        r.config.path.display(),
        if r.config.exists {
            ""
        } else {
            " (not present)"
        }
    ));
    out
}

fn cpu_lines(m: &SystemInfo) -> Vec<String> {
    let c = &m.cpu;
    let cores = match c.physical_cores {
        Some(p) if p != c.logical_cores => format!("{p} cores / {} threads", c.logical_cores),
        _ => format!("{} cores", c.logical_cores),
    };
    let mut first = format!("{:<10}{} ({}), {cores}", "CPU", c.model, c.arch);
    if let Some(f) = c.frequency_mhz {
        first.push_str(&format!(", {:.1} GHz", f as f64 / 1000.0));
    }
    let mut second = Vec::new();
    if let Some([a, b, c]) = c.load_average {
        second.push(format!("load {a:.2} {b:.2} {c:.2}"));
    }
    second.push(match c.temperature_c {
        Some(t) => format!("{t:.0} °C"),
        None => "temperature not readable".to_string(),
    });
    let ram = &m.ram;
    let mut ram_line = format!(
        "{:<10}{} total, {} available",
        "RAM",
        HumanBytes(ram.total_bytes),
        HumanBytes(ram.available_bytes)
    );
    if let Some(l) = ram.cgroup_limit_bytes {
        ram_line.push_str(&format!(" (container limit {})", HumanBytes(l)));
    }
    vec![first, format!("{:<10}{}", "", second.join(", ")), ram_line]
}

fn gpu_lines(n: &NvidiaInfo) -> Vec<String> {
    let mut out = Vec::new();
    if !n.driver_found {
        out.push(format!(
            "{:<10}{}",
            "GPU",
            n.note.as_deref().unwrap_or("no NVIDIA driver found")
        ));
        return out;
    }
    let mut head = format!(
        "NVIDIA driver {}",
        n.driver_version.as_deref().unwrap_or("?")
    );
    if let Some(cuda) = &n.cuda_version {
        head.push_str(&format!(", CUDA {cuda}"));
    }
    out.push(format!("{:<10}{head}", "GPU"));
    for g in &n.gpus {
        out.push(format!("{:<10}{}", "", gpu_line(g)));
        if !g.throttle_reasons.is_empty() {
            let reasons: Vec<&str> = g.throttle_reasons.iter().map(|r| r.as_str()).collect();
            out.push(format!(
                "{:<10}   clocks held back: {}",
                "",
                reasons.join(", ")
            ));
        }
    }
    if let Some(note) = &n.note {
        out.push(format!("{:<10}{note}", ""));
    }
    out
}

fn gpu_line(g: &GpuInfo) -> String {
    let mut parts = vec![format!(
        "{}, {} used of {}, {} free",
        g.name,
        HumanBytes(g.memory_used),
        HumanBytes(g.memory_total),
        HumanBytes(g.memory_free)
    )];
    if let Some(u) = g.utilisation_percent {
        parts.push(format!("{u}% busy"));
    }
    if let Some(t) = g.temperature_c {
        parts.push(format!("{t} °C"));
    }
    match (g.power_watts, g.power_limit_watts) {
        (Some(p), Some(l)) => parts.push(format!("{p:.0} W of {l:.0} W")),
        (Some(p), None) => parts.push(format!("{p:.0} W")),
        _ => {}
    }
    if let Some(f) = g.fan_percent {
        parts.push(format!("fan {f}%"));
    }
    format!("{}  {}", g.index, parts.join(", "))
}

fn devices_lines(devices: &[DeviceSupport]) -> Vec<String> {
    devices
        .iter()
        .map(|d| match (&d.note, d.usable) {
            (None, _) => d.device.as_str().to_string(),
            (Some(n), true) => format!("{} ({n})", d.device.as_str()),
            (Some(n), false) => format!("{}: {n}", d.device.as_str()),
        })
        .collect()
}

/// How a folder was found, for people.
pub fn found_how(found: &Found) -> String {
    let by = |source: &Source, flag: &str, var: &str, key: &str| match source {
        Source::Flag => format!("{flag} / {var}"),
        Source::Config => format!("config file, {key}"),
        Source::Default => "default".to_string(),
    };
    match found {
        Found::ModelsRoot { source } => by(source, "--models", "GEN_MODELS", "models"),
        Found::ComfyUi { source } => by(source, "--comfyui", "GEN_COMFYUI", "comfyui"),
        Found::ExtraModelPaths { file, section } => {
            format!(
                "extra_model_paths.yaml, section {section} ({})",
                file.display()
            )
        }
        Found::Discovered => "discovered at a common ComfyUI location".to_string(),
    }
}

fn fits_lines(w: &WhatFits) -> Vec<String> {
    let mut out = vec![format!(
        "What fits on {} ({} free; reference models at their native size)",
        w.device.as_str(),
        HumanBytes(w.available_bytes)
    )];
    for f in &w.families {
        let verdict = match (f.fits, f.level) {
            (false, _) => "does not fit".to_string(),
            (true, Level::None) => "fits, everything resident".to_string(),
            (true, level) => format!("fits at level {level}"),
        };
        out.push(format!(
            "  {:<14}{:>4}×{:<6}about {:>10}  {verdict}",
            f.family.to_string(),
            f.width,
            f.height,
            HumanBytes(f.estimated_peak_bytes).to_string(),
        ));
    }
    out
}

fn roots_lines(r: &Roots) -> Vec<String> {
    let mut out = vec!["Model folders".to_string()];
    if let Some(e) = &r.error {
        out.push(format!("  cannot resolve them: {e}"));
    } else if r.folders.is_empty() {
        out.push(
            "  none found — give --comfyui DIR or --models DIR, or set them in the config file"
                .to_string(),
        );
    }
    for d in &r.folders {
        out.push(format!(
            "  {:<17}{}  ({})",
            d.category.as_str(),
            d.path.display(),
            found_how(&d.found)
        ));
    }
    out
}

fn catalogue_lines(c: &Catalogue) -> Vec<String> {
    let mut out = vec![format!("{:<10}{}", "Catalogue", c.path.display())];
    if !c.exists {
        out.push(format!("{:<10}no catalogue yet — run gen index", ""));
        return out;
    }
    if let Some(e) = &c.error {
        out.push(format!("{:<10}cannot be read: {e}", ""));
        return out;
    }
    out.push(format!(
        "{:<10}{} active file{}",
        "",
        c.total,
        if c.total == 1 { "" } else { "s" }
    ));
    for n in &c.counts {
        out.push(format!(
            "{:<10}  {:<16} {:<13} {:>6}",
            "",
            n.kind.as_str(),
            n.base.as_str(),
            n.count
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_each_folder_was_found_reads_plainly() {
        assert_eq!(
            found_how(&Found::ModelsRoot {
                source: Source::Flag
            }),
            "--models / GEN_MODELS"
        );
        assert_eq!(
            found_how(&Found::ComfyUi {
                source: Source::Config
            }),
            "config file, comfyui"
        );
        let extra = Found::ExtraModelPaths {
            file: "/c/extra_model_paths.yaml".into(),
            section: "a111".into(),
        };
        assert_eq!(
            found_how(&extra),
            "extra_model_paths.yaml, section a111 (/c/extra_model_paths.yaml)"
        );
        assert!(found_how(&Found::Discovered).starts_with("discovered"));
    }
}

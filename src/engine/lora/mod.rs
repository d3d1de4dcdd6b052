//! LoRA, LoCon, LoHa and LoKr files turned into patches on the weights of a
//! single-file checkpoint, merged exactly as ComfyUI merges them.
//!
//! The loader of the networks reads checkpoints in the original LDM key
//! layout; so this module speaks LDM keys. [`KeyMap::from_checkpoint`]
//! names, for each weight of the checkpoint, every module name a LoRA may
//! use for it (kohya `lora_unet_*`/`lora_te*_*` in LDM or diffusers
//! spelling, LyCORIS, diffusers/PEFT `unet.*`/`text_encoder*.*`, old
//! attention processors). [`LoraSet::add_file`] reads a LoRA, groups its
//! tensors into adapters ([`Adapter`]), finds each module's weight and keeps
//! the patch with the strength of its side (`strength_model` for the UNet,
//! `strength_clip` for the text encoders). The loader then hands the header
//! shapes to [`LoraSet::drop_misfits`] (patches that cannot fit their weight
//! are dropped and reported, as ComfyUI skips them), and asks
//! [`LoraSet::merged`] for each weight as it builds the model, or merges a
//! whole state dict with [`LoraSet::apply`]. The result has the dtype of the
//! tensor given: ComfyUI merges into the dtype the model runs in, so that is
//! the tensor to pass.
//!
//! Nothing is dropped silently: every module that maps to no weight, every
//! tensor of an unknown kind and every module that does not form an adapter
//! is named in the file's [`LoraReport`]; a LoRA made for another model shows
//! up as a report with few or no mapped modules ([`LoraReport::mismatch`]).
//!
//! Trade-offs: weights are merged once at load time (ComfyUI patches lazily,
//! with the same arithmetic), so changing a strength means reloading; the
//! maths runs in f32 whatever the stored dtypes, as ComfyUI's does.

mod adapter;
mod keymap;
mod merge;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};

pub use adapter::{Adapter, Factor};
pub use keymap::{Group, KeyMap, Part, Target, UNET_PREFIX};
pub use merge::merge;

/// What can go wrong reading or merging LoRAs.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    #[error("cannot read LoRA {path}: {source}")]
    Read {
        path: String,
        source: candle_core::Error,
    },
    #[error("{path} is a pickle file; only .safetensors LoRAs are read (pickles can run code)")]
    Pickle { path: String },
    #[error("LoRA patch on {key}: {source}")]
    Tensor {
        key: String,
        source: candle_core::Error,
    },
    #[error("LoRA patch on {key} does not fit: {detail}")]
    Shape { key: String, detail: String },
    #[error("LoRA patch on {key}: unsupported {what}")]
    Unsupported { key: String, what: String },
    #[error("LoRA patches target {key}, which the weights given do not have")]
    MissingWeight { key: String },
}

impl LoraError {
    fn tensor(key: &str, source: candle_core::Error) -> LoraError {
        LoraError::Tensor {
            key: key.to_string(),
            source,
        }
    }
}

/// The two strengths of ComfyUI's LoraLoader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strengths {
    /// `strength_model`: the UNet's patches.
    pub model: f64,
    /// `strength_clip`: the text encoders' patches.
    pub clip: f64,
}

impl Strengths {
    pub fn both(s: f64) -> Strengths {
        Strengths { model: s, clip: s }
    }

    fn of(&self, group: Group) -> f64 {
        match group {
            Group::Unet => self.model,
            Group::TextEncoder => self.clip,
        }
    }
}

/// One adapter applied to one weight.
#[derive(Debug, Clone)]
pub struct Patch {
    pub adapter: Arc<Adapter>,
    pub strength: f64,
    /// Set for part of a fused weight (OpenCLIP q/k/v).
    pub part: Option<Part>,
    /// The module name in the LoRA file.
    pub module: Arc<str>,
    /// The LoRA it came from (its name as given to [`LoraSet::add_tensors`]).
    pub lora: Arc<str>,
}

/// What became of one LoRA file's modules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoraReport {
    pub name: String,
    /// Modules (adapters) in the file.
    pub modules: usize,
    /// Modules that patch a weight of the checkpoint.
    pub mapped: usize,
    /// Modules whose name matches no weight of the checkpoint.
    pub unmapped: Vec<String>,
    /// Tensors whose name is of no known adapter kind.
    pub unknown_tensors: Vec<String>,
    /// Modules that are present but cannot be applied, with the reason.
    pub unsupported: Vec<(String, String)>,
    /// Patches per side: UNet, text encoders.
    pub unet_patches: usize,
    pub text_encoder_patches: usize,
}

impl LoraReport {
    /// Whether most of the file does not fit the checkpoint: no module
    /// mapped, or more left out than mapped (a LoRA of another family).
    pub fn mismatch(&self) -> bool {
        self.mapped == 0 || self.unmapped.len() + self.unsupported.len() > self.mapped
    }

    /// Whether anything at all was left out.
    pub fn is_complete(&self) -> bool {
        self.unmapped.is_empty() && self.unknown_tensors.is_empty() && self.unsupported.is_empty()
    }
}

impl fmt::Display for LoraReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} of {} modules applied ({} UNet, {} text encoder)",
            self.name, self.mapped, self.modules, self.unet_patches, self.text_encoder_patches
        )?;
        if !self.unmapped.is_empty() {
            let shown: Vec<&str> = self.unmapped.iter().take(3).map(String::as_str).collect();
            write!(
                f,
                "; {} match no weight of this model (e.g. {})",
                self.unmapped.len(),
                shown.join(", ")
            )?;
        }
        if !self.unknown_tensors.is_empty() {
            write!(
                f,
                "; {} tensors of unknown kind",
                self.unknown_tensors.len()
            )?;
        }
        if !self.unsupported.is_empty() {
            let (module, why) = &self.unsupported[0];
            write!(
                f,
                "; {} modules unsupported ({module}: {why})",
                self.unsupported.len()
            )?;
        }
        if self.mismatch() {
            write!(f, " — this LoRA does not look made for this model")?;
        }
        Ok(())
    }
}

/// The patches of several LoRAs, by checkpoint key, in the order the LoRAs
/// were added (the order ComfyUI applies chained LoraLoaders in).
#[derive(Debug, Clone, Default)]
pub struct LoraSet {
    patches: HashMap<String, Vec<Patch>>,
    reports: Vec<LoraReport>,
}

impl LoraSet {
    pub fn new() -> LoraSet {
        LoraSet::default()
    }

    /// Reads a `.safetensors` LoRA and adds its patches. Pickle files
    /// (`.pt`, `.ckpt`, `.bin`) are refused unread.
    pub fn add_file(
        &mut self,
        path: &Path,
        strengths: Strengths,
        keys: &KeyMap,
    ) -> Result<&LoraReport, LoraError> {
        let shown = path.display().to_string();
        if is_pickle(path) {
            return Err(LoraError::Pickle { path: shown });
        }
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|source| {
            LoraError::Read {
                path: shown,
                source,
            }
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Ok(self.add_tensors(&name, tensors, strengths, keys))
    }

    /// Adds the patches of a LoRA given as its tensors.
    pub fn add_tensors(
        &mut self,
        name: &str,
        tensors: HashMap<String, Tensor>,
        strengths: Strengths,
        keys: &KeyMap,
    ) -> &LoraReport {
        let lora: Arc<str> = Arc::from(name);
        let (modules, unknown) = adapter::group(tensors);
        let mut report = LoraReport {
            name: name.to_string(),
            unknown_tensors: unknown,
            ..LoraReport::default()
        };
        let mut claimed: HashMap<(String, Option<Part>), &str> = HashMap::new();
        for (module, tensors) in &modules {
            let Some(target) = keys.get(module) else {
                report.modules += 1;
                report.unmapped.push(module.clone());
                continue;
            };
            let slot = (target.key.clone(), target.part);
            if let Some(first) = claimed.get(&slot) {
                report.modules += 1;
                let why = format!(
                    "adapts {} like {first} of the same file; one adapter per weight and file is applied, as in ComfyUI",
                    target.key
                );
                report.unsupported.push((module.clone(), why));
                continue;
            }
            claimed.insert(slot, module);
            let adapter = match tensors.adapter() {
                Ok(adapter) => adapter,
                Err(why) => {
                    report.modules += 1;
                    report.unsupported.push((module.clone(), why));
                    continue;
                }
            };
            report.modules += 1;
            report.mapped += 1;
            let strength = strengths.of(target.group());
            match target.group() {
                Group::Unet => report.unet_patches += 1,
                Group::TextEncoder => report.text_encoder_patches += 1,
            }
            let mut push = |key: String, adapter: Adapter, part: Option<Part>| {
                if strength == 0.0 {
                    return;
                }
                self.patches.entry(key).or_default().push(Patch {
                    adapter: Arc::new(adapter),
                    strength,
                    part,
                    module: Arc::from(module.as_str()),
                    lora: lora.clone(),
                });
            };
            if let Some(adapter) = adapter {
                push(target.key.clone(), adapter, target.part);
            }
            if let Some(bias) = tensors.bias_diff() {
                let stem = target.key.strip_suffix(".weight").unwrap_or(&target.key);
                push(format!("{stem}.bias"), Adapter::Diff(bias), target.part);
            }
        }
        let at = self.reports.len();
        self.reports.push(report);
        &self.reports[at]
    }

    /// The patches on one checkpoint key, in application order.
    pub fn patches_for(&self, key: &str) -> &[Patch] {
        self.patches.get(key).map_or(&[], Vec::as_slice)
    }

    /// The checkpoint keys that have patches.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.patches.keys().map(String::as_str)
    }

    /// One report per LoRA added, in order.
    pub fn reports(&self) -> &[LoraReport] {
        &self.reports
    }

    pub fn is_empty(&self) -> bool {
        self.patches.is_empty()
    }

    /// The weight stored under `key` with its patches merged (the weight
    /// itself when it has none), in its own dtype.
    pub fn merged(&self, key: &str, weight: &Tensor) -> Result<Tensor, LoraError> {
        merge(key, weight, self.patches_for(key))
    }

    /// Drops the patches whose adapter does not fit the shape of its weight
    /// (`shape_of` gives a checkpoint key's shape, from the header), moving
    /// each into its LoRA's report as unsupported. ComfyUI logs such a patch
    /// and skips it; calling this before loading gives the same weights, and
    /// says so. Returns how many were dropped.
    pub fn drop_misfits(&mut self, shape_of: impl Fn(&str) -> Option<Vec<usize>>) -> usize {
        let mut dropped = Vec::new();
        for (key, patches) in &mut self.patches {
            let shape = shape_of(key);
            patches.retain(|p| match merge::misfit(p, shape.as_deref()) {
                None => true,
                Some(why) => {
                    dropped.push((p.lora.clone(), p.module.clone(), key.clone(), why));
                    false
                }
            });
        }
        self.patches.retain(|_, patches| !patches.is_empty());
        dropped.sort();
        for (lora, module, key, why) in &dropped {
            let Some(report) = self.reports.iter_mut().rev().find(|r| *r.name == **lora) else {
                continue;
            };
            report.mapped = report.mapped.saturating_sub(1);
            let side = if key.starts_with(UNET_PREFIX) {
                &mut report.unet_patches
            } else {
                &mut report.text_encoder_patches
            };
            *side = side.saturating_sub(1);
            report
                .unsupported
                .push((module.to_string(), format!("{key}: {why}")));
        }
        dropped.len()
    }

    /// Merges every patch into a whole state dict. A patch whose key is not
    /// in `weights` is an error (the key map and the weights disagree).
    pub fn apply(&self, weights: &mut HashMap<String, Tensor>) -> Result<usize, LoraError> {
        let mut keys: Vec<&String> = self.patches.keys().collect();
        keys.sort();
        for key in &keys {
            let weight = weights
                .get(key.as_str())
                .ok_or_else(|| LoraError::MissingWeight {
                    key: key.to_string(),
                })?;
            let merged = self.merged(key, weight)?;
            weights.insert(key.to_string(), merged);
        }
        Ok(keys.len())
    }
}

/// Whether a file is a pickle, by its extension or by its first bytes: a
/// zip archive (`torch.save`) or a raw pickle (protocol 2+ opens with 0x80),
/// where a safetensors file has `{` after its 8-byte header length.
pub(crate) fn is_pickle(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "pt" | "pth" | "ckpt" | "bin" | "pkl") {
        return true;
    }
    let mut head = [0u8; 9];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok();
    read && head[8] != b'{' && (head.starts_with(b"PK") || head[0] == 0x80)
}

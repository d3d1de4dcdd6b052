//! Tells what a model file is from its header alone.
//!
//! A library holds thousands of files, often misfiled (a checkpoint in
//! `loras/`, a UNet in `checkpoints/`) and named anything. So the probe
//! trusts, in this order: the tensors (their names and shapes, which cannot
//! lie about the architecture), then the header metadata
//! (`modelspec.architecture`, `ss_base_model_version`, `modelspec.predict_key`)
//! to refine what tensors cannot tell (Pony and Illustrious are SDXL
//! fine-tunes, Krea a Flux dev), then the file name as a last resort for the
//! few layouts two families share (the SD1.5 and SDXL VAEs), and the folder
//! only for the kind of a file whose tensors say nothing. Every step leaves a
//! sentence in `reasons`, so `gen models show` can say why.
//!
//! Reading is bounded: the safetensors or GGUF header, plus for an SD2.x
//! model with no v-prediction marker one bias tensor of a few hundred bytes
//! (ComfyUI's own test). Pickles are never opened. The probe never fails:
//! a file it cannot read comes back with `error` set and the folder's kind.

mod adapters;
mod detect;
mod hints;
mod keys;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::gguf::{self, GgufHeader};
use super::safetensors::{self, Dtype};
use super::{Base, Category, Format, Kind, Probe};
use keys::Keys;

/// The pickle extensions: listed, never unpickled.
const PICKLE_EXTENSIONS: &[&str] = &["ckpt", "pt", "pth", "bin", "pkl"];

/// ComfyUI's v-prediction test for SD2.x (`model_detection.py`): the spread
/// of this bias separates the 768-v models from the 512 eps ones.
const VPRED_BIAS: &str = "output_blocks.11.1.transformer_blocks.0.norm1.bias";
const VPRED_STD_THRESHOLD: f32 = 0.09;
/// The most bytes read for that bias (it holds 320 values).
const VPRED_MAX_BYTES: u64 = 16 * 1024;

/// Reads at most the header of `path` and decides format, kind and base.
/// Never fails: an unreadable file comes back with `error` set.
pub fn probe_file(path: &Path, category: Category) -> Probe {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("safetensors" | "sft") => probe_safetensors(path, category),
        Some("gguf") => probe_gguf(path, category),
        Some(ext) if PICKLE_EXTENSIONS.contains(&ext) => Probe::failed(
            Format::Pickle,
            category,
            format!(
                "pickle file (.{ext}): listed but never unpickled, because unpickling can run \
                 arbitrary code; convert it to .safetensors to use it"
            ),
        ),
        Some(ext) => Probe::failed(
            Format::Unknown,
            category,
            format!(
                "unrecognised extension '.{ext}': gen reads .safetensors, .sft and .gguf model files"
            ),
        ),
        None => Probe::failed(
            Format::Unknown,
            category,
            "no file extension: gen reads .safetensors, .sft and .gguf model files",
        ),
    }
}

fn probe_safetensors(path: &Path, category: Category) -> Probe {
    let header = match safetensors::read_header(path) {
        Ok(h) => h,
        Err(e) => return Probe::failed(Format::Safetensors, category, e.to_string()),
    };
    let keys = Keys::new(
        header
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice())),
    );
    let mut verdict = detect::classify(&keys);
    hints::apply_metadata(&mut verdict, header.metadata.as_ref());
    verdict.settle_prediction(|name| {
        safetensors::read_small_tensor(path, &header, name, VPRED_MAX_BYTES)
    });
    hints::apply_name(&mut verdict, path);
    let (precision, params) = tally(
        header
            .tensors
            .iter()
            .map(|t| (t.dtype.precision().to_string(), t.elements())),
    );
    verdict.finish(Outcome {
        format: Format::Safetensors,
        category,
        precision,
        params,
        data_offset: header.data_offset(),
        metadata: header.metadata.clone(),
    })
}

fn probe_gguf(path: &Path, category: Category) -> Probe {
    let header = match gguf::read_header(path) {
        Ok(h) => h,
        Err(e) => return Probe::failed(Format::Gguf, category, e.to_string()),
    };
    let keys = Keys::new(
        header
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice())),
    );
    let mut verdict = detect::classify(&keys);
    hints::apply_gguf_architecture(&mut verdict, header.architecture());
    hints::apply_metadata(&mut verdict, Some(&header.metadata));
    verdict.settle_prediction(|name| read_gguf_floats(path, &header, name));
    hints::apply_name(&mut verdict, path);
    let (precision, params) = tally(
        header
            .tensors
            .iter()
            .map(|t| (gguf::precision_label(t.ggml_type), t.elements())),
    );
    verdict.finish(Outcome {
        format: Format::Gguf,
        category,
        precision,
        params,
        data_offset: header.data_offset,
        metadata: Some(header.metadata.clone()),
    })
}

/// Reads one small unquantised GGUF tensor (for the SD2.x bias test).
fn read_gguf_floats(path: &Path, header: &GgufHeader, name: &str) -> Result<Vec<f32>, String> {
    let t = header
        .tensors
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("no tensor named '{name}'"))?;
    let dtype = match t.ggml_type {
        gguf::GGML_F32 => Dtype::F32,
        gguf::GGML_F16 => Dtype::F16,
        gguf::GGML_BF16 => Dtype::BF16,
        other => {
            return Err(format!(
                "'{name}' is quantised ({})",
                gguf::precision_label(other)
            ));
        }
    };
    let len = safetensors::byte_size(&t.shape, dtype).unwrap_or(u64::MAX);
    if len > VPRED_MAX_BYTES {
        return Err(format!("'{name}' holds {len} bytes, more than expected"));
    }
    safetensors::read_floats_at(path, header.data_offset + t.offset, len, dtype)
}

/// The precision holding most elements, and the total element count.
fn tally(tensors: impl Iterator<Item = (String, u64)>) -> (Option<String>, u64) {
    let mut by_precision: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    for (precision, elements) in tensors {
        *by_precision.entry(precision).or_default() += elements;
        total = total.saturating_add(elements);
    }
    let top = by_precision
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(p, _)| p);
    (top, total)
}

/// What the tensors (and then metadata and the name) said, before it
/// becomes a [`Probe`].
#[derive(Debug, Clone)]
struct Verdict {
    /// `None`: the tensors match no known layout (the folder decides).
    kind: Option<Kind>,
    base: Base,
    /// Bases the tensors cannot tell apart; metadata or, as a last resort,
    /// the file name may choose among them. Empty once decided, or when a
    /// base does not apply (text encoders, upscalers).
    open: &'static [Base],
    /// "v" or "eps", once decided.
    prediction: Option<&'static str>,
    /// A UNet-family model, for which the prediction type matters.
    unet: bool,
    /// An SD2.x weight whose spread tells v from eps, when nothing else says.
    vpred_bias: Option<String>,
    reasons: Vec<String>,
}

/// Every base a name or metadata may pick when the tensors said nothing.
const ANY_BASE: &[Base] = &[
    Base::Sd15,
    Base::Sd21,
    Base::Sdxl,
    Base::SdxlRefiner,
    Base::Pony,
    Base::Illustrious,
    Base::FluxDev,
    Base::FluxSchnell,
    Base::FluxKrea,
    Base::Sd3,
    Base::Wan21,
    Base::Wan22,
    Base::HiDream,
];

impl Verdict {
    /// No known layout: kind from the folder, base open to any hint.
    fn unknown() -> Verdict {
        Verdict {
            kind: None,
            base: Base::Unknown,
            open: ANY_BASE,
            prediction: None,
            unet: false,
            vpred_bias: None,
            reasons: Vec::new(),
        }
    }

    fn new(kind: Kind, base: Base) -> Verdict {
        Verdict {
            kind: Some(kind),
            base,
            open: &[],
            ..Verdict::unknown()
        }
    }

    fn because(mut self, reason: impl Into<String>) -> Verdict {
        self.reasons.push(reason.into());
        self
    }

    fn open_to(mut self, bases: &'static [Base]) -> Verdict {
        self.open = bases;
        self
    }

    /// Decides eps/v for UNet-family models once metadata had its say:
    /// ComfyUI's bias test for SD2.x, eps otherwise.
    fn settle_prediction(&mut self, read_bias: impl FnOnce(&str) -> Result<Vec<f32>, String>) {
        if !self.unet || self.prediction.is_some() {
            return;
        }
        let bias = self.vpred_bias.take().filter(|_| self.base == Base::Sd21);
        let Some(name) = bias else {
            self.prediction = Some("eps");
            self.reasons
                .push("no v-prediction marker → eps-prediction".into());
            return;
        };
        match read_bias(&name) {
            Ok(values) => {
                let std = std_dev(&values);
                let v = std > VPRED_STD_THRESHOLD;
                self.prediction = Some(if v { "v" } else { "eps" });
                self.reasons.push(format!(
                    "std of {name} is {std:.4} ({} {VPRED_STD_THRESHOLD}) → {}-prediction (ComfyUI's SD2 rule)",
                    if v { ">" } else { "≤" },
                    if v { "v" } else { "eps" }
                ));
            }
            Err(e) => {
                self.prediction = Some("eps");
                self.reasons.push(format!(
                    "could not read {name} ({e}); eps-prediction assumed"
                ));
            }
        }
    }

    fn finish(self, out: Outcome) -> Probe {
        let mut reasons = self.reasons;
        let folder_kind = out.category.default_kind();
        let kind = match self.kind {
            Some(kind) => {
                if kind != folder_kind {
                    reasons.push(format!(
                        "found in {}/ but its header says {kind}; the header wins over the folder",
                        out.category
                    ));
                }
                kind
            }
            None => {
                reasons.push(format!(
                    "no known tensor layout; kind {folder_kind} assumed from the {}/ folder",
                    out.category
                ));
                folder_kind
            }
        };
        Probe {
            format: out.format,
            kind,
            base: self.base,
            precision: out.precision,
            params: Some(out.params),
            prediction: self.prediction.map(str::to_string),
            data_offset: Some(out.data_offset),
            metadata: out.metadata,
            reasons,
            error: None,
        }
    }
}

/// The format-specific facts a [`Verdict`] is combined with.
struct Outcome {
    format: Format,
    category: Category,
    precision: Option<String>,
    params: u64,
    data_offset: u64,
    metadata: Option<Map<String, Value>>,
}

/// Sample standard deviation (n − 1), as torch.std.
fn std_dev(values: &[f32]) -> f32 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    var.sqrt() as f32
}

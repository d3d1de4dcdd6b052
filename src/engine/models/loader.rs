//! Single-file checkpoints as ComfyUI users have them: the original LDM key
//! layout (`model.diffusion_model.*`, `first_stage_model.*`,
//! `cond_stage_model.*` or `conditioner.embedders.*`), memory-mapped, any
//! of f32/f16/bf16 converted to the compute dtype as it is read, with an
//! optional standalone VAE file replacing the baked one; or separate UNet,
//! text encoder and VAE files ([`Checkpoint::from_parts`]).
//!
//! Stages load separately ([`Checkpoint::text_encoders`],
//! [`Checkpoint::unet`], [`Checkpoint::vae`]) so a caller can load, run and
//! drop each in turn. After building, [`Checkpoint::accounting`] sorts
//! every tensor of the file into used, ignored (with the reason, from
//! [`IGNORED`]) and unused: a non-empty unused list means a module
//! silently dropped weights.

use super::clip::{ClipConfig, ClipLayout, ClipTextModel};
use super::text::{Encoder, TextEncoders};
use super::unet::{UNet, UNetConfig};
use super::vae::{Vae, VaeConfig};
use super::weights::{TensorFile, Weights};
use super::{Family, ModelError, Result};
use candle_core::{DType, Device};
use std::path::Path;
use std::sync::Arc;

/// How an [`IGNORED`] rule matches a key.
#[derive(Debug, Clone, Copy)]
pub enum KeyMatch {
    Exact(&'static str),
    Prefix(&'static str),
    /// The last dot-separated components: `a.b` matches `a.b` and `x.a.b`.
    Suffix(&'static str),
}

impl KeyMatch {
    fn matches(self, key: &str) -> bool {
        match self {
            KeyMatch::Exact(p) => key == p,
            KeyMatch::Prefix(p) => key.starts_with(p),
            KeyMatch::Suffix(p) => {
                key == p || key.strip_suffix(p).is_some_and(|head| head.ends_with('.'))
            }
        }
    }
}

/// Tensors a checkpoint may carry that no module needs, and why.
pub const IGNORED: &[(KeyMatch, &str)] = &[
    (
        KeyMatch::Prefix("model_ema."),
        "EMA shadow weights kept for training; the live UNet weights are used",
    ),
    (
        KeyMatch::Suffix("embeddings.position_ids"),
        "transformers' arange(77) buffer; positions are implicit",
    ),
    (
        KeyMatch::Suffix("logit_scale"),
        "CLIP's contrastive temperature; text encoding never uses it",
    ),
    (
        KeyMatch::Exact("alphas_cumprod"),
        "schedule buffer; the schedule is recomputed from the family",
    ),
    (KeyMatch::Exact("alphas_cumprod_prev"), "schedule buffer"),
    (KeyMatch::Exact("betas"), "schedule buffer"),
    (
        KeyMatch::Exact("log_one_minus_alphas_cumprod"),
        "schedule buffer",
    ),
    (KeyMatch::Prefix("sqrt_"), "schedule buffers"),
    (
        KeyMatch::Prefix("posterior_"),
        "DDPM posterior schedule buffers",
    ),
    (KeyMatch::Exact("logvar"), "training loss weighting"),
    (KeyMatch::Exact("lvlb_weights"), "training loss weighting"),
    (
        KeyMatch::Exact("v_pred"),
        "v-prediction marker, read by Checkpoint::v_prediction_marker",
    ),
    (KeyMatch::Exact("ztsnr"), "zero-terminal-SNR marker"),
];

fn ignored_reason(key: &str) -> Option<&'static str> {
    IGNORED
        .iter()
        .find_map(|(m, reason)| m.matches(key).then_some(*reason))
}

/// Compute dtype, device, and the stages' choices.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub dtype: DType,
    pub device: Device,
    /// Load the VAE encoder too (img2img).
    pub vae_encoder: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            dtype: DType::F32,
            device: Device::Cpu,
            vae_encoder: false,
        }
    }
}

/// Where one network's tensors lie: a file and the key prefix inside it.
#[derive(Clone)]
struct Part {
    file: Arc<TensorFile>,
    prefix: &'static str,
}

impl Part {
    fn weights(&self, opts: &LoadOptions) -> Weights {
        let w = Weights::new(self.file.clone(), opts.dtype, &opts.device);
        if self.prefix.is_empty() {
            w
        } else {
            w.pp(self.prefix)
        }
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    fn has_prefix(file: &TensorFile, prefix: &str) -> bool {
        let p = format!("{prefix}.");
        file.keys().any(|k| k.starts_with(&p))
    }
}

/// A text encoder's part and layout.
#[derive(Clone)]
struct TextPart {
    part: Part,
    layout: ClipLayout,
}

/// An opened model: a single-file checkpoint (optionally with a separate
/// VAE), or separate UNet, text encoder and VAE files as ComfyUI's
/// `diffusion_models/`, `text_encoders/` and `vae/` folders hold them.
/// Nothing is loaded yet.
pub struct Checkpoint {
    family: Family,
    unet: Part,
    text: Vec<TextPart>,
    vae: Part,
    /// Every distinct file, the main one first.
    files: Vec<Arc<TensorFile>>,
}

/// The prediction type read from the file (for the sampler side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    /// v-prediction rather than epsilon.
    pub v_prediction: bool,
    /// Zero-terminal-SNR schedule (`ztsnr` key).
    pub zero_snr: bool,
}

/// What [`Checkpoint::accounting`] found, per file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accounting {
    pub used: Vec<String>,
    /// (key, reason)
    pub ignored: Vec<(String, &'static str)>,
    /// Tensors nobody read and no rule explains: a defect.
    pub unused: Vec<String>,
}

impl Checkpoint {
    /// Opens a checkpoint and, optionally, a VAE file to use instead of the
    /// baked VAE.
    pub fn open(path: &Path, vae: Option<&Path>) -> Result<Self> {
        let file = TensorFile::open(path)?;
        let vae_file = vae.map(TensorFile::open).transpose()?;
        Self::from_files(file, vae_file)
    }

    /// From already opened files (tests use header-only files).
    pub fn from_files(file: Arc<TensorFile>, vae_file: Option<Arc<TensorFile>>) -> Result<Self> {
        let family = detect_family(&file)?;
        let part = |prefix| Part {
            file: file.clone(),
            prefix,
        };
        let text = match family {
            Family::Sd15 => vec![TextPart {
                part: part("cond_stage_model.transformer"),
                layout: ClipLayout::Hf,
            }],
            Family::Sd2 => vec![TextPart {
                part: part("cond_stage_model.model"),
                layout: ClipLayout::OpenClip,
            }],
            Family::Sdxl => vec![
                TextPart {
                    part: part("conditioner.embedders.0.transformer"),
                    layout: ClipLayout::Hf,
                },
                TextPart {
                    part: part("conditioner.embedders.1.model"),
                    layout: ClipLayout::OpenClip,
                },
            ],
            Family::SdxlRefiner => vec![TextPart {
                part: part("conditioner.embedders.0.model"),
                layout: ClipLayout::OpenClip,
            }],
        };
        let vae = match &vae_file {
            Some(f) => vae_part(f)?,
            None => part("first_stage_model"),
        };
        let mut files = vec![file.clone()];
        files.extend(vae_file);
        Ok(Self {
            family,
            unet: part("model.diffusion_model"),
            text,
            vae,
            files,
        })
    }

    /// Separate files: a UNet (`diffusion_models/`, bare or
    /// `model.diffusion_model.` keys), its text encoders (`text_encoders/`:
    /// clip_l, clip_g or OpenCLIP-H, in HF or OpenCLIP names, any order)
    /// and a VAE. The family is read from the UNet's shapes: ADM input
    /// means SDXL (the refiner when it comes with OpenCLIP-G alone), linear
    /// transformer projections SD2.x, convolutional ones SD1.5.
    pub fn from_parts(unet: &Path, text: &[&Path], vae: &Path) -> Result<Self> {
        let unet = TensorFile::open(unet)?;
        let text = text
            .iter()
            .map(|p| TensorFile::open(p))
            .collect::<Result<Vec<_>>>()?;
        let vae = TensorFile::open(vae)?;
        Self::from_part_files(unet, text, vae)
    }

    /// [`Checkpoint::from_parts`] on opened files.
    pub fn from_part_files(
        unet: Arc<TensorFile>,
        text: Vec<Arc<TensorFile>>,
        vae: Arc<TensorFile>,
    ) -> Result<Self> {
        let unet_part = Part {
            prefix: if Part::has_prefix(&unet, "model.diffusion_model") {
                "model.diffusion_model"
            } else {
                ""
            },
            file: unet.clone(),
        };
        let cfg = UNetConfig::from_weights(&unet_part.weights(&LoadOptions::default()))?;
        // As ComfyUI's detection: an ADM input is SDXL; linear
        // transformer projections without one are SD2.x; convolutional
        // ones SD1.5.
        let family = match (cfg.adm_in, cfg.linear_proj, cfg.context_dim) {
            (_, _, None) => {
                return Err(ModelError::Layout {
                    path: unet.path().to_owned(),
                    message: "a UNet without cross-attention is not SD1.5, SD2.x or SDXL".into(),
                });
            }
            (Some(_), _, _) if text.len() == 1 => Family::SdxlRefiner,
            (Some(_), _, _) => Family::Sdxl,
            (None, true, _) => Family::Sd2,
            (None, false, _) => Family::Sd15,
        };
        let mut parts = Vec::new();
        for f in &text {
            let (part, layout) = text_part(f)?;
            let width =
                ClipConfig::from_weights(&part.weights(&LoadOptions::default()), layout)?.width;
            parts.push((width, TextPart { part, layout }));
        }
        // clip_l (768) before clip_g (1280), as SDXL concatenates them.
        parts.sort_by_key(|(w, _)| *w);
        let want = if family == Family::Sdxl { 2 } else { 1 };
        if parts.len() != want {
            return Err(ModelError::Invalid(format!(
                "{} needs {want} text encoder file(s), {} given",
                family.name(),
                parts.len()
            )));
        }
        let mut files = vec![unet.clone()];
        files.extend(text.iter().cloned());
        files.push(vae.clone());
        Ok(Self {
            family,
            unet: unet_part,
            text: parts.into_iter().map(|(_, t)| t).collect(),
            vae: vae_part(&vae)?,
            files,
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    fn main(&self) -> &TensorFile {
        &self.files[0]
    }

    /// Whether the file carries the `v_pred` marker key (some SD2.x 768-v
    /// files); see [`Checkpoint::prediction`].
    pub fn v_prediction_marker(&self) -> bool {
        self.main().shape_of("v_pred").is_some()
    }

    /// What the UNet predicts, decided as ComfyUI decides it
    /// (`supported_models.py`): SDXL files with a `v_pred` key are
    /// v-prediction (zero-terminal-SNR when `ztsnr` is present too); SD2.x
    /// is v-prediction when the `v_pred` key is there or, failing that,
    /// when the population std of
    /// `output_blocks.11.1.transformer_blocks.0.norm1.bias` exceeds 0.09
    /// (ComfyUI's heuristic; 768-v files pass it, 512-base files do not);
    /// SD1.5 is epsilon.
    pub fn prediction(&self) -> Result<Prediction> {
        let file = &self.unet.file;
        let has = |k: &str| self.main().shape_of(k).is_some() || file.shape_of(k).is_some();
        let zero_snr = has("ztsnr");
        let v = match self.family {
            Family::Sd15 => false,
            Family::Sdxl | Family::SdxlRefiner => has("v_pred"),
            Family::Sd2 => {
                let key = self
                    .unet
                    .key("output_blocks.11.1.transformer_blocks.0.norm1.bias");
                let key = key.as_str();
                let in_channels = file.shape_of(&self.unet.key("input_blocks.0.0.weight"));
                if has("v_pred") {
                    true
                } else if has(key) && in_channels.is_some_and(|s| s.get(1) == Some(&4)) {
                    let w = Weights::new(file.clone(), DType::F32, &Device::Cpu);
                    let t = w.get(key)?;
                    let mean = t.mean_all()?;
                    let var = t.broadcast_sub(&mean)?.sqr()?.mean_all()?;
                    var.sqrt()?.to_scalar::<f32>()? > 0.09
                } else {
                    false
                }
            }
        };
        Ok(Prediction {
            v_prediction: v,
            zero_snr,
        })
    }

    /// The text encoder(s), with ComfyUI's layer and padding for the family.
    pub fn text_encoders(&self, opts: &LoadOptions) -> Result<TextEncoders> {
        let spec = self.family.spec();
        let encoders = self
            .text
            .iter()
            .zip(spec.pads)
            .map(|(t, &pad)| {
                Ok(Encoder {
                    model: ClipTextModel::load(&t.part.weights(opts), t.layout)?,
                    pad,
                    layer: spec.clip_layer,
                    ln_hidden: spec.clip_ln_hidden,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TextEncoders {
            family: self.family,
            encoders,
            syntax: Default::default(),
            embeddings: Vec::new(),
        })
    }

    pub fn unet(&self, opts: &LoadOptions) -> Result<UNet> {
        let unet = UNet::load(&self.unet.weights(opts), self.family.spec().unet_heads)?;
        if let Some(adm) = unet.config().adm_in {
            let spec = self.family.spec();
            let size = spec.adm_values * spec.adm_size_dim;
            if adm <= size {
                return Err(ModelError::Layout {
                    path: self.unet.file.path().to_owned(),
                    message: format!("ADM width {adm} leaves no room for the pooled text"),
                });
            }
        }
        Ok(unet)
    }

    /// The VAE: from the separate file when one was given, else the baked
    /// one (`first_stage_model.*`).
    pub fn vae(&self, opts: &LoadOptions) -> Result<Vae> {
        Vae::load(
            &self.vae.weights(opts),
            self.family.spec().vae_scale,
            opts.vae_encoder,
        )
    }

    /// Upscale factor from latent to image, read from the VAE's shapes
    /// without loading it.
    pub fn vae_factor(&self, opts: &LoadOptions) -> Result<usize> {
        Ok(VaeConfig::from_weights(&self.vae.weights(opts))?.factor())
    }

    /// Every weight name of the checkpoint's files (for mapping LoRA keys).
    pub fn weight_keys(&self) -> Vec<String> {
        self.files
            .iter()
            .flat_map(|f| f.keys().map(str::to_string).collect::<Vec<_>>())
            .collect()
    }

    /// The shape of a weight, from whichever file holds it.
    pub fn weight_shape(&self, key: &str) -> Option<Vec<usize>> {
        self.files
            .iter()
            .find_map(|f| f.shape_of(key).map(<[usize]>::to_vec))
    }

    /// Merges these LoRA patches into every weight read from now on.
    pub fn apply_loras(&self, set: std::sync::Arc<crate::engine::lora::LoraSet>) {
        for f in &self.files {
            f.set_patches(Some(set.clone()));
        }
    }

    /// Sorts every tensor of every file into used, ignored and unused,
    /// after the stages were built.
    pub fn accounting(&self) -> Vec<(std::path::PathBuf, Accounting)> {
        self.files
            .iter()
            .map(|f| (f.path().to_owned(), self.account(f)))
            .collect()
    }

    fn account(&self, file: &TensorFile) -> Accounting {
        let used = file.used();
        // A VAE baked into this file while another file provides the VAE.
        let replaced =
            !std::ptr::eq(file, &*self.vae.file) && Part::has_prefix(file, "first_stage_model");
        let mut acc = Accounting::default();
        for key in file.keys() {
            if used.contains(key) {
                acc.used.push(key.to_string());
            } else if let Some(r) = ignored_reason(key) {
                acc.ignored.push((key.to_string(), r));
            } else if replaced && key.starts_with("first_stage_model.") {
                acc.ignored.push((
                    key.to_string(),
                    "baked VAE replaced by the separate VAE file",
                ));
            } else {
                acc.unused.push(key.to_string());
            }
        }
        acc
    }
}

/// The VAE inside a file: `first_stage_model.*` or bare LDM names.
fn vae_part(f: &Arc<TensorFile>) -> Result<Part> {
    let prefix = if f
        .shape_of("first_stage_model.decoder.conv_in.weight")
        .is_some()
    {
        "first_stage_model"
    } else if f.shape_of("decoder.conv_in.weight").is_some() {
        ""
    } else {
        return Err(ModelError::Layout {
            path: f.path().to_owned(),
            message: "not an LDM-layout VAE (no decoder.conv_in.weight)".into(),
        });
    };
    Ok(Part {
        file: f.clone(),
        prefix,
    })
}

/// A standalone text encoder file: HF names (`text_model.*`, as ComfyUI's
/// clip_l/clip_g files) or OpenCLIP names (`transformer.resblocks.*`).
fn text_part(f: &Arc<TensorFile>) -> Result<(Part, ClipLayout)> {
    let part = |prefix| Part {
        file: f.clone(),
        prefix,
    };
    if Part::has_prefix(f, "text_model") || Part::has_prefix(f, "encoder.layers") {
        Ok((part(""), ClipLayout::Hf))
    } else if Part::has_prefix(f, "transformer.resblocks") {
        Ok((part(""), ClipLayout::OpenClip))
    } else {
        Err(ModelError::Layout {
            path: f.path().to_owned(),
            message: "not a CLIP text encoder (no text_model.* or transformer.resblocks.*)".into(),
        })
    }
}

fn detect_family(file: &TensorFile) -> Result<Family> {
    let has = |p: &str| file.keys().any(|k| k.starts_with(p));
    if !has("model.diffusion_model.") {
        return Err(ModelError::Layout {
            path: file.path().to_owned(),
            message: "no model.diffusion_model.* tensors: not a single-file LDM checkpoint".into(),
        });
    }
    if has("conditioner.embedders.1.model.") {
        Ok(Family::Sdxl)
    } else if has("conditioner.embedders.0.model.") {
        Ok(Family::SdxlRefiner)
    } else if has("cond_stage_model.model.") {
        Ok(Family::Sd2)
    } else if has("cond_stage_model.transformer.") {
        Ok(Family::Sd15)
    } else {
        Err(ModelError::Layout {
            path: file.path().to_owned(),
            message:
                "no text encoder in a known layout (cond_stage_model.* or conditioner.embedders.*)"
                    .into(),
        })
    }
}

/// Every stage of a checkpoint, loaded at once (small models, tests).
pub struct Pipeline {
    pub text: TextEncoders,
    pub unet: UNet,
    pub vae: Vae,
}

impl Pipeline {
    pub fn load(ckpt: &Checkpoint, opts: &LoadOptions) -> Result<Self> {
        Ok(Self {
            text: ckpt.text_encoders(opts)?,
            unet: ckpt.unet(opts)?,
            vae: ckpt.vae(opts)?,
        })
    }
}

//! Single-file checkpoints as ComfyUI users have them: the original LDM key
//! layout (`model.diffusion_model.*`, `first_stage_model.*`,
//! `cond_stage_model.*` or `conditioner.embedders.*`), memory-mapped, any
//! of f32/f16/bf16 converted to the compute dtype as it is read, with an
//! optional standalone VAE file replacing the baked one.
//!
//! Stages load separately ([`Checkpoint::text_encoders`],
//! [`Checkpoint::unet`], [`Checkpoint::vae`]) so a caller can load, run and
//! drop each in turn. After building, [`Checkpoint::accounting`] sorts
//! every tensor of the file into used, ignored (with the reason, from
//! [`IGNORED`]) and unused: a non-empty unused list means a module
//! silently dropped weights.

use super::clip::{ClipLayout, ClipTextModel};
use super::text::{Encoder, TextEncoders};
use super::tokenizer::Pad;
use super::unet::UNet;
use super::vae::Vae;
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
    Suffix(&'static str),
}

impl KeyMatch {
    fn matches(self, key: &str) -> bool {
        match self {
            KeyMatch::Exact(p) => key == p,
            KeyMatch::Prefix(p) => key.starts_with(p),
            KeyMatch::Suffix(p) => key.ends_with(p),
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
        KeyMatch::Suffix(".embeddings.position_ids"),
        "transformers' arange(77) buffer; positions are implicit",
    ),
    (
        KeyMatch::Suffix(".logit_scale"),
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

/// An opened checkpoint (and optional VAE file); nothing is loaded yet.
pub struct Checkpoint {
    file: Arc<TensorFile>,
    vae_file: Option<Arc<TensorFile>>,
    family: Family,
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
        Ok(Self {
            file,
            vae_file,
            family,
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// Whether the file carries the `v_pred` marker key (some SD2.x 768-v
    /// files); the prediction type itself is the sampler side's choice.
    pub fn v_prediction_marker(&self) -> bool {
        self.file.shape_of("v_pred").is_some()
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
        let has = |k: &str| self.file.shape_of(k).is_some();
        let zero_snr = has("ztsnr");
        let v = match self.family {
            Family::Sd15 => false,
            Family::Sdxl => has("v_pred"),
            Family::Sd2 => {
                let key =
                    "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias";
                let in_channels = self
                    .file
                    .shape_of("model.diffusion_model.input_blocks.0.0.weight");
                if has("v_pred") {
                    true
                } else if has(key) && in_channels.is_some_and(|s| s.get(1) == Some(&4)) {
                    let w = Weights::new(self.file.clone(), DType::F32, &Device::Cpu);
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

    fn root(&self, opts: &LoadOptions) -> Weights {
        Weights::new(self.file.clone(), opts.dtype, &opts.device)
    }

    /// The text encoder(s), with ComfyUI's layer and padding for the family.
    pub fn text_encoders(&self, opts: &LoadOptions) -> Result<TextEncoders> {
        let w = self.root(opts);
        let spec = self.family.spec();
        let enc = |model, pad| Encoder {
            model,
            pad,
            layer: spec.clip_layer,
            ln_hidden: spec.clip_ln_hidden,
        };
        let encoders = match self.family {
            Family::Sd15 => vec![enc(
                ClipTextModel::load(&w.pp("cond_stage_model.transformer"), ClipLayout::Hf)?,
                Pad::End,
            )],
            Family::Sd2 => vec![enc(
                ClipTextModel::load(&w.pp("cond_stage_model.model"), ClipLayout::OpenClip)?,
                Pad::Zero,
            )],
            Family::Sdxl => vec![
                enc(
                    ClipTextModel::load(
                        &w.pp("conditioner.embedders.0.transformer"),
                        ClipLayout::Hf,
                    )?,
                    Pad::End,
                ),
                enc(
                    ClipTextModel::load(
                        &w.pp("conditioner.embedders.1.model"),
                        ClipLayout::OpenClip,
                    )?,
                    Pad::Zero,
                ),
            ],
        };
        Ok(TextEncoders {
            family: self.family,
            encoders,
        })
    }

    pub fn unet(&self, opts: &LoadOptions) -> Result<UNet> {
        let w = self.root(opts).pp("model.diffusion_model");
        let unet = UNet::load(&w, self.family.spec().unet_heads)?;
        if let Some(adm) = unet.config().adm_in {
            let size = self.family.spec().adm_size_dim;
            if adm <= 6 * size {
                return Err(ModelError::Layout {
                    path: self.file.path().to_owned(),
                    message: format!("ADM width {adm} leaves no room for the pooled text"),
                });
            }
        }
        Ok(unet)
    }

    /// The VAE: from the separate file when one was given, else the baked
    /// one (`first_stage_model.*`).
    pub fn vae(&self, opts: &LoadOptions) -> Result<Vae> {
        let scale = self.family.spec().vae_scale;
        let w = match &self.vae_file {
            Some(f) => {
                let w = Weights::new(f.clone(), opts.dtype, &opts.device);
                if w.contains("first_stage_model.decoder.conv_in.weight") {
                    w.pp("first_stage_model")
                } else if w.contains("decoder.conv_in.weight") {
                    w
                } else {
                    return Err(ModelError::Layout {
                        path: f.path().to_owned(),
                        message: "not an LDM-layout VAE (no decoder.conv_in.weight)".into(),
                    });
                }
            }
            None => self.root(opts).pp("first_stage_model"),
        };
        Vae::load(&w, scale, opts.vae_encoder)
    }

    /// Sorts every tensor of the checkpoint (and of the VAE file) into
    /// used, ignored and unused, after the stages were built.
    pub fn accounting(&self) -> Vec<(std::path::PathBuf, Accounting)> {
        let mut out = vec![(self.file.path().to_owned(), self.account(&self.file, true))];
        if let Some(v) = &self.vae_file {
            out.push((v.path().to_owned(), self.account(v, false)));
        }
        out
    }

    fn account(&self, file: &TensorFile, main: bool) -> Accounting {
        let used = file.used();
        let mut acc = Accounting::default();
        for key in file.keys() {
            if used.contains(key) {
                acc.used.push(key.to_string());
            } else if let Some(r) = ignored_reason(key) {
                acc.ignored.push((key.to_string(), r));
            } else if main && self.vae_file.is_some() && key.starts_with("first_stage_model.") {
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

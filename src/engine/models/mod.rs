//! The networks of the Stable Diffusion families and their loading from
//! ComfyUI single-file checkpoints in the original LDM key layout.
//!
//! Why our own model code rather than candle-transformers' stable-diffusion
//! module: that one reads diffusers-layout folders, lacks SDXL's ADM
//! (pooled text + size/crop) conditioning, and hard-codes its
//! configurations per model. Here every configuration is derived from the
//! tensor shapes of the file ([`unet::UNetConfig::from_weights`],
//! [`clip::ClipConfig::from_weights`], [`vae::VaeConfig::from_weights`]);
//! the few facts that shapes cannot tell (attention heads, activation,
//! which CLIP layer feeds the UNet, VAE scale) live in one table,
//! [`Family::spec`].
//!
//! The trade-off: we follow the LDM names and maths exactly (ComfyUI runs
//! the same code), so results match ComfyUI/diffusers to float rounding, at
//! the cost of not reusing candle-transformers' blocks.
//!
//! Loading is in [`loader`]; it memory-maps the file, converts each tensor
//! to the compute dtype as it is read, and accounts for every tensor
//! (used, ignored with a reason, or reported as unused).
//!
//! ```no_run
//! use gen_core::engine::models::{Checkpoint, LoadOptions};
//! use gen_core::engine::models::unet::{SizeCond, UNetInput, sdxl_adm};
//! # fn main() -> Result<(), gen_core::engine::models::ModelError> {
//! let ckpt = Checkpoint::open("model.safetensors".as_ref(), None)?;
//! let opts = LoadOptions::default(); // f32 on the CPU
//! let spec = ckpt.family().spec();
//! // Text: load, encode prompt and negative, drop.
//! let text = ckpt.text_encoders(&opts)?;
//! let cond = text.encode("a (red:1.2) fox", None, &opts.device)?;
//! let uncond = text.encode("", None, &opts.device)?;
//! drop(text);
//! // UNet: one evaluation (the sampler turns sigmas into timesteps).
//! let unet = ckpt.unet(&opts)?;
//! let x = candle_core::Tensor::zeros((1, 4, 64, 64), candle_core::DType::F32, &opts.device)?;
//! let t = candle_core::Tensor::new(&[999f32], &opts.device)?;
//! let adm = match &cond.pooled {
//!     Some(p) => Some(sdxl_adm(p, &SizeCond::for_image(512, 512), spec.adm_size_dim)?),
//!     None => None,
//! };
//! let eps = unet.forward(&x, &UNetInput { timesteps: &t, context: &cond.context, adm: adm.as_ref() })?;
//! # let _ = (eps, uncond);
//! drop(unet);
//! // VAE: scaled latents to an image in [-1, 1].
//! let image = ckpt.vae(&opts)?.decode(&x)?;
//! # let _ = image;
//! # Ok(()) }
//! ```

pub mod clip;
pub mod layers;
pub mod loader;
pub mod prompt;
pub mod text;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod weights;

#[cfg(test)]
pub(crate) mod tests;

pub use loader::{Checkpoint, LoadOptions, Pipeline};

use std::path::PathBuf;

/// Errors of the model room. Each names the file and, where one is
/// concerned, the tensor.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a readable safetensors file: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("{path}: tensor `{key}` is missing")]
    Missing { path: PathBuf, key: String },
    #[error("{path}: tensor `{key}` has shape {found:?}, expected {expected:?}")]
    Shape {
        path: PathBuf,
        key: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: tensor `{key}` has dtype {dtype}, which cannot be loaded")]
    Dtype {
        path: PathBuf,
        key: String,
        dtype: String,
    },
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

/// The model families this room knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Sd15,
    Sd2,
    Sdxl,
}

/// How attention heads are chosen: shapes give the width, not the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heads {
    /// A fixed number of heads at every level (SD1.5: 8).
    Count(usize),
    /// A fixed head width (SD2.x, SDXL: 64).
    Width(usize),
}

impl Heads {
    pub fn heads_for(self, channels: usize) -> usize {
        match self {
            Heads::Count(n) => n,
            Heads::Width(w) => (channels / w).max(1),
        }
    }
}

/// What cannot be derived from tensor shapes, per family: one table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FamilySpec {
    pub family: Family,
    /// UNet attention heads.
    pub unet_heads: Heads,
    /// Latent scale: latents = vae_encode(x) * scale.
    pub vae_scale: f64,
    /// Default ComfyUI layer of the text encoders: `None` is "last",
    /// `Some(i)` "hidden" layer i (-2 penultimate, as `CLIPSetLastLayer`).
    pub clip_layer: Option<i32>,
    /// Whether the final layer norm is applied to an intermediate layer
    /// (ComfyUI `layer_norm_hidden_state`; false for both SDXL encoders).
    pub clip_ln_hidden: bool,
    /// Size of each Fourier embedding of the SDXL size/crop conditioning.
    pub adm_size_dim: usize,
    /// Padding token of each text encoder, in order (clip_l pads with the
    /// end token, OpenCLIP-H and clip_g with 0).
    pub pads: &'static [tokenizer::Pad],
}

const SPECS: [FamilySpec; 3] = [
    FamilySpec {
        family: Family::Sd15,
        unet_heads: Heads::Count(8),
        vae_scale: 0.18215,
        clip_layer: None,
        clip_ln_hidden: true,
        adm_size_dim: 0,
        pads: &[tokenizer::Pad::End],
    },
    FamilySpec {
        family: Family::Sd2,
        unet_heads: Heads::Width(64),
        vae_scale: 0.18215,
        clip_layer: Some(-2),
        clip_ln_hidden: true,
        adm_size_dim: 0,
        pads: &[tokenizer::Pad::Zero],
    },
    FamilySpec {
        family: Family::Sdxl,
        unet_heads: Heads::Width(64),
        vae_scale: 0.13025,
        clip_layer: Some(-2),
        clip_ln_hidden: false,
        adm_size_dim: 256,
        pads: &[tokenizer::Pad::End, tokenizer::Pad::Zero],
    },
];

impl Family {
    pub fn spec(self) -> FamilySpec {
        match self {
            Family::Sd15 => SPECS[0],
            Family::Sd2 => SPECS[1],
            Family::Sdxl => SPECS[2],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Sd15 => "sd15",
            Family::Sd2 => "sd2",
            Family::Sdxl => "sdxl",
        }
    }
}

//! The rendering engine (DESIGN §5): candle models driven by ComfyUI's
//! numerics, so that a seed and settings give ComfyUI's image.
//!
//! This part holds the model-independent foundations: `noise` (torch's CPU
//! generator), `schedule` (ComfyUI's discrete model sampling, prediction
//! wrappers and schedulers), `brownian` (torchsde's Brownian tree as ComfyUI
//! seeds it) and `sampler` (the k-diffusion samplers under ComfyUI's and
//! A1111's names). The UNet, text encoders and VAE plug in as a denoiser.

pub mod brownian;
pub mod embedding;
pub mod lora;
pub mod models;
pub mod noise;
pub mod render;
pub mod sampler;
pub mod schedule;

pub use sampler::{Denoiser, Sampler, cfg_combine, ksampler_sigmas, parse_sampler, sample};
pub use schedule::{ModelSampling, Prediction, Scheduler, sigmas};

use crate::catalog::Base;

/// What the engine can refuse before any work is done.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unknown sampler '{name}'; valid names: {valid}")]
    UnknownSampler { name: String, valid: String },
    #[error("unknown scheduler '{name}'; valid names: {valid}")]
    UnknownScheduler { name: String, valid: String },
    #[error("no discrete noise schedule for {0} models")]
    UnsupportedBase(Base),
}

/// `x * k` in float32, as torch multiplies a tensor by a 0-d float tensor.
pub(crate) fn scale(x: &candle_core::Tensor, k: f32) -> candle_core::Result<candle_core::Tensor> {
    x.affine(k as f64, 0.0)
}

/// `x / k` as a true division (not a product with 1/k), as torch divides.
pub(crate) fn divide(x: &candle_core::Tensor, k: f32) -> candle_core::Result<candle_core::Tensor> {
    let k = candle_core::Tensor::new(k, x.device())?.to_dtype(x.dtype())?;
    x.broadcast_div(&k)
}

//! One text-to-image generation, stage by stage, as ComfyUI's
//! CheckpointLoader → CLIPTextEncode → KSampler → VAEDecode graph runs it:
//! the text encoders are loaded, used and dropped, then the UNet samples
//! from torch-seeded noise with classifier-free guidance, then the VAE
//! decodes (tiled when the memory plan asks). Only one stage's weights are
//! resident at a time, which is what keeps a full SDXL render on a CPU
//! inside the memory plan's figure.

use std::path::PathBuf;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};

use super::models::loader::{Checkpoint, LoadOptions};
use super::models::unet::{SizeCond, UNetInput, sdxl_adm};
use super::models::vae::{Tiling, to_rgb8};
use super::noise::seeded_noise;
use super::sampler::{Step, cfg_combine, ksampler_sigmas, sample};
use super::schedule::{ModelSampling, Prediction};
use super::{Sampler, Scheduler};
use crate::catalog::Base;

/// Everything a render needs, resolved and validated by the plan.
#[derive(Debug, Clone)]
pub struct Job {
    pub checkpoint: PathBuf,
    /// A VAE file replacing the checkpoint's own.
    pub vae: Option<PathBuf>,
    pub base: Base,
    pub prompt: String,
    pub negative: String,
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub cfg: f64,
    pub sampler: Sampler,
    pub scheduler: Scheduler,
    pub seed: u64,
    /// Images rendered together (one noise draw over the whole batch, as
    /// ComfyUI's batch_size).
    pub batch: u32,
    /// A1111's clip skip: 1 (or none) keeps the family's layer, 2 the
    /// penultimate layer, ...
    pub clip_skip: Option<u32>,
    pub denoise: f64,
    pub dtype: DType,
    pub device: Device,
    pub tiled_vae: bool,
    /// LoRA files and their strength (on the UNet and the text encoders).
    pub loras: Vec<(PathBuf, f64)>,
}

/// The stages a render goes through, for the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Loading,
    Encoding,
    Sampling,
    Decoding,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Loading => "loading",
            Stage::Encoding => "encoding",
            Stage::Sampling => "sampling",
            Stage::Decoding => "decoding",
        }
    }
}

/// Told what the render is doing.
pub trait RenderProgress {
    fn stage(&self, _stage: Stage) {}
    fn step(&self, _step: &Step) {}
    /// Something the user should know (a LoRA's keys that match nothing).
    fn warn(&self, _message: &str) {}
}

pub struct Quiet;
impl RenderProgress for Quiet {}

/// ComfyUI's layer index for A1111's clip skip (`None`: the family's own).
fn clip_layer(clip_skip: Option<u32>) -> Option<i32> {
    clip_skip.filter(|c| *c >= 2).map(|c| -(c as i32))
}

/// Renders the job; returns interleaved RGB bytes per image.
pub fn render(job: &Job, progress: &dyn RenderProgress) -> anyhow::Result<Vec<Vec<u8>>> {
    if !job.width.is_multiple_of(8)
        || !job.height.is_multiple_of(8)
        || job.width < 64
        || job.height < 64
    {
        anyhow::bail!(
            "{}x{} is not a size this renderer takes (multiples of 8 from 64)",
            job.width,
            job.height
        );
    }
    progress.stage(Stage::Loading);
    let ckpt = Checkpoint::open(&job.checkpoint, job.vae.as_deref())
        .with_context(|| format!("cannot open {}", job.checkpoint.display()))?;
    let opts = LoadOptions {
        dtype: job.dtype,
        device: job.device.clone(),
        vae_encoder: false,
    };
    apply_loras(&ckpt, &job.loras, progress)?;
    let prediction = if ckpt.prediction()?.v_prediction {
        Prediction::V
    } else {
        Prediction::Epsilon
    };
    let ms = ModelSampling::for_base(job.base, Some(prediction))?;
    // The latent size follows the VAE's own scale (8 for every released
    // family), read from its shapes; its weights load after the UNet is gone.
    let factor = ckpt.vae_factor(&opts)?;
    if !(job.width as usize).is_multiple_of(factor) || !(job.height as usize).is_multiple_of(factor)
    {
        anyhow::bail!(
            "{}x{} is not a multiple of the VAE's scale {factor}",
            job.width,
            job.height
        );
    }

    // Text: encode both prompts, then drop the encoders.
    let (cond, uncond) = {
        let text = ckpt.text_encoders(&opts)?;
        progress.stage(Stage::Encoding);
        let layer = clip_layer(job.clip_skip);
        (
            text.encode(&job.prompt, layer, &job.device)?,
            text.encode(&job.negative, layer, &job.device)?,
        )
    };

    // Sampling: one UNet call per sigma over [x; x] against [cond; uncond].
    progress.stage(Stage::Loading);
    let unet = ckpt.unet(&opts)?;
    let b = job.batch as usize;
    let (h, w) = (job.height as usize / factor, job.width as usize / factor);
    let channels = unet.config().in_channels;
    let noise = seeded_noise(job.seed, &[b, channels, h, w])?
        .to_device(&job.device)?
        .to_dtype(job.dtype)?;
    let latent = noise.zeros_like()?;
    let pair = super::models::text::batch_contexts(&[&cond.context, &uncond.context])?;
    let context = per_image(&pair, b)?;
    let adm = match (unet.config().adm_in, &cond.pooled, &uncond.pooled) {
        (Some(adm_in), Some(pc), Some(pu)) => {
            let size = SizeCond::for_image(job.height as usize, job.width as usize);
            let size_dim = (adm_in - pc.dim(1)?) / 6;
            let pair = Tensor::cat(
                &[
                    sdxl_adm(pc, &size, size_dim)?,
                    sdxl_adm(pu, &size, size_dim)?,
                ],
                0,
            )?;
            Some(per_image(&pair, b)?)
        }
        _ => None,
    };
    let mut guided = Guided {
        ms: &ms,
        cfg: job.cfg,
        batch: b,
        network: |x_in: &Tensor, timestep: f64, rows: usize| -> candle_core::Result<Tensor> {
            let t = Tensor::full(timestep as f32, rows, &job.device)?.to_dtype(job.dtype)?;
            let adm = adm.as_ref().map(|a| a.narrow(0, 0, rows)).transpose()?;
            let inp = UNetInput {
                timesteps: &t,
                context: &context.narrow(0, 0, rows)?,
                adm: adm.as_ref(),
            };
            unet.forward(x_in, &inp)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))
        },
    };
    let sigmas = ksampler_sigmas(
        job.sampler,
        job.scheduler,
        &ms,
        job.steps as usize,
        job.denoise,
    );
    progress.stage(Stage::Sampling);
    let mut on_step = |s: Step| progress.step(&s);
    let latent = sample(
        job.sampler,
        &ms,
        &mut guided,
        &noise,
        &latent,
        &sigmas,
        job.seed,
        &mut on_step,
    )?;
    drop(unet);

    progress.stage(Stage::Loading);
    let vae = ckpt.vae(&opts)?;
    progress.stage(Stage::Decoding);
    let images = if job.tiled_vae {
        vae.decode_tiled(&latent, Tiling::default())?
    } else {
        vae.decode(&latent)?
    };
    Ok(to_rgb8(&images)?)
}

/// Reads the LoRAs and has their patches merged into the weights as the
/// stages load. Keys that match nothing and patches that do not fit are
/// reported, never silently dropped; a LoRA that mostly does not fit the
/// checkpoint is an error.
fn apply_loras(
    ckpt: &Checkpoint,
    loras: &[(PathBuf, f64)],
    progress: &dyn RenderProgress,
) -> anyhow::Result<()> {
    use super::lora::{KeyMap, LoraSet, Strengths};
    if loras.is_empty() {
        return Ok(());
    }
    let keys = ckpt.weight_keys();
    let map = KeyMap::from_checkpoint(keys.iter().map(String::as_str));
    let mut set = LoraSet::new();
    for (path, weight) in loras {
        let report = set
            .add_file(
                path,
                Strengths {
                    model: *weight,
                    clip: *weight,
                },
                &map,
            )
            .with_context(|| format!("cannot read the LoRA {}", path.display()))?;
        if report.mismatch() {
            anyhow::bail!(
                "the LoRA {} does not fit this checkpoint: {report}",
                path.display()
            );
        }
        if !report.is_complete() {
            progress.warn(&format!("{report}"));
        }
    }
    let dropped = set.drop_misfits(|key| ckpt.weight_shape(key));
    if dropped > 0 {
        progress.warn(&format!(
            "{dropped} LoRA patches do not fit their weight's shape and were left out"
        ));
    }
    ckpt.apply_loras(std::sync::Arc::new(set));
    Ok(())
}

/// Classifier-free guidance around the UNet, as ComfyUI's sampling
/// function: the cond and uncond halves are denoised in one batch and
/// combined with [`cfg_combine`]; at a CFG of 1 the uncond half is skipped,
/// as ComfyUI skips it.
struct Guided<'a, N> {
    ms: &'a ModelSampling,
    cfg: f64,
    batch: usize,
    /// `(x_in, timestep, rows)`: the first `rows` of the [cond; uncond]
    /// conditioning are used.
    network: N,
}

impl<N: FnMut(&Tensor, f64, usize) -> candle_core::Result<Tensor>> super::Denoiser
    for Guided<'_, N>
{
    fn denoise(&mut self, x: &Tensor, sigma: f64) -> candle_core::Result<Tensor> {
        let ms = self.ms;
        let both = self.cfg != 1.0;
        let x2 = if both {
            Tensor::cat(&[x, x], 0)?
        } else {
            x.clone()
        };
        let x_in = ms.calculate_input(sigma, &x2)?;
        let out = (self.network)(&x_in, ms.timestep(sigma), x2.dim(0)?)?;
        let denoised = ms.calculate_denoised(sigma, &out, &x2)?;
        if !both {
            return Ok(denoised);
        }
        let cond = denoised.narrow(0, 0, self.batch)?;
        let uncond = denoised.narrow(0, self.batch, self.batch)?;
        cfg_combine(&cond, &uncond, self.cfg)
    }
}

/// [cond; uncond] (2 rows) → [cond × b; uncond × b], matching [x; x].
fn per_image(pair: &Tensor, b: usize) -> candle_core::Result<Tensor> {
    let cond = pair.narrow(0, 0, 1)?;
    let uncond = pair.narrow(0, 1, 1)?;
    let mut rows = vec![cond; b];
    rows.extend(std::iter::repeat_n(uncond, b));
    Tensor::cat(&rows, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_skip_maps_to_comfyui_layers() {
        assert_eq!(clip_layer(None), None);
        assert_eq!(clip_layer(Some(1)), None);
        assert_eq!(clip_layer(Some(2)), Some(-2));
    }

    #[test]
    fn conditioning_rows_follow_the_latent_batch() {
        let pair = Tensor::new(&[[1f32], [2f32]], &Device::Cpu).unwrap();
        let rows: Vec<Vec<f32>> = per_image(&pair, 3).unwrap().to_vec2().unwrap();
        assert_eq!(
            rows,
            vec![
                vec![1.0],
                vec![1.0],
                vec![1.0],
                vec![2.0],
                vec![2.0],
                vec![2.0]
            ]
        );
    }
}

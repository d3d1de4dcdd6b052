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

use super::embedding::Embedding;
use super::models::Family;
use super::models::loader::{Checkpoint, LoadOptions};
use super::models::prompt::Syntax;
use super::models::unet::{
    AESTHETIC_NEGATIVE, AESTHETIC_POSITIVE, SizeCond, UNetInput, refiner_adm, sdxl_adm,
};
use super::models::vae::{Tiling, from_rgb8, to_rgb8};
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
    /// Whether the VAE is one fixed to run in fp16 (SDXL's own is not).
    pub vae_fp16_safe: bool,
    /// img2img: the image to start from, interleaved RGB bytes of
    /// `width` x `height`; `denoise` says how much of it is redrawn.
    pub init_image: Option<Vec<u8>>,
    /// The SDXL refiner, which takes over from the base at a step.
    pub refiner: Option<RefinerStage>,
    /// Textual-inversion embedding files the prompts may name
    /// (`embedding:name` or A1111's bare name).
    pub embeddings: Vec<PathBuf>,
    /// How brackets weigh (ComfyUI's, or A1111's with `[word]`).
    pub weighting: Syntax,
}

/// The second stage of an SDXL render.
#[derive(Debug, Clone)]
pub struct RefinerStage {
    pub checkpoint: PathBuf,
    /// The step (of `steps`) at which the refiner takes over.
    pub switch_step: u32,
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
    let embeddings = job
        .embeddings
        .iter()
        .map(|p| Embedding::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let ms = model_sampling(&ckpt, job.base)?;
    // The refiner's header is read now, so a wrong file fails before the
    // base has sampled; its weights load when its stage comes.
    let refiner = match &job.refiner {
        Some(r) => {
            let rckpt = Checkpoint::open(&r.checkpoint, None)
                .with_context(|| format!("cannot open the refiner {}", r.checkpoint.display()))?;
            if rckpt.family() != Family::SdxlRefiner {
                anyhow::bail!(
                    "{} is not an SDXL refiner (its layout is {})",
                    r.checkpoint.display(),
                    rckpt.family().name()
                );
            }
            Some(rckpt)
        }
        None => None,
    };
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
    let vae_opts = LoadOptions {
        dtype: vae_dtype(ckpt.family(), job.dtype, job.vae_fp16_safe),
        ..opts.clone()
    };

    // img2img: the VAE encodes the init image first (ComfyUI's VAEEncode),
    // then is dropped; sampling starts from it at the denoise's sigma.
    let start = match &job.init_image {
        Some(rgb) => {
            let vae = ckpt.vae(&LoadOptions {
                vae_encoder: true,
                ..vae_opts.clone()
            })?;
            progress.stage(Stage::Encoding);
            let pixels = from_rgb8(rgb, job.height as usize, job.width as usize, &job.device)?
                .to_dtype(vae_opts.dtype)?;
            let z = vae.encode(&pixels)?.to_dtype(job.dtype)?;
            Some(Tensor::cat(&vec![z; job.batch as usize], 0)?)
        }
        None => None,
    };

    let sigmas = ksampler_sigmas(
        job.sampler,
        job.scheduler,
        &ms,
        job.steps as usize,
        job.denoise,
    );
    // Base and refiner split the one schedule at the switch step, as two
    // KSamplerAdvanced nodes do: the base stops there with its leftover
    // noise, the refiner goes on from there without adding noise.
    let switch = job
        .refiner
        .as_ref()
        .map_or(sigmas.len(), |r| (r.switch_step as usize).min(sigmas.len()));
    let base_sigmas = &sigmas[..(switch + 1).min(sigmas.len())];
    let stage = StageInput {
        job,
        opts: &opts,
        embeddings: &embeddings,
        ms: &ms,
        sigmas: base_sigmas,
        step_offset: 0,
        fresh_noise: true,
        aesthetic: None,
    };
    let mut latent = denoise(&ckpt, &stage, start, factor, progress)?;

    if let Some(rckpt) = &refiner
        && switch + 1 < sigmas.len()
    {
        progress.stage(Stage::Loading);
        let rms = model_sampling(rckpt, Base::SdxlRefiner)?;
        let rsigmas = ksampler_sigmas(
            job.sampler,
            job.scheduler,
            &rms,
            job.steps as usize,
            job.denoise,
        );
        let stage = StageInput {
            job,
            opts: &opts,
            embeddings: &embeddings,
            ms: &rms,
            sigmas: &rsigmas[switch.min(rsigmas.len())..],
            step_offset: switch,
            fresh_noise: false,
            aesthetic: Some((AESTHETIC_POSITIVE, AESTHETIC_NEGATIVE)),
        };
        latent = denoise(rckpt, &stage, Some(latent), factor, progress)?;
    }

    progress.stage(Stage::Loading);
    let vae = ckpt.vae(&vae_opts)?;
    progress.stage(Stage::Decoding);
    let latent = latent.to_dtype(vae_opts.dtype)?;
    let images = if job.tiled_vae {
        vae.decode_tiled(&latent, Tiling::default())?
    } else {
        vae.decode(&latent)?
    };
    Ok(to_rgb8(&images)?)
}

/// The VAE's dtype: the compute dtype, except that SDXL's VAE overflows in
/// fp16 (its activations pass 65504 and the image turns black), so it runs
/// in f32 unless the VAE is one fixed for fp16 (as ComfyUI keeps the VAE
/// out of fp16).
pub fn vae_dtype(family: Family, compute: DType, fp16_safe: bool) -> DType {
    let overflows = matches!(family, Family::Sdxl | Family::SdxlRefiner);
    if compute == DType::F16 && overflows && !fp16_safe {
        DType::F32
    } else {
        compute
    }
}

/// The checkpoint's noise schedule, with the prediction its file declares.
fn model_sampling(ckpt: &Checkpoint, base: Base) -> anyhow::Result<ModelSampling> {
    let prediction = if ckpt.prediction()?.v_prediction {
        Prediction::V
    } else {
        Prediction::Epsilon
    };
    Ok(ModelSampling::for_base(base, Some(prediction))?)
}

/// What one denoising stage (the base, or the refiner after it) runs.
struct StageInput<'a> {
    job: &'a Job,
    opts: &'a LoadOptions,
    embeddings: &'a [Embedding],
    ms: &'a ModelSampling,
    sigmas: &'a [f64],
    /// Steps the earlier stage took (for the progress bar).
    step_offset: usize,
    /// Whether the stage adds the seed's noise (the base) or goes on from
    /// a partly denoised latent (the refiner: zero noise).
    fresh_noise: bool,
    /// The refiner's aesthetic scores for prompt and negative.
    aesthetic: Option<(f64, f64)>,
}

/// Encodes both prompts with the checkpoint's text encoders (then drops
/// them), loads its UNet and samples `sigmas` from `start` (zeros when
/// none): one UNet call per sigma over [x; x] against [cond; uncond].
fn denoise(
    ckpt: &Checkpoint,
    s: &StageInput<'_>,
    start: Option<Tensor>,
    factor: usize,
    progress: &dyn RenderProgress,
) -> anyhow::Result<Tensor> {
    let job = s.job;
    let (cond, uncond) = {
        progress.stage(Stage::Loading);
        let mut text = ckpt
            .text_encoders(s.opts)?
            .with_embeddings(s.embeddings.to_vec());
        text.syntax = job.weighting;
        for prompt in [&job.prompt, &job.negative] {
            for w in text.embeddings_in(prompt).warnings {
                progress.warn(&w);
            }
        }
        progress.stage(Stage::Encoding);
        let layer = clip_layer(job.clip_skip);
        (
            text.encode(&job.prompt, layer, &job.device)?,
            text.encode(&job.negative, layer, &job.device)?,
        )
    };

    progress.stage(Stage::Loading);
    let unet = ckpt.unet(s.opts)?;
    let b = job.batch as usize;
    let (h, w) = (job.height as usize / factor, job.width as usize / factor);
    let channels = unet.config().in_channels;
    let shape = [b, channels, h, w];
    let noise = if s.fresh_noise {
        seeded_noise(job.seed, &shape)?
            .to_device(&job.device)?
            .to_dtype(job.dtype)?
    } else {
        Tensor::zeros(&shape, job.dtype, &job.device)?
    };
    let latent = match start {
        Some(l) if l.dims() == shape => l,
        Some(l) => anyhow::bail!(
            "the starting latent is {:?}, the UNet takes {shape:?}",
            l.dims()
        ),
        None => noise.zeros_like()?,
    };
    let pair = super::models::text::batch_contexts(&[&cond.context, &uncond.context])?;
    let context = per_image(&pair, b)?;
    let adm = match (unet.config().adm_in, &cond.pooled, &uncond.pooled) {
        (Some(adm_in), Some(pc), Some(pu)) => {
            let size = SizeCond::for_image(job.height as usize, job.width as usize);
            let values = ckpt.family().spec().adm_values.max(1);
            let size_dim = (adm_in - pc.dim(1)?) / values;
            let pair = match s.aesthetic {
                Some((pos, neg)) => [
                    refiner_adm(pc, &size, pos, size_dim)?,
                    refiner_adm(pu, &size, neg, size_dim)?,
                ],
                None => [
                    sdxl_adm(pc, &size, size_dim)?,
                    sdxl_adm(pu, &size, size_dim)?,
                ],
            };
            Some(per_image(&Tensor::cat(&pair, 0)?, b)?)
        }
        _ => None,
    };
    let mut guided = Guided {
        ms: s.ms,
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
    progress.stage(Stage::Sampling);
    let total = job.steps as usize;
    let mut on_step = |st: Step| {
        progress.step(&Step {
            index: st.index + s.step_offset,
            total,
            ..st
        })
    };
    Ok(sample(
        job.sampler,
        s.ms,
        &mut guided,
        &noise,
        &latent,
        s.sigmas,
        job.seed,
        &mut on_step,
    )?)
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

    use crate::engine::models::tests::tiny_render_checkpoint;
    use std::cell::RefCell;

    fn job(checkpoint: PathBuf, base: Base) -> Job {
        Job {
            checkpoint,
            vae: None,
            base,
            prompt: "a red fox".into(),
            negative: "blurry".into(),
            width: 64,
            height: 64,
            steps: 4,
            cfg: 5.0,
            sampler: Sampler::Euler,
            scheduler: Scheduler::Normal,
            seed: 42,
            batch: 1,
            clip_skip: None,
            denoise: 1.0,
            dtype: DType::F32,
            device: Device::Cpu,
            tiled_vae: false,
            loras: Vec::new(),
            vae_fp16_safe: false,
            init_image: None,
            refiner: None,
            embeddings: Vec::new(),
            weighting: Syntax::ComfyUi,
        }
    }

    /// A 64x64 picture with structure (gradients and a square).
    fn picture() -> Vec<u8> {
        let mut px = Vec::with_capacity(64 * 64 * 3);
        for y in 0..64u32 {
            for x in 0..64u32 {
                let inside = (16..48).contains(&x) && (20..44).contains(&y);
                px.extend([(x * 4) as u8, (y * 4) as u8, if inside { 230 } else { 20 }]);
            }
        }
        px
    }

    /// The steps a render reports.
    #[derive(Default)]
    struct Steps(RefCell<Vec<Step>>);

    impl RenderProgress for Steps {
        fn step(&self, s: &Step) {
            self.0.borrow_mut().push(*s);
        }
    }

    fn distance(a: &[u8], b: &[u8]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
            .sum::<f64>()
            / a.len() as f64
    }

    /// At denoise 0 no step runs: the image is the VAE's round trip of the
    /// init image, for every image of the batch.
    #[test]
    fn img2img_at_zero_denoise_is_the_vae_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = tiny_render_checkpoint(dir.path(), "sd15");
        let mut j = job(path.clone(), Base::Sd15);
        j.init_image = Some(picture());
        j.denoise = 0.0;
        j.batch = 2;
        let images = render(&j, &Quiet).unwrap();

        let ckpt = Checkpoint::open(&path, None).unwrap();
        let vae = ckpt
            .vae(&LoadOptions {
                vae_encoder: true,
                ..LoadOptions::default()
            })
            .unwrap();
        let x = from_rgb8(&picture(), 64, 64, &Device::Cpu).unwrap();
        let want = to_rgb8(&vae.decode(&vae.encode(&x).unwrap()).unwrap()).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0], want[0]);
        assert_eq!(images[1], want[0]);
    }

    /// The denoise decides where on the schedule sampling starts: at 0.5
    /// with 4 steps the sampler runs the last 4 sigmas of an 8-step
    /// schedule (ComfyUI's KSampler), and the image moves off the round
    /// trip of the init image.
    #[test]
    fn img2img_denoise_starts_part_way_down_the_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let path = tiny_render_checkpoint(dir.path(), "sd15");
        let mut j = job(path.clone(), Base::Sd15);
        j.init_image = Some(picture());
        j.denoise = 0.0;
        let kept = render(&j, &Quiet).unwrap().remove(0);
        let seen = Steps::default();
        j.denoise = 0.5;
        let moved = render(&j, &seen).unwrap().remove(0);
        assert!(distance(&moved, &kept) > 0.0);
        let ckpt = Checkpoint::open(&path, None).unwrap();
        let ms = model_sampling(&ckpt, Base::Sd15).unwrap();
        let eight = ksampler_sigmas(j.sampler, j.scheduler, &ms, 8, 1.0);
        let seen: Vec<f64> = seen.0.into_inner().iter().map(|s| s.sigma).collect();
        assert_eq!(seen.len(), 4);
        for (a, b) in seen.iter().zip(&eight[4..8]) {
            assert!((a - b).abs() < 1e-4 * b.max(1.0), "{seen:?} vs {eight:?}");
        }
    }

    /// A second stage that goes on from the first's latent with zero noise
    /// at the switch sigma gives what one stage over the whole schedule
    /// gives (a deterministic sampler), which is how the refiner takes
    /// over from the base.
    #[test]
    fn a_second_stage_continues_where_the_first_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = tiny_render_checkpoint(dir.path(), "sd15");
        let j = job(path.clone(), Base::Sd15);
        let ckpt = Checkpoint::open(&path, None).unwrap();
        let opts = LoadOptions::default();
        let ms = model_sampling(&ckpt, Base::Sd15).unwrap();
        let sigmas = ksampler_sigmas(j.sampler, j.scheduler, &ms, 4, 1.0);
        let steps = Steps::default();
        let stage = |sigmas, offset, fresh| StageInput {
            job: &j,
            opts: &opts,
            embeddings: &[],
            ms: &ms,
            sigmas,
            step_offset: offset,
            fresh_noise: fresh,
            aesthetic: None,
        };
        let whole = denoise(&ckpt, &stage(&sigmas, 0, true), None, 8, &Quiet).unwrap();
        let first = denoise(&ckpt, &stage(&sigmas[..3], 0, true), None, 8, &steps).unwrap();
        let second = denoise(
            &ckpt,
            &stage(&sigmas[2..], 2, false),
            Some(first),
            8,
            &steps,
        )
        .unwrap();
        let diff = (whole - second)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "max difference {diff}");
        let seen: Vec<(usize, usize)> = steps
            .0
            .into_inner()
            .iter()
            .map(|s| (s.index, s.total))
            .collect();
        assert_eq!(seen, [(0, 4), (1, 4), (2, 4), (3, 4)]);
    }

    /// SDXL base + refiner: the refiner runs after the switch step and
    /// changes the image; a refiner of another family is refused by name.
    #[test]
    fn sdxl_refiner_takes_over_at_the_switch_step() {
        let dir = tempfile::tempdir().unwrap();
        let base = tiny_render_checkpoint(dir.path(), "sdxl");
        let refiner = tiny_render_checkpoint(dir.path(), "sdxl_refiner");
        let mut j = job(base, Base::Sdxl);
        j.steps = 3;
        let alone = render(&j, &Quiet).unwrap();
        j.refiner = Some(RefinerStage {
            checkpoint: refiner,
            switch_step: 2,
        });
        let refined = render(&j, &Quiet).unwrap();
        assert_eq!(refined[0].len(), alone[0].len());
        assert!(distance(&refined[0], &alone[0]) > 0.0);
        // Switching at the last step leaves nothing for the refiner.
        j.refiner.as_mut().unwrap().switch_step = 3;
        assert_eq!(render(&j, &Quiet).unwrap(), alone);

        j.refiner = Some(RefinerStage {
            checkpoint: tiny_render_checkpoint(dir.path(), "sd15"),
            switch_step: 2,
        });
        let err = render(&j, &Quiet).unwrap_err().to_string();
        assert!(err.contains("is not an SDXL refiner"), "{err}");
    }

    #[test]
    fn sdxl_vae_leaves_fp16_unless_fixed() {
        assert_eq!(vae_dtype(Family::Sdxl, DType::F16, false), DType::F32);
        assert_eq!(
            vae_dtype(Family::SdxlRefiner, DType::F16, false),
            DType::F32
        );
        assert_eq!(vae_dtype(Family::Sdxl, DType::F16, true), DType::F16);
        assert_eq!(vae_dtype(Family::Sd15, DType::F16, false), DType::F16);
        assert_eq!(vae_dtype(Family::Sdxl, DType::BF16, false), DType::BF16);
    }

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

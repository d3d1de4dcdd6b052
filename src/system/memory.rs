//! The memory plan: how much a render will need, worked out before a single
//! weight is loaded, and how hard gen must economise to fit (DESIGN §5).
//!
//! Loading 24 GB of Flux weights only to fail on the first step wastes a
//! minute and can push a machine into swap; so choosing and rendering ask
//! this module first. Everything here is a pure function of plain data (the
//! files, the size, the batch, the free memory), so it is cheap, testable
//! and usable by `explain` without touching a GPU.
//!
//! # The estimate
//!
//! A render goes through three stages: text encoders, the denoiser (UNet or
//! DiT) for every step, the VAE decoder. Each stage needs its weights plus
//! its working memory (activations). With `b` the bytes per element of the
//! compute dtype:
//!
//! - **Weights**: `params × bytes per param`, where params comes from the
//!   catalogue (`params`, counted from the header) or else from the file
//!   size divided by the stored precision's bytes per param (fp32 4, fp16 and
//!   bf16 2, fp8 1, GGUF quantisations their bits per weight / 8). Weights
//!   are held in the compute dtype (an fp8 or fp32 file read for f16 takes 2
//!   bytes per param), except GGUF quantisations, which stay quantised. A
//!   single-file checkpoint is split into its parts with the family's
//!   reference parameter counts ([`FamilySpec`]); a part no file provides (a
//!   Flux diffusion model without its T5) is counted at its reference size.
//!   LoRAs are counted with the denoiser at their file's size.
//! - **Denoiser activations**, with `T = (W/8)·(H/8)` latent tokens and
//!   `B = batch × 2` under classifier-free guidance (cond and uncond run
//!   together; Flux is guidance-distilled, so `B = batch`):
//!   `B·T·F·b` for the feature maps, skip connections and MLPs, plus the
//!   attention scores of the largest attention layer, `B·heads·N²·b·2`
//!   (scores and their softmax are alive together), where `N` is the token
//!   count at the first attention level (`T` for SD1/2, `T/4` for SDXL, which
//!   has no attention at full latent resolution; `T/4 + text tokens` for the
//!   patchified, joint-attention DiTs Flux and SD3). `F`, elements per latent
//!   token, was counted from the published block widths (diffusers' UNet
//!   configs, Flux's `model.py`) and rounded up.
//! - **VAE decoding**, one image at a time, in f32 where the family's VAE
//!   overflows in f16 (SDXL's): `(W·H·128·4 + ((W/8)·(H/8))²·2) · b`, i.e.
//!   four live 128-channel feature maps at full resolution (input, norm,
//!   conv output, residual) plus the single-head attention of the mid block
//!   at latent resolution. Tiled decoding applies the same formula to one
//!   512×512 tile.
//! - **Text encoders**: a small constant per family (77 CLIP tokens; 512 T5
//!   tokens with 64 heads for Flux and SD3).
//! - **Overhead**: the runtime itself (CUDA context and cuBLAS workspace,
//!   Metal command buffers, the process on a CPU).
//!
//! # The levels
//!
//! - [`Level::None`]: everything resident at once; peak = all weights + the
//!   largest activation (full-frame VAE) + overhead. Fastest.
//! - [`Level::Balanced`]: stages loaded and freed in turn, VAE tiled; peak =
//!   the largest (stage weights + stage activations) + overhead.
//! - [`Level::Aggressive`]: balanced, plus sliced attention (one head of one
//!   image at a time: scores `N²·b·2`) and lower precision (f32 compute
//!   becomes f16; fp8 weights stay fp8 and are upcast layer by layer).
//!
//! The first level whose peak stays within [`USABLE_FRACTION`] of the free
//! memory is chosen; the rest is left for fragmentation and other programs.
//! When not even the aggressive level fits, [`require`] says what would: a
//! smaller size, a batch of one, an fp8 copy of the model, or another family.
//!
//! The figures are deliberately on the large side; they are not measured on
//! this machine. Rendering should record real peaks and tighten `F` and the
//! overheads when it does.

use std::fmt;

use indicatif::HumanBytes;
use serde::Serialize;
use thiserror::Error;

use super::DeviceKind;
use crate::catalog::{CatalogEntry, Kind};
use crate::error::GenError;

mod family;

pub use family::{Family, FamilySpec};

/// The share of free memory a plan may use.
pub const USABLE_FRACTION: f64 = 0.9;

/// A mebibyte.
pub const MIB: u64 = 1 << 20;

/// Side of a VAE tile, in pixels, at the balanced and aggressive levels.
pub const VAE_TILE: u32 = 512;

/// The dtype a render computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    pub fn bytes(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }

    /// What the renderer is expected to choose when not told: f32 on a CPU
    /// (half precision is slow there), bf16 for Flux (it overflows in f16),
    /// f16 otherwise.
    pub fn default_for(device: DeviceKind, family: Family) -> Dtype {
        match (device, family) {
            (DeviceKind::Cpu, _) => Dtype::F32,
            (_, Family::Flux) => Dtype::Bf16,
            _ => Dtype::F16,
        }
    }

    /// The aggressive level's precision: f32 becomes half precision (bf16
    /// for Flux, f16 otherwise); half precision stays.
    pub fn lowered(self, family: Family) -> Dtype {
        match (self, family) {
            (Dtype::F32, Family::Flux) => Dtype::Bf16,
            (Dtype::F32, _) => Dtype::F16,
            (d, _) => d,
        }
    }
}

impl From<crate::cli::DType> for Dtype {
    fn from(d: crate::cli::DType) -> Dtype {
        match d {
            crate::cli::DType::F32 => Dtype::F32,
            crate::cli::DType::F16 => Dtype::F16,
            crate::cli::DType::Bf16 => Dtype::Bf16,
        }
    }
}

/// Bytes per parameter of a stored precision: the catalogue's "fp32",
/// "fp16", "bf16", "fp8" (and dtype spellings such as "F16", "F8_E4M3"), or
/// a GGUF quantisation, whose block layouts (ggml's `block_q4_0` and kin)
/// give bits per weight: Q8_0 8.5, Q6_K 6.5625, Q5_K 5.5, Q5_1 6, Q5_0 5.5,
/// Q4_K 4.5, Q4_1 5, Q4_0 4.5, Q3_K 3.4375, Q2_K 2.625.
pub fn bytes_per_param(precision: &str) -> Option<f64> {
    let p = precision.trim().to_ascii_lowercase().replace('-', "_");
    let bits = match p.as_str() {
        "fp64" | "f64" | "float64" => 64.0,
        "fp32" | "f32" | "float32" => 32.0,
        "fp16" | "f16" | "float16" | "bf16" | "bfloat16" => 16.0,
        _ if p.starts_with("fp8") || p.starts_with("f8") || p.starts_with("float8") => 8.0,
        "q8_0" | "q8_1" => 8.5,
        "q6_k" => 6.5625,
        "q5_k" | "q5_k_m" | "q5_k_s" | "q5_0" => 5.5,
        "q5_1" => 6.0,
        "q4_k" | "q4_k_m" | "q4_k_s" | "q4_0" => 4.5,
        "q4_1" => 5.0,
        "q3_k" | "q3_k_m" | "q3_k_s" | "q3_k_l" => 3.4375,
        "q2_k" => 2.625,
        _ => return None,
    };
    Some(bits / 8.0)
}

/// What a weights file is in the render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A single file with denoiser, text encoders and VAE (possibly only some).
    Checkpoint,
    Denoiser,
    TextEncoder,
    Vae,
    Lora,
}

/// One file the render will load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsFile {
    pub role: Role,
    pub name: String,
    /// Tensor elements, when the header was read.
    pub params: Option<u64>,
    /// The stored precision ("fp16", "fp8", "Q4_K", ...).
    pub precision: Option<String>,
    pub size_bytes: u64,
}

impl WeightsFile {
    /// The file of a catalogue entry, if its kind is something a render loads.
    pub fn from_entry(e: &CatalogEntry) -> Option<WeightsFile> {
        let role = match e.kind {
            Kind::Checkpoint => Role::Checkpoint,
            Kind::DiffusionModel => Role::Denoiser,
            Kind::TextEncoder => Role::TextEncoder,
            Kind::Vae => Role::Vae,
            Kind::Lora => Role::Lora,
            _ => return None,
        };
        Some(WeightsFile {
            role,
            name: e.name.clone(),
            params: e.params,
            precision: e.precision.clone(),
            size_bytes: e.size,
        })
    }

    fn stored_bytes_per_param(&self) -> f64 {
        self.precision
            .as_deref()
            .and_then(bytes_per_param)
            .unwrap_or(2.0)
    }

    fn is_quantised(&self) -> bool {
        self.stored_bytes_per_param() < 1.0 || self.precision.as_deref().is_some_and(is_gguf)
    }

    /// Parameters: counted, or the file size over the stored precision.
    pub fn param_count(&self) -> u64 {
        self.params
            .unwrap_or_else(|| (self.size_bytes as f64 / self.stored_bytes_per_param()) as u64)
    }
}

fn is_gguf(precision: &str) -> bool {
    precision.trim().to_ascii_lowercase().starts_with('q')
}

/// Everything the estimate needs to know about a render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderRequest {
    pub family: Family,
    /// The files to load; parts no file provides are counted at the family's
    /// reference size.
    pub files: Vec<WeightsFile>,
    pub width: u32,
    pub height: u32,
    /// Images denoised together.
    pub batch: u32,
    pub compute: Dtype,
    pub device: DeviceKind,
    /// The flash-attention kernel (cargo feature `flash-attn`) keeps no
    /// attention score matrix: see [`flash_attention_applies`].
    pub flash_attention: bool,
}

/// Whether this build renders attention in the flash-attention kernel on
/// `device` at `compute` precision: a `flash-attn` build, CUDA, f16 or bf16
/// (as `engine::models::layers::flash_applies` decides per tensor).
pub fn flash_attention_applies(device: DeviceKind, compute: Dtype) -> bool {
    cfg!(feature = "flash-attn")
        && device == DeviceKind::Cuda
        && matches!(compute, Dtype::F16 | Dtype::Bf16)
}

impl RenderRequest {
    /// A request for the family's reference model at its native size.
    pub fn reference(family: Family, device: DeviceKind) -> RenderRequest {
        let (width, height) = family.spec().native;
        let compute = Dtype::default_for(device, family);
        RenderRequest {
            family,
            files: Vec::new(),
            width,
            height,
            batch: 1,
            compute,
            device,
            flash_attention: flash_attention_applies(device, compute),
        }
    }
}

/// How hard the render economises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Everything resident.
    None,
    /// Stages loaded and freed in turn, tiled VAE.
    Balanced,
    /// Balanced, plus sliced attention and lower precision.
    Aggressive,
}

impl Level {
    pub const ALL: &[Level] = &[Level::None, Level::Balanced, Level::Aggressive];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Balanced => "balanced",
            Level::Aggressive => "aggressive",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the renderer must do to stay within the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Techniques {
    /// Load text encoders, denoiser and VAE one after the other, freeing each.
    pub sequential_stages: bool,
    pub tiled_vae: bool,
    /// Attention one head of one image at a time.
    pub sliced_attention: bool,
    /// f32 compute lowered to f16/bf16; fp8 weights kept fp8, upcast per layer.
    pub lower_precision: bool,
    /// The dtype the render computes in.
    pub compute: Dtype,
}

/// Which stage makes the peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Everything resident (level none).
    All,
    TextEncoders,
    Denoiser,
    Vae,
}

/// The parts of the estimate, in bytes, at the plan's level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub text_encoder_weights: u64,
    pub denoiser_weights: u64,
    pub vae_weights: u64,
    pub text_encoder_activations: u64,
    pub denoiser_activations: u64,
    pub vae_activations: u64,
    pub overhead: u64,
    pub peak_stage: Stage,
    /// Parts counted at the family's reference size because no file gave them.
    pub assumed: Vec<String>,
}

/// The answer: the level, the estimated peak, and whether it fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryPlan {
    pub level: Level,
    pub estimated_peak_bytes: u64,
    pub breakdown: Breakdown,
    pub available_bytes: u64,
    /// The peak stays within [`USABLE_FRACTION`] of what is available.
    pub fits: bool,
    pub techniques: Techniques,
}

impl MemoryPlan {
    /// One line for `explain`: "balanced (stages in turn, tiled VAE):
    /// about 6.4 GiB of 7.5 GiB free".
    pub fn summary(&self) -> String {
        let t = &self.techniques;
        let mut how = Vec::new();
        if t.sequential_stages {
            how.push("stages in turn");
        }
        if t.tiled_vae {
            how.push("tiled VAE");
        }
        if t.sliced_attention {
            how.push("sliced attention");
        }
        if t.lower_precision {
            how.push("lower precision");
        }
        let how = if how.is_empty() {
            "everything resident".to_string()
        } else {
            how.join(", ")
        };
        format!(
            "{} ({how}): about {} of {} free{}",
            self.level,
            HumanBytes(self.estimated_peak_bytes),
            HumanBytes(self.available_bytes),
            if self.fits { "" } else { " — does not fit" }
        )
    }
}

/// Some parameters of one stage, as stored.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    params: u64,
    stored_bpp: f64,
    quantised: bool,
}

/// The parameters of each stage, and the stages assumed at reference size.
struct Parts {
    te: Vec<Chunk>,
    den: Vec<Chunk>,
    vae: Vec<Chunk>,
    assumed: Vec<String>,
}

/// Splits the files over the three stages. A checkpoint gives the denoiser
/// first (up to the reference count), then the VAE, then text encoders; a
/// stage left with under half its reference is counted at its reference
/// size in fp16, and named in `assumed`.
fn parts(req: &RenderRequest) -> Parts {
    let s = req.family.spec();
    let mut p = Parts {
        te: Vec::new(),
        den: Vec::new(),
        vae: Vec::new(),
        assumed: Vec::new(),
    };
    for f in &req.files {
        let n = f.param_count();
        let chunk = |params| Chunk {
            params,
            stored_bpp: f.stored_bytes_per_param(),
            quantised: f.is_quantised(),
        };
        match f.role {
            Role::Checkpoint => {
                let den = n.min(s.denoiser_params);
                let vae = (n - den).min(s.vae_params);
                p.den.push(chunk(den));
                p.vae.push(chunk(vae));
                p.te.push(chunk(n - den - vae));
            }
            Role::Denoiser | Role::Lora => p.den.push(chunk(n)),
            Role::TextEncoder => p.te.push(chunk(n)),
            Role::Vae => p.vae.push(chunk(n)),
        }
    }
    for (stage, reference, what) in [
        (&mut p.den, s.denoiser_params, "denoiser"),
        (&mut p.te, s.text_encoder_params, "text encoders"),
        (&mut p.vae, s.vae_params, "VAE"),
    ] {
        let have: u64 = stage.iter().map(|c| c.params).sum();
        if have * 2 < reference {
            stage.push(Chunk {
                params: reference - have,
                stored_bpp: 2.0,
                quantised: false,
            });
            p.assumed.push(what.to_string());
        }
    }
    p
}

/// Resident bytes of a stage's weights held for computing in `dtype`: the
/// dtype's size, except quantised files (kept quantised) and, at the
/// aggressive level, files stored smaller than the dtype (kept as stored,
/// upcast layer by layer).
fn weight_bytes(stage: &[Chunk], dtype: Dtype, level: Level) -> u64 {
    stage
        .iter()
        .map(|c| {
            let bpp = if c.quantised {
                c.stored_bpp
            } else if level == Level::Aggressive {
                c.stored_bpp.min(dtype.bytes() as f64)
            } else {
                dtype.bytes() as f64
            };
            (c.params as f64 * bpp).ceil() as u64
        })
        .sum()
}

/// Denoiser activations per step (see the module documentation).
/// Figures for absurd sizes saturate instead of overflowing.
pub fn denoiser_activations(req: &RenderRequest, compute: Dtype, sliced: bool) -> u64 {
    let s = req.family.spec();
    let b = u128::from(compute.bytes());
    let latent_tokens = u128::from(req.width / 8) * u128::from(req.height / 8);
    let images = u128::from(req.batch.max(1)) * if s.cfg { 2 } else { 1 };
    let features = images * latent_tokens * u128::from(s.features_per_token) * b;
    let down = u128::from(s.attn_downscale * s.patch);
    let n = latent_tokens / (down * down) + u128::from(s.joint_text_tokens);
    let scores = if req.flash_attention {
        0
    } else if sliced {
        n * n * b * 2
    } else {
        images * u128::from(s.attn_heads) * n * n * b * 2
    };
    saturate(features + scores)
}

/// VAE decoding of one `width`×`height` image (or tile).
pub fn vae_activations(width: u32, height: u32, bytes: u64) -> u64 {
    let pixels = u128::from(width) * u128::from(height);
    let latent = u128::from(width / 8) * u128::from(height / 8);
    saturate((pixels * 128 * 4 + latent * latent * 2) * u128::from(bytes))
}

fn saturate(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// The runtime's own need on each device.
pub fn overhead(device: DeviceKind) -> u64 {
    match device {
        // CUDA context, cuBLAS workspaces and kernels.
        DeviceKind::Cuda => 768 * MIB,
        DeviceKind::Metal => 512 * MIB,
        DeviceKind::Cpu => 256 * MIB,
    }
}

/// The estimate of a render at one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub peak_bytes: u64,
    pub breakdown: Breakdown,
    pub techniques: Techniques,
}

/// The estimated peak of `req` at `level`, with its parts.
pub fn estimate(req: &RenderRequest, level: Level) -> Estimate {
    let s = req.family.spec();
    let p = parts(req);
    let aggressive = level == Level::Aggressive;
    let compute = if aggressive {
        req.compute.lowered(req.family)
    } else {
        req.compute
    };
    let vae_dtype = if s.vae_f32 { Dtype::F32 } else { compute };
    let vae_bytes = vae_dtype.bytes();
    let te_w = weight_bytes(&p.te, compute, level);
    let den_w = weight_bytes(&p.den, compute, level);
    let vae_w = weight_bytes(&p.vae, vae_dtype, level);
    let te_a = s.text_activation_bytes * compute.bytes() / 2;
    let den_a = denoiser_activations(req, compute, aggressive);
    let vae_a = if level == Level::None {
        vae_activations(req.width, req.height, vae_bytes)
    } else {
        let (tw, th) = (req.width.min(VAE_TILE), req.height.min(VAE_TILE));
        vae_activations(tw, th, vae_bytes)
    };
    let over = overhead(req.device);
    let (peak, peak_stage) = if level == Level::None {
        let weights = te_w.saturating_add(den_w).saturating_add(vae_w);
        (
            weights.saturating_add(te_a.max(den_a).max(vae_a)),
            Stage::All,
        )
    } else {
        [
            (te_w.saturating_add(te_a), Stage::TextEncoders),
            (den_w.saturating_add(den_a), Stage::Denoiser),
            (vae_w.saturating_add(vae_a), Stage::Vae),
        ]
        .into_iter()
        .max_by_key(|x| x.0)
        .expect("three stages")
    };
    let breakdown = Breakdown {
        text_encoder_weights: te_w,
        denoiser_weights: den_w,
        vae_weights: vae_w,
        text_encoder_activations: te_a,
        denoiser_activations: den_a,
        vae_activations: vae_a,
        overhead: over,
        peak_stage,
        assumed: p.assumed,
    };
    let techniques = Techniques {
        sequential_stages: level != Level::None,
        tiled_vae: level != Level::None,
        sliced_attention: aggressive && !req.flash_attention,
        lower_precision: aggressive,
        compute,
    };
    Estimate {
        peak_bytes: peak.saturating_add(over),
        breakdown,
        techniques,
    }
}

/// Whether `peak` fits in `available`.
pub fn fits(peak: u64, available: u64) -> bool {
    peak as f64 <= available as f64 * USABLE_FRACTION
}

/// The lightest level that fits in `available_bytes`; the aggressive level
/// with `fits: false` when none does.
pub fn plan(req: &RenderRequest, available_bytes: u64) -> MemoryPlan {
    let mut last = None;
    for &level in Level::ALL {
        let e = estimate(req, level);
        let plan = MemoryPlan {
            level,
            estimated_peak_bytes: e.peak_bytes,
            breakdown: e.breakdown,
            available_bytes,
            fits: fits(e.peak_bytes, available_bytes),
            techniques: e.techniques,
        };
        if plan.fits {
            return plan;
        }
        last = Some(plan);
    }
    last.expect("three levels")
}

/// A render that does not fit even at the aggressive level, with what would.
#[derive(Debug, Clone, PartialEq, Error, Serialize)]
#[error("{}", self.message())]
pub struct NotEnoughMemory {
    pub family: Family,
    pub device: DeviceKind,
    pub size: (u32, u32),
    pub batch: u32,
    pub needed_bytes: u64,
    pub available_bytes: u64,
    /// The largest size (multiples of 64, same shape) that would fit.
    pub smaller_size: Option<(u32, u32)>,
    /// A batch of one at the asked size would fit.
    pub batch_of_one_fits: bool,
    /// The same model with fp8 weights would fit.
    pub fp8_fits: bool,
    /// Other families whose reference model fits at their native size.
    pub other_families: Vec<Family>,
}

impl NotEnoughMemory {
    fn message(&self) -> String {
        let mut ways = Vec::new();
        if self.batch_of_one_fits {
            ways.push("one image at a time".to_string());
        }
        if let Some((w, h)) = self.smaller_size {
            ways.push(format!(
                "a smaller size, {w}×{h} (--width {w} --height {h})"
            ));
        }
        if self.fp8_fits {
            ways.push(format!("an fp8 copy of this {} model", self.family));
        }
        if !self.other_families.is_empty() {
            let names: Vec<String> = self.other_families.iter().map(|f| f.to_string()).collect();
            ways.push(format!("another model: {}", names.join(" or ")));
        }
        let would = if ways.is_empty() {
            "nothing gen can render fits in that memory".to_string()
        } else {
            format!("what would fit: {}", ways.join("; "))
        };
        format!(
            "not enough memory on {}: this {} render at {}×{}{} needs about {} even at the aggressive level, and {} is free; {would}",
            self.device.as_str(),
            self.family,
            self.size.0,
            self.size.1,
            if self.batch > 1 {
                format!(" (batch {})", self.batch)
            } else {
                String::new()
            },
            HumanBytes(self.needed_bytes),
            HumanBytes(self.available_bytes),
        )
    }
}

impl From<NotEnoughMemory> for GenError {
    fn from(e: NotEnoughMemory) -> GenError {
        GenError::failed(e.to_string()).with_hint(
            "close other programs using the memory, or pick a smaller size or model; \
             `gen system` shows what is free",
        )
    }
}

/// The largest size of the same shape, sides multiples of 64 and at least
/// 256, below the asked size (and at most 16384 on the long side) that fits
/// with a batch of one.
fn smaller_size(
    req: &RenderRequest,
    fits_at: &dyn Fn(&RenderRequest) -> bool,
) -> Option<(u32, u32)> {
    let long = req.width.max(req.height);
    let start = (long.saturating_sub(1) / 64).min(16384 / 64);
    (4..=start).rev().find_map(|k| {
        let scale = |x: u32| (u64::from(x) * k as u64 * 64 / u64::from(long) / 64 * 64) as u32;
        let (w, h) = (scale(req.width), scale(req.height));
        if w < 256 || h < 256 {
            return None;
        }
        let smaller = RenderRequest {
            width: w,
            height: h,
            batch: 1,
            ..req.clone()
        };
        fits_at(&smaller).then_some((w, h))
    })
}

/// The check before loading: the plan if it fits, else what would.
pub fn require(req: &RenderRequest, available_bytes: u64) -> Result<MemoryPlan, NotEnoughMemory> {
    let p = plan(req, available_bytes);
    if p.fits {
        return Ok(p);
    }
    let fits_at =
        |r: &RenderRequest| fits(estimate(r, Level::Aggressive).peak_bytes, available_bytes);
    let batch_of_one_fits = req.batch > 1
        && fits_at(&RenderRequest {
            batch: 1,
            ..req.clone()
        });
    let smaller_size = smaller_size(req, &fits_at);
    let fp8 = RenderRequest {
        files: req
            .files
            .iter()
            .map(|f| {
                let mut f = f.clone();
                if !f.is_quantised() && f.stored_bytes_per_param() > 1.0 {
                    let n = f.param_count();
                    f.params = Some(n);
                    f.precision = Some("fp8".into());
                }
                f
            })
            .collect(),
        ..req.clone()
    };
    let fp8_fits = req.files.iter().any(|f| f.stored_bytes_per_param() > 1.0) && fits_at(&fp8);
    let other_families = Family::ALL
        .iter()
        .copied()
        .filter(|f| *f != req.family && *f != Family::SdxlRefiner)
        .filter(|f| fits_at(&RenderRequest::reference(*f, req.device)))
        .collect();
    Err(NotEnoughMemory {
        family: req.family,
        device: req.device,
        size: (req.width, req.height),
        batch: req.batch,
        needed_bytes: p.estimated_peak_bytes,
        available_bytes,
        smaller_size,
        batch_of_one_fits,
        fp8_fits,
        other_families,
    })
}

#[cfg(test)]
mod tests;

//! The LDM UNet (`openaimodel.UNetModel`) of SD1.5, SD2.x and SDXL, read
//! in the original key layout (`input_blocks.*`, `middle_block.*`,
//! `output_blocks.*`, `time_embed.*`, `label_emb.*`).
//!
//! The network is assembled from what the file holds: each
//! `input_blocks.N.M` is recognised by its tensors (a `ResBlock` has
//! `in_layers`, a `SpatialTransformer` has `proj_in`, a `Downsample` has
//! `op`, an `Upsample` has only `conv`), so channels, levels, residual
//! blocks, transformer depth per block (SDXL's [0, 2, 10]), context width,
//! linear vs convolutional projections and the ADM input width all come
//! from shapes. Only the head split comes from [`super::FamilySpec`].
//!
//! SDXL's ADM vector is built by [`sdxl_adm`] the way ComfyUI builds it:
//! pooled CLIP-G output, then 256-wide sinusoidal embeddings of original
//! height and width, crop top and left, target height and width.

use super::layers::Conv2d;
use super::layers::{
    Proj, attention, conv2d, group_norm, layer_norm, linear, linear_b, merge_heads, split_heads,
};
use super::weights::{Weights, layout_error};
use super::{Heads, Result};
use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{GroupNorm, LayerNorm, Linear};

const GROUPS: usize = 32;

/// Facts read from the file, for reporting and for checks.
#[derive(Debug, Clone, PartialEq)]
pub struct UNetConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub model_channels: usize,
    pub time_embed_dim: usize,
    /// Output channels of each level's residual blocks.
    pub level_channels: Vec<usize>,
    /// Residual blocks per level on the way down.
    pub res_blocks: usize,
    /// Transformer depth of each level (0: no attention).
    pub transformer_depth: Vec<usize>,
    /// Transformer depth of the middle block.
    pub middle_depth: usize,
    pub context_dim: Option<usize>,
    pub linear_proj: bool,
    /// Width of SDXL's ADM vector (`label_emb.0.0`), if any.
    pub adm_in: Option<usize>,
}

struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    emb: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    fn load(w: &Weights) -> Result<Self> {
        let skip = if w.contains("skip_connection.weight") {
            let k = w.shape("skip_connection.weight")?;
            let pad = k.get(2).copied().unwrap_or(1) / 2;
            Some(conv2d(w, "skip_connection", 1, pad)?)
        } else {
            None
        };
        Ok(Self {
            norm1: group_norm(w, "in_layers.0", GROUPS, 1e-5)?,
            conv1: conv2d(w, "in_layers.2", 1, 1)?,
            emb: linear_b(w, "emb_layers.1")?,
            norm2: group_norm(w, "out_layers.0", GROUPS, 1e-5)?,
            conv2: conv2d(w, "out_layers.3", 1, 1)?,
            skip,
        })
    }

    fn forward(&self, x: &Tensor, emb: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x)?.silu()?)?;
        let e = self.emb.forward(&emb.silu()?)?.unsqueeze(2)?.unsqueeze(3)?;
        let h = h.broadcast_add(&e)?;
        let h = self.conv2.forward(&self.norm2.forward(&h)?.silu()?)?;
        let skip = match &self.skip {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        Ok((skip + h)?)
    }
}

struct CrossAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl CrossAttention {
    fn load(w: &Weights, heads: usize) -> Result<Self> {
        Ok(Self {
            q: linear(w, "to_q")?,
            k: linear(w, "to_k")?,
            v: linear(w, "to_v")?,
            out: linear_b(w, "to_out.0")?,
            heads,
        })
    }

    fn forward(&self, x: &Tensor, context: Option<&Tensor>) -> Result<Tensor> {
        let ctx = context.unwrap_or(x);
        let q = split_heads(&self.q.forward(x)?, self.heads)?;
        let k = split_heads(&self.k.forward(ctx)?, self.heads)?;
        let v = split_heads(&self.v.forward(ctx)?, self.heads)?;
        Ok(self
            .out
            .forward(&merge_heads(&attention(&q, &k, &v, None)?)?)?)
    }
}

struct TransformerBlock {
    norm1: LayerNorm,
    attn1: CrossAttention,
    norm2: LayerNorm,
    attn2: CrossAttention,
    norm3: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
}

impl TransformerBlock {
    fn load(w: &Weights, heads: usize) -> Result<Self> {
        Ok(Self {
            norm1: layer_norm(w, "norm1", 1e-5)?,
            attn1: CrossAttention::load(&w.pp("attn1"), heads)?,
            norm2: layer_norm(w, "norm2", 1e-5)?,
            attn2: CrossAttention::load(&w.pp("attn2"), heads)?,
            norm3: layer_norm(w, "norm3", 1e-5)?,
            ff_in: linear_b(w, "ff.net.0.proj")?,
            ff_out: linear_b(w, "ff.net.2")?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let x = (self.attn1.forward(&self.norm1.forward(x)?, None)? + x)?;
        let x = (self
            .attn2
            .forward(&self.norm2.forward(&x)?, Some(context))?
            + x)?;
        // GEGLU: value * gelu(gate), gelu with erf as in torch.
        let h = self.ff_in.forward(&self.norm3.forward(&x)?)?;
        let half = h.dim(D::Minus1)? / 2;
        let h = (h.narrow(D::Minus1, 0, half)? * h.narrow(D::Minus1, half, half)?.gelu_erf()?)?;
        Ok((self.ff_out.forward(&h)? + x)?)
    }
}

struct SpatialTransformer {
    norm: GroupNorm,
    proj_in: Proj,
    blocks: Vec<TransformerBlock>,
    proj_out: Proj,
}

impl SpatialTransformer {
    fn load(w: &Weights, heads: Heads) -> Result<Self> {
        let inner = w.dim("proj_in.weight", 0)?;
        let heads = heads.heads_for(inner);
        if inner % heads != 0 {
            return Err(layout_error(
                w,
                format!("{inner} channels do not split into {heads} heads"),
            ));
        }
        let blocks = (0..w.count("transformer_blocks"))
            .map(|i| TransformerBlock::load(&w.pp(format!("transformer_blocks.{i}")), heads))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            norm: group_norm(w, "norm", GROUPS, 1e-6)?,
            proj_in: Proj::load(w, "proj_in")?,
            blocks,
            proj_out: Proj::load(w, "proj_out")?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let n = self.norm.forward(x)?;
        let to_seq = |t: &Tensor| -> Result<Tensor> {
            let c = t.dim(1)?;
            Ok(t.reshape((b, c, h * w))?.transpose(1, 2)?.contiguous()?)
        };
        let from_seq = |t: &Tensor| -> Result<Tensor> {
            let c = t.dim(2)?;
            Ok(t.transpose(1, 2)?.reshape((b, c, h, w))?)
        };
        let mut s = if self.proj_in.is_linear() {
            self.proj_in.forward(&to_seq(&n)?)?
        } else {
            to_seq(&self.proj_in.forward(&n)?)?
        };
        for blk in &self.blocks {
            s = blk.forward(&s, context)?;
        }
        let out = if self.proj_out.is_linear() {
            from_seq(&self.proj_out.forward(&s)?)?
        } else {
            self.proj_out.forward(&from_seq(&s)?.contiguous()?)?
        };
        debug_assert_eq!(out.dim(1)?, c);
        Ok((out + x)?)
    }
}

enum Layer {
    Conv(Conv2d),
    Res(ResBlock),
    Attn(SpatialTransformer),
    Down(Conv2d),
    Up(Conv2d),
}

/// Loads one `TimestepEmbedSequential`, recognising each member by its
/// tensors.
fn load_sequence(w: &Weights, heads: Heads) -> Result<Vec<Layer>> {
    let mut layers = Vec::new();
    for j in 0.. {
        let m = w.pp(j);
        let layer = if m.contains("in_layers.0.weight") {
            Layer::Res(ResBlock::load(&m)?)
        } else if m.contains("proj_in.weight") {
            Layer::Attn(SpatialTransformer::load(&m, heads)?)
        } else if m.contains("op.weight") {
            Layer::Down(conv2d(&m, "op", 2, 1)?)
        } else if m.contains("conv.weight") {
            Layer::Up(conv2d(&m, "conv", 1, 1)?)
        } else if m.contains("weight") {
            Layer::Conv(conv2d(w, &j.to_string(), 1, 1)?)
        } else if w.contains_prefix(&j.to_string()) {
            return Err(layout_error(
                &m,
                format!("unrecognised UNet block `{}`", m.key("")),
            ));
        } else {
            break;
        };
        layers.push(layer);
    }
    if layers.is_empty() {
        return Err(layout_error(w, format!("empty UNet block `{}`", w.key(""))));
    }
    Ok(layers)
}

/// One UNet call's inputs beyond the latent.
pub struct UNetInput<'a> {
    /// Model timesteps ([b], in the 0..1000 scale of the discrete schedule).
    pub timesteps: &'a Tensor,
    /// Text conditioning [b, n, context_dim].
    pub context: &'a Tensor,
    /// SDXL's ADM vector [b, adm_in] (see [`sdxl_adm`]).
    pub adm: Option<&'a Tensor>,
}

pub struct UNet {
    config: UNetConfig,
    time1: Linear,
    time2: Linear,
    label: Option<(Linear, Linear)>,
    input: Vec<Vec<Layer>>,
    middle: Vec<Layer>,
    output: Vec<Vec<Layer>>,
    out_norm: GroupNorm,
    out_conv: Conv2d,
}

impl UNet {
    /// Loads from the view under `model.diffusion_model`.
    pub fn load(w: &Weights, heads: Heads) -> Result<Self> {
        let config = UNetConfig::from_weights(w)?;
        let input = (0..w.count("input_blocks"))
            .map(|i| load_sequence(&w.pp(format!("input_blocks.{i}")), heads))
            .collect::<Result<Vec<_>>>()?;
        let output = (0..w.count("output_blocks"))
            .map(|i| load_sequence(&w.pp(format!("output_blocks.{i}")), heads))
            .collect::<Result<Vec<_>>>()?;
        if input.len() != output.len() {
            return Err(layout_error(
                w,
                format!(
                    "{} input blocks but {} output blocks",
                    input.len(),
                    output.len()
                ),
            ));
        }
        let label = if w.contains_prefix("label_emb") {
            Some((linear_b(w, "label_emb.0.0")?, linear_b(w, "label_emb.0.2")?))
        } else {
            None
        };
        Ok(Self {
            time1: linear_b(w, "time_embed.0")?,
            time2: linear_b(w, "time_embed.2")?,
            label,
            input,
            middle: load_sequence(&w.pp("middle_block"), heads)?,
            output,
            out_norm: group_norm(w, "out.0", GROUPS, 1e-5)?,
            out_conv: conv2d(w, "out.2", 1, 1)?,
            config,
        })
    }

    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// One evaluation: the model output (epsilon or v, as the file was
    /// trained) for latent `x` [b, c, h, w].
    pub fn forward(&self, x: &Tensor, inp: &UNetInput<'_>) -> Result<Tensor> {
        let dtype = x.dtype();
        let t = timestep_embedding(inp.timesteps, self.config.model_channels)?.to_dtype(dtype)?;
        let mut emb = self.time2.forward(&self.time1.forward(&t)?.silu()?)?;
        match (&self.label, inp.adm) {
            (Some((l1, l2)), Some(y)) => {
                emb = (emb + l2.forward(&l1.forward(&y.to_dtype(dtype)?)?.silu()?)?)?;
            }
            (Some(_), None) => {
                return Err(super::ModelError::Invalid(
                    "this UNet needs the ADM (pooled text + size) vector".into(),
                ));
            }
            (None, _) => {}
        }
        let context = inp.context.to_dtype(dtype)?;
        let mut skips = Vec::with_capacity(self.input.len());
        let mut h = x.clone();
        for seq in &self.input {
            h = run_sequence(seq, &h, &emb, &context, None)?;
            skips.push(h.clone());
        }
        h = run_sequence(&self.middle, &h, &emb, &context, None)?;
        for seq in &self.output {
            let skip = skips
                .pop()
                .ok_or_else(|| super::ModelError::Invalid("UNet skip underflow".into()))?;
            h = Tensor::cat(&[&h, &skip], 1)?;
            let target = skips.last().map(|s| (s.dim(2), s.dim(3)));
            let target = match target {
                Some((Ok(a), Ok(b))) => Some((a, b)),
                _ => None,
            };
            h = run_sequence(seq, &h, &emb, &context, target)?;
        }
        Ok(self.out_conv.forward(&self.out_norm.forward(&h)?.silu()?)?)
    }
}

fn run_sequence(
    seq: &[Layer],
    x: &Tensor,
    emb: &Tensor,
    context: &Tensor,
    up_to: Option<(usize, usize)>,
) -> Result<Tensor> {
    let mut h = x.clone();
    for layer in seq {
        h = match layer {
            Layer::Conv(c) => c.forward(&h)?,
            Layer::Res(r) => r.forward(&h, emb)?,
            Layer::Attn(a) => a.forward(&h, context)?,
            Layer::Down(c) => c.forward(&h)?,
            Layer::Up(c) => {
                // ComfyUI upsamples to the next skip's size, so odd latent
                // sizes line up; otherwise nearest 2x.
                let (_, _, hh, ww) = h.dims4()?;
                let (th, tw) = up_to.unwrap_or((hh * 2, ww * 2));
                c.forward(&h.upsample_nearest2d(th, tw)?)?
            }
        };
    }
    Ok(h)
}

impl UNetConfig {
    pub fn from_weights(w: &Weights) -> Result<Self> {
        let conv_in = w.shape("input_blocks.0.0.weight")?;
        if conv_in.len() != 4 {
            return Err(layout_error(w, "input_blocks.0.0 is not a convolution"));
        }
        let mut level_channels = Vec::new();
        let mut transformer_depth = Vec::new();
        let mut res_blocks = 0;
        let mut in_level = 0;
        let blocks = w.count("input_blocks");
        for i in 1..blocks {
            let b = w.pp(format!("input_blocks.{i}"));
            if b.contains("0.op.weight") {
                res_blocks = res_blocks.max(in_level);
                in_level = 0;
                continue;
            }
            if in_level == 0 {
                level_channels.push(b.dim("0.out_layers.3.weight", 0)?);
                transformer_depth.push(b.count("1.transformer_blocks"));
            }
            in_level += 1;
        }
        res_blocks = res_blocks.max(in_level);
        let mut context_dim = None;
        let mut linear_proj = false;
        for i in 0..blocks {
            let b = w.pp(format!("input_blocks.{i}.1"));
            if b.contains("proj_in.weight") {
                linear_proj = b.shape("proj_in.weight")?.len() == 2;
                context_dim = Some(b.dim("transformer_blocks.0.attn2.to_k.weight", 1)?);
                break;
            }
        }
        Ok(Self {
            in_channels: conv_in[1],
            out_channels: w.dim("out.2.weight", 0)?,
            model_channels: conv_in[0],
            time_embed_dim: w.dim("time_embed.0.weight", 0)?,
            level_channels,
            res_blocks,
            transformer_depth,
            middle_depth: w.count("middle_block.1.transformer_blocks"),
            context_dim,
            linear_proj,
            adm_in: if w.contains("label_emb.0.0.weight") {
                Some(w.dim("label_emb.0.0.weight", 1)?)
            } else {
                None
            },
        })
    }
}

/// Sinusoidal embedding of LDM / diffusers (`flip_sin_to_cos`, no shift):
/// `[cos(t f_i), sin(t f_i)]` with `f_i = 10000^(-i / (dim/2))`.
pub fn timestep_embedding(t: &Tensor, dim: usize) -> Result<Tensor> {
    let half = dim / 2;
    let device = t.device();
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(10000f64.ln()) * i as f64 / half as f64).exp() as f32)
        .collect();
    let freqs = Tensor::from_vec(freqs, (1, half), device)?;
    let args = t
        .to_dtype(DType::F32)?
        .unsqueeze(1)?
        .broadcast_mul(&freqs)?;
    Ok(Tensor::cat(&[args.cos()?, args.sin()?], 1)?)
}

/// SDXL's size and crop conditioning, in pixels, as ComfyUI's defaults
/// set it: original = target = image size, crop 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeCond {
    pub original: (usize, usize),
    pub crop: (usize, usize),
    pub target: (usize, usize),
}

impl SizeCond {
    /// ComfyUI's default for an image of `height` x `width` pixels.
    pub fn for_image(height: usize, width: usize) -> Self {
        Self {
            original: (height, width),
            crop: (0, 0),
            target: (height, width),
        }
    }
}

/// The ADM vector [b, pooled + 6 * size_dim]: pooled text, then the
/// embeddings of original (h, w), crop (top, left), target (h, w).
pub fn sdxl_adm(pooled: &Tensor, size: &SizeCond, size_dim: usize) -> Result<Tensor> {
    let values = [
        size.original.0,
        size.original.1,
        size.crop.0,
        size.crop.1,
        size.target.0,
        size.target.1,
    ];
    adm_vector(pooled, &values.map(|v| v as f64), size_dim)
}

/// ComfyUI's default aesthetic scores for the SDXL refiner: 6 for the
/// prompt, 2.5 for the negative prompt (`SDXLRefiner.encode_adm`).
pub const AESTHETIC_POSITIVE: f64 = 6.0;
pub const AESTHETIC_NEGATIVE: f64 = 2.5;

/// The SDXL refiner's ADM vector [b, pooled + 5 * size_dim]: pooled text,
/// then the embeddings of the image (h, w), crop (top, left) and the
/// aesthetic score.
pub fn refiner_adm(
    pooled: &Tensor,
    size: &SizeCond,
    aesthetic: f64,
    size_dim: usize,
) -> Result<Tensor> {
    let values = [
        size.original.0 as f64,
        size.original.1 as f64,
        size.crop.0 as f64,
        size.crop.1 as f64,
        aesthetic,
    ];
    adm_vector(pooled, &values, size_dim)
}

/// Pooled text followed by the sinusoidal embedding of each value.
fn adm_vector(pooled: &Tensor, values: &[f64], size_dim: usize) -> Result<Tensor> {
    let b = pooled.dim(0)?;
    let n = values.len();
    let t = Tensor::from_vec(
        values.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        n,
        &Device::Cpu,
    )?
    .to_device(pooled.device())?;
    let e = timestep_embedding(&t, size_dim)?.reshape((1, n * size_dim))?;
    let e = e
        .broadcast_as((b, n * size_dim))?
        .to_dtype(pooled.dtype())?;
    Ok(Tensor::cat(&[pooled, &e], 1)?)
}

//! CLIP text encoders in the two layouts checkpoints carry them in.
//!
//! * Hugging Face `CLIPTextModel` names (`transformer.text_model.*`): CLIP-L
//!   in SD1.5 and SDXL (`quick_gelu`).
//! * OpenCLIP names (`model.*`, fused `in_proj` q/k/v, `text_projection`
//!   used as `x @ P`): OpenCLIP-H in SD2.x and OpenCLIP-G in SDXL (`gelu`).
//!
//! Both run the same pre-norm causal transformer; the layout only changes
//! names, the q/k/v split and the activation. Width, depth, MLP size,
//! vocabulary and positions are read from the shapes; heads are
//! width / 64 for every CLIP ever shipped with these families.
//!
//! Layer selection follows ComfyUI (`CLIPSetLastLayer`): `-1` is the last
//! layer, `-2` the penultimate; the final layer norm is applied to an
//! intermediate layer only when asked (SD1.5/SD2.x yes, SDXL no). The
//! pooled output is the final-normed last layer at the first end token.

use super::Result;
use super::layers::{attention, layer_norm, linear_b, merge_heads, split_heads};
use super::weights::{Weights, layout_error};
use candle_core::{D, DType, IndexOp, Module, Tensor};
use candle_nn::{LayerNorm, Linear};

/// Width of one attention head in every CLIP text tower.
pub const CLIP_HEAD_DIM: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipLayout {
    /// Hugging Face transformers names.
    Hf,
    /// OpenCLIP names with fused q/k/v.
    OpenClip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    QuickGelu,
    Gelu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClipConfig {
    pub layout: ClipLayout,
    pub vocab: usize,
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub mlp: usize,
    pub positions: usize,
    pub activation: Activation,
    /// Output width of the text projection, when the file has one.
    pub projection: Option<usize>,
}

impl ClipConfig {
    /// Reads the configuration from the shapes under `w`'s prefix
    /// (`...transformer` for the HF layout, `...model` for OpenCLIP).
    pub fn from_weights(w: &Weights, layout: ClipLayout) -> Result<Self> {
        let t = hf_root(w);
        let (emb, pos, layers, fc1, proj) = match layout {
            ClipLayout::Hf => (
                t.shape("embeddings.token_embedding.weight")?,
                t.shape("embeddings.position_embedding.weight")?,
                t.count("encoder.layers"),
                t.shape("encoder.layers.0.mlp.fc1.weight")?,
                if w.contains("text_projection.weight") {
                    Some(w.dim("text_projection.weight", 0)?)
                } else {
                    None
                },
            ),
            ClipLayout::OpenClip => (
                w.shape("token_embedding.weight")?,
                w.shape("positional_embedding")?,
                w.count("transformer.resblocks"),
                w.shape("transformer.resblocks.0.mlp.c_fc.weight")?,
                if w.contains("text_projection") {
                    Some(w.dim("text_projection", 1)?)
                } else {
                    None
                },
            ),
        };
        if emb.len() != 2 || pos.len() != 2 || fc1.len() != 2 || layers == 0 {
            return Err(layout_error(w, "unexpected CLIP embedding shapes"));
        }
        let width = emb[1];
        if width % CLIP_HEAD_DIM != 0 {
            return Err(layout_error(
                w,
                format!("CLIP width {width} is not a multiple of 64"),
            ));
        }
        Ok(Self {
            layout,
            vocab: emb[0],
            width,
            layers,
            heads: width / CLIP_HEAD_DIM,
            mlp: fc1[0],
            positions: pos[0],
            // OpenAI's CLIP-L (768 wide) uses quick_gelu; OpenCLIP's H
            // (1024) and G (1280) use gelu, also when saved in HF names
            // (ComfyUI's clip_g.safetensors).
            activation: match layout {
                ClipLayout::Hf if width < 1024 => Activation::QuickGelu,
                _ => Activation::Gelu,
            },
            projection: proj,
        })
    }
}

struct Block {
    ln1: LayerNorm,
    ln2: LayerNorm,
    qkv: QkvProj,
    out: Linear,
    fc1: Linear,
    fc2: Linear,
}

enum QkvProj {
    Separate(Linear, Linear, Linear),
    /// OpenCLIP's fused [3W, W] weight and [3W] bias.
    Fused(Linear),
}

/// A loaded CLIP text transformer.
pub struct ClipTextModel {
    config: ClipConfig,
    token_embedding: Tensor,
    position_embedding: Tensor,
    blocks: Vec<Block>,
    final_ln: LayerNorm,
    /// Applied as `pooled @ projection`: [W, P] (OpenCLIP), or the HF
    /// `Linear` weight [P, W] used transposed.
    projection: Option<(Tensor, bool)>,
}

/// What one encoder call returns.
pub struct ClipOutput {
    /// The selected layer ([b, n, W]): the last layer after the final layer
    /// norm, or an intermediate one (normed or not, as asked).
    pub hidden: Tensor,
    /// The final-normed last layer at the end token ([b, W]).
    pub pooled: Tensor,
    /// `pooled` through the text projection ([b, P]), when there is one.
    pub projected: Option<Tensor>,
}

const LN_EPS: f64 = 1e-5;

impl ClipTextModel {
    pub fn load(w: &Weights, layout: ClipLayout) -> Result<Self> {
        let config = ClipConfig::from_weights(w, layout)?;
        let (width, positions) = (config.width, config.positions);
        match layout {
            ClipLayout::Hf => {
                let t = hf_root(w);
                let blocks = (0..config.layers)
                    .map(|i| {
                        let l = t.pp(format!("encoder.layers.{i}"));
                        Ok(Block {
                            ln1: layer_norm(&l, "layer_norm1", LN_EPS)?,
                            ln2: layer_norm(&l, "layer_norm2", LN_EPS)?,
                            qkv: QkvProj::Separate(
                                linear_b(&l, "self_attn.q_proj")?,
                                linear_b(&l, "self_attn.k_proj")?,
                                linear_b(&l, "self_attn.v_proj")?,
                            ),
                            out: linear_b(&l, "self_attn.out_proj")?,
                            fc1: linear_b(&l, "mlp.fc1")?,
                            fc2: linear_b(&l, "mlp.fc2")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let projection = if config.projection.is_some() {
                    Some((w.get("text_projection.weight")?, true))
                } else {
                    None
                };
                Ok(Self {
                    token_embedding: t.get("embeddings.token_embedding.weight")?,
                    position_embedding: t
                        .get_shaped("embeddings.position_embedding.weight", &[positions, width])?,
                    blocks,
                    final_ln: layer_norm(&t, "final_layer_norm", LN_EPS)?,
                    projection,
                    config,
                })
            }
            ClipLayout::OpenClip => {
                let blocks = (0..config.layers)
                    .map(|i| {
                        let l = w.pp(format!("transformer.resblocks.{i}"));
                        let a = l.pp("attn");
                        let fused = Linear::new(
                            a.get_shaped("in_proj_weight", &[3 * width, width])?,
                            Some(a.get_shaped("in_proj_bias", &[3 * width])?),
                        );
                        Ok(Block {
                            ln1: layer_norm(&l, "ln_1", LN_EPS)?,
                            ln2: layer_norm(&l, "ln_2", LN_EPS)?,
                            qkv: QkvProj::Fused(fused),
                            out: linear_b(&l, "attn.out_proj")?,
                            fc1: linear_b(&l, "mlp.c_fc")?,
                            fc2: linear_b(&l, "mlp.c_proj")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let projection = if config.projection.is_some() {
                    Some((w.get("text_projection")?, false))
                } else {
                    None
                };
                Ok(Self {
                    token_embedding: w.get("token_embedding.weight")?,
                    position_embedding: w
                        .get_shaped("positional_embedding", &[positions, width])?,
                    blocks,
                    final_ln: layer_norm(w, "ln_final", LN_EPS)?,
                    projection,
                    config,
                })
            }
        }
    }

    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// Encodes token ids [b, n] (u32). `layer` is ComfyUI's choice:
    /// `None` is "last" (the final-normed last layer); `Some(i)` is
    /// "hidden" layer `i` (`-1` last, `-2` penultimate, or a layer number;
    /// an index beyond the depth falls back to "last", as in ComfyUI),
    /// final-normed only when `ln_hidden`. `eos` holds each row's
    /// end-token position for the pooled output.
    pub fn forward(
        &self,
        tokens: &Tensor,
        eos: &[usize],
        layer: Option<i32>,
        ln_hidden: bool,
    ) -> Result<ClipOutput> {
        self.forward_with(tokens, None, eos, layer, ln_hidden)
    }

    /// [`ClipTextModel::forward`] with `extra` input vectors [m, W]
    /// (textual-inversion embeddings): id `vocab + k` looks up row `k` of
    /// `extra` instead of the token table, as ComfyUI's older
    /// `set_up_textual_embeddings` appended them to it. The rest of the
    /// model sees them as any token's embedding.
    pub fn forward_with(
        &self,
        tokens: &Tensor,
        extra: Option<&Tensor>,
        eos: &[usize],
        layer: Option<i32>,
        ln_hidden: bool,
    ) -> Result<ClipOutput> {
        let (b, n) = tokens.dims2()?;
        if n > self.config.positions || eos.len() != b {
            return Err(super::ModelError::Invalid(format!(
                "CLIP input of {n} tokens (at most {}) with {} end positions for {b} rows",
                self.config.positions,
                eos.len()
            )));
        }
        let depth = self.blocks.len() as i32;
        let wanted = layer
            .filter(|l| l.abs() <= depth)
            .map(|l| if l < 0 { depth + l } else { l });
        let emb = self.embed(tokens, extra)?.reshape((b, n, ()))?;
        let mut x = emb.broadcast_add(&self.position_embedding.i(..n)?)?;
        let mask = causal_mask(n, x.dtype(), x.device())?;
        let mut hidden = None;
        for (i, blk) in self.blocks.iter().enumerate() {
            x = self.block(blk, &x, &mask)?;
            if Some(i as i32) == wanted {
                hidden = Some(x.clone());
            }
        }
        let last = self.final_ln.forward(&x)?;
        let hidden = match hidden {
            Some(h) if ln_hidden => self.final_ln.forward(&h)?,
            Some(h) => h,
            None => last.clone(),
        };
        let rows = eos
            .iter()
            .enumerate()
            .map(|(r, &e)| last.i((r, e.min(n - 1))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        let projected = match &self.projection {
            Some((p, true)) => Some(pooled.matmul(&p.t()?)?),
            Some((p, false)) => Some(pooled.matmul(p)?),
            None => None,
        };
        Ok(ClipOutput {
            hidden,
            pooled,
            projected,
        })
    }

    /// The input vectors of `tokens`, flattened: [b * n, W].
    fn embed(&self, tokens: &Tensor, extra: Option<&Tensor>) -> Result<Tensor> {
        let flat = tokens.flatten_all()?.to_dtype(DType::U32)?;
        let ids: Vec<u32> = flat.to_vec1()?;
        let vocab = self.config.vocab;
        let extra_rows = match extra {
            Some(e) => {
                let (m, w) = e.dims2()?;
                if w != self.config.width {
                    return Err(super::ModelError::Invalid(format!(
                        "embedding vectors of width {w} for a text encoder of width {}",
                        self.config.width
                    )));
                }
                m
            }
            None => 0,
        };
        let max = ids.iter().copied().max().unwrap_or(0) as usize;
        if max >= vocab + extra_rows {
            return Err(super::ModelError::Invalid(format!(
                "token id {max} is outside the {vocab}-token vocabulary{}",
                match extra_rows {
                    0 => String::new(),
                    m => format!(" and its {m} embedding vectors"),
                }
            )));
        }
        let extra = match extra {
            Some(e) if max >= vocab => e,
            _ => return Ok(self.token_embedding.embedding(&flat)?),
        };
        let dev = self.token_embedding.device();
        let vocab = vocab as u32;
        let tensor = |v: Vec<u32>| Tensor::from_vec(v, ids.len(), dev);
        let own = tensor(ids.iter().map(|&t| if t < vocab { t } else { 0 }).collect())?;
        let theirs = tensor(ids.iter().map(|&t| t.saturating_sub(vocab)).collect())?;
        let own = self.token_embedding.embedding(&own)?;
        let theirs = extra
            .to_device(dev)?
            .to_dtype(own.dtype())?
            .embedding(&theirs)?;
        let pick: Vec<u8> = ids.iter().map(|&t| u8::from(t >= vocab)).collect();
        let pick = Tensor::from_vec(pick, (ids.len(), 1), dev)?.broadcast_as(own.shape())?;
        Ok(pick.where_cond(&theirs, &own)?)
    }

    fn block(&self, blk: &Block, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let h = blk.ln1.forward(x)?;
        let (q, k, v) = match &blk.qkv {
            QkvProj::Separate(q, k, v) => (q.forward(&h)?, k.forward(&h)?, v.forward(&h)?),
            QkvProj::Fused(f) => {
                let qkv = f.forward(&h)?;
                let w = self.config.width;
                (
                    qkv.narrow(D::Minus1, 0, w)?,
                    qkv.narrow(D::Minus1, w, w)?,
                    qkv.narrow(D::Minus1, 2 * w, w)?,
                )
            }
        };
        let heads = self.config.heads;
        let a = attention(
            &split_heads(&q, heads)?,
            &split_heads(&k, heads)?,
            &split_heads(&v, heads)?,
            Some(mask),
        )?;
        let x = (x + blk.out.forward(&merge_heads(&a)?)?)?;
        let h = blk.fc1.forward(&blk.ln2.forward(&x)?)?;
        let h = match self.config.activation {
            Activation::QuickGelu => (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?,
            Activation::Gelu => h.gelu_erf()?,
        };
        Ok((x + blk.fc2.forward(&h)?)?)
    }
}

fn causal_mask(n: usize, dtype: DType, device: &candle_core::Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Ok(Tensor::from_vec(mask, (n, n), device)?.to_dtype(dtype)?)
}

/// The HF text tower: `text_model.*`, or directly under the prefix in
/// files saved with transformers before 4.x (old SD1.x checkpoints).
fn hf_root(w: &Weights) -> Weights {
    if w.contains_prefix("text_model") {
        w.pp("text_model")
    } else {
        w.clone()
    }
}

/// The position of the first `end` token of each row, or the last position.
pub fn end_positions(rows: &[Vec<u32>], end: u32) -> Vec<usize> {
    rows.iter()
        .map(|r| {
            r.iter()
                .position(|&t| t == end)
                .unwrap_or(r.len().saturating_sub(1))
        })
        .collect()
}

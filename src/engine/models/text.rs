//! From prompt to UNet conditioning, as ComfyUI's `encode_token_weights`.
//!
//! Each text encoder tokenises the prompt into rows of 77 with its own
//! padding, encodes all rows in one batch (plus, when any weight differs
//! from 1, the "empty" row), moves each weighted token away from the
//! empty row's output, `z = (z - z_empty) * w + z_empty`, and concatenates
//! the rows along the token axis. The pooled output is the first row's.
//! SDXL concatenates clip_l and clip_g along the channel axis (cut to the
//! shorter token count) and uses clip_g's projected pooled output.

use super::clip::{ClipTextModel, end_positions};
use super::prompt::Syntax;
use super::tokenizer::{self, Pad};
use super::{Family, Result};
use candle_core::{Device, IndexOp, Tensor};

/// A text encoder with ComfyUI's settings for its family.
pub struct Encoder {
    pub model: ClipTextModel,
    pub pad: Pad,
    /// `None` is "last"; `Some(i)` a hidden layer (ComfyUI's index).
    pub layer: Option<i32>,
    pub ln_hidden: bool,
}

/// What the UNet is conditioned on.
pub struct Conditioning {
    /// [1, 77 * rows, context_dim]
    pub context: Tensor,
    /// The pooled (projected where the encoder has a projection) output of
    /// the first row, [1, P]; the SDXL ADM vector starts with it.
    pub pooled: Option<Tensor>,
}

/// The text side of a checkpoint.
pub struct TextEncoders {
    pub family: Family,
    pub encoders: Vec<Encoder>,
    /// Weighting syntax; ComfyUI's by default.
    pub syntax: Syntax,
}

impl Encoder {
    /// Encodes a prompt at ComfyUI layer `layer`: ([1, 77*rows, W],
    /// pooled [1, P]).
    pub fn encode(
        &self,
        prompt: &str,
        layer: Option<i32>,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        self.encode_with(prompt, layer, Syntax::ComfyUi, device)
    }

    /// [`Encoder::encode`] with a choice of weighting syntax.
    pub fn encode_with(
        &self,
        prompt: &str,
        layer: Option<i32>,
        syntax: Syntax,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let rows = tokenizer::tokenize_weighted_with(prompt, self.pad, syntax);
        let has_weights = rows.iter().flatten().any(|&(_, w)| w != 1.0);
        let mut ids: Vec<Vec<u32>> = rows
            .iter()
            .map(|r| r.iter().map(|t| t.0).collect())
            .collect();
        if has_weights {
            ids.push(tokenizer::empty_row(self.pad));
        }
        let eos = end_positions(&ids, tokenizer::END);
        let n = ids[0].len();
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let tokens = Tensor::from_vec(flat, (ids.len(), n), device)?;
        let out = self.model.forward(&tokens, &eos, layer, self.ln_hidden)?;
        let hidden = out.hidden;
        let mut parts = Vec::with_capacity(rows.len());
        for (k, row) in rows.iter().enumerate() {
            let mut z = hidden.i(k)?;
            if has_weights {
                let empty = hidden.i(ids.len() - 1)?;
                let w: Vec<f32> = row.iter().map(|&(_, w)| w as f32).collect();
                // ComfyUI touches only tokens whose weight is not 1.
                let keep: Vec<u8> = row.iter().map(|&(_, w)| u8::from(w == 1.0)).collect();
                let w = Tensor::from_vec(w, (n, 1), device)?.to_dtype(z.dtype())?;
                let keep = Tensor::from_vec(keep, (n, 1), device)?.broadcast_as(z.shape())?;
                let moved = ((&z - &empty)?.broadcast_mul(&w)? + &empty)?;
                z = keep.where_cond(&z, &moved)?;
            }
            parts.push(z);
        }
        let context = Tensor::cat(&parts, 0)?.unsqueeze(0)?;
        let pooled = out.projected.unwrap_or(out.pooled).i(0..1)?;
        Ok((context, pooled))
    }
}

impl TextEncoders {
    /// Encodes `prompt` for the UNet. `clip_skip`, when given, overrides
    /// the family's layer as ComfyUI's `CLIPSetLastLayer` (`-1` last, `-2`
    /// penultimate, ...).
    pub fn encode(
        &self,
        prompt: &str,
        clip_skip: Option<i32>,
        device: &Device,
    ) -> Result<Conditioning> {
        let mut contexts = Vec::new();
        let mut pooled = None;
        for enc in &self.encoders {
            let layer = clip_skip.map_or(enc.layer, Some);
            let (c, p) = enc.encode_with(prompt, layer, self.syntax, device)?;
            contexts.push(c);
            pooled = Some(p);
        }
        let context = if contexts.len() == 1 {
            contexts.remove(0)
        } else {
            let cut = contexts
                .iter()
                .map(|c| c.dim(1))
                .collect::<candle_core::Result<Vec<_>>>()?;
            let cut = cut.into_iter().min().unwrap_or(0);
            let parts = contexts
                .iter()
                .map(|c| c.narrow(1, 0, cut))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::cat(&parts, 2)?
        };
        Ok(Conditioning {
            context,
            pooled: if self.family.spec().adm_values > 0 {
                pooled
            } else {
                None
            },
        })
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Batches contexts of different token lengths (a long prompt with a short
/// negative) as ComfyUI does for CFG (`CONDCrossAttn.concat`): each is
/// repeated along the token axis to the least common multiple of the
/// lengths, then they are stacked on the batch axis. Repeating every key
/// k times leaves cross-attention's output unchanged (each softmax weight
/// is divided by k and summed k times).
pub fn batch_contexts(contexts: &[&Tensor]) -> Result<Tensor> {
    let lens = contexts
        .iter()
        .map(|c| c.dim(1))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let lcm = lens.iter().fold(
        1,
        |acc, &n| if n == 0 { acc } else { acc / gcd(acc, n) * n },
    );
    let parts = contexts
        .iter()
        .zip(&lens)
        .map(|(c, &n)| {
            if n == 0 || n == lcm {
                Ok((*c).clone())
            } else {
                c.repeat((1, lcm / n, 1))
            }
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok(Tensor::cat(&parts, 0)?)
}

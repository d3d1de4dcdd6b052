//! From prompt to UNet conditioning, as ComfyUI's `encode_token_weights`.
//!
//! Each text encoder tokenises the prompt into rows of 77 with its own
//! padding, encodes all rows in one batch (plus, when any weight differs
//! from 1, the "empty" row), moves each weighted token away from the
//! empty row's output, `z = (z - z_empty) * w + z_empty`, and concatenates
//! the rows along the token axis. The pooled output is the first row's.
//! SDXL concatenates clip_l and clip_g along the channel axis (cut to the
//! shorter token count) and uses clip_g's projected pooled output.
//!
//! Textual-inversion embeddings ([`TextEncoders::embeddings`]) are spliced
//! as ComfyUI's `process_tokens` does: each vector takes one position of
//! the rows (and the weight of its bracket group), given to the model as
//! ids past the vocabulary that index an extra table of the vectors
//! ([`ClipTextModel::forward_with`]). Each encoder takes the vectors of
//! its slot (clip_l, clip_h, clip_g); one without vectors of its width
//! leaves the embedding out (see [`Encoder::encode_embedded`]), and
//! [`TextEncoders::embeddings_in`] reports it.
//!
//! ```no_run
//! # use gen_core::engine::{embedding::Embedding, models::{Checkpoint, LoadOptions}};
//! # fn main() -> anyhow::Result<()> {
//! # let ckpt = Checkpoint::open("model.safetensors".as_ref(), None)?;
//! # let opts = LoadOptions::default();
//! let ti = Embedding::load("embeddings/EasyNegative.safetensors".as_ref())?;
//! let text = ckpt.text_encoders(&opts)?.with_embeddings(vec![ti]);
//! let negative = "embedding:EasyNegative, blurry";
//! let used = text.embeddings_in(negative); // names for the PNG, warnings to print
//! let uncond = text.encode(negative, None, &opts.device)?;
//! # let _ = (used, uncond);
//! # Ok(()) }
//! ```

use super::clip::{ClipTextModel, end_positions};
use super::prompt::Syntax;
use super::tokenizer::{self, Pad, Tok};
use super::{Family, Result};
use crate::engine::embedding::{Embedding, Slot};
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
    /// Textual-inversion embeddings prompts may use, by `embedding:NAME`
    /// (ComfyUI) or by bare name as a whole word (A1111); see
    /// [`TextEncoders::with_embeddings`].
    pub embeddings: Vec<Embedding>,
}

/// What a prompt does with the available embeddings
/// ([`TextEncoders::embeddings_in`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbeddingsUsed {
    /// Embeddings spliced into at least one encoder, by
    /// [`Embedding::name`], in prompt order, each once (for the PNG
    /// metadata).
    pub names: Vec<String>,
    /// What ComfyUI warns about: `embedding:NAME` references to no
    /// available embedding (dropped), and embeddings left out of an
    /// encoder that has no vectors of their width.
    pub warnings: Vec<String>,
}

/// One encoder's input for a prompt.
struct Plan {
    ids: Vec<Vec<u32>>,
    weights: Vec<Vec<f64>>,
    /// Embeddings the prompt names, in its order; of them, those spliced
    /// (their vectors, concatenated in this order, are the extra table)
    /// and those left out for their width.
    referenced: Vec<usize>,
    used: Vec<usize>,
    mismatched: Vec<usize>,
    missing: Vec<String>,
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
        self.encode_embedded(prompt, layer, syntax, &[], Slot::L, device)
    }

    /// [`Encoder::encode_with`] with textual-inversion `embeddings`, this
    /// encoder taking the vectors of `slot`, as ComfyUI's
    /// `SDClipModel.process_tokens`: each vector takes one position of
    /// the rows. An embedding whose vectors are not of this encoder's
    /// width still took its positions when the rows were packed; here
    /// they are removed, the rest of the row moves left and padding fills
    /// the end, while the weights stay where the tokenizer put them
    /// (ComfyUI's exact behaviour).
    pub fn encode_embedded(
        &self,
        prompt: &str,
        layer: Option<i32>,
        syntax: Syntax,
        embeddings: &[Embedding],
        slot: Slot,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let plan = self.plan(prompt, syntax, embeddings, slot);
        let has_weights = plan.weights.iter().flatten().any(|&w| w != 1.0);
        let mut ids = plan.ids;
        if has_weights {
            ids.push(tokenizer::empty_row(self.pad));
        }
        let eos = end_positions(&ids, tokenizer::END);
        let n = ids[0].len();
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let tokens = Tensor::from_vec(flat, (ids.len(), n), device)?;
        let extra = match plan.used.as_slice() {
            [] => None,
            table => {
                let sets = table
                    .iter()
                    .filter_map(|&e| embeddings[e].vectors_in(slot))
                    .collect::<Vec<_>>();
                Some(Tensor::cat(&sets, 0)?)
            }
        };
        let out = self
            .model
            .forward_with(&tokens, extra.as_ref(), &eos, layer, self.ln_hidden)?;
        let hidden = out.hidden;
        let mut parts = Vec::with_capacity(plan.weights.len());
        for (k, row) in plan.weights.iter().enumerate() {
            let mut z = hidden.i(k)?;
            if has_weights {
                let empty = hidden.i(ids.len() - 1)?;
                let w: Vec<f32> = row.iter().map(|&w| w as f32).collect();
                // ComfyUI touches only tokens whose weight is not 1.
                let keep: Vec<u8> = row.iter().map(|&w| u8::from(w == 1.0)).collect();
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

    /// Tokenises `prompt` and lays this encoder's ids out: vocabulary ids,
    /// and `vocab + k` for row `k` of the extra table (the spliced
    /// embeddings' vectors, concatenated).
    fn plan(&self, prompt: &str, syntax: Syntax, embeddings: &[Embedding], slot: Slot) -> Plan {
        let config = self.model.config();
        let sets: Vec<Option<&Tensor>> = embeddings.iter().map(|e| e.vectors_in(slot)).collect();
        let named: Vec<(&str, usize)> = embeddings
            .iter()
            .zip(&sets)
            .map(|(e, v)| (e.name.as_str(), v.and_then(|t| t.dim(0).ok()).unwrap_or(0)))
            .collect();
        let fits = |e: usize| sets[e].is_some_and(|t| t.dim(1).ok() == Some(config.width));
        let tokenized = tokenizer::tokenize(prompt, self.pad, syntax, &named);
        let referenced = tokenized.used;
        let (used, mismatched): (Vec<usize>, Vec<usize>) =
            referenced.iter().partition(|&&e| fits(e));
        let mut offsets = vec![0u32; embeddings.len()];
        let mut next = config.vocab as u32;
        for &e in &used {
            offsets[e] = next;
            next += named[e].1 as u32;
        }
        let pad = self.pad.token();
        let mut ids = Vec::with_capacity(tokenized.rows.len());
        let mut weights = Vec::with_capacity(tokenized.rows.len());
        for row in &tokenized.rows {
            let mut r: Vec<u32> = row
                .iter()
                .filter_map(|&(t, _)| match t {
                    Tok::Id(id) => Some(id),
                    Tok::Vector { embedding, index } => {
                        fits(embedding).then(|| offsets[embedding] + index as u32)
                    }
                })
                .collect();
            r.resize(row.len(), pad);
            ids.push(r);
            weights.push(row.iter().map(|&(_, w)| w).collect());
        }
        Plan {
            ids,
            weights,
            referenced,
            used,
            mismatched,
            missing: tokenized.missing,
        }
    }
}

/// ComfyUI's `embedding_key` of each text encoder of a family, in order.
fn slots(family: Family) -> &'static [Slot] {
    match family {
        Family::Sd15 => &[Slot::L],
        Family::Sd2 => &[Slot::H],
        Family::Sdxl => &[Slot::L, Slot::G],
        Family::SdxlRefiner => &[Slot::G],
    }
}

impl TextEncoders {
    /// These encoders with the textual-inversion `embeddings` available to
    /// prompts (replacing any given before).
    pub fn with_embeddings(mut self, embeddings: Vec<Embedding>) -> Self {
        self.embeddings = embeddings;
        self
    }

    fn slot(&self, encoder: usize) -> Slot {
        slots(self.family).get(encoder).copied().unwrap_or(Slot::L)
    }

    /// Encodes `prompt` for the UNet, splicing the [`Self::embeddings`] it
    /// names. `clip_skip`, when given, overrides the family's layer as
    /// ComfyUI's `CLIPSetLastLayer` (`-1` last, `-2` penultimate, ...).
    pub fn encode(
        &self,
        prompt: &str,
        clip_skip: Option<i32>,
        device: &Device,
    ) -> Result<Conditioning> {
        let mut contexts = Vec::new();
        let mut pooled = None;
        for (i, enc) in self.encoders.iter().enumerate() {
            let layer = clip_skip.map_or(enc.layer, Some);
            let (c, p) = enc.encode_embedded(
                prompt,
                layer,
                self.syntax,
                &self.embeddings,
                self.slot(i),
                device,
            )?;
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

    /// The embeddings [`TextEncoders::encode`] splices into `prompt`, and
    /// the warnings ComfyUI would print for it. Only tokenises; call it
    /// for the prompt and the negative.
    pub fn embeddings_in(&self, prompt: &str) -> EmbeddingsUsed {
        let mut report = EmbeddingsUsed::default();
        // In prompt order: each encoder's references, spliced or not.
        let mut referenced: Vec<usize> = Vec::new();
        let mut spliced = vec![false; self.embeddings.len()];
        for (i, enc) in self.encoders.iter().enumerate() {
            let slot = self.slot(i);
            let plan = enc.plan(prompt, self.syntax, &self.embeddings, slot);
            for &e in &plan.used {
                spliced[e] = true;
            }
            for e in plan.referenced {
                if !referenced.contains(&e) {
                    referenced.push(e);
                }
            }
            if i == 0 {
                report.warnings.extend(
                    plan.missing.iter().map(|n| {
                        format!("embedding:{n} names no available embedding; it is ignored")
                    }),
                );
            }
            let width = enc.model.config().width;
            report.warnings.extend(plan.mismatched.iter().map(|&e| {
                format!(
                    "embedding {} has no vectors of width {width} for {}; it is left out of that text encoder",
                    self.embeddings[e].name,
                    slot.name()
                )
            }));
        }
        report.names = referenced
            .into_iter()
            .filter(|&e| spliced[e])
            .map(|e| self.embeddings[e].name.clone())
            .collect();
        report
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

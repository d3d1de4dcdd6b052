//! Textual-inversion embeddings: their vectors, and where a prompt uses them.
//!
//! An embedding is a few learned token vectors of a text encoder's width:
//! 768 for CLIP-L (SD1.x, SDXL's first encoder), 1024 for OpenCLIP-H
//! (SD2.x), 1280 for OpenCLIP-G (SDXL's second encoder). Files come as
//! `emb_params` [n, w] (A1111 converted to safetensors), `string_to_param.*`
//! (A1111's own layout, stored as safetensors), a single tensor of any name
//! (diffusers), or SDXL's `clip_l` [n, 768] + `clip_g` [n, 1280] pair.
//! [`Embedding`] keeps the vectors by encoder, as f32; each text encoder
//! takes the set of its [`Slot`] and splices it in place of the reference
//! (`models::text`), and leaves out an embedding that has no vectors of
//! its width (as ComfyUI does, with a warning).
//!
//! Pickle files (`.pt`, `.bin`) are never unpickled: loading them could run
//! arbitrary code. They are refused with an error that says to convert them.
//!
//! In prompts, [`find_in_prompt`] finds ComfyUI's `embedding:name` and
//! A1111's bare names (`EasyNegative`), matched as A1111 does: whole words,
//! ignoring ASCII case (CLIP lowercases the prompt). The trade-off of bare
//! names is A1111's: an embedding named like a common word is used wherever
//! that word appears.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

/// Widths of the text encoders embeddings are made for.
pub const WIDTH_L: usize = 768;
pub const WIDTH_H: usize = 1024;
pub const WIDTH_G: usize = 1280;

/// What can go wrong reading an embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    #[error(
        "{path} is a pickle file; only .safetensors embeddings are read (unpickling can run code) — convert it to safetensors"
    )]
    Pickle { path: String },
    #[error("cannot read embedding {path}: {source}")]
    Read {
        path: String,
        source: candle_core::Error,
    },
    #[error("embedding {path}: {detail}")]
    Layout { path: String, detail: String },
}

/// One textual-inversion embedding's vectors, per text encoder, each
/// [n, width] in f32.
#[derive(Debug, Clone)]
pub struct Embedding {
    /// The name prompts use: the file name without extension.
    pub name: String,
    /// CLIP-L vectors [n, 768].
    pub vectors_l: Option<Tensor>,
    /// OpenCLIP-G vectors [n, 1280].
    pub vectors_g: Option<Tensor>,
    /// OpenCLIP-H vectors [n, 1024].
    pub vectors_h: Option<Tensor>,
}

impl Embedding {
    /// Reads an embedding file; its name is the file stem.
    pub fn load(path: &Path) -> Result<Embedding, EmbeddingError> {
        let shown = path.display().to_string();
        if crate::engine::lora::is_pickle(path) {
            return Err(EmbeddingError::Pickle { path: shown });
        }
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|source| {
            EmbeddingError::Read {
                path: shown.clone(),
                source,
            }
        })?;
        let name = path
            .file_stem()
            .map_or_else(|| shown.clone(), |s| s.to_string_lossy().into_owned());
        Embedding::from_tensors(&name, tensors).map_err(|detail| EmbeddingError::Layout {
            path: shown,
            detail,
        })
    }

    /// The embedding held by these tensors (a safetensors file's contents).
    pub fn from_tensors(name: &str, tensors: HashMap<String, Tensor>) -> Result<Embedding, String> {
        let mut embedding = Embedding {
            name: name.to_string(),
            vectors_l: None,
            vectors_g: None,
            vectors_h: None,
        };
        if tensors.contains_key("clip_l") || tensors.contains_key("clip_g") {
            for key in ["clip_l", "clip_g"] {
                if let Some(t) = tensors.get(key) {
                    embedding.put(key, t)?;
                }
            }
            return Ok(embedding);
        }
        let (key, tensor) = pick(&tensors)?;
        embedding.put(&key, &tensor)?;
        Ok(embedding)
    }

    /// The vectors a text encoder in `slot` is given, as ComfyUI's
    /// `load_embed` with the encoder's `embedding_key`: the slot's own set,
    /// else the file's other one. The encoder counts their positions in its
    /// rows either way and splices them only when their width is its own
    /// (ComfyUI's "shape mismatch": a 768 SD1.5 embedding on SDXL's clip_g).
    pub fn vectors_in(&self, slot: Slot) -> Option<&Tensor> {
        let own = match slot {
            Slot::L => &self.vectors_l,
            Slot::H => &self.vectors_h,
            Slot::G => &self.vectors_g,
        };
        own.as_ref()
            .or(self.vectors_l.as_ref())
            .or(self.vectors_g.as_ref())
            .or(self.vectors_h.as_ref())
    }

    /// Number of token vectors (what one use of it costs in the 77-token
    /// window).
    pub fn tokens(&self) -> usize {
        [&self.vectors_l, &self.vectors_g, &self.vectors_h]
            .into_iter()
            .flatten()
            .map(|t| t.dim(0).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    fn put(&mut self, key: &str, tensor: &Tensor) -> Result<(), String> {
        let vectors = as_vectors(key, tensor)?;
        let width = vectors.dim(1).map_err(|e| e.to_string())?;
        // SDXL pairs go by their key; a single tensor by its width. One of
        // a width no released encoder has is kept as it is, as ComfyUI
        // keeps it: the encoders leave it out with a warning, each whose
        // width differs.
        let slot = match (key, width) {
            ("clip_l", _) => &mut self.vectors_l,
            ("clip_g", _) => &mut self.vectors_g,
            (_, WIDTH_H) => &mut self.vectors_h,
            (_, WIDTH_G) => &mut self.vectors_g,
            _ => &mut self.vectors_l,
        };
        *slot = Some(vectors);
        Ok(())
    }
}

/// The one tensor holding the vectors: `emb_params`, the first
/// `string_to_param.*`, or the only tensor of the file.
fn pick(tensors: &HashMap<String, Tensor>) -> Result<(String, Tensor), String> {
    if let Some(t) = tensors.get("emb_params") {
        return Ok(("emb_params".into(), t.clone()));
    }
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    if let Some(n) = names.iter().find(|n| n.starts_with("string_to_param.")) {
        return Ok(((*n).clone(), tensors[*n].clone()));
    }
    let floats: Vec<&&String> = names
        .iter()
        .filter(|n| tensors[**n].dtype().is_float())
        .collect();
    match floats.as_slice() {
        [only] => Ok(((**only).clone(), tensors[**only].clone())),
        [] => Err("no tensor of vectors in the file".into()),
        many => Err(format!(
            "{} tensors and none is emb_params, string_to_param.* or clip_l/clip_g: {}",
            many.len(),
            many.iter()
                .take(5)
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A tensor as [n, width] f32: a single vector [w] becomes [1, w]; leading
/// dimensions ([1, n, w]) are folded into n.
fn as_vectors(key: &str, tensor: &Tensor) -> Result<Tensor, String> {
    let dims = tensor.dims();
    let Some(&width) = dims.last() else {
        return Err(format!("{key} is a scalar, not vectors"));
    };
    if width == 0 || tensor.elem_count() == 0 {
        return Err(format!("{key} is empty ({dims:?})"));
    }
    let n = tensor.elem_count() / width;
    tensor
        .reshape((n, width))
        .and_then(|t| t.to_dtype(DType::F32))
        .map_err(|e| format!("{key}: {e}"))
}

/// Which text encoder an embedding's vectors are for: ComfyUI's
/// `embedding_key` (`clip_l` for SD1.x and SDXL's first encoder, `clip_h`
/// for SD2.x, `clip_g` for SDXL's second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    L,
    H,
    G,
}

impl Slot {
    /// The key as ComfyUI and SDXL embedding files name it.
    pub fn name(self) -> &'static str {
        match self {
            Slot::L => "clip_l",
            Slot::H => "clip_h",
            Slot::G => "clip_g",
        }
    }

    /// The released encoders' width in this slot.
    pub fn width(self) -> usize {
        match self {
            Slot::L => WIDTH_L,
            Slot::H => WIDTH_H,
            Slot::G => WIDTH_G,
        }
    }
}

/// How a prompt named an embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// ComfyUI's `embedding:name`.
    Prefixed,
    /// A1111's bare file name.
    Bare,
}

/// One use of an embedding in a prompt: the bytes `range` of the prompt
/// are to be replaced by the vectors of the embedding `name` (spelled as in
/// the available list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingUse {
    pub range: Range<usize>,
    pub name: String,
    pub syntax: Syntax,
}

/// What [`find_in_prompt`] found: the uses to splice, in prompt order, and
/// `embedding:name` references to no available embedding (ComfyUI warns and
/// drops those).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptEmbeddings {
    pub uses: Vec<EmbeddingUse>,
    pub missing: Vec<(Range<usize>, String)>,
}

const PREFIX: &str = "embedding:";
const EXTENSIONS: &[&str] = &[".safetensors", ".pt", ".bin"];

/// Finds the embeddings a prompt uses among the `available` names (file
/// names without extension).
pub fn find_in_prompt(prompt: &str, available: &[&str]) -> PromptEmbeddings {
    let mut found = PromptEmbeddings::default();
    prefixed(prompt, available, &mut found);
    bare(prompt, available, &mut found);
    found.uses.sort_by_key(|u| u.range.start);
    found
}

/// `embedding:name`, the name running to a space, comma, bracket or colon.
fn prefixed(prompt: &str, available: &[&str], found: &mut PromptEmbeddings) {
    let lower = prompt.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(PREFIX).map(|i| i + from) {
        let start_ok = prompt[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let name_start = at + PREFIX.len();
        let len = prompt[name_start..]
            .find(|c: char| c.is_whitespace() || ",()[]{}:".contains(c))
            .unwrap_or(prompt.len() - name_start);
        let end = name_start + len;
        from = end.max(at + 1);
        if !start_ok || len == 0 {
            continue;
        }
        let written = &prompt[name_start..end];
        match resolve(written, available) {
            Some(i) => found.uses.push(EmbeddingUse {
                range: at..end,
                name: available[i].to_string(),
                syntax: Syntax::Prefixed,
            }),
            None => found.missing.push((at..end, written.to_string())),
        }
    }
}

/// The index of the available name a written one refers to: exact, then
/// ignoring ASCII case, each also without a file extension (`.safetensors`,
/// `.pt`, `.bin`, as ComfyUI's `embedding:name.pt`).
pub fn resolve(written: &str, available: &[&str]) -> Option<usize> {
    let stem = EXTENSIONS
        .iter()
        .find_map(|e| {
            let cut = written.len().checked_sub(e.len())?;
            let tail = written.get(cut..)?;
            tail.eq_ignore_ascii_case(e).then(|| &written[..cut])
        })
        .unwrap_or(written);
    [written, stem].into_iter().find_map(|candidate| {
        available.iter().position(|n| *n == candidate).or_else(|| {
            available
                .iter()
                .position(|n| n.eq_ignore_ascii_case(candidate))
        })
    })
}

/// Bare names as whole words, ignoring ASCII case, outside the prefixed
/// uses; the longest name wins where two overlap.
fn bare(prompt: &str, available: &[&str], found: &mut PromptEmbeddings) {
    let lower = prompt.to_ascii_lowercase();
    let taken: Vec<Range<usize>> = found
        .uses
        .iter()
        .map(|u| u.range.clone())
        .chain(found.missing.iter().map(|(r, _)| r.clone()))
        .collect();
    let mut names: Vec<&str> = available.to_vec();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut claimed = taken;
    for name in names {
        let needle = name.to_ascii_lowercase();
        if needle.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(at) = lower[from..].find(&needle).map(|i| i + from) {
            let end = at + needle.len();
            from = at + lower[at..].chars().next().map_or(1, char::len_utf8);
            let before = prompt[..at].chars().next_back();
            let after = prompt[end..].chars().next();
            let whole = before.is_none_or(|c| !is_word(c)) && after.is_none_or(|c| !is_word(c));
            let free = claimed.iter().all(|r| end <= r.start || at >= r.end);
            if whole && free {
                claimed.push(at..end);
                found.uses.push(EmbeddingUse {
                    range: at..end,
                    name: name.to_string(),
                    syntax: Syntax::Bare,
                });
            }
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

#[cfg(test)]
mod tests;

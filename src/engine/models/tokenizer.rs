//! CLIP tokenisation with ComfyUI's conventions (`SDTokenizer`).
//!
//! The BPE vocabulary is OpenAI's `bpe_simple_vocab_16e6`, compiled into
//! the binary by the `instant-clip-tokenizer` crate; nothing is read or
//! downloaded at run time. Text is lower-cased and split with CLIP's regex;
//! ftfy's text repair and HTML unescaping are not applied (they change only
//! mojibake and `&amp;`-style entities).
//!
//! Each weighted piece of the prompt ([`super::prompt`]) is tokenised as a
//! whole and the pieces are packed into rows of 77: start token, up to 75
//! tokens, end token, padding. A piece shorter than 8 tokens that does not
//! fit in the current row moves whole to the next row; a longer one is
//! split. clip_l pads with the end token, OpenCLIP-H and -G with 0.

use super::prompt;
use instant_clip_tokenizer::{Token, Tokenizer};
use std::sync::OnceLock;

pub const START: u32 = 49406;
pub const END: u32 = 49407;
pub const ROW: usize = 77;
/// ComfyUI's `max_word_length`: pieces this long may be split across rows.
const MAX_WORD: usize = 8;
/// ComfyUI's `embedding_identifier`: text is split before it.
const EMBEDDING: &str = "embedding:";

fn bpe() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(Tokenizer::new)
}

/// Plain BPE ids of `text`, without start or end token.
pub fn encode(text: &str) -> Vec<u32> {
    let mut out: Vec<Token> = Vec::new();
    bpe().encode(text, &mut out);
    out.into_iter().map(|t| u32::from(t.to_u16())).collect()
}

/// Which padding token a text encoder's rows use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pad {
    /// clip_l (SD1.5, SDXL): the end token.
    End,
    /// OpenCLIP-H (SD2.x) and clip_g (SDXL): 0.
    Zero,
}

impl Pad {
    pub fn token(self) -> u32 {
        match self {
            Pad::End => END,
            Pad::Zero => 0,
        }
    }
}

/// Rows of 77 (token, weight) pairs.
pub type Rows = Vec<Vec<(u32, f64)>>;

/// Splits on ComfyUI's `embedding:` marker where it follows whitespace.
fn split_embeddings(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut last = 0;
    let mut from = 0;
    while let Some(pos) = s[from..].find(EMBEDDING).map(|p| p + from) {
        let after_space = s[..pos]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace);
        if after_space {
            parts.push(s[last..pos].to_string());
            last = pos;
        }
        from = pos + EMBEDDING.len();
    }
    parts.push(s[last..].to_string());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// What ComfyUI does with `embedding:NAME` when NAME is not a textual
/// inversion it can load (we load none yet): the name is dropped (with a
/// warning there, see [`embedding_names`]) and the text after it is
/// tokenised. Returns (name, leftover text), as `_try_get_embedding`.
fn embedding_leftover(rest: &str) -> (String, Option<String>) {
    let rest = rest.trim_matches('\n');
    let mut words = rest.split_whitespace();
    let mut name = words.next().unwrap_or("").to_string();
    let mut leftover = words.collect::<Vec<_>>().join(" ");
    if let Some(cut) = name.find(['<', '[']) {
        leftover = if leftover.is_empty() {
            name[cut..].to_string()
        } else {
            format!("{} {leftover}", &name[cut..])
        };
        name.truncate(cut);
    }
    let stripped = name.trim_matches(',');
    if stripped.len() < name.len() {
        // ComfyUI retries without commas and keeps the name's tail
        // (`name[len(stripped):]`) in front of the leftover.
        leftover = format!("{} {leftover}", &name[stripped.len()..]);
    }
    let leftover = (!leftover.is_empty()).then_some(leftover);
    (name, leftover)
}

/// The `embedding:NAME` references of a prompt (textual inversions), which
/// ComfyUI would load and we drop; a caller warns about them.
pub fn embedding_names(text: &str) -> Vec<String> {
    prompt::parse(text)
        .iter()
        .flat_map(|p| split_embeddings(&p.text))
        .filter_map(|w| w.strip_prefix(EMBEDDING).map(|r| embedding_leftover(r).0))
        .collect()
}

/// Tokenises a prompt into rows as ComfyUI's `tokenize_with_weights`.
pub fn tokenize_weighted(text: &str, pad: Pad) -> Rows {
    tokenize_weighted_with(text, pad, prompt::Syntax::ComfyUi)
}

/// [`tokenize_weighted`] with a choice of weighting syntax.
pub fn tokenize_weighted_with(text: &str, pad: Pad, syntax: prompt::Syntax) -> Rows {
    let mut groups: Vec<Vec<(u32, f64)>> = Vec::new();
    for piece in prompt::parse_with(text, syntax) {
        for word in split_embeddings(&piece.text) {
            let word = match word.strip_prefix(EMBEDDING) {
                Some(rest) => match embedding_leftover(rest) {
                    (_, Some(leftover)) => leftover,
                    (_, None) => continue,
                },
                None => word,
            };
            groups.push(
                encode(&word)
                    .into_iter()
                    .map(|t| (t, piece.weight))
                    .collect(),
            );
        }
    }
    let pad = pad.token();
    let mut rows: Rows = Vec::new();
    let mut row = vec![(START, 1.0)];
    for mut group in groups {
        let large = group.len() >= MAX_WORD;
        while !group.is_empty() {
            if group.len() + row.len() > ROW - 1 {
                let remaining = ROW - row.len() - 1;
                if large {
                    let rest = group.split_off(remaining);
                    row.extend(group);
                    group = rest;
                    row.push((END, 1.0));
                } else {
                    row.push((END, 1.0));
                    row.resize(ROW, (pad, 1.0));
                }
                rows.push(std::mem::replace(&mut row, vec![(START, 1.0)]));
            } else {
                row.append(&mut group);
            }
        }
    }
    row.push((END, 1.0));
    row.resize(ROW.max(row.len()), (pad, 1.0));
    rows.push(row);
    rows
}

/// The row ComfyUI encodes as "empty" for weighting: start, end, padding.
pub fn empty_row(pad: Pad) -> Vec<u32> {
    let mut r = vec![START, END];
    r.resize(ROW, pad.token());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids() {
        // From the instant-clip-tokenizer documentation and OpenAI's vocab.
        assert_eq!(encode("Hi there"), vec![1883, 997]);
    }

    #[test]
    fn rows_are_padded_per_encoder() {
        let l = tokenize_weighted("a red fox", Pad::End);
        let g = tokenize_weighted("a red fox", Pad::Zero);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].len(), ROW);
        assert_eq!(l[0][0].0, START);
        let ids: Vec<u32> = l[0].iter().map(|t| t.0).collect();
        assert_eq!(&ids[1..4], encode("a red fox").as_slice());
        assert_eq!(ids[4], END);
        assert!(ids[5..].iter().all(|&t| t == END));
        let gids: Vec<u32> = g[0].iter().map(|t| t.0).collect();
        assert_eq!(gids[4], END);
        assert!(gids[5..].iter().all(|&t| t == 0));
    }

    #[test]
    fn missing_embeddings_are_dropped_like_comfyui() {
        let ids = |t: &str| -> Vec<u32> {
            tokenize_weighted(t, Pad::End)[0]
                .iter()
                .map(|x| x.0)
                .take_while(|&x| x != END)
                .skip(1)
                .collect()
        };
        assert_eq!(ids("a embedding:foo cat"), ids("a cat"));
        assert_eq!(ids("a embedding:foo"), ids("a "));
        // Only after whitespace: "xembedding:foo" is text.
        assert_ne!(ids("xembedding:foo"), ids("x"));
        assert_eq!(
            embedding_names("a embedding:foo cat, (embedding:bar:1.2)"),
            ["foo", "bar"]
        );
        assert_eq!(embedding_names("a embedding:easyneg[x]"), ["easyneg"]);
    }

    #[test]
    fn long_prompts_make_rows_of_75() {
        // 100 one-token pieces would not be split; one 100-token piece is.
        let text = "cat ".repeat(100);
        let rows = tokenize_weighted(&text, Pad::End);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == ROW));
        assert_eq!(rows[0][76].0, END);
        let first: usize = rows[0]
            .iter()
            .filter(|t| t.0 != START && t.0 != END)
            .count();
        assert_eq!(first, 75);
    }

    #[test]
    fn short_piece_moves_whole_to_next_row() {
        // 74 tokens, then a weighted 3-token piece that does not fit.
        let text = format!("{}(red fox cub:1.2)", "cat ".repeat(74));
        let rows = tokenize_weighted(&text, Pad::End);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][75].0, END);
        assert_eq!(rows[1][1].1, 1.2);
        assert_eq!(rows[1][3].1, 1.2);
        assert_eq!(rows[1][4].0, END);
    }
}

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
//!
//! Textual-inversion embeddings named in the prompt (ComfyUI's
//! `embedding:NAME`, A1111's bare names) become groups of [`Tok::Vector`]
//! positions, one per vector; references to no available embedding are
//! dropped, their leftover text kept, as ComfyUI does.

use super::prompt;
use crate::engine::embedding;
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

/// One position of a row: a vocabulary token, or vector `index` of the
/// textual-inversion embedding `embedding` (its place in the list given
/// to [`tokenize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Id(u32),
    Vector { embedding: usize, index: usize },
}

/// Rows of 77 (position, weight) pairs.
pub type Rows = Vec<Vec<(Tok, f64)>>;

/// A prompt tokenised by [`tokenize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenized {
    pub rows: Rows,
    /// The embeddings spliced (indices into the list given), in prompt
    /// order, each once.
    pub used: Vec<usize>,
    /// `embedding:NAME` references to none of them, as written (commas
    /// stripped): dropped, as ComfyUI does with a warning.
    pub missing: Vec<String>,
}

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

/// Splits what follows `embedding:` as ComfyUI's `_try_get_embedding`:
/// the name is the first word (cut at `<` or `[`, which go to the
/// leftover), the leftover is the rest, tokenised as text.
fn embedding_leftover(rest: &str) -> (String, String) {
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
    (name, leftover)
}

/// Looks an `embedding:` reference up as ComfyUI does: the name as
/// written, else without surrounding commas, whose tail
/// (`name[len(stripped):]`) then goes in front of the leftover. Returns
/// (the embedding found, the name looked up last, leftover text).
fn resolve_reference(rest: &str, names: &[&str]) -> (Option<usize>, String, String) {
    let (name, leftover) = embedding_leftover(rest);
    if let Some(i) = embedding::resolve(&name, names) {
        return (Some(i), name, leftover);
    }
    let stripped = name.trim_matches(',');
    if stripped.len() < name.len() {
        let leftover = format!("{} {leftover}", &name[stripped.len()..]);
        return (
            embedding::resolve(stripped, names),
            stripped.to_string(),
            leftover,
        );
    }
    (None, name, leftover)
}

/// Each `embedding:NAME` reference of a prompt, read exactly as the
/// encoders read it (ComfyUI's rules: after whitespace, the first word,
/// the comma-stripped retry), with the index of the `names` entry it
/// resolves to, if any.
pub fn embedding_references(text: &str, names: &[&str]) -> Vec<(Option<usize>, String)> {
    prompt::parse(text)
        .iter()
        .flat_map(|p| split_embeddings(&p.text))
        .filter_map(|w| {
            w.strip_prefix(EMBEDDING).map(|r| {
                let (found, name, _) = resolve_reference(r, names);
                (found, name)
            })
        })
        .collect()
}

/// Tokenises a prompt without embeddings (every `embedding:NAME` is
/// dropped).
pub fn tokenize_weighted(text: &str, pad: Pad) -> Rows {
    tokenize(text, pad, prompt::Syntax::ComfyUi, &[]).rows
}

/// Tokenises a prompt into rows as ComfyUI's `tokenize_with_weights`, with
/// the textual-inversion `embeddings` (name, number of vectors) available:
/// `embedding:NAME` (ComfyUI) and bare names as whole words (A1111) become
/// one group of `Vector` positions, each with the weight of its bracket
/// group, packed as any other group of tokens (fewer than 8 move whole to
/// the next row, more are split).
pub fn tokenize(
    text: &str,
    pad: Pad,
    syntax: prompt::Syntax,
    embeddings: &[(&str, usize)],
) -> Tokenized {
    let names: Vec<&str> = embeddings.iter().map(|e| e.0).collect();
    let mut groups: Vec<Vec<(Tok, f64)>> = Vec::new();
    let mut missing = Vec::new();
    let vectors = |e: usize, weight: f64| -> Vec<(Tok, f64)> {
        (0..embeddings[e].1)
            .map(|index| {
                (
                    Tok::Vector {
                        embedding: e,
                        index,
                    },
                    weight,
                )
            })
            .collect()
    };
    let mut spliced = Vec::new();
    for piece in prompt::parse_with(text, syntax) {
        let weight = piece.weight;
        for word in split_embeddings(&piece.text) {
            let word = match word.strip_prefix(EMBEDDING) {
                Some(rest) => {
                    let (found, name, leftover) = resolve_reference(rest, &names);
                    match found {
                        Some(e) => {
                            spliced.push(e);
                            groups.push(vectors(e, weight));
                        }
                        None => missing.push(name),
                    }
                    if leftover.is_empty() {
                        continue;
                    }
                    leftover
                }
                None => word,
            };
            // A1111's bare names split the text around them.
            let bare = if names.is_empty() {
                Vec::new()
            } else {
                embedding::find_in_prompt(&word, &names).uses
            };
            let mut at = 0;
            for u in bare.iter().filter(|u| u.syntax == embedding::Syntax::Bare) {
                let Some(e) = names.iter().position(|n| *n == u.name) else {
                    continue;
                };
                groups.push(text_group(&word[at..u.range.start], weight));
                spliced.push(e);
                groups.push(vectors(e, weight));
                at = u.range.end;
            }
            groups.push(text_group(&word[at..], weight));
        }
    }
    let mut used: Vec<usize> = Vec::new();
    for e in spliced {
        if embeddings[e].1 > 0 && !used.contains(&e) {
            used.push(e);
        }
    }
    Tokenized {
        rows: pack(groups, pad),
        used,
        missing,
    }
}

fn text_group(text: &str, weight: f64) -> Vec<(Tok, f64)> {
    encode(text)
        .into_iter()
        .map(|t| (Tok::Id(t), weight))
        .collect()
}

/// Packs groups into rows of 77 as ComfyUI: start, up to 75 positions,
/// end, padding; a group shorter than 8 that does not fit moves whole to
/// the next row, a longer one is split.
fn pack(groups: Vec<Vec<(Tok, f64)>>, pad: Pad) -> Rows {
    let (start, end, pad) = (Tok::Id(START), Tok::Id(END), Tok::Id(pad.token()));
    let mut rows: Rows = Vec::new();
    let mut row = vec![(start, 1.0)];
    for mut group in groups {
        let large = group.len() >= MAX_WORD;
        while !group.is_empty() {
            if group.len() + row.len() > ROW - 1 {
                let remaining = ROW - row.len() - 1;
                if large {
                    let rest = group.split_off(remaining);
                    row.extend(group);
                    group = rest;
                    row.push((end, 1.0));
                } else {
                    row.push((end, 1.0));
                    row.resize(ROW, (pad, 1.0));
                }
                rows.push(std::mem::replace(&mut row, vec![(start, 1.0)]));
            } else {
                row.append(&mut group);
            }
        }
    }
    row.push((end, 1.0));
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

    /// The `embedding:NAME` references of a prompt, as written.
    fn embedding_names(text: &str) -> Vec<String> {
        embedding_references(text, &[])
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }
    use prompt::Syntax;

    /// Vocabulary ids of a row; `u32::MAX` for an embedding vector.
    fn ids(row: &[(Tok, f64)]) -> Vec<u32> {
        row.iter()
            .map(|t| match t.0 {
                Tok::Id(id) => id,
                Tok::Vector { .. } => u32::MAX,
            })
            .collect()
    }

    /// The positions of a row between its start and first end token.
    fn inside(row: &[(Tok, f64)]) -> Vec<(Tok, f64)> {
        row.iter()
            .skip(1)
            .take_while(|t| t.0 != Tok::Id(END))
            .copied()
            .collect()
    }

    fn words(text: &str, weight: f64) -> Vec<(Tok, f64)> {
        encode(text)
            .into_iter()
            .map(|t| (Tok::Id(t), weight))
            .collect()
    }

    fn vectors(embedding: usize, n: usize, weight: f64) -> Vec<(Tok, f64)> {
        (0..n)
            .map(|index| (Tok::Vector { embedding, index }, weight))
            .collect()
    }

    /// Two embeddings: "foxy" of 2 vectors and "Big" of 10.
    const AVAILABLE: &[(&str, usize)] = &[("foxy", 2), ("Big", 10)];

    fn tok(text: &str) -> Tokenized {
        tokenize(text, Pad::End, Syntax::ComfyUi, AVAILABLE)
    }

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
        assert_eq!(l[0][0].0, Tok::Id(START));
        let lids = ids(&l[0]);
        assert_eq!(&lids[1..4], encode("a red fox").as_slice());
        assert_eq!(lids[4], END);
        assert!(lids[5..].iter().all(|&t| t == END));
        let gids = ids(&g[0]);
        assert_eq!(gids[4], END);
        assert!(gids[5..].iter().all(|&t| t == 0));
    }

    #[test]
    fn missing_embeddings_are_dropped_like_comfyui() {
        let ids = |t: &str| ids(&inside(&tokenize_weighted(t, Pad::End)[0]));
        assert_eq!(ids("a embedding:foo cat"), ids("a cat"));
        assert_eq!(ids("a embedding:foo"), ids("a "));
        // Only after whitespace: "xembedding:foo" is text.
        assert_ne!(ids("xembedding:foo"), ids("x"));
        assert_eq!(
            embedding_names("a embedding:foo cat, (embedding:bar:1.2)"),
            ["foo", "bar"]
        );
        assert_eq!(embedding_names("a embedding:easyneg[x]"), ["easyneg"]);
        assert_eq!(embedding_names("embedding:foo, cat"), ["foo"]);
        // With embeddings available, an unknown name is still dropped and
        // reported.
        let t = tok("a embedding:nope cat");
        assert_eq!(t.rows, tokenize_weighted("a cat", Pad::End));
        assert_eq!(t.missing, ["nope"]);
        assert!(t.used.is_empty());
    }

    #[test]
    fn long_prompts_make_rows_of_75() {
        // 100 one-token pieces would not be split; one 100-token piece is.
        let text = "cat ".repeat(100);
        let rows = tokenize_weighted(&text, Pad::End);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == ROW));
        assert_eq!(rows[0][76].0, Tok::Id(END));
        assert_eq!(inside(&rows[0]).len(), 75);
    }

    #[test]
    fn short_piece_moves_whole_to_next_row() {
        // 74 tokens, then a weighted 3-token piece that does not fit.
        let text = format!("{}(red fox cub:1.2)", "cat ".repeat(74));
        let rows = tokenize_weighted(&text, Pad::End);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][75].0, Tok::Id(END));
        assert_eq!(rows[1][1].1, 1.2);
        assert_eq!(rows[1][3].1, 1.2);
        assert_eq!(rows[1][4].0, Tok::Id(END));
    }

    #[test]
    fn embeddings_take_one_position_per_vector_with_their_weight() {
        let t = tok("a embedding:foxy cat");
        let mut want = words("a", 1.0);
        want.extend(vectors(0, 2, 1.0));
        want.extend(words("cat", 1.0));
        assert_eq!(inside(&t.rows[0]), want);
        assert_eq!(t.rows[0].len(), ROW);
        assert_eq!((t.used.as_slice(), t.missing.len()), ([0].as_slice(), 0));
        // The weight of the bracket group, nested or not.
        let t = tok("(embedding:foxy:1.2) ((x embedding:foxy))");
        let mut want = vectors(0, 2, 1.2);
        want.extend(words("x", 1.1 * 1.1));
        want.extend(vectors(0, 2, 1.1 * 1.1));
        assert_eq!(inside(&t.rows[0]), want);
        // Used twice, listed once.
        assert_eq!(t.used, [0]);
    }

    #[test]
    fn names_match_as_comfyui_and_a1111_write_them() {
        let reference = tok("a embedding:foxy cat").rows;
        for same in [
            "a embedding:FOXY cat",
            "a embedding:foxy.safetensors cat",
            "a embedding:foxy.pt cat",
            // A1111: the bare name as a whole word, in any case.
            "a foxy cat",
            "a Foxy cat",
        ] {
            assert_eq!(tok(same).rows, reference, "{same}");
        }
        // Bare names are whole words only.
        assert!(tok("a foxyness cat").used.is_empty());
        assert!(tok("a un-foxy cat").used.is_empty());
        // ComfyUI's marker counts only after whitespace: the text stays.
        let t = tok("a,embedding:foxy");
        assert!(t.used.is_empty() && t.missing.is_empty());
        assert_eq!(t.rows, tokenize_weighted("a,embedding:foxy", Pad::End));
        // A trailing comma is split off the name and tokenised (ComfyUI's
        // retry without commas), so is the text after the name.
        let t = tok("embedding:foxy, red fox");
        let mut want = vectors(0, 2, 1.0);
        want.extend(words(", red fox", 1.0));
        assert_eq!(inside(&t.rows[0]), want);
        assert_eq!(t.used, [0]);
        // Bare names in the leftover text of a reference.
        let t = tok("embedding:nope big");
        assert_eq!(inside(&t.rows[0]), vectors(1, 10, 1.0));
        assert_eq!((t.used, t.missing), (vec![1], vec!["nope".to_string()]));
    }

    #[test]
    fn embeddings_pack_into_rows_as_tokens() {
        // 74 tokens, then 2 vectors: fewer than 8 move whole to the next
        // row.
        let t = tok(&format!("{}embedding:foxy", "cat ".repeat(74)));
        assert_eq!(t.rows.len(), 2);
        assert_eq!(inside(&t.rows[0]).len(), 74);
        assert_eq!(t.rows[0][75].0, Tok::Id(END));
        assert_eq!(inside(&t.rows[1]), vectors(0, 2, 1.0));
        // 73 tokens: they fit.
        let t = tok(&format!("{}embedding:foxy", "cat ".repeat(73)));
        assert_eq!(t.rows.len(), 1);
        assert_eq!(&inside(&t.rows[0])[73..], vectors(0, 2, 1.0).as_slice());
        // 70 tokens, then 10 vectors: 8 or more are split, 5 and 5.
        let t = tok(&format!("{}Big", "cat ".repeat(70)));
        assert_eq!(t.rows.len(), 2);
        assert_eq!(&inside(&t.rows[0])[70..], &vectors(1, 10, 1.0)[..5]);
        assert_eq!(t.rows[0][76].0, Tok::Id(END));
        assert_eq!(inside(&t.rows[1]), &vectors(1, 10, 1.0)[5..]);
    }
}

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::*;

fn ramp(shape: &[usize], dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| i as f32 / 64.0).collect();
    Tensor::from_vec(values, shape, &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .expect("tensor")
}

fn write(dir: &Path, file: &str, tensors: &[(&str, Tensor)]) -> std::path::PathBuf {
    let path = dir.join(file);
    let map: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, t)| (k.to_string(), t.clone()))
        .collect();
    candle_core::safetensors::save(&map, &path).expect("save");
    path
}

fn dims(t: &Option<Tensor>) -> Option<Vec<usize>> {
    t.as_ref().map(|t| t.dims().to_vec())
}

#[test]
fn reads_each_layout_by_width() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sd15 = write(
        dir.path(),
        "EasyNegative.safetensors",
        &[("emb_params", ramp(&[8, 768], DType::F16))],
    );
    let e = Embedding::load(&sd15).expect("sd15");
    assert_eq!(e.name, "EasyNegative");
    assert_eq!(dims(&e.vectors_l), Some(vec![8, 768]));
    assert_eq!(e.vectors_l.as_ref().map(Tensor::dtype), Some(DType::F32));
    assert!(e.vectors_g.is_none() && e.vectors_h.is_none());
    assert_eq!(e.tokens(), 8);

    let sd2 = write(
        dir.path(),
        "sd2.safetensors",
        &[("emb_params", ramp(&[3, 1024], DType::F32))],
    );
    let e = Embedding::load(&sd2).expect("sd2");
    assert_eq!(dims(&e.vectors_h), Some(vec![3, 1024]));
    assert!(e.vectors_l.is_none());

    let xl = write(
        dir.path(),
        "xl.safetensors",
        &[
            ("clip_l", ramp(&[2, 768], DType::BF16)),
            ("clip_g", ramp(&[2, 1280], DType::F16)),
        ],
    );
    let e = Embedding::load(&xl).expect("sdxl");
    assert_eq!(dims(&e.vectors_l), Some(vec![2, 768]));
    assert_eq!(dims(&e.vectors_g), Some(vec![2, 1280]));

    let a1111 = write(
        dir.path(),
        "a1111.safetensors",
        &[
            ("string_to_param.*", ramp(&[4, 768], DType::F32)),
            (
                "string_to_token.*",
                Tensor::new(&[265i64], &Device::Cpu).expect("t"),
            ),
        ],
    );
    assert_eq!(
        dims(&Embedding::load(&a1111).expect("a1111").vectors_l),
        Some(vec![4, 768])
    );

    let single = write(
        dir.path(),
        "diffusers.safetensors",
        &[("<cat-toy>", ramp(&[768], DType::F32))],
    );
    assert_eq!(
        dims(&Embedding::load(&single).expect("single").vectors_l),
        Some(vec![1, 768])
    );
}

#[test]
fn vectors_keep_their_values() {
    let t = ramp(&[2, 768], DType::F32);
    let e = Embedding::from_tensors("x", HashMap::from([("emb_params".to_string(), t.clone())]))
        .expect("x");
    let diff = (e.vectors_l.expect("l") - t)
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar::<f32>());
    assert_eq!(diff.expect("diff"), 0.0);
}

#[test]
fn bad_embeddings_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pt = dir.path().join("old.pt");
    std::fs::write(&pt, b"PK\x03\x04").expect("write");
    let err = Embedding::load(&pt).expect_err("pickle");
    assert!(matches!(err, EmbeddingError::Pickle { .. }));
    assert!(err.to_string().contains("old.pt"), "{err}");

    let odd = write(
        dir.path(),
        "odd.safetensors",
        &[("emb_params", ramp(&[2, 512], DType::F32))],
    );
    // No released encoder is 512 wide; ComfyUI keeps such vectors and each
    // encoder of another width leaves them out with a warning.
    let odd = Embedding::load(&odd).expect("any width loads");
    assert_eq!(
        odd.vectors_in(Slot::G).map(|t| t.dims().to_vec()),
        Some(vec![2, 512])
    );

    let many = write(
        dir.path(),
        "many.safetensors",
        &[
            ("a", ramp(&[768], DType::F32)),
            ("b", ramp(&[768], DType::F32)),
        ],
    );
    let err = Embedding::load(&many).expect_err("ambiguous");
    assert!(err.to_string().contains("2 tensors"), "{err}");

    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"\x05\0\0\0\0\0\0\0{oops").expect("write");
    assert!(matches!(
        Embedding::load(&junk),
        Err(EmbeddingError::Read { .. })
    ));
}

const AVAILABLE: &[&str] = &[
    "EasyNegative",
    "badhandv4",
    "bad-artist",
    "ng_deepnegative_v1_75t",
    "bad",
];

fn uses(prompt: &str) -> Vec<(String, Syntax, &str)> {
    find_in_prompt(prompt, AVAILABLE)
        .uses
        .into_iter()
        .map(|u| {
            let text = &prompt[u.range.clone()];
            (u.name, u.syntax, text)
        })
        .collect()
}

#[test]
fn finds_comfyui_prefixed_names() {
    let found =
        uses("a cat, embedding:EasyNegative, (embedding:badhandv4.pt:1.2) embedding:bad-artist");
    assert_eq!(
        found,
        vec![
            (
                "EasyNegative".to_string(),
                Syntax::Prefixed,
                "embedding:EasyNegative"
            ),
            (
                "badhandv4".to_string(),
                Syntax::Prefixed,
                "embedding:badhandv4.pt"
            ),
            (
                "bad-artist".to_string(),
                Syntax::Prefixed,
                "embedding:bad-artist"
            ),
        ]
    );
    let missing = find_in_prompt("x embedding:nothing_here y", AVAILABLE).missing;
    assert_eq!(missing, vec![(2..24, "nothing_here".to_string())]);
}

#[test]
fn finds_bare_a1111_names_as_whole_words_ignoring_case() {
    let found = uses("(easynegative:1.3), BadHandV4, bad-artist, badly drawn, bad");
    let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["EasyNegative", "badhandv4", "bad-artist", "bad"]
    );
    assert!(found.iter().all(|(_, s, _)| *s == Syntax::Bare));
    assert_eq!(found[0].2, "easynegative");
    // "bad" is not matched inside "bad-artist" nor "badly".
    assert_eq!(uses("bad-artist badly").len(), 1);
}

#[test]
fn prefixed_and_bare_do_not_overlap_and_unicode_is_safe() {
    let found = uses("embedding:EasyNegative EasyNegative — bad ünïcode bad");
    let syntaxes: Vec<Syntax> = found.iter().map(|(_, s, _)| *s).collect();
    assert_eq!(
        syntaxes,
        vec![Syntax::Prefixed, Syntax::Bare, Syntax::Bare, Syntax::Bare]
    );
    let odd = find_in_prompt("ééé ü", &["é", "ü"]);
    assert_eq!(odd.uses.len(), 1, "{odd:?}");
    assert_eq!(find_in_prompt("", AVAILABLE), PromptEmbeddings::default());
}

/// Each encoder slot takes its own set; without one, the file's other set
/// (which the encoder then leaves out for its width, as ComfyUI).
#[test]
fn slots_take_their_own_vectors_else_the_files_other_set() {
    let pair = Embedding::from_tensors(
        "xl",
        HashMap::from([
            ("clip_l".to_string(), ramp(&[2, 768], DType::F32)),
            ("clip_g".to_string(), ramp(&[3, 1280], DType::F32)),
        ]),
    )
    .expect("pair");
    let width = |e: &Embedding, s: Slot| e.vectors_in(s).map(|t| t.dims().to_vec());
    assert_eq!(width(&pair, Slot::L), Some(vec![2, 768]));
    assert_eq!(width(&pair, Slot::G), Some(vec![3, 1280]));
    let sd15 = Embedding::from_tensors(
        "sd15",
        HashMap::from([("emb_params".to_string(), ramp(&[4, 768], DType::F32))]),
    )
    .expect("sd15");
    for slot in [Slot::L, Slot::H, Slot::G] {
        assert_eq!(width(&sd15, slot), Some(vec![4, 768]), "{slot:?}");
    }
    assert_eq!(
        [Slot::L, Slot::H, Slot::G].map(|s| (s.name(), s.width())),
        [("clip_l", 768), ("clip_h", 1024), ("clip_g", 1280)]
    );
    // Names resolve to their index: exact first, then ignoring case, each
    // also without an extension.
    let names = ["Foxy", "foxy", "cat"];
    assert_eq!(resolve("foxy", &names), Some(1));
    assert_eq!(resolve("FOXY.safetensors", &names), Some(0));
    assert_eq!(resolve("cat.PT", &names), Some(2));
    assert_eq!(resolve("dog", &names), None);
}

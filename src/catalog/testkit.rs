//! Header-only model fixtures for tests (unit and integration).
//!
//! Real checkpoints weigh gigabytes; what the probe looks at is their header.
//! So a fixture here is a valid safetensors header with the exact key names,
//! shapes and dtypes of a real file (the layouts committed under
//! `tests/data/headers/`, copied from the shared samples), followed by a
//! sparse hole of exactly the data length (`File::set_len`): a 33 GB Flux
//! checkpoint costs a few hundred kilobytes of disk. LoRA fixtures are built
//! from the module lists of real LoRAs in each convention (kohya,
//! diffusers/PEFT, LyCORIS LoHa and LoKr); broken files cover each way a
//! header can be wrong; GGUF fixtures mirror what ComfyUI-GGUF writes.
//!
//! The helpers panic with a clear message when a committed layout is missing
//! or malformed: they are for tests only.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::gguf;
use super::safetensors::{Dtype, byte_size};

/// Where the committed layouts live.
pub const HEADERS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/headers");

/// The real SDXL kohya LoRA from the shared samples (3.8 MB, 252 tensors).
pub const REAL_SDXL_LORA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/gen_fixture_style_xl.safetensors"
);

/// One tensor of a fixture. `data` is written at the tensor's place when
/// given (it must be exactly `byte_len()` long); otherwise the bytes are a
/// sparse hole of zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u64>,
    pub data: Option<Vec<u8>>,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, dtype: Dtype, shape: &[u64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            data: None,
        }
    }

    /// The same tensor with these bytes as its data.
    pub fn with_data(mut self, data: Vec<u8>) -> TensorSpec {
        assert_eq!(
            data.len() as u64,
            self.byte_len(),
            "data length for {}",
            self.name
        );
        self.data = Some(data);
        self
    }

    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }

    pub fn byte_len(&self) -> u64 {
        byte_size(&self.shape, self.dtype).expect("fixture tensor size")
    }
}

/// Reads a committed layout, e.g. `layout("sdxl_base_checkpoint")`, from
/// `tests/data/headers/<name>.json`.
///
/// # Panics
/// When the file is missing or a line is not `{"key","shape","dtype"}`.
pub fn layout(name: &str) -> Vec<TensorSpec> {
    read_json_lines(&format!("{HEADERS_DIR}/{name}.json"))
        .iter()
        .map(|row| {
            let dtype = row["dtype"].as_str().and_then(Dtype::parse);
            TensorSpec::new(
                row["key"].as_str().expect("layout key"),
                dtype.expect("layout dtype"),
                &shape_of(&row["shape"]),
            )
        })
        .collect()
}

/// The part of a layout under `prefix`, with the prefix removed: e.g. the
/// UNet of a checkpoint as a diffusion_models file
/// (`layout_under("sd15_checkpoint", "model.diffusion_model.")`), or its VAE.
pub fn layout_under(name: &str, prefix: &str) -> Vec<TensorSpec> {
    let specs: Vec<TensorSpec> = layout(name)
        .into_iter()
        .filter_map(|mut t| {
            t.name = t.name.strip_prefix(prefix)?.to_string();
            Some(t)
        })
        .collect();
    assert!(!specs.is_empty(), "no tensor of {name} under {prefix}");
    specs
}

/// The same tensors with every floating-point dtype of 2 or more dimensions
/// replaced by `dtype` (as fp8 checkpoints store their weight matrices).
pub fn cast_weights(specs: Vec<TensorSpec>, dtype: Dtype) -> Vec<TensorSpec> {
    specs
        .into_iter()
        .map(|mut t| {
            let float = matches!(t.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16);
            if float && t.shape.len() >= 2 {
                t.dtype = dtype;
            }
            t
        })
        .collect()
}

/// The INDEX.json entry of a committed layout (n_params, metadata, ...).
pub fn layout_index(name: &str) -> Value {
    let path = format!("{HEADERS_DIR}/INDEX.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let index: Value = serde_json::from_str(&text).expect("INDEX.json");
    index[name].clone()
}

/// One module a LoRA adapts: its name in the template's convention and the
/// shape of the weight it adapts ([out, in] or [out, in, kh, kw]).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraModule {
    pub module: String,
    pub shape: Vec<u64>,
}

/// Reads a LoRA template, e.g. `lora_template("sdxl_kohya")`.
pub fn lora_template(name: &str) -> Vec<LoraModule> {
    read_json_lines(&format!("{HEADERS_DIR}/lora_templates/{name}.json"))
        .iter()
        .map(|row| LoraModule {
            module: row["module"].as_str().expect("template module").to_string(),
            shape: shape_of(&row["shape"]),
        })
        .collect()
}

/// A kohya LoRA of `rank` over a template: `<module>.lora_down.weight`
/// [r, in(, kh, kw)], `<module>.lora_up.weight` [out, r(, 1, 1)] and a scalar
/// `<module>.alpha`, all F16 as kohya saves them.
pub fn lora_layout(template: &str, rank: u64) -> Vec<TensorSpec> {
    let mut specs = Vec::new();
    for m in lora_template(template) {
        let name = kohya_name(&m.module);
        specs.push(TensorSpec::new(format!("{name}.alpha"), Dtype::F16, &[]));
        specs.push(f16(&name, "lora_down.weight", down_shape(&m.shape, rank)));
        specs.push(f16(&name, "lora_up.weight", up_shape(&m.shape, rank)));
    }
    specs
}

/// A diffusers/PEFT LoRA of `rank`: `<module>.lora_A.weight` [r, in],
/// `<module>.lora_B.weight` [out, r], dotted module names under `unet.`,
/// `text_encoder.`, `text_encoder_2.` or `transformer.`, no alpha.
pub fn peft_lora_layout(template: &str, rank: u64) -> Vec<TensorSpec> {
    let mut specs = Vec::new();
    for m in lora_template(template) {
        let name = peft_name(&m.module);
        specs.push(f16(&name, "lora_A.weight", down_shape(&m.shape, rank)));
        specs.push(f16(&name, "lora_B.weight", up_shape(&m.shape, rank)));
    }
    specs
}

/// A LyCORIS LoHa of `rank` in kohya naming: `hada_w1_a` [out, r],
/// `hada_w1_b` [r, in·kh·kw], the same for `hada_w2_*`, and `alpha`.
pub fn loha_layout(template: &str, rank: u64) -> Vec<TensorSpec> {
    let mut specs = Vec::new();
    for m in lora_template(template) {
        let name = kohya_name(&m.module);
        let fan_in: u64 = m.shape[1..].iter().product();
        specs.push(TensorSpec::new(format!("{name}.alpha"), Dtype::F16, &[]));
        for w in ["hada_w1", "hada_w2"] {
            specs.push(f16(&name, &format!("{w}_a"), vec![m.shape[0], rank]));
            specs.push(f16(&name, &format!("{w}_b"), vec![rank, fan_in]));
        }
    }
    specs
}

/// A LyCORIS LoKr in kohya naming, each weight the Kronecker product of
/// `lokr_w1` [out_a, in_a] and `lokr_w2` [out_b, in_b(, kh, kw)], with
/// out = out_a·out_b and in = in_a·in_b split as LyCORIS's
/// `factorization` does (the factor pair closest to the square root).
pub fn lokr_layout(template: &str) -> Vec<TensorSpec> {
    let mut specs = Vec::new();
    for m in lora_template(template) {
        let name = kohya_name(&m.module);
        let (out_a, out_b) = factorization(m.shape[0]);
        let (in_a, in_b) = factorization(m.shape[1]);
        let mut w2 = vec![out_b, in_b];
        w2.extend_from_slice(&m.shape[2..]);
        specs.push(TensorSpec::new(format!("{name}.alpha"), Dtype::F16, &[]));
        specs.push(f16(&name, "lokr_w1", vec![out_a, in_a]));
        specs.push(f16(&name, "lokr_w2", w2));
    }
    specs
}

/// Writes a header-only safetensors fixture: the header (with
/// `__metadata__` when `metadata` is not empty), then each tensor's `data`
/// where given and a sparse hole elsewhere. Returns the data offset
/// (8 + header length).
pub fn write_safetensors(
    path: &Path,
    tensors: &[TensorSpec],
    metadata: &[(&str, &str)],
) -> io::Result<u64> {
    let header = safetensors_header(tensors, metadata);
    let data_offset = 8 + header.len() as u64;
    let data_len: u64 = tensors.iter().map(TensorSpec::byte_len).sum();
    let mut file = File::create(path)?;
    file.write_all(&(header.len() as u64).to_le_bytes())?;
    file.write_all(&header)?;
    file.set_len(data_offset + data_len)?;
    let mut at = data_offset;
    for t in tensors {
        if let Some(data) = &t.data {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(data)?;
        }
        at += t.byte_len();
    }
    Ok(data_offset)
}

/// The JSON header bytes for these tensors laid out contiguously in order.
pub fn safetensors_header(tensors: &[TensorSpec], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut map = Map::new();
    if !metadata.is_empty() {
        let meta: Map<String, Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        map.insert("__metadata__".into(), Value::Object(meta));
    }
    let mut at = 0u64;
    for t in tensors {
        let end = at + t.byte_len();
        map.insert(
            t.name.clone(),
            json!({"dtype": t.dtype.as_str(), "shape": t.shape, "data_offsets": [at, end]}),
        );
        at = end;
    }
    serde_json::to_vec(&Value::Object(map)).expect("header JSON")
}

/// The ways a safetensors file can be broken, one fixture each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// 0 bytes.
    Empty,
    /// 5 bytes: not even the length field.
    TooShort,
    /// Declares a 200 MiB header.
    HeaderTooLarge,
    /// Declares 1000 header bytes, holds 10.
    HeaderPastEnd,
    /// The header bytes are not UTF-8.
    NotUtf8,
    /// The header is not JSON.
    NotJson,
    /// The header is a JSON array.
    NotObject,
    /// `__metadata__` is a string.
    MetadataNotObject,
    /// A tensor entry without dtype.
    MissingDtype,
    /// A tensor entry without shape.
    MissingShape,
    /// A tensor entry without data_offsets.
    MissingOffsets,
    /// A tensor entry with dtype "F7".
    UnknownDtype,
    /// data_offsets [8, 0].
    OffsetsOutOfOrder,
    /// shape [2, 2] of F32 over 8 bytes.
    SizeMismatch,
    /// Two tensors with a gap between their data.
    NotContiguous,
    /// The data section is 4 bytes shorter than the header says.
    DataTruncated,
    /// 3 bytes of junk after the last tensor.
    TrailingBytes,
}

impl Broken {
    pub const ALL: &'static [Broken] = &[
        Broken::Empty,
        Broken::TooShort,
        Broken::HeaderTooLarge,
        Broken::HeaderPastEnd,
        Broken::NotUtf8,
        Broken::NotJson,
        Broken::NotObject,
        Broken::MetadataNotObject,
        Broken::MissingDtype,
        Broken::MissingShape,
        Broken::MissingOffsets,
        Broken::UnknownDtype,
        Broken::OffsetsOutOfOrder,
        Broken::SizeMismatch,
        Broken::NotContiguous,
        Broken::DataTruncated,
        Broken::TrailingBytes,
    ];
}

/// Writes a file broken in the given way.
pub fn write_broken(path: &Path, how: Broken) -> io::Result<()> {
    let good = r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let (header, data_len): (Vec<u8>, u64) = match how {
        Broken::Empty => return std::fs::write(path, b""),
        Broken::TooShort => return std::fs::write(path, b"\x10\0\0\0\0"),
        Broken::HeaderTooLarge => {
            let mut bytes = (200u64 * 1024 * 1024).to_le_bytes().to_vec();
            bytes.extend_from_slice(b"{}");
            return std::fs::write(path, bytes);
        }
        Broken::HeaderPastEnd => {
            let mut bytes = 1000u64.to_le_bytes().to_vec();
            bytes.extend_from_slice(b"{\"a\":1234");
            return std::fs::write(path, bytes);
        }
        Broken::NotUtf8 => (b"{\"\xff\xfe\":1}".to_vec(), 0),
        Broken::NotJson => (b"{\"w\": {\"dtype\": ".to_vec(), 0),
        Broken::NotObject => (b"[1, 2, 3]".to_vec(), 0),
        Broken::MetadataNotObject => (
            format!(r#"{{"__metadata__":"oops",{}"#, &good[1..]).into_bytes(),
            16,
        ),
        Broken::MissingDtype => (
            br#"{"w":{"shape":[2,2],"data_offsets":[0,16]}}"#.to_vec(),
            16,
        ),
        Broken::MissingShape => (
            br#"{"w":{"dtype":"F32","data_offsets":[0,16]}}"#.to_vec(),
            16,
        ),
        Broken::MissingOffsets => (br#"{"w":{"dtype":"F32","shape":[2,2]}}"#.to_vec(), 16),
        Broken::UnknownDtype => (
            br#"{"w":{"dtype":"F7","shape":[2,2],"data_offsets":[0,16]}}"#.to_vec(),
            16,
        ),
        Broken::OffsetsOutOfOrder => (
            br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#.to_vec(),
            8,
        ),
        Broken::SizeMismatch => (
            br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}"#.to_vec(),
            8,
        ),
        Broken::NotContiguous => (
            br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#.to_vec(),
            20,
        ),
        Broken::DataTruncated => (good.as_bytes().to_vec(), 12),
        Broken::TrailingBytes => (good.as_bytes().to_vec(), 19),
    };
    let mut file = File::create(path)?;
    file.write_all(&(header.len() as u64).to_le_bytes())?;
    file.write_all(&header)?;
    file.set_len(8 + header.len() as u64 + data_len)
}

/// A value of a GGUF metadata entry, for [`write_gguf`].
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    Str(String),
    U32(u32),
    U64(u64),
    F32(f32),
    Bool(bool),
    /// An array of u32 (ComfyUI-GGUF's `comfy.gguf.orig_shape.*`).
    U32s(Vec<u32>),
    /// An array of strings (a tokenizer vocabulary).
    Strs(Vec<String>),
}

/// One tensor of a GGUF fixture: shape in PyTorch order (the writer stores
/// it reversed, as GGUF does), ggml type id.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufTensorSpec {
    pub name: String,
    pub ggml_type: u32,
    pub shape: Vec<u64>,
}

/// The tensors of a layout as ComfyUI-GGUF's converter quantises them:
/// `ggml_type` for weights of 2+ dimensions whose row length fits its
/// block, F32 for the rest (biases, norms).
pub fn gguf_quantise(specs: &[TensorSpec], ggml_type: u32) -> Vec<GgufTensorSpec> {
    let block = gguf::type_info(ggml_type)
        .expect("known ggml type")
        .block_elems;
    specs
        .iter()
        .map(|t| {
            let row = t.shape.last().copied().unwrap_or(1);
            let quantise = t.shape.len() >= 2 && row.is_multiple_of(block);
            GgufTensorSpec {
                name: t.name.clone(),
                ggml_type: if quantise { ggml_type } else { gguf::GGML_F32 },
                shape: t.shape.clone(),
            }
        })
        .collect()
}

/// Writes a GGUF v3 file: header, metadata, tensor infos, padding to 32
/// bytes, then a sparse hole for the data.
pub fn write_gguf(
    path: &Path,
    kvs: &[(&str, GgufValue)],
    tensors: &[GgufTensorSpec],
) -> io::Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(kvs.len() as u64).to_le_bytes());
    for (key, value) in kvs {
        put_str(&mut out, key);
        put_value(&mut out, value);
    }
    let mut offset = 0u64;
    for t in tensors {
        put_str(&mut out, &t.name);
        out.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
        for d in t.shape.iter().rev() {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&t.ggml_type.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offset = align(offset + gguf_bytes(t), 32);
    }
    let data_start = align(out.len() as u64, 32);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(&out)?;
    file.set_len(data_start + offset)
}

fn gguf_bytes(t: &GgufTensorSpec) -> u64 {
    let info = gguf::type_info(t.ggml_type).expect("known ggml type");
    t.shape.iter().product::<u64>() / info.block_elems * info.block_bytes
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &GgufValue) {
    match value {
        GgufValue::U32(v) => put_typed(out, 4, &v.to_le_bytes()),
        GgufValue::F32(v) => put_typed(out, 6, &v.to_le_bytes()),
        GgufValue::Bool(v) => put_typed(out, 7, &[u8::from(*v)]),
        GgufValue::U64(v) => put_typed(out, 10, &v.to_le_bytes()),
        GgufValue::Str(s) => {
            out.extend_from_slice(&8u32.to_le_bytes());
            put_str(out, s);
        }
        GgufValue::U32s(items) => {
            out.extend_from_slice(&9u32.to_le_bytes());
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            items
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        }
        GgufValue::Strs(items) => {
            out.extend_from_slice(&9u32.to_le_bytes());
            out.extend_from_slice(&8u32.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            items.iter().for_each(|s| put_str(out, s));
        }
    }
}

fn put_typed(out: &mut Vec<u8>, type_id: u32, bytes: &[u8]) {
    out.extend_from_slice(&type_id.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn align(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

fn read_json_lines(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn shape_of(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("shape list")
        .iter()
        .map(|d| d.as_u64().expect("shape dimension"))
        .collect()
}

fn f16(module: &str, suffix: &str, shape: Vec<u64>) -> TensorSpec {
    TensorSpec::new(format!("{module}.{suffix}"), Dtype::F16, &shape)
}

fn down_shape(weight: &[u64], rank: u64) -> Vec<u64> {
    let mut shape = vec![rank];
    shape.extend_from_slice(&weight[1..]);
    shape
}

fn up_shape(weight: &[u64], rank: u64) -> Vec<u64> {
    let mut shape = vec![weight[0], rank];
    shape.extend(weight[2..].iter().map(|_| 1));
    shape
}

/// kohya names are already flat; diffusers templates become kohya-style
/// (`transformer.a.b` → `lora_transformer_a_b`).
fn kohya_name(module: &str) -> String {
    if module.starts_with("lora_") {
        module.to_string()
    } else {
        format!("lora_{}", module.replace('.', "_"))
    }
}

/// Words kohya flattened that diffusers spells with an underscore.
const COMPOUNDS: &[&str] = &[
    "down_blocks",
    "up_blocks",
    "mid_block",
    "input_blocks",
    "output_blocks",
    "middle_block",
    "transformer_blocks",
    "proj_in",
    "proj_out",
    "to_k",
    "to_q",
    "to_v",
    "to_out",
    "text_model",
    "self_attn",
    "k_proj",
    "q_proj",
    "v_proj",
    "out_proj",
];

/// A kohya module name in diffusers/PEFT dotted form:
/// `lora_unet_down_blocks_0_attentions_0_proj_in` →
/// `unet.down_blocks.0.attentions.0.proj_in`.
fn peft_name(module: &str) -> String {
    const PREFIXES: &[(&str, &str)] = &[
        ("lora_unet_", "unet"),
        ("lora_te1_", "text_encoder"),
        ("lora_te2_", "text_encoder_2"),
        ("lora_te_", "text_encoder"),
    ];
    let Some((rest, root)) = PREFIXES
        .iter()
        .find_map(|(p, root)| module.strip_prefix(p).map(|rest| (rest, *root)))
    else {
        return module.to_string();
    };
    let words: Vec<&str> = rest.split('_').collect();
    let mut parts = vec![root.to_string()];
    let mut i = 0;
    while i < words.len() {
        let pair = words.get(i + 1).map(|next| format!("{}_{next}", words[i]));
        match pair.filter(|p| COMPOUNDS.contains(&p.as_str())) {
            Some(p) => {
                parts.push(p);
                i += 2;
            }
            None => {
                parts.push(words[i].to_string());
                i += 1;
            }
        }
    }
    parts.join(".")
}

/// LyCORIS's factorization with factor -1: the divisor pair (a, b), a ≤ b,
/// closest to the square root.
fn factorization(dim: u64) -> (u64, u64) {
    let a = (1..=dim.isqrt())
        .rev()
        .find(|a| dim.is_multiple_of(*a))
        .unwrap_or(1);
    (a, dim / a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peft_names_follow_diffusers_spelling() {
        assert_eq!(
            peft_name("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_out_0"),
            "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0"
        );
        assert_eq!(
            peft_name("lora_te2_text_model_encoder_layers_3_mlp_fc1"),
            "text_encoder_2.text_model.encoder.layers.3.mlp.fc1"
        );
        assert_eq!(
            peft_name("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_ff_net_0_proj"),
            "unet.down_blocks.1.attentions.0.transformer_blocks.0.ff.net.0.proj"
        );
        assert_eq!(
            peft_name("transformer.transformer_blocks.0.attn.to_k"),
            "transformer.transformer_blocks.0.attn.to_k"
        );
    }

    #[test]
    fn factorization_picks_the_pair_nearest_the_root() {
        assert_eq!(factorization(2048), (32, 64));
        assert_eq!(factorization(640), (20, 32));
        assert_eq!(factorization(768), (24, 32));
        assert_eq!(factorization(7), (1, 7));
    }

    #[test]
    fn kohya_layout_has_down_up_alpha_per_module() {
        let specs = lora_layout("sd15_kohya", 4);
        assert_eq!(specs.len(), 264 * 3);
        let down = specs
            .iter()
            .find(|t| {
                t.name
                    == "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
            })
            .expect("attn2 to_k down");
        assert_eq!(down.shape, vec![4, 768]);
        let conv_up = specs
            .iter()
            .find(|t| t.name == "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight")
            .expect("proj_in up");
        assert_eq!(conv_up.shape, vec![320, 4, 1, 1]);
    }

    #[test]
    fn fixtures_are_sparse_and_exactly_sized() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sdxl.safetensors");
        let specs = layout("sdxl_base_checkpoint");
        let offset = write_safetensors(&path, &specs, &[]).expect("write");
        let data: u64 = specs.iter().map(TensorSpec::byte_len).sum();
        assert_eq!(data, 6_937_676_352);
        let len = std::fs::metadata(&path).expect("metadata").len();
        assert_eq!(len, offset + data);
    }
}

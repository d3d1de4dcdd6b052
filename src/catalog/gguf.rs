//! Bounded reading of GGUF headers (ComfyUI-GGUF diffusion models and
//! quantised text encoders).
//!
//! A GGUF file starts with `GGUF`, a version, the tensor and metadata
//! counts, the metadata key/value pairs, then one info record per tensor
//! (name, dimensions innermost first, ggml type, offset), then the data at
//! an aligned offset. Nothing in it says how long the header is, and the
//! metadata of a quantised text encoder carries a tokenizer vocabulary of
//! hundreds of thousands of strings. So the header is read through a
//! counting reader that refuses to go past [`MAX_HEADER_BYTES`] or the end
//! of the file, large arrays are skipped rather than stored, and every count
//! is checked against what is left before anything is allocated.
//!
//! Tensor shapes are returned in PyTorch order (GGUF stores them reversed),
//! with ComfyUI-GGUF's `comfy.gguf.orig_shape.<name>` entries applied, so
//! the probe can read a GGUF's tensors exactly as it reads a safetensors
//! file's.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::safetensors::truncate_value;

/// The most header bytes read before giving up (as for safetensors).
pub const MAX_HEADER_BYTES: u64 = 100 * 1024 * 1024;

/// Metadata arrays longer than this are summarised, not stored.
const MAX_KEPT_ARRAY: u64 = 64;
/// Arrays nested deeper than this are refused.
const MAX_ARRAY_DEPTH: u32 = 4;
/// More dimensions than this is not a tensor ggml can hold.
const MAX_DIMS: u32 = 8;
const ORIG_SHAPE_PREFIX: &str = "comfy.gguf.orig_shape.";

pub const GGML_F32: u32 = 0;
pub const GGML_F16: u32 = 1;
pub const GGML_Q4_0: u32 = 2;
pub const GGML_Q8_0: u32 = 8;
pub const GGML_Q4_K: u32 = 12;
pub const GGML_BF16: u32 = 30;

/// Name and block geometry of a ggml tensor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    pub name: &'static str,
    /// Elements per block.
    pub block_elems: u64,
    /// Bytes per block.
    pub block_bytes: u64,
}

/// (id, name, elements per block, bytes per block), from ggml's type traits.
const TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
];

/// The geometry of a ggml type id, `None` for an id this table lacks.
pub fn type_info(id: u32) -> Option<TypeInfo> {
    TYPES
        .iter()
        .find(|t| t.0 == id)
        .map(|&(_, name, block_elems, block_bytes)| TypeInfo {
            name,
            block_elems,
            block_bytes,
        })
}

/// The catalogue's precision label of a ggml type: "fp32", "fp16", "bf16",
/// or the quantisation name ("Q8_0", "Q4_K", ...).
pub fn precision_label(id: u32) -> String {
    match id {
        GGML_F32 => "fp32".into(),
        GGML_F16 => "fp16".into(),
        GGML_BF16 => "bf16".into(),
        _ => type_info(id).map_or_else(|| format!("ggml type {id}"), |t| t.name.to_string()),
    }
}

/// One tensor info record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufTensor {
    pub name: String,
    /// PyTorch order (outermost first).
    pub shape: Vec<u64>,
    pub ggml_type: u32,
    /// Offset of the data relative to the data section.
    pub offset: u64,
}

impl GgufTensor {
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// A validated GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub tensors: Vec<GgufTensor>,
    /// Scalar entries and short arrays; long arrays summarised as a string.
    pub metadata: Map<String, Value>,
    /// Where the (aligned) tensor data starts.
    pub data_offset: u64,
}

impl GgufHeader {
    /// `general.architecture` ("flux", "sdxl", "t5encoder", ...).
    pub fn architecture(&self) -> Option<&str> {
        self.metadata.get("general.architecture")?.as_str()
    }
}

/// Why a file is not a usable GGUF file (`Display` is the user's sentence).
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("empty file (0 bytes): not a GGUF file")]
    Empty,
    #[error("not a GGUF file: it starts with {0:?} instead of \"GGUF\"")]
    BadMagic(String),
    #[error("GGUF version {0} is not supported (only versions 2 and 3); re-convert the file")]
    UnsupportedVersion(u32),
    #[error("truncated file: it ends inside the GGUF header ({0})")]
    Truncated(String),
    #[error("GGUF header is larger than the 100 MiB limit ({0}): corrupt or not a model")]
    HeaderTooLarge(String),
    #[error("GGUF header is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "truncated file: tensor '{name}' needs data up to byte {needed} but the file has {available} bytes"
    )]
    DataTruncated {
        name: String,
        needed: u64,
        available: u64,
    },
}

/// Reads and validates the header of the GGUF file at `path`.
pub fn read_header(path: &Path) -> Result<GgufHeader, GgufError> {
    let io_err = |source| GgufError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    if file_len == 0 {
        return Err(GgufError::Empty);
    }
    let mut r = Bounded {
        inner: BufReader::new(file),
        pos: 0,
        limit: file_len.min(MAX_HEADER_BYTES),
        file_len,
        path,
    };
    let header = parse(&mut r)?;
    check_data(&header, file_len)?;
    Ok(header)
}

fn parse(r: &mut Bounded) -> Result<GgufHeader, GgufError> {
    let magic = r.bytes(4, "magic")?;
    if magic != b"GGUF" {
        return Err(GgufError::BadMagic(
            String::from_utf8_lossy(&magic).into_owned(),
        ));
    }
    let version = r.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let tensor_count = r.u64("tensor count")?;
    let kv_count = r.u64("metadata count")?;
    let mut metadata = Map::new();
    let mut orig_shapes = HashMap::new();
    for i in 0..kv_count {
        let what = format!("metadata entry {} of {kv_count}", i + 1);
        let key = r.string(&what)?;
        let value = read_value(r, &what, 0)?;
        match key.strip_prefix(ORIG_SHAPE_PREFIX) {
            Some(name) => {
                orig_shapes.insert(name.to_string(), value);
            }
            None => {
                metadata.insert(key, truncate_value(value));
            }
        }
    }
    let mut tensors = Vec::with_capacity(tensor_count.min(65_536) as usize);
    for i in 0..tensor_count {
        let what = format!("tensor info {} of {tensor_count}", i + 1);
        let mut t = read_tensor_info(r, &what)?;
        if let Some(shape) = orig_shapes.get(&t.name).and_then(u64_list) {
            t.shape = shape;
        }
        tensors.push(t);
    }
    let alignment = alignment(&metadata)?;
    Ok(GgufHeader {
        version,
        tensors,
        metadata,
        data_offset: r.pos.div_ceil(alignment) * alignment,
    })
}

fn read_tensor_info(r: &mut Bounded, what: &str) -> Result<GgufTensor, GgufError> {
    let name = r.string(what)?;
    let n_dims = r.u32(what)?;
    if n_dims > MAX_DIMS {
        return Err(GgufError::Corrupt(format!(
            "tensor '{name}' claims {n_dims} dimensions"
        )));
    }
    let mut shape = (0..n_dims)
        .map(|_| r.u64(what))
        .collect::<Result<Vec<_>, _>>()?;
    shape.reverse();
    let ggml_type = r.u32(what)?;
    let offset = r.u64(what)?;
    if shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .is_none()
    {
        return Err(GgufError::Corrupt(format!(
            "tensor '{name}' has an impossible shape {shape:?}"
        )));
    }
    Ok(GgufTensor {
        name,
        shape,
        ggml_type,
        offset,
    })
}

fn alignment(metadata: &Map<String, Value>) -> Result<u64, GgufError> {
    match metadata.get("general.alignment") {
        None => Ok(32),
        Some(v) => v
            .as_u64()
            .filter(|&a| a > 0 && a.is_power_of_two())
            .ok_or_else(|| GgufError::Corrupt(format!("general.alignment is {v}"))),
    }
}

/// Checks every tensor of a known type ends inside the file.
fn check_data(header: &GgufHeader, file_len: u64) -> Result<(), GgufError> {
    for t in &header.tensors {
        let size = match type_info(t.ggml_type) {
            Some(info) => {
                let elements = t.elements();
                if !elements.is_multiple_of(info.block_elems) {
                    return Err(GgufError::Corrupt(format!(
                        "tensor '{}' has {elements} elements, not a whole number of {} blocks",
                        t.name, info.name
                    )));
                }
                elements / info.block_elems * info.block_bytes
            }
            None => 0,
        };
        let needed = header
            .data_offset
            .checked_add(t.offset)
            .and_then(|n| n.checked_add(size))
            .unwrap_or(u64::MAX);
        if needed > file_len {
            return Err(GgufError::DataTruncated {
                name: t.name.clone(),
                needed,
                available: file_len,
            });
        }
    }
    Ok(())
}

/// Reads one metadata value of the type that precedes it.
fn read_value(r: &mut Bounded, what: &str, depth: u32) -> Result<Value, GgufError> {
    let ty = r.u32(what)?;
    read_typed(r, ty, what, depth)
}

fn read_typed(r: &mut Bounded, ty: u32, what: &str, depth: u32) -> Result<Value, GgufError> {
    Ok(match ty {
        0 => Value::from(r.bytes(1, what)?[0]),
        1 => Value::from(r.bytes(1, what)?[0] as i8),
        2 => Value::from(u16::from_le_bytes(r.array(what)?)),
        3 => Value::from(i16::from_le_bytes(r.array(what)?)),
        4 => Value::from(r.u32(what)?),
        5 => Value::from(i32::from_le_bytes(r.array(what)?)),
        6 => Value::from(f32::from_le_bytes(r.array(what)?)),
        7 => Value::from(r.bytes(1, what)?[0] != 0),
        8 => Value::String(r.lossy_string(what)?),
        9 => read_array(r, what, depth)?,
        10 => Value::from(r.u64(what)?),
        11 => Value::from(i64::from_le_bytes(r.array(what)?)),
        12 => Value::from(f64::from_le_bytes(r.array(what)?)),
        other => {
            return Err(GgufError::Corrupt(format!(
                "{what} has unknown value type {other}"
            )));
        }
    })
}

fn read_array(r: &mut Bounded, what: &str, depth: u32) -> Result<Value, GgufError> {
    if depth >= MAX_ARRAY_DEPTH {
        return Err(GgufError::Corrupt(format!(
            "{what} nests arrays too deeply"
        )));
    }
    let ty = r.u32(what)?;
    let count = r.u64(what)?;
    if count <= MAX_KEPT_ARRAY && ty != 9 {
        let items = (0..count)
            .map(|_| read_typed(r, ty, what, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::Array(items));
    }
    skip_array(r, ty, count, what, depth)?;
    Ok(Value::String(format!(
        "<array of {count} {}>",
        value_type_name(ty)
    )))
}

fn skip_array(
    r: &mut Bounded,
    ty: u32,
    count: u64,
    what: &str,
    depth: u32,
) -> Result<(), GgufError> {
    let fixed = match ty {
        0 | 1 | 7 => Some(1u64),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    };
    if let Some(size) = fixed {
        return r.skip(count.saturating_mul(size), what);
    }
    for _ in 0..count {
        match ty {
            8 => {
                let len = r.u64(what)?;
                r.skip(len, what)?;
            }
            9 => {
                read_array(r, what, depth + 1)?;
            }
            other => {
                return Err(GgufError::Corrupt(format!(
                    "{what} has unknown array type {other}"
                )));
            }
        }
    }
    Ok(())
}

fn value_type_name(ty: u32) -> &'static str {
    match ty {
        0 => "u8",
        1 => "i8",
        2 => "u16",
        3 => "i16",
        4 => "u32",
        5 => "i32",
        6 => "f32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "u64",
        11 => "i64",
        12 => "f64",
        _ => "unknown",
    }
}

fn u64_list(value: &Value) -> Option<Vec<u64>> {
    value.as_array()?.iter().map(Value::as_u64).collect()
}

/// A reader that counts bytes and refuses to pass `limit`.
struct Bounded<'a> {
    inner: BufReader<File>,
    pos: u64,
    limit: u64,
    file_len: u64,
    path: &'a Path,
}

impl Bounded<'_> {
    /// Makes room for `n` more bytes or says why there is none.
    fn reserve(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.limit => {
                self.pos = end;
                Ok(())
            }
            Some(end) if end <= self.file_len => Err(GgufError::HeaderTooLarge(what.to_string())),
            _ => Err(GgufError::Truncated(what.to_string())),
        }
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, GgufError> {
        self.reserve(n, what)?;
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| self.io(e))?;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        self.reserve(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| self.io(e))?;
        Ok(buf)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        self.reserve(n, what)?;
        let n = i64::try_from(n).map_err(|_| GgufError::Truncated(what.to_string()))?;
        self.inner.seek_relative(n).map_err(|e| self.io(e))
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A key or tensor name: must be UTF-8.
    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        String::from_utf8(self.bytes(len, what)?)
            .map_err(|_| GgufError::Corrupt(format!("{what} has a name that is not UTF-8")))
    }

    /// A string value: invalid UTF-8 is replaced, not refused.
    fn lossy_string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        Ok(String::from_utf8_lossy(&self.bytes(len, what)?).into_owned())
    }

    fn io(&self, source: io::Error) -> GgufError {
        GgufError::Io {
            path: self.path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testkit::{self, GgufTensorSpec, GgufValue};

    fn write(dir: &Path, kvs: &[(&str, GgufValue)], tensors: &[GgufTensorSpec]) -> PathBuf {
        let path = dir.join("model.gguf");
        testkit::write_gguf(&path, kvs, tensors).expect("write gguf");
        path
    }

    fn tensor(name: &str, ggml_type: u32, shape: &[u64]) -> GgufTensorSpec {
        GgufTensorSpec {
            name: name.into(),
            ggml_type,
            shape: shape.to_vec(),
        }
    }

    fn err(path: &Path) -> String {
        read_header(path).expect_err("should fail").to_string()
    }

    #[test]
    fn reads_architecture_tensors_in_torch_order_and_data_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vocab: Vec<String> = (0..1000).map(|i| format!("tok{i}")).collect();
        let path = write(
            dir.path(),
            &[
                ("general.architecture", GgufValue::Str("flux".into())),
                ("general.quantization_version", GgufValue::U32(2)),
                ("tokenizer.ggml.tokens", GgufValue::Strs(vocab)),
            ],
            &[
                tensor("img_in.weight", GGML_Q8_0, &[3072, 64]),
                tensor("img_in.bias", GGML_F32, &[3072]),
            ],
        );
        let h = read_header(&path).expect("header");
        assert_eq!(h.version, 3);
        assert_eq!(h.architecture(), Some("flux"));
        assert_eq!(h.metadata["general.quantization_version"], 2);
        assert_eq!(
            h.metadata["tokenizer.ggml.tokens"],
            "<array of 1000 string>"
        );
        assert_eq!(h.tensors[0].shape, vec![3072, 64]);
        assert_eq!(h.tensors[0].ggml_type, GGML_Q8_0);
        assert_eq!(h.tensors[1].offset, 3072 * 64 / 32 * 34);
        assert_eq!(h.data_offset % 32, 0);
        let len = std::fs::metadata(&path).expect("len").len();
        assert_eq!(len, h.data_offset + 3072 * 64 / 32 * 34 + 3072 * 4);
    }

    #[test]
    fn applies_comfy_orig_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            &[(
                "comfy.gguf.orig_shape.patch_embedding.weight",
                GgufValue::U32s(vec![1536, 16, 1, 2, 2]),
            )],
            &[tensor("patch_embedding.weight", GGML_F16, &[1536, 64])],
        );
        let h = read_header(&path).expect("header");
        assert_eq!(h.tensors[0].shape, vec![1536, 16, 1, 2, 2]);
        assert!(
            !h.metadata
                .contains_key("comfy.gguf.orig_shape.patch_embedding.weight")
        );
    }

    #[test]
    fn refuses_bad_magic_version_and_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.gguf");
        std::fs::write(&path, b"").expect("write");
        assert_eq!(err(&path), "empty file (0 bytes): not a GGUF file");
        std::fs::write(&path, b"PK\x03\x04rest").expect("write");
        assert_eq!(
            err(&path),
            "not a GGUF file: it starts with \"PK\\u{3}\\u{4}\" instead of \"GGUF\""
        );
        std::fs::write(&path, b"GGUF\x01\0\0\0").expect("write");
        assert_eq!(
            err(&path),
            "GGUF version 1 is not supported (only versions 2 and 3); re-convert the file"
        );
        std::fs::write(&path, b"GGU").expect("write");
        assert_eq!(
            err(&path),
            "truncated file: it ends inside the GGUF header (magic)"
        );
    }

    #[test]
    fn refuses_truncated_header_and_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            &[("general.architecture", GgufValue::Str("sdxl".into()))],
            &[tensor("input_blocks.0.0.weight", GGML_F16, &[320, 4, 3, 3])],
        );
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..40]).expect("write");
        assert_eq!(
            err(&path),
            "truncated file: it ends inside the GGUF header (metadata entry 1 of 1)"
        );
        let full = write(
            dir.path(),
            &[],
            &[tensor("input_blocks.0.0.weight", GGML_F16, &[320, 4, 3, 3])],
        );
        let h = read_header(&full).expect("header");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&full)
            .expect("open");
        file.set_len(h.data_offset + 100).expect("truncate");
        assert_eq!(
            err(&full),
            format!(
                "truncated file: tensor 'input_blocks.0.0.weight' needs data up to byte {} but the file has {} bytes",
                h.data_offset + 320 * 4 * 9 * 2,
                h.data_offset + 100
            )
        );
    }

    #[test]
    fn refuses_a_string_longer_than_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.gguf");
        let mut bytes = b"GGUF\x03\0\0\0".to_vec();
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, bytes).expect("write");
        assert_eq!(
            err(&path),
            "truncated file: it ends inside the GGUF header (metadata entry 1 of 1)"
        );
    }

    #[test]
    fn refuses_a_header_over_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.gguf");
        let mut bytes = b"GGUF\x03\0\0\0".to_vec();
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&(200u64 << 20).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_len(300 << 20).expect("grow");
        assert_eq!(
            err(&path),
            "GGUF header is larger than the 100 MiB limit (metadata entry 1 of 1): corrupt or not a model"
        );
    }

    #[test]
    fn knows_block_sizes_and_labels() {
        assert_eq!(type_info(GGML_Q4_K).map(|t| t.block_bytes), Some(144));
        assert_eq!(precision_label(GGML_Q8_0), "Q8_0");
        assert_eq!(precision_label(GGML_BF16), "bf16");
        assert_eq!(precision_label(99), "ggml type 99");
    }
}

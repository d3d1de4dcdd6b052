//! Bounded, validated reading of safetensors headers.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON
//! header of that length (`{"name": {"dtype", "shape", "data_offsets"}, ...,
//! "__metadata__": {...}}`), then the tensor bytes. The catalogue only ever
//! needs the header, and a library holds thousands of files of up to tens of
//! gigabytes, some of them half-downloaded or not safetensors at all. So the
//! header is read with two bounded reads (the length, checked against a limit
//! and the file size before anything is allocated, then exactly that many
//! bytes) and every entry is checked the way the `safetensors` crate used by
//! candle checks it: a file that passes here will not be refused at load time
//! for its layout. Each way a file can be broken has its own error sentence,
//! because that sentence is what a user sees next to the file in the
//! catalogue.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Largest header accepted (the `safetensors` crate's own limit is 100 MB).
pub const MAX_HEADER_LEN: u64 = 100 * 1024 * 1024;

/// Metadata string values longer than this (in characters) are cut, so a
/// kohya `ss_tag_frequency` of megabytes does not bloat the catalogue.
pub const MAX_METADATA_VALUE_CHARS: usize = 4096;

/// Appended to a metadata value that was cut to [`MAX_METADATA_VALUE_CHARS`].
pub const TRUNCATION_MARK: &str = "…[truncated]";

/// The element types the safetensors format defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtype {
    Bool,
    U8,
    I8,
    F8E4M3,
    F8E5M2,
    F8E8M0,
    F4,
    F6E2M3,
    F6E3M2,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

impl Dtype {
    pub const ALL: &'static [Dtype] = &[
        Dtype::Bool,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8E4M3,
        Dtype::F8E5M2,
        Dtype::F8E8M0,
        Dtype::F4,
        Dtype::F6E2M3,
        Dtype::F6E3M2,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name used in headers ("F16", "F8_E4M3", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8E4M3 => "F8_E4M3",
            Dtype::F8E5M2 => "F8_E5M2",
            Dtype::F8E8M0 => "F8_E8M0",
            Dtype::F4 => "F4",
            Dtype::F6E2M3 => "F6_E2M3",
            Dtype::F6E3M2 => "F6_E3M2",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    /// Parses a header dtype name; `None` for a name the format does not define.
    pub fn parse(name: &str) -> Option<Dtype> {
        Dtype::ALL.iter().copied().find(|d| d.as_str() == name)
    }

    /// Bits per element.
    pub fn bits(self) -> u64 {
        match self {
            Dtype::F4 => 4,
            Dtype::F6E2M3 | Dtype::F6E3M2 => 6,
            Dtype::Bool | Dtype::U8 | Dtype::I8 => 8,
            Dtype::F8E4M3 | Dtype::F8E5M2 | Dtype::F8E8M0 => 8,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 64,
        }
    }

    /// The catalogue's precision label: "fp32", "fp16", "bf16", "fp8", ...
    pub fn precision(self) -> &'static str {
        match self {
            Dtype::F32 => "fp32",
            Dtype::F16 => "fp16",
            Dtype::BF16 => "bf16",
            Dtype::F8E4M3 | Dtype::F8E5M2 | Dtype::F8E8M0 => "fp8",
            Dtype::F6E2M3 | Dtype::F6E3M2 => "fp6",
            Dtype::F4 => "fp4",
            Dtype::F64 => "fp64",
            Dtype::Bool => "bool",
            Dtype::U8 => "u8",
            Dtype::I8 => "i8",
            Dtype::I16 => "i16",
            Dtype::U16 => "u16",
            Dtype::I32 => "i32",
            Dtype::U32 => "u32",
            Dtype::I64 => "i64",
            Dtype::U64 => "u64",
        }
    }
}

/// One tensor entry of a validated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u64>,
    /// Byte range relative to the start of the data section.
    pub begin: u64,
    pub end: u64,
}

impl TensorInfo {
    /// Number of elements (1 for a scalar, 0 for an empty tensor).
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// A validated safetensors header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Length of the JSON header in bytes.
    pub header_len: u64,
    /// Size of the whole file in bytes.
    pub file_len: u64,
    /// Tensors in the order of their data.
    pub tensors: Vec<TensorInfo>,
    /// The `__metadata__` object, long string values truncated.
    pub metadata: Option<Map<String, Value>>,
}

impl Header {
    /// Where the tensor data starts: 8 + header length.
    pub fn data_offset(&self) -> u64 {
        8 + self.header_len
    }

    /// The tensor of that name, if any.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// Why a file is not a usable safetensors file. The `Display` text is the
/// sentence shown to users next to the file.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("empty file (0 bytes): not a safetensors file")]
    Empty,
    #[error("file is only {0} bytes long, too short to hold the 8-byte safetensors header length")]
    TooShort(u64),
    #[error(
        "declared header length of {0} bytes is over the 100 MiB limit: not a safetensors file, or corrupt"
    )]
    HeaderTooLarge(u64),
    #[error(
        "truncated file: the header length says {declared} bytes but only {available} bytes follow it"
    )]
    HeaderPastEnd { declared: u64, available: u64 },
    #[error("header is not valid UTF-8 (invalid byte at offset {0} of the header)")]
    NotUtf8(usize),
    #[error("header is not valid JSON: {0}")]
    NotJson(String),
    #[error("header is JSON but not an object (it is {0})")]
    NotObject(&'static str),
    #[error("__metadata__ is not a JSON object (it is {0})")]
    MetadataNotObject(&'static str),
    #[error("tensor '{name}': {problem}")]
    BadEntry { name: String, problem: String },
    #[error("tensor '{name}': data_offsets [{begin}, {end}] are out of order (end before begin)")]
    OffsetsOutOfOrder { name: String, begin: u64, end: u64 },
    #[error(
        "tensor '{name}': shape {shape:?} of {dtype} needs {expected} bytes but its data_offsets span {actual}"
    )]
    SizeMismatch {
        name: String,
        shape: Vec<u64>,
        dtype: &'static str,
        expected: u64,
        actual: u64,
    },
    #[error(
        "tensor '{name}': its data starts at byte {begin} but the previous tensor's data ends at byte {previous_end} (tensors must be contiguous, without gaps or overlaps)"
    )]
    NotContiguous {
        name: String,
        begin: u64,
        previous_end: u64,
    },
    #[error(
        "truncated file: the tensors need {needed} bytes of data but only {available} bytes follow the header"
    )]
    DataTruncated { needed: u64, available: u64 },
    #[error(
        "{extra} unexpected bytes after the last tensor's data: the file is not what its header describes"
    )]
    TrailingBytes { extra: u64 },
}

/// Reads and validates the header of the safetensors file at `path`.
/// Reads 8 bytes, then exactly the declared header length; never the data.
pub fn read_header(path: &Path) -> Result<Header, HeaderError> {
    let io_err = |source| HeaderError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let header_len = read_header_len(&mut file, file_len).map_err(|e| e.with_path(path))?;
    let mut bytes = vec![0u8; to_usize(header_len)?];
    file.read_exact(&mut bytes).map_err(io_err)?;
    parse_header(&bytes, file_len)
}

/// Validates a header's bytes against the size of the file they came from.
pub fn parse_header(bytes: &[u8], file_len: u64) -> Result<Header, HeaderError> {
    let text = std::str::from_utf8(bytes).map_err(|e| HeaderError::NotUtf8(e.valid_up_to()))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| HeaderError::NotJson(e.to_string()))?;
    let Value::Object(entries) = value else {
        return Err(HeaderError::NotObject(json_kind(&value)));
    };
    let header_len = bytes.len() as u64;
    let mut metadata = None;
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        if name == "__metadata__" {
            metadata = Some(parse_metadata(entry)?);
        } else {
            tensors.push(parse_entry(name, &entry)?);
        }
    }
    tensors.sort_by_key(|t| (t.begin, t.end));
    check_layout(&tensors, file_len.saturating_sub(8 + header_len))?;
    Ok(Header {
        header_len,
        file_len,
        tensors,
        metadata,
    })
}

/// Reads the values of one small floating-point tensor (at most `max_bytes`
/// of data), for the rare decision the header alone cannot make.
pub fn read_small_tensor(
    path: &Path,
    header: &Header,
    name: &str,
    max_bytes: u64,
) -> Result<Vec<f32>, String> {
    let tensor = header
        .tensor(name)
        .ok_or_else(|| format!("no tensor named '{name}'"))?;
    let len = tensor.end - tensor.begin;
    if len > max_bytes {
        return Err(format!(
            "tensor '{name}' holds {len} bytes, more than the {max_bytes} allowed"
        ));
    }
    read_floats_at(path, header.data_offset() + tensor.begin, len, tensor.dtype)
}

/// Reads `len` bytes at `offset` of `path` and decodes them as `dtype`
/// floats (F32, F16 or BF16).
pub fn read_floats_at(
    path: &Path,
    offset: u64,
    len: u64,
    dtype: Dtype,
) -> Result<Vec<f32>, String> {
    let cannot = |e: io::Error| format!("cannot read {}: {e}", path.display());
    let mut bytes = vec![0u8; usize::try_from(len).map_err(|_| "tensor too large".to_string())?];
    let mut file = File::open(path).map_err(cannot)?;
    file.seek(SeekFrom::Start(offset)).map_err(cannot)?;
    file.read_exact(&mut bytes).map_err(cannot)?;
    decode_floats(&bytes, dtype).ok_or_else(|| format!("{} is not a float type", dtype.as_str()))
}

/// An error found before the path was known to the inner function.
enum LenError {
    Io(io::Error),
    Header(HeaderError),
}

impl LenError {
    fn with_path(self, path: &Path) -> HeaderError {
        match self {
            LenError::Io(source) => HeaderError::Io {
                path: path.to_path_buf(),
                source,
            },
            LenError::Header(e) => e,
        }
    }
}

fn read_header_len(file: &mut File, file_len: u64) -> Result<u64, LenError> {
    match file_len {
        0 => return Err(LenError::Header(HeaderError::Empty)),
        1..8 => return Err(LenError::Header(HeaderError::TooShort(file_len))),
        _ => {}
    }
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes).map_err(LenError::Io)?;
    let declared = u64::from_le_bytes(len_bytes);
    if declared > MAX_HEADER_LEN {
        return Err(LenError::Header(HeaderError::HeaderTooLarge(declared)));
    }
    let available = file_len - 8;
    if declared > available {
        return Err(LenError::Header(HeaderError::HeaderPastEnd {
            declared,
            available,
        }));
    }
    Ok(declared)
}

fn to_usize(len: u64) -> Result<usize, HeaderError> {
    usize::try_from(len).map_err(|_| HeaderError::HeaderTooLarge(len))
}

fn parse_metadata(entry: Value) -> Result<Map<String, Value>, HeaderError> {
    match entry {
        Value::Object(map) => Ok(map
            .into_iter()
            .map(|(k, v)| (k, truncate_value(v)))
            .collect()),
        other => Err(HeaderError::MetadataNotObject(json_kind(&other))),
    }
}

/// Cuts a string value to [`MAX_METADATA_VALUE_CHARS`] characters.
pub fn truncate_value(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_METADATA_VALUE_CHARS => {
            let mut cut: String = s.chars().take(MAX_METADATA_VALUE_CHARS).collect();
            cut.push_str(TRUNCATION_MARK);
            Value::String(cut)
        }
        other => other,
    }
}

fn parse_entry(name: String, entry: &Value) -> Result<TensorInfo, HeaderError> {
    let bad = |problem: &str| HeaderError::BadEntry {
        name: name.clone(),
        problem: problem.to_string(),
    };
    let Value::Object(fields) = entry else {
        return Err(bad(&format!(
            "entry is {}, not an object with dtype, shape and data_offsets",
            json_kind(entry)
        )));
    };
    let dtype_name = match fields.get("dtype") {
        None => return Err(bad("missing \"dtype\"")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("\"dtype\" is not a string")),
    };
    let dtype =
        Dtype::parse(dtype_name).ok_or_else(|| bad(&format!("unknown dtype \"{dtype_name}\"")))?;
    let shape = match fields.get("shape") {
        None => return Err(bad("missing \"shape\"")),
        Some(v) => {
            u64_list(v).ok_or_else(|| bad("\"shape\" is not a list of non-negative integers"))?
        }
    };
    let offsets = match fields.get("data_offsets") {
        None => return Err(bad("missing \"data_offsets\"")),
        Some(v) => u64_list(v)
            .filter(|o| o.len() == 2)
            .ok_or_else(|| bad("\"data_offsets\" is not a pair of non-negative integers"))?,
    };
    let (begin, end) = (offsets[0], offsets[1]);
    if begin > end {
        return Err(HeaderError::OffsetsOutOfOrder { name, begin, end });
    }
    let expected = byte_size(&shape, dtype)
        .ok_or_else(|| bad("shape × dtype size overflows or is not a whole number of bytes"))?;
    if expected != end - begin {
        return Err(HeaderError::SizeMismatch {
            name,
            shape,
            dtype: dtype.as_str(),
            expected,
            actual: end - begin,
        });
    }
    Ok(TensorInfo {
        name,
        dtype,
        shape,
        begin,
        end,
    })
}

/// Bytes a tensor of this shape and dtype occupies; `None` on overflow or
/// for sub-byte types that do not fill whole bytes.
pub fn byte_size(shape: &[u64], dtype: Dtype) -> Option<u64> {
    let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
    let bits = elements.checked_mul(dtype.bits())?;
    (bits % 8 == 0).then_some(bits / 8)
}

/// Checks the sorted tensors tile the data section exactly.
fn check_layout(tensors: &[TensorInfo], available: u64) -> Result<(), HeaderError> {
    let mut previous_end = 0;
    for t in tensors {
        if t.begin != previous_end {
            return Err(HeaderError::NotContiguous {
                name: t.name.clone(),
                begin: t.begin,
                previous_end,
            });
        }
        previous_end = t.end;
    }
    if previous_end > available {
        return Err(HeaderError::DataTruncated {
            needed: previous_end,
            available,
        });
    }
    if previous_end < available {
        return Err(HeaderError::TrailingBytes {
            extra: available - previous_end,
        });
    }
    Ok(())
}

fn u64_list(value: &Value) -> Option<Vec<u64>> {
    value.as_array()?.iter().map(Value::as_u64).collect()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn decode_floats(bytes: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F16 => Some(
            bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        Dtype::BF16 => Some(
            bytes
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
        ),
        _ => None,
    }
}

/// IEEE half to single precision.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        0x1f if frac == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests;

//! Tensor access by name with accounting.
//!
//! A [`TensorFile`] is one memory-mapped safetensors file (or, for tests of
//! the real layouts without the real weights, a table of names and shapes
//! whose tensors are zero-cost broadcast zeros). A [`Weights`] is a view of
//! it under a key prefix that converts every tensor it hands out to the
//! compute dtype and device, and records the key as used, so that after
//! building the networks the loader can list every tensor nobody read.
//!
//! Trade-off: each tensor is copied out of the mapping once, at build time,
//! and converted to the compute dtype (f16 files become f32 in memory under
//! an f32 compute dtype); its pages are then given back (`MADV_DONTNEED`).
//! The file stays in the page cache, which the system may reclaim, but not
//! in the process: while a stage is built only its converted copies are
//! resident, which is what keeps a full SDXL render in f32 under 13 GB
//! (a mapping whose pages stay resident peaked at 15.3 GB).

use super::{ModelError, Result};
use crate::catalog::safetensors::read_header;
use crate::engine::lora::LoraSet;
use candle_core::{DType, Device, Tensor};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

enum Source {
    /// The open file and its read-only mapping; tensors are copied out of
    /// their byte ranges.
    Mapped { file: File, map: memmap2::Mmap },
    /// Names, shapes and dtypes only (headers of real files).
    Shapes,
}

/// One weight file, opened for reading.
pub struct TensorFile {
    path: PathBuf,
    source: Source,
    /// name -> (shape, dtype), from the header.
    index: BTreeMap<String, (Vec<usize>, DType)>,
    /// name -> (absolute byte offset, length) of the tensor's data.
    ranges: BTreeMap<String, (u64, u64)>,
    used: Mutex<BTreeSet<String>>,
    /// LoRA patches merged into each weight as it is read.
    patches: Mutex<Option<Arc<LoraSet>>>,
}

fn parse_dtype(s: &str) -> Option<DType> {
    Some(match s {
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "F64" => DType::F64,
        "I64" => DType::I64,
        "U8" => DType::U8,
        "U32" => DType::U32,
        _ => return None,
    })
}

impl TensorFile {
    /// Opens a safetensors file and reads its header (bounded and
    /// validated by the catalogue's reader).
    pub fn open(path: &Path) -> Result<Arc<Self>> {
        let meta = std::fs::metadata(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        if !meta.is_file() {
            return Err(ModelError::BadFile {
                path: path.to_owned(),
                message: "not a regular file".into(),
            });
        }
        let header = read_header(path).map_err(|e| ModelError::BadFile {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let file = File::open(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        // SAFETY: the mapping is read-only and private to this struct, and
        // every read first checks that the file has not shrunk (see
        // `load`): reading past the end of a mapped file is the one way a
        // mapping of an unchanging file can fault.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut index = BTreeMap::new();
        let mut ranges = BTreeMap::new();
        for t in &header.tensors {
            // Unknown dtypes (fp8, bool, ...) are indexed as U8 and refused
            // by `load` with the tensor's name.
            let dt = parse_dtype(t.dtype.as_str()).unwrap_or(DType::U8);
            let shape = t.shape.iter().map(|d| *d as usize).collect();
            index.insert(t.name.clone(), (shape, dt));
            ranges.insert(
                t.name.clone(),
                (header.data_offset() + t.begin, t.end - t.begin),
            );
        }
        Ok(Arc::new(Self {
            path: path.to_owned(),
            source: Source::Mapped { file, map },
            index,
            ranges,
            used: Mutex::new(BTreeSet::new()),
            patches: Mutex::new(None),
        }))
    }

    /// A file described by its header only, as JSON lines
    /// `{"key": .., "shape": [..], "dtype": ".."}`. Its tensors are
    /// broadcast zeros: enough to build every module and check the layout,
    /// not to run them.
    pub fn from_header_lines(name: &str, text: &str) -> Result<Arc<Self>> {
        let path = PathBuf::from(name);
        let mut index = BTreeMap::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let bad = |m: &str| ModelError::BadFile {
                path: path.clone(),
                message: format!("line {}: {m}", n + 1),
            };
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
            let key = v["key"].as_str().ok_or_else(|| bad("no key"))?.to_string();
            let shape = v["shape"]
                .as_array()
                .ok_or_else(|| bad("no shape"))?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("bad shape"))?;
            let dtype = v["dtype"]
                .as_str()
                .and_then(parse_dtype)
                .ok_or_else(|| bad("bad dtype"))?;
            index.insert(key, (shape, dtype));
        }
        Ok(Arc::new(Self {
            path,
            source: Source::Shapes,
            index,
            ranges: BTreeMap::new(),
            used: Mutex::new(BTreeSet::new()),
            patches: Mutex::new(None),
        }))
    }

    /// LoRA patches to merge into the weights read from now on (ComfyUI
    /// merges in the dtype the model runs in, which is what `load` hands
    /// them).
    pub fn set_patches(&self, set: Option<Arc<LoraSet>>) {
        if let Ok(mut p) = self.patches.lock() {
            *p = set;
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every tensor name in the file.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    pub fn shape_of(&self, key: &str) -> Option<&[usize]> {
        self.index.get(key).map(|(s, _)| s.as_slice())
    }

    pub fn dtype_of(&self, key: &str) -> Option<DType> {
        self.index.get(key).map(|(_, d)| *d)
    }

    /// Names read so far.
    pub fn used(&self) -> BTreeSet<String> {
        self.used.lock().map(|u| u.clone()).unwrap_or_default()
    }

    fn mark(&self, key: &str) {
        if let Ok(mut u) = self.used.lock() {
            u.insert(key.to_string());
        }
    }

    fn load(&self, key: &str, dtype: DType, device: &Device) -> Result<Tensor> {
        let (shape, file_dtype) = self.index.get(key).ok_or_else(|| ModelError::Missing {
            path: self.path.clone(),
            key: key.to_string(),
        })?;
        if !matches!(
            file_dtype,
            DType::F32 | DType::F16 | DType::BF16 | DType::F64
        ) {
            return Err(ModelError::Dtype {
                path: self.path.clone(),
                key: key.to_string(),
                dtype: format!("{file_dtype:?}"),
            });
        }
        self.mark(key);
        let t = match &self.source {
            Source::Mapped { file, map } => {
                let (offset, len) = self.ranges[key];
                let end = offset + len;
                // The header was checked against the file's length when it
                // was opened; a file cut short since (rewritten in place
                // while gen loads it) is an error, not a fault.
                let now = file.metadata().map_err(|source| ModelError::Io {
                    path: self.path.clone(),
                    source,
                })?;
                if now.len() < end || (map.len() as u64) < end {
                    return Err(ModelError::BadFile {
                        path: self.path.clone(),
                        message: format!(
                            "the file changed while loading: {key} ends at byte {end}, \
                             the file now has {} bytes",
                            now.len()
                        ),
                    });
                }
                let (offset, len) = (offset as usize, len as usize);
                let t = Tensor::from_raw_buffer(
                    &map[offset..offset + len],
                    *file_dtype,
                    shape,
                    &Device::Cpu,
                )?
                .to_device(device)?;
                release(map, offset, len);
                t
            }
            Source::Shapes => {
                return Ok(Tensor::zeros((), dtype, device)?.broadcast_as(shape.as_slice())?);
            }
        };
        let t = if t.dtype() == dtype {
            t
        } else {
            t.to_dtype(dtype)?
        };
        let patches = self.patches.lock().ok().and_then(|p| p.clone());
        match patches {
            Some(set) => set
                .merged(key, &t)
                .map_err(|e| ModelError::Invalid(format!("{}: {e}", self.path.display()))),
            None => Ok(t),
        }
    }
}

/// Gives the pages of a tensor's byte range back once it has been copied
/// out, so that the process holds only the converted copy (the system may
/// still cache the file). Where this is not supported the pages stay until
/// the file is closed.
fn release(map: &memmap2::Mmap, offset: usize, len: usize) {
    #[cfg(unix)]
    // SAFETY: the mapping is read-only and backed by the file, so dropped
    // pages read back the same bytes; no reference into the range is held.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
    #[cfg(not(unix))]
    let _ = (map, offset, len);
}

/// A prefixed view of a [`TensorFile`] that loads in the compute dtype.
#[derive(Clone)]
pub struct Weights {
    file: Arc<TensorFile>,
    prefix: String,
    dtype: DType,
    device: Device,
}

impl Weights {
    pub fn new(file: Arc<TensorFile>, dtype: DType, device: &Device) -> Self {
        Self {
            file,
            prefix: String::new(),
            dtype,
            device: device.clone(),
        }
    }

    /// The view under `prefix.name`.
    pub fn pp(&self, name: impl std::fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        };
        Self {
            prefix,
            ..self.clone()
        }
    }

    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub fn file(&self) -> &Arc<TensorFile> {
        &self.file
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn contains(&self, name: &str) -> bool {
        self.file.index.contains_key(&self.key(name))
    }

    /// Whether any tensor lies under `prefix.name.`.
    pub fn contains_prefix(&self, name: &str) -> bool {
        let p = format!("{}.", self.key(name));
        self.file
            .index
            .range(p.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&p))
    }

    /// The shape of a tensor, without marking it used.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        let key = self.key(name);
        self.file
            .shape_of(&key)
            .map(<[usize]>::to_vec)
            .ok_or(ModelError::Missing {
                path: self.file.path.clone(),
                key,
            })
    }

    /// Size of dimension `i` of a tensor; a tensor of too low a rank is a
    /// layout error naming it.
    pub fn dim(&self, name: &str, i: usize) -> Result<usize> {
        let shape = self.shape(name)?;
        shape.get(i).copied().ok_or_else(|| ModelError::Layout {
            path: self.file.path.clone(),
            message: format!(
                "tensor `{}` has rank {}, expected at least {}",
                self.key(name),
                shape.len(),
                i + 1
            ),
        })
    }

    /// Counts `prefix.name.N.*` groups for N = 0, 1, ... until one is absent.
    pub fn count(&self, name: &str) -> usize {
        (0..)
            .take_while(|i| self.contains_prefix(&format!("{name}.{i}")))
            .count()
    }

    pub fn get(&self, name: &str) -> Result<Tensor> {
        self.file.load(&self.key(name), self.dtype, &self.device)
    }

    /// A tensor of a known shape; a different shape is an error naming it.
    pub fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let found = self.shape(name)?;
        if found != shape {
            return Err(ModelError::Shape {
                path: self.file.path.clone(),
                key: self.key(name),
                expected: shape.to_vec(),
                found,
            });
        }
        self.get(name)
    }
}

/// An error for a file whose layout is not what a module expects.
pub fn layout_error(w: &Weights, message: impl Into<String>) -> ModelError {
    ModelError::Layout {
        path: w.file().path().to_owned(),
        message: message.into(),
    }
}

//! A reader for the GGUF header: just the metadata the planner needs, read without
//! touching the tensor data, so `frugal hw` is instant even for an 8 GB model, and a
//! missing, truncated or non-GGUF file gets a clear error before llama.cpp sees it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Why a GGUF file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// No file at that path.
    #[error("model file not found: {0}")]
    NotFound(PathBuf),
    /// The file could not be read.
    #[error("cannot read model file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error, quoted in the message (not a `source()`, or it would print twice).
        error: io::Error,
    },
    /// The file does not start with the GGUF magic.
    #[error("{0} is not a GGUF model file")]
    NotGguf(PathBuf),
    /// A GGUF version this reader does not know.
    #[error("{path} uses GGUF version {version}, which is not supported (2 and 3 are)")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The file is shorter than its own header says (an interrupted download).
    #[error("{path} is truncated: {actual} bytes, but the model needs {expected} (re-download it)")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises.
        expected: u64,
        /// Bytes on disk.
        actual: u64,
    },
    /// The header is malformed.
    #[error("{path} has a corrupt header: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A key the planner needs is missing.
    #[error("{path} lacks the metadata key {key}")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
}

/// A scalar metadata value (arrays are kept as their length only).
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// Any integer type.
    Int(i128),
    /// f32 or f64.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// An array, of which only the length is kept.
    Array(u64),
}

/// What the planner needs from a model file.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GgufInfo {
    /// The file.
    pub path: PathBuf,
    /// GGUF version.
    pub version: u32,
    /// Architecture (`llama`, `qwen3`, `gemma3`, …).
    pub architecture: String,
    /// Human name from `general.name`, or the file stem.
    pub name: String,
    /// Transformer blocks (layers).
    pub block_count: u32,
    /// Embedding width.
    pub embedding_length: u32,
    /// Attention heads.
    pub head_count: u32,
    /// Key/value heads (grouped-query attention); equals `head_count` without GQA.
    pub head_count_kv: u32,
    /// Per-head key width.
    pub key_length: u32,
    /// Per-head value width.
    pub value_length: u32,
    /// Context the model was trained for.
    pub context_length: u32,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Tensor count.
    pub tensor_count: u64,
    /// Bytes of tensor data (weights).
    pub tensor_bytes: u64,
    /// File size.
    pub file_size: u64,
    /// Whether the file embeds a chat template.
    pub has_chat_template: bool,
}

/// Size in bytes of `n` elements of ggml type `t`, or None for a type this table lacks.
fn ggml_type_bytes(t: u32, n: u64) -> Option<u64> {
    let (block, size): (u64, u64) = match t {
        0 => (1, 4),
        1 | 30 => (1, 2),
        2 => (32, 18),
        3 => (32, 20),
        6 => (32, 22),
        7 => (32, 24),
        8 => (32, 34),
        9 => (32, 36),
        10 => (256, 84),
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66),
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        20 => (32, 18),
        21 => (256, 110),
        22 => (256, 82),
        23 => (256, 136),
        24 => (1, 1),
        25 => (1, 2),
        26 => (1, 4),
        27 | 28 => (1, 8),
        29 => (256, 56),
        34 => (256, 54),
        35 => (256, 66),
        39 => (32, 17),
        _ => return None,
    };
    Some(n.div_ceil(block) * size)
}

struct Reader<R> {
    inner: R,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl<R: Read + Seek> Reader<R> {
    fn fail(&self, e: io::Error) -> GgufError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            GgufError::Truncated { path: self.path.clone(), expected: self.pos + 1, actual: self.len }
        } else {
            GgufError::Io { path: self.path.clone(), error: e }
        }
    }
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b).map_err(|e| self.fail(e))?;
        self.pos += N as u64;
        Ok(b)
    }
    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }
    fn corrupt(&self, reason: impl Into<String>) -> GgufError {
        GgufError::Corrupt { path: self.path.clone(), reason: reason.into() }
    }
    /// A length that must fit in what is left of the file (guards against garbage headers
    /// asking for terabytes of allocation).
    fn len_prefix(&mut self, min_each: u64) -> Result<u64, GgufError> {
        let n = self.u64()?;
        let left = self.len.saturating_sub(self.pos);
        if n.saturating_mul(min_each.max(1)) > left {
            return Err(self.corrupt(format!("a length of {n} runs past the end of the file")));
        }
        Ok(n)
    }
    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        let n_i64 = i64::try_from(n).map_err(|_| self.corrupt("length overflow"))?;
        self.inner.seek(SeekFrom::Current(n_i64)).map_err(|e| self.fail(e))?;
        self.pos += n;
        if self.pos > self.len {
            return Err(GgufError::Truncated { path: self.path.clone(), expected: self.pos, actual: self.len });
        }
        Ok(())
    }
    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.len_prefix(1)?;
        let n = usize::try_from(n).map_err(|_| self.corrupt("string too long"))?;
        let mut buf = vec![0u8; n];
        self.inner.read_exact(&mut buf).map_err(|e| self.fail(e))?;
        self.pos += n as u64;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
    fn skip_string(&mut self) -> Result<(), GgufError> {
        let n = self.len_prefix(1)?;
        self.skip(n)
    }
    fn scalar_size(t: u32) -> Option<u64> {
        match t {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        }
    }
    fn value(&mut self, t: u32) -> Result<MetaValue, GgufError> {
        Ok(match t {
            0 => MetaValue::Int(i128::from(self.bytes::<1>()?[0])),
            1 => MetaValue::Int(i128::from(i8::from_le_bytes(self.bytes()?))),
            2 => MetaValue::Int(i128::from(u16::from_le_bytes(self.bytes()?))),
            3 => MetaValue::Int(i128::from(i16::from_le_bytes(self.bytes()?))),
            4 => MetaValue::Int(i128::from(self.u32()?)),
            5 => MetaValue::Int(i128::from(i32::from_le_bytes(self.bytes()?))),
            6 => MetaValue::Float(f64::from(f32::from_le_bytes(self.bytes()?))),
            7 => MetaValue::Bool(self.bytes::<1>()?[0] != 0),
            8 => MetaValue::Str(self.string()?),
            9 => {
                let et = self.u32()?;
                if et == 8 {
                    let n = self.len_prefix(8)?;
                    for _ in 0..n {
                        self.skip_string()?;
                    }
                    MetaValue::Array(n)
                } else if let Some(size) = Self::scalar_size(et) {
                    let n = self.len_prefix(size)?;
                    self.skip(n * size)?;
                    MetaValue::Array(n)
                } else {
                    return Err(self.corrupt(format!("array of unsupported type {et}")));
                }
            }
            10 => MetaValue::Int(i128::from(self.u64()?)),
            11 => MetaValue::Int(i128::from(i64::from_le_bytes(self.bytes()?))),
            12 => MetaValue::Float(f64::from_le_bytes(self.bytes()?)),
            other => return Err(self.corrupt(format!("unknown value type {other}"))),
        })
    }
}

/// Reads the header of the GGUF file at `path`.
pub fn read_gguf(path: &Path) -> Result<GgufInfo, GgufError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => GgufError::NotFound(path.to_path_buf()),
        _ => GgufError::Io { path: path.to_path_buf(), error: e },
    })?;
    let meta = file.metadata().map_err(|e| GgufError::Io { path: path.to_path_buf(), error: e })?;
    if meta.is_dir() {
        return Err(GgufError::NotGguf(path.to_path_buf()));
    }
    let len = meta.len();
    let mut r = Reader { inner: BufReader::with_capacity(1 << 16, file), pos: 0, len, path: path.to_path_buf() };
    let magic = r.bytes::<4>().map_err(|_| GgufError::NotGguf(path.to_path_buf()))?;
    if &magic != b"GGUF" {
        return Err(GgufError::NotGguf(path.to_path_buf()));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion { path: path.to_path_buf(), version });
    }
    let tensor_count = r.len_prefix(24)?;
    let kv_count = r.len_prefix(12)?;
    let mut kv = BTreeMap::new();
    for _ in 0..kv_count {
        let key = r.string()?;
        let t = r.u32()?;
        let v = r.value(t)?;
        kv.insert(key, v);
    }
    let mut data_extent = 0u64;
    let mut tensor_bytes = 0u64;
    for _ in 0..tensor_count {
        r.skip_string()?;
        let dims = r.u32()?;
        if dims > 8 {
            return Err(r.corrupt(format!("a tensor with {dims} dimensions")));
        }
        let mut n: u64 = 1;
        for _ in 0..dims {
            n = n.saturating_mul(r.u64()?);
        }
        let t = r.u32()?;
        let offset = r.u64()?;
        if let Some(size) = ggml_type_bytes(t, n) {
            tensor_bytes = tensor_bytes.saturating_add(size);
            data_extent = data_extent.max(offset.saturating_add(size));
        } else {
            data_extent = data_extent.max(offset);
        }
    }
    let alignment = match kv.get("general.alignment") {
        Some(MetaValue::Int(a)) if *a > 0 => u64::try_from(*a).unwrap_or(32),
        _ => 32,
    };
    let data_start = r.pos.div_ceil(alignment) * alignment;
    let expected = data_start.saturating_add(data_extent);
    if expected > len {
        return Err(GgufError::Truncated { path: path.to_path_buf(), expected, actual: len });
    }
    info_from(path, version, &kv, tensor_count, tensor_bytes, len)
}

fn info_from(
    path: &Path,
    version: u32,
    kv: &BTreeMap<String, MetaValue>,
    tensor_count: u64,
    tensor_bytes: u64,
    file_size: u64,
) -> Result<GgufInfo, GgufError> {
    let missing = |key: &str| GgufError::MissingKey { path: path.to_path_buf(), key: key.to_string() };
    let architecture = match kv.get("general.architecture") {
        Some(MetaValue::Str(s)) => s.clone(),
        _ => return Err(missing("general.architecture")),
    };
    let int = |key: &str| -> Option<u32> {
        match kv.get(&format!("{architecture}.{key}")) {
            Some(MetaValue::Int(v)) => u32::try_from(*v).ok(),
            _ => None,
        }
    };
    let block_count = int("block_count").ok_or_else(|| missing(&format!("{architecture}.block_count")))?;
    let embedding_length =
        int("embedding_length").ok_or_else(|| missing(&format!("{architecture}.embedding_length")))?;
    let head_count = int("attention.head_count").unwrap_or(1).max(1);
    let head_count_kv = int("attention.head_count_kv").unwrap_or(head_count).max(1);
    let head_dim = embedding_length / head_count;
    let name = match kv.get("general.name") {
        Some(MetaValue::Str(s)) if !s.trim().is_empty() => s.clone(),
        _ => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let vocab_size = match kv.get("tokenizer.ggml.tokens") {
        Some(MetaValue::Array(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
        _ => int("vocab_size").unwrap_or(32_000),
    };
    Ok(GgufInfo {
        path: path.to_path_buf(),
        version,
        name,
        block_count,
        embedding_length,
        head_count,
        head_count_kv,
        key_length: int("attention.key_length").unwrap_or(head_dim),
        value_length: int("attention.value_length").unwrap_or(head_dim),
        context_length: int("context_length").unwrap_or(2048),
        vocab_size,
        tensor_count,
        tensor_bytes,
        file_size,
        has_chat_template: matches!(kv.get("tokenizer.chat_template"), Some(MetaValue::Str(_))),
        architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes a minimal, valid GGUF v3 with one F32 tensor of `n` elements.
    pub(crate) fn tiny_gguf(n: u64, data: bool) -> Vec<u8> {
        let mut b = Vec::new();
        let s = |b: &mut Vec<u8>, s: &str| {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s.as_bytes());
        };
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(5u64.to_le_bytes());
        s(&mut b, "general.architecture");
        b.extend(8u32.to_le_bytes());
        s(&mut b, "llama");
        s(&mut b, "llama.block_count");
        b.extend(4u32.to_le_bytes());
        b.extend(2u32.to_le_bytes());
        s(&mut b, "llama.embedding_length");
        b.extend(4u32.to_le_bytes());
        b.extend(64u32.to_le_bytes());
        s(&mut b, "llama.attention.head_count");
        b.extend(4u32.to_le_bytes());
        b.extend(4u32.to_le_bytes());
        s(&mut b, "tokenizer.ggml.tokens");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        s(&mut b, "a");
        s(&mut b, "b");
        s(&mut b, "w");
        b.extend(1u32.to_le_bytes());
        b.extend(n.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        if data {
            b.extend(vec![0u8; (n * 4) as usize]);
        }
        b
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_a_minimal_file() {
        let f = write(&tiny_gguf(16, true));
        let info = read_gguf(f.path()).unwrap();
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.block_count, 2);
        assert_eq!(info.embedding_length, 64);
        assert_eq!(info.head_count_kv, 4);
        assert_eq!(info.key_length, 16);
        assert_eq!(info.vocab_size, 2);
        assert_eq!(info.tensor_bytes, 64);
    }

    #[test]
    fn missing_tensor_data_is_truncated() {
        let f = write(&tiny_gguf(16, false));
        assert!(matches!(read_gguf(f.path()), Err(GgufError::Truncated { .. })));
    }

    #[test]
    fn header_cut_short_is_truncated() {
        let full = tiny_gguf(16, true);
        let f = write(&full[..40]);
        assert!(matches!(read_gguf(f.path()), Err(GgufError::Truncated { .. } | GgufError::Corrupt { .. })));
    }

    #[test]
    fn text_file_is_not_gguf() {
        let f = write(b"hello, I am not a model");
        let e = read_gguf(f.path()).unwrap_err();
        assert!(matches!(e, GgufError::NotGguf(_)));
        assert!(e.to_string().contains("not a GGUF model file"));
    }

    #[test]
    fn empty_file_is_not_gguf() {
        let f = write(b"");
        assert!(matches!(read_gguf(f.path()), Err(GgufError::NotGguf(_))));
    }

    #[test]
    fn absurd_lengths_are_corrupt_not_an_allocation() {
        let mut b = Vec::new();
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        let f = write(&b);
        assert!(matches!(read_gguf(f.path()), Err(GgufError::Corrupt { .. })));
    }

    #[test]
    fn missing_file_is_not_found() {
        let e = read_gguf(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(matches!(e, GgufError::NotFound(_)));
    }
}

//! The file format: a header (magic, width, file id, model name, CRC), then records of
//! `key u64 | scale f32 | dims × i8 | CRC32`, little-endian. Appends are made durable
//! (`sync_data`) before the caller hears they happened; rewrites go to a temporary file that
//! replaces the old one by rename, with a new random file id, so a reader can tell the file
//! it read from its replacement (inode numbers are reused, ids are not).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::{Result, VectorError};

const MAGIC: &[u8; 8] = b"FRUGVEC2";
/// Longest model name a header may hold: a bigger length is damage, not a name.
const MAX_NAME: usize = 4096;

/// Bytes of one record.
pub(crate) fn record_len(dims: usize) -> usize {
    8 + 4 + dims + 4
}

/// Whole records read from some offset on, as the store keeps them.
#[derive(Default)]
pub(crate) struct Tail {
    pub keys: Vec<u64>,
    pub scales: Vec<f32>,
    pub data: Vec<i8>,
    /// Bytes they (and the header, when read from the start) take.
    pub bytes: u64,
    /// The data ended in a partial or damaged record, which was not read.
    pub torn: bool,
}

pub(crate) enum Loaded {
    Missing,
    /// Not ours to read: the reason, completing "the embeddings in FILE …".
    Other(String),
    /// The file's id and its records.
    Records(u64, Tail),
}

/// What a reader finds after the bytes it has read.
pub(crate) enum Since {
    /// The same file: the records appended since.
    More(Tail),
    /// Another file (a compaction or a rebuild replaced it), or none: read it all again.
    Replaced,
}

fn header(model: &str, dims: usize, id: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(28 + model.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&(dims as u32).to_le_bytes());
    h.extend_from_slice(&id.to_le_bytes());
    h.extend_from_slice(&(model.len() as u32).to_le_bytes());
    h.extend_from_slice(model.as_bytes());
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// A header read back: width, id, model name, and its length in bytes.
struct Header {
    dims: usize,
    id: u64,
    model: String,
    len: usize,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The header at the start of `bytes`, or why it is not one.
fn parse_header(bytes: &[u8]) -> std::result::Result<Header, &'static str> {
    const NOT_OURS: &str = "are not a frugal embedding file (damaged or cut short)";
    if bytes.len() < 28 || &bytes[..8] != MAGIC {
        return Err(NOT_OURS);
    }
    let name_len = u32_at(bytes, 20) as usize;
    if name_len > MAX_NAME || bytes.len() < 28 + name_len {
        return Err("have a damaged header");
    }
    let len = 28 + name_len;
    if crc32fast::hash(&bytes[..len - 4]) != u32_at(bytes, len - 4) {
        return Err("have a damaged header");
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[12..20]);
    Ok(Header {
        dims: u32_at(bytes, 8) as usize,
        id: u64::from_le_bytes(id),
        model: String::from_utf8_lossy(&bytes[24..24 + name_len]).into_owned(),
        len,
    })
}

pub(crate) fn encode(out: &mut Vec<u8>, key: u64, scale: f32, q: &[i8]) {
    let start = out.len();
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend(q.iter().map(|&v| v as u8));
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Every whole, intact record in `bytes`, straight into the store's arrays (no copy per
/// record: loading a 300,000-passage file needs the file and the arrays, nothing more).
fn decode(bytes: &[u8], dims: usize) -> Tail {
    let n = record_len(dims);
    let count = bytes.len() / n;
    let mut tail = Tail {
        keys: Vec::with_capacity(count),
        scales: Vec::with_capacity(count),
        data: Vec::with_capacity(count * dims),
        ..Tail::default()
    };
    let mut at = 0;
    while at + n <= bytes.len() {
        let r = &bytes[at..at + n];
        let body = &r[..n - 4];
        if crc32fast::hash(body) != u32_at(r, n - 4) {
            break;
        }
        let mut key = [0u8; 8];
        key.copy_from_slice(&body[..8]);
        let scale = f32::from_bits(u32_at(body, 8));
        if !scale.is_finite() {
            break;
        }
        tail.keys.push(u64::from_le_bytes(key));
        tail.scales.push(scale);
        tail.data.extend(body[12..].iter().map(|&b| b as i8));
        at += n;
    }
    tail.bytes = at as u64;
    tail.torn = at != bytes.len();
    tail
}

/// The whole file, read only once its header says it is `model`'s: another model's file
/// (the old one's, right after the user switched models) is read again on every refresh
/// until it is replaced, and at a few hundred MB that would be every search's cost.
pub(crate) fn read_all(path: &Path, model: &str, dims: usize) -> Result<Loaded> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(VectorError::io("cannot read", path)(e)),
    };
    let mut bytes = Vec::with_capacity(28 + MAX_NAME);
    (&mut f).take(28 + MAX_NAME as u64).read_to_end(&mut bytes).map_err(VectorError::io("cannot read", path))?;
    let h = match parse_header(&bytes) {
        Ok(h) => h,
        Err(reason) => return Ok(Loaded::Other(reason.to_string())),
    };
    if h.model != model {
        return Ok(Loaded::Other(format!("are from another model ({}, not {model})", h.model)));
    }
    if h.dims != dims {
        return Ok(Loaded::Other(format!("are {} numbers wide, not the model's {dims}", h.dims)));
    }
    f.read_to_end(&mut bytes).map_err(VectorError::io("cannot read", path))?;
    let mut tail = decode(&bytes[h.len..], dims);
    tail.bytes += h.len as u64;
    Ok(Loaded::Records(h.id, tail))
}

/// Whether the file at `path` has at least one record after its header (nothing is
/// checked beyond the header: a cheap look before loading a model).
pub(crate) fn holds_records(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else { return false };
    let mut head = Vec::with_capacity(28 + MAX_NAME);
    if (&mut f).take(28 + MAX_NAME as u64).read_to_end(&mut head).is_err() {
        return false;
    }
    let (Ok(h), Ok(meta)) = (parse_header(&head), f.metadata()) else { return false };
    meta.len() >= (h.len + record_len(h.dims)) as u64
}

/// The records appended to file `id` after its first `offset` bytes; one open file, so a
/// rename in between cannot mix two files.
pub(crate) fn read_since(path: &Path, id: u64, offset: u64, dims: usize) -> Result<Since> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Since::Replaced),
        Err(e) => return Err(VectorError::io("cannot read", path)(e)),
    };
    let mut head = Vec::with_capacity(28 + MAX_NAME);
    (&mut f).take(28 + MAX_NAME as u64).read_to_end(&mut head).map_err(VectorError::io("cannot read", path))?;
    let len = f.metadata().map_err(VectorError::io("cannot read", path))?.len();
    match parse_header(&head) {
        Ok(h) if h.id == id && len >= offset => {}
        _ => return Ok(Since::Replaced),
    }
    f.seek(SeekFrom::Start(offset)).map_err(VectorError::io("cannot read", path))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len - offset).unwrap_or(0));
    f.read_to_end(&mut bytes).map_err(VectorError::io("cannot read", path))?;
    let mut tail = decode(&bytes, dims);
    // Another writer may be mid-append: a partial last record is not torn yet.
    tail.torn = false;
    Ok(Since::More(tail))
}

pub(crate) fn append(out: &mut File, path: &Path, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(VectorError::io("cannot write", path))?;
    out.sync_data().map_err(VectorError::io("cannot sync", path))
}

/// A fresh file id: unique enough that a reader never takes a replacement for the file it
/// read (no random-number crate for one number: the std hasher's keys are random).
fn new_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}

/// A new file with `records`, swapped in by rename; returns its id and length.
pub(crate) fn rewrite<'a>(
    path: &Path,
    model: &str,
    dims: usize,
    records: impl Iterator<Item = (u64, f32, &'a [i8])>,
) -> Result<(u64, u64)> {
    let tmp = path.with_extension("tmp");
    let id = new_id();
    let mut bytes = header(model, dims, id);
    for (key, scale, q) in records {
        encode(&mut bytes, key, scale, q);
    }
    let mut f = File::create(&tmp).map_err(VectorError::io("cannot create", &tmp))?;
    f.write_all(&bytes).map_err(VectorError::io("cannot write", &tmp))?;
    f.sync_all().map_err(VectorError::io("cannot sync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(VectorError::io("cannot replace", path))?;
    if let Some(dir) = path.parent() {
        // The rename itself durable; best effort where directories cannot be opened.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok((id, bytes.len() as u64))
}

/// The file opened for appending after its first `valid` bytes, and whether a torn tail
/// past them was cut.
pub(crate) fn open_for_append(path: &Path, valid: u64) -> Result<(File, bool)> {
    let f = File::options().append(true).open(path).map_err(VectorError::io("cannot open", path))?;
    let len = f.metadata().map_err(VectorError::io("cannot read", path))?.len();
    if len > valid {
        f.set_len(valid).map_err(VectorError::io("cannot cut the torn end of", path))?;
        f.sync_all().map_err(VectorError::io("cannot sync", path))?;
    }
    Ok((f, len > valid))
}

//! Model downloads: resumable (HTTP Range), verified (size and sha256), atomic (a `.part`
//! file renamed into place only once verified), with progress callbacks for the CLI's
//! progress bar and the tray app's progress events.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::catalog::CatalogEntry;
use crate::{CoreError, Result};

/// What a pull is doing, for progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Bytes arriving from the network.
    Downloading,
    /// Hashing what arrived.
    Verifying,
    /// Unpacking the model from its archive.
    Extracting,
}

/// Progress callback: phase, bytes done, bytes total.
pub type OnProgress<'a> = &'a mut dyn FnMut(Phase, u64, u64);

fn fail(msg: impl Into<String>) -> CoreError {
    CoreError::Download(msg.into())
}

/// Hugging Face's own convention for mirrors: `HF_ENDPOINT` replaces the host.
fn effective_url(url: &str) -> String {
    match std::env::var("HF_ENDPOINT") {
        Ok(endpoint) if url.starts_with("https://huggingface.co/") => {
            format!("{}/{}", endpoint.trim_end_matches('/'), &url["https://huggingface.co/".len()..])
        }
        _ => url.to_string(),
    }
}

/// The host part of a URL, for error messages (never the path or query, which could hold tokens).
fn host_of(url: &str) -> &str {
    url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or(url)
}

/// sha256 of a file, reporting progress.
pub fn sha256_file(path: &Path, on_progress: OnProgress<'_>) -> Result<String> {
    let mut f = File::open(path).map_err(CoreError::io("cannot read", path))?;
    let total = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(CoreError::io("cannot read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        on_progress(Phase::Verifying, done, total);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Downloads `url` into `part`, resuming from what `part` already holds, then checks size
/// and sha256. A mismatching file is deleted (it can never become right by resuming).
pub fn fetch_verified(url: &str, part: &Path, size: u64, sha256: &str, on_progress: OnProgress<'_>) -> Result<()> {
    let url = effective_url(url);
    let mut offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if offset > size {
        offset = 0;
    }
    if offset < size {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("frugal/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            // In the blocking client this bounds the wait for headers and for each body read,
            // not the whole transfer: a stalled server fails in a minute, a slow one does not.
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| fail(format!("cannot start the HTTP client: {e}")))?;
        let mut request = client.get(&url);
        if offset > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        if host_of(&url).ends_with("huggingface.co") {
            if let Ok(token) = std::env::var("HF_TOKEN") {
                request = request.bearer_auth(token);
            }
        }
        let mut response =
            request.send().map_err(|e| fail(format!("cannot reach {}: {}", host_of(&url), e.without_url())))?;
        let status = response.status();
        let append = match status.as_u16() {
            206 => true,
            200 => {
                offset = 0;
                false
            }
            416 => {
                // Our partial file no longer matches the remote one: start over next time.
                let _ = std::fs::remove_file(part);
                return Err(fail(format!("{} refused to resume; run the command again to restart", host_of(&url))));
            }
            401 | 403 => {
                return Err(fail(format!(
                    "{} answered {status}: the model may need a license accepted on its page and HF_TOKEN set",
                    host_of(&url)
                )))
            }
            _ => return Err(fail(format!("{} answered {status}", host_of(&url)))),
        };
        if let Some(dir) = part.parent() {
            std::fs::create_dir_all(dir).map_err(CoreError::io("cannot create", dir))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .map_err(CoreError::io("cannot write", part))?;
        let mut done = offset;
        let mut buf = vec![0u8; 256 * 1024];
        on_progress(Phase::Downloading, done, size);
        loop {
            let n = match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = file.flush();
                    return Err(fail(format!(
                        "download interrupted after {} of {} ({e}); run the same command again to resume",
                        frugal_local::human_bytes(done),
                        frugal_local::human_bytes(size)
                    )));
                }
            };
            if done + n as u64 > size {
                drop(file);
                let _ = std::fs::remove_file(part);
                return Err(fail(format!(
                    "{} sent more than the expected {size} bytes; the file was removed",
                    host_of(&url)
                )));
            }
            file.write_all(&buf[..n]).map_err(CoreError::io("cannot write", part))?;
            done += n as u64;
            on_progress(Phase::Downloading, done, size);
        }
        file.sync_all().map_err(CoreError::io("cannot write", part))?;
        if done < size {
            return Err(fail(format!(
                "download interrupted after {} of {}; run the same command again to resume",
                frugal_local::human_bytes(done),
                frugal_local::human_bytes(size)
            )));
        }
    }
    let actual = sha256_file(part, on_progress)?;
    if !actual.eq_ignore_ascii_case(sha256) {
        let _ = std::fs::remove_file(part);
        return Err(fail(format!(
            "sha256 mismatch for {}: expected {sha256}, got {actual}; the corrupt file was removed",
            part.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        )));
    }
    Ok(())
}

/// Whether `path` holds the catalog entry's file: its size, then its sha256.
pub fn is_installed(entry: &CatalogEntry, path: &Path, on_progress: OnProgress<'_>) -> Result<bool> {
    Ok(std::fs::metadata(path).ok().map(|m| m.len()) == Some(entry.size)
        && sha256_file(path, on_progress)? == entry.sha256)
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

/// Downloads a catalog entry into `dir` and returns the model's path. Already-installed,
/// verified files are kept; interrupted downloads resume.
pub fn pull(entry: &CatalogEntry, dir: &Path, on_progress: OnProgress<'_>) -> Result<PathBuf> {
    let dest = dir.join(&entry.file);
    if is_installed(entry, &dest, on_progress)? {
        return Ok(dest);
    }
    std::fs::create_dir_all(dir).map_err(CoreError::io("cannot create", dir))?;
    let part = part_path(&dest);
    match (&entry.archive_member, entry.archive_size, &entry.archive_sha256) {
        (None, _, _) => fetch_verified(&entry.url, &part, entry.size, &entry.sha256, on_progress)?,
        (Some(member), Some(size), Some(sha)) => {
            let archive = dir.join(format!("{}.archive.part", entry.file));
            fetch_verified(&entry.url, &archive, size, sha, on_progress)?;
            extract(&archive, member, &part, entry.size, on_progress)?;
            let actual = sha256_file(&part, on_progress)?;
            if actual != entry.sha256 {
                let _ = std::fs::remove_file(&part);
                return Err(fail(format!("sha256 mismatch for {} inside the archive; removed", entry.file)));
            }
            let _ = std::fs::remove_file(&archive);
        }
        _ => {
            return Err(fail(format!(
                "catalog entry {} names an archive member without its size and sha256",
                entry.name
            )))
        }
    }
    std::fs::rename(&part, &dest).map_err(CoreError::io("cannot write", &dest))?;
    Ok(dest)
}

fn extract(archive: &Path, member: &str, out: &Path, size: u64, on_progress: OnProgress<'_>) -> Result<()> {
    let file = File::open(archive).map_err(CoreError::io("cannot read", archive))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| fail(format!("the downloaded archive is not a valid zip: {e}")))?;
    let mut entry = zip.by_name(member).map_err(|_| fail(format!("the archive does not contain {member}")))?;
    if entry.size() != size {
        return Err(fail(format!("{member} in the archive is {} bytes, expected {size}", entry.size())));
    }
    let mut dest = File::create(out).map_err(CoreError::io("cannot write", out))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = entry.read(&mut buf).map_err(|e| fail(format!("cannot unpack {member}: {e}")))?;
        if n == 0 {
            break;
        }
        dest.write_all(&buf[..n]).map_err(CoreError::io("cannot write", out))?;
        done += n as u64;
        on_progress(Phase::Extracting, done, size);
    }
    dest.sync_all().map_err(CoreError::io("cannot write", out))
}

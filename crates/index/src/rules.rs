//! Which files the index reads, and how a failure to read one is worded.

use std::path::{Path, PathBuf};

/// A `.gitignore`-syntax file users can drop into a folder to keep files out of the index
/// without touching their git setup.
pub const IGNORE_FILE: &str = ".frugalignore";

/// Whether the watcher should pass over `path` inside `folder`: hidden files and folders,
/// and anything matched by `.gitignore`, `.ignore` or `.frugalignore` files between the two —
/// the same rules the walk applies.
pub fn is_ignored(folder: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(folder) else { return true };
    if relative.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')) {
        return true;
    }
    let is_dir = path.is_dir();
    let mut dir = path.parent();
    while let Some(d) = dir {
        if !d.starts_with(folder) {
            break;
        }
        for name in [".gitignore", ".ignore", IGNORE_FILE] {
            let file = d.join(name);
            if file.is_file() {
                let mut builder = ignore::gitignore::GitignoreBuilder::new(d);
                builder.add(&file);
                if let Ok(matcher) = builder.build() {
                    if matcher.matched_path_or_any_parents(path, is_dir).is_ignore() {
                        return true;
                    }
                }
            }
        }
        dir = d.parent();
    }
    false
}

/// The target of `link` when it is a symlink to a directory that contains the link itself:
/// following it would walk the same tree again, forever.
pub fn loops_back(link: &Path) -> Option<PathBuf> {
    let target = std::fs::canonicalize(link).ok()?;
    if !target.is_dir() {
        return None;
    }
    let parent = std::fs::canonicalize(link.parent()?).ok()?;
    parent.starts_with(&target).then_some(target)
}

/// The first symlink loop on the way from `folder` down to `path` (the link and where it
/// points), if any: the watcher hears about files through such links, and the walk never
/// reads them.
pub fn symlink_loop(folder: &Path, path: &Path) -> Option<(PathBuf, PathBuf)> {
    let relative = path.strip_prefix(folder).ok()?;
    let mut current = folder.to_path_buf();
    for part in relative.components() {
        current.push(part);
        let is_link = std::fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            if let Some(target) = loops_back(&current) {
                return Some((current, target));
            }
        }
    }
    None
}

/// The skip reason of a symlink loop, the same words whoever finds it.
pub fn loop_reason(target: &Path) -> String {
    format!("symlink loop (points back to {})", target.display())
}

/// What kind of special file this is (a named pipe, a socket, a device), which the index
/// lists as skipped rather than passing over in silence; `None` for files, folders, links.
pub fn special_file(t: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
    }
    let _ = t;
    None
}

/// A walk error as (path, one-line reason).
pub fn describe(e: &ignore::Error) -> (Option<PathBuf>, String) {
    match e {
        ignore::Error::WithPath { path, err } => (Some(path.clone()), describe(err).1),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => describe(err),
        ignore::Error::Loop { ancestor, child } => (Some(child.clone()), loop_reason(ancestor)),
        ignore::Error::Io(io) => (None, io_reason(io)),
        other => (None, crate::error::first_line(&other.to_string())),
    }
}

/// An I/O error as a short reason.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "not found".into(),
        _ => format!("cannot read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_gitignored_paths_are_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n*.log\n").unwrap();
        assert!(is_ignored(root, &root.join(".git/config")));
        assert!(is_ignored(root, &root.join("notes/.draft.md")));
        assert!(is_ignored(root, &root.join("build/out.md")));
        assert!(is_ignored(root, &root.join("run.log")));
        assert!(!is_ignored(root, &root.join("notes/plan.md")));
    }
}

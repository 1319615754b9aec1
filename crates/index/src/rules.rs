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

/// A walk error as (path, one-line reason).
pub fn describe(e: &ignore::Error) -> (Option<PathBuf>, String) {
    match e {
        ignore::Error::WithPath { path, err } => (Some(path.clone()), describe(err).1),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => describe(err),
        ignore::Error::Loop { ancestor, child } => {
            (Some(child.clone()), format!("symlink loop (points back to {})", ancestor.display()))
        }
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

//! The fuzzy matches Frugal's own assertions need: owner names and cited paths.
//!
//! Both compare what a person wrote in a suite with what a model produced, so they are
//! forgiving in the ways people are: "Maria" is "Maria Lopez" in a transcript, and `*.md` is
//! meant to match a file anywhere under the indexed folders.

/// Whether an expected owner is the same person as a found one: equal ignoring case, or one
/// is a single first name and the other a full name starting with it ("Maria" ~ "maria
/// lopez"). Two different full names never match, even with the same first name.
pub(crate) fn same_person(expected: &str, found: &str) -> bool {
    let words = |s: &str| s.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>();
    let (expected, found) = (words(expected), words(found));
    if expected.is_empty() || found.is_empty() {
        return false;
    }
    expected == found || (expected.len() == 1 || found.len() == 1) && expected[0] == found[0]
}

/// Whether a cited path matches a `cites` pattern. Without `*` or `?` it is a substring
/// match. With them it is a glob where `*` also crosses `/`, matched against the whole path
/// or any tail starting after a `/`, so `notes/*.md` matches `/home/u/notes/a.md`.
/// Backslashes count as slashes, so Windows paths match the same patterns.
pub(crate) fn cites(pattern: &str, path: &str) -> bool {
    let (pattern, path) = (pattern.replace('\\', "/"), path.replace('\\', "/"));
    if !pattern.contains(['*', '?']) {
        return path.contains(&pattern);
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let tails = std::iter::once(0).chain(path.match_indices('/').map(|(i, _)| i + 1));
    tails.into_iter().any(|start| glob(&pattern, &path[start..].chars().collect::<Vec<_>>()))
}

/// `*` any run of characters, `?` one character; iterative with backtracking to the last `*`
/// so no pattern can blow up.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_names_match_full_names() {
        assert!(same_person("Maria", "Maria Lopez"));
        assert!(same_person("maria lopez", "Maria"));
        assert!(same_person("TOM", "tom"));
        assert!(same_person("Ana  Silva", "ana silva"));
        assert!(!same_person("Maria", "Mario Lopez"));
        assert!(!same_person("Maria Lopez", "Maria Silva"));
        assert!(!same_person("", "Tom"));
    }

    #[test]
    fn cites_by_substring_or_glob() {
        let path = "/home/u/notes/2024/plan.md";
        assert!(cites("plan.md", path));
        assert!(cites("notes/2024", path));
        assert!(!cites("Plan.md", path));
        assert!(cites("*.md", path));
        assert!(cites("notes/*.md", path));
        assert!(cites("2024/pla?.md", path));
        assert!(!cites("*.pdf", path));
        assert!(!cites("2024/pla?.txt", path));
        assert!(!cites("otes/*.md", path), "a glob starts at a path segment");
        assert!(cites("notes\\*.md", "C:\\u\\notes\\a.md"));
        assert!(cites("**", "x"));
        assert!(!cites("a*a*a*a*a*a*b", &"a".repeat(200)));
    }
}

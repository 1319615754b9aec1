//! Small formatting helpers shared by grading reasons and reports, so that money, rates and
//! quoted answers look the same everywhere.

/// USD with as many decimals as needed, at least two and at most six: `$0.01`, `$0.0123`.
/// Eval costs are often fractions of a cent, so a fixed two decimals would print `$0.00`.
pub(crate) fn usd(amount: f64) -> String {
    let fixed = format!("{:.6}", amount.abs());
    let trimmed = fixed.trim_end_matches('0');
    let decimals = trimmed.split('.').nth(1).map_or(0, str::len);
    let text = if decimals < 2 { format!("{:.2}", amount.abs()) } else { trimmed.to_string() };
    let sign = if amount < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    format!("{sign}${text}")
}

/// A rate as a percentage with one decimal: `80.0%`.
pub(crate) fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// At most `max` characters, with `…` when cut; line breaks become spaces so a quoted answer
/// keeps a reason on one line.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// `"a", "b"`: texts quoted for a reason.
pub(crate) fn quoted_list(items: &[&String]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

/// `test 3 ("standup owners")`, or `test 3` without a description: how messages and reports
/// name a test. The description is quoted (escaped, so it stays on one line) and cut when long.
pub(crate) fn test_label(index: usize, description: Option<&str>) -> String {
    match description.filter(|d| !d.trim().is_empty()) {
        Some(d) => format!("test {index} ({:?})", shorten(d, 60)),
        None => format!("test {index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_rates_and_quotes() {
        assert_eq!(usd(0.01), "$0.01");
        assert_eq!(usd(0.0123), "$0.0123");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(1.5), "$1.50");
        assert_eq!(usd(0.000_001_4), "$0.000001");
        assert_eq!(usd(-0.25), "-$0.25");
        assert_eq!(percent(0.8), "80.0%");
        assert_eq!(percent(2.0 / 3.0), "66.7%");
        assert_eq!(shorten("a\nb  c", 10), "a b c");
        assert_eq!(shorten("abcdefghij", 5), "abcd…");
        let (a, b) = ("a".to_string(), "b\"".to_string());
        assert_eq!(quoted_list(&[&a, &b]), "\"a\", \"b\\\"\"");
    }
}

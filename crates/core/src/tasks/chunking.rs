//! Splitting a meeting to fit the model: turns grouped into chunks by real token counts,
//! with a little overlap, and over-long turns cut on word boundaries.

use super::TaskError;
use crate::transcript::{render_turns, Turn};

/// Splits turns into chunks of at most `budget` tokens (counted by `count`), carrying about
/// a tenth of the budget of trailing turns into the next chunk so no exchange is cut blind.
/// A single turn longer than the budget is split on word boundaries.
pub fn chunk_turns(
    turns: &[Turn],
    budget: usize,
    count: &mut dyn FnMut(&str) -> Result<usize, TaskError>,
) -> Result<Vec<Vec<Turn>>, TaskError> {
    let budget = budget.max(64);
    let mut sized: Vec<(Turn, usize)> = Vec::new();
    for t in turns {
        let n = count(&render_turns(std::slice::from_ref(t)))?;
        if n <= budget {
            sized.push((t.clone(), n));
            continue;
        }
        // Split an over-long turn into pieces of about `budget` tokens.
        let words: Vec<&str> = t.text.split_whitespace().collect();
        let per_piece = (words.len() * budget / n.max(1)).max(1) * 9 / 10;
        for piece in words.chunks(per_piece.max(1)) {
            let turn = Turn { speaker: t.speaker.clone(), text: piece.join(" ") };
            let n = count(&render_turns(std::slice::from_ref(&turn)))?;
            sized.push((turn, n));
        }
    }
    let mut chunks = Vec::new();
    let mut current: Vec<(Turn, usize)> = Vec::new();
    let mut used = 0;
    for (turn, n) in sized {
        if used + n > budget && !current.is_empty() {
            let overlap_budget = budget / 10;
            let mut carry = Vec::new();
            let mut carried = 0;
            for (t, k) in current.iter().rev() {
                if carried + k > overlap_budget {
                    break;
                }
                carried += k;
                carry.push((t.clone(), *k));
            }
            carry.reverse();
            chunks.push(current.into_iter().map(|(t, _)| t).collect());
            current = carry;
            used = carried;
        }
        used += n;
        current.push((turn, n));
    }
    if !current.is_empty() {
        chunks.push(current.into_iter().map(|(t, _)| t).collect());
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn chunks_respect_the_budget_and_overlap() {
        let turns: Vec<Turn> = (0..40)
            .map(|i| Turn { speaker: Some(format!("S{}", i % 3)), text: format!("point number {i} about the plan") })
            .collect();
        let mut count = |s: &str| Ok::<_, TaskError>(s.split_whitespace().count());
        let chunks = chunk_turns(&turns, 70, &mut count).unwrap();
        assert!(chunks.len() > 3);
        for c in &chunks {
            let n: usize = c.iter().map(|t| render_turns(std::slice::from_ref(t)).split_whitespace().count()).sum();
            assert!(n <= 70, "{n}");
        }
        // Overlap: each chunk starts with the end of the previous one.
        assert_eq!(chunks[1].first(), chunks[0].last());
        // Nothing is lost.
        let all: BTreeSet<String> = chunks.iter().flatten().map(|t| t.text.clone()).collect();
        assert_eq!(all.len(), 40);
    }

    #[test]
    fn an_over_long_turn_is_split() {
        let turns = vec![Turn { speaker: Some("A".into()), text: "word ".repeat(500) }];
        let mut count = |s: &str| Ok::<_, TaskError>(s.split_whitespace().count());
        let chunks = chunk_turns(&turns, 100, &mut count).unwrap();
        assert!(chunks.len() >= 5);
    }
}

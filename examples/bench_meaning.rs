//! An experiment for search by meaning (issue 15; the product's quick vectors in
//! `frugal_core::quick` came out of it): can static
//! token vectors distilled from the default embedding model make a whole corpus searchable
//! by meaning in minutes, and what do they add to keyword search? In one run, over the Rust
//! documentation already indexed by `frugal index add`:
//!
//! 1. every vocabulary token is embedded alone (`[CLS] token [SEP]`) by the transformer: the
//!    static table;
//! 2. every passage (extracted and chunked as the index does) is tokenized, and its vector
//!    is the IDF-weighted mean of its tokens' static vectors, normalised;
//! 3. each question of `tests/fixtures/rust-docs-paraphrased.toml` is ranked by keyword
//!    (the index), by meaning (static query vector, exact scan), and by both fused with
//!    reciprocal rank fusion (k = 60); recall@5 counts a question whose answering page is in
//!    the top 5 passages. Keyword keeps the index's default of at most 2 passages a file (what
//!    `frugal search` shows); the meaning list has no such cap. Pages that repeat an answer
//!    (`core/…` for `std/…`) count as misses in every arm.
//!
//! ```text
//! frugal --config C index add "$(rustc --print sysroot)/share/doc/rust/html"
//! cargo run --release --example bench_meaning -- INDEX_DIR [DOCS_DIR]
//! ```
//!
//! Further arms, each in the same run: `BENCH_PAGES=N` (one transformer vector per page, of
//! its first N tokens), `BENCH_CUT=32,254` (the transformer over every passage cut to N
//! tokens, fused with keywords and with keywords and the static vectors; vectors kept in
//! `/var/tmp` for the next run), `BENCH_SKIP_SRC=1` (those arms without the docs' source
//! listings, scripts and stylesheets), `BENCH_ONLY_CUT=1` (stop after them).
//! `BENCH_TITLED=0.5,1` (static vectors with the page title's added at that weight),
//! `BENCH_PER_FILE=N` (the meaning and fused lists with at most N passages a file),
//! `BENCH_IDF_UNDER=book` (token weights from those folders' passages only).
//! `BENCH_UNDER=book,rust-by-example` reads only those folders of DOCS_DIR (index only
//! them) and asks only the questions they answer; `BENCH_QUESTIONS=FILE` asks another
//! question file (`file` or `files` per question, under DOCS_DIR).

#[path = "support/walk.rs"]
mod walk;
use walk::files;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use frugal_core::index::{chunk::chunk, extract::extract, Index, Kind, SearchQuery, Settings};
use frugal_core::local::{EmbedOptions, Embedder};

const ROOT: &str = "share/doc/rust/html/";

/// A passage's key, shared by the index's hits and our own chunks: page (under the corpus
/// folder) and first line.
fn key(root: &Path, path: &Path, line: u32) -> (String, u32) {
    match path.strip_prefix(root) {
        Ok(rest) => (rest.to_string_lossy().into_owned(), line),
        Err(_) => panic!("{} is not under {}: index that folder", path.display(), root.display()),
    }
}

/// The `k` passages nearest `query`, nearest first (exact scan).
fn nearest(vectors: &[Vec<f32>], query: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = vectors.iter().enumerate().map(|(i, v)| (dot(query, v), i)).collect();
    let k = k.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(k);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// A ranked list with each passage key once (its best rank): chunks cut from one long
/// line share a first line, and must not count twice in a fusion.
fn dedup(list: Vec<(String, u32)>) -> Vec<(String, u32)> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter().filter(|k| seen.insert(k.clone())).collect()
}

/// Reciprocal rank fusion (k = 60) of weighted lists; ties broken by key, so a run is
/// reproducible.
fn fuse(lists: &[(&Vec<(String, u32)>, f32)]) -> Vec<(String, u32)> {
    let mut score: HashMap<(String, u32), f32> = HashMap::new();
    for (list, w) in lists {
        for (rank, k) in list.iter().enumerate() {
            *score.entry(k.clone()).or_default() += w / (60.0 + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<((String, u32), f32)> = score.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    fused.into_iter().map(|(k, _)| k).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalise(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

struct Question {
    q: String,
    files: Vec<String>,
}

/// A question as every arm uses it, worked out once: its keyword ranking (the index), its
/// tokens and its transformer vector.
struct Asked<'a> {
    question: &'a Question,
    keyword: Vec<(String, u32)>,
    tokens: Vec<i32>,
    vector: Vec<f32>,
}

/// The direction `u` taken out of `v`, which stays of length 1.
fn remove_direction(v: &mut [f32], u: &[f32]) {
    let d = dot(v, u);
    v.iter_mut().zip(u).for_each(|(x, y)| *x -= d * y);
    normalise(v);
}

fn questions() -> Vec<Question> {
    let file = std::env::var("BENCH_QUESTIONS").unwrap_or_else(|_| "tests/fixtures/rust-docs-paraphrased.toml".into());
    let text = std::fs::read_to_string(file).expect("questions");
    let doc: toml::Value = text.parse().expect("toml");
    doc["question"]
        .as_array()
        .expect("questions")
        .iter()
        .map(|q| Question {
            q: q["q"].as_str().unwrap_or_default().to_string(),
            files: q
                .get("files")
                .and_then(|f| f.as_array())
                .into_iter()
                .flatten()
                .chain(q.get("file"))
                .filter_map(|f| f.as_str().map(String::from))
                .collect(),
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(index_dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: bench_meaning INDEX_DIR [DOCS_DIR]");
        std::process::exit(2);
    };
    let docs = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        let sysroot = std::process::Command::new("rustc").args(["--print", "sysroot"]).output().expect("rustc");
        PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join(ROOT)
    });
    let docs = docs.canonicalize().expect("the corpus folder");
    let (index, _) = Index::open(&index_dir, Settings::default()).expect("index");
    let embedder = Embedder::start(Path::new("models/all-MiniLM-L6-v2.f16.gguf"), EmbedOptions::default())
        .expect("embedding model (run scripts/setup.sh)");
    let dims = embedder.dimensions();

    // 1. The static table.
    let t = Instant::now();
    let (cls, sep) = embedder.specials();
    let (cls, sep) = (cls.expect("[CLS]"), sep.expect("[SEP]"));
    let vocab = embedder.vocab_size();
    let mut table = Vec::with_capacity(vocab * dims);
    for start in (0..vocab).step_by(4096) {
        let ids: Vec<Vec<i32>> = (start..(start + 4096).min(vocab)).map(|i| vec![cls, i as i32, sep]).collect();
        for e in embedder.embed_tokens(&ids).expect("token vectors") {
            table.extend(e.vector);
        }
    }
    let table_secs = t.elapsed().as_secs_f64();

    // 2. Passages, their tokens and vectors.
    let t = Instant::now();
    let mut paths = Vec::new();
    // `BENCH_UNDER=book,rust-by-example`: only those folders of the corpus (index only them).
    let under: Vec<String> = std::env::var("BENCH_UNDER")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if under.is_empty() {
        files(&docs, &mut paths);
    } else {
        for u in &under {
            files(&docs.join(u), &mut paths);
        }
    }
    let mut keys = Vec::new();
    let mut texts = Vec::new();
    // Each passage's page title (HTML `<title>`), by index into `titles`.
    let (mut titles, mut title_of) = (Vec::new(), Vec::new());
    for p in &paths {
        let (Ok(bytes), Some(kind)) = (std::fs::read(p), Kind::of(p)) else { continue };
        let Ok(doc) = extract(p, &bytes, kind) else { continue };
        titles.push(doc.title.clone().unwrap_or_default());
        for c in chunk(&doc.blocks) {
            keys.push(key(&docs, p, c.line_start));
            texts.push(c.text);
            title_of.push(titles.len() - 1);
        }
    }
    let extract_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut tokens = Vec::with_capacity(texts.len());
    for part in texts.chunks(4096) {
        tokens.extend(embedder.tokenize(part).expect("tokenize"));
    }
    drop(texts);
    let tokenize_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut df = vec![0u32; vocab];
    // `BENCH_IDF_UNDER=book`: token weights from those folders' passages only, as a token
    // table weighed on a first, smaller folder weighs every later one.
    let idf_under: Vec<String> = std::env::var("BENCH_IDF_UNDER")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|u| format!("{u}/"))
        .collect();
    let weighed = |i: usize| idf_under.is_empty() || idf_under.iter().any(|u| keys[i].0.starts_with(u.as_str()));
    let mut sampled = 0usize;
    for (i, seq) in tokens.iter().enumerate() {
        if !weighed(i) {
            continue;
        }
        sampled += 1;
        let mut seen: Vec<i32> = seq.clone();
        seen.sort_unstable();
        seen.dedup();
        for id in seen {
            df[id as usize] += 1;
        }
    }
    if !idf_under.is_empty() {
        println!("token weights from {sampled} passages under {idf_under:?}");
    }
    let n = sampled as f32;
    let idf: Vec<f32> = df.iter().map(|&d| ((n + 1.0) / (d as f32 + 1.0)).ln()).collect();
    let static_vector = |seq: &[i32]| {
        let mut v = vec![0f32; dims];
        for &id in seq {
            let w = idf[id as usize];
            let row = &table[id as usize * dims..(id as usize + 1) * dims];
            v.iter_mut().zip(row).for_each(|(x, r)| *x += w * r);
        }
        normalise(&mut v);
        v
    };
    let vectors: Vec<Vec<f32>> = tokens.iter().map(|s| static_vector(s)).collect();
    let vectors_secs = t.elapsed().as_secs_f64();
    // `BENCH_TITLED=W,…`: passages' static vectors with their page title's added, weighed W
    // against the passage's own (a chunk that never names its page's item, an API page's
    // later sections, still carries it).
    let title_weights: Vec<f32> =
        std::env::var("BENCH_TITLED").unwrap_or_default().split(',').filter_map(|v| v.trim().parse().ok()).collect();
    let title_vectors: Vec<Vec<f32>> = if title_weights.is_empty() {
        Vec::new()
    } else {
        let mut out = Vec::new();
        for part in titles.chunks(4096) {
            out.extend(embedder.tokenize(part).expect("tokenize titles").iter().map(|s| static_vector(s)));
        }
        out
    };
    println!(
        "bench_meaning: {} passages from {} files; static table of {vocab} tokens {table_secs:.1} s, extract {extract_secs:.1} s, tokenize {tokenize_secs:.1} s, passage vectors {vectors_secs:.1} s",
        vectors.len(),
        paths.len()
    );

    // A passage's tokens cut to `cut`, as the transformer takes them.
    let cut_to = |seq: &[i32], cut: usize| -> Vec<i32> {
        std::iter::once(cls).chain(seq.iter().take(cut).copied()).chain(std::iter::once(sep)).collect()
    };

    // 3. The questions.
    // With `BENCH_UNDER`, the questions answered by a page there.
    let questions: Vec<Question> = questions()
        .into_iter()
        .filter(|q| under.is_empty() || q.files.iter().any(|f| under.iter().any(|u| f.starts_with(&format!("{u}/")))))
        .collect();
    let qs: Vec<Asked> = questions
        .iter()
        .map(|question| {
            let mut query = SearchQuery::new(&question.q);
            query.limit = 100;
            let hits = index.search(&query).expect("keyword search");
            Asked {
                question,
                keyword: dedup(hits.iter().map(|h| key(&docs, &h.path, h.line_start)).collect()),
                tokens: embedder.tokenize(&[question.q.as_str()]).expect("tokenize").pop().unwrap_or_default(),
                vector: embedder.embed_one(&question.q).expect("query vector").vector,
            }
        })
        .collect();
    let (mut kw5, mut mean5, mut hyb5) = (0, 0, 0);
    // Other arms, measured in the same run: the transformer's vector of the query against
    // the static passage vectors, and fusion that weighs meaning twice as much as keywords.
    let (mut tq5, mut weighted5) = (0, 0);
    let mut query_ms = Vec::new();
    // Each question's static meaning list, for the three-list fusion below.
    let mut static_lists = Vec::new();
    for asked in &qs {
        let (q, keyword) = (asked.question, &asked.keyword);
        let qv = static_vector(&asked.tokens);
        // Only the scan is timed: the query's static vector costs microseconds.
        let started = Instant::now();
        let top = nearest(&vectors, &qv, 100);
        query_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let meaning = dedup(top.iter().map(|&i| keys[i].clone()).collect());
        static_lists.push(meaning.clone());
        tq5 += usize::from(nearest(&vectors, &asked.vector, 5).iter().any(|&i| q.files.contains(&keys[i].0)));
        let weighted = fuse(&[(keyword, 1.0), (&meaning, 2.0)]);
        let hybrid = fuse(&[(keyword, 1.0), (&meaning, 1.0)]);
        let top5 = |list: &[(String, u32)]| list.iter().take(5).any(|k| q.files.contains(&k.0));
        kw5 += usize::from(top5(keyword));
        mean5 += usize::from(top5(&meaning));
        hyb5 += usize::from(top5(&hybrid));
        weighted5 += usize::from(top5(&weighted));
    }
    // The fused list with at most N passages a file (BENCH_PER_FILE=N): five places for five
    // pages rather than three passages of one.
    if let Some(per_file) = std::env::var("BENCH_PER_FILE").ok().and_then(|v| v.parse::<usize>().ok()) {
        let cap = |list: Vec<(String, u32)>| {
            let mut seen: HashMap<String, usize> = HashMap::new();
            list.into_iter()
                .filter(|k| {
                    let n = seen.entry(k.0.clone()).or_default();
                    *n += 1;
                    *n <= per_file
                })
                .collect::<Vec<_>>()
        };
        let (mut m5, mut h5) = (0, 0);
        for (asked, meaning) in qs.iter().zip(&static_lists) {
            let q = asked.question;
            let top5 = |list: &[(String, u32)]| list.iter().take(5).any(|k| q.files.contains(&k.0));
            m5 += usize::from(top5(&cap(meaning.clone())));
            h5 += usize::from(top5(&cap(fuse(&[(&asked.keyword, 1.0), (meaning, 1.0)]))));
        }
        println!(
            "at most {per_file} passage(s) a file: meaning {:.3}, hybrid {:.3}",
            m5 as f64 / qs.len() as f64,
            h5 as f64 / qs.len() as f64
        );
    }
    query_ms.sort_by(f64::total_cmp);
    let n = qs.len() as f64;
    println!(
        "other arms: transformer query vector on static passages {:.3}; RRF with meaning weighted 2:1 {:.3}",
        tq5 as f64 / qs.len() as f64,
        weighted5 as f64 / qs.len() as f64
    );
    println!(
        "recall@5 on {} paraphrased questions: keyword {:.3}, meaning (static) {:.3}, hybrid (RRF) {:.3}; exact scan of all vectors p50 {:.0} ms p95 {:.0} ms",
        qs.len(),
        kw5 as f64 / n,
        mean5 as f64 / n,
        hyb5 as f64 / n,
        query_ms[query_ms.len() / 2],
        query_ms[(query_ms.len() as f64 * 0.95) as usize]
    );

    // 4. Titled static vectors.
    for w in &title_weights {
        let titled: Vec<Vec<f32>> = vectors
            .iter()
            .zip(&title_of)
            .map(|(v, &t)| {
                let mut x: Vec<f32> = v.iter().zip(&title_vectors[t]).map(|(a, b)| a + w * b).collect();
                normalise(&mut x);
                x
            })
            .collect();
        let (mut m5, mut h5, mut three5) = (0, 0, 0);
        for (asked, plain) in qs.iter().zip(&static_lists) {
            let (q, keyword) = (asked.question, &asked.keyword);
            let qv = static_vector(&asked.tokens);
            let meaning = dedup(nearest(&titled, &qv, 100).iter().map(|&i| keys[i].clone()).collect());
            let top5 = |list: &[(String, u32)]| list.iter().take(5).any(|k| q.files.contains(&k.0));
            m5 += usize::from(top5(&meaning));
            h5 += usize::from(top5(&fuse(&[(keyword, 1.0), (&meaning, 1.0)])));
            three5 += usize::from(top5(&fuse(&[(keyword, 1.0), (&meaning, 1.0), (plain, 1.0)])));
        }
        let n = qs.len() as f64;
        println!(
            "titled static vectors (title weight {w}): meaning {:.3}, hybrid {:.3}, with the plain static list too {:.3}",
            m5 as f64 / n,
            h5 as f64 / n,
            three5 as f64 / n
        );
    }

    // 5. Pages: one transformer vector per file, of its first passage cut to a few tokens
    // (a page's title and first sentence: what an API page is about).
    if let Some(cut) = std::env::var("BENCH_PAGES").ok().and_then(|v| v.parse::<usize>().ok()) {
        let mut firsts = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if i == 0 || keys[i - 1].0 != k.0 {
                firsts.push(i);
            }
        }
        let t = Instant::now();
        let mut page_vectors = Vec::with_capacity(firsts.len());
        let bar = firsts.len() / 20;
        for (n, part) in firsts.chunks(256).enumerate() {
            let seqs: Vec<Vec<i32>> = part.iter().map(|&i| cut_to(&tokens[i], cut)).collect();
            page_vectors.extend(embedder.embed_tokens(&seqs).expect("page vectors").into_iter().map(|e| e.vector));
            if bar > 0 && ((n + 1) * 256) / bar != (n * 256) / bar {
                eprintln!("pages: {} of {} in {:.0} s", page_vectors.len(), firsts.len(), t.elapsed().as_secs_f64());
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let (mut p5, mut h5) = (0, 0);
        for asked in &qs {
            let (q, keyword) = (asked.question, &asked.keyword);
            let pages: Vec<(String, u32)> =
                nearest(&page_vectors, &asked.vector, 100).iter().map(|&i| keys[firsts[i]].clone()).collect();
            let hybrid = fuse(&[(keyword, 1.0), (&pages, 1.0)]);
            let top5 = |list: &[(String, u32)]| list.iter().take(5).any(|k| q.files.contains(&k.0));
            p5 += usize::from(top5(&pages));
            h5 += usize::from(top5(&hybrid));
        }
        println!(
            "pages ({} files, first passage cut to {cut} tokens, transformer): embedded in {secs:.0} s ({:.0}/s); recall@5 meaning {:.3} hybrid {:.3}",
            firsts.len(),
            firsts.len() as f64 / secs,
            p5 as f64 / n,
            h5 as f64 / n
        );
    }

    // 6. The transformer itself over every passage, each cut to a few tokens (a passage's
    // heading path and first sentence), optionally without the docs' source listings,
    // scripts and stylesheets (then the keyword list is filtered the same way, as if the
    // index had never held them).
    let cuts: Vec<usize> =
        std::env::var("BENCH_CUT").unwrap_or_default().split(',').filter_map(|v| v.trim().parse().ok()).collect();
    for &cut in &cuts {
        let skip_src = std::env::var("BENCH_SKIP_SRC").is_ok_and(|v| v == "1");
        let junk = |page: &str| page.contains("/src/") || page.starts_with("src/") || !page.ends_with(".html");
        let (mut src, mut other) = (0usize, 0usize);
        for k in &keys {
            if junk(&k.0) {
                src += 1
            } else {
                other += 1
            }
        }
        println!("passages in source listings, scripts and stylesheets: {src}; in other pages: {other}");
        let chosen: Vec<usize> = (0..keys.len()).filter(|&i| !(skip_src && junk(&keys[i].0))).collect();
        let t = Instant::now();
        let mut cut_vectors: Vec<Vec<f32>> = Vec::with_capacity(chosen.len());
        let bar = (chosen.len() / 20).max(1);
        // Vectors of an earlier run of the same corpus and cut, when kept.
        let cache = std::path::PathBuf::from(format!("/var/tmp/bench-meaning-{cut}-{}-{}.f32", chosen.len(), skip_src));
        if let Ok(bytes) = std::fs::read(&cache) {
            let floats: Vec<f32> =
                bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            cut_vectors = floats.chunks_exact(dims).map(<[f32]>::to_vec).collect();
        }
        if cut_vectors.len() != chosen.len() {
            cut_vectors.clear();
        }
        let cached = !cut_vectors.is_empty();
        for (n, part) in chosen.chunks(512).enumerate().filter(|_| !cached) {
            let seqs: Vec<Vec<i32>> = part.iter().map(|&i| cut_to(&tokens[i], cut)).collect();
            cut_vectors.extend(embedder.embed_tokens(&seqs).expect("passage vectors").into_iter().map(|e| e.vector));
            if ((n + 1) * 512) / bar != (n * 512) / bar {
                eprintln!("cut {cut}: {} of {} in {:.0} s", cut_vectors.len(), chosen.len(), t.elapsed().as_secs_f64());
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let bytes: Vec<u8> = cut_vectors.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        let _ = std::fs::write(&cache, bytes);
        let (mut k5, mut m5, mut h5, mut three5) = (0, 0, 0, 0);
        for (asked, static_list) in qs.iter().zip(&static_lists) {
            let q = asked.question;
            let keyword: Vec<(String, u32)> =
                asked.keyword.iter().filter(|k| !(skip_src && junk(&k.0))).cloned().collect();
            let meaning: Vec<(String, u32)> =
                dedup(nearest(&cut_vectors, &asked.vector, 100).iter().map(|&i| keys[chosen[i]].clone()).collect());
            let hybrid = fuse(&[(&keyword, 1.0), (&meaning, 1.0)]);
            let static_list: Vec<(String, u32)> =
                static_list.iter().filter(|k| !(skip_src && junk(&k.0))).cloned().collect();
            let three = fuse(&[(&keyword, 1.0), (&meaning, 1.0), (&static_list, 1.0)]);
            let top5 = |list: &[(String, u32)]| list.iter().take(5).any(|k| q.files.contains(&k.0));
            three5 += usize::from(top5(&three));
            k5 += usize::from(top5(&keyword));
            m5 += usize::from(top5(&meaning));
            h5 += usize::from(top5(&hybrid));
        }
        println!(
            "transformer over {} passages cut to {cut} tokens{}: embedded in {secs:.0} s ({:.0}/s); recall@5 keyword {:.3} meaning {:.3} hybrid {:.3}; keyword + transformer + static fused {:.3}",
            chosen.len(),
            if skip_src { " (no source listings, scripts, stylesheets)" } else { "" },
            chosen.len() as f64 / secs,
            k5 as f64 / n,
            m5 as f64 / n,
            h5 as f64 / n,
            three5 as f64 / n
        );
    }
    if !cuts.is_empty() && std::env::var("BENCH_ONLY_CUT").is_ok_and(|v| v == "1") {
        return;
    }

    // 4. Variants of the static vectors, each in this run: token vectors centred on their
    // corpus-weighted mean (single-token vectors share one large direction, which makes
    // every passage look alike), SIF weights a / (a + p(token)) instead of IDF, and the
    // first principal component of the passage vectors removed (SIF's common component).
    let mut tf = vec![0f64; vocab];
    for seq in &tokens {
        for &id in seq {
            tf[id as usize] += 1.0;
        }
    }
    let total: f64 = tf.iter().sum();
    let mut mu = vec![0f32; dims];
    for (id, &c) in tf.iter().enumerate() {
        let p = (c / total) as f32;
        if p > 0.0 {
            mu.iter_mut().zip(&table[id * dims..(id + 1) * dims]).for_each(|(m, r)| *m += p * r);
        }
    }
    let sif: Vec<f32> = tf.iter().map(|&c| (1e-4 / (1e-4 + c / total)) as f32).collect();
    let mirror = |f: &str, files: &[String]| {
        files.iter().any(|a| {
            a == f
                || ["core/", "alloc/"]
                    .iter()
                    .any(|m| a.strip_prefix("std/").is_some_and(|rest| f.strip_prefix(m) == Some(rest)))
        })
    };
    for (name, weights, centre, pc) in [
        ("idf, centred", &idf, true, false),
        ("sif", &sif, false, false),
        ("sif, centred", &sif, true, false),
        ("sif, centred, 1st PC removed", &sif, true, true),
        ("idf, centred, 1st PC removed", &idf, true, true),
    ] {
        let vec_of = |seq: &[i32]| {
            let mut v = vec![0f32; dims];
            for &id in seq {
                let w = weights[id as usize];
                let row = &table[id as usize * dims..(id as usize + 1) * dims];
                if centre {
                    v.iter_mut().zip(row.iter().zip(&mu)).for_each(|(x, (r, m))| *x += w * (r - m));
                } else {
                    v.iter_mut().zip(row).for_each(|(x, r)| *x += w * r);
                }
            }
            normalise(&mut v);
            v
        };
        let mut vs: Vec<Vec<f32>> = tokens.iter().map(|s| vec_of(s)).collect();
        let u = if pc {
            // Power iteration over a sample: the passages' dominant direction.
            let mut u = vec![1f32; dims];
            normalise(&mut u);
            for _ in 0..20 {
                let mut next = vec![0f32; dims];
                for v in vs.iter().step_by(7) {
                    let d = dot(v, &u);
                    next.iter_mut().zip(v).for_each(|(n, x)| *n += d * x);
                }
                normalise(&mut next);
                u = next;
            }
            vs.iter_mut().for_each(|v| remove_direction(v, &u));
            Some(u)
        } else {
            None
        };
        let (mut m5, mut h5, mut mm5, mut hm5, mut km5) = (0, 0, 0, 0, 0);
        for asked in &qs {
            let (q, keyword) = (asked.question, &asked.keyword);
            let mut qv = vec_of(&asked.tokens);
            if let Some(u) = &u {
                remove_direction(&mut qv, u);
            }
            let meaning = dedup(nearest(&vs, &qv, 100).iter().map(|&i| keys[i].clone()).collect());
            let hybrid = fuse(&[(keyword, 1.0), (&meaning, 1.0)]);
            let top5 = |list: &[(String, u32)]| list.iter().take(5).any(|k| q.files.contains(&k.0));
            let top5m = |list: &[(String, u32)]| list.iter().take(5).any(|k| mirror(&k.0, &q.files));
            m5 += usize::from(top5(&meaning));
            h5 += usize::from(top5(&hybrid));
            mm5 += usize::from(top5m(&meaning));
            hm5 += usize::from(top5m(&hybrid));
            km5 += usize::from(top5m(keyword));
        }
        println!(
            "static {name:<30} meaning {:.3} hybrid {:.3} | core/alloc mirrors of the std page counted: keyword {:.3} meaning {:.3} hybrid {:.3}",
            m5 as f64 / n,
            h5 as f64 / n,
            km5 as f64 / n,
            mm5 as f64 / n,
            hm5 as f64 / n
        );
    }
}

//! A free-text column as model inputs through sentence embeddings (`options.text = 'embedding'`):
//! each text's embedding (a dense unit vector from a sentence model, ml::embed with feature
//! `candle`) scored by a logistic regression learnt from the target, cross-fitted as the n-gram
//! text models are (ml::text::model). The stored model holds the logistic's weights and the
//! identity of the sentence model (its width and a fingerprint of its files), never the
//! sentence model itself: scoring needs the same model in `insight.embedding_model_path`, and
//! refuses another.
//!
//! The sentence model is reached through [`SentenceEncoder`], so this module (and its tests) need
//! neither candle nor PostgreSQL.

use super::model::{cross_fit, TextFit, TextTarget};
use super::sparse::Csr;
use super::tfidf::SparseRow;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// A sentence model: texts to unit-length vectors of `dims()` numbers.
pub trait SentenceEncoder: Send + Sync {
    fn dims(&self) -> usize;
    /// Tells models apart: the same files give the same number.
    fn fingerprint(&self) -> u64;
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// A sentence model with a memory of the texts it embedded last: training embeds each distinct
/// text once, then encodes the training and test rows, shuffles them for permutation importance
/// and scores them for the drift reference, each of which would embed every row again (112.6 s
/// of a 3,025-review training went there before this cache). Up to `capacity` bytes of texts
/// (of at most `MAX_CACHED_TEXT` bytes each) and their vectors; when full it starts again empty.
pub struct Cached {
    inner: Arc<dyn SentenceEncoder>,
    memory: std::sync::Mutex<(HashMap<String, Vec<f32>>, usize)>,
    capacity: usize,
}

/// Longer texts are embedded every time (their keys would cost more than their vectors).
const MAX_CACHED_TEXT: usize = 2000;

impl Cached {
    pub fn new(inner: Arc<dyn SentenceEncoder>, capacity: usize) -> Cached {
        Cached {
            inner,
            memory: std::sync::Mutex::new((HashMap::new(), 0)),
            capacity,
        }
    }
}

impl Cached {
    /// The sentence model itself, without the cache.
    pub fn uncached(&self) -> &dyn SentenceEncoder {
        self.inner.as_ref()
    }
}

impl SentenceEncoder for Cached {
    fn dims(&self) -> usize {
        self.inner.dims()
    }
    fn fingerprint(&self) -> u64 {
        self.inner.fingerprint()
    }
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let mut out: Vec<Option<Vec<f32>>> = {
            let memory = self
                .memory
                .lock()
                .map_err(|_| "the embedding cache is poisoned")?;
            texts.iter().map(|t| memory.0.get(*t).cloned()).collect()
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let fresh = self
                .inner
                .encode(&missing.iter().map(|&i| texts[i]).collect::<Vec<_>>())?;
            if fresh.len() != missing.len() {
                return Err("the sentence model returned vectors of another count".into());
            }
            let mut memory = self
                .memory
                .lock()
                .map_err(|_| "the embedding cache is poisoned")?;
            for (&i, v) in missing.iter().zip(fresh) {
                if texts[i].len() <= MAX_CACHED_TEXT {
                    let cost = texts[i].len() + 4 * v.len() + 64;
                    if memory.1 + cost > self.capacity {
                        *memory = (HashMap::new(), 0);
                    }
                    if memory.0.insert(texts[i].to_string(), v.clone()).is_none() {
                        memory.1 += cost;
                    }
                }
                out[i] = Some(v);
            }
        }
        Ok(out.into_iter().map(|v| v.unwrap_or_default()).collect())
    }
}

/// The sentence model a model scores with, attached after decoding (not stored).
#[derive(Clone, Default)]
pub struct EncoderHandle(pub Option<Arc<dyn SentenceEncoder>>);

impl std::fmt::Debug for EncoderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "EncoderHandle(attached)"
        } else {
            "EncoderHandle(none)"
        })
    }
}

impl PartialEq for EncoderHandle {
    /// Models are compared by what they store.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Texts per forward pass of the sentence model at training: one, as scoring embeds a row, so
/// that a text's vector (kept by `Cached`) is the same bit for bit whichever computed it (a
/// padded batch sums in another order: the same vector to 1e-5, not to the last bit).
const BATCH: usize = 1;
/// The widest sentence model a stored row may claim (BERT-large: 1024).
pub const MAX_DIMS: usize = 8192;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedText {
    /// The sentence model's width and fingerprint.
    pub dims: usize,
    pub fingerprint: u64,
    /// Texts are cut to this many characters before encoding (the model cuts at its own token
    /// limit too).
    pub max_chars: usize,
    /// Outputs (1: log-odds of the positive class; else one per class).
    pub outputs: usize,
    /// outputs x dims, row-major.
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    #[serde(skip)]
    pub encoder: EncoderHandle,
}

/// A text cut to `max_chars` characters.
fn cut(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

impl EmbeddedText {
    /// The scores of a text (NULL: the intercepts, as for an empty n-gram text).
    pub fn scores(&self, text: Option<&str>, out: &mut [f64]) -> Result<(), String> {
        let Some(text) = text else {
            out[..self.outputs].copy_from_slice(&self.intercept);
            return Ok(());
        };
        let encoder = self
            .encoder
            .0
            .as_ref()
            .ok_or("no sentence model is attached to this model")?;
        let v = encoder
            .encode(&[cut(text, self.max_chars)])?
            .pop()
            .filter(|v| v.len() == self.dims)
            .ok_or("the sentence model returned a vector of another width")?;
        self.score_vector(&v, out);
        Ok(())
    }

    fn score_vector(&self, v: &[f32], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate().take(self.outputs) {
            let w = &self.coef[c * self.dims..(c + 1) * self.dims];
            *o = self.intercept[c] + w.iter().zip(v).map(|(&w, &x)| w * x as f64).sum::<f64>();
        }
    }

    /// Checks a decoded model's shapes and weights.
    pub fn check(&self) -> Result<(), String> {
        if self.dims == 0
            || self.dims > MAX_DIMS
            || self.outputs == 0
            || self.outputs > 1000
            || self.max_chars == 0
            || self.max_chars > super::tfidf::MAX_CHARS
            || self.intercept.len() != self.outputs
            || self.coef.len() != self.outputs.saturating_mul(self.dims)
            || !self
                .coef
                .iter()
                .chain(&self.intercept)
                .all(|v| v.is_finite())
        {
            return Err("embedding text model weights do not fit its sentence model".into());
        }
        Ok(())
    }

    /// Whether `encoder` is the sentence model this model was trained with.
    pub fn fits(&self, encoder: &dyn SentenceEncoder) -> bool {
        encoder.dims() == self.dims && encoder.fingerprint() == self.fingerprint
    }
}

/// Fits the embedding text model of a dictionary-coded column (as text::model::fit_column: the
/// model on every training row, and the out-of-fold scores of those rows). Each distinct text is
/// encoded once, `BATCH` at a time, asking for cancel between batches.
#[allow(clippy::too_many_arguments)]
pub fn fit_column(
    dict: &[String],
    codes: &[u32],
    null: u32,
    rows: &[usize],
    target: &TextTarget,
    fit: &TextFit,
    encoder: Arc<dyn SentenceEncoder>,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Result<(EmbeddedText, Vec<f64>), String> {
    let dims = encoder.dims();
    if dims == 0 || dims > MAX_DIMS {
        return Err(format!(
            "the sentence model gives vectors of {dims} numbers"
        ));
    }
    let max_chars = fit.options.max_chars;
    let mut distinct: Vec<u32> = rows.iter().map(|&r| codes[r]).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let position: HashMap<u32, usize> = distinct.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    // NULL is the zero vector (its scores are the intercepts, as at scoring)
    let mut vectors = vec![vec![0f32; dims]; distinct.len()];
    let present: Vec<(usize, &str)> = distinct
        .iter()
        .enumerate()
        .filter(|(_, &c)| c != null)
        .map(|(i, &c)| (i, cut(&dict[c as usize], max_chars)))
        .collect();
    let started = std::time::Instant::now();
    let mut last_report = started;
    for (b, chunk) in present.chunks(BATCH).enumerate() {
        monitor.checkpoint();
        let texts: Vec<&str> = chunk.iter().map(|c| c.1).collect();
        let out = encoder.encode(&texts)?;
        if out.len() != texts.len() || out.iter().any(|v| v.len() != dims) {
            return Err("the sentence model returned vectors of another count or width".into());
        }
        if out.iter().flatten().any(|v| !v.is_finite()) {
            return Err("the sentence model returned a number that is not finite".into());
        }
        for ((i, _), v) in chunk.iter().zip(out) {
            vectors[*i] = v;
        }
        if monitor.wants_progress() && last_report.elapsed().as_secs_f64() >= 5.0 {
            last_report = std::time::Instant::now();
            let done = ((b + 1) * BATCH).min(present.len());
            monitor.progress(&format!(
                "embedding texts: {done} of {} distinct ({:.0} a second)",
                present.len(),
                done as f64 / started.elapsed().as_secs_f64()
            ));
        }
    }
    let mut x = Csr::new(dims);
    let mut row = SparseRow {
        columns: (0..dims as u32).collect(),
        values: vec![0.0; dims],
    };
    for v in &vectors {
        row.values
            .iter_mut()
            .zip(v)
            .for_each(|(o, &x)| *o = x as f64);
        x.push(&row);
    }
    drop(vectors);
    let crossed = cross_fit(
        &x, &distinct, &position, codes, rows, target, fit, par, monitor,
    );
    Ok((
        EmbeddedText {
            dims,
            fingerprint: encoder.fingerprint(),
            max_chars,
            outputs: crossed.outputs,
            coef: crossed.coef,
            intercept: crossed.intercept,
            encoder: EncoderHandle(Some(encoder)),
        },
        crossed.row_scores,
    ))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::ml::monitor::Silent;

    /// A stand-in sentence model: each word hashed into one of `dims` components, then unit
    /// length. Enough to learn planted words, with no model files.
    pub struct BagOfWords {
        pub dims: usize,
    }

    impl SentenceEncoder for BagOfWords {
        fn dims(&self) -> usize {
            self.dims
        }
        fn fingerprint(&self) -> u64 {
            42 + self.dims as u64
        }
        fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0f32; self.dims];
                    for w in t.split_whitespace() {
                        let h = super::super::tfidf::mix64(
                            w.to_lowercase()
                                .bytes()
                                .fold(7u64, |a, b| a * 31 + b as u64),
                        );
                        v[(h % self.dims as u64) as usize] += 1.0;
                    }
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= n);
                    v
                })
                .collect())
        }
    }

    fn corpus(n: usize) -> (Vec<String>, Vec<u32>, Vec<usize>) {
        let happy = [
            "great taste",
            "fast delivery",
            "great and fast",
            "lovely cup",
        ];
        let sad = ["arrived cold", "late again", "broken box", "cold and late"];
        let mut dict: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let (mut codes, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let label = (i * 7 + i / 3) % 2;
            let words = if label == 1 { &happy } else { &sad };
            let t = format!("my order {} {}", words[i % 4], i % 11);
            let next = dict.len() as u32;
            let c = *index.entry(t.clone()).or_insert_with(|| {
                dict.push(t);
                next
            });
            codes.push(if i % 50 == 49 { u32::MAX } else { c });
            y.push(label);
        }
        (dict, codes, y)
    }

    #[test]
    fn learns_planted_words_through_a_sentence_model() {
        let (dict, codes, y) = corpus(400);
        let rows: Vec<usize> = (0..400).collect();
        let w = vec![1.0; 400];
        let target = TextTarget {
            classes: &y,
            n_classes: 2,
            weights: &w,
        };
        let enc: Arc<dyn SentenceEncoder> = Arc::new(BagOfWords { dims: 64 });
        let (m, oof) = fit_column(
            &dict,
            &codes,
            u32::MAX,
            &rows,
            &target,
            &TextFit::default(),
            enc.clone(),
            &Parallel::new(2),
            &Silent,
        )
        .unwrap();
        assert!(m.check().is_ok());
        assert!(m.fits(enc.as_ref()));
        assert!(!m.fits(&BagOfWords { dims: 32 }));
        assert_eq!(oof.len(), 400);
        let right = (0..400)
            .filter(|&i| codes[i] != u32::MAX && (oof[i] > 0.0) == (y[i] == 1))
            .count();
        assert!(right >= 380, "{right} of 392 right out of fold");
        let mut s = [0.0];
        m.scores(Some("great taste, fast delivery"), &mut s)
            .unwrap();
        assert!(s[0] > 0.5, "{}", s[0]);
        m.scores(Some("cold and late"), &mut s).unwrap();
        assert!(s[0] < -0.5, "{}", s[0]);
        m.scores(None, &mut s).unwrap();
        assert_eq!(s[0], m.intercept[0]);
        // a decoded model has no sentence model until one is attached
        let mut bare = m.clone();
        bare.encoder = EncoderHandle(None);
        assert!(bare.scores(Some("great"), &mut s).is_err());
        // damaged rows
        let mut bad = m.clone();
        bad.coef.pop();
        assert!(bad.check().is_err());
        let mut bad = m.clone();
        bad.dims = MAX_DIMS + 1;
        assert!(bad.check().is_err());
        let mut bad = m.clone();
        bad.intercept[0] = f64::NAN;
        assert!(bad.check().is_err());
    }

    /// Counts the texts it is asked to embed.
    struct Counting(BagOfWords, std::sync::atomic::AtomicUsize);
    impl SentenceEncoder for Counting {
        fn dims(&self) -> usize {
            self.0.dims()
        }
        fn fingerprint(&self) -> u64 {
            self.0.fingerprint()
        }
        fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            self.1
                .fetch_add(texts.len(), std::sync::atomic::Ordering::Relaxed);
            self.0.encode(texts)
        }
    }

    #[test]
    fn the_cache_embeds_each_text_once_and_stays_bounded() {
        let inner = Arc::new(Counting(
            BagOfWords { dims: 16 },
            std::sync::atomic::AtomicUsize::new(0),
        ));
        // room for three entries of 16 numbers and a short text
        let cached = Cached::new(inner.clone(), 3 * (4 * 16 + 64 + 3));
        let direct = inner.0.encode(&["a b", "c"]).unwrap();
        assert_eq!(
            cached.encode(&["a b", "c", "a b"]).unwrap()[..2],
            direct[..]
        );
        assert_eq!(
            cached.encode(&["c", "a b"]).unwrap(),
            vec![direct[1].clone(), direct[0].clone()]
        );
        // "a b" twice in the first call: asked for twice there, then never again
        assert_eq!(inner.1.load(std::sync::atomic::Ordering::Relaxed), 3);
        cached.encode(&["d", "e", "f", "g"]).unwrap();
        assert!(cached.memory.lock().unwrap().0.len() <= 3);
        let long = "x ".repeat(MAX_CACHED_TEXT);
        cached.encode(&[&long]).unwrap();
        assert!(!cached.memory.lock().unwrap().0.contains_key(&long));
    }

    /// A sentence model that fails, or lies about its width: an error, never a panic.
    struct Broken(usize);
    impl SentenceEncoder for Broken {
        fn dims(&self) -> usize {
            self.0
        }
        fn fingerprint(&self) -> u64 {
            0
        }
        fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            match self.0 {
                3 => Err("out of memory".into()),
                4 => Ok(texts.iter().map(|_| vec![f32::NAN; 4]).collect()),
                _ => Ok(texts.iter().map(|_| vec![0.5; 2]).collect()),
            }
        }
    }

    #[test]
    fn failing_sentence_models_are_errors() {
        let (dict, codes, y) = corpus(40);
        let rows: Vec<usize> = (0..40).collect();
        let w = vec![1.0; 40];
        let target = TextTarget {
            classes: &y,
            n_classes: 2,
            weights: &w,
        };
        for dims in [0, 3, 4, 5, MAX_DIMS + 1] {
            let r = fit_column(
                &dict,
                &codes,
                u32::MAX,
                &rows,
                &target,
                &TextFit::default(),
                Arc::new(Broken(dims)),
                &Parallel::serial(),
                &Silent,
            );
            assert!(r.is_err(), "dims {dims}");
        }
    }

    #[test]
    fn cuts_at_characters() {
        assert_eq!(cut("好喝好喝", 2), "好喝");
        assert_eq!(cut("ab", 5), "ab");
    }
}

//! Text as features, for review text in any language: Unicode normalisation (NFKC, lower case),
//! character n-grams (which work without spaces between words, as in Chinese) plus word n-grams
//! where words exist, feature hashing into 2^bits buckets with a sign bit (colliding n-grams
//! cancel on average instead of adding up), and sublinear tf-idf with L2-normalised rows.
//!
//! With no collisions, every value equals scikit-learn's
//! `TfidfVectorizer(analyzer='char', sublinear_tf=True)` up to its sign (test below). The
//! vocabulary kept is the buckets seen in training, as a sorted list: a row's columns are the
//! positions of its buckets there, and n-grams never seen in training are left out at scoring, as
//! a fitted vectorizer leaves out unknown terms.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// How texts become n-grams and buckets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextOptions {
    /// Character n-gram lengths, inclusive (0, 0: none).
    pub char_ngrams: (usize, usize),
    /// Word n-gram lengths, inclusive (0, 0: none). Words are runs of letters and digits of at
    /// least two characters outside the scripts written without spaces (CJK, kana, hangul).
    pub word_ngrams: (usize, usize),
    pub hash_bits: u32,
    /// Texts are cut after this many characters (after normalisation).
    pub max_chars: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            char_ngrams: (1, 3),
            word_ngrams: (1, 2),
            hash_bits: 20,
            max_chars: 10_000,
        }
    }
}

/// NFKC, lower case, control characters as spaces, runs of white space as one space, cut after
/// `max_chars` characters. At most `INPUT_PER_CHAR` x `max_chars` characters of the input are
/// read, so that the work and memory stay bounded whatever the text holds (a gigabyte of spaces,
/// or of combining marks that NFKC must read as one run).
pub fn normalize(text: &str, max_chars: usize) -> String {
    let limit = max_chars.saturating_mul(INPUT_PER_CHAR);
    let mut out = String::with_capacity(text.len().min(limit.saturating_mul(4)));
    let mut chars = 0;
    let mut space = false;
    let input = match text.char_indices().nth(limit) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    for c in input.nfkc().flat_map(char::to_lowercase) {
        if chars >= max_chars {
            break;
        }
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
            chars += 1;
            if chars >= max_chars {
                break;
            }
        }
        space = false;
        out.push(c);
        chars += 1;
    }
    out
}

/// How many input characters normalize reads per character it may keep.
pub const INPUT_PER_CHAR: usize = 4;

/// The most characters a text may keep (options.max_chars).
pub const MAX_CHARS: usize = 1_000_000;

/// Scripts written without spaces between words: their words come from character n-grams.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // CJK extensions B-F, compatibility supplement
    )
}

/// 64-bit FNV-1a of a kind byte and the n-gram, then mixed (splitmix64's finaliser) so that both
/// the low bits (the bucket) and the top bit (the sign) are well spread. Stable across releases:
/// stored models depend on it.
fn hash(kind: u8, gram: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&kind).chain(gram) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// splitmix64's finaliser: spreads every input bit over the whole word.
pub(crate) fn mix64(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl TextOptions {
    /// Calls `f` with the kind (b'c' character, b'w' word) and bytes of every n-gram of a
    /// normalised text.
    fn each_gram(&self, text: &str, mut f: impl FnMut(u8, &[u8])) {
        let (lo, hi) = self.char_ngrams;
        if lo > 0 {
            // byte offsets of every character, and the end
            let bounds: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect();
            let n_chars = bounds.len() - 1;
            for n in lo..=hi.min(n_chars) {
                for i in 0..=n_chars - n {
                    f(b'c', &text.as_bytes()[bounds[i]..bounds[i + n]]);
                }
            }
        }
        let (lo, hi) = self.word_ngrams;
        if lo > 0 {
            let words: Vec<&str> = text
                .split(|c: char| !c.is_alphanumeric() || unspaced(c))
                .filter(|w| w.chars().nth(1).is_some())
                .collect();
            let mut gram = String::new();
            for n in lo..=hi.min(words.len()) {
                for w in words.windows(n) {
                    gram.clear();
                    for (i, word) in w.iter().enumerate() {
                        if i > 0 {
                            gram.push(' ');
                        }
                        gram.push_str(word);
                    }
                    f(b'w', gram.as_bytes());
                }
            }
        }
    }

    /// The hashed n-grams of a normalised text, as (bucket, +1 or -1), in no particular order.
    pub fn grams(&self, text: &str, out: &mut Vec<(u32, f64)>) {
        out.clear();
        let mask = (1u64 << self.hash_bits) - 1;
        self.each_gram(text, |kind, gram| {
            let h = hash(kind, gram);
            out.push(((h & mask) as u32, if h >> 63 == 1 { -1.0 } else { 1.0 }));
        });
    }

    /// The n-grams of a normalised text as strings, with whether each is a character n-gram.
    pub fn ngram_strings(&self, text: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        self.each_gram(text, |kind, gram| {
            out.push((String::from_utf8_lossy(gram).into_owned(), kind == b'c'))
        });
        out
    }

    /// The signed count of every bucket of a normalised text, sorted by bucket, without the
    /// buckets whose n-grams cancelled out.
    pub fn counts(&self, text: &str, scratch: &mut Vec<(u32, f64)>, out: &mut Vec<(u32, f64)>) {
        self.grams(text, scratch);
        scratch.sort_unstable_by_key(|g| g.0);
        out.clear();
        for &(b, s) in scratch.iter() {
            match out.last_mut() {
                Some(last) if last.0 == b => last.1 += s,
                _ => out.push((b, s)),
            }
        }
        out.retain(|g| g.1 != 0.0);
    }
}

/// The tf-idf weighting learnt from training texts: the buckets seen there and their inverse
/// document frequencies, ln((1 + n) / (1 + df)) + 1 (scikit-learn's smooth idf).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TfIdf {
    pub options: TextOptions,
    /// Buckets seen in training, ascending: column j of a row is bucket `buckets[j]`.
    pub buckets: Vec<u32>,
    pub idf: Vec<f64>,
}

/// One text as a sparse row: ascending columns and their values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseRow {
    pub columns: Vec<u32>,
    pub values: Vec<f64>,
}

/// Reusable buffers for turning texts into rows.
#[derive(Default)]
pub struct Scratch {
    text: String,
    grams: Vec<(u32, f64)>,
    counts: Vec<(u32, f64)>,
}

impl TfIdf {
    /// Learns the buckets and their idf from `texts` (None: a NULL text, an empty document).
    pub fn fit<'a>(options: TextOptions, texts: impl Iterator<Item = Option<&'a str>>) -> TfIdf {
        Self::fit_counted(options, texts.map(|t| (t, 1)), &crate::ml::monitor::Silent)
    }

    /// As fit, from distinct texts and how many documents hold each.
    pub fn fit_counted<'a>(
        options: TextOptions,
        texts: impl Iterator<Item = (Option<&'a str>, u64)>,
        monitor: &dyn crate::ml::monitor::Monitor,
    ) -> TfIdf {
        let mut df: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
        let mut scratch = Scratch::default();
        let mut n = 0u64;
        for (t, times) in texts {
            // a text of a million characters and 16-long n-grams is tens of millions of them
            monitor.checkpoint();
            n += times;
            if let Some(t) = t {
                scratch.text = normalize(t, options.max_chars);
                options.counts(&scratch.text, &mut scratch.grams, &mut scratch.counts);
                for &(b, _) in &scratch.counts {
                    *df.entry(b).or_insert(0) += times;
                }
            }
        }
        let mut buckets: Vec<(u32, u64)> = df.into_iter().collect();
        buckets.sort_unstable();
        TfIdf {
            options,
            idf: buckets
                .iter()
                .map(|&(_, d)| ((1 + n) as f64 / (1 + d) as f64).ln() + 1.0)
                .collect(),
            buckets: buckets.into_iter().map(|(b, _)| b).collect(),
        }
    }

    /// Columns of a row.
    pub fn width(&self) -> usize {
        self.buckets.len()
    }

    /// A text as a row: sublinear tf (sign(c) (1 + ln |c|)) times idf over the buckets seen in
    /// training, L2-normalised. NULL, empty and unseen texts are the empty row.
    pub fn transform(&self, text: Option<&str>, scratch: &mut Scratch, row: &mut SparseRow) {
        row.columns.clear();
        row.values.clear();
        let Some(text) = text else { return };
        scratch.text = normalize(text, self.options.max_chars);
        self.options
            .counts(&scratch.text, &mut scratch.grams, &mut scratch.counts);
        for &(b, c) in &scratch.counts {
            if let Ok(j) = self.buckets.binary_search(&b) {
                let tf = c.signum() * (1.0 + c.abs().ln());
                row.columns.push(j as u32);
                row.values.push(tf * self.idf[j]);
            }
        }
        let norm = row.values.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.values.iter_mut().for_each(|v| *v /= norm);
        }
    }

    /// The column of an n-gram (`char`: a character n-gram, else a word n-gram), if it was seen
    /// in training, with its sign: how top_terms names the columns.
    pub fn column_of(&self, gram: &str, char_gram: bool) -> Option<(usize, f64)> {
        let h = hash(if char_gram { b'c' } else { b'w' }, gram.as_bytes());
        let b = (h & ((1u64 << self.options.hash_bits) - 1)) as u32;
        let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
        self.buckets.binary_search(&b).ok().map(|j| (j, sign))
    }

    /// Checks a decoded vectorizer: buckets ascending and within 2^bits, one finite idf each.
    pub fn check(&self) -> Result<(), String> {
        let o = &self.options;
        if !(1..=30).contains(&o.hash_bits) {
            return Err(format!("hash bits {} out of range", o.hash_bits));
        }
        if !(1..=MAX_CHARS).contains(&o.max_chars) {
            return Err(format!("max_chars {} out of range", o.max_chars));
        }
        let bad_range = |(lo, hi): (usize, usize)| (lo == 0) != (hi == 0) || lo > hi || hi > 16;
        if bad_range(o.char_ngrams) || bad_range(o.word_ngrams) {
            return Err("n-gram range out of bounds".into());
        }
        if self.idf.len() != self.buckets.len()
            || self.buckets.windows(2).any(|w| w[0] >= w[1])
            || self
                .buckets
                .last()
                .is_some_and(|&b| (b as u64) >> o.hash_bits != 0)
            || self.idf.iter().any(|v| !v.is_finite() || *v < 1.0)
        {
            return Err("tf-idf vocabulary is inconsistent".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_CHAR: u64 = 9_894_418_562_764_684_332;
    const PINNED_WORD: u64 = 5_818_698_247_430_973_558;

    fn chars_only() -> TextOptions {
        TextOptions {
            char_ngrams: (1, 3),
            word_ngrams: (0, 0),
            hash_bits: 20,
            max_chars: 10_000,
        }
    }

    /// Stored models hold buckets: the hash must never change.
    #[test]
    fn hash_is_pinned() {
        assert_eq!(
            [hash(b'c', "咖啡".as_bytes()), hash(b'w', b"great coffee")],
            [PINNED_CHAR, PINNED_WORD]
        );
    }

    #[test]
    fn normalises_width_case_controls_and_spaces() {
        // full-width letters and digits (NFKC), case, a tab and a control character, runs of
        // spaces, emoji kept
        assert_eq!(
            normalize("  ＧＲＥＡＴ\tCoffee\u{7}  １０/10 👍 ", 100),
            "great coffee 10/10 👍"
        );
        assert_eq!(normalize("abcdef", 3), "abc");
        // the input read is bounded: runs of spaces or combining marks cost at most 4 x max_chars
        assert_eq!(normalize(&" ".repeat(1000), 3), "");
        assert_eq!(normalize(&format!("{}ab", " ".repeat(5)), 3), "ab");
        assert_eq!(
            normalize(&format!("a{}", "\u{301}".repeat(100_000)), 2),
            "\u{e1}\u{301}"
        );
        assert_eq!(normalize("", 10), "");
        assert_eq!(normalize("\u{0}\u{1}", 10), "");
    }

    #[test]
    fn words_exist_outside_unspaced_scripts() {
        let o = TextOptions {
            char_ngrams: (0, 0),
            word_ngrams: (1, 2),
            ..TextOptions::default()
        };
        let mut g = Vec::new();
        // "a" is too short; the Chinese run gives no word; "great coffee" is a bigram
        o.grams(&normalize("a great coffee 咖啡很好", 100), &mut g);
        assert_eq!(g.len(), 3);
        let t = TfIdf::fit(o, ["great coffee"].into_iter().map(Some));
        assert!(t.column_of("great coffee", false).is_some());
        assert!(t.column_of("great", false).is_some());
        assert!(t.column_of("coffee great", false).is_none());
    }

    /// scikit-learn 1.2.1: TfidfVectorizer(analyzer='char', ngram_range=(1, 3),
    /// sublinear_tf=True, norm='l2', smooth_idf=True, preprocessor=lambda s:
    /// unicodedata.normalize('NFKC', s).lower()).fit_transform(DOCS), values printed with %.15f
    /// (NFKC makes the full-width comma of the Chinese reviews ",": 168 distinct n-grams).
    #[test]
    fn equals_scikit_learn_char_tfidf_up_to_sign() {
        const DOCS: [&str; 6] = [
            "Great coffee, great price!",
            "The coffee arrived cold.  Never again",
            "物流很快，咖啡很好喝",
            "咖啡很难喝，物流太慢",
            "great great great",
            "ok 👍 good",
        ];
        let reference: [(&str, f64, [f64; 6]); 7] = [
            (
                "gre",
                1.847297860387204,
                [0.176701671883765, 0.0, 0.0, 0.0, 0.266311799615707, 0.0],
            ),
            (
                "咖啡",
                1.847297860387204,
                [0.0, 0.0, 0.169304599270535, 0.170233249186690, 0.0, 0.0],
            ),
            (
                "很",
                1.847297860387204,
                [0.0, 0.0, 0.286657604910737, 0.170233249186690, 0.0, 0.0],
            ),
            (
                "👍",
                2.252762968495368,
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.220200485986757],
            ),
            (
                " g",
                1.559615787935423,
                [
                    0.088110292417241,
                    0.0,
                    0.0,
                    0.0,
                    0.181398463948293,
                    0.152447531879209,
                ],
            ),
            (
                "t ",
                1.847297860387204,
                [0.176701671883765, 0.0, 0.0, 0.0, 0.214858683094507, 0.0],
            ),
            (
                "ea",
                1.847297860387204,
                [0.176701671883765, 0.0, 0.0, 0.0, 0.266311799615707, 0.0],
            ),
        ];
        let t = TfIdf::fit(chars_only(), DOCS.iter().map(|d| Some(*d)));
        assert_eq!(
            t.width(),
            168,
            "scikit-learn finds 168 distinct n-grams: no collisions"
        );
        let mut scratch = Scratch::default();
        let rows: Vec<SparseRow> = DOCS
            .iter()
            .map(|d| {
                let mut r = SparseRow::default();
                t.transform(Some(d), &mut scratch, &mut r);
                r
            })
            .collect();
        for (gram, idf, values) in reference {
            let (j, sign) = t.column_of(gram, true).expect("seen in training");
            assert!(
                (t.idf[j] - idf).abs() < 1e-12,
                "{gram}: idf {} vs {idf}",
                t.idf[j]
            );
            for (r, want) in rows.iter().zip(values) {
                let got = r
                    .columns
                    .iter()
                    .position(|&c| c as usize == j)
                    .map_or(0.0, |p| r.values[p]);
                assert!((got * sign - want).abs() < 1e-12, "{gram}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn nulls_empty_and_unseen_texts_are_empty_rows() {
        let t = TfIdf::fit(TextOptions::default(), [Some("good"), None].into_iter());
        let (mut s, mut r) = (Scratch::default(), SparseRow::default());
        for text in [None, Some(""), Some("   "), Some("zzz xxq")] {
            t.transform(text, &mut s, &mut r);
            assert!(r.columns.is_empty(), "{text:?}");
        }
        t.transform(Some("GOOD"), &mut s, &mut r);
        let norm: f64 = r.values.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-12);
        assert!(t.check().is_ok());
        let mut bad = t.clone();
        bad.buckets.reverse();
        assert!(bad.check().is_err());
        // a crafted model may not lift the cut of texts (a gigabyte text scored in full)
        for max_chars in [0, MAX_CHARS + 1, usize::MAX] {
            let mut bad = t.clone();
            bad.options.max_chars = max_chars;
            assert!(bad.check().is_err(), "{max_chars}");
        }
    }

    /// Fitting asks the monitor (query cancel) once per distinct text: one text of a million
    /// characters with long n-grams is seconds of work.
    #[test]
    fn fitting_answers_cancel_between_texts() {
        struct Count(std::cell::Cell<usize>);
        impl crate::ml::monitor::Monitor for Count {
            fn checkpoint(&self) {
                self.0.set(self.0.get() + 1);
            }
            fn wants_progress(&self) -> bool {
                false
            }
            fn progress(&self, _: &str) {}
            fn warn(&self, _: &str) {}
            fn notice(&self, _: &str) {}
        }
        let c = Count(std::cell::Cell::new(0));
        let texts: Vec<String> = (0..100).map(|i| format!("text {i}")).collect();
        TfIdf::fit_counted(
            TextOptions::default(),
            texts.iter().map(|t| (Some(t.as_str()), 1)),
            &c,
        );
        assert!(c.0.get() >= 100, "{}", c.0.get());
    }
}

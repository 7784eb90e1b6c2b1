//! Topics of review texts: spherical k-means (cosine similarity) over their L2-normalised tf-idf
//! rows, each topic named by the n-grams that set its centre apart from the centre of all
//! reviews, with the review nearest its centre as an example (insight.review_topics).
//!
//! The same k-means as the segmentation models (k-means++ seeding, Lloyd iterations until no row
//! moves), on sparse rows and unit-length centres, so the distance is 1 - cosine. Empty texts
//! (NULL, or no n-gram seen in training) belong to no topic.

use super::sparse::Csr;
use super::tfidf::{normalize, TextOptions, TfIdf};
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

pub struct Topics {
    /// The topic of each row, None for an empty text.
    pub assignment: Vec<Option<usize>>,
    /// k x width, row-major, each of unit length (or zero for a topic no row joined).
    pub centres: Vec<f64>,
    pub k: usize,
}

fn dot_row(centre: &[f64], cols: &[u32], vals: &[f32]) -> f64 {
    cols.iter()
        .zip(vals)
        .map(|(&j, &v)| centre[j as usize] * v as f64)
        .sum()
}

/// Spherical k-means of the rows of `x` into `k` topics: the best (largest total cosine of
/// the rows to their centres) of `N_INIT` seeded starts, as the segmentation k-means.
pub fn fit(
    x: &Csr,
    k: usize,
    seed: u64,
    max_iter: usize,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Topics {
    (0..N_INIT)
        .map(|i| fit_once(x, k, seed.wrapping_add(i), max_iter, par, monitor))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t)
        .expect("N_INIT > 0")
}

const N_INIT: u64 = 4;

fn fit_once(
    x: &Csr,
    k: usize,
    seed: u64,
    max_iter: usize,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> (Topics, f64) {
    let d = x.n_cols;
    let n = x.n_rows();
    let filled: Vec<usize> = (0..n).filter(|&i| !x.row(i).0.is_empty()).collect();
    let k = k.min(filled.len()).max(1);
    let mut centres = vec![0.0; k * d];
    let set_centre = |centres: &mut [f64], c: usize, i: usize| {
        let (cols, vals) = x.row(i);
        let centre = &mut centres[c * d..(c + 1) * d];
        centre.iter_mut().for_each(|v| *v = 0.0);
        for (&j, &v) in cols.iter().zip(vals) {
            centre[j as usize] = v as f64;
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if filled.is_empty() {
        return (
            Topics {
                assignment: vec![None; n],
                centres,
                k,
            },
            0.0,
        );
    }
    // k-means++: each next centre drawn with probability proportional to the distance
    // (1 - cosine) to the nearest centre so far
    set_centre(&mut centres, 0, filled[rng.gen_range(0..filled.len())]);
    let mut nearest = vec![f64::INFINITY; filled.len()];
    for c in 1..k {
        monitor.checkpoint();
        let prev = &centres[(c - 1) * d..c * d];
        for (t, &i) in filled.iter().enumerate() {
            let (cols, vals) = x.row(i);
            nearest[t] = nearest[t].min((1.0 - dot_row(prev, cols, vals)).max(0.0));
        }
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.gen::<f64>() * total;
            let mut p = filled.len() - 1;
            for (t, &w) in nearest.iter().enumerate() {
                if u < w {
                    p = t;
                    break;
                }
                u -= w;
            }
            p
        } else {
            rng.gen_range(0..filled.len())
        };
        set_centre(&mut centres, c, filled[pick]);
    }
    let mut assignment: Vec<Option<usize>> = vec![None; n];
    let mut total = 0.0;
    for _ in 0..max_iter.max(1) {
        let blocks = par.map_blocks(n, monitor, |r| {
            r.map(|i| {
                let (cols, vals) = x.row(i);
                if cols.is_empty() {
                    return (None, 0.0);
                }
                let (mut best, mut sim) = (0, f64::NEG_INFINITY);
                for c in 0..k {
                    let s = dot_row(&centres[c * d..(c + 1) * d], cols, vals);
                    if s > sim {
                        (best, sim) = (c, s);
                    }
                }
                (Some(best), sim)
            })
            .collect::<Vec<_>>()
        });
        let next: Vec<(Option<usize>, f64)> = blocks.into_iter().flatten().collect();
        let moved = next.iter().zip(&assignment).any(|(a, b)| a.0 != *b);
        total = next.iter().filter(|a| a.0.is_some()).map(|a| a.1).sum();
        assignment = next.iter().map(|a| a.0).collect();
        // new centres: the normalised sums of their rows; an empty topic takes the row least
        // like its own topic
        centres.iter_mut().for_each(|v| *v = 0.0);
        let mut sizes = vec![0usize; k];
        for (i, a) in assignment.iter().enumerate() {
            if let Some(c) = a {
                sizes[*c] += 1;
                let (cols, vals) = x.row(i);
                let centre = &mut centres[c * d..(c + 1) * d];
                for (&j, &v) in cols.iter().zip(vals) {
                    centre[j as usize] += v as f64;
                }
            }
        }
        for c in 0..k {
            if sizes[c] == 0 {
                let worst = next
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.0.is_some())
                    .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
                    .map(|(i, _)| i);
                if let Some(i) = worst {
                    set_centre(&mut centres, c, i);
                }
            }
            let centre = &mut centres[c * d..(c + 1) * d];
            let norm = centre.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                centre.iter_mut().for_each(|v| *v /= norm);
            }
        }
        if !moved {
            break;
        }
    }
    (
        Topics {
            assignment,
            centres,
            k,
        },
        total,
    )
}

impl Topics {
    /// The same topics with centres in another representation `x` of the same rows: each the
    /// unit-length mean of its members' rows (how topics found on sentence embeddings are named
    /// by their n-grams).
    pub fn recentred(&self, x: &Csr) -> Topics {
        let d = x.n_cols;
        let mut centres = vec![0.0; self.k * d];
        for (i, a) in self.assignment.iter().enumerate() {
            if let Some(c) = a {
                let (cols, vals) = x.row(i);
                for (&j, &v) in cols.iter().zip(vals) {
                    centres[c * d + j as usize] += v as f64;
                }
            }
        }
        for centre in centres.chunks_mut(d.max(1)) {
            let norm = centre.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                centre.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Topics {
            assignment: self.assignment.clone(),
            centres,
            k: self.k,
        }
    }

    /// Rows of topic `c`, and the one nearest its centre.
    pub fn members(&self, c: usize) -> Vec<usize> {
        (0..self.assignment.len())
            .filter(|&i| self.assignment[i] == Some(c))
            .collect()
    }

    pub fn nearest(&self, x: &Csr, c: usize) -> Option<usize> {
        let d = x.n_cols;
        self.members(c).into_iter().max_by(|&a, &b| {
            let (ca, va) = x.row(a);
            let (cb, vb) = x.row(b);
            dot_row(&self.centres[c * d..(c + 1) * d], ca, va).total_cmp(&dot_row(
                &self.centres[c * d..(c + 1) * d],
                cb,
                vb,
            ))
        })
    }

    /// The `n` n-grams that set topic `c` apart: the columns whose weight in its centre most
    /// exceeds their weight in the centre of all reviews, named by the n-gram of the topic's
    /// texts that hashed there most often. Readable ones only: word n-grams, and character
    /// n-grams of two or more characters in scripts without words (Chinese); a shorter n-gram
    /// inside one already shown is left out.
    pub fn terms(
        &self,
        x: &Csr,
        tfidf: &TfIdf,
        texts: &[Option<&str>],
        c: usize,
        n: usize,
    ) -> Vec<String> {
        let d = x.n_cols;
        let mut all = vec![0.0; d];
        for i in 0..x.n_rows() {
            let (cols, vals) = x.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                all[j as usize] += (v as f64).abs();
            }
        }
        let norm = all.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
        let centre = &self.centres[c * d..(c + 1) * d];
        let lift = |j: usize| centre[j].abs() - all[j] / norm;
        let mut order: Vec<usize> = (0..d).filter(|&j| lift(j) > 0.0).collect();
        order.sort_by(|&a, &b| lift(b).total_cmp(&lift(a)));
        order.truncate(40 * n);
        let readable = |g: &str, char_gram: bool| {
            !g.starts_with(' ')
                && !g.ends_with(' ')
                && g.chars().any(char::is_alphanumeric)
                && (!char_gram
                    || (g.chars().nth(1).is_some() && !g.chars().any(|ch| ch.is_ascii())))
        };
        let mut seen: HashMap<usize, HashMap<String, u64>> =
            order.iter().map(|&j| (j, HashMap::new())).collect();
        let o: &TextOptions = &tfidf.options;
        for i in self.members(c) {
            let Some(t) = texts[i] else { continue };
            let t = normalize(t, o.max_chars);
            for (gram, char_gram) in o.ngram_strings(&t) {
                if !readable(&gram, char_gram) {
                    continue;
                }
                if let Some((j, _)) = tfidf.column_of(&gram, char_gram) {
                    if let Some(m) = seen.get_mut(&j) {
                        *m.entry(gram).or_insert(0) += 1;
                    }
                }
            }
        }
        let mut out: Vec<String> = Vec::new();
        for j in order {
            let best = seen
                .get(&j)
                .and_then(|m| {
                    m.iter()
                        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                })
                .map(|(g, _)| g.clone());
            if let Some(g) = best {
                if !out.iter().any(|t| t.contains(&g) || g.contains(t.as_str())) {
                    out.push(g);
                }
            }
            if out.len() == n {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;
    use crate::ml::text::tfidf::{Scratch, SparseRow};

    #[test]
    fn finds_planted_topics_in_two_languages() {
        // (n-grams do not cross languages: the same complaint in Chinese is a topic of its own)
        let themes = [
            [
                "delivery was late again",
                "late delivery, waited weeks",
                "the delivery came late",
            ],
            [
                "tastes stale and bitter",
                "stale beans, bitter taste",
                "bitter, stale coffee",
            ],
            [
                "box arrived broken",
                "the box was broken and torn",
                "broken box",
            ],
            ["物流太慢了", "物流很慢", "快递太慢了"],
        ];
        let texts: Vec<String> = (0..400)
            .map(|i| format!("{} {}", themes[i % 4][(i / 4) % 3], i % 7))
            .collect();
        let t = TfIdf::fit(
            TextOptions::default(),
            texts.iter().map(|s| Some(s.as_str())),
        );
        let mut x = Csr::new(t.width());
        let (mut s, mut r) = (Scratch::default(), SparseRow::default());
        for text in &texts {
            t.transform(Some(text), &mut s, &mut r);
            x.push(&r);
        }
        let topics = fit(&x, 4, 7, 50, &Parallel::new(2), &Silent);
        // each planted theme is one topic
        for theme in 0..4 {
            let of: std::collections::HashSet<Option<usize>> = (0..400)
                .filter(|i| i % 4 == theme)
                .map(|i| topics.assignment[i])
                .collect();
            assert_eq!(of.len(), 1, "theme {theme} split over {of:?}");
        }
        let refs: Vec<Option<&str>> = texts.iter().map(|s| Some(s.as_str())).collect();
        let c = topics.assignment[1].unwrap();
        let terms = topics.terms(&x, &t, &refs, c, 5);
        assert!(
            terms
                .iter()
                .any(|g| g.contains("stale") || g.contains("bitter")),
            "{terms:?}"
        );
        let ex = topics.nearest(&x, c).unwrap();
        assert_eq!(ex % 4, 1);
        // empty texts belong to no topic; more topics than texts is fewer topics
        let mut y = Csr::new(t.width());
        y.push(&SparseRow::default());
        y.push(&r);
        let small = fit(&y, 5, 1, 10, &Parallel::serial(), &Silent);
        assert_eq!(
            (small.k, small.assignment[0], small.assignment[1]),
            (1, None, Some(0))
        );
    }
}

//! A bounded sample of rows for the training aggregates, mergeable and independent of the order
//! in which rows arrive and of how they were split between parallel workers.
//!
//! Each row gets a priority: a hash of its values (and target) and the seed. The sample is the
//! `capacity` rows of lowest priority (bottom-k sampling): a uniform sample without replacement,
//! and the union of two samples' lowest `capacity` is the sample of the union of their rows. So a
//! parallel aggregate (each worker samples its rows, combine merges) gives exactly the sample of
//! a serial one, and the same table gives the same model whatever the plan. Rows equal in every
//! value share a priority; whichever is kept, the sample is the same.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The target of a sampled row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Label {
    None,
    Number(f64),
    Text(String),
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Entry {
    pub priority: u64,
    /// The row's values; NaN is NULL.
    pub values: Vec<f64>,
    pub label: Label,
}

impl Entry {
    /// A total order: priority, then the values' and label's bits (rows equal in all are equal).
    fn key_cmp(&self, other: &Entry) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| {
                let a = self.values.iter().map(|v| v.to_bits());
                a.cmp(other.values.iter().map(|v| v.to_bits()))
            })
            .then_with(|| label_key(&self.label).cmp(&label_key(&other.label)))
    }
}

fn label_key(l: &Label) -> (u8, u64, &str) {
    match l {
        Label::None => (0, 0, ""),
        Label::Number(v) => (1, v.to_bits(), ""),
        Label::Text(s) => (2, 0, s.as_str()),
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key_cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key_cmp(other)
    }
}

#[derive(Clone, Debug)]
pub struct Reservoir {
    pub capacity: usize,
    pub seed: u64,
    /// Rows offered, kept or not.
    pub seen: u64,
    /// The kept rows, the highest priority on top (the first to go).
    heap: BinaryHeap<Entry>,
}

/// SplitMix64's finaliser: a fast, well-mixing 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The priority of a row: a hash of the seed, its values and its label.
pub fn priority(seed: u64, values: &[f64], label: &Label) -> u64 {
    let mut h = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    // -0.0 and 0.0 are one value; every NaN is NULL
    let bits = |v: f64| {
        if v.is_nan() {
            u64::MAX
        } else if v == 0.0 {
            0
        } else {
            v.to_bits()
        }
    };
    for &v in values {
        h = mix(h ^ bits(v));
    }
    match label {
        Label::None => {}
        Label::Number(v) => h = mix(h ^ bits(*v) ^ 1),
        Label::Text(s) => {
            for chunk in s.as_bytes().chunks(8) {
                let mut b = [0u8; 8];
                b[..chunk.len()].copy_from_slice(chunk);
                h = mix(h ^ u64::from_le_bytes(b));
            }
            h = mix(h ^ s.len() as u64 ^ 2);
        }
    }
    h
}

impl Reservoir {
    pub fn new(capacity: usize, seed: u64) -> Reservoir {
        Reservoir {
            capacity: capacity.max(1),
            seed,
            seen: 0,
            heap: BinaryHeap::new(),
        }
    }

    /// Offers a row; returns whether it is kept (for now).
    pub fn offer(&mut self, values: &[f64], label: Label) -> bool {
        self.seen = self.seen.saturating_add(1);
        let p = priority(self.seed, values, &label);
        if self.heap.len() >= self.capacity {
            // most rows of a large group stop here, before any allocation
            if self.heap.peek().is_some_and(|top| p > top.priority) {
                return false;
            }
        }
        self.push(Entry {
            priority: p,
            values: values.to_vec(),
            label,
        })
    }

    fn push(&mut self, e: Entry) -> bool {
        if self.heap.len() < self.capacity {
            self.heap.push(e);
            return true;
        }
        let keep = self.heap.peek().is_some_and(|top| e < *top);
        if keep {
            self.heap.pop();
            self.heap.push(e);
        }
        keep
    }

    /// Takes in another sample of the same seed and capacity (a parallel worker's).
    pub fn merge(&mut self, other: Reservoir) {
        self.seen = self.seen.saturating_add(other.seen);
        for e in other.heap {
            self.push(e);
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The kept rows, lowest priority first (an order that depends on the rows only).
    pub fn into_sorted(self) -> Vec<Entry> {
        self.heap.into_sorted_vec()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.heap.iter()
    }

    /// Rebuilds a sample from stored parts, checking them: at most `capacity` entries whose
    /// priorities are those of their rows.
    pub fn from_parts(
        capacity: usize,
        seed: u64,
        seen: u64,
        entries: Vec<Entry>,
    ) -> Result<Reservoir, String> {
        if capacity == 0 || entries.len() > capacity || (entries.len() as u64) > seen {
            return Err(format!(
                "a sample of {} rows for a capacity of {capacity} and {seen} rows seen",
                entries.len()
            ));
        }
        if entries
            .iter()
            .any(|e| e.priority != priority(seed, &e.values, &e.label))
        {
            return Err("a sampled row whose priority is not its own".into());
        }
        Ok(Reservoir {
            capacity,
            seed,
            seen,
            heap: entries.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<(Vec<f64>, Label)> {
        (0..n)
            .map(|i| {
                (
                    vec![i as f64, (i % 7) as f64],
                    Label::Number((i % 2) as f64),
                )
            })
            .collect()
    }

    #[test]
    fn a_split_and_merged_sample_is_the_serial_sample() {
        let data = rows(5000);
        let mut serial = Reservoir::new(300, 42);
        for (v, l) in &data {
            serial.offer(v, l.clone());
        }
        // three workers taking rows in another order, merged
        let mut parts = vec![
            Reservoir::new(300, 42),
            Reservoir::new(300, 42),
            Reservoir::new(300, 42),
        ];
        for (i, (v, l)) in data.iter().enumerate().rev() {
            parts[(i * 7) % 3].offer(v, l.clone());
        }
        let mut merged = parts.pop().unwrap();
        for p in parts {
            merged.merge(p);
        }
        assert_eq!(merged.seen, 5000);
        let a: Vec<Vec<f64>> = serial.into_sorted().into_iter().map(|e| e.values).collect();
        let b: Vec<Vec<f64>> = merged.into_sorted().into_iter().map(|e| e.values).collect();
        assert_eq!(a.len(), 300);
        assert_eq!(a, b);
    }

    #[test]
    fn the_sample_is_uniform() {
        // of 100,000 rows 10,000 kept: each tenth of the rows gives about a tenth of the sample
        let mut r = Reservoir::new(10_000, 7);
        for i in 0..100_000 {
            r.offer(&[i as f64], Label::None);
        }
        let mut tenths = [0usize; 10];
        for e in r.entries() {
            tenths[(e.values[0] as usize) / 10_000] += 1;
        }
        // binomial(10,000, 0.1) on the whole sample: sd about 30 per tenth
        assert!(
            tenths.iter().all(|&c| (850..1150).contains(&c)),
            "{tenths:?}"
        );
        // another seed, another sample
        let mut s = Reservoir::new(10_000, 8);
        for i in 0..100_000 {
            s.offer(&[i as f64], Label::None);
        }
        let a: std::collections::HashSet<u64> = r.entries().map(|e| e.values[0] as u64).collect();
        let shared = s
            .entries()
            .filter(|e| a.contains(&(e.values[0] as u64)))
            .count();
        assert!(shared < 1500, "{shared} rows shared by two seeds' samples");
    }

    #[test]
    fn stored_parts_are_checked() {
        let mut r = Reservoir::new(10, 1);
        for (v, l) in rows(50) {
            r.offer(&v, l);
        }
        let entries: Vec<Entry> = r.entries().cloned().collect();
        assert!(Reservoir::from_parts(10, 1, 50, entries.clone()).is_ok());
        assert!(Reservoir::from_parts(5, 1, 50, entries.clone()).is_err());
        assert!(Reservoir::from_parts(10, 2, 50, entries.clone()).is_err());
        assert!(Reservoir::from_parts(10, 1, 3, entries.clone()).is_err());
        let mut lying = entries;
        lying[0].values[0] += 1.0;
        assert!(Reservoir::from_parts(10, 1, 50, lying).is_err());
    }
}

//! Seeded train/test splits: stratified by class for classification, plain for regression.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Returns (train, test) row indices, each sorted. Every class contributes
/// round(test_size * class_count) rows to the test side, but at least one row stays in training.
pub fn stratified(
    labels: &[usize],
    n_classes: usize,
    test_size: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in labels.iter().enumerate() {
        by_class[c].push(i);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for rows in by_class.iter_mut() {
        rows.shuffle(&mut rng);
        let n_test =
            ((rows.len() as f64 * test_size).round() as usize).min(rows.len().saturating_sub(1));
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// A random split of `n` rows, at least one row on each side when n >= 2.
pub fn random(n: usize, test_size: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rng);
    let n_test =
        ((n as f64 * test_size).round() as usize).clamp(usize::from(n >= 2), n.saturating_sub(1));
    let mut test = rows[..n_test].to_vec();
    let mut train = rows[n_test..].to_vec();
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// A seeded split that keeps every group on one side (identical review texts: a copy of a test
/// review in training would inflate the test metrics): groups in a random order go to the test
/// side until it holds test_size of the rows; at least one row stays in training.
pub fn grouped(groups: &[u64], test_size: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows_of: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    for (i, &g) in groups.iter().enumerate() {
        rows_of.entry(g).or_default().push(i);
    }
    let mut order: Vec<Vec<usize>> = rows_of.into_values().collect();
    order.shuffle(&mut rng);
    let n = groups.len();
    let want = ((n as f64 * test_size).round() as usize).min(n.saturating_sub(1));
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for rows in order {
        if test.len() + rows.len() <= want {
            test.extend(rows);
        } else {
            train.extend(rows);
        }
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_keeps_class_proportions_and_is_seeded() {
        let labels: Vec<usize> = (0..1000).map(|i| usize::from(i % 10 == 0)).collect();
        let (train, test) = stratified(&labels, 2, 0.2, 7);
        assert_eq!(train.len() + test.len(), 1000);
        assert_eq!(test.iter().filter(|&&i| labels[i] == 1).count(), 20);
        assert_eq!(test.len(), 200);
        assert_eq!(stratified(&labels, 2, 0.2, 7).1, test);
        assert_ne!(stratified(&labels, 2, 0.2, 8).1, test);
    }

    #[test]
    fn random_split_sizes() {
        let (train, test) = random(10, 0.3, 1);
        assert_eq!((train.len(), test.len()), (7, 3));
        let (train, test) = random(2, 0.01, 1);
        assert_eq!((train.len(), test.len()), (1, 1));
    }

    #[test]
    fn groups_stay_on_one_side() {
        // 1,000 rows in 150 groups of 1 to 12 copies
        let groups: Vec<u64> = (0..1000u64).map(|i| (i * i) % 150).collect();
        let (train, test) = grouped(&groups, 0.2, 7);
        assert_eq!(train.len() + test.len(), 1000);
        let test_groups: std::collections::HashSet<u64> = test.iter().map(|&i| groups[i]).collect();
        assert!(train.iter().all(|&i| !test_groups.contains(&groups[i])));
        assert!((150..=200).contains(&test.len()), "{}", test.len());
        assert_eq!(grouped(&groups, 0.2, 7), (train, test));
        // one group: nothing can be tested without emptying training
        let (train, test) = grouped(&[5; 10], 0.2, 1);
        assert_eq!((train.len(), test.len()), (10, 0));
    }
}

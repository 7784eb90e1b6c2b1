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
}

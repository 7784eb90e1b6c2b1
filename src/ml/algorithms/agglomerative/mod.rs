//! Agglomerative (hierarchical) clustering: Ward, average, complete or single linkage.

pub mod linkage;

#[cfg(test)]
mod tests {
    use super::linkage::{cut, linkage, Linkage, Merge};
    use crate::ml::algorithms::kmeans::tests_data::reference_blobs;
    use crate::ml::linalg::Matrix;
    use crate::ml::monitor::Silent;
    use crate::ml::parallel::Parallel;

    // scipy 1.10.1 linkage(X, method) on reference_blobs (tests/reference/agglomerative_reference.py):
    // the sum of all heights and the last five merges; scikit-learn 1.2.1's
    // AgglomerativeClustering(n_clusters=5) sizes (its labels equal a cut of scipy's tree)
    const SCIPY: &[(Linkage, f64, [(u32, u32, f64, u32); 5], [usize; 5])] = &[
        (
            Linkage::Ward,
            642.5878098254,
            [
                (1187, 1192, 10.0036097012, 200),
                (1188, 1191, 10.0954673366, 200),
                (1185, 1193, 10.1142615237, 200),
                (1194, 1196, 79.9380524844, 400),
                (1195, 1197, 80.0329916211, 600),
            ],
            [200, 135, 127, 73, 65],
        ),
        (
            Linkage::Average,
            257.2270573590,
            [
                (1137, 1193, 1.9468675307, 200),
                (1131, 1191, 1.9697151825, 197),
                (1063, 1195, 2.0258420332, 200),
                (1192, 1196, 5.8024555826, 400),
                (1194, 1197, 5.8069917855, 600),
            ],
            [200, 200, 192, 5, 3],
        ),
        (
            Linkage::Complete,
            351.8208396880,
            [
                (1190, 1192, 3.9348660676, 200),
                (1182, 1193, 3.9573754152, 200),
                (1186, 1191, 4.0074036748, 200),
                (1194, 1196, 8.7069232407, 400),
                (1195, 1197, 9.1950240623, 600),
            ],
            [200, 164, 122, 78, 36],
        ),
        (
            Linkage::Single,
            158.0607629147,
            [
                (1017, 1191, 0.6403865035, 200),
                (1149, 1193, 0.7374261120, 198),
                (723, 1195, 0.7953065666, 200),
                (1192, 1196, 2.5436938414, 400),
                (1194, 1197, 2.6177615131, 600),
            ],
            [200, 200, 195, 3, 2],
        ),
    ];

    #[test]
    fn trees_equal_scipy() {
        let (x, truth) = reference_blobs();
        for (how, sum, last, sizes5) in SCIPY {
            let z = linkage(&x, *how, &Parallel::serial(), &Silent);
            assert_eq!(z.len(), 599);
            let total: f64 = z.iter().map(|m| m.height).sum();
            assert!(
                (total - sum).abs() < 1e-8 * sum,
                "{how:?}: sum of heights {total} vs scipy {sum}"
            );
            for (m, (a, b, h, s)) in z[594..].iter().zip(last) {
                assert_eq!((m.a, m.b, m.size), (*a, *b, *s), "{how:?}: {m:?}");
                assert!(
                    (m.height - h).abs() < 1e-9 * h.max(1.0),
                    "{how:?}: {m:?} vs height {h}"
                );
            }
            assert!(
                z.windows(2).all(|w| w[0].height <= w[1].height),
                "{how:?}: heights in order"
            );
            // the planted blobs at k = 3, scikit-learn's sizes at k = 5
            let labels = cut(&z, 600, 3);
            assert!(
                crate::ml::metrics::adjusted_rand(&labels, &truth) > 0.999999,
                "{how:?}"
            );
            let labels = cut(&z, 600, 5);
            let mut counts = [0usize; 5];
            labels.iter().for_each(|&l| counts[l] += 1);
            assert_eq!(&counts, sizes5, "{how:?}: segments numbered largest first");
        }
    }

    #[test]
    fn the_tree_does_not_depend_on_the_thread_count() {
        // enough rows for the searches to run on the team
        let (base, _) = reference_blobs();
        let rows: Vec<Vec<f64>> = (0..9000)
            .map(|i| {
                let r = base.row(i % 600);
                vec![
                    r[0] + (i as f64 * 0.013).sin() * 0.2,
                    r[1],
                    r[2] + (i as f64 * 0.007).cos() * 0.2,
                ]
            })
            .collect();
        let x = Matrix::from_rows(&rows);
        for how in [Linkage::Ward, Linkage::Average, Linkage::Single] {
            let a = linkage(&x, how, &Parallel::serial(), &Silent);
            let b = linkage(&x, how, &Parallel::new(2), &Silent);
            assert_eq!(a, b, "{how:?}");
        }
    }

    #[test]
    fn small_and_duplicate_inputs() {
        assert!(linkage(
            &Matrix::from_rows(&[vec![1.0]]),
            Linkage::Ward,
            &Parallel::serial(),
            &Silent
        )
        .is_empty());
        let x = Matrix::from_rows(&[vec![0.0], vec![0.0], vec![0.0], vec![5.0]]);
        for how in [
            Linkage::Ward,
            Linkage::Average,
            Linkage::Complete,
            Linkage::Single,
        ] {
            let z = linkage(&x, how, &Parallel::serial(), &Silent);
            assert_eq!(z.len(), 3);
            assert_eq!(z[2].size, 4);
            assert_eq!((z[0].height, z[1].height), (0.0, 0.0), "{how:?}");
            assert_eq!(cut(&z, 4, 2), vec![0, 0, 0, 1], "{how:?}");
            let m: &Merge = &z[2];
            assert!(m.a < m.b);
        }
        assert_eq!(cut(&[], 1, 3), vec![0]);
    }
}

//! Exact TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent individualized feature
//! attribution for tree ensembles", Algorithm 2): each input's Shapley value for a row's raw
//! score, with "missing" features integrated out over the training rows that reached each
//! node (the covers), in O(leaves x depth^2) per tree. The values and the expected score add up
//! to the row's score exactly (up to rounding).

use super::tree::Tree;

/// One element of the path: the input split on, the fraction of "zero" (input unknown) and
/// "one" (input known) paths that flow through, and the permutation weight.
#[derive(Clone, Copy)]
struct PathElement {
    input: i64,
    zero: f64,
    one: f64,
    weight: f64,
}

/// The expected value of a tree's leaves over its training rows.
pub fn expected_value(t: &Tree) -> f64 {
    let total: f64 = t.leaf_cover.iter().sum();
    if total <= 0.0 {
        return t.leaf_value.iter().sum::<f64>() / t.leaf_value.len() as f64;
    }
    t.leaf_value
        .iter()
        .zip(&t.leaf_cover)
        .map(|(v, c)| v * c)
        .sum::<f64>()
        / total
}

/// Adds the row's Shapley values for this tree to `phi` (one per encoded input).
pub fn add_tree_shap(t: &Tree, x: &[f64], phi: &mut [f64]) {
    if t.splits() == 0 {
        return;
    }
    let path: Vec<PathElement> = Vec::new();
    recurse(t, x, phi, 0, &path, 1.0, 1.0, -1);
}

/// A node as the recursion sees it: split node i >= 0, leaf !i.
fn cover(t: &Tree, node: i32) -> f64 {
    if node >= 0 {
        t.node_cover[node as usize]
    } else {
        t.leaf_cover[!node as usize]
    }
}

fn extend(path: &mut Vec<PathElement>, zero: f64, one: f64, input: i64) {
    let l = path.len();
    path.push(PathElement {
        input,
        zero,
        one,
        weight: if l == 0 { 1.0 } else { 0.0 },
    });
    for i in (0..l).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / (l + 1) as f64;
        path[i].weight = zero * path[i].weight * (l - i) as f64 / (l + 1) as f64;
    }
}

fn unwind(path: &mut Vec<PathElement>, i: usize) {
    let l = path.len() - 1;
    let (one, zero) = (path[i].one, path[i].zero);
    let mut next = path[l].weight;
    for j in (0..l).rev() {
        if one != 0.0 {
            let w = path[j].weight;
            path[j].weight = next * (l + 1) as f64 / ((j + 1) as f64 * one);
            next = w - path[j].weight * zero * (l - j) as f64 / (l + 1) as f64;
        } else {
            path[j].weight = path[j].weight * (l + 1) as f64 / (zero * (l - j) as f64);
        }
    }
    for j in i..l {
        path[j].input = path[j + 1].input;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
    path.pop();
}

/// The total permutation weight the path would have with element i unwound (without changing
/// the path).
fn unwound_sum(path: &[PathElement], i: usize) -> f64 {
    let l = path.len() - 1;
    let (one, zero) = (path[i].one, path[i].zero);
    let mut next = path[l].weight;
    let mut total = 0.0;
    for j in (0..l).rev() {
        if one != 0.0 {
            let w = next * (l + 1) as f64 / ((j + 1) as f64 * one);
            total += w;
            next = path[j].weight - w * zero * (l - j) as f64 / (l + 1) as f64;
        } else if zero != 0.0 {
            total += path[j].weight / zero / ((l - j) as f64 / (l + 1) as f64);
        }
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    t: &Tree,
    x: &[f64],
    phi: &mut [f64],
    node: i32,
    parent_path: &[PathElement],
    zero: f64,
    one: f64,
    input: i64,
) {
    let mut path = parent_path.to_vec();
    extend(&mut path, zero, one, input);
    if node < 0 {
        let value = t.leaf_value[!node as usize];
        for i in 1..path.len() {
            let w = unwound_sum(&path, i);
            phi[path[i].input as usize] += w * (path[i].one - path[i].zero) * value;
        }
        return;
    }
    let n = node as usize;
    let s = &t.nodes[n];
    let j = s.input as usize;
    let go_left = t.goes_left(s, x[j]);
    let (hot, cold) = if go_left {
        (s.left, s.right)
    } else {
        (s.right, s.left)
    };
    let here = cover(t, node);
    let (hot_share, cold_share) = if here > 0.0 {
        (cover(t, hot) / here, cover(t, cold) / here)
    } else {
        (0.5, 0.5)
    };
    let (mut iz, mut io) = (1.0, 1.0);
    if let Some(k) = path.iter().skip(1).position(|p| p.input == j as i64) {
        let k = k + 1;
        iz = path[k].zero;
        io = path[k].one;
        unwind(&mut path, k);
    }
    recurse(t, x, phi, hot, &path, iz * hot_share, io, j as i64);
    // a path that neither the row nor any training row takes adds nothing
    if iz * cold_share > 0.0 {
        recurse(t, x, phi, cold, &path, iz * cold_share, 0.0, j as i64);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// E[f(x) | x_S] by the paper's Algorithm 1: follow the row where the input is known, and
    /// both children weighted by their covers where it is not.
    fn conditional(t: &Tree, x: &[f64], known: &[bool], node: i32) -> f64 {
        if node < 0 {
            return t.leaf_value[!node as usize];
        }
        let n = node as usize;
        let s = &t.nodes[n];
        let j = s.input as usize;
        if known[j] {
            let left = t.goes_left(s, x[j]);
            conditional(t, x, known, if left { s.left } else { s.right })
        } else {
            let (l, r) = (s.left, s.right);
            (cover(t, l) * conditional(t, x, known, l) + cover(t, r) * conditional(t, x, known, r))
                / t.node_cover[n]
        }
    }

    /// Shapley values by their definition: every subset of the other inputs, weighted.
    pub(crate) fn brute_force(t: &Tree, x: &[f64]) -> Vec<f64> {
        let m = x.len();
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let mut phi = vec![0.0; m];
        for (i, p) in phi.iter_mut().enumerate() {
            for mask in 0u32..(1 << m) {
                if mask & (1 << i) != 0 {
                    continue;
                }
                let size = mask.count_ones() as usize;
                let w = fact(size) * fact(m - size - 1) / fact(m);
                let mut known: Vec<bool> = (0..m).map(|j| mask & (1 << j) != 0).collect();
                let without = conditional(t, x, &known, 0);
                known[i] = true;
                *p += w * (conditional(t, x, &known, 0) - without);
            }
        }
        phi
    }

    #[test]
    fn tree_shap_equals_the_shapley_definition_and_adds_up() {
        // a tree that splits twice on input 0 and once on each of 1 and 2 (a missing value
        // of input 2 goes left; input 1 is a category: codes 0 and 5 go left)
        let mut t = Tree {
            nodes: crate::ml::trees::tree::splits(
                &[0, 1, 0, 2],
                &[0.5, 1.0, 0.2, -1.0],
                &[false, false, true, true],
                &[1, 2, !0, !2],
                &[3, !1, !4, !3],
            ),
            gain: vec![1.0; 4],
            node_cover: vec![100.0, 60.0, 35.0, 40.0],
            leaf_value: vec![1.0, -2.0, 3.5, 0.25, 4.0],
            leaf_cover: vec![20.0, 25.0, 10.0, 30.0, 15.0],
            category_sets: vec![[1 | 1 << 5, 0, 0, 0]],
        };
        t.nodes[1].category_set = 1;
        assert!(t.check(3).is_ok());
        for x in [
            [0.1, 0.0, 0.0],
            [0.3, 2.0, -3.0],
            [0.9, 0.0, f64::NAN],
            [-5.0, 5.0, 5.0],
            [0.7, 1.0, -2.0],
            [0.2, f64::NAN, 1.0],
        ] {
            let mut phi = vec![0.0; 3];
            add_tree_shap(&t, &x, &mut phi);
            let want = brute_force(&t, &x);
            for (a, b) in phi.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{phi:?} vs {want:?} at {x:?}");
            }
            let total = expected_value(&t) + phi.iter().sum::<f64>();
            assert!((total - t.predict(&x)).abs() < 1e-12);
        }
    }
}

//! Decision trees as the tree ensembles grow and score them: inputs binned into at most 255
//! bins (bins.rs), trees grown leaf-wise on gradient histograms (grow.rs), stored flat (tree.rs),
//! and explained exactly by TreeSHAP (shap.rs). Gradient boosting (algorithms::gbdt) and random
//! forests (algorithms::random_forest) differ only in what the trees are fitted to and how their
//! outputs are combined.

pub mod bins;
pub mod grow;
pub mod shap;
pub mod tree;

//! Review text: tf-idf rows of hashed character and word n-grams (tfidf) and a logistic
//! regression over such sparse rows (sparse); a free-text column as model inputs (model); topics
//! of reviews by spherical k-means (topics).

pub mod embedded;
pub mod model;
pub mod sparse;
pub mod tfidf;
pub mod topics;

//! Review text: tf-idf rows of hashed character and word n-grams (tfidf) and a logistic
//! regression over such sparse rows (sparse).

pub mod sparse;
pub mod tfidf;

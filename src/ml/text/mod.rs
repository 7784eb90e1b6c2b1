//! Review text: tf-idf rows of hashed character and word n-grams (tfidf) and a logistic
//! regression over such sparse rows (sparse); a free-text column as model inputs (model).

pub mod model;
pub mod sparse;
pub mod tfidf;

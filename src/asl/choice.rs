//! Choice rules: parsing and evaluation.

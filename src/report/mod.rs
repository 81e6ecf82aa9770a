//! Report writers: each turns the stream of [`Record`](crate::record::Record)s
//! into one output format. They know nothing of captures or protocols.

pub mod jsonl;

pub use jsonl::JsonlWriter;

//! Data parallelism in one place: independent work items mapped on rayon's thread pool, with
//! results in input order.

use rayon::prelude::*;

/// `items.map(f)` in parallel, keeping the order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    items.par_iter().map(f).collect()
}

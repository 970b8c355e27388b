//! Data parallelism in one place: independent work items mapped on rayon's thread pool, with
//! results in input order.

use rayon::prelude::*;

/// `items.map(f)` in parallel, keeping the order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    items.par_iter().map(f).collect()
}

/// `map` with per-worker state made by `init` (a solver session, say), in parallel when
/// `parallel`, else in order with one state.
pub fn map_with<T: Sync, S, R: Send>(
    items: &[T],
    parallel: bool,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, &T) -> R + Sync + Send,
) -> Vec<R> {
    if parallel {
        items.par_iter().map_init(init, f).collect()
    } else {
        let mut state = init();
        items.iter().map(|t| f(&mut state, t)).collect()
    }
}

//! Data parallelism in one place: independent work items mapped on rayon's thread pool, with
//! results in input order and independent of the thread count and of scheduling.

use rayon::prelude::*;

/// `map_with` cuts its items into this many contiguous chunks (fewer when there are fewer items),
/// whatever the number of threads, so that which items share a state is fixed.
const CHUNKS: usize = 8;

/// `items.map(f)` in parallel, keeping the order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    items.par_iter().map(f).collect()
}

/// `map` with per-chunk state made by `init` (a solver session, say): the items are cut into
/// fixed contiguous chunks, each mapped in order with a fresh state, the chunks in parallel when
/// `parallel`. A state's history (a warm-started solver's basis) then depends only on the items,
/// so results are the same in parallel or not, with any number of threads.
pub fn map_with<T: Sync, S, R: Send>(
    items: &[T],
    parallel: bool,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, &T) -> R + Sync + Send,
) -> Vec<R> {
    let run = |chunk: &&[T]| {
        let mut state = init();
        chunk.iter().map(|t| f(&mut state, t)).collect::<Vec<R>>()
    };
    let chunks: Vec<&[T]> = items.chunks(items.len().div_ceil(CHUNKS).max(1)).collect();
    let mapped: Vec<Vec<R>> = match parallel {
        true => chunks.par_iter().map(run).collect(),
        false => chunks.iter().map(run).collect(),
    };
    mapped.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each result records the items its state saw before it: the history must not depend on
    /// the thread count or on `parallel`.
    #[test]
    fn states_see_the_same_items_whatever_the_threads() {
        let items: Vec<usize> = (0..37).collect();
        let history = |parallel: bool| {
            map_with(&items, parallel, Vec::new, |seen: &mut Vec<usize>, &i| {
                seen.push(i);
                seen.clone()
            })
        };
        let sequential = history(false);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            assert_eq!(pool.install(|| history(true)), sequential, "{threads} threads");
        }
        assert_eq!(sequential.iter().map(Vec::len).max(), Some(5), "37 items in chunks of 5");
    }
}

//! The one way work is spread over threads: indices `0..n` handed out in
//! order to a few workers, each with its own state (an `Engine`, scratch
//! buffers), results put back by index. Results therefore do not depend on
//! the thread count; tasks must not depend on each other.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `task(&mut state, i)` for every `i` in `0..n` on up to `threads`
/// threads, each worker's `state` made by `init`. After each task,
/// `after(finished_so_far, &result)` runs on the worker; when it returns
/// `false` no further index is handed out (tasks already started finish).
/// Returns the results by index: `None` for indices never run.
pub fn map_indexed<S, T, I, F, A>(
    n: usize,
    threads: usize,
    init: I,
    task: F,
    after: A,
) -> Vec<Option<T>>
where
    T: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize) -> T + Sync,
    A: Fn(usize, &T) -> bool + Sync,
{
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let workers = threads.max(1).min(n.max(1));
    let work = || {
        let mut state = init();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let r = task(&mut state, i);
            let go_on = after(finished.fetch_add(1, Ordering::Relaxed) + 1, &r);
            slots.lock().expect("no worker panics holding the lock")[i] = Some(r);
            if !go_on {
                next.store(n, Ordering::Relaxed);
            }
        }
    };
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    slots.into_inner().expect("lock not poisoned")
}

/// [`map_indexed`] with no state and nothing after each task: every result,
/// in index order.
pub fn map<T, F>(n: usize, threads: usize, task: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    map_indexed(n, threads, || (), |_, i| task(i), |_, _| true)
        .into_iter()
        .map(|r| r.expect("every index ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_by_index_whatever_the_thread_count() {
        let want: Vec<u64> = (0..100u64).map(|i| i * i).collect();
        for threads in [1, 2, 3, 8, 200] {
            assert_eq!(map(100, threads, |i| (i * i) as u64), want);
        }
        assert!(map(0, 4, |i| i).is_empty());
    }

    #[test]
    fn each_worker_keeps_its_state_and_a_stop_ends_the_hand_out() {
        // State: how many tasks this worker ran before; the sum over workers
        // of tasks is n.
        let out = map_indexed(
            50,
            3,
            || 0usize,
            |seen, _| {
                *seen += 1;
                *seen
            },
            |_, _| true,
        );
        assert!(out.iter().all(|r| r.is_some()));
        // Stop after the task of index 10 on one thread: nothing later runs.
        let out = map_indexed(50, 1, || (), |_, i| i, |_, r| *r != 10);
        assert_eq!(out.iter().flatten().count(), 11);
        assert!(out[11..].iter().all(|r| r.is_none()));
        // Progress counts up to n.
        let seen = std::sync::Mutex::new(vec![]);
        map_indexed(
            20,
            4,
            || (),
            |_, i| i,
            |k, _| {
                seen.lock().unwrap().push(k);
                true
            },
        );
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    }
}

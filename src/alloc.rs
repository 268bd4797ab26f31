//! The process's allocator: mimalloc, with an optional count of the bytes in use so that the
//! benchmark can report the job's own peak heap, apart from the generated input it holds and from
//! pages the allocator keeps after a free (which make RSS a poor measure of state).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

/// mimalloc, counting the bytes in use while [`Counting::start`] is in effect.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to mimalloc; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: forwarded with the caller's layout.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: forwarded with the caller's layout.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: `ptr` was allocated by mimalloc with this layout.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64);
        // SAFETY: `ptr` was allocated by mimalloc with this layout.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count(delta: i64) {
    if COUNTING.load(Ordering::Relaxed) {
        IN_USE.fetch_add(delta, Ordering::Relaxed);
    }
}

/// A heap measurement in progress: bytes allocated and not freed since it started, sampled for
/// their peak. Only meaningful in a binary whose global allocator is [`CountingAllocator`].
pub struct Counting {
    stop: std::sync::Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl Counting {
    /// Starts counting from zero; the peak is sampled every millisecond.
    pub fn start() -> Counting {
        IN_USE.store(0, Ordering::Relaxed);
        PEAK.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                PEAK.fetch_max(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Counting {
            stop,
            sampler: Some(sampler),
        }
    }

    /// Stops counting and returns the peak of the bytes in use, or `None` when nothing was
    /// counted (the binary does not use [`CountingAllocator`]).
    pub fn finish(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
        COUNTING.store(false, Ordering::Relaxed);
        let peak = PEAK
            .load(Ordering::Relaxed)
            .max(IN_USE.load(Ordering::Relaxed));
        (peak > 0).then_some(peak as u64)
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        COUNTING.store(false, Ordering::Relaxed);
    }
}

//! If `std` were anywhere in wsproto's dependency graph, this crate would fail to build with
//! "duplicate lang item" (two panic handlers, two allocators).
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use wsproto::{ClientRequest, Config, Connection, Instant, Seed};

/// A bump allocator over a static arena: enough for a build check and a tiny run.
struct Bump {
    arena: UnsafeCell<[u8; 1 << 20]>,
    next: AtomicUsize,
}

// SAFETY: allocation only hands out disjoint ranges, claimed with an atomic bump.
unsafe impl Sync for Bump {}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let size = 1 << 20;
        let mut start = self.next.load(Ordering::Relaxed);
        loop {
            let aligned = (start + layout.align() - 1) & !(layout.align() - 1);
            let end = aligned + layout.size();
            if end > size {
                return core::ptr::null_mut();
            }
            match self.next.compare_exchange(start, end, Ordering::Relaxed, Ordering::Relaxed) {
                // SAFETY: [aligned, end) lies inside the arena and is handed out once.
                Ok(_) => return unsafe { (self.arena.get() as *mut u8).add(aligned) },
                Err(now) => start = now,
            }
        }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static HEAP: Bump = Bump { arena: UnsafeCell::new([0; 1 << 20]), next: AtomicUsize::new(0) };

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Runs a client's handshake request through the core so that the linker keeps it.
#[unsafe(no_mangle)]
pub extern "C" fn wsproto_nostd_check(seed_byte: u8) -> usize {
    let request = ClientRequest::new("example.com", "/");
    match Connection::client(Config::default(), request, Seed([seed_byte; 32]), Instant::from_millis(1)) {
        Ok(conn) => conn.transmit_len(),
        Err(_) => 0,
    }
}

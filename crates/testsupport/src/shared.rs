//! A fixture that several tests share (a private `dockerd` and the images built in it): made by
//! the first test that asks for it, dropped by the last one to let go.
//!
//! Each test holds a [`Lease`]; dropping it (also while the test unwinds from a panic) gives it
//! back, and the last lease drops the value under the lock, so a test arriving meanwhile waits
//! and then makes a fresh one instead of getting one being torn down. A `make` that panics
//! leaves nothing behind: the next test tries again and fails its own way. A value is never
//! dropped while a lease is out, and nothing is dropped at process exit: a test binary killed
//! from outside leaves the fixture behind, as it would any other process it started.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A value made on first use and dropped when its last [`Lease`] is dropped. Meant to be a
/// `static`.
pub struct Shared<T> {
    slot: Mutex<Slot<T>>,
}

struct Slot<T> {
    leases: usize,
    value: Option<Arc<T>>,
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Shared<T> {
    pub const fn new() -> Self {
        Shared {
            slot: Mutex::new(Slot {
                leases: 0,
                value: None,
            }),
        }
    }

    /// The lock, whoever panicked while holding it: the slot is only changed once `make` has
    /// returned, so it is consistent even then.
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A lease on the value, made with `make` if no lease is out. `make` runs under the lock: a
    /// second test waits until the first has made the value, and shares it.
    pub fn lease(&'static self, make: impl FnOnce() -> T) -> Lease<T> {
        let mut slot = self.lock();
        let value = match &slot.value {
            Some(v) => Arc::clone(v),
            None => {
                let v = Arc::new(make());
                slot.value = Some(Arc::clone(&v));
                v
            }
        };
        slot.leases += 1;
        Lease {
            shared: self,
            value: Some(value),
        }
    }

    /// How many leases are out.
    pub fn leases(&self) -> usize {
        self.lock().leases
    }
}

/// A test's hold on a [`Shared`] value; dropping it gives the hold back.
pub struct Lease<T: 'static> {
    shared: &'static Shared<T>,
    /// `Some` until dropped.
    value: Option<Arc<T>>,
}

impl<T> Deref for Lease<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
            .as_deref()
            .expect("a lease holds its value until dropped")
    }
}

impl<T> Drop for Lease<T> {
    fn drop(&mut self) {
        let mut slot = self.shared.lock();
        drop(self.value.take());
        slot.leases -= 1;
        if slot.leases == 0 {
            // Ours was the last lease, so this is the last reference: the value is dropped
            // here, before the lock is released.
            drop(slot.value.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts how many were made and how many dropped.
    struct Counted(&'static AtomicUsize);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn made_once_dropped_by_the_last_lease_made_again_after() {
        static S: Shared<Counted> = Shared::new();
        static MADE: AtomicUsize = AtomicUsize::new(0);
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let make = || {
            MADE.fetch_add(1, Ordering::SeqCst);
            Counted(&DROPPED)
        };
        let a = S.lease(make);
        let b = S.lease(make);
        assert_eq!((MADE.load(Ordering::SeqCst), S.leases()), (1, 2));
        drop(a);
        assert_eq!(DROPPED.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!((DROPPED.load(Ordering::SeqCst), S.leases()), (1, 0));
        let _c = S.lease(make);
        assert_eq!(MADE.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panicking_test_gives_its_lease_back() {
        static S: Shared<Counted> = Shared::new();
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let r = std::thread::spawn(|| {
            let _l = S.lease(|| Counted(&DROPPED));
            panic!("the test fails");
        })
        .join();
        assert!(r.is_err());
        assert_eq!((DROPPED.load(Ordering::SeqCst), S.leases()), (1, 0));
    }

    #[test]
    fn a_panicking_make_leaves_nothing_and_the_next_one_is_tried() {
        static S: Shared<u32> = Shared::new();
        let r = std::thread::spawn(|| {
            let _l = S.lease(|| panic!("dockerd did not start"));
        })
        .join();
        assert!(r.is_err());
        assert_eq!(S.leases(), 0);
        assert_eq!(*S.lease(|| 7), 7);
    }
}

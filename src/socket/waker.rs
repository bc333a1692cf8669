//! One-slot waker storage for sockets (feature `async`): lets an async
//! task sleep until the socket it waits on changes, instead of polling it.

use core::task::Waker;

/// Holds at most one [`Waker`], without allocating: registering a waker
/// that would wake the same task as the stored one keeps the stored one
/// ([`Waker::will_wake`]), any other replaces it. [`wake`](Self::wake)
/// fires the stored waker once and empties the slot, so a task registers
/// again each time it finds nothing to do (as `Future::poll` requires
/// anyway), and an event with nobody waiting costs one branch.
#[derive(Debug, Default)]
pub struct WakerRegistration {
    waker: Option<Waker>,
}

impl WakerRegistration {
    /// An empty slot.
    pub const fn new() -> Self {
        WakerRegistration { waker: None }
    }

    /// Stores `waker` unless the stored one already wakes the same task.
    pub fn register(&mut self, waker: &Waker) {
        match &self.waker {
            Some(stored) if stored.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }

    /// Wakes the stored waker, if any, and empties the slot.
    pub fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Whether a waker is stored.
    pub fn is_registered(&self) -> bool {
        self.waker.is_some()
    }
}

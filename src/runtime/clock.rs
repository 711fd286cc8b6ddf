//! The wall clock, read in one place: real time, or a virtual clock that jumps to the next
//! timer when nothing else can happen (`--virtual-clock`).

/// A clock in ms since the epoch.
#[derive(Debug, Clone)]
pub struct Clock {
    virtual_now: Option<i64>,
}

impl Clock {
    /// Real time, or a virtual clock starting now.
    pub fn new(virtual_clock: bool) -> Self {
        Clock {
            virtual_now: virtual_clock.then(real_now),
        }
    }

    /// Now.
    pub fn now(&self) -> i64 {
        self.virtual_now.unwrap_or_else(real_now)
    }

    /// True for a virtual clock.
    pub fn is_virtual(&self) -> bool {
        self.virtual_now.is_some()
    }

    /// Moves a virtual clock forward to `t` (never back); a real clock ignores it.
    pub fn advance_to(&mut self, t: i64) {
        if let Some(now) = self.virtual_now.as_mut() {
            *now = (*now).max(t);
        }
    }
}

/// Now, by the wall clock, ms since the epoch.
pub fn real_now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

//! Time as an input: the core never reads a clock.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the caller's monotonic clock.
///
/// The core never reads a clock: every call that depends on time takes an `Instant`. It is a
/// duration since an epoch the caller chooses (process start, boot, the first tick of a game
/// loop), so it works the same with `std::time::Instant`, a hardware tick counter or a fake
/// clock in tests. Only differences between instants matter, so all instants given to one
/// connection must come from the same clock.
///
/// ```
/// use core::time::Duration;
/// use wsproto::Instant;
///
/// let start = std::time::Instant::now();
/// let now = Instant::from_duration(start.elapsed());
/// assert!(now + Duration::from_secs(1) > now);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The clock's epoch.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// An instant `since_epoch` after the caller's epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Instant(since_epoch)
    }

    /// An instant `millis` milliseconds after the caller's epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::Instant;
    ///
    /// // A millisecond tick counter (a game loop, a microcontroller's timer) is a clock as it is.
    /// let ticks: u64 = 1_500;
    /// let now = Instant::from_millis(ticks);
    /// assert_eq!(now.since_epoch(), Duration::from_millis(1_500));
    /// assert_eq!(now, Instant::ZERO + Duration::from_millis(1_500));
    /// ```
    pub const fn from_millis(millis: u64) -> Self {
        Instant(Duration::from_millis(millis))
    }

    /// The time since the caller's epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::Instant;
    ///
    /// let pinged = Instant::from_millis(1_000);
    /// let ponged = Instant::from_millis(1_250);
    /// assert_eq!(ponged.saturating_duration_since(pinged), Duration::from_millis(250));
    /// // Instants passed the wrong way round give zero rather than a panic.
    /// assert_eq!(pinged.saturating_duration_since(ponged), Duration::ZERO);
    /// assert_eq!(ponged - pinged, Duration::from_millis(250));
    /// ```
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the largest representable instant instead of overflowing.
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.checked_add(rhs).unwrap_or(Duration::MAX))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

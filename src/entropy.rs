//! Entropy as an input: client masking keys and handshake nonces.
//!
//! RFC 6455 section 5.3 asks for masking keys "derived from a strong source of entropy" that the
//! application cannot predict. The core reads no random source itself: the caller hands in a
//! 32-byte [`Seed`], and the connection expands it with ChaCha20 (`rand_chacha`, from the Rust
//! `rand` project), a vetted cryptographically secure generator. Never reuse a seed for two
//! connections.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// 32 bytes of caller-supplied entropy for one connection.
///
/// With the `std` feature, [`Seed::from_os`] reads them from the operating system. On embedded
/// targets, fill them from a hardware RNG.
///
/// # Examples
///
/// A fixed seed makes a connection's output reproducible, which is what tests want and what
/// real connections must never have:
///
/// ```
/// use wsproto::{ClientRequest, Config, Connection, Instant, Seed};
///
/// let request = ClientRequest::new("example.com", "/");
/// let a = Connection::client(Config::default(), request.clone(), Seed([7; 32]), Instant::ZERO)?;
/// let b = Connection::client(Config::default(), request, Seed([7; 32]), Instant::ZERO)?;
/// // The same `Sec-WebSocket-Key`, and later the same masking keys.
/// assert_eq!(a.transmit(), b.transmit());
/// # Ok::<(), wsproto::SendError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl core::fmt::Debug for Seed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.write_str("Seed(..)")
    }
}

impl Seed {
    /// Reads a fresh seed from the operating system's random source.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Seed;
    ///
    /// let seed = Seed::from_os().expect("the OS has a random source");
    /// // Two connections never share masking keys.
    /// assert_ne!(seed, Seed::from_os().expect("the OS has a random source"));
    /// // Key material stays out of logs.
    /// assert_eq!(format!("{seed:?}"), "Seed(..)");
    /// ```
    ///
    /// # Errors
    /// When the operating system cannot provide entropy (rare; e.g. early boot on some kernels).
    #[cfg(feature = "std")]
    pub fn from_os() -> Result<Seed, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Seed(bytes))
    }
}

/// The per-connection generator of masking keys and nonces.
pub(crate) struct Entropy {
    rng: ChaCha20Rng,
}

impl Entropy {
    pub(crate) fn new(seed: Seed) -> Self {
        Entropy {
            rng: ChaCha20Rng::from_seed(seed.0),
        }
    }

    pub(crate) fn mask_key(&mut self) -> [u8; 4] {
        self.rng.next_u32().to_ne_bytes()
    }

    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }
}

impl core::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entropy(..)")
    }
}

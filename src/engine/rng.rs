//! Randomness derived from a seed, created on first use: what a step draws (`States.UUID()`,
//! JSONata's `$random`) is drawn again alike when the step is replayed from its seed.

use rand::{RngCore, SeedableRng};

/// Randomness derived from a seed, created on first use.
pub(crate) struct LazyRng {
    seed: u64,
    rng: Option<rand::rngs::StdRng>,
}

impl LazyRng {
    /// Randomness seeded by `seed` (the seed of an earlier step, to draw again as it drew).
    pub(crate) fn from_seed(seed: u64) -> LazyRng {
        LazyRng { seed, rng: None }
    }

    fn get(&mut self) -> &mut rand::rngs::StdRng {
        let seed = self.seed;
        self.rng
            .get_or_insert_with(|| rand::rngs::StdRng::seed_from_u64(seed))
    }
}

impl RngCore for LazyRng {
    fn next_u32(&mut self) -> u32 {
        self.get().next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.get().next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.get().fill_bytes(dst)
    }
}

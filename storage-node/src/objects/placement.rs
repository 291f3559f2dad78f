//! Which pool a new object goes to: pools are weighted by their free space, so a newly
//! added (empty) pool takes most new objects until the pools even out, as in MinIO.
//!
//! The choice is a weighted rendezvous hash of the key over a cached free-space snapshot,
//! so every server with the same snapshot sends a given new key to the same pool, and
//! two concurrent first writes of one key rarely land in two pools (when they do, reads
//! take the newest copy and deletes remove both).

use super::Pool;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a free-space snapshot is used before drives are asked again.
const REFRESH: Duration = Duration::from_secs(10);
const INFO_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct Placement {
    snapshot: Mutex<Option<(Instant, Vec<u64>)>>,
}

impl Placement {
    /// Index of the pool for a new `key`.
    pub async fn choose(&self, pools: &[Pool], key: &str) -> usize {
        if pools.len() <= 1 {
            return 0;
        }
        let cached = self
            .snapshot
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .filter(|(t, v)| t.elapsed() < REFRESH && v.len() == pools.len());
        let free = match cached {
            Some((_, v)) => v,
            None => {
                let v = free_space(pools).await;
                if let Ok(mut s) = self.snapshot.lock() {
                    *s = Some((Instant::now(), v.clone()));
                }
                v
            }
        };
        pick(&free, key)
    }
}

/// Free bytes of every pool: the free space of its fullest set's smallest drive times the
/// data share, which is what the pool can still take.
async fn free_space(pools: &[Pool]) -> Vec<u64> {
    let mut out = Vec::with_capacity(pools.len());
    for pool in pools {
        let mut pool_free = u64::MAX;
        for set in &pool.sets {
            let infos = futures::future::join_all(
                set.drives
                    .iter()
                    .map(|d| tokio::time::timeout(INFO_TIMEOUT, d.info())),
            )
            .await;
            let min = infos
                .into_iter()
                .filter_map(|r| r.ok().and_then(Result::ok))
                .map(|i| i.free)
                .min()
                .unwrap_or(0);
            let set_free = min.saturating_mul(set.geometry.data as u64);
            pool_free = pool_free.min(set_free.saturating_mul(pool.sets.len() as u64));
        }
        out.push(if pool_free == u64::MAX { 0 } else { pool_free });
    }
    out
}

/// Weighted rendezvous hashing: the pool with the highest `-weight / ln(hash)` wins.
fn pick(free: &[u64], key: &str) -> usize {
    let total: u64 = free.iter().copied().fold(0, u64::saturating_add);
    if total == 0 {
        return 0;
    }
    let mut best = (0usize, f64::MIN);
    for (i, f) in free.iter().enumerate() {
        // Coarse weights (per mille) keep the choice stable while free space drifts.
        let weight = ((*f as f64 / total as f64) * 1000.0).round();
        if weight <= 0.0 {
            continue;
        }
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), i as u64);
        let unit = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let score = -weight / unit.ln();
        if score > best.1 {
            best = (i, score);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_follow_free_space() {
        let free = [100u64 << 30, 300 << 30];
        let mut counts = [0usize; 2];
        for i in 0..10_000 {
            counts[pick(&free, &format!("key-{i}"))] += 1;
        }
        let share = counts[1] as f64 / 10_000.0;
        assert!((0.70..0.80).contains(&share), "pool 2 got {share}");
        assert_eq!(pick(&free, "same"), pick(&free, "same"));
        assert_eq!(pick(&[0, 5], "x"), 1);
        assert_eq!(pick(&[0, 0], "x"), 0);
    }
}

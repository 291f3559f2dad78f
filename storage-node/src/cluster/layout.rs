//! Erasure geometry: how the drives of a pool split into erasure sets, how many of each
//! set's drives hold parity, and the quorums that follow.
//!
//! The choices reproduce MinIO's (`getSetIndexes` in `cmd/endpoint-ellipses.go`) so a
//! MinIO user gets the set size they expect from the same drive count: sets of 2 to 16
//! drives of equal size, the largest size that divides the pool and spreads evenly over
//! its servers; default parity EC:4 from 8 drives up. The on-disk format records the
//! result, so these rules only decide a new deployment's layout.

use thiserror::Error;

/// Smallest erasure set of a multi-drive pool.
pub const MIN_SET_SIZE: usize = 2;
/// Largest erasure set. Larger sets make every write touch more drives and every
/// reconstruction read more shards; MinIO caps at 16 as well.
pub const MAX_SET_SIZE: usize = 16;

/// Why a drive count, server count or storage class cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LayoutError {
    #[error("no drives given: a pool needs at least one drive")]
    NoDrives,
    #[error("a pool needs at least one server")]
    NoServers,
    #[error(
        "{drives} drives cannot be spread evenly over {servers} servers: give every server \
         the same number of drives"
    )]
    UnevenServers { drives: usize, servers: usize },
    #[error(
        "{drives} drives cannot be split into erasure sets of 2 to 16 drives of equal size; \
         use a drive count with such a divisor (for example 4, 8, 12 or 16 drives)"
    )]
    NoSetSize { drives: usize },
    #[error(
        "{drives} drives on {servers} servers cannot be split into erasure sets of 2 to 16 \
         drives that spread evenly over the servers (set sizes dividing {drives}: {candidates:?}, \
         none is a multiple or a divisor of {servers}); change the number of servers or drives"
    )]
    NoSymmetricSetSize {
        drives: usize,
        servers: usize,
        candidates: Vec<usize>,
    },
    #[error("storage class `{0}` is not of the form EC:N (for example EC:4)")]
    BadStorageClass(String),
    #[error(
        "parity EC:{parity} is more than half of the {set_size}-drive erasure set; \
         at most EC:{max} is possible with sets of {set_size} drives"
    )]
    ParityTooHigh {
        parity: usize,
        set_size: usize,
        max: usize,
    },
    #[error(
        "parity EC:0 is only possible with a single drive; erasure sets of {set_size} drives \
         need at least EC:1"
    )]
    ParityZero { set_size: usize },
    #[error("{drives} drives cannot be split into sets of {set_size}")]
    NotDivisible { drives: usize, set_size: usize },
}

/// Whether a set of `set_size` drives spreads evenly over `servers` servers: either each
/// server holds the same number of the set's drives, or the set takes one drive from
/// each of a group of servers.
fn is_symmetric(set_size: usize, servers: usize) -> bool {
    if servers > set_size {
        servers % set_size == 0
    } else {
        set_size % servers == 0
    }
}

/// Chooses the erasure set size for a pool of `drive_count` drives on `server_count`
/// servers: the largest size in 2..=16 that divides the drive count and is symmetric
/// over the servers (divisible by the server count, or dividing it). One drive gives a
/// set of one (single-drive mode, no parity).
///
/// Larger sets waste less capacity at the same fault tolerance, which is why MinIO (and
/// this) prefer the largest. MinIO checks symmetry against the length of the first
/// ellipsis range, which is the server count in the usual `http://host{1...n}/export{...}`
/// form; here the caller gives the server count directly.
pub fn choose_set_size(drive_count: usize, server_count: usize) -> Result<usize, LayoutError> {
    if drive_count == 0 {
        return Err(LayoutError::NoDrives);
    }
    if server_count == 0 {
        return Err(LayoutError::NoServers);
    }
    if server_count > drive_count || drive_count % server_count != 0 {
        return Err(LayoutError::UnevenServers {
            drives: drive_count,
            servers: server_count,
        });
    }
    if drive_count == 1 {
        return Ok(1);
    }
    let candidates: Vec<usize> = (MIN_SET_SIZE..=MAX_SET_SIZE)
        .filter(|size| drive_count % size == 0)
        .collect();
    if candidates.is_empty() {
        return Err(LayoutError::NoSetSize {
            drives: drive_count,
        });
    }
    candidates
        .iter()
        .copied()
        .filter(|&size| is_symmetric(size, server_count))
        .max()
        .ok_or(LayoutError::NoSymmetricSetSize {
            drives: drive_count,
            servers: server_count,
            candidates,
        })
}

/// Default parity for a set size, as MinIO: a set survives losing a quarter to half of
/// its drives, capped at 4 so large sets keep most of their capacity.
pub fn default_parity(set_size: usize) -> usize {
    match set_size {
        0 | 1 => 0,
        2 | 3 => 1,
        4 | 5 => 2,
        6 | 7 => 3,
        _ => 4,
    }
}

/// Parses a storage class such as `EC:4` (MinIO's `MINIO_STORAGE_CLASS_STANDARD`) into
/// its parity. Surrounding spaces and the case of `EC` do not matter.
pub fn parse_storage_class(text: &str) -> Result<usize, LayoutError> {
    let bad = || LayoutError::BadStorageClass(text.to_string());
    let trimmed = text.trim();
    let prefix = trimmed.get(..3).ok_or_else(bad)?;
    if !prefix.eq_ignore_ascii_case("ec:") {
        return Err(bad());
    }
    let number = trimmed.get(3..).ok_or_else(bad)?.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    number.parse().map_err(|_| bad())
}

/// Checks that `parity` works for sets of `set_size` drives: at most half of the set
/// (otherwise parity outnumbers data and quorums stop making sense), and at least one
/// unless the "set" is a single drive.
pub fn check_parity(parity: usize, set_size: usize) -> Result<(), LayoutError> {
    let max = set_size / 2;
    if parity > max {
        return Err(LayoutError::ParityTooHigh {
            parity,
            set_size,
            max,
        });
    }
    if parity == 0 && set_size > 1 {
        return Err(LayoutError::ParityZero { set_size });
    }
    Ok(())
}

/// Drives that must acknowledge a write of `data` + `parity` shards: `data`, or one more
/// when both are equal so that two halves of a split set cannot both accept a write.
pub fn write_quorum(data: usize, parity: usize) -> usize {
    if data == parity { data + 1 } else { data }
}

/// The erasure layout of one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub set_count: usize,
    /// Drives per erasure set, `data + parity`.
    pub set_size: usize,
    /// Data shards per object (k).
    pub data: usize,
    /// Parity shards per object (m).
    pub parity: usize,
}

impl Geometry {
    /// Drives that must answer to read an object: any `data` shards rebuild it.
    pub fn read_quorum(&self) -> usize {
        self.data
    }

    /// Drives that must acknowledge a write. With as many parity as data shards, two
    /// halves of a split set could each accept a different version of the same object
    /// with `data` drives; one more makes the majority unique.
    pub fn write_quorum(&self) -> usize {
        write_quorum(self.data, self.parity)
    }

    /// Total drives in the pool.
    pub fn drive_count(&self) -> usize {
        self.set_count * self.set_size
    }
}

/// Plans a pool: set size from [`choose_set_size`], parity from `storage_class`
/// (`EC:N`) or [`default_parity`], checked with [`check_parity`].
pub fn plan(
    drive_count: usize,
    server_count: usize,
    storage_class: Option<&str>,
) -> Result<Geometry, LayoutError> {
    let set_size = choose_set_size(drive_count, server_count)?;
    let parity = match storage_class {
        Some(class) => parse_storage_class(class)?,
        None => default_parity(set_size),
    };
    check_parity(parity, set_size)?;
    Ok(Geometry {
        set_count: drive_count / set_size,
        set_size,
        data: set_size - parity,
        parity,
    })
}

/// Assigns drives to erasure sets so that each set spreads evenly over the servers.
///
/// `server_of_drive[i]` names the server of drive `i` (any comparable key; see
/// `PoolSpec::server_indexes`). Returns, for each set, the indexes of its drives. Drives
/// are dealt round-robin over the servers (first drive of every server, then the second
/// of every server, ...) and the sequence is cut into sets: with a symmetric set size
/// every set then holds the same number of drives from each server it touches, so losing
/// one server costs every set the same. On a single server this is plain order.
pub fn set_members<K: PartialEq>(
    server_of_drive: &[K],
    set_size: usize,
) -> Result<Vec<Vec<usize>>, LayoutError> {
    let drives = server_of_drive.len();
    if drives == 0 {
        return Err(LayoutError::NoDrives);
    }
    if set_size == 0 || drives % set_size != 0 {
        return Err(LayoutError::NotDivisible { drives, set_size });
    }
    // Group drive indexes by server, servers in order of first appearance.
    let mut servers: Vec<(&K, Vec<usize>)> = Vec::new();
    for (index, key) in server_of_drive.iter().enumerate() {
        match servers.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(index),
            None => servers.push((key, vec![index])),
        }
    }
    let per_server = servers.first().map_or(0, |(_, m)| m.len());
    if servers.iter().any(|(_, m)| m.len() != per_server) {
        return Err(LayoutError::UnevenServers {
            drives,
            servers: servers.len(),
        });
    }
    let dealt: Vec<usize> = (0..per_server)
        .flat_map(|slot| servers.iter().map(move |(_, m)| m[slot]))
        .collect();
    Ok(dealt.chunks(set_size).map(<[usize]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn set_sizes_match_minio() {
        let cases = [
            // (drives, servers, set size)
            (1, 1, 1),
            (2, 1, 2),
            (3, 1, 3),
            (4, 1, 4),
            (8, 1, 8),
            (8, 4, 8), // the reference deployment: 4 servers x 2 volumes
            (12, 1, 12),
            (12, 3, 12),
            (16, 1, 16),
            (18, 1, 9),
            (24, 1, 12),
            (32, 1, 16),
            (32, 32, 16),
            (20, 5, 10),
            (30, 6, 6),
            (30, 3, 15),
            (64, 4, 16),
            (64, 8, 16),
            (14, 7, 14),
            (21, 7, 7),
            (6, 6, 6),
            (6, 2, 6),
        ];
        for (drives, servers, want) in cases {
            assert_eq!(
                choose_set_size(drives, servers),
                Ok(want),
                "{drives} drives on {servers} servers"
            );
        }
    }

    #[test]
    fn set_size_errors_explain() {
        let err = choose_set_size(17, 1).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "17 drives cannot be split into erasure sets of 2 to 16 drives of equal size"
            ),
            "{err}"
        );
        assert!(matches!(
            choose_set_size(34, 17),
            Err(LayoutError::NoSymmetricSetSize { .. })
        ));
        assert_eq!(
            choose_set_size(8, 3),
            Err(LayoutError::UnevenServers {
                drives: 8,
                servers: 3
            })
        );
        assert_eq!(
            choose_set_size(1, 2),
            Err(LayoutError::UnevenServers {
                drives: 1,
                servers: 2
            })
        );
        assert_eq!(choose_set_size(0, 1), Err(LayoutError::NoDrives));
        assert_eq!(choose_set_size(4, 0), Err(LayoutError::NoServers));
    }

    #[test]
    fn default_parities() {
        let want = [
            (1, 0),
            (2, 1),
            (3, 1),
            (4, 2),
            (5, 2),
            (6, 3),
            (7, 3),
            (8, 4),
            (12, 4),
            (16, 4),
        ];
        for (set, parity) in want {
            assert_eq!(default_parity(set), parity, "set of {set}");
        }
    }

    #[test]
    fn storage_classes() {
        assert_eq!(parse_storage_class("EC:4"), Ok(4));
        assert_eq!(parse_storage_class("  ec:2 "), Ok(2));
        assert_eq!(parse_storage_class("Ec: 3"), Ok(3));
        assert_eq!(parse_storage_class("EC:0"), Ok(0));
        for bad in [
            "", "EC", "EC:", "EC4", "RRS", "EC:-1", "EC:x", "EC:+2", "EC:1.5", "é:2",
        ] {
            assert_eq!(
                parse_storage_class(bad),
                Err(LayoutError::BadStorageClass(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn parity_limits() {
        assert_eq!(check_parity(4, 8), Ok(()));
        assert_eq!(check_parity(1, 2), Ok(()));
        assert_eq!(check_parity(0, 1), Ok(()));
        let msg = check_parity(5, 8).unwrap_err().to_string();
        assert!(
            msg.contains("EC:5") && msg.contains("8-drive") && msg.contains("EC:4"),
            "{msg}"
        );
        assert!(matches!(
            check_parity(0, 8),
            Err(LayoutError::ParityZero { set_size: 8 })
        ));
        assert!(matches!(
            check_parity(1, 1),
            Err(LayoutError::ParityTooHigh { .. })
        ));
    }

    #[test]
    fn quorums() {
        let g = plan(8, 4, Some("EC:4")).unwrap();
        assert_eq!(
            g,
            Geometry {
                set_count: 1,
                set_size: 8,
                data: 4,
                parity: 4
            }
        );
        assert_eq!((g.read_quorum(), g.write_quorum()), (4, 5));
        let g = plan(8, 1, Some("EC:2")).unwrap();
        assert_eq!((g.data, g.read_quorum(), g.write_quorum()), (6, 6, 6));
        let g = plan(1, 1, None).unwrap();
        assert_eq!((g.data, g.parity, g.write_quorum()), (1, 0, 1));
        let g = plan(32, 1, None).unwrap();
        assert_eq!((g.set_count, g.set_size, g.parity), (2, 16, 4));
        assert_eq!(g.drive_count(), 32);
    }

    #[test]
    fn plan_refuses_bad_classes() {
        assert!(matches!(
            plan(8, 4, Some("EC:5")),
            Err(LayoutError::ParityTooHigh { .. })
        ));
        assert!(matches!(
            plan(8, 4, Some("bogus")),
            Err(LayoutError::BadStorageClass(_))
        ));
        assert!(matches!(
            plan(17, 1, None),
            Err(LayoutError::NoSetSize { drives: 17 })
        ));
    }

    #[test]
    fn sets_spread_over_servers() {
        // 4 servers x 4 drives, listed server by server, sets of 8: every set takes two
        // drives from every server.
        let servers: Vec<usize> = (0..16).map(|i| i / 4).collect();
        let sets = set_members(&servers, 8).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0], vec![0, 4, 8, 12, 1, 5, 9, 13]);
        for set in &sets {
            for server in 0..4 {
                assert_eq!(set.iter().filter(|&&d| servers[d] == server).count(), 2);
            }
        }
        // One server: plain order.
        assert_eq!(
            set_members(&[0, 0, 0, 0], 2).unwrap(),
            vec![vec![0, 1], vec![2, 3]]
        );
        assert!(matches!(
            set_members(&[0, 0, 1], 3),
            Err(LayoutError::UnevenServers { .. })
        ));
        assert!(matches!(
            set_members(&[0, 0, 0], 2),
            Err(LayoutError::NotDivisible { .. })
        ));
        assert!(matches!(
            set_members::<u8>(&[], 2),
            Err(LayoutError::NoDrives)
        ));
    }

    proptest! {
        #[test]
        fn chosen_size_is_the_largest_valid(per_server in 1usize..40, servers in 1usize..40) {
            let drives = per_server * servers;
            match choose_set_size(drives, servers) {
                Ok(size) if drives == 1 => prop_assert_eq!(size, 1),
                Ok(size) => {
                    prop_assert!((MIN_SET_SIZE..=MAX_SET_SIZE).contains(&size));
                    prop_assert_eq!(drives % size, 0);
                    prop_assert!(is_symmetric(size, servers));
                    for bigger in size + 1..=MAX_SET_SIZE {
                        prop_assert!(drives % bigger != 0 || !is_symmetric(bigger, servers));
                    }
                }
                Err(_) => {
                    for size in MIN_SET_SIZE..=MAX_SET_SIZE {
                        prop_assert!(drives % size != 0 || !is_symmetric(size, servers));
                    }
                }
            }
        }

        #[test]
        fn planned_sets_are_balanced(per_server in 1usize..20, servers in 1usize..20) {
            let drives = per_server * servers;
            if let Ok(g) = plan(drives, servers, None) {
                let keys: Vec<usize> = (0..drives).map(|i| i / per_server).collect();
                let sets = set_members(&keys, g.set_size).unwrap();
                prop_assert_eq!(sets.len(), g.set_count);
                let mut seen = vec![false; drives];
                for set in &sets {
                    let mut counts = vec![0usize; servers];
                    for &d in set {
                        prop_assert!(!seen[d]);
                        seen[d] = true;
                        counts[keys[d]] += 1;
                    }
                    let used: Vec<usize> = counts.into_iter().filter(|&c| c > 0).collect();
                    prop_assert!(used.iter().all(|&c| c == used[0]));
                }
                prop_assert!(seen.into_iter().all(|s| s));
                prop_assert!(g.write_quorum() <= g.set_size);
                prop_assert!(g.read_quorum() >= 1);
            }
        }
    }
}

//! Erasure geometry of a pool, as the server will compute it: set size, parity, quorums,
//! which drives form each set, and from that how many servers may be down at once.
//!
//! These rules must agree with the server's (`storage-node/src/cluster/layout.rs`, which
//! follows MinIO's `getSetIndexes`): the operator uses them to refuse a Tenant the server
//! would refuse, to report the write quorum, and to size the PodDisruptionBudget. They are
//! repeated here rather than imported so the operator does not compile the whole server;
//! the tests pin the cases both sides must agree on.

use thiserror::Error;

/// Smallest erasure set of a multi-drive pool.
pub const MIN_SET_SIZE: usize = 2;
/// Largest erasure set.
pub const MAX_SET_SIZE: usize = 16;

/// Why a pool's shape or storage class cannot work.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GeometryError {
    #[error("a pool needs at least one server and one volume per server")]
    Empty,
    #[error(
        "{drives} drives cannot be split into erasure sets of 2 to 16 drives of equal size; \
         choose servers x volumesPerServer with such a divisor (for example 4, 8, 12 or 16 drives)"
    )]
    NoSetSize { drives: usize },
    #[error(
        "{drives} drives on {servers} servers cannot be split into erasure sets of 2 to 16 drives \
         that spread evenly over the servers (set sizes dividing {drives}: {candidates:?}, none is a \
         multiple or a divisor of {servers}); change servers or volumesPerServer"
    )]
    NoSymmetricSetSize {
        drives: usize,
        servers: usize,
        candidates: Vec<usize>,
    },
    #[error("storage class `{0}` is not of the form EC:N (for example EC:4)")]
    BadStorageClass(String),
    #[error(
        "parity EC:{parity} is more than half of the {set_size}-drive erasure set; at most \
         EC:{max} is possible with sets of {set_size} drives"
    )]
    ParityTooHigh {
        parity: usize,
        set_size: usize,
        max: usize,
    },
    #[error(
        "parity EC:0 is only possible with a single drive; erasure sets of {set_size} drives need \
         at least EC:1"
    )]
    ParityZero { set_size: usize },
}

/// Whether a set of `set_size` drives spreads evenly over `servers` servers.
fn is_symmetric(set_size: usize, servers: usize) -> bool {
    if servers > set_size {
        servers.is_multiple_of(set_size)
    } else {
        set_size.is_multiple_of(servers)
    }
}

/// The largest set size in 2..=16 that divides the drive count and spreads evenly over
/// the servers; a single drive is a set of one. Larger sets lose less capacity to parity
/// at the same fault tolerance, which is why MinIO and the server prefer the largest.
pub fn choose_set_size(servers: usize, volumes_per_server: usize) -> Result<usize, GeometryError> {
    let drives = servers * volumes_per_server;
    if drives == 0 {
        return Err(GeometryError::Empty);
    }
    if drives == 1 {
        return Ok(1);
    }
    let candidates: Vec<usize> = (MIN_SET_SIZE..=MAX_SET_SIZE)
        .filter(|size| drives.is_multiple_of(*size))
        .collect();
    if candidates.is_empty() {
        return Err(GeometryError::NoSetSize { drives });
    }
    candidates
        .iter()
        .copied()
        .filter(|&size| is_symmetric(size, servers))
        .max()
        .ok_or(GeometryError::NoSymmetricSetSize {
            drives,
            servers,
            candidates,
        })
}

/// Default parity by set size, as MinIO: EC:4 from 8 drives up.
pub fn default_parity(set_size: usize) -> usize {
    match set_size {
        0 | 1 => 0,
        2 | 3 => 1,
        4 | 5 => 2,
        6 | 7 => 3,
        _ => 4,
    }
}

/// Parses `EC:N` (case and surrounding spaces do not matter).
pub fn parse_storage_class(text: &str) -> Result<usize, GeometryError> {
    let bad = || GeometryError::BadStorageClass(text.to_string());
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

/// Drives that must acknowledge a write: `data`, or one more when data equals parity so
/// that two halves of a split set cannot both accept a write.
pub fn write_quorum(data: usize, parity: usize) -> usize {
    if data == parity { data + 1 } else { data }
}

/// The erasure layout of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Servers of the pool.
    pub servers: usize,
    /// Drives per server.
    pub volumes_per_server: usize,
    /// Number of erasure sets.
    pub set_count: usize,
    /// Drives per set (data + parity).
    pub set_size: usize,
    /// Data shards per object.
    pub data: usize,
    /// Parity shards per object.
    pub parity: usize,
}

impl Geometry {
    /// Plans a pool: set size, then parity from `storage_class` or the default, checked to
    /// be at most half the set.
    pub fn plan(
        servers: usize,
        volumes_per_server: usize,
        storage_class: Option<&str>,
    ) -> Result<Self, GeometryError> {
        let set_size = choose_set_size(servers, volumes_per_server)?;
        let parity = match storage_class {
            Some(class) => parse_storage_class(class)?,
            None => default_parity(set_size),
        };
        let max = set_size / 2;
        if parity > max {
            return Err(GeometryError::ParityTooHigh {
                parity,
                set_size,
                max,
            });
        }
        if parity == 0 && set_size > 1 {
            return Err(GeometryError::ParityZero { set_size });
        }
        Ok(Self {
            servers,
            volumes_per_server,
            set_count: servers * volumes_per_server / set_size,
            set_size,
            data: set_size - parity,
            parity,
        })
    }

    /// Drives of a set that must acknowledge a write.
    pub fn write_quorum(&self) -> usize {
        write_quorum(self.data, self.parity)
    }

    /// For each erasure set, the server index of each of its drives.
    ///
    /// The pool's drives are listed the way the endpoint argument expands
    /// (`host{0...S-1}/export{0...V-1}`: server-major), then dealt round-robin over the
    /// servers (first volume of every server, then the second, ...) and cut into sets, as
    /// the server does; so each set takes the same number of drives from every server it
    /// touches.
    pub fn set_servers(&self) -> Vec<Vec<usize>> {
        let dealt: Vec<usize> = (0..self.volumes_per_server)
            .flat_map(|_slot| 0..self.servers)
            .collect();
        dealt
            .chunks(self.set_size.max(1))
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// How many servers of the pool may be down at the same time while every erasure set
    /// keeps write quorum. For each set, losing a server costs the drives the set has on it;
    /// the worst case for `k` servers down is the `k` servers holding most of one set. The
    /// answer is the largest `k` whose worst case leaves every set at least `write_quorum`
    /// drives.
    pub fn servers_tolerated(&self) -> usize {
        let spare = self.set_size.saturating_sub(self.write_quorum());
        let mut tolerated = self.servers;
        for set in self.set_servers() {
            let mut per_server = vec![0usize; self.servers];
            for &server in &set {
                if let Some(count) = per_server.get_mut(server) {
                    *count += 1;
                }
            }
            per_server.sort_unstable_by(|a, b| b.cmp(a));
            let mut lost = 0;
            let mut k = 0;
            for count in per_server {
                if lost + count > spare {
                    break;
                }
                lost += count;
                k += 1;
            }
            tolerated = tolerated.min(k);
        }
        tolerated
    }

    /// Human summary, for example `1 set x 8 drives, EC:4 (write quorum 5)`.
    pub fn describe(&self) -> String {
        format!(
            "{} set{} x {} drives, EC:{} (write quorum {})",
            self.set_count,
            if self.set_count == 1 { "" } else { "s" },
            self.set_size,
            self.parity,
            self.write_quorum()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_sizes_agree_with_the_server() {
        // (servers, volumes per server, set size): the server's own test table, in the
        // operator's terms (drives = servers x volumes).
        for (servers, volumes, want) in [
            (1, 1, 1),
            (1, 2, 2),
            (1, 4, 4),
            (1, 8, 8),
            (4, 2, 8),
            (1, 12, 12),
            (3, 4, 12),
            (1, 16, 16),
            (1, 18, 9),
            (1, 24, 12),
            (32, 1, 16),
            (5, 4, 10),
            (6, 5, 6),
            (3, 10, 15),
            (4, 16, 16),
            (8, 8, 16),
            (7, 2, 14),
            (7, 3, 7),
            (6, 1, 6),
            (2, 3, 6),
        ] {
            assert_eq!(
                choose_set_size(servers, volumes),
                Ok(want),
                "{servers} x {volumes}"
            );
        }
        assert!(matches!(
            choose_set_size(1, 17),
            Err(GeometryError::NoSetSize { drives: 17 })
        ));
        assert!(matches!(
            choose_set_size(17, 2),
            Err(GeometryError::NoSymmetricSetSize { .. })
        ));
    }

    #[test]
    fn matrix_geometry_allows_one_server_down() {
        let g = Geometry::plan(4, 2, Some("EC:4")).unwrap();
        assert_eq!((g.set_count, g.set_size, g.data, g.parity), (1, 8, 4, 4));
        assert_eq!(g.write_quorum(), 5);
        assert_eq!(g.set_servers(), vec![vec![0, 1, 2, 3, 0, 1, 2, 3]]);
        assert_eq!(g.servers_tolerated(), 1);
        assert_eq!(g.describe(), "1 set x 8 drives, EC:4 (write quorum 5)");
    }

    #[test]
    fn tolerance_follows_the_geometry() {
        // (servers, volumes, storage class, servers tolerated)
        for (servers, volumes, class, want) in [
            (4, 2, None, 1),         // set of 8, EC:4, wq 5: 3 spare, 2 drives per server
            (4, 4, Some("EC:4"), 1), // set of 16, wq 12: 4 spare, 4 drives per server
            (8, 1, Some("EC:3"), 3), // set of 8, wq 5: 3 spare, 1 drive per server
            (1, 4, None, 0),         // a single server can never go
            (1, 1, None, 0),         // single drive
            (16, 2, None, 4),        // 2 sets of 16, each on all 16 servers once: 4 spare
            (32, 1, None, 4),        // 2 sets of 16 on disjoint servers: 4 spare each
            (6, 2, Some("EC:2"), 1), // set of 12, wq 10: 2 spare, 2 drives per server
            (2, 2, None, 0),         // set of 4, EC:2, wq 3: 1 spare, 2 drives per server
        ] {
            let g = Geometry::plan(servers, volumes, class).unwrap();
            assert_eq!(
                g.servers_tolerated(),
                want,
                "{servers} x {volumes} {class:?}: {}",
                g.describe()
            );
        }
    }

    #[test]
    fn parity_is_checked() {
        assert_eq!(
            Geometry::plan(4, 2, Some("EC:5")),
            Err(GeometryError::ParityTooHigh {
                parity: 5,
                set_size: 8,
                max: 4
            })
        );
        assert_eq!(
            Geometry::plan(2, 2, Some("ec:0")),
            Err(GeometryError::ParityZero { set_size: 4 })
        );
        assert!(matches!(
            Geometry::plan(2, 2, Some("RRS")),
            Err(GeometryError::BadStorageClass(_))
        ));
        assert_eq!(Geometry::plan(2, 2, Some(" EC:2 ")).unwrap().parity, 2);
    }
}

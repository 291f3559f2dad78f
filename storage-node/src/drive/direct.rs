//! Shard files written with `O_DIRECT`.
//!
//! On this machine kind, buffered writes are CPU-bound at about 0.19 GB/s because every
//! page of page cache is first-touch guest memory (12 µs per 4 KiB page, see
//! `../shared/MACHINE.md`); direct writes reach 1–1.6 GB/s. A 1 MiB PUT writes 2 MiB of
//! shards with EC:4, so the page cache alone cost about 10 ms of CPU per MiB. Shard data
//! is staged in an aligned buffer and written in aligned 256 KiB pieces; the tail is
//! padded to the alignment and the file truncated to its real length before fsync.
//! File systems without `O_DIRECT` (tmpfs) fall back to buffered writes.

use super::DriveError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Alignment of buffer address, file offset and length for `O_DIRECT`.
const ALIGN: usize = 4096;
/// Bytes collected before one direct write: large enough for sequential throughput,
/// small enough that 32 concurrent PUTs × 8 shards stay well under 100 MiB of buffers.
const CHUNK: usize = 256 << 10;

/// A buffer whose usable window starts at an `ALIGN`-aligned address, carved out of a
/// plain `Vec` so that no unsafe allocation code is needed.
struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let raw = vec![0u8; CHUNK + ALIGN];
        let addr = raw.as_ptr() as usize;
        let start = (ALIGN - addr % ALIGN) % ALIGN;
        Self { raw, start, len: 0 }
    }

    fn window(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + CHUNK]
    }
}

enum Mode {
    Direct(AlignedBuf),
    Buffered,
}

/// A shard file being written; `write` and `finish` block and run on blocking threads.
pub struct ShardFile {
    file: File,
    mode: Mode,
    /// Bytes already on disk (direct mode: always a multiple of `CHUNK`).
    written: u64,
    sync: bool,
}

fn io(e: std::io::Error) -> DriveError {
    DriveError::Io(e.to_string())
}

impl ShardFile {
    pub fn create(path: &Path, sync: bool) -> Result<Self, DriveError> {
        let direct = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_DIRECT)
            .open(path);
        let (file, mode) = match direct {
            Ok(f) => (f, Mode::Direct(AlignedBuf::new())),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(io)?;
                (f, Mode::Buffered)
            }
            Err(e) => return Err(io(e)),
        };
        Ok(Self {
            file,
            mode,
            written: 0,
            sync,
        })
    }

    pub fn write(&mut self, mut data: &[u8]) -> Result<(), DriveError> {
        match &mut self.mode {
            Mode::Buffered => self.file.write_all(data).map_err(io),
            Mode::Direct(buf) => {
                while !data.is_empty() {
                    let take = (CHUNK - buf.len).min(data.len());
                    let at = buf.len;
                    buf.window()[at..at + take].copy_from_slice(&data[..take]);
                    buf.len += take;
                    data = &data[take..];
                    if buf.len == CHUNK {
                        self.file
                            .write_all_at(buf.window(), self.written)
                            .map_err(io)?;
                        self.written += CHUNK as u64;
                        buf.len = 0;
                    }
                }
                Ok(())
            }
        }
    }

    /// Writes what is buffered, sets the exact length and makes it durable.
    pub fn finish(mut self) -> Result<(), DriveError> {
        if let Mode::Direct(buf) = &mut self.mode {
            if buf.len > 0 {
                let real = buf.len;
                let padded = real.div_ceil(ALIGN) * ALIGN;
                buf.window()[real..padded].fill(0);
                self.file
                    .write_all_at(&buf.window()[..padded], self.written)
                    .map_err(io)?;
                self.file.set_len(self.written + real as u64).map_err(io)?;
            }
        }
        if self.sync {
            self.file.sync_data().map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exact_bytes_in_odd_pieces() {
        let dir = tempfile::tempdir().unwrap();
        for total in [
            0usize,
            1,
            4095,
            4096,
            CHUNK - 1,
            CHUNK,
            CHUNK + 17,
            3 * CHUNK + 262_160,
        ] {
            let path = dir.path().join(format!("f{total}"));
            let data: Vec<u8> = (0..total).map(|i| (i * 31 % 251) as u8).collect();
            let mut f = ShardFile::create(&path, true).unwrap();
            for piece in data.chunks(262_160) {
                f.write(piece).unwrap();
            }
            f.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "total {total}");
        }
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"old").unwrap();
        assert!(ShardFile::create(&path, false).is_err());
    }
}

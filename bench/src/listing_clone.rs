//! Fills a stopped server's drives with copies of one object's files, so a prefix of a
//! million keys exists in minutes instead of the hour that a million PUTs take here
//! (about 350 fsync'd PUT/s, MACHINE.md).
//!
//! A key `a/b` lives in the directory `<drive>/<bucket>/a/b/` (its metadata file and
//! any data directories), and nothing outside that directory names it. So copying the
//! directory of a real object, written by the server itself, to other key names gives
//! objects the listing walk cannot tell from PUT ones: same metadata bytes, same ETag,
//! same version. Only for benchmarks: the server must be stopped while it runs (its
//! listing cache is filled from disk at start and told of its own writes only).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The directory of `key` inside `bucket` on `drive`. Keys whose segments need the
/// drive's escaping (a leading `~`, empty, `.` or `..`) are refused.
pub fn key_dir(drive: &Path, bucket: &str, key: &str) -> Result<PathBuf> {
    let mut p = drive.join(bucket);
    for seg in key.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || seg.starts_with('~') {
            bail!("key {key:?} needs the drive's escaping; not cloned");
        }
        p.push(seg);
    }
    Ok(p)
}

/// The files of a template directory: relative path and contents (a directory has none).
type Template = Vec<(PathBuf, Option<Vec<u8>>)>;

/// Reads directory `src` (recursively) into memory, directories before their files.
fn read_template(src: &Path, rel: &Path, out: &mut Template) -> Result<()> {
    for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let e = e?;
        let r = rel.join(e.file_name());
        if e.file_type()?.is_dir() {
            out.push((r.clone(), None));
            read_template(&e.path(), &r, out)?;
        } else {
            out.push((r, Some(std::fs::read(e.path())?)));
        }
    }
    Ok(())
}

/// Writes `template` into a new directory `dst` (made with its parents).
fn write_template(template: &Template, dst: &Path) -> Result<()> {
    if let Err(e) = std::fs::create_dir(dst) {
        std::fs::create_dir_all(dst).with_context(|| format!("creating {}: {e}", dst.display()))?;
    }
    for (rel, data) in template {
        let to = dst.join(rel);
        match data {
            None => std::fs::create_dir_all(&to)?,
            Some(bytes) => {
                std::fs::write(&to, bytes).with_context(|| format!("writing {}", to.display()))?
            }
        }
    }
    Ok(())
}

/// Gives every key of `keys` (by number, named by `name`) on every drive a copy of
/// `template`'s directory on that drive, with `threads` threads; returns keys/s.
pub fn clone_keys(
    drives: &[PathBuf],
    bucket: &str,
    template: &str,
    keys: std::ops::Range<u64>,
    name: impl Fn(u64) -> String + Sync,
    threads: usize,
) -> Result<f64> {
    let sources: Vec<PathBuf> = drives
        .iter()
        .map(|d| key_dir(d, bucket, template))
        .collect::<Result<_>>()?;
    let mut templates = Vec::new();
    for s in &sources {
        if !s.is_dir() {
            bail!("template {} is missing (PUT it first)", s.display());
        }
        let mut t = Template::new();
        read_template(s, Path::new(""), &mut t)?;
        templates.push(t);
    }
    let started = Instant::now();
    let next = AtomicU64::new(keys.start);
    let done = AtomicU64::new(0);
    let total = keys.end.saturating_sub(keys.start);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= keys.end {
                            return Ok(());
                        }
                        let key = name(i);
                        if key == template {
                            continue;
                        }
                        for (drive, t) in drives.iter().zip(&templates) {
                            write_template(t, &key_dir(drive, bucket, &key)?)?;
                        }
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if d % 100_000 == 0 {
                            eprintln!(
                                "clone: {d}/{total} ({:.0}/s)",
                                d as f64 / started.elapsed().as_secs_f64()
                            );
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a clone thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(total as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_a_template_directory_on_every_drive() {
        let tmp = std::env::temp_dir().join(format!("cairn-clone-test-{}", std::process::id()));
        let drives: Vec<PathBuf> = (0..2).map(|i| tmp.join(format!("d{i}"))).collect();
        for (i, d) in drives.iter().enumerate() {
            let t = key_dir(d, "b", "p/k0").unwrap();
            std::fs::create_dir_all(t.join("~d.x")).unwrap();
            std::fs::write(t.join("~meta"), format!("meta{i}")).unwrap();
            std::fs::write(t.join("~d.x/part.1"), "data").unwrap();
        }
        clone_keys(&drives, "b", "p/k0", 0..5, |i| format!("p/k{i}"), 2).unwrap();
        for (i, d) in drives.iter().enumerate() {
            for k in 1..5 {
                let dir = key_dir(d, "b", &format!("p/k{k}")).unwrap();
                assert_eq!(
                    std::fs::read_to_string(dir.join("~meta")).unwrap(),
                    format!("meta{i}")
                );
                assert_eq!(
                    std::fs::read_to_string(dir.join("~d.x/part.1")).unwrap(),
                    "data"
                );
            }
        }
        assert!(key_dir(&drives[0], "b", "p/~x").is_err());
        assert!(clone_keys(&drives, "b", "p/none", 0..1, |i| format!("p/k{i}"), 1).is_err());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

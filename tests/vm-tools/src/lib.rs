// SPDX-License-Identifier: GPL-2.0

//! Helpers of the VM test harness (tests/vm/lib.sh) that must not be able
//! to pass on nothing:
//!
//! - [`Extent`] reads exactly the bytes it names from a block device
//!   (around the page cache) or a regular file, or fails: a range past the
//!   end, an empty range, a short read or an unreadable device is an error,
//!   never an empty stream that compares equal to another one;
//! - [`fill_random`] writes exactly the bytes it names with fresh
//!   pseudo-random data (generated here, not by the kernel: the debug
//!   kernel's instrumented /dev/urandom is the slowest part of a test), or
//!   fails;
//! - [`kmsg`] reads the kernel log by record sequence number, and says when
//!   records were lost (overwritten in the ring) instead of skipping them.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

pub mod kmsg;

/// Bytes read per request.
const CHUNK: usize = 1 << 20;
/// Buffer alignment for O_DIRECT (enough for every logical block size).
const ALIGN: usize = 4096;

/// An error with the path and range it concerns, printed as one line.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn err<T>(msg: String) -> Result<T> {
    Err(Error(msg))
}

/// `len` bytes at `off` of a block device or regular file.
pub struct Extent {
    path: String,
    file: File,
    off: u64,
    len: u64,
    /// Logical block size for O_DIRECT on a block device; 1 for a file.
    align: u64,
    /// Aligned bounce buffer for reads.
    bounce: AlignedBuf,
}

// BLKGETSIZE64 = _IOR(0x12, 114, size_t); BLKSSZGET = _IO(0x12, 104).
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;
const BLKSSZGET: libc::c_ulong = 0x1268;

impl Extent {
    /// Opens `path` and checks that `off..off+len` lies within it and is
    /// not empty.
    pub fn open(path: &str, off: u64, len: u64) -> Result<Self> {
        let (file, align, _) = open_range(path, off, len, false)?;
        Ok(Self { path: path.to_string(), file, off, len, align, bounce: AlignedBuf::new(ALIGN) })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// `path@off+len`, for messages.
    pub fn describe(&self) -> String {
        format!("{}@{}+{}", self.path, self.off, self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads exactly `out.len()` bytes at `rel` bytes into the extent.
    pub fn read_at(&mut self, rel: u64, out: &mut [u8]) -> Result<()> {
        let want = out.len() as u64;
        if rel.checked_add(want).map_or(true, |e| e > self.len) {
            return err(format!("{}: read of {want} at +{rel} outside the extent", self.describe()));
        }
        let pos = self.off + rel;
        // The aligned window covering [pos, pos + want).
        let start = pos - pos % self.align;
        let stop = (pos + want).div_ceil(self.align) * self.align;
        let n = (stop - start) as usize;
        if self.bounce.layout.size() < n {
            self.bounce = AlignedBuf::new(n.next_multiple_of(ALIGN));
        }
        let got = pread_full(&self.file, &self.path, &mut self.bounce.as_mut()[..n], start)?;
        let skip = (pos - start) as usize;
        if got < skip + out.len() {
            return err(format!("{}: short read at {pos} ({} of {want} bytes)", self.path, got.saturating_sub(skip)));
        }
        out.copy_from_slice(&self.bounce.as_mut()[skip..skip + out.len()]);
        Ok(())
    }

    /// Calls `f` with consecutive pieces of the extent, [`CHUNK`] bytes at
    /// most, exactly `len` bytes in all, or fails.
    pub fn for_each_chunk(&mut self, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let mut buf = vec![0u8; CHUNK];
        let mut rel = 0;
        while rel < self.len {
            let n = (self.len - rel).min(CHUNK as u64) as usize;
            self.read_at(rel, &mut buf[..n])?;
            f(&buf[..n])?;
            rel += n as u64;
        }
        Ok(())
    }

}

/// Writes `len` bytes of fresh pseudo-random data at `off` of a block
/// device (with O_DIRECT: `off` and `len` must be multiples of its logical
/// block size) or regular file (within its current size). The generator is
/// seeded from the OS for every call, so two fills never match by design.
pub fn fill_random(path: &str, off: u64, len: u64) -> Result<()> {
    use rand::{rngs::SmallRng, RngCore, SeedableRng};
    let (file, align, blockdev) = open_range(path, off, len, true)?;
    if off % align != 0 || len % align != 0 {
        return err(format!("{path}@{off}+{len}: not aligned to its {align}-byte blocks"));
    }
    let mut rng = SmallRng::from_entropy();
    let mut buf = AlignedBuf::new(CHUNK);
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(CHUNK as u64) as usize;
        let chunk = &mut buf.as_mut()[..n];
        rng.fill_bytes(chunk);
        let mut w = 0;
        while w < n {
            let at = off + done + w as u64;
            // SAFETY: `chunk[w..]` is valid for reads of its length.
            let r = unsafe { libc::pwrite(file.as_raw_fd(), chunk[w..].as_ptr().cast(), n - w, at as libc::off_t) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return err(format!("{path}: write at {at}: {e}"));
            }
            if r == 0 {
                return err(format!("{path}: short write at {at}"));
            }
            w += r as usize;
        }
        done += n as u64;
    }
    if !blockdev {
        file.sync_data().map_err(|e| Error(format!("{path}: sync: {e}")))?;
    }
    Ok(())
}

/// Opens `path` (a block device with O_DIRECT, or a regular file) for
/// reading or writing `len` bytes at `off`, which must be a non-empty range
/// within it. Returns the file, its block size for O_DIRECT (1 for a
/// regular file) and whether it is a block device.
fn open_range(path: &str, off: u64, len: u64, write: bool) -> Result<(File, u64, bool)> {
    let meta = std::fs::metadata(path).map_err(|e| Error(format!("{path}: {e}")))?;
    let blockdev = meta.file_type().is_block_device();
    if !blockdev && !meta.is_file() {
        return err(format!("{path}: not a block device or regular file"));
    }
    let mut o = OpenOptions::new();
    if write {
        o.write(true);
    } else {
        o.read(true);
    }
    if blockdev {
        o.custom_flags(libc::O_DIRECT);
    }
    let file = o.open(path).map_err(|e| Error(format!("{path}: {e}")))?;
    let (size, align) = if blockdev { device_geometry(&file, path)? } else { (meta.len(), 1) };
    if len == 0 {
        return err(format!("{path}@{off}: empty range (nothing to {})", if write { "write" } else { "compare" }));
    }
    match off.checked_add(len) {
        Some(end) if end <= size => Ok((file, align, blockdev)),
        _ => err(format!("{path}@{off}+{len}: past the end ({size} bytes)")),
    }
}

/// Size in bytes and logical block size of an open block device.
fn device_geometry(file: &File, path: &str) -> Result<(u64, u64)> {
    let mut size: u64 = 0;
    let mut lbs: libc::c_int = 0;
    // SAFETY: both ioctls write one integer of the type given.
    let ok = unsafe {
        libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size) == 0
            && libc::ioctl(file.as_raw_fd(), BLKSSZGET, &mut lbs) == 0
    };
    if !ok {
        return err(format!("{path}: size: {}", std::io::Error::last_os_error()));
    }
    Ok((size, u64::try_from(lbs).unwrap_or(512).max(1)))
}

fn pread_full(file: &File, path: &str, buf: &mut [u8], at: u64) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is valid for writes of its length.
        let r = unsafe {
            libc::pread(file.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len(), (at + done as u64) as libc::off_t)
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return err(format!("{path}: read at {}: {e}", at + done as u64));
        }
        if r == 0 {
            break;
        }
        done += r as usize;
    }
    Ok(done)
}

/// A heap buffer aligned for O_DIRECT.
struct AlignedBuf {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl AlignedBuf {
    fn new(len: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len, ALIGN).expect("buffer layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Self { ptr, layout }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is valid for `layout.size()` bytes, owned by us.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

/// Where two extents of equal length first differ.
#[derive(Debug, PartialEq, Eq)]
pub enum Compare {
    Same,
    /// Byte offset (relative to both extents) of the first difference.
    DifferAt(u64),
}

/// Compares two extents of the same length byte by byte.
pub fn compare(a: &mut Extent, b: &mut Extent) -> Result<Compare> {
    if a.len != b.len {
        return err(format!("{} and {}: lengths differ", a.describe(), b.describe()));
    }
    let (mut x, mut y) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut rel = 0;
    while rel < a.len {
        let n = (a.len - rel).min(CHUNK as u64) as usize;
        a.read_at(rel, &mut x[..n])?;
        b.read_at(rel, &mut y[..n])?;
        if let Some(i) = x[..n].iter().zip(&y[..n]).position(|(p, q)| p != q) {
            return Ok(Compare::DifferAt(rel + i as u64));
        }
        rel += n as u64;
    }
    Ok(Compare::Same)
}

/// How a destination stands after a copy that ended early, block by block.
#[derive(Debug, PartialEq, Eq)]
pub enum Partial {
    /// Every block of the reported prefix is the source's; past it, each
    /// block is the source's (`copied` of them: written by I/O that was in
    /// flight when the copy stopped) or what was there before (`unchanged`).
    Sound { copied: u64, unchanged: u64 },
    /// The block at this byte offset holds neither (or, within the
    /// prefix, is not the source's).
    WrongAt(u64),
}

/// Checks a destination `dst` after a copy from `src` that reported
/// `prefix` bytes copied; `before` holds what `dst` held before it. All
/// three have the same length, a multiple of `block`.
pub fn compare_partial(src: &mut Extent, dst: &mut Extent, before: &mut Extent, prefix: u64, block: usize) -> Result<Partial> {
    if src.len != dst.len || dst.len != before.len || block == 0 || src.len % block as u64 != 0 || prefix > src.len {
        return err(format!("{}, {}, {}: lengths or prefix {prefix} do not fit", src.describe(), dst.describe(), before.describe()));
    }
    let (mut x, mut y, mut z) = (vec![0u8; block], vec![0u8; block], vec![0u8; block]);
    let (mut copied, mut unchanged) = (0, 0);
    let mut rel = 0;
    while rel < src.len {
        src.read_at(rel, &mut x)?;
        dst.read_at(rel, &mut y)?;
        before.read_at(rel, &mut z)?;
        if rel < prefix {
            if x != y {
                return Ok(Partial::WrongAt(rel));
            }
        } else if x == y {
            copied += 1;
        } else if y == z {
            unchanged += 1;
        } else {
            return Ok(Partial::WrongAt(rel));
        }
        rel += block as u64;
    }
    Ok(Partial::Sound { copied, unchanged })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> String {
        let p = std::env::temp_dir().join(format!("blkcopy-vm-tools-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn partial_copies_are_judged_block_by_block() {
        let (s, b) = (vec![1u8; 4096 * 4], vec![9u8; 4096 * 4]);
        let src = file("p-src", &s);
        let before = file("p-before", &b);
        let ext = |p: &str| Extent::open(p, 0, 4096 * 4).unwrap();
        let check = |d: &[u8], prefix| {
            let dst = file("p-dst", d);
            compare_partial(&mut ext(&src), &mut ext(&dst), &mut ext(&before), prefix, 4096).unwrap()
        };
        // Prefix of 1 block, block 3 written by I/O in flight, 2 unchanged.
        let mut d = b.clone();
        d[..4096].fill(1);
        d[3 * 4096..].fill(1);
        assert_eq!(check(&d, 4096), Partial::Sound { copied: 1, unchanged: 2 });
        // A block within the prefix that is not the source's.
        assert_eq!(check(&d, 3 * 4096), Partial::WrongAt(4096));
        // A block past it that is neither.
        d[2 * 4096] = 5;
        assert_eq!(check(&d, 4096), Partial::WrongAt(2 * 4096));
    }

    #[test]
    fn refuses_ranges_that_name_missing_bytes() {
        let f = file("short", &[7u8; 4096]);
        assert!(Extent::open(&f, 0, 4096).is_ok());
        let past = Extent::open(&f, 4096, 512).err().unwrap().0;
        assert!(past.contains("past the end (4096 bytes)"), "{past}");
        assert!(Extent::open(&f, 1, 4096).is_err());
        assert!(Extent::open(&f, u64::MAX, 2).is_err(), "offset + length wraps");
        assert!(Extent::open(&f, 0, 0).err().unwrap().0.contains("empty range"));
        assert!(Extent::open("/nonexistent/x", 0, 1).is_err());
        assert!(Extent::open("/", 0, 1).is_err(), "a directory is no extent");
    }

    #[test]
    fn compares_exactly_the_named_bytes() {
        let mut a = vec![1u8; 3 << 20];
        let b = a.clone();
        a[(2 << 20) + 5] = 9;
        let (fa, fb) = (file("a", &a), file("b", &b));
        let cmp = |ao, bo, len| compare(&mut Extent::open(&fa, ao, len).unwrap(), &mut Extent::open(&fb, bo, len).unwrap()).unwrap();
        assert_eq!(cmp(0, 0, 2 << 20), Compare::Same);
        assert_eq!(cmp(0, 0, 3 << 20), Compare::DifferAt((2 << 20) + 5));
        assert_eq!(cmp(1 << 20, 1 << 20, 2 << 20), Compare::DifferAt((1 << 20) + 5));
        assert_eq!(cmp((2 << 20) + 6, 7, 100), Compare::Same);
    }

    #[test]
    fn fills_exactly_the_named_bytes_with_fresh_data() {
        let f = file("fill", &[0u8; 1 << 20]);
        fill_random(&f, 4096, 8192).unwrap();
        let first = std::fs::read(&f).unwrap();
        assert_eq!(first.len(), 1 << 20, "a fill never grows the file");
        assert!(first[..4096].iter().chain(&first[12288..]).all(|&b| b == 0), "bytes outside the range changed");
        assert!(first[4096..12288].iter().filter(|&&b| b == 0).count() < 256, "not random");
        fill_random(&f, 4096, 8192).unwrap();
        assert_ne!(std::fs::read(&f).unwrap()[4096..12288], first[4096..12288], "two fills wrote the same bytes");
        assert!(fill_random(&f, (1 << 20) - 512, 1024).err().unwrap().0.contains("past the end"));
        assert!(fill_random(&f, 0, 0).is_err());
        assert!(fill_random("/nonexistent/x", 0, 1).is_err());
    }

    #[test]
    fn reads_every_byte_once_in_order() {
        let data: Vec<u8> = (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect();
        let f = file("order", &data);
        let mut e = Extent::open(&f, 3, data.len() as u64 - 10).unwrap();
        let mut got = Vec::new();
        e.for_each_chunk(|c| {
            got.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, &data[3..data.len() - 7]);
    }
}

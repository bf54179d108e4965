// SPDX-License-Identifier: GPL-2.0

//! Block devices as blkcopy uses them: opened through a file descriptor
//! ([`BdevFile`]) or borrowed from a caller ([`Bdev`]).

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::{code::*, Result};

use super::bindings;

/// A block device, open for at least `'a`. A copyable handle: borrowed
/// from what holds the device open ([`BdevFile::bdev`], a device-mapper
/// line's `DmDev`), so it cannot outlive it. Code that keeps a handle
/// beyond such a borrow (a copy job, a bio in flight) needs a
/// `Bdev<'static>`, which only the unsafe [`Bdev::from_raw`] and
/// [`Bdev::assume_open`] make: their callers say why the device stays open.
///
/// # Invariants
///
/// `ptr` points to a `struct block_device` that stays open for `'a`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bdev<'a> {
    ptr: NonNull<bindings::block_device>,
    _open: PhantomData<&'a bindings::block_device>,
}

// SAFETY: a `block_device` may be used from any thread; the handle only
// reads immutable identity fields and calls thread-safe accessors.
unsafe impl Send for Bdev<'_> {}
// SAFETY: as above.
unsafe impl Sync for Bdev<'_> {}

impl<'a> Bdev<'a> {
    /// Wraps a raw block device pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a block device that stays open for `'a`.
    pub unsafe fn from_raw(ptr: NonNull<bindings::block_device>) -> Self {
        Self { ptr, _open: PhantomData }
    }

    /// The same device, as a handle without a borrow.
    ///
    /// # Safety
    ///
    /// The device must stay open for as long as the returned handle (or any
    /// copy of it, or a bio addressed with it) is used.
    pub unsafe fn assume_open(self) -> Bdev<'static> {
        Bdev { ptr: self.ptr, _open: PhantomData }
    }

    /// The raw pointer, for FFI.
    pub fn as_ptr(&self) -> *mut bindings::block_device {
        self.ptr.as_ptr()
    }

    /// Size in 512-byte sectors.
    pub fn nr_sectors(&self) -> u64 {
        // SAFETY: by the type invariant the device is live.
        unsafe { bindings::blkcopy_bdev_nr_sectors(self.as_ptr()) }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.nr_sectors() << 9
    }

    /// Logical block size in bytes.
    pub fn logical_block_size(&self) -> u32 {
        // SAFETY: by the type invariant the device is live.
        unsafe { bindings::blkcopy_bdev_logical_block_size(self.as_ptr()) }
    }

    /// Whether the device is read-only (itself or its disk).
    pub fn read_only(&self) -> bool {
        // SAFETY: by the type invariant the device is live.
        unsafe { bindings::blkcopy_bdev_read_only(self.as_ptr()) }
    }

    /// The whole-disk device this one is part of (itself if not a partition).
    pub fn whole(&self) -> Bdev<'a> {
        // SAFETY: by the type invariant the device is live; its disk's
        // `part0` lives at least as long as any of its partitions.
        let p = unsafe { bindings::blkcopy_bdev_whole(self.as_ptr()) };
        // `part0` of a live disk is never null.
        Bdev { ptr: NonNull::new(p).unwrap_or(self.ptr), _open: PhantomData }
    }

    /// Partition number (0 for a whole disk).
    pub fn partno(&self) -> u8 {
        // SAFETY: by the type invariant the device is live.
        unsafe { bindings::blkcopy_bdev_partno(self.as_ptr()) }
    }

    /// Whether this is a partition.
    pub fn is_partition(&self) -> bool {
        self.partno() != 0
    }

    /// First sector of the device on its whole disk (0 for a whole disk).
    pub fn start_sect(&self) -> u64 {
        // SAFETY: by the type invariant the device is live; `bd_start_sect`
        // does not change while it is open.
        unsafe { (*self.as_ptr()).bd_start_sect }
    }

    /// The `gendisk` the device belongs to.
    pub fn disk(&self) -> *mut bindings::gendisk {
        // SAFETY: by the type invariant the device is live; `bd_disk` is
        // set at creation and never changes.
        unsafe { (*self.as_ptr()).bd_disk }
    }

    /// Device number.
    pub fn dev(&self) -> u32 {
        // SAFETY: by the type invariant the device is live; `bd_dev` is
        // immutable.
        unsafe { (*self.as_ptr()).bd_dev }
    }

    /// Writes the device's name (as in /dev, e.g. `nvme0n1p2`, `sda1`) into
    /// `buf`, returning the used part.
    pub fn name<'b>(&self, buf: &'b mut [u8; 40]) -> &'b [u8] {
        // SAFETY: `disk()` is live (type invariant); `disk_name` is a
        // NUL-terminated array fixed at disk creation.
        let dn = unsafe { &(*self.disk()).disk_name };
        let mut n = 0;
        for &c in dn.iter().take_while(|&&c| c != 0) {
            if n < buf.len() {
                buf[n] = c as u8;
                n += 1;
            }
        }
        let part = self.partno();
        if part != 0 {
            if n > 0 && buf[n - 1].is_ascii_digit() && n < buf.len() {
                buf[n] = b'p';
                n += 1;
            }
            let mut digits = [0u8; 3];
            let mut d = 0;
            let mut v = part;
            loop {
                digits[d] = b'0' + v % 10;
                d += 1;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            while d > 0 && n < buf.len() {
                d -= 1;
                buf[n] = digits[d];
                n += 1;
            }
        }
        &buf[..n]
    }
}

/// A block device opened by user space, taken from a file descriptor. Holds
/// a reference on the file (and so keeps the device open) until dropped.
///
/// # Invariants
///
/// `file` holds a reference obtained by `fget` and is a block device file;
/// `bdev` is its device (open while the file is).
pub struct BdevFile {
    file: NonNull<bindings::file>,
    bdev: NonNull<bindings::block_device>,
}

// SAFETY: a file reference may be used and dropped from any thread (`fput`
// defers the final release to task context when it must).
unsafe impl Send for BdevFile {}
// SAFETY: the shared methods only read fields fixed while the file is open
// and call page cache functions that do their own locking.
unsafe impl Sync for BdevFile {}

impl BdevFile {
    /// Takes the block device open as `fd` in the calling process.
    /// `EBADF` if `fd` is not open, `ENOTBLK` if it is not a block device.
    pub fn from_fd(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fget` takes any number and returns a new reference or null.
        let file = NonNull::new(unsafe { bindings::fget(fd) }).ok_or(EBADF)?;
        // SAFETY: `file` is a valid file we hold a reference on.
        let bdev = if unsafe { bindings::blkcopy_file_is_bdev(file.as_ptr()) } {
            // SAFETY: a block device file, for which `file_bdev` returns
            // its (open) device.
            NonNull::new(unsafe { bindings::file_bdev(file.as_ptr()) })
        } else {
            None
        };
        let Some(bdev) = bdev else {
            // SAFETY: drops the reference `fget` gave us.
            unsafe { bindings::fput(file.as_ptr()) };
            return Err(ENOTBLK);
        };
        Ok(Self { file, bdev })
    }

    fn mode(&self) -> u32 {
        // SAFETY: by the type invariant the file is live; `f_mode` is fixed
        // at open.
        unsafe { (*self.file.as_ptr()).f_mode }
    }

    /// Whether the file was opened for reading.
    pub fn readable(&self) -> bool {
        self.mode() & bindings::BLKCOPY_FMODE_READ != 0
    }

    /// Whether the file was opened for writing.
    pub fn writable(&self) -> bool {
        self.mode() & bindings::BLKCOPY_FMODE_WRITE != 0
    }

    /// Whether the device is in use as swap.
    pub fn is_swap(&self) -> bool {
        // SAFETY: by the type invariant the file is a live block device file.
        unsafe { bindings::blkcopy_file_is_swap(self.file.as_ptr()) }
    }

    /// The block device (open while this file is).
    pub fn bdev(&self) -> Bdev<'_> {
        // SAFETY: by the type invariant the device stays open while we hold
        // the file reference, which the borrow of `self` outlasts.
        unsafe { Bdev::from_raw(self.bdev) }
    }

    /// Writes back dirty page cache of bytes `[start, end]` of the device.
    pub fn write_and_wait(&self, start: u64, end: u64) -> Result {
        // SAFETY: the file is live; `f_mapping` is its page cache.
        let ret = unsafe {
            bindings::filemap_write_and_wait_range(
                (*self.file.as_ptr()).f_mapping,
                start as i64,
                end as i64,
            )
        };
        kernel::error::to_result(ret)
    }

    /// Whether bytes `[start, end]` have page cache that is dirty or under
    /// writeback ([`Self::write_and_wait`] would wait for I/O).
    pub fn needs_writeback(&self, start: u64, end: u64) -> bool {
        // SAFETY: the file is live.
        unsafe { bindings::blkcopy_file_range_needs_writeback(self.file.as_ptr(), start as i64, end as i64) }
    }

    /// Whether bytes `[start, end]` have any page in the page cache
    /// ([`Self::invalidate`] may wait for I/O on them).
    pub fn has_cached(&self, start: u64, end: u64) -> bool {
        // SAFETY: the file is live; `f_mapping` is its page cache.
        unsafe { bindings::filemap_range_has_page((*self.file.as_ptr()).f_mapping, start as i64, end as i64) }
    }

    /// Drops (after writing back) the page cache of bytes `[start, end]`, so
    /// that later reads see what the device holds.
    pub fn invalidate(&self, start: u64, end: u64) -> Result {
        self.write_and_wait(start, end)?;
        let shift = kernel::page::PAGE_SHIFT;
        // SAFETY: the file is live; `f_mapping` is its page cache.
        let ret = unsafe {
            bindings::invalidate_inode_pages2_range(
                (*self.file.as_ptr()).f_mapping,
                (start >> shift) as usize,
                (end >> shift) as usize,
            )
        };
        kernel::error::to_result(ret)
    }
}

impl Drop for BdevFile {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we hold a reference from `fget`.
        unsafe { bindings::fput(self.file.as_ptr()) };
    }
}

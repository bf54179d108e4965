// SPDX-License-Identifier: GPL-2.0

//! debugfs files whose text is generated at read time, optionally taking a
//! short command on write (such as resetting a peak counter).

use core::fmt;
use core::ptr::null_mut;

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::error::{code::*, Result};
use kernel::str::CStr;
use kernel::uaccess::UserSlice;
use kernel::ThisModule;

use super::bindings;

/// Text sink for [`Show::show`].
pub struct Text(KVec<u8>);

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes(), GFP_KERNEL).map_err(|_| fmt::Error)
    }
}

/// What a debugfs file shows: the file's data (given to [`Dir::add`])
/// implements it.
pub trait Show: Sync + 'static {
    /// Writes the file's contents.
    fn show(&self, out: &mut Text) -> fmt::Result;
}

/// What a writable debugfs file does with what is written to it.
pub trait Store: Show {
    /// Acts on one write's bytes (at most [`STORE_MAX`], not
    /// NUL-terminated); an error is the write's result.
    fn store(&self, input: &[u8]) -> Result;
}

/// Most bytes one write to a [`Store`] file may carry (more: `EINVAL`).
pub const STORE_MAX: usize = 64;

/// A debugfs directory (removed with everything in it on drop).
pub struct Dir {
    dentry: *mut bindings::dentry,
    fops: KVec<KBox<bindings::file_operations>>,
}

// SAFETY: dentries are reference-managed by debugfs; the fops boxes are
// only read by the VFS.
unsafe impl Send for Dir {}
// SAFETY: as above.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates `/sys/kernel/debug/<name>`. Without debugfs the directory
    /// and its files silently do not exist (as debugfs intends).
    pub fn new(name: &'static CStr) -> Self {
        // SAFETY: `name` is NUL-terminated and static; a null parent means
        // the debugfs root.
        let dentry = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), null_mut()) };
        Dir { dentry, fops: KVec::new() }
    }

    /// Adds a read-only file showing `data`.
    pub fn add<T: Show>(&mut self, name: &'static CStr, data: &'static T, module: &'static ThisModule) -> Result {
        let fops = bindings::file_operations {
            owner: module.as_ptr(),
            read: Some(read::<T>),
            llseek: Some(bindings::default_llseek),
            ..Default::default()
        };
        self.create(name, 0o444, data as *const T as *mut core::ffi::c_void, fops)
    }

    /// Adds a file showing `data` that root may also write to ([`Store`]).
    pub fn add_writable<T: Store>(
        &mut self,
        name: &'static CStr,
        data: &'static T,
        module: &'static ThisModule,
    ) -> Result {
        let fops = bindings::file_operations {
            owner: module.as_ptr(),
            read: Some(read::<T>),
            write: Some(write::<T>),
            llseek: Some(bindings::default_llseek),
            ..Default::default()
        };
        self.create(name, 0o644, data as *const T as *mut core::ffi::c_void, fops)
    }

    fn create(
        &mut self,
        name: &'static CStr,
        mode: u16,
        data: *mut core::ffi::c_void,
        fops: bindings::file_operations,
    ) -> Result {
        let fops = KBox::new(fops, GFP_KERNEL)?;
        // SAFETY: `name` is static; `data` is a `&'static` of the type the
        // fops' functions read it as (the inode's `i_private`); `fops`
        // stays alive (owned by `self`) until `drop` removes the file, and
        // debugfs' proxy keeps readers and writers from running after.
        unsafe {
            bindings::debugfs_create_file(name.as_char_ptr(), mode, self.dentry, data, &*fops);
        }
        self.fops.push(fops, GFP_KERNEL).map_err(|_| ENOMEM)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: removes the directory and its files, waiting for readers.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// The data a file of [`Dir`] was created with.
///
/// # Safety
///
/// `file` is an open file of a [`Dir`] file created for a `T`.
unsafe fn data<'a, T>(file: *mut bindings::file) -> &'a T {
    // SAFETY: per the contract the inode's private pointer is the
    // `&'static T` given to `Dir::add`.
    unsafe { &*((*(*file).f_inode).i_private as *const T) }
}

/// # Safety
///
/// Called by the VFS for a file created by [`Dir::add`] for a `T`.
unsafe extern "C" fn read<T: Show>(
    file: *mut bindings::file,
    buf: *mut kernel::ffi::c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    let mut text = Text(KVec::new());
    // SAFETY: a file of `Dir` created for a `T` (function contract).
    let this = unsafe { data::<T>(file) };
    if this.show(&mut text).is_err() {
        return ENOMEM.to_errno() as isize;
    }
    // SAFETY: `buf`, `count` and `ppos` come from the VFS read path;
    // `simple_read_from_buffer` copies at most `count` bytes to user space.
    unsafe {
        bindings::simple_read_from_buffer(
            buf as *mut core::ffi::c_void,
            count,
            ppos,
            text.0.as_ptr() as *const core::ffi::c_void,
            text.0.len(),
        )
    }
}

/// # Safety
///
/// Called by the VFS for a file created by [`Dir::add_writable`] for a `T`.
unsafe extern "C" fn write<T: Store>(
    file: *mut bindings::file,
    buf: *const kernel::ffi::c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    let mut input = [0u8; STORE_MAX];
    let Some(input) = input.get_mut(..count) else { return EINVAL.to_errno() as isize };
    // `buf` is a user pointer of `count` bytes, from the VFS write path; the
    // reader checks it like any user access.
    if let Err(e) = UserSlice::new(buf as usize, count).reader().read_slice(input) {
        return e.to_errno() as isize;
    }
    // SAFETY: a file of `Dir` created for a `T` (function contract).
    match unsafe { data::<T>(file) }.store(input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

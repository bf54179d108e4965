// SPDX-License-Identifier: GPL-2.0

//! Device-mapper targets (`include/linux/device-mapper.h`).
//!
//! A target type is a [`Target`] implementation (`#[vtable]`: dm gets only
//! the callbacks the type implements, as `rust/kernel/net/phy.rs` does);
//! [`Registration`] registers it with device-mapper for as long as it
//! lives. Each table line of the
//! type gets its own `T` (made by [`Target::ctr`], dropped by the target's
//! destructor), stored in the `dm_target`'s `private`. Every bio dm hands
//! a target carries a 64-bit tag the target may use between `map` and
//! `end_io` (dm's per-bio data).

use core::ffi::c_void;
use kernel::ffi::{c_char, c_int, c_uint};
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{null_mut, NonNull};

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::error::{code::*, Error, Result};
use kernel::error::VTABLE_DEFAULT_ERROR;
use kernel::prelude::vtable;
use kernel::str::CStr;
use kernel::types::ForeignOwnable;
use kernel::ThisModule;

use super::bindings;
use super::block::Bdev;

/// Bytes of per-bio data every target of this module gets (the tag).
const PER_BIO: usize = core::mem::size_of::<u64>();

/// What `map` did with a bio.
pub enum Mapped {
    /// The bio was re-addressed ([`DmBio::set_target`]); dm submits it.
    Remapped(DmBio),
    /// The target kept the bio, and will submit or end it later.
    Submitted,
    /// The bio cannot be mapped: dm ends it with an I/O error.
    Kill(DmBio),
}

/// Feature flags of a target type (`DM_TARGET_*`), for [`Target::FEATURES`].
pub mod feature {
    use super::bindings;
    /// Bios with an integrity payload pass through unchanged: the mapped
    /// device gets the integrity profile of the devices below.
    pub const PASSES_INTEGRITY: u32 = bindings::DM_TARGET_PASSES_INTEGRITY;
    /// `map` never blocks: the mapped device takes REQ_NOWAIT bios.
    pub const NOWAIT: u32 = bindings::DM_TARGET_NOWAIT;
    /// Bios with an inline-encryption context pass through unchanged.
    pub const PASSES_CRYPTO: u32 = bindings::DM_TARGET_PASSES_CRYPTO;
}

/// A bio dm handed to a target (dm's clone of the mapped device's bio).
///
/// A bio the target keeps from `map` must be submitted ([`DmBio::submit`])
/// or ended ([`DmBio::end`]); dropping it ends it with an I/O error, so
/// that nothing waits for it for ever.
pub struct DmBio {
    bio: NonNull<bindings::bio>,
}

// SAFETY: a bio in flight may be submitted or ended from any thread.
unsafe impl Send for DmBio {}

impl DmBio {
    fn raw(&self) -> *mut bindings::bio {
        self.bio.as_ptr()
    }

    /// The operation (`REQ_OP_*`).
    pub fn op(&self) -> u32 {
        // SAFETY: a live bio.
        unsafe { (*self.raw()).bi_opf & bindings::BLKCOPY_REQ_OP_MASK }
    }

    /// Whether the bio writes (`op_is_write()`).
    pub fn is_write(&self) -> bool {
        self.op() & 1 != 0
    }

    /// Whether the bio asks for a cache flush first (`REQ_PREFLUSH`).
    pub fn is_preflush(&self) -> bool {
        // SAFETY: a live bio.
        unsafe { (*self.raw()).bi_opf & (1 << bindings::req_flag_bits___REQ_PREFLUSH) != 0 }
    }

    /// First sector (on the mapped device, before [`DmBio::set_target`]).
    pub fn sector(&self) -> u64 {
        // SAFETY: a live bio.
        unsafe { (*self.raw()).bi_iter.bi_sector }
    }

    /// Length in bytes.
    pub fn size(&self) -> u32 {
        // SAFETY: a live bio.
        unsafe { (*self.raw()).bi_iter.bi_size }
    }

    /// Re-addresses the bio to `sector` of `bdev`.
    pub fn set_target(&mut self, bdev: Bdev<'static>, sector: u64) {
        // SAFETY: a live bio the target owns; `bdev` is a device the
        // target holds open.
        unsafe {
            bindings::blkcopy_bio_set_dev(self.raw(), bdev.as_ptr());
            (*self.raw()).bi_iter.bi_sector = sector;
        }
    }

    fn tag_ptr(&self) -> *mut u64 {
        // SAFETY: every target of this module asks dm for `PER_BIO` bytes
        // of per-bio data, 8-byte aligned in front of the bio.
        unsafe { bindings::dm_per_bio_data(self.raw(), PER_BIO) as *mut u64 }
    }

    /// The tag the target set in `map` (0 unless it set one: the adapter
    /// zeroes it before calling `map`).
    pub fn tag(&self) -> u64 {
        // SAFETY: the bio's per-bio data, see `tag_ptr`.
        unsafe { *self.tag_ptr() }
    }

    /// Sets the tag `end_io` sees.
    pub fn set_tag(&mut self, tag: u64) {
        // SAFETY: as above.
        unsafe { *self.tag_ptr() = tag };
    }

    /// Submits a bio kept from `map`, as re-addressed.
    pub fn submit(self) {
        let b = ManuallyDrop::new(self);
        // SAFETY: a bio `map` returned `DM_MAPIO_SUBMITTED` for; dm takes it.
        unsafe { bindings::dm_submit_bio_remap(b.raw(), null_mut()) };
    }

    /// Ends a bio kept from `map` with a `BLK_STS_*` status.
    pub fn end(self, status: u8) {
        let b = ManuallyDrop::new(self);
        // SAFETY: as above; ending it hands it back to dm.
        unsafe {
            (*b.raw()).bi_status = status;
            bindings::bio_endio(b.raw());
        }
    }
}

impl Drop for DmBio {
    fn drop(&mut self) {
        // SAFETY: a kept bio nobody submitted or ended (see the type).
        unsafe {
            (*self.raw()).bi_status = bindings::BLKCOPY_STS_IOERR;
            bindings::bio_endio(self.raw());
        }
    }
}

/// What `status` is asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StatusType {
    Info,
    Table,
    Ima,
}

/// A table line being constructed or mapped.
pub struct TargetRef {
    ti: NonNull<bindings::dm_target>,
}

impl TargetRef {
    fn ti(&self) -> *mut bindings::dm_target {
        self.ti.as_ptr()
    }

    /// First sector of the line on the mapped device.
    pub fn begin(&self) -> u64 {
        // SAFETY: `ti` is live for the callback this handle was made for.
        unsafe { (*self.ti()).begin }
    }

    /// Length of the line in sectors.
    pub fn len(&self) -> u64 {
        // SAFETY: as above.
        unsafe { (*self.ti()).len }
    }

    /// The mapped device's disk.
    pub fn disk(&self) -> *mut bindings::gendisk {
        // SAFETY: `ti` is live; its table belongs to a mapped device.
        unsafe { bindings::dm_disk(bindings::dm_table_get_md((*self.ti()).table)) }
    }

    /// Sets the message dm reports when `ctr` fails.
    pub fn set_error(&mut self, msg: &'static CStr) {
        // SAFETY: `ti` is live; the message is static.
        unsafe { (*self.ti()).error = msg.as_char_ptr() as *mut c_char };
    }

    /// Splits bios so that none crosses a multiple of `sectors` from the
    /// line's start.
    pub fn set_max_io_len(&mut self, sectors: u64) -> Result {
        // SAFETY: `ti` is live and being constructed.
        let ret = unsafe { bindings::dm_set_target_max_io_len(self.ti(), sectors) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Asks dm to send (empty) flush bios to the target.
    pub fn pass_flushes(&mut self) {
        // SAFETY: `ti` is live and being constructed.
        unsafe { (*self.ti()).num_flush_bios = 1 };
    }

    /// Lets dm send a table's flushes straight to the devices its lines
    /// use instead of through `map` (when every line of the table allows
    /// it), as dm-linear does. For targets that do nothing with a flush
    /// but pass it on.
    pub fn flush_bypasses_map(&mut self) {
        // SAFETY: `ti` is live and being constructed.
        unsafe { (*self.ti()).set_flush_bypasses_map(true) };
    }

    /// Asks dm to send flush, discard, secure erase and write-zeroes bios
    /// to the target too (one each), as dm-linear does.
    pub fn pass_all_bio_kinds(&mut self) {
        // SAFETY: `ti` is live and being constructed.
        unsafe {
            (*self.ti()).num_flush_bios = 1;
            (*self.ti()).num_discard_bios = 1;
            (*self.ti()).num_secure_erase_bios = 1;
            (*self.ti()).num_write_zeroes_bios = 1;
        }
    }

    /// Whether the table was loaded read-write.
    pub fn writable(&self) -> bool {
        // SAFETY: `ti` is live; its table too.
        unsafe { bindings::dm_table_get_mode((*self.ti()).table) & bindings::BLKCOPY_FMODE_WRITE != 0 }
    }

    /// Opens the device at `path` with the table's mode.
    pub fn get_device(&mut self, path: &CStr) -> Result<DmDev> {
        // SAFETY: `ti` is live; its table too.
        let mode = unsafe { bindings::dm_table_get_mode((*self.ti()).table) };
        self.get_device_mode(path, mode)
    }

    /// Opens the device at `path` for reading only. If the table opens
    /// the same device again in a wider mode, dm replaces the `dm_dev`
    /// and frees this one: use only for devices nothing else in the table
    /// opens read-write.
    pub fn get_device_read_only(&mut self, path: &CStr) -> Result<DmDev> {
        self.get_device_mode(path, bindings::BLKCOPY_FMODE_READ)
    }

    fn get_device_mode(&mut self, path: &CStr, mode: u32) -> Result<DmDev> {
        let mut dev: *mut bindings::dm_dev = null_mut();
        // SAFETY: `ti` is live and being constructed; `path` is NUL-terminated.
        let ret = unsafe { bindings::dm_get_device(self.ti(), path.as_char_ptr(), mode, &mut dev) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(DmDev { ti: self.ti, dev: NonNull::new(dev).ok_or(EINVAL)? })
    }
}

/// A device a table line uses, released on drop.
pub struct DmDev {
    ti: NonNull<bindings::dm_target>,
    dev: NonNull<bindings::dm_dev>,
}

// SAFETY: `dm_dev` is reference-managed by dm and used read-only here.
unsafe impl Send for DmDev {}
// SAFETY: as above.
unsafe impl Sync for DmDev {}

impl DmDev {
    /// The block device (open while the line holds it).
    pub fn bdev(&self) -> Bdev<'_> {
        // SAFETY: the dm_dev holds the device open until dropped.
        unsafe { Bdev::from_raw(NonNull::new_unchecked((*self.dev.as_ptr()).bdev)) }
    }

    /// The device's name as dm prints it (`major:minor`).
    pub fn name(&self) -> &CStr {
        // SAFETY: `name` is a NUL-terminated array fixed at open.
        unsafe { CStr::from_char_ptr((*self.dev.as_ptr()).name.as_ptr()) }
    }

    /// The raw `dm_dev`, for `iterate_devices` callouts.
    pub fn as_ptr(&self) -> *mut bindings::dm_dev {
        self.dev.as_ptr()
    }
}

impl Drop for DmDev {
    fn drop(&mut self) {
        // SAFETY: obtained from `dm_get_device` for this target.
        unsafe { bindings::dm_put_device(self.ti.as_ptr(), self.dev.as_ptr()) };
    }
}

/// Bios a target keeps (linked through `bi_next`, like `struct bio_list`),
/// in the order they were pushed.
pub struct BioList {
    head: *mut bindings::bio,
    tail: *mut bindings::bio,
}

// SAFETY: the list owns its bios, which may be handled from any thread.
unsafe impl Send for BioList {}

impl BioList {
    /// An empty list.
    pub const fn new() -> Self {
        Self { head: null_mut(), tail: null_mut() }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Appends a bio.
    pub fn push(&mut self, bio: DmBio) {
        let b = ManuallyDrop::new(bio).raw();
        // SAFETY: the list owns `b` from now on; `bi_next` is free while a
        // target holds the bio, and `tail` is a bio of this list.
        unsafe {
            (*b).bi_next = null_mut();
            if self.tail.is_null() {
                self.head = b;
            } else {
                (*self.tail).bi_next = b;
            }
        }
        self.tail = b;
    }

    /// Takes the first bio.
    pub fn pop(&mut self) -> Option<DmBio> {
        let bio = NonNull::new(self.head)?;
        // SAFETY: a bio of this list.
        unsafe {
            self.head = (*bio.as_ptr()).bi_next;
            (*bio.as_ptr()).bi_next = null_mut();
        }
        if self.head.is_null() {
            self.tail = null_mut();
        }
        Some(DmBio { bio })
    }
}

impl Drop for BioList {
    fn drop(&mut self) {
        // Each bio left ends (with an error) as it drops.
        while self.pop().is_some() {}
    }
}

/// Text a target's `status` writes into dm's result buffer.
pub struct StatusOut {
    buf: *mut c_char,
    len: usize,
    pos: usize,
}

impl core::fmt::Write for StatusOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        if self.pos >= self.len {
            // No room, not even for the NUL (a zero-length buffer).
            return Ok(());
        }
        // Keep room for the terminating NUL; truncate like DMEMIT does.
        let n = b.len().min(self.len - self.pos - 1);
        // SAFETY: `buf` has `len` bytes (dm's contract); `pos + n < len`.
        unsafe {
            core::ptr::copy_nonoverlapping(b.as_ptr(), self.buf.add(self.pos) as *mut u8, n);
            self.pos += n;
            *self.buf.add(self.pos) = 0;
        }
        Ok(())
    }
}

/// dm's callout over the devices of a table line (`iterate_devices`).
pub struct Devices {
    ti: *mut bindings::dm_target,
    callout: bindings::iterate_devices_callout_fn,
    data: *mut c_void,
    ret: c_int,
}

impl Devices {
    /// The line maps `len` sectors from sector `start` of `dev`. After a
    /// callout said stop (non-zero), further visits do nothing, as in
    /// dm's own targets.
    pub fn visit(&mut self, dev: &DmDev, start: u64, len: u64) {
        if self.ret != 0 {
            return;
        }
        if let Some(f) = self.callout {
            // SAFETY: dm's callout with its own data, for the line it
            // asked about; `dev` is a device of that line.
            self.ret = unsafe { f(self.ti, dev.as_ptr(), start, len, self.data) };
        }
    }
}

/// A device-mapper target type. The callbacks with a default body other
/// than `destroy` are optional: dm is given only those the type
/// implements (`HAS_*`).
#[vtable]
pub trait Target: Sized + Send + Sync + 'static {
    /// The type's name, as table lines name it.
    const NAME: &'static CStr;
    /// Version reported to dm.
    const VERSION: [u32; 3];
    /// The type's [`feature`] flags.
    const FEATURES: u32 = 0;

    /// Constructs a table line from its arguments.
    fn ctr(ti: &mut TargetRef, args: &[&CStr]) -> Result<Self>;
    /// Maps a bio.
    fn map(&self, ti: &TargetRef, bio: DmBio) -> Mapped;
    /// A bio `map` remapped has completed with `*status` (`BLK_STS_*`),
    /// which the target may change. May run in interrupt context.
    fn end_io(&self, _ti: &TargetRef, _bio: &DmBio, _status: &mut u8) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// A `dmsetup message` to the line.
    fn message(&self, _ti: &TargetRef, _args: &[&CStr]) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Writes the line's status or table text.
    fn status(&self, ti: &TargetRef, kind: StatusType, out: &mut StatusOut);
    /// Tells dm about each device the line uses ([`Devices::visit`]), for
    /// stacking queue limits and flushes (`iterate_devices`).
    fn iterate_devices(&self, ti: &TargetRef, devices: &mut Devices);
    /// The table becomes live.
    fn resume(&self, _ti: &TargetRef) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The table is about to be suspended (or replaced).
    fn presuspend(&self, _ti: &TargetRef) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// A suspend that called `presuspend` did not happen after all (when
    /// not implemented, dm calls `resume` instead).
    fn presuspend_undo(&self, _ti: &TargetRef) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The line is being destroyed (before `Self` is dropped). Always
    /// called; nothing by default.
    fn destroy(&self, _ti: &TargetRef) {}
    /// The device ioctls on the mapped device are passed to, and whether
    /// the line covers only part of it (dm then allows only safe ioctls).
    fn ioctl_device(&self, _ti: &TargetRef) -> Option<(Bdev<'_>, bool)> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
}

struct Adapter<T>(PhantomData<T>);

impl<T: Target> Adapter<T> {
    /// The line dm calls a callback for, and its `T`.
    ///
    /// # Safety
    ///
    /// `ti` is a live `dm_target` of this type whose `ctr` succeeded, and
    /// stays so for `'a` (the callback's duration; `dtr` frees the `T`).
    unsafe fn this<'a>(ti: *mut bindings::dm_target) -> (TargetRef, &'a T) {
        // SAFETY: per the contract `ti` is live and `private` is the
        // `KBox<T>` `ctr` made foreign, taken back only by `dtr`.
        unsafe { (TargetRef { ti: NonNull::new_unchecked(ti) }, KBox::<T>::borrow((*ti).private)) }
    }

    unsafe extern "C" fn ctr(ti: *mut bindings::dm_target, argc: c_uint, argv: *mut *mut c_char) -> c_int {
        let mut r = TargetRef { ti: match NonNull::new(ti) { Some(t) => t, None => return EINVAL.to_errno() } };
        // SAFETY: dm passes `argc` strings that live during the call.
        let Some(strs) = (unsafe { Self::args(argc, argv) }) else {
            r.set_error(kernel::c_str!("Too many arguments"));
            return EINVAL.to_errno();
        };
        // SAFETY: `ti` is live and being constructed.
        unsafe { (*ti).per_io_data_size = PER_BIO as c_uint };
        match T::ctr(&mut r, &strs[..argc as usize]) {
            Ok(t) => match KBox::new(t, GFP_KERNEL) {
                Ok(b) => {
                    // SAFETY: `ti` is live; `dtr` takes the box back.
                    unsafe { (*ti).private = b.into_foreign() as *mut c_void };
                    0
                }
                Err(_) => ENOMEM.to_errno(),
            },
            Err(e) => e.to_errno(),
        }
    }

    /// The first `argc` (at most 16) strings of `argv`.
    ///
    /// # Safety
    ///
    /// `argv` has `argc` NUL-terminated strings that outlive `'a`.
    unsafe fn args<'a>(argc: c_uint, argv: *mut *mut c_char) -> Option<[&'a CStr; 16]> {
        let mut args = [c"".as_ptr() as *const c_char; 16];
        let n = argc as usize;
        if n > args.len() {
            return None;
        }
        for (i, a) in args.iter_mut().take(n).enumerate() {
            // SAFETY: `argv` has `argc` entries (contract).
            *a = unsafe { *argv.add(i) };
        }
        // SAFETY: each entry is a NUL-terminated string living for `'a`.
        Some(core::array::from_fn(|i| unsafe { CStr::from_char_ptr(args[i]) }))
    }

    unsafe extern "C" fn dtr(ti: *mut bindings::dm_target) {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        t.destroy(&r);
        // SAFETY: `private` is the box `ctr` made foreign; nothing uses it
        // after.
        drop(unsafe { KBox::<T>::from_foreign((*ti).private) });
    }

    unsafe extern "C" fn map(ti: *mut bindings::dm_target, bio: *mut bindings::bio) -> c_int {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        let Some(bio) = NonNull::new(bio) else { return bindings::DM_MAPIO_KILL as c_int };
        let mut bio = DmBio { bio };
        // dm does not initialise per-bio data: `tag` is defined from here.
        bio.set_tag(0);
        match t.map(&r, bio) {
            Mapped::Remapped(b) => {
                // dm submits it.
                let _ = ManuallyDrop::new(b);
                bindings::DM_MAPIO_REMAPPED as c_int
            }
            Mapped::Submitted => bindings::DM_MAPIO_SUBMITTED as c_int,
            Mapped::Kill(b) => {
                // dm ends it.
                let _ = ManuallyDrop::new(b);
                bindings::DM_MAPIO_KILL as c_int
            }
        }
    }

    unsafe extern "C" fn end_io(ti: *mut bindings::dm_target, bio: *mut bindings::bio, error: *mut u8) -> c_int {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        if let (Some(bio), false) = (NonNull::new(bio), error.is_null()) {
            // dm keeps the bio: borrowed, never ended here.
            let b = ManuallyDrop::new(DmBio { bio });
            // SAFETY: dm passes the bio's status to update.
            t.end_io(&r, &b, unsafe { &mut *error });
        }
        bindings::DM_ENDIO_DONE as c_int
    }

    unsafe extern "C" fn message(
        ti: *mut bindings::dm_target,
        argc: c_uint,
        argv: *mut *mut c_char,
        _result: *mut c_char,
        _maxlen: c_uint,
    ) -> c_int {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        // SAFETY: dm passes `argc` strings that live during the call.
        let Some(strs) = (unsafe { Self::args(argc, argv) }) else { return EINVAL.to_errno() };
        match t.message(&r, &strs[..argc as usize]) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    unsafe extern "C" fn status(
        ti: *mut bindings::dm_target,
        kind: bindings::status_type_t,
        _flags: c_uint,
        result: *mut c_char,
        maxlen: c_uint,
    ) {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        let kind = match kind {
            bindings::status_type_t_STATUSTYPE_INFO => StatusType::Info,
            bindings::status_type_t_STATUSTYPE_TABLE => StatusType::Table,
            _ => StatusType::Ima,
        };
        let mut out = StatusOut { buf: result, len: maxlen as usize, pos: 0 };
        if out.len > 0 {
            // SAFETY: dm's buffer has `maxlen` bytes.
            unsafe { *result = 0 };
        }
        t.status(&r, kind, &mut out);
    }

    unsafe extern "C" fn iterate_devices(
        ti: *mut bindings::dm_target,
        fn_: bindings::iterate_devices_callout_fn,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        let mut devices = Devices { ti, callout: fn_, data, ret: 0 };
        t.iterate_devices(&r, &mut devices);
        devices.ret
    }

    unsafe extern "C" fn resume(ti: *mut bindings::dm_target) {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        t.resume(&r);
    }

    unsafe extern "C" fn presuspend(ti: *mut bindings::dm_target) {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        t.presuspend(&r);
    }

    unsafe extern "C" fn prepare_ioctl(
        ti: *mut bindings::dm_target,
        bdev: *mut *mut bindings::block_device,
    ) -> c_int {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        match t.ioctl_device(&r) {
            Some((b, partial)) => {
                // SAFETY: dm passes a valid out pointer.
                unsafe { *bdev = b.as_ptr() };
                c_int::from(partial)
            }
            None => ENOTTY.to_errno(),
        }
    }

    unsafe extern "C" fn presuspend_undo(ti: *mut bindings::dm_target) {
        // SAFETY: dm calls target callbacks with a live, constructed line.
        let (r, t) = unsafe { Self::this(ti) };
        if T::HAS_PRESUSPEND_UNDO {
            t.presuspend_undo(&r);
        } else {
            t.resume(&r);
        }
    }
}

/// A registered target type.
pub struct Registration<T: Target> {
    tt: KBox<bindings::target_type>,
    _t: PhantomData<T>,
}

// SAFETY: the target_type is only read by dm after registration.
unsafe impl<T: Target> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: Target> Sync for Registration<T> {}

impl<T: Target> Registration<T> {
    /// Registers target type `T`, owned by `module` (dm holds a reference
    /// on it while a table uses the type).
    pub fn new(module: &'static ThisModule) -> Result<Self> {
        let tt = KBox::new(
            bindings::target_type {
                features: T::FEATURES as u64,
                name: T::NAME.as_char_ptr(),
                module: module.as_ptr(),
                version: T::VERSION,
                ctr: Some(Adapter::<T>::ctr),
                dtr: Some(Adapter::<T>::dtr),
                map: Some(Adapter::<T>::map),
                end_io: if T::HAS_END_IO { Some(Adapter::<T>::end_io) } else { None },
                message: if T::HAS_MESSAGE { Some(Adapter::<T>::message) } else { None },
                status: Some(Adapter::<T>::status),
                iterate_devices: Some(Adapter::<T>::iterate_devices),
                resume: if T::HAS_RESUME { Some(Adapter::<T>::resume) } else { None },
                presuspend: if T::HAS_PRESUSPEND { Some(Adapter::<T>::presuspend) } else { None },
                presuspend_undo: if T::HAS_PRESUSPEND_UNDO || T::HAS_RESUME {
                    Some(Adapter::<T>::presuspend_undo)
                } else {
                    None
                },
                prepare_ioctl: if T::HAS_IOCTL_DEVICE { Some(Adapter::<T>::prepare_ioctl) } else { None },
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
        let mut reg = Self { tt, _t: PhantomData };
        // SAFETY: the target_type is fully set up and stays at this heap
        // address until `drop` unregisters it.
        let ret = unsafe { bindings::dm_register_target(&mut *reg.tt) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(reg)
    }
}

impl<T: Target> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; dm refuses module removal while a
        // table uses the type, so no line exists any more.
        unsafe { bindings::dm_unregister_target(&mut *self.tt) };
    }
}

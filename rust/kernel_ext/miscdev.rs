// SPDX-License-Identifier: GPL-2.0

//! Misc character devices (`include/linux/miscdevice.h`).
//!
//! The 6.12 kernel crate has no miscdevice abstraction (it arrived in 6.13),
//! so this is the minimal one blkcopy needs: a device node whose `ioctl`
//! and io_uring command (`uring_cmd`, [`super::uring_cmd`]) calls go to a
//! [`MiscDevice`] implementation.

use core::marker::PhantomPinned;
use core::ptr::{addr_of_mut, NonNull};

use kernel::error::{Error, Result};
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::init::PinInit;
use kernel::str::CStr;
use kernel::types::Opaque;
use kernel::ThisModule;

use super::bindings;
use super::uring_cmd::{self, Issued, QueuedCmd, UringCmd};

/// What a misc device does when user space talks to it: the operations it
/// implements are in its file operations, the others are not.
#[vtable]
pub trait MiscDevice: Sync + Send + 'static {
    /// What the device keeps for each io_uring command it queues.
    type CmdData: QueuedCmd;

    /// Handles `ioctl(fd, cmd, arg)` on the device node. The returned value
    /// goes back to user space; an error becomes `-errno`.
    fn ioctl(&self, _cmd: u32, _arg: usize) -> Result<isize> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Handles an `IORING_OP_URING_CMD` on a file of the node: answers at
    /// once or queues it ([`UringCmd::queue`]). Must not wait for I/O when
    /// issued non-blocking ([`uring_cmd::IssueFlags::nonblock`]).
    fn uring_cmd(&self, _cmd: UringCmd<'_, Self::CmdData>) -> Result<Issued> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A registered misc device: the node exists from construction to drop.
///
/// # Invariants
///
/// `misc` is registered with the misc core and `misc.fops` points to `fops`,
/// whose `owner` is the module that owns this registration. Because an open
/// file holds a reference on that module, the registration outlives every
/// open file of the node.
pub struct Registration<T: MiscDevice> {
    misc: Opaque<bindings::miscdevice>,
    fops: Opaque<bindings::file_operations>,
    data: T,
    _pin: PhantomPinned,
}

// SAFETY: after registration the C structures are only read by the misc core
// (which serialises with its own mutex) and `data` is `Sync + Send`.
unsafe impl<T: MiscDevice> Sync for Registration<T> {}
// SAFETY: as above; nothing in the registration is tied to a thread.
unsafe impl<T: MiscDevice> Send for Registration<T> {}

impl<T: MiscDevice> Registration<T> {
    /// Registers a misc device named `name` (the node is `/dev/<name>`) with a
    /// dynamic minor, handled by `data`.
    pub fn new(
        name: &'static CStr,
        data: T,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes and pinned (contract of
            // `pin_init_from_closure`); every field is written before use.
            unsafe {
                addr_of_mut!((*slot).data).write(data);
                let fops = Opaque::raw_get(addr_of_mut!((*slot).fops));
                fops.write(bindings::file_operations {
                    owner: module.as_ptr(),
                    unlocked_ioctl: if T::HAS_IOCTL { Some(Self::ioctl_trampoline) } else { None },
                    #[cfg(CONFIG_COMPAT)]
                    compat_ioctl: if T::HAS_IOCTL { Some(Self::ioctl_trampoline) } else { None },
                    uring_cmd: if T::HAS_URING_CMD { Some(Self::uring_cmd_trampoline) } else { None },
                    ..Default::default()
                });
                let misc = Opaque::raw_get(addr_of_mut!((*slot).misc));
                misc.write(bindings::miscdevice {
                    minor: bindings::MISC_DYNAMIC_MINOR as i32,
                    name: name.as_char_ptr(),
                    fops,
                    mode: 0o600,
                    ..Default::default()
                });
                // SAFETY: `misc` is fully initialised and stays at this
                // address until `drop` deregisters it.
                let ret = bindings::misc_register(misc);
                if ret != 0 {
                    core::ptr::drop_in_place(addr_of_mut!((*slot).data));
                    return Err(Error::from_errno(ret));
                }
            }
            Ok(())
        };
        // SAFETY: the closure initialises every field or, on error, drops
        // what it initialised and returns the error.
        unsafe { kernel::init::pin_init_from_closure(init) }
    }

    /// The device's dynamic minor number.
    pub fn minor(&self) -> i32 {
        // SAFETY: `misc` was initialised by `new`; the misc core wrote the
        // minor during registration and does not change it afterwards.
        unsafe { (*self.misc.get()).minor }
    }

    /// The registration a file of the node belongs to.
    ///
    /// # Safety
    ///
    /// `file` is an open file of a registration's node, and stays open
    /// for `'a`.
    unsafe fn of_file<'a>(file: *mut bindings::file) -> &'a Self {
        // SAFETY: `misc_open()` stored our `miscdevice` in `private_data`,
        // and by the type invariant the registration it is embedded in is
        // alive while the file is open.
        unsafe {
            let misc = (*file).private_data as *const bindings::miscdevice;
            &*kernel::container_of!(misc, Self, misc)
        }
    }

    unsafe extern "C" fn ioctl_trampoline(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: the ioctl is on an open file of our node, held open for
        // the call.
        let this = unsafe { Self::of_file(file) };
        match this.data.ioctl(cmd, arg as usize) {
            Ok(v) => v as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    unsafe extern "C" fn uring_cmd_trampoline(cmd: *mut bindings::io_uring_cmd, flags: c_uint) -> c_int {
        let Some(cmd) = NonNull::new(cmd) else { return EINVAL.to_errno() };
        if uring_cmd::is_cancel(flags) {
            // SAFETY: only commands `uring_cmd` queued are cancelable, and
            // they were queued with `T::CmdData`.
            unsafe { uring_cmd::cancel::<T::CmdData>(cmd) };
            return 0;
        }
        // SAFETY: io_uring holds the command's file, a file of our node,
        // until the command completes.
        let this = unsafe { Self::of_file(bindings::blkcopy_uring_cmd_file(cmd.as_ptr())) };
        // SAFETY: the command and flags of this call, not a cancel.
        let c = unsafe { UringCmd::from_raw(cmd, flags) };
        uring_cmd::issue_result(this.data.uring_cmd(c))
    }
}

impl<T: MiscDevice> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `misc` is registered; deregistering
        // removes the node, after which the misc core no longer uses it.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

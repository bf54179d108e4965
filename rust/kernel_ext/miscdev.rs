// SPDX-License-Identifier: GPL-2.0

//! Misc character devices (`include/linux/miscdevice.h`).
//!
//! The 6.12 kernel crate has no miscdevice abstraction (it arrived in 6.13),
//! so this is the minimal one blkcopy needs: a device node whose `ioctl`
//! calls go to a [`MiscDevice`] implementation.

use core::marker::PhantomPinned;
use core::ptr::addr_of_mut;

use kernel::error::{Error, Result};
use kernel::ffi::{c_long, c_uint, c_ulong};
use kernel::init::PinInit;
use kernel::str::CStr;
use kernel::types::Opaque;
use kernel::ThisModule;

use super::bindings;

/// What a misc device does when user space talks to it.
pub trait MiscDevice: Sync + Send + 'static {
    /// Handles `ioctl(fd, cmd, arg)` on the device node. The returned value
    /// goes back to user space; an error becomes `-errno`.
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize>;
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
                    unlocked_ioctl: Some(Self::ioctl_trampoline),
                    #[cfg(CONFIG_COMPAT)]
                    compat_ioctl: Some(Self::ioctl_trampoline),
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

    unsafe extern "C" fn ioctl_trampoline(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: `file` is an open file of our node: `misc_open()` stored
        // our `miscdevice` in `private_data`, and by the type invariant the
        // registration it is embedded in is alive while the file is open.
        let this = unsafe {
            let misc = (*file).private_data as *const bindings::miscdevice;
            &*kernel::container_of!(misc, Self, misc)
        };
        match this.data.ioctl(cmd, arg as usize) {
            Ok(v) => v as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }
}

impl<T: MiscDevice> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `misc` is registered; deregistering
        // removes the node, after which the misc core no longer uses it.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The fallback engine: copies through host buffers whatever part of a
//! copy its device commands did not.
//!
//! Its work is the gaps in the copy's copied bytes, in the copy's logical
//! space (its ranges concatenated); it cuts them into chunks of at most
//! one buffer, never across one of the copy's segments, and keeps up to
//! [`FB_DEPTH`] buffers busy, each read and then written back in turn
//! (pipelined). Buffers come from `fallback_mem` (the pool, or one of the
//! reserve's when memory is short). The engine issues no I/O itself: the
//! job turns each chunk it hands out into a read and then a write bio, and
//! reports how they ended.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

use crate::fallback_mem::{Buffer, Reserve, RESERVE_CHUNK};
use crate::kernel_ext::bindings;
use crate::kernel_ext::bio::BufPage;

/// Bytes per chunk (one bio of order-0 pages).
pub(crate) const FB_CHUNK: usize = 1 << 20;
/// Chunks in flight per copy (reads and writes pipelined).
pub(crate) const FB_DEPTH: usize = 4;

struct Slot {
    buf: Buffer,
    busy: bool,
}

/// One copy's fallback.
pub(crate) struct Fallback {
    /// Uncopied logical extents, and the cursor in them.
    todo: KVec<(u64, u64)>,
    idx: usize,
    pos: u64,
    slots: KVec<Slot>,
    /// Buffers wanted (up to [`FB_DEPTH`]).
    want: usize,
    /// Bytes of each buffer: [`FB_CHUNK`], or less for less work.
    chunk: usize,
    /// Bytes copied so far.
    emulated: u64,
}

impl Fallback {
    /// A fallback for up to `max_gaps` extents of work, its room taken
    /// now: nothing on the fallback's path allocates but its buffers.
    pub(crate) fn new(max_gaps: usize) -> Result<Self> {
        Ok(Fallback {
            todo: KVec::with_capacity(max_gaps, GFP_KERNEL)?,
            idx: 0,
            pos: 0,
            slots: KVec::with_capacity(FB_DEPTH, GFP_KERNEL)?,
            want: 0,
            chunk: FB_CHUNK,
            emulated: 0,
        })
    }

    /// Takes the work (`gaps`, at most the room taken by `new`) and sizes
    /// the buffers: [`FB_CHUNK`] bytes, or fewer pages for less work, a
    /// multiple of `lbs` (the larger logical block size of the devices).
    pub(crate) fn plan(&mut self, gaps: impl Iterator<Item = (u64, u64)>, lbs: usize) -> Result {
        self.clear();
        for g in gaps {
            self.todo.push(g, GFP_KERNEL)?;
        }
        let todo_bytes = self.todo.iter().map(|g| g.1).sum::<u64>();
        if todo_bytes == 0 {
            return Ok(());
        }
        let chunk = (todo_bytes.min(FB_CHUNK as u64) as usize).next_multiple_of(PAGE_SIZE).next_multiple_of(lbs.max(1));
        self.chunk = chunk.min(FB_CHUNK);
        self.want = FB_DEPTH.min(todo_bytes.div_ceil(self.chunk as u64) as usize);
        Ok(())
    }

    /// Drops the work not yet handed out.
    pub(crate) fn clear(&mut self) {
        // SAFETY: the elements are `Copy`: nothing to drop.
        unsafe { self.todo.set_len(0) };
        self.idx = 0;
        self.pos = 0;
    }

    /// Whether work remains to be handed out.
    pub(crate) fn work_left(&self) -> bool {
        self.idx < self.todo.len()
    }

    /// Whether the fallback holds buffers.
    pub(crate) fn has_buffers(&self) -> bool {
        !self.slots.is_empty()
    }

    /// Takes the buffers: up to `want` from the pool (the first regardless
    /// of its limit, so that every copy makes progress), or, when not even
    /// one can be allocated, one of `reserve`'s; `wait` queues the copy for
    /// the reserve when it is empty too (see [`Reserve::take`]). `ENOMEM`
    /// when no reserve buffer holds a block of `lbs` bytes.
    pub(crate) fn take_buffers(
        &mut self,
        lbs: usize,
        reserve: &'static Reserve,
        wait: impl FnOnce(*mut bindings::llist_head),
    ) -> Result {
        let npages = self.chunk / PAGE_SIZE;
        for i in 0..self.want {
            let Some(buf) = Buffer::alloc(npages, i == 0) else { break };
            // Within the room taken by `new`.
            if self.slots.push(Slot { buf, busy: false }, GFP_KERNEL).is_err() {
                break;
            }
        }
        if !self.slots.is_empty() {
            return Ok(());
        }
        if lbs > RESERVE_CHUNK {
            // No reserve buffer holds a block: wait for memory instead.
            return Err(ENOMEM);
        }
        if let Some(buf) = reserve.take(wait) {
            self.chunk = self.chunk.min(RESERVE_CHUNK);
            let _ = self.slots.push(Slot { buf, busy: false }, GFP_KERNEL);
        }
        Ok(())
    }

    /// The next chunk to read into an idle buffer: `(slot, logical
    /// offset, bytes)`, at most one buffer and never past `seg_end(loff)`
    /// (the end of the segment holding `loff`; `None`: no segment, stop).
    /// The slot is busy until [`Fallback::release`].
    pub(crate) fn next_read(&mut self, seg_end: impl Fn(u64) -> Option<u64>) -> Option<(u8, u64, u32)> {
        let slot = self.slots.iter().position(|s| !s.busy)?;
        while self.idx < self.todo.len() {
            let (gstart, glen) = self.todo[self.idx];
            if self.pos >= glen {
                self.idx += 1;
                self.pos = 0;
                continue;
            }
            let loff = gstart + self.pos;
            let seg_left = seg_end(loff)? - loff;
            let len = (glen - self.pos).min(seg_left).min(self.chunk as u64);
            self.pos += len;
            self.slots[slot].busy = true;
            return Some((slot as u8, loff, len as u32));
        }
        None
    }

    /// The pages of a slot's buffer.
    pub(crate) fn pages(&self, slot: u8) -> &[BufPage] {
        self.slots.get(slot as usize).map_or(&[], |s| s.buf.pages())
    }

    /// A slot's chunk was written (`len` bytes copied) or given up.
    pub(crate) fn release(&mut self, slot: u8, written: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.busy = false;
        }
        self.emulated += u64::from(written);
    }

    /// Bytes the fallback copied.
    pub(crate) fn emulated(&self) -> u64 {
        self.emulated
    }

    /// Gives the buffers back (to the pool, or to the reserve).
    pub(crate) fn drop_buffers(&mut self) {
        drop(core::mem::replace(&mut self.slots, KVec::new()));
    }
}

// SPDX-License-Identifier: GPL-2.0

//! NVMe Copy (NVM Command Set, opcode 19h): discovery fields and command
//! encoding, with source range descriptor format 0.

/// Copy command opcode.
pub const OPC_COPY: u8 = 0x19;
/// Identify Controller ONCS bit for Copy.
pub const ONCS_COPY: u16 = 1 << 8;
/// Bytes per format 0 source range descriptor.
pub const DESC_SIZE: usize = 32;

/// Copy limits of a namespace (Identify Namespace, NVM command set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyLimits {
    /// Maximum Single Source Range Length, in logical blocks.
    pub mssrl: u16,
    /// Maximum Copy Length, in logical blocks (all ranges of one command).
    pub mcl: u32,
    /// Maximum Source Range Count, 0-based.
    pub msrc: u8,
}

fn le16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes([*b.get(o)?, *b.get(o + 1)?, *b.get(o + 2)?, *b.get(o + 3)?]))
}

/// Reads MSSRL (bytes 74-75), MCL (76-79) and MSRC (80) from an Identify
/// Namespace data structure.
pub fn parse_id_ns(id: &[u8]) -> Option<CopyLimits> {
    Some(CopyLimits { mssrl: le16(id, 74)?, mcl: le32(id, 76)?, msrc: *id.get(80)? })
}

/// Reads ONCS (bytes 520-521) and OCFS, the optional copy formats supported
/// (534-535), from an Identify Controller data structure.
pub fn parse_id_ctrl(id: &[u8]) -> Option<(u16, u16)> {
    Some((le16(id, 520)?, le16(id, 534)?))
}

/// One source range, in logical blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceRange {
    pub slba: u64,
    /// Number of logical blocks (1-based here; the descriptor is 0-based).
    pub nlb: u32,
}

/// Why a command does not fit a namespace's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// No ranges, or more than MSRC + 1.
    RangeCount,
    /// A range of 0 blocks or longer than MSSRL.
    RangeLength,
    /// All ranges together longer than MCL.
    TotalLength,
    /// The descriptor buffer is too small.
    Buffer,
}

impl CopyLimits {
    /// Whether one Copy command with `ranges` is within the limits.
    pub fn check(&self, ranges: &[SourceRange]) -> Result<u64, LimitError> {
        if ranges.is_empty() || ranges.len() > usize::from(self.msrc) + 1 {
            return Err(LimitError::RangeCount);
        }
        let mut total = 0u64;
        for r in ranges {
            if r.nlb == 0 || r.nlb > u32::from(self.mssrl) {
                return Err(LimitError::RangeLength);
            }
            total += u64::from(r.nlb);
        }
        if total > u64::from(self.mcl) {
            return Err(LimitError::TotalLength);
        }
        Ok(total)
    }

    /// The limits in bytes for blocks of `1 << lba_shift` bytes:
    /// (per command, per range, ranges per command).
    pub fn in_bytes(&self, lba_shift: u32) -> (u64, u64, u32) {
        (
            u64::from(self.mcl) << lba_shift,
            u64::from(self.mssrl) << lba_shift,
            u32::from(self.msrc) + 1,
        )
    }
}

/// Writes format 0 source range descriptors for `ranges` into `out`;
/// returns the bytes used.
pub fn encode_descriptors(ranges: &[SourceRange], out: &mut [u8]) -> Result<usize, LimitError> {
    let need = ranges.len() * DESC_SIZE;
    if out.len() < need {
        return Err(LimitError::Buffer);
    }
    for (r, d) in ranges.iter().zip(out.chunks_exact_mut(DESC_SIZE)) {
        if r.nlb == 0 || r.nlb > 0x1_0000 {
            return Err(LimitError::RangeLength);
        }
        d.fill(0);
        d[8..16].copy_from_slice(&r.slba.to_le_bytes());
        d[16..18].copy_from_slice(&((r.nlb - 1) as u16).to_le_bytes());
    }
    Ok(need)
}

/// Command dword 12 of a Copy with `nr` ranges (format 0, no protection
/// information, no FUA, no limited retry).
pub fn cdw12(nr: usize) -> u32 {
    (nr.saturating_sub(1) as u32) & 0xff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identify() {
        let mut ns = [0u8; 4096];
        ns[74..76].copy_from_slice(&2048u16.to_le_bytes());
        ns[76..80].copy_from_slice(&8192u32.to_le_bytes());
        ns[80] = 127;
        assert_eq!(parse_id_ns(&ns), Some(CopyLimits { mssrl: 2048, mcl: 8192, msrc: 127 }));
        assert_eq!(parse_id_ns(&ns[..80]), None);
        let mut c = [0u8; 4096];
        c[520..522].copy_from_slice(&0x15du16.to_le_bytes());
        c[534..536].copy_from_slice(&0x3u16.to_le_bytes());
        assert_eq!(parse_id_ctrl(&c), Some((0x15d, 3)));
        assert_ne!(0x15d & ONCS_COPY, 0);
    }

    #[test]
    fn limits() {
        let l = CopyLimits { mssrl: 8, mcl: 64, msrc: 3 };
        let r = |n| SourceRange { slba: 0, nlb: n };
        assert_eq!(l.check(&[r(8), r(8)]), Ok(16));
        assert_eq!(l.check(&[r(9)]), Err(LimitError::RangeLength));
        assert_eq!(l.check(&[r(0)]), Err(LimitError::RangeLength));
        assert_eq!(l.check(&[r(1); 5]), Err(LimitError::RangeCount));
        assert_eq!(l.check(&[]), Err(LimitError::RangeCount));
        let big = CopyLimits { mssrl: 40, mcl: 64, msrc: 3 };
        assert_eq!(big.check(&[r(40), r(40)]), Err(LimitError::TotalLength));
        assert_eq!(l.in_bytes(9), (64 * 512, 8 * 512, 4));
        assert_eq!(l.in_bytes(12), (64 * 4096, 8 * 4096, 4));
    }

    #[test]
    fn descriptors_are_format_0() {
        let mut buf = [0xffu8; 96];
        let rs = [SourceRange { slba: 0x1122_3344_5566, nlb: 1 }, SourceRange { slba: 7, nlb: 0x1_0000 }];
        assert_eq!(encode_descriptors(&rs, &mut buf), Ok(64));
        assert_eq!(&buf[0..8], &[0; 8]);
        assert_eq!(&buf[8..16], &0x1122_3344_5566u64.to_le_bytes());
        assert_eq!(&buf[16..18], &[0, 0]);
        assert_eq!(&buf[18..32], &[0; 14]);
        assert_eq!(&buf[40..48], &7u64.to_le_bytes());
        assert_eq!(&buf[48..50], &[0xff, 0xff]);
        assert_eq!(buf[64], 0xff, "past the descriptors untouched");
        assert_eq!(encode_descriptors(&rs, &mut buf[..63]), Err(LimitError::Buffer));
        assert_eq!(cdw12(1), 0);
        assert_eq!(cdw12(128), 127);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! NVMe Copy (NVM Command Set, opcode 19h): discovery fields and command
//! encoding, with source range descriptor format 0 (within one namespace)
//! and 2h (the source namespace named per range), and the Host Behavior
//! Support field that enables cross-namespace formats (CDFE).

/// Copy command opcode.
pub const OPC_COPY: u8 = 0x19;
/// Identify Controller ONCS bit for Copy.
pub const ONCS_COPY: u16 = 1 << 8;
/// Bytes per format 0 or 2h source range descriptor.
pub const DESC_SIZE: usize = 32;
/// OCFS / CDFE bit of descriptor format 2h (32 bytes, no 64-bit guard PI,
/// source namespace per range).
pub const FORMAT_2: u16 = 1 << 2;
/// Feature identifier of Host Behavior Support.
pub const FID_HOST_BEHAVIOR: u32 = 0x16;
/// Bytes of the Host Behavior Support data structure.
pub const HOST_BEHAVIOR_SIZE: usize = 512;

/// The source range descriptor format of a Copy command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescFormat {
    /// Format 0h: the source is the command's namespace.
    F0,
    /// Format 2h: each range names its source namespace.
    F2 { snsid: u32 },
}

/// A namespace's active LBA format, as far as Copy between namespaces
/// cares (Identify Namespace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbaFormat {
    /// LBA data size, log2 of bytes.
    pub lbads: u8,
    /// Metadata bytes per LBA.
    pub ms: u16,
    /// End-to-end data protection settings (DPS; type in bits 2:0).
    pub dps: u8,
}

impl LbaFormat {
    /// Whether format 2h can copy between namespaces of these formats: the
    /// same data size, and neither with metadata or protection
    /// information (a controller checks that they match; the 64-bit
    /// guard formats, 1h and 3h, are not used).
    pub fn cross_namespace_with(&self, other: &LbaFormat) -> bool {
        self.lbads == other.lbads && self.ms == 0 && other.ms == 0 && self.dps & 7 == 0 && other.dps & 7 == 0
    }
}

/// Reads the active LBA format and DPS from an Identify Namespace data
/// structure: FLBAS (byte 26: index bits 3:0, and 6:5 above 16 formats),
/// DPS (byte 29), the LBA Format entries from byte 128 (4 bytes each: MS
/// in bits 15:0, LBADS in 23:16).
pub fn parse_lba_format(id: &[u8]) -> Option<LbaFormat> {
    let flbas = *id.get(26)?;
    let index = usize::from(flbas & 0xf) | usize::from((flbas >> 5) & 3) << 4;
    let e = le32(id, 128 + 4 * index)?;
    Some(LbaFormat { lbads: (e >> 16) as u8, ms: e as u16, dps: *id.get(29)? })
}

/// Turns on the descriptor formats `formats` (CDFE bits) in a Host
/// Behavior Support data structure read from the controller, leaving the
/// fields the host driver set (ACRE, LBAFEE, ...) as they are. Returns
/// whether anything changed (then it is to be written back).
pub fn enable_formats(hbs: &mut [u8], formats: u16) -> Option<bool> {
    let cdfe = le16(hbs, 4)?;
    if cdfe & formats == formats {
        return Some(false);
    }
    hbs.get_mut(4..6)?.copy_from_slice(&(cdfe | formats).to_le_bytes());
    Some(true)
}

/// The formats enabled in a Host Behavior Support data structure (CDFE).
pub fn enabled_formats(hbs: &[u8]) -> Option<u16> {
    le16(hbs, 4)
}

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

/// Writes source range descriptors of format `fmt` for `ranges` into
/// `out`; returns the bytes used.
pub fn encode_descriptors(ranges: &[SourceRange], fmt: DescFormat, out: &mut [u8]) -> Result<usize, LimitError> {
    let need = ranges.len() * DESC_SIZE;
    if out.len() < need {
        return Err(LimitError::Buffer);
    }
    for (r, d) in ranges.iter().zip(out.chunks_exact_mut(DESC_SIZE)) {
        if r.nlb == 0 || r.nlb > 0x1_0000 {
            return Err(LimitError::RangeLength);
        }
        d.fill(0);
        if let DescFormat::F2 { snsid } = fmt {
            // SNSID: bytes 03:00 of a format 2h entry.
            d[0..4].copy_from_slice(&snsid.to_le_bytes());
        }
        d[8..16].copy_from_slice(&r.slba.to_le_bytes());
        d[16..18].copy_from_slice(&((r.nlb - 1) as u16).to_le_bytes());
    }
    Ok(need)
}

/// Command dword 12 of a Copy with `nr` ranges of format `fmt` (bits
/// 11:08; no protection information, no FUA, no limited retry).
pub fn cdw12(nr: usize, fmt: DescFormat) -> u32 {
    let f = match fmt {
        DescFormat::F0 => 0,
        DescFormat::F2 { .. } => 2,
    };
    (nr.saturating_sub(1) as u32) & 0xff | f << 8
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
        assert_eq!(encode_descriptors(&rs, DescFormat::F0, &mut buf), Ok(64));
        assert_eq!(&buf[0..8], &[0; 8]);
        assert_eq!(&buf[8..16], &0x1122_3344_5566u64.to_le_bytes());
        assert_eq!(&buf[16..18], &[0, 0]);
        assert_eq!(&buf[18..32], &[0; 14]);
        assert_eq!(&buf[40..48], &7u64.to_le_bytes());
        assert_eq!(&buf[48..50], &[0xff, 0xff]);
        assert_eq!(buf[64], 0xff, "past the descriptors untouched");
        assert_eq!(encode_descriptors(&rs, DescFormat::F0, &mut buf[..63]), Err(LimitError::Buffer));
        assert_eq!(cdw12(1, DescFormat::F0), 0);
        assert_eq!(cdw12(128, DescFormat::F0), 127);
    }

    #[test]
    fn descriptors_of_format_2_name_the_source_namespace() {
        let mut buf = [0xffu8; 64];
        let rs = [SourceRange { slba: 9, nlb: 8 }, SourceRange { slba: 100, nlb: 1 }];
        assert_eq!(encode_descriptors(&rs, DescFormat::F2 { snsid: 0x0102_0304 }, &mut buf), Ok(64));
        for d in buf.chunks_exact(32) {
            assert_eq!(&d[0..4], &[4, 3, 2, 1], "SNSID in bytes 03:00");
            assert_eq!(&d[4..8], &[0; 4]);
            assert_eq!(&d[18..32], &[0; 14]);
        }
        assert_eq!(&buf[8..16], &9u64.to_le_bytes());
        assert_eq!(&buf[16..18], &7u16.to_le_bytes());
        assert_eq!(cdw12(2, DescFormat::F2 { snsid: 1 }), 0x201);
    }

    #[test]
    fn lba_format_and_cross_namespace_rule() {
        let mut id = [0u8; 4096];
        // Two formats: 512 bytes (index 0), 4096 bytes (index 1), active 1.
        id[128..132].copy_from_slice(&(9u32 << 16).to_le_bytes());
        id[132..136].copy_from_slice(&(12u32 << 16).to_le_bytes());
        id[26] = 1;
        let f4k = parse_lba_format(&id).unwrap();
        assert_eq!(f4k, LbaFormat { lbads: 12, ms: 0, dps: 0 });
        id[26] = 0;
        let f512 = parse_lba_format(&id).unwrap();
        assert_eq!(f512.lbads, 9);
        assert!(f512.cross_namespace_with(&f512));
        assert!(!f512.cross_namespace_with(&f4k));
        // Index above 16 (FLBAS bits 6:5) and metadata.
        id[26] = 0x21; // index 17
        id[128 + 4 * 17..128 + 4 * 18].copy_from_slice(&(9u32 << 16 | 8).to_le_bytes());
        let meta = parse_lba_format(&id).unwrap();
        assert_eq!(meta, LbaFormat { lbads: 9, ms: 8, dps: 0 });
        assert!(!meta.cross_namespace_with(&f512));
        id[29] = 1;
        id[26] = 0;
        assert!(!parse_lba_format(&id).unwrap().cross_namespace_with(&f512), "protection information");
        assert_eq!(parse_lba_format(&id[..100]), None);
    }

    #[test]
    fn host_behavior_keeps_the_drivers_fields() {
        let mut hbs = [0u8; HOST_BEHAVIOR_SIZE];
        hbs[0] = 1; // ACRE, as the host driver sets it
        hbs[2] = 1; // LBAFEE
        assert_eq!(enabled_formats(&hbs), Some(0));
        assert_eq!(enable_formats(&mut hbs, FORMAT_2), Some(true));
        assert_eq!(enabled_formats(&hbs), Some(FORMAT_2));
        assert_eq!((hbs[0], hbs[2]), (1, 1));
        assert!(hbs[6..].iter().all(|&b| b == 0));
        assert_eq!(enable_formats(&mut hbs, FORMAT_2), Some(false), "already on");
        hbs[4] = 0x8;
        assert_eq!(enable_formats(&mut hbs, FORMAT_2), Some(true));
        assert_eq!(enabled_formats(&hbs), Some(0x8 | FORMAT_2), "other formats stay");
        assert_eq!(enable_formats(&mut hbs[..5], FORMAT_2), None);
    }
}

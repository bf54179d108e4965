// SPDX-License-Identifier: GPL-2.0

//! SCSI third-party copy (SPC-4): discovery data and EXTENDED COPY (LID1)
//! with identification (E4h) CSCD descriptors and block-to-block (02h)
//! segment descriptors.

/// EXTENDED COPY opcode (service action 00h: LID1).
pub const OPC_EXTENDED_COPY: u8 = 0x83;
/// RECEIVE COPY RESULTS opcode.
pub const OPC_RECEIVE_COPY_RESULTS: u8 = 0x84;
/// RECEIVE COPY RESULTS service action: operating parameters.
pub const RCR_SA_OPERATING_PARAMETERS: u8 = 0x03;
/// Identification CSCD descriptor type code.
pub const DESC_E4: u8 = 0xe4;
/// Block device to block device segment descriptor type code.
pub const DESC_B2B: u8 = 0x02;
const E4_LEN: usize = 32;
const B2B_LEN: usize = 28;
const HEADER_LEN: usize = 16;
/// Blocks one block-to-block segment descriptor can carry (16-bit field).
pub const MAX_SEGMENT_BLOCKS: u32 = 0xffff;

/// Sense keys the provider tells apart.
pub const SENSE_ILLEGAL_REQUEST: u8 = 0x05;
pub const SENSE_UNIT_ATTENTION: u8 = 0x06;
pub const SENSE_COPY_ABORTED: u8 = 0x0a;
/// ASC of INVALID COMMAND OPERATION CODE.
pub const ASC_INVALID_OPCODE: u8 = 0x20;

/// INQUIRY byte 5 bit 3: third-party copy (EXTENDED COPY) supported.
pub fn inquiry_3pc(inq: &[u8]) -> bool {
    inq.get(5).is_some_and(|b| b & 0x08 != 0)
}

/// The 16-byte NAA designator (NAA 6, binary, associated with the LU)
/// from a Device Identification VPD page (83h), as E4h descriptors name
/// logical units.
pub fn find_naa(vpd83: &[u8]) -> Option<[u8; 16]> {
    if vpd83.get(1) != Some(&0x83) {
        return None;
    }
    let page_len = usize::from(u16::from_be_bytes([*vpd83.get(2)?, *vpd83.get(3)?]));
    let end = (4 + page_len).min(vpd83.len());
    let mut p = 4;
    while p + 4 <= end {
        let (code_set, assoc, kind, len) = (vpd83[p] & 0x0f, (vpd83[p + 1] >> 4) & 0x3, vpd83[p + 1] & 0x0f, usize::from(vpd83[p + 3]));
        let d = vpd83.get(p + 4..p + 4 + len)?;
        if code_set == 1 && assoc == 0 && kind == 3 && len == 16 && d[0] >> 4 == 6 {
            let mut naa = [0u8; 16];
            naa.copy_from_slice(d);
            return Some(naa);
        }
        p += 4 + len;
    }
    None
}

/// RECEIVE COPY RESULTS, operating parameters (SPC-4 6.18.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyParams {
    /// Supports no list identifier (LIST ID USAGE 11b allowed).
    pub snlid: bool,
    pub max_cscd_descriptors: u16,
    pub max_segment_descriptors: u16,
    pub max_descriptor_list_len: u32,
    pub max_segment_len: u32,
    pub max_inline_len: u32,
    pub held_data_limit: u32,
    pub total_concurrent_copies: u16,
    pub max_concurrent_copies: u8,
    pub data_segment_granularity_log2: u8,
    /// Whether E4h CSCD and 02h segment descriptors are implemented.
    pub e4_and_b2b: bool,
}

fn be16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}
fn be32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(o)?, *b.get(o + 1)?, *b.get(o + 2)?, *b.get(o + 3)?]))
}

/// CDB of RECEIVE COPY RESULTS, operating parameters, list identifier 0.
pub fn rcr_cdb(alloc_len: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = OPC_RECEIVE_COPY_RESULTS;
    c[1] = RCR_SA_OPERATING_PARAMETERS;
    c[10..14].copy_from_slice(&alloc_len.to_be_bytes());
    c
}

/// Parses the operating parameters.
pub fn parse_rcr(b: &[u8]) -> Option<CopyParams> {
    let avail = be32(b, 0)? as usize + 4;
    let b = &b[..avail.min(b.len())];
    let n_impl = usize::from(*b.get(43)?);
    let implemented = b.get(44..44 + n_impl).unwrap_or(&[]);
    Some(CopyParams {
        snlid: b.get(4)? & 1 != 0,
        max_cscd_descriptors: be16(b, 8)?,
        max_segment_descriptors: be16(b, 10)?,
        max_descriptor_list_len: be32(b, 12)?,
        max_segment_len: be32(b, 16)?,
        max_inline_len: be32(b, 20)?,
        held_data_limit: be32(b, 24)?,
        total_concurrent_copies: be16(b, 34)?,
        max_concurrent_copies: *b.get(36)?,
        data_segment_granularity_log2: *b.get(37)?,
        e4_and_b2b: implemented.contains(&DESC_E4) && implemented.contains(&DESC_B2B),
    })
}

/// Parses the Third-party Copy VPD page (8Fh): Parameter Data (0004h),
/// Supported Descriptors (0008h) and General Copy Operations (8001h)
/// descriptors carry the same limits RECEIVE COPY RESULTS reports (SPC-4
/// requires them to be equal). SNLID is not in the page: it is false here
/// and comes from RECEIVE COPY RESULTS when that works.
pub fn parse_vpd_8f(page: &[u8]) -> Option<CopyParams> {
    if page.get(1) != Some(&0x8f) {
        return None;
    }
    let end = (4 + usize::from(be16(page, 2)?)).min(page.len());
    let (mut c, mut seen_param, mut seen_general) = (CopyParams::default(), false, false);
    let mut p = 4;
    while p + 4 <= end {
        let kind = be16(page, p)?;
        let d = page.get(p..(p + 4 + usize::from(be16(page, p + 2)?)).min(end))?;
        match kind {
            0x0004 => {
                c.max_cscd_descriptors = be16(d, 8)?;
                c.max_segment_descriptors = be16(d, 10)?;
                c.max_descriptor_list_len = be32(d, 12)?;
                c.max_inline_len = be32(d, 16)?;
                seen_param = true;
            }
            0x0008 => {
                let n = usize::from(*d.get(4)?);
                let list = d.get(5..5 + n).unwrap_or(&[]);
                c.e4_and_b2b = list.contains(&DESC_E4) && list.contains(&DESC_B2B);
            }
            0x8001 => {
                c.total_concurrent_copies = u16::try_from(be32(d, 4)?).unwrap_or(u16::MAX);
                c.max_concurrent_copies = u8::try_from(be32(d, 8)?).unwrap_or(u8::MAX);
                c.max_segment_len = be32(d, 12)?;
                c.data_segment_granularity_log2 = *d.get(16)?;
                seen_general = true;
            }
            _ => {}
        }
        p += d.len().max(4);
    }
    (seen_param && seen_general).then_some(c)
}

impl CopyParams {
    /// Whether a copy between two LUs (or within one: `two_lus` false)
    /// can be expressed for this copy manager.
    pub fn usable(&self, two_lus: bool) -> bool {
        self.e4_and_b2b
            && self.max_segment_descriptors >= 1
            && self.max_cscd_descriptors >= if two_lus { 2 } else { 1 }
            && self.max_descriptor_list_len as usize >= 2 * E4_LEN + B2B_LEN
    }

    /// Limits for blocks of `block_size` bytes: (bytes per segment,
    /// segments per command). A segment is one source range.
    pub fn limits(&self, block_size: u32) -> (u64, u32) {
        let bs = u64::from(block_size.max(1));
        let by_field = u64::from(MAX_SEGMENT_BLOCKS) * bs;
        let seg = if self.max_segment_len == 0 { by_field } else { by_field.min(u64::from(self.max_segment_len)) };
        let seg = seg / bs * bs;
        let room = (self.max_descriptor_list_len as usize).saturating_sub(2 * E4_LEN) / B2B_LEN;
        let n = usize::from(self.max_segment_descriptors).min(room).max(1);
        (seg, n as u32)
    }

    /// LIST ID USAGE and LIST IDENTIFIER for a command: 11b with list ID 0
    /// when the copy manager supports no list identifier (nothing is ever
    /// asked about the copy afterwards), else 10b (no held data) with the
    /// given identifier, which must be unique among the copies in flight.
    pub fn list_id(&self, unique: u8) -> (u8, u8) {
        if self.snlid {
            (3, 0)
        } else {
            (2, unique)
        }
    }
}

/// One block-to-block segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub src_lba: u64,
    pub dst_lba: u64,
    pub blocks: u16,
}

/// Why a parameter list could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XcopyError {
    NoSegments,
    Buffer,
    ZeroBlocks,
}

/// Length of the parameter list for `segments` over one or two LUs.
pub fn param_len(two_lus: bool, segments: usize) -> usize {
    HEADER_LEN + if two_lus { 2 } else { 1 } * E4_LEN + segments * B2B_LEN
}

fn put_e4(d: &mut [u8], naa: &[u8; 16], block_size: u32) {
    d.fill(0);
    d[0] = DESC_E4;
    d[1] = 0x00; // LU ID TYPE 00b, NUL 0, peripheral device type 0 (block)
    d[4] = 0x01; // code set: binary
    d[5] = 0x03; // association: LU, designator type: NAA
    d[7] = 16;
    d[8..24].copy_from_slice(naa);
    d[29..32].copy_from_slice(&block_size.to_be_bytes()[1..4]);
}

/// Builds an EXTENDED COPY (LID1) parameter list into `out`: the source and
/// destination LUs (`dst` `None`: within the source LU) and one 02h segment
/// per entry of `segments`. Returns the length used.
pub fn build_param_list(
    src: &[u8; 16],
    dst: Option<&[u8; 16]>,
    block_size: u32,
    segments: &[Segment],
    (usage, list_id): (u8, u8),
    out: &mut [u8],
) -> Result<usize, XcopyError> {
    if segments.is_empty() {
        return Err(XcopyError::NoSegments);
    }
    let two = dst.is_some();
    let len = param_len(two, segments.len());
    let out = out.get_mut(..len).ok_or(XcopyError::Buffer)?;
    out.fill(0);
    let tdll = if two { 2 * E4_LEN } else { E4_LEN };
    out[0] = list_id;
    out[1] = (usage & 3) << 3;
    out[2..4].copy_from_slice(&(tdll as u16).to_be_bytes());
    out[8..12].copy_from_slice(&((segments.len() * B2B_LEN) as u32).to_be_bytes());
    put_e4(&mut out[HEADER_LEN..HEADER_LEN + E4_LEN], src, block_size);
    if let Some(d) = dst {
        put_e4(&mut out[HEADER_LEN + E4_LEN..HEADER_LEN + 2 * E4_LEN], d, block_size);
    }
    let dst_index: u16 = if two { 1 } else { 0 };
    for (s, d) in segments.iter().zip(out[HEADER_LEN + tdll..].chunks_exact_mut(B2B_LEN)) {
        if s.blocks == 0 {
            return Err(XcopyError::ZeroBlocks);
        }
        d[0] = DESC_B2B;
        d[2..4].copy_from_slice(&0x18u16.to_be_bytes());
        d[4..6].copy_from_slice(&0u16.to_be_bytes());
        d[6..8].copy_from_slice(&dst_index.to_be_bytes());
        d[10..12].copy_from_slice(&s.blocks.to_be_bytes());
        d[12..20].copy_from_slice(&s.src_lba.to_be_bytes());
        d[20..28].copy_from_slice(&s.dst_lba.to_be_bytes());
    }
    Ok(len)
}

/// CDB of EXTENDED COPY (LID1) with a parameter list of `len` bytes.
pub fn xcopy_cdb(len: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = OPC_EXTENDED_COPY;
    c[10..14].copy_from_slice(&len.to_be_bytes());
    c
}

/// Sense key, ASC and ASCQ of fixed (70h/71h) or descriptor (72h/73h)
/// format sense data.
pub fn decode_sense(s: &[u8]) -> Option<(u8, u8, u8)> {
    match s.first()? & 0x7f {
        0x70 | 0x71 => Some((s.get(2)? & 0x0f, *s.get(12).unwrap_or(&0), *s.get(13).unwrap_or(&0))),
        0x72 | 0x73 => Some((s.get(1)? & 0x0f, *s.get(2)?, *s.get(3)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lio_rcr() -> [u8; 46] {
        // What LIO's target_rcr_operating_parameters() returns.
        let mut p = [0u8; 46];
        p[0..4].copy_from_slice(&42u32.to_be_bytes());
        p[4] = 1;
        p[8..10].copy_from_slice(&2u16.to_be_bytes());
        p[10..12].copy_from_slice(&1u16.to_be_bytes());
        p[12..16].copy_from_slice(&1024u32.to_be_bytes());
        p[16..20].copy_from_slice(&(256u32 << 20).to_be_bytes());
        p[34..36].copy_from_slice(&1u16.to_be_bytes());
        p[36] = 1;
        p[37] = 9;
        p[43] = 2;
        p[44] = 0x02;
        p[45] = 0xe4;
        p
    }

    #[test]
    fn parses_lio_operating_parameters() {
        let c = parse_rcr(&lio_rcr()).unwrap();
        assert!(c.snlid && c.e4_and_b2b && c.usable(true));
        assert_eq!((c.max_cscd_descriptors, c.max_segment_descriptors), (2, 1));
        assert_eq!(c.max_segment_len, 256 << 20);
        assert_eq!(c.limits(512), (65535 * 512, 1));
        assert_eq!(c.limits(4096), (65535 * 4096, 1));
        assert_eq!(c.list_id(9), (3, 0));
        let mut no = lio_rcr();
        no[45] = 0x0a;
        assert!(!parse_rcr(&no).unwrap().usable(false));
        assert_eq!(rcr_cdb(512)[..2], [0x84, 0x03]);
    }

    #[test]
    fn parses_the_third_party_copy_vpd_page() {
        // Supported commands (0001h, skipped), Parameter Data, Supported
        // Descriptors, General Copy Operations.
        let mut v = [0u8; 4 + 8 + 32 + 8 + 36];
        v[1] = 0x8f;
        let body = (v.len() - 4) as u16;
        v[2..4].copy_from_slice(&body.to_be_bytes());
        let mut p = 4;
        v[p..p + 4].copy_from_slice(&[0x00, 0x01, 0x00, 0x04]);
        p += 8;
        v[p..p + 4].copy_from_slice(&[0x00, 0x04, 0x00, 28]);
        v[p + 8..p + 10].copy_from_slice(&4u16.to_be_bytes());
        v[p + 10..p + 12].copy_from_slice(&8u16.to_be_bytes());
        v[p + 12..p + 16].copy_from_slice(&2048u32.to_be_bytes());
        p += 32;
        v[p..p + 8].copy_from_slice(&[0x00, 0x08, 0x00, 4, 2, 0x02, 0xe4, 0]);
        p += 8;
        v[p..p + 4].copy_from_slice(&[0x80, 0x01, 0x00, 32]);
        v[p + 4..p + 8].copy_from_slice(&16u32.to_be_bytes());
        v[p + 8..p + 12].copy_from_slice(&4u32.to_be_bytes());
        v[p + 12..p + 16].copy_from_slice(&(16u32 << 20).to_be_bytes());
        v[p + 16] = 9;
        let c = parse_vpd_8f(&v).unwrap();
        assert_eq!((c.max_cscd_descriptors, c.max_segment_descriptors, c.max_descriptor_list_len), (4, 8, 2048));
        assert_eq!((c.total_concurrent_copies, c.max_concurrent_copies, c.max_segment_len), (16, 4, 16 << 20));
        assert!(c.e4_and_b2b && !c.snlid && c.usable(true));
        // 8 segments of up to 16 MiB, as the list length allows.
        assert_eq!(c.limits(512), (16 << 20, 8));
        v[1] = 0x83;
        assert_eq!(parse_vpd_8f(&v), None);
        assert_eq!(parse_vpd_8f(&v[..3]), None);
    }

    #[test]
    fn finds_the_naa_designator() {
        // VPD 83h with a T10 vendor ID designator, then NAA 6 (16 bytes).
        let mut v = [0u8; 4 + 12 + 20];
        v[1] = 0x83;
        v[3] = 32;
        v[4] = 0x02;
        v[5] = 0x01;
        v[7] = 8;
        v[16] = 0x01;
        v[17] = 0x03;
        v[19] = 16;
        v[20] = 0x60;
        v[21] = 0x01;
        v[35] = 0xab;
        let naa = find_naa(&v).unwrap();
        assert_eq!(naa[0], 0x60);
        assert_eq!(naa[15], 0xab);
        v[17] = 0x13; // associated with the target port: not the LU's
        assert_eq!(find_naa(&v), None);
    }

    #[test]
    fn builds_a_parameter_list_lio_accepts() {
        let a = [0x60u8; 16];
        let b = [0x61u8; 16];
        let segs = [Segment { src_lba: 0x1234, dst_lba: 0x5678, blocks: 0xffff }];
        let mut buf = [0u8; 256];
        let n = build_param_list(&a, Some(&b), 512, &segs, (3, 0), &mut buf).unwrap();
        assert_eq!(n, 16 + 64 + 28);
        assert_eq!(buf[1], 0x18);
        assert_eq!(&buf[2..4], &64u16.to_be_bytes());
        assert_eq!(&buf[8..12], &28u32.to_be_bytes());
        // E4h: binary code set, LU association, NAA type, 16 bytes, NAA 6.
        let e4 = &buf[16..48];
        assert_eq!((e4[0], e4[4] & 0x0f, e4[5] & 0x30, e4[5] & 0x0f, e4[7], e4[8] & 0xf0), (0xe4, 1, 0, 3, 16, 0x60));
        assert_eq!(&e4[29..32], &[0, 2, 0]);
        assert_eq!(buf[48 + 8], 0x61);
        let s = &buf[80..108];
        assert_eq!((s[0], &s[2..4], &s[4..6], &s[6..8]), (0x02, &[0u8, 0x18][..], &[0u8, 0][..], &[0u8, 1][..]));
        assert_eq!(&s[10..12], &[0xff, 0xff]);
        assert_eq!(&s[12..20], &0x1234u64.to_be_bytes());
        assert_eq!(&s[20..28], &0x5678u64.to_be_bytes());
        let n1 = build_param_list(&a, None, 4096, &segs, (2, 7), &mut buf).unwrap();
        assert_eq!((n1, buf[0], buf[1], &buf[16 + 32 + 6..16 + 32 + 8]), (16 + 32 + 28, 7, 0x10, &[0u8, 0][..]));
        assert_eq!(build_param_list(&a, None, 512, &[], (3, 0), &mut buf), Err(XcopyError::NoSegments));
        assert_eq!(build_param_list(&a, Some(&b), 512, &segs, (3, 0), &mut buf[..100]), Err(XcopyError::Buffer));
        assert_eq!(&xcopy_cdb(108)[..], &[0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 108, 0, 0]);
    }

    #[test]
    fn decodes_sense() {
        let mut fixed = [0u8; 18];
        fixed[0] = 0x70;
        fixed[2] = 0x0a;
        fixed[12] = 0x0d;
        fixed[13] = 0x02;
        assert_eq!(decode_sense(&fixed), Some((SENSE_COPY_ABORTED, 0x0d, 0x02)));
        assert_eq!(decode_sense(&[0x72, 0x05, 0x20, 0x00]), Some((SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0)));
        assert_eq!(decode_sense(&[]), None);
        assert_eq!(decode_sense(&[0x00, 1, 2]), None);
        assert!(inquiry_3pc(&[0, 0, 6, 2, 31, 0x08]) && !inquiry_3pc(&[0, 0, 6, 2, 31, 0]));
    }
}

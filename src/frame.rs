//! Frame headers (RFC 6455 section 5.2): a pure, resumable decoder and an encoder.
//!
//! The decoder is given however many header bytes have arrived. Every check runs as soon as the
//! byte it needs is present, in byte order, so any split of the stream yields the same error at
//! the same point.

use crate::error::ProtocolError;

/// The longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (RFC 6455 section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final frame of its message.
    pub fin: bool,
    /// RSV1..RSV3 as the low 3 bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

/// What the receiver's role and extensions allow.
///
/// Later releases may add rules; build one with [`HeaderRules::new`] and set fields after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderRules {
    /// Reserved bits a negotiated extension defines (RSV1 = 0b100 for permessage-deflate).
    pub rsv_allowed: u8,
    /// Servers require masked frames, clients unmasked ones.
    pub expect_masked: bool,
}

impl HeaderRules {
    /// Rules allowing the reserved bits `rsv_allowed` (low 3 bits, RSV1 = 0b100) and requiring
    /// masked frames if `expect_masked` (a server) or unmasked ones otherwise (a client).
    pub const fn new(rsv_allowed: u8, expect_masked: bool) -> HeaderRules {
        HeaderRules {
            rsv_allowed,
            expect_masked,
        }
    }
}

/// RSV1: the "compressed" bit of permessage-deflate.
pub const RSV1: u8 = 0b100;

/// Decodes a header from the start of `buf`: `Ok(None)` if more bytes are needed, else the
/// header and its length in bytes.
pub fn decode_header(
    buf: &[u8],
    rules: HeaderRules,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0b111;
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(ProtocolError::UnknownOpcode(b0 & 0x0F))?;
    if rsv & !rules.rsv_allowed != 0 {
        return Err(ProtocolError::ReservedBitsSet(rsv & !rules.rsv_allowed));
    }
    if opcode.is_control() && !fin {
        return Err(ProtocolError::FragmentedControlFrame);
    }
    let Some(&b1) = buf.get(1) else {
        return Ok(None);
    };
    let masked = b1 & 0x80 != 0;
    if masked != rules.expect_masked {
        return Err(ProtocolError::WrongMasking);
    }
    let len7 = b1 & 0x7F;
    if opcode.is_control() && len7 > 125 {
        return Err(ProtocolError::ControlFrameTooLong);
    }
    let (len, mut at) = match len7 {
        126 => {
            let Some(ext) = buf.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([ext[0], ext[1]])), 4)
        }
        127 => {
            let Some(&first) = buf.get(2) else {
                return Ok(None);
            };
            if first & 0x80 != 0 {
                return Err(ProtocolError::InvalidLength);
            }
            let Some(ext) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(ext);
            (u64::from_be_bytes(be), 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            len,
        },
        at,
    )))
}

/// Encodes a header with the minimal length encoding; returns the bytes and their count.
pub fn encode_header(header: &FrameHeader) -> ([u8; MAX_HEADER_LEN], usize) {
    let mut out = [0u8; MAX_HEADER_LEN];
    out[0] = (u8::from(header.fin) << 7) | ((header.rsv & 0b111) << 4) | header.opcode.bits();
    let mask_bit = if header.mask.is_some() { 0x80 } else { 0 };
    let mut at = match header.len {
        0..=125 => {
            out[1] = mask_bit | header.len as u8;
            2
        }
        126..=0xFFFF => {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(header.len as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&header.len.to_be_bytes());
            10
        }
    };
    if let Some(key) = header.mask {
        out[at..at + 4].copy_from_slice(&key);
        at += 4;
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: HeaderRules = HeaderRules {
        rsv_allowed: 0,
        expect_masked: true,
    };
    const CLIENT: HeaderRules = HeaderRules {
        rsv_allowed: 0,
        expect_masked: false,
    };

    #[test]
    fn rfc_5_7_unmasked_text_hello() {
        let bytes = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
        let (h, n) = decode_header(&bytes, CLIENT).unwrap().unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.len, h.mask, n),
            (true, OpCode::Text, 5, None, 2)
        );
    }

    #[test]
    fn rfc_5_7_fragmented_unmasked_text() {
        let (h, _) = decode_header(&[0x01, 0x03], CLIENT).unwrap().unwrap();
        assert!(!h.fin);
        let (h, _) = decode_header(&[0x80, 0x02], CLIENT).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
    }

    #[test]
    fn rfc_5_7_256_and_64k_binary_lengths() {
        let (h, n) = decode_header(&[0x82, 0x7E, 0x01, 0x00], CLIENT)
            .unwrap()
            .unwrap();
        assert_eq!((h.len, n), (256, 4));
        let (h, n) = decode_header(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], CLIENT)
            .unwrap()
            .unwrap();
        assert_eq!((h.len, n), (65536, 10));
    }

    #[test]
    fn must_reject_64_bit_length_with_msb_set() {
        assert_eq!(
            decode_header(&[0x82, 0xFF, 0x80], SERVER),
            Err(ProtocolError::InvalidLength)
        );
    }

    #[test]
    fn must_fail_on_reserved_bits_without_extension() {
        assert_eq!(
            decode_header(&[0xC1], SERVER),
            Err(ProtocolError::ReservedBitsSet(0b100))
        );
        let deflate = HeaderRules {
            rsv_allowed: RSV1,
            expect_masked: true,
        };
        assert_eq!(decode_header(&[0xC1], deflate), Ok(None));
    }

    #[test]
    fn must_fail_on_reserved_opcodes() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                decode_header(&[0x80 | op], SERVER),
                Err(ProtocolError::UnknownOpcode(op))
            );
        }
    }

    #[test]
    fn control_frames_must_not_be_fragmented_or_longer_than_125() {
        assert_eq!(
            decode_header(&[0x09], SERVER),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            decode_header(&[0x89, 0xFE], SERVER),
            Err(ProtocolError::ControlFrameTooLong)
        );
    }

    #[test]
    fn server_must_reject_unmasked_and_client_masked_frames() {
        assert_eq!(
            decode_header(&[0x81, 0x00], SERVER),
            Err(ProtocolError::WrongMasking)
        );
        assert_eq!(
            decode_header(&[0x81, 0x80], CLIENT),
            Err(ProtocolError::WrongMasking)
        );
    }

    #[test]
    fn encode_uses_minimal_length_and_round_trips() {
        for (len, size) in [
            (0u64, 2usize),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (u64::MAX >> 1, 10),
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask,
                    len,
                };
                let (bytes, n) = encode_header(&h);
                assert_eq!(n, size + if mask.is_some() { 4 } else { 0 });
                let rules = HeaderRules {
                    rsv_allowed: 0,
                    expect_masked: mask.is_some(),
                };
                assert_eq!(decode_header(&bytes[..n], rules), Ok(Some((h, n))));
                for cut in 0..n {
                    assert_eq!(decode_header(&bytes[..cut], rules), Ok(None));
                }
            }
        }
    }
}

//! GeoPackage geometry blobs: `GP` magic, version 0, flags, srs_id, optional envelope, then
//! WKB (GeoPackage 1.2 clause 2.1.3).
//!
//! Flags byte: bit 0 = byte order of srs_id and envelope (1 = little endian), bits 1-3 =
//! envelope contents (0 none, 1 xy, 2 xyz, 3 xym, 4 xyzm), bit 4 = empty geometry, bit 5 =
//! extended (non-standard) geometry type, bits 6-7 reserved.

use thiserror::Error;

use crate::geometry::{Geometry, Limits};
use crate::wkb::{self, WkbError};

#[derive(Debug, Error, Clone, PartialEq)]
pub enum BlobError {
    #[error("geometry blob too short ({0} bytes)")]
    TooShort(usize),
    #[error("geometry blob does not start with the 'GP' magic")]
    BadMagic,
    #[error("unsupported GeoPackage geometry version {0}")]
    UnsupportedVersion(u8),
    #[error("invalid envelope contents indicator {0}")]
    BadEnvelope(u8),
    #[error("extended (non-standard) GeoPackage geometry types are not supported")]
    ExtendedType,
    #[error("geometry is stored as {0}, not as a GeoPackage geometry blob")]
    NotABlob(&'static str),
    #[error("geometry srs_id {found} differs from the layer's {expected}")]
    SrsMismatch { expected: i32, found: i32 },
    #[error(transparent)]
    Wkb(#[from] WkbError),
}

/// Header fields of a geometry blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlobHeader {
    pub version: u8,
    pub srs_id: i32,
    pub empty: bool,
    /// `[min_x, max_x, min_y, max_y]` when present.
    pub envelope: Option<[f64; 4]>,
    /// Offset of the WKB in the blob.
    pub wkb_offset: usize,
}

/// Parses the header (no WKB decoding).
pub fn read_header(blob: &[u8]) -> Result<BlobHeader, BlobError> {
    if blob.len() < 8 {
        return Err(BlobError::TooShort(blob.len()));
    }
    if &blob[0..2] != b"GP" {
        return Err(BlobError::BadMagic);
    }
    let version = blob[2];
    if version != 0 {
        return Err(BlobError::UnsupportedVersion(version));
    }
    let flags = blob[3];
    if flags & 0b0010_0000 != 0 {
        return Err(BlobError::ExtendedType);
    }
    let little = flags & 1 == 1;
    let empty = flags & 0b0001_0000 != 0;
    let env_kind = (flags >> 1) & 0b111;
    let env_len = match env_kind {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(BlobError::BadEnvelope(other)),
    };
    let read_i32 = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if little {
            i32::from_le_bytes(a)
        } else {
            i32::from_be_bytes(a)
        }
    };
    let srs_id = read_i32(&blob[4..8]);
    let wkb_offset = 8 + env_len;
    if blob.len() < wkb_offset {
        return Err(BlobError::TooShort(blob.len()));
    }
    let envelope = (env_len > 0).then(|| {
        let mut e = [0.0; 4];
        for (k, slot) in e.iter_mut().enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(&blob[8 + k * 8..16 + k * 8]);
            *slot = if little {
                f64::from_le_bytes(a)
            } else {
                f64::from_be_bytes(a)
            };
        }
        e
    });
    Ok(BlobHeader {
        version,
        srs_id,
        empty,
        envelope,
        wkb_offset,
    })
}

/// Decodes a geometry blob; `Ok(None)` for an empty geometry.
pub fn decode(blob: &[u8], limits: &Limits) -> Result<Option<Geometry>, BlobError> {
    let header = read_header(blob)?;
    if header.empty {
        return Ok(None);
    }
    Ok(wkb::from_wkb(&blob[header.wkb_offset..], limits)?)
}

/// Appends the blob of `geometry` to `out`: little endian, an xy envelope for multipolygons,
/// none for points (their envelope is the point itself).
pub fn encode(geometry: &Geometry, srs_id: i32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"GP");
    out.push(0);
    match geometry {
        Geometry::Point(_) => {
            out.push(0b0000_0001);
            out.extend_from_slice(&srs_id.to_le_bytes());
        }
        Geometry::MultiPolygon(_) => {
            out.push(0b0000_0011);
            out.extend_from_slice(&srs_id.to_le_bytes());
            let b = geometry.bbox();
            for v in [b.min_x, b.max_x, b.min_y, b.max_y] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    wkb::write_wkb(geometry, out);
}

/// The blob of `geometry`.
pub fn to_blob(geometry: &Geometry, srs_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    encode(geometry, srs_id, &mut out);
    out
}

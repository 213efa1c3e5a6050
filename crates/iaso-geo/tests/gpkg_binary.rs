//! GeoPackage geometry blob header.
#![allow(clippy::unwrap_used)]

use iaso_geo::gpkg::binary::{decode, read_header, to_blob, BlobError};
use iaso_geo::{wkb, Coord, Geometry, Limits, MultiPolygon, Point, Polygon};

fn square() -> Geometry {
    let ring = vec![
        Coord::new(1.0, 2.0),
        Coord::new(3.0, 2.0),
        Coord::new(3.0, 5.0),
        Coord::new(1.0, 2.0),
    ];
    Geometry::MultiPolygon(MultiPolygon::new(vec![Polygon::new(vec![ring])]))
}

#[test]
fn written_header_and_envelope() {
    let blob = to_blob(&square(), 4326);
    let h = read_header(&blob).unwrap();
    assert_eq!(h.srs_id, 4326);
    assert!(!h.empty);
    assert_eq!(
        h.envelope,
        Some([1.0, 3.0, 2.0, 5.0]),
        "minx, maxx, miny, maxy"
    );
    assert_eq!(h.wkb_offset, 40);
    assert_eq!(decode(&blob, &Limits::default()).unwrap(), Some(square()));
    let p = to_blob(&Geometry::Point(Point::new(1.0, 2.0, Some(3.0))), 4326);
    let h = read_header(&p).unwrap();
    assert_eq!((h.envelope, h.wkb_offset), (None, 8));
}

#[test]
fn big_endian_header_xyz_envelope_and_empty_flag() {
    // Flags: big endian (bit 0 = 0), envelope xyz (2 << 1).
    let mut blob = vec![b'G', b'P', 0, 2 << 1];
    blob.extend_from_slice(&4326i32.to_be_bytes());
    for v in [1.0f64, 3.0, 2.0, 5.0, 0.0, 0.0] {
        blob.extend_from_slice(&v.to_be_bytes());
    }
    blob.extend_from_slice(&wkb::to_wkb(&square()));
    let h = read_header(&blob).unwrap();
    assert_eq!((h.srs_id, h.wkb_offset), (4326, 56));
    assert_eq!(h.envelope.unwrap()[3], 5.0);
    assert_eq!(decode(&blob, &Limits::default()).unwrap(), Some(square()));

    // Empty flag (bit 4) with an empty point: no geometry.
    let mut empty = vec![b'G', b'P', 0, 0b0001_0001, 0xE6, 0x10, 0, 0, 1, 1, 0, 0, 0];
    empty.extend_from_slice(&f64::NAN.to_le_bytes());
    empty.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(decode(&empty, &Limits::default()).unwrap(), None);
}

#[test]
fn header_errors() {
    assert_eq!(read_header(b"GP"), Err(BlobError::TooShort(2)));
    assert_eq!(read_header(b"XX\0\x01\0\0\0\0"), Err(BlobError::BadMagic));
    assert_eq!(
        read_header(b"GP\x01\x01\0\0\0\0"),
        Err(BlobError::UnsupportedVersion(1))
    );
    assert_eq!(
        read_header(&[b'G', b'P', 0, 5 << 1, 0, 0, 0, 0]),
        Err(BlobError::BadEnvelope(5))
    );
    assert_eq!(
        read_header(&[b'G', b'P', 0, 0b0010_0001, 0, 0, 0, 0]),
        Err(BlobError::ExtendedType)
    );
    // Envelope announced but missing.
    assert_eq!(
        read_header(&[b'G', b'P', 0, 0b11, 0, 0, 0, 0, 1]),
        Err(BlobError::TooShort(9))
    );
}

package intake

import (
	"bytes"
	"encoding/binary"
)

// exifHeader starts the payload of a JPEG APP1 segment that holds EXIF.
const exifHeader = "Exif\x00\x00"

// Orientation values (TIFF 6.0, tag 274): how the stored pixels must be
// turned to be shown upright. 1 is "as stored", and what any missing,
// unknown or malformed tag means.
const (
	orientationNormal = 1
	orientationMax    = 8
)

// TIFF field layout used by exifOrientation.
const (
	tiffHeaderLen   = 8
	ifdEntryLen     = 12
	tagOrientation  = 0x0112
	tiffTypeShort   = 3
	tiffMagicNumber = 42
)

// exifOrientation returns the Orientation tag of IFD0 of an EXIF block:
// the payload of a JPEG APP1 segment, or of a WebP EXIF chunk, which some
// writers also start with "Exif\0\0". It is the one EXIF field kakunin
// keeps: it says which way is up and nothing about the member.
//
// The block comes from the upload, so every offset is checked against its
// length before use; anything out of place (a bad byte order or magic, an
// IFD or entry beyond the end, a tag of the wrong type or count, a value
// outside 1–8) gives orientationNormal rather than an error, since the
// image itself may be fine.
func exifOrientation(b []byte) int {
	t := bytes.TrimPrefix(b, []byte(exifHeader))
	if len(t) < tiffHeaderLen {
		return orientationNormal
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return orientationNormal
	}
	if bo.Uint16(t[2:4]) != tiffMagicNumber {
		return orientationNormal
	}
	// Offsets are uint32 in the file; working in uint64 keeps the sums
	// below from wrapping on a 32-bit platform or with a hostile offset.
	size := uint64(len(t))
	ifd := uint64(bo.Uint32(t[4:8]))
	if ifd < tiffHeaderLen || ifd+2 > size {
		return orientationNormal
	}
	n := uint64(bo.Uint16(t[ifd : ifd+2]))
	entries := ifd + 2
	if entries+n*ifdEntryLen > size {
		return orientationNormal
	}
	for i := range n {
		e := t[entries+i*ifdEntryLen : entries+(i+1)*ifdEntryLen]
		if bo.Uint16(e[0:2]) != tagOrientation {
			continue
		}
		// A SHORT with count 1 sits in the first two bytes of the value
		// field; anything else is not a valid Orientation.
		if bo.Uint16(e[2:4]) != tiffTypeShort || bo.Uint32(e[4:8]) != 1 {
			return orientationNormal
		}
		v := int(bo.Uint16(e[8:10]))
		if v < orientationNormal || v > orientationMax {
			return orientationNormal
		}
		return v
	}
	return orientationNormal
}

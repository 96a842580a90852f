package intake

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"math"
)

// JPEG markers this file names (ITU T.81 table B.1).
const (
	markerTEM   = 0x01
	markerRST0  = 0xD0
	markerRST7  = 0xD7
	markerSOI   = 0xD8
	markerEOI   = 0xD9
	markerSOS   = 0xDA
	markerAPP0  = 0xE0
	markerAPP1  = 0xE1
	markerAPP2  = 0xE2
	markerAPP14 = 0xEE
	markerAPP15 = 0xEF
	markerCOM   = 0xFE
)

// stripJPEG copies a JPEG segment by segment, dropping the segments that
// carry metadata rather than pixels: APP1 (EXIF, where GPS lives, and XMP),
// the other APPn except JFIF, ICC profile and Adobe, and COM. Nothing is
// re-encoded, so the pixels are bit-for-bit those of the upload.
//
// The one fact kept from EXIF is its Orientation tag, returned (1 when
// there is none), so the image can be turned upright when it is shown:
// phones store pixels in sensor order and rely on that tag. The first EXIF
// segment is read whole to find it (a segment is at most 64 KiB) and then
// dropped like the rest; nothing else in it is looked at.
//
// Reading stops at EOI: whatever follows (trailing data, a second image, a
// polyglot's payload) is never read, let alone stored.
func stripJPEG(br *bufio.Reader, w io.Writer) (orientation int, err error) {
	orientation = orientationNormal
	if _, err := br.Discard(2); err != nil { // SOI, checked by sniff
		return 0, readErr("jpeg", err)
	}
	if _, err := w.Write([]byte{0xFF, markerSOI}); err != nil {
		return 0, err
	}
	seenEXIF := false
	for {
		m, err := nextMarker(br)
		if err != nil {
			return 0, readErr("jpeg marker", err)
		}
		switch {
		case m == markerEOI:
			if _, err := w.Write([]byte{0xFF, markerEOI}); err != nil {
				return 0, err
			}
			return orientation, nil
		case m == markerSOI:
			return 0, damaged()
		case m == markerTEM || markerRST0 <= m && m <= markerRST7:
			// Standalone markers: no length, no payload.
			if _, err := w.Write([]byte{0xFF, m}); err != nil {
				return 0, err
			}
			continue
		}

		var lenBuf [2]byte
		if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
			return 0, readErr("jpeg segment length", err)
		}
		n := int64(binary.BigEndian.Uint16(lenBuf[:])) - 2
		if n < 0 {
			return 0, damaged()
		}
		head, err := br.Peek(int(min(n, 12)))
		if err != nil {
			return 0, readErr("jpeg segment", err)
		}
		if m == markerAPP1 && !seenEXIF && bytes.HasPrefix(head, []byte(exifHeader)) {
			// Only the first EXIF segment counts, as in every viewer; the
			// buffer is bounded by the 16-bit segment length.
			seenEXIF = true
			seg := make([]byte, n)
			if _, err := io.ReadFull(br, seg); err != nil {
				return 0, readErr("jpeg exif segment", err)
			}
			orientation = exifOrientation(seg)
			continue
		}
		if dropJPEGSegment(m, head) {
			if err := skipN(br, n, "jpeg segment"); err != nil {
				return 0, err
			}
			continue
		}
		if _, err := w.Write([]byte{0xFF, m, lenBuf[0], lenBuf[1]}); err != nil {
			return 0, err
		}
		if err := copyN(w, br, n, "jpeg segment"); err != nil {
			return 0, err
		}
		if m == markerSOS {
			if err := copyScan(br, w); err != nil {
				return 0, err
			}
		}
	}
}

// dropJPEGSegment reports whether a segment with marker m, whose payload
// starts with head, carries metadata. APP0, APP2 and APP14 are kept only
// with the identifier the decoder needs (JFIF, an ICC profile for colour,
// Adobe for the colour transform); the same markers also carry JFXX
// thumbnails, MPF image indexes and FlashPix data, which are not needed.
func dropJPEGSegment(m byte, head []byte) bool {
	switch m {
	case markerAPP0:
		return !bytes.HasPrefix(head, []byte("JFIF\x00"))
	case markerAPP2:
		return !bytes.HasPrefix(head, []byte("ICC_PROFILE\x00"))
	case markerAPP14:
		return !bytes.HasPrefix(head, []byte("Adobe"))
	case markerCOM:
		return true
	}
	return markerAPP0 <= m && m <= markerAPP15
}

// nextMarker reads up to and including the next marker and returns its
// code. Like libjpeg and image/jpeg it skips stray bytes (and FF 00) where a
// marker should be, and fill bytes (FF FF…) before one; they are dropped.
func nextMarker(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != 0xFF {
			continue
		}
		for b == 0xFF {
			if b, err = br.ReadByte(); err != nil {
				return 0, err
			}
		}
		if b != 0x00 {
			return b, nil
		}
	}
}

// copyScan copies entropy-coded data after an SOS header up to the next
// marker, which it leaves unread for nextMarker. Inside a scan FF is followed by 00 (a
// stuffed byte) or an RST marker, both part of the data; fill bytes before
// a real marker are dropped.
func copyScan(br *bufio.Reader, w io.Writer) error {
	for {
		buf, err := peekSome(br, math.MaxInt32)
		if err != nil {
			return readErr("jpeg scan", err)
		}
		i := bytes.IndexByte(buf, 0xFF)
		if i < 0 {
			i = len(buf)
		}
		if i > 0 {
			if _, err := w.Write(buf[:i]); err != nil {
				return err
			}
			br.Discard(i)
			continue
		}
		two, err := br.Peek(2)
		if err != nil {
			return readErr("jpeg scan", err)
		}
		switch b := two[1]; {
		case b == 0x00 || markerRST0 <= b && b <= markerRST7:
			if _, err := w.Write(two); err != nil {
				return err
			}
			br.Discard(2)
		case b == 0xFF:
			br.Discard(1)
		default:
			return nil
		}
	}
}

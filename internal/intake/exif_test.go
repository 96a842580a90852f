package intake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/image/webp"
)

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ifdEntry is one 12-byte IFD entry; value is the raw value field.
type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    [4]byte
}

// shortEntry is a SHORT entry with count 1, its value left-justified in
// the value field as TIFF requires.
func shortEntry(bo byteOrder, tag, v uint16) ifdEntry {
	e := ifdEntry{tag: tag, typ: 3, count: 1}
	bo.PutUint16(e.value[:2], v)
	return e
}

// tiff builds a TIFF structure in byte order bo: the header, IFD0 at
// offset 8 holding entries, and a zero next-IFD offset.
func tiff(bo byteOrder, entries ...ifdEntry) []byte {
	b := []byte("II")
	if bo.Uint16([]byte{0, 1}) == 1 {
		b = []byte("MM")
	}
	b = bo.AppendUint16(b, 42)
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = bo.AppendUint16(b, e.tag)
		b = bo.AppendUint16(b, e.typ)
		b = bo.AppendUint32(b, e.count)
		b = append(b, e.value[:]...)
	}
	return bo.AppendUint32(b, 0)
}

// exifWithOrientation is an APP1 payload as a phone writes it: the camera
// make, then the orientation, then the GPS pointer (IFD0 is sorted by tag).
func exifWithOrientation(bo byteOrder, v uint16) []byte {
	camera := ifdEntry{tag: 0x010F, typ: 2, count: 4, value: [4]byte{'A', 'c', 'm', 0}}
	gps := ifdEntry{tag: 0x8825, typ: 4, count: 1} // points at offset 0: junk, never followed
	return append([]byte(exifHeader), tiff(bo, camera, shortEntry(bo, tagOrientation, v), gps)...)
}

func TestExifOrientationReadsEveryValueInBothByteOrders(t *testing.T) {
	for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for v := uint16(1); v <= 8; v++ {
			t.Run(fmt.Sprintf("%v/%d", bo, v), func(t *testing.T) {
				if got := exifOrientation(exifWithOrientation(bo, v)); got != int(v) {
					t.Errorf("orientation %d, want %d", got, v)
				}
				// A WebP EXIF chunk holds the TIFF structure without the
				// "Exif\0\0" header.
				bare := exifWithOrientation(bo, v)[len(exifHeader):]
				if got := exifOrientation(bare); got != int(v) {
					t.Errorf("without the Exif header: orientation %d, want %d", got, v)
				}
			})
		}
	}
}

func TestExifOrientationIsOneForAnythingMalformed(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	good := exifWithOrientation(be, 6)
	withIFDAt := func(off uint32) []byte {
		b := bytes.Clone(good)
		be.PutUint32(b[len(exifHeader)+4:], off)
		return b
	}
	withCount := func(n uint16) []byte {
		b := bytes.Clone(good)
		be.PutUint16(b[len(exifHeader)+8:], n)
		return b
	}
	long := ifdEntry{tag: tagOrientation, typ: 4, count: 1}
	be.PutUint32(long.value[:], 6)
	twice := shortEntry(be, tagOrientation, 6)
	twice.count = 2

	tests := map[string][]byte{
		"nothing":                          nil,
		"the Exif header alone":            []byte(exifHeader),
		"a header cut short":               good[:len(exifHeader)+7],
		"an IFD cut in its count":          good[:len(exifHeader)+9],
		"an IFD cut in its entries":        good[:len(exifHeader)+10+12+5],
		"garbage":                          append([]byte(exifHeader), bytes.Repeat([]byte{0xA5}, 64)...),
		"an XMP packet":                    []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"),
		"an unknown byte order":            append([]byte(exifHeader+"IM"), good[len(exifHeader)+2:]...),
		"mixed byte orders":                append([]byte(exifHeader+"II"), good[len(exifHeader)+2:]...),
		"a wrong magic number":             append([]byte(exifHeader+"MM\x00\x2b"), good[len(exifHeader)+4:]...),
		"IFD0 past the end":                withIFDAt(uint32(len(good))),
		"IFD0 at the last byte":            withIFDAt(uint32(len(good) - len(exifHeader) - 1)),
		"IFD0 at the largest offset":       withIFDAt(0xFFFFFFFF),
		"IFD0 inside the header":           withIFDAt(2),
		"more entries than bytes":          withCount(4),
		"the most entries a count can say": withCount(0xFFFF),
		"no entries":                       withCount(0),
		"no orientation tag":               append([]byte(exifHeader), tiff(le, ifdEntry{tag: 0x010F, typ: 2, count: 1})...),
		"orientation 0":                    append([]byte(exifHeader), tiff(le, shortEntry(le, tagOrientation, 0))...),
		"orientation 9":                    append([]byte(exifHeader), tiff(le, shortEntry(le, tagOrientation, 9))...),
		"orientation 0x0600":               append([]byte(exifHeader), tiff(le, shortEntry(be, tagOrientation, 6))...),
		"orientation as a LONG":            append([]byte(exifHeader), tiff(be, long)...),
		"orientation with a count of 2":    append([]byte(exifHeader), tiff(be, twice)...),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if got := exifOrientation(in); got != 1 {
				t.Errorf("orientation %d, want 1", got)
			}
		})
	}
}

func TestSanitizeJPEGReportsTheOrientationAndStillDropsTheEXIF(t *testing.T) {
	plain := encodeJPEG(t, testImage(320, 240, 8), 90)
	exif := append(exifWithOrientation(binary.LittleEndian, 6), exifMarker...)
	in := append([]byte{0xFF, 0xD8}, jpegSegment(0xE1, exif)...)
	in = append(in, plain[2:]...)

	out, info := mustSanitize(t, in, DefaultLimits())
	if info.Orientation != 6 {
		t.Errorf("Orientation = %d, want 6", info.Orientation)
	}
	if info.Width != 320 || info.Height != 240 {
		t.Errorf("Info = %+v, want the stored 320x240", info)
	}
	assertAbsent(t, out, exifMarker, "Exif\x00\x00", "Acm")
	if !bytes.Equal(out, plain) {
		t.Error("the output is not the JPEG without its EXIF segment")
	}
}

func TestSanitizeJPEGTakesTheOrientationOfTheFirstEXIFSegmentOnly(t *testing.T) {
	plain := encodeJPEG(t, testImage(320, 240, 8), 90)
	in := []byte{0xFF, 0xD8}
	in = append(in, jpegSegment(0xE1, exifWithOrientation(binary.BigEndian, 8))...)
	in = append(in, jpegSegment(0xE1, exifWithOrientation(binary.BigEndian, 3))...)
	in = append(in, plain[2:]...)
	if _, info := mustSanitize(t, in, DefaultLimits()); info.Orientation != 8 {
		t.Errorf("Orientation = %d, want 8 from the first segment", info.Orientation)
	}
}

func TestSanitizeReportsOrientationOneWithoutAUsableTag(t *testing.T) {
	_, j := jpegWithMetadata(t, testImage(320, 240, 8)) // EXIF without orientation
	_, p := pngWithMetadata(t, testImage(320, 240, 8))
	plain := encodeJPEG(t, testImage(320, 240, 8), 90)
	broken := append([]byte{0xFF, 0xD8}, jpegSegment(0xE1, []byte(exifHeader+"MM\x00\x2a\xff\xff\xff\xf0"))...)
	broken = append(broken, plain[2:]...)
	for name, in := range map[string][]byte{"jpeg without the tag": j, "png": p, "plain jpeg": plain, "jpeg with a broken EXIF": broken} {
		t.Run(name, func(t *testing.T) {
			if _, info := mustSanitize(t, in, DefaultLimits()); info.Orientation != 1 {
				t.Errorf("Orientation = %d, want 1", info.Orientation)
			}
		})
	}
}

func TestSanitizeWebPReportsTheOrientationOfItsEXIFChunk(t *testing.T) {
	simple, _, want := webpWithMetadata(t)
	cfg, err := webp.DecodeConfig(bytes.NewReader(simple))
	if err != nil {
		t.Fatal(err)
	}
	vp8x := []byte{vp8xFlagEXIF, 0, 0, 0}
	vp8x = binary.LittleEndian.AppendUint32(vp8x, uint32(cfg.Width-1))[:7]
	vp8x = binary.LittleEndian.AppendUint32(vp8x, uint32(cfg.Height-1))[:10]
	body := []byte("WEBP")
	body = append(body, riffChunk("VP8X", vp8x)...)
	body = append(body, simple[12:]...)
	body = append(body, riffChunk("EXIF", tiff(binary.LittleEndian, shortEntry(binary.LittleEndian, tagOrientation, 3)))...)
	in := append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)

	out, info := mustSanitize(t, in, DefaultLimits())
	if info.Orientation != 3 {
		t.Errorf("Orientation = %d, want 3", info.Orientation)
	}
	if !bytes.Equal(out, want) {
		t.Error("the EXIF chunk was not dropped")
	}
}

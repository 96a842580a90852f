package intake

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/image/webp"
)

// Markers planted in metadata; none may survive sanitising.
const (
	exifMarker  = "KAKUNIN-EXIF-MARKER-6f1c"
	comMarker   = "KAKUNIN-COM-MARKER-93ab"
	textMarker  = "KAKUNIN-TEXT-MARKER-2d77"
	xmpMarker   = "KAKUNIN-XMP-MARKER-c0de"
	trailMarker = "KAKUNIN-TRAILING-MARKER-51e4"
	iccMarker   = "KAKUNIN-ICC-PROFILE-KEPT"
)

// testImage is a deterministic picture with both smooth areas and detail,
// so encoders produce realistic output.
func testImage(w, h int, noise uint8) *image.RGBA {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := uint8(0)
			if noise > 0 {
				n = uint8(rng.IntN(int(noise)))
			}
			img.Set(x, y, color.RGBA{uint8(x) + n, uint8(y) + n, uint8(x+y) ^ n, 0xFF})
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegSegment builds marker m with its length and payload.
func jpegSegment(m byte, payload []byte) []byte {
	b := []byte{0xFF, m}
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	return append(b, payload...)
}

// exifWithGPS returns an APP1 EXIF payload: a big-endian TIFF whose IFD0
// holds an ImageDescription (the marker) and a GPS IFD placing the photo
// in Tokyo, as a phone would.
func exifWithGPS(marker string) []byte {
	be := binary.BigEndian
	entry := func(b []byte, tag, typ uint16, count, value uint32) []byte {
		b = be.AppendUint16(b, tag)
		b = be.AppendUint16(b, typ)
		b = be.AppendUint32(b, count)
		return be.AppendUint32(b, value)
	}
	const (
		ascii, long, rational = 2, 4, 5
		gpsIFD                = 38
		latAt, lonAt, descAt  = 92, 116, 140
	)
	t := []byte("MM\x00\x2a\x00\x00\x00\x08")
	t = be.AppendUint16(t, 2)
	t = entry(t, 0x010E, ascii, uint32(len(marker)+1), descAt) // ImageDescription
	t = entry(t, 0x8825, long, 1, gpsIFD)                      // GPSInfo
	t = be.AppendUint32(t, 0)
	t = be.AppendUint16(t, 4)
	t = entry(t, 0x0001, ascii, 2, uint32('N')<<24) // GPSLatitudeRef
	t = entry(t, 0x0002, rational, 3, latAt)        // GPSLatitude
	t = entry(t, 0x0003, ascii, 2, uint32('E')<<24) // GPSLongitudeRef
	t = entry(t, 0x0004, rational, 3, lonAt)        // GPSLongitude
	t = be.AppendUint32(t, 0)
	for _, r := range [][2]uint32{{35, 1}, {39, 1}, {2914, 100}, {139, 1}, {41, 1}, {3012, 100}} {
		t = be.AppendUint32(t, r[0])
		t = be.AppendUint32(t, r[1])
	}
	t = append(t, marker+"\x00"...)
	return append([]byte("Exif\x00\x00"), t...)
}

// jpegWithMetadata returns plain (as the encoder wrote it) and the same
// image carrying what a phone adds: JFIF, EXIF with GPS, an ICC profile, an
// XMP packet, a Photoshop APP13, a comment, and data after EOI.
func jpegWithMetadata(t testing.TB, img image.Image) (plain, dirty []byte) {
	plain = encodeJPEG(t, img, 90)
	icc := append([]byte("ICC_PROFILE\x00\x01\x01"), iccMarker...)
	var b []byte
	b = append(b, 0xFF, 0xD8)
	b = append(b, jpegSegment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))...)
	b = append(b, jpegSegment(0xE1, exifWithGPS(exifMarker))...)
	b = append(b, jpegSegment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>"+xmpMarker+"</x:xmpmeta>"))...)
	b = append(b, jpegSegment(0xE2, icc)...)
	b = append(b, jpegSegment(0xED, []byte("Photoshop 3.0\x00"+textMarker))...)
	b = append(b, jpegSegment(0xFE, []byte(comMarker))...)
	b = append(b, plain[2:]...)
	b = append(b, trailMarker...)
	return plain, b
}

// pngChunk builds a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// pngWithMetadata inserts metadata chunks and a colour chunk after IHDR of
// an encoded PNG and appends data after IEND.
func pngWithMetadata(t testing.TB, img image.Image) (plain, dirty []byte) {
	plain = encodePNG(t, img)
	const ihdrEnd = 8 + 8 + 13 + 4
	var b []byte
	b = append(b, plain[:ihdrEnd]...)
	b = append(b, pngChunk("gAMA", binary.BigEndian.AppendUint32(nil, 45455))...)
	b = append(b, pngChunk("tEXt", []byte("Comment\x00"+textMarker))...)
	b = append(b, pngChunk("eXIf", exifWithGPS(exifMarker)[6:])...)
	b = append(b, pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+xmpMarker))...)
	b = append(b, pngChunk("tIME", []byte{0x07, 0xEA, 11, 25, 9, 30, 0})...)
	b = append(b, pngChunk("prVt", []byte(comMarker))...)
	b = append(b, plain[ihdrEnd:]...)
	b = append(b, trailMarker...)
	return plain, b
}

// webpWithMetadata wraps the VP8 bitstream of a simple WebP in an extended
// (VP8X) container with EXIF and XMP chunks, as a camera app writes it,
// and returns that and the container stripping should produce.
func webpWithMetadata(t testing.TB) (simple, dirty, want []byte) {
	simple, err := os.ReadFile("testdata/rose.webp")
	if err != nil {
		t.Fatal(err)
	}
	vp8 := simple[12:]
	cfg, err := webp.DecodeConfig(bytes.NewReader(simple))
	if err != nil {
		t.Fatal(err)
	}
	vp8x := func(flags byte) []byte {
		d := []byte{flags, 0, 0, 0}
		d = binary.LittleEndian.AppendUint32(d, uint32(cfg.Width-1))[:7]
		d = binary.LittleEndian.AppendUint32(d, uint32(cfg.Height-1))[:10]
		return riffChunk("VP8X", d)
	}
	riff := func(chunks ...[]byte) []byte {
		body := []byte("WEBP")
		for _, c := range chunks {
			body = append(body, c...)
		}
		return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
	}
	exif := exifWithGPS(exifMarker)[6:]
	if len(exif)%2 == 0 {
		exif = append(exif, 'x') // an odd size exercises the pad byte
	}
	dirty = riff(vp8x(vp8xFlagEXIF|vp8xFlagXMP), vp8, riffChunk("EXIF", exif), riffChunk("XMP ", []byte(xmpMarker)))
	dirty = append(dirty, trailMarker...)
	want = riff(vp8x(0), vp8)
	return simple, dirty, want
}

func riffChunk(id string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

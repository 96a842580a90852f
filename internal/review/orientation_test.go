package review_test

import (
	"bytes"
	"encoding/binary"
	"image/jpeg"
	"testing"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

const gpsMarker = "KAKUNIN-GPS-MARKER-35.6581N-139.7414E"

// withOrientationEXIF inserts after SOI an APP1 EXIF segment as a phone
// writes it: a big-endian TIFF whose IFD0 holds Orientation (a SHORT) and
// a pointer to a GPS IFD, whose one entry carries marker.
func withOrientationEXIF(jpg []byte, orientation uint16, marker string) []byte {
	be := binary.BigEndian
	entry := func(b []byte, tag, typ uint16, count, value uint32) []byte {
		b = be.AppendUint16(b, tag)
		b = be.AppendUint16(b, typ)
		b = be.AppendUint32(b, count)
		return be.AppendUint32(b, value)
	}
	const (
		short, long, undefined = 3, 4, 7
		gpsIFD                 = 8 + 2 + 2*12 + 4
		markerAt               = gpsIFD + 2 + 12 + 4
	)
	t := []byte("MM\x00\x2a\x00\x00\x00\x08")
	t = be.AppendUint16(t, 2)
	t = entry(t, 0x0112, short, 1, uint32(orientation)<<16) // Orientation, left-justified
	t = entry(t, 0x8825, long, 1, gpsIFD)                   // GPSInfo
	t = be.AppendUint32(t, 0)
	t = be.AppendUint16(t, 1)
	t = entry(t, 0x001B, undefined, uint32(len(marker)), markerAt) // GPSProcessingMethod
	t = be.AppendUint32(t, 0)
	t = append(t, marker...)

	payload := append([]byte("Exif\x00\x00"), t...)
	seg := be.AppendUint16([]byte{0xFF, 0xE1}, uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func TestAPhotoTakenSidewaysIsShownUprightWithoutKeepingItsEXIF(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		card := sampleJPEG(t)
		up, err := jpeg.DecodeConfig(bytes.NewReader(card))
		if err != nil {
			t.Fatal(err)
		}
		_, d := e.submit(withOrientationEXIF(card, 6, gpsMarker))

		stored := e.doc(d.ID)
		if stored.Orientation != 6 {
			t.Errorf("stored orientation %d, want 6", stored.Orientation)
		}
		if stored.Width != up.Width || stored.Height != up.Height {
			t.Errorf("stored size %dx%d, want the upload's pixels as stored, %dx%d", stored.Width, stored.Height, up.Width, up.Height)
		}
		plain, err := e.Documents.Open(e.ctx, stored)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"Exif\x00\x00", gpsMarker} {
			if bytes.Contains(plain, []byte(s)) {
				t.Errorf("the stored image still contains %q", s)
			}
		}

		e.next(alice)
		img, err := e.Review.Image(e.ctx, &store.StaffRecord{ID: alice, Email: "alice@staff.example"}, d.ID)
		if err != nil {
			t.Fatalf("image: %v", err)
		}
		shown, err := jpeg.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("the image is not a JPEG: %v", err)
		}
		if shown.Width != up.Height || shown.Height != up.Width {
			t.Errorf("shown %dx%d, want the %dx%d upload turned a quarter, %dx%d",
				shown.Width, shown.Height, up.Width, up.Height, up.Height, up.Width)
		}
	})
}

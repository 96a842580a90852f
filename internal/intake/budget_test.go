package intake

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
)

func TestAnUploadIsRefusedAsBusyWhileTheBudgetIsExhausted(t *testing.T) {
	b := NewBudget(8 << 20)
	b.Wait = 10 * time.Millisecond
	hold, err := b.AcquireWait(context.Background(), b.Size())
	if err != nil {
		t.Fatal(err)
	}
	jpg := encodeJPEG(t, testImage(320, 240, 8), 90)
	_, err = Sanitize(context.Background(), bytes.NewReader(jpg), io.Discard, Limits{Budget: b})
	if kakunin.ErrorCode(err) != kakunin.EUNAVAILABLE {
		t.Fatalf("err %v, want EUNAVAILABLE", err)
	}
	hold()
	if _, err := Sanitize(context.Background(), bytes.NewReader(jpg), io.Discard, Limits{Budget: b, DecodeInline: true}); err != nil {
		t.Fatalf("with room in the budget: %v", err)
	}
	// Everything was given back: the whole budget can be taken again.
	if !b.sem.TryAcquire(b.Size()) {
		t.Fatal("Sanitize kept part of the budget")
	}
}

func TestABudgetClampsARequestLargerThanItself(t *testing.T) {
	b := NewBudget(1 << 20)
	release, err := b.AcquireWait(context.Background(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	release()
	var none *Budget
	release, err = none.Acquire(context.Background(), 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	release()
}

// pngHeaderBomb is a PNG whose IHDR states w×h pixels of the given depth
// and colour type, then a little data: what a bomb sends before its pixels.
func pngHeaderBomb(w, h uint32, depth, colour byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colour, 0, 0, 0)
	b := append([]byte(nil), magicPNG...)
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00})...)
	return append(b, pngChunk("IEND", nil)...)
}

func TestThePixelLimitCountsBytesPerPixel(t *testing.T) {
	// 7071×7071 is under 50 megapixels, but at 16 bits and RGB the
	// decoder allocates 8 bytes a pixel: 400 MB.
	_, _, err := sanitize(t, pngHeaderBomb(7071, 7071, 16, 2), DefaultLimits())
	if kakunin.ErrorCode(err) != kakunin.ETOOLARGE {
		t.Fatalf("a 16-bit 7071×7071 PNG: %v, want ETOOLARGE", err)
	}
	// The same pixels in 8-bit grey cost 50 MB and pass the header check
	// (and are refused later only because the data is cut short).
	_, _, err = sanitize(t, pngHeaderBomb(7071, 7071, 8, 0), DefaultLimits())
	if kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Fatalf("an 8-bit grey 7071×7071 PNG: %v, want EINVALID (damaged)", err)
	}
}

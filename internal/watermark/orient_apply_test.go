package watermark_test

import (
	"fmt"
	"testing"

	"github.com/kakunin/kakunin/internal/watermark"
)

func TestApplyTurnsTheImageUprightBeforeMarkingIt(t *testing.T) {
	const w, h = 600, 400
	src := encodePNG(t, scene(w, h))
	for o := range 9 {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			m := mark
			m.Orientation = o
			out, err := watermark.Apply(src, m, limit)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeJPEG(t, out)
			ow, oh := w, h
			if o >= 5 {
				ow, oh = h, w
			}
			if b := got.Bounds(); b.Dx() != ow || b.Dy() != oh {
				t.Fatalf("output is %dx%d, want %dx%d", b.Dx(), b.Dy(), ow, oh)
			}
			// The banner is drawn after turning, so it lies along the
			// bottom of what the reviewer sees, not along a side.
			darkRow := func(y int) bool {
				dark := 0
				for x := range ow {
					if luma(got.At(x, y)) < 40 {
						dark++
					}
				}
				return dark > ow/2
			}
			if !darkRow(oh-2) || darkRow(1) {
				t.Errorf("the banner is not along the bottom of the displayed image")
			}
		})
	}
}

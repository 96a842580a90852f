package raster

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestAQuarterTurnSwapsTheSidesAndMovesTheCorner(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 40, 20))
	src.Set(1, 1, color.RGBA{255, 0, 0, 255}) // top-left
	dst := Rotate(src, math.Pi/2)
	b := dst.Bounds()
	// Rounding may add one pixel to a side, never more.
	if b.Dx() < 20 || b.Dx() > 21 || b.Dy() < 40 || b.Dy() > 41 {
		t.Fatalf("bounds %v, want about 20x40", b)
	}
	// A clockwise quarter turn (y down) sends the top-left to the top-right.
	if r, _, _, _ := dst.At(b.Dx()-2, 1).RGBA(); r == 0 {
		t.Fatal("the top-left pixel did not land at the top-right")
	}
	if r, _, _, _ := dst.At(1, 1).RGBA(); r != 0 {
		t.Fatal("the top-left corner should be empty after the turn")
	}
}

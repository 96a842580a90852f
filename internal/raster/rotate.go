// Package raster holds small image operations shared by the watermark and
// the SAMPLE card renderer.
package raster

import (
	"image"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// Rotate turns src by angle radians (negative is anticlockwise on screen)
// about its centre into a new image just large enough to hold it.
func Rotate(src *image.RGBA, angle float64) *image.RGBA {
	sin, cos := math.Sincos(angle)
	w, h := float64(src.Bounds().Dx()), float64(src.Bounds().Dy())
	rw := int(math.Ceil(w*math.Abs(cos) + h*math.Abs(sin)))
	rh := int(math.Ceil(w*math.Abs(sin) + h*math.Abs(cos)))
	dst := image.NewRGBA(image.Rect(0, 0, rw, rh))

	// s2d maps a source point to the destination: move the source centre
	// to the origin, rotate, move it to the destination centre.
	scx, scy := w/2, h/2
	dcx, dcy := float64(rw)/2, float64(rh)/2
	s2d := f64.Aff3{
		cos, -sin, dcx - (cos*scx - sin*scy),
		sin, cos, dcy - (sin*scx + cos*scy),
	}
	xdraw.BiLinear.Transform(dst, s2d, src, src.Bounds(), xdraw.Src, nil)
	return dst
}

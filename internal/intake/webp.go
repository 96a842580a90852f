package intake

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"

	"github.com/kakunin/kakunin"
)

// VP8X flag bits (WebP container specification, "Extended file format").
const (
	vp8xFlagXMP  = 1 << 2
	vp8xFlagEXIF = 1 << 3
)

// stripWebP rewrites a WebP container without its EXIF and XMP chunks.
// Unlike JPEG and PNG, RIFF states the file's total size up front, and
// dropping a chunk changes it; so the file is read whole into memory,
// which the byte limit bounds, and written once rewritten.
//
// Only chunks needed to show a still image are kept (VP8X, VP8, VP8L,
// ALPH, ICCP); unknown chunks are dropped like metadata. Animation is
// refused: the decoder cannot show it, and a reviewer must see one picture.
//
// As for JPEG, the Orientation tag of the first EXIF chunk is returned (1
// when there is none) and the chunk is dropped.
func stripWebP(br *bufio.Reader, w io.Writer) (orientation int, err error) {
	data, err := io.ReadAll(br)
	if err != nil {
		return 0, readErr("webp", err)
	}
	out, orientation, err := rewriteWebP(data)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(out); err != nil {
		return 0, err
	}
	return orientation, nil
}

// rewriteWebP returns the stripped container and the orientation its EXIF
// chunk states. Bytes after the RIFF payload (trailing data) are dropped.
func rewriteWebP(data []byte) (out []byte, orientation int, err error) {
	orientation = orientationNormal
	if len(data) < 12 {
		return nil, 0, damaged()
	}
	size := int64(binary.LittleEndian.Uint32(data[4:8]))
	if size < 4 || size > int64(len(data)-8) {
		return nil, 0, damaged()
	}
	body := data[12 : 8+size]

	buf := bytes.NewBuffer(make([]byte, 0, len(data)))
	buf.Write([]byte("RIFF\x00\x00\x00\x00WEBP"))
	seenEXIF := false
	for len(body) > 0 {
		if len(body) < 8 {
			return nil, 0, damaged()
		}
		id := string(body[:4])
		n := int64(binary.LittleEndian.Uint32(body[4:8]))
		padded := n + n&1
		if padded > int64(len(body)-8) {
			return nil, 0, damaged()
		}
		chunk := body[:8+padded]
		body = body[8+padded:]

		switch id {
		case "VP8X":
			if n < 1 {
				return nil, 0, damaged()
			}
			chunk = bytes.Clone(chunk)
			chunk[8] &^= vp8xFlagEXIF | vp8xFlagXMP
		case "VP8 ", "VP8L", "ALPH", "ICCP":
		case "ANIM", "ANMF":
			return nil, 0, kakunin.Errorf(kakunin.EUNSUPPORTED,
				"animated images are not accepted; please upload a still photo as a JPEG or PNG")
		case "EXIF":
			if !seenEXIF {
				seenEXIF = true
				orientation = exifOrientation(chunk[8 : 8+n])
			}
			continue
		default: // "XMP " and anything unknown
			continue
		}
		buf.Write(chunk)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	return b, orientation, nil
}

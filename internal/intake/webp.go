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
func stripWebP(br *bufio.Reader, w io.Writer) error {
	data, err := io.ReadAll(br)
	if err != nil {
		return readErr("webp", err)
	}
	out, err := rewriteWebP(data)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// rewriteWebP returns the stripped container. Bytes after the RIFF payload
// (trailing data) are dropped.
func rewriteWebP(data []byte) ([]byte, error) {
	if len(data) < 12 {
		return nil, damaged()
	}
	size := int64(binary.LittleEndian.Uint32(data[4:8]))
	if size < 4 || size > int64(len(data)-8) {
		return nil, damaged()
	}
	body := data[12 : 8+size]

	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.Write([]byte("RIFF\x00\x00\x00\x00WEBP"))
	for len(body) > 0 {
		if len(body) < 8 {
			return nil, damaged()
		}
		id := string(body[:4])
		n := int64(binary.LittleEndian.Uint32(body[4:8]))
		padded := n + n&1
		if padded > int64(len(body)-8) {
			return nil, damaged()
		}
		chunk := body[:8+padded]
		body = body[8+padded:]

		switch id {
		case "VP8X":
			if n < 1 {
				return nil, damaged()
			}
			chunk = bytes.Clone(chunk)
			chunk[8] &^= vp8xFlagEXIF | vp8xFlagXMP
		case "VP8 ", "VP8L", "ALPH", "ICCP":
		case "ANIM", "ANMF":
			return nil, kakunin.Errorf(kakunin.EUNSUPPORTED,
				"animated images are not accepted; please upload a still photo as a JPEG or PNG")
		default: // EXIF, "XMP " and anything unknown
			continue
		}
		out.Write(chunk)
	}
	b := out.Bytes()
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	return b, nil
}

package intake

import (
	"bufio"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/webp"

	"github.com/kakunin/kakunin"
)

// format is one accepted image type: how to strip it and how to decode it.
// strip returns the EXIF orientation it found (1 when none) as the one
// piece of metadata that survives.
// The decoders are called directly rather than through image.Decode so that
// nothing depends on which formats some other import registered.
type format struct {
	contentType  string
	strip        func(br *bufio.Reader, w io.Writer) (orientation int, err error)
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}

const (
	magicJPEG = "\xff\xd8\xff"
	magicPNG  = "\x89PNG\r\n\x1a\n"
)

// sniffLen covers the longest signature looked at: RIFF....WEBP and the
// ISO-BMFF ftyp box with its major brand.
const sniffLen = 12

// sniff decides the type from the first bytes of the upload, never from a
// file name or a client's Content-Type, which a member or an attacker sets
// at will. It only peeks, so the stripper sees the whole stream.
func sniff(br *bufio.Reader) (format, error) {
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF {
		// A limit, a cancelled context or a broken connection; a file
		// shorter than sniffLen (io.EOF) is judged on what there is.
		return format{}, readErr("upload", err)
	}
	if len(head) == 0 {
		return format{}, kakunin.Errorf(kakunin.EINVALID, "the file is empty; please choose a photo of your document")
	}

	h := string(head)
	switch {
	case strings.HasPrefix(h, magicJPEG):
		return format{"image/jpeg", stripJPEG, jpeg.Decode, jpeg.DecodeConfig}, nil
	case strings.HasPrefix(h, magicPNG):
		return format{"image/png", stripPNG, png.Decode, png.DecodeConfig}, nil
	case len(h) >= 12 && h[0:4] == "RIFF" && h[8:12] == "WEBP":
		return format{"image/webp", stripWebP, webp.Decode, webp.DecodeConfig}, nil
	case len(h) >= 12 && h[4:8] == "ftyp" && (h[8:12] == "avif" || h[8:12] == "avis"):
		return format{}, kakunin.Errorf(kakunin.EUNSUPPORTED,
			"AVIF images are not accepted; please choose a JPEG or PNG photo instead")
	case len(h) >= 12 && h[4:8] == "ftyp" && isHEIFBrand(h[8:12]):
		return format{}, kakunin.Errorf(kakunin.EUNSUPPORTED,
			"HEIC photos are not accepted yet; please choose a JPEG or PNG (phones usually convert automatically when uploading from a browser)")
	case strings.HasPrefix(h, "%PDF-"):
		return format{}, kakunin.Errorf(kakunin.EUNSUPPORTED,
			"PDF files are not accepted; please upload a photo of the document as a JPEG or PNG instead")
	}
	return format{}, kakunin.Errorf(kakunin.EUNSUPPORTED,
		"this type of file is not accepted; please upload a photo as a JPEG, PNG or WebP")
}

// isHEIFBrand reports whether an ISO-BMFF major brand is one of the HEIF
// family that phones write: HEIC stills and sequences, and the generic
// mif1/msf1 brands some cameras put first.
func isHEIFBrand(b string) bool {
	switch b {
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1":
		return true
	}
	return false
}

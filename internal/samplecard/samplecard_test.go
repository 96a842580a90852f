package samplecard_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/samplecard"
)

func card(t kakunin.DocumentType) samplecard.Card {
	return samplecard.Card{
		Type:      t,
		Name:      "SATO HANAKO",
		BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC),
		Issuer:    "TOKYO PREFECTURAL POLICE (SAMPLE)",
		Number:    "SAMPLE-0000-1234",
		Seed:      1,
	}
}

func size(t kakunin.DocumentType) image.Point {
	if t == kakunin.DocPassport {
		return image.Pt(1250, 880)
	}
	return image.Pt(1200, 756)
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestEveryTypeRendersAtItsSizeAsJPEGAndPNG(t *testing.T) {
	for _, typ := range kakunin.DocumentTypes {
		t.Run(string(typ), func(t *testing.T) {
			want := size(typ)
			j, err := samplecard.Render(card(typ))
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(j))
			if err != nil {
				t.Fatalf("Render is not a JPEG: %v", err)
			}
			if got := img.Bounds().Size(); got != want {
				t.Errorf("JPEG is %v, want %v", got, want)
			}
			p, err := samplecard.RenderPNG(card(typ))
			if err != nil {
				t.Fatal(err)
			}
			if got := decodePNG(t, p).Bounds().Size(); got != want {
				t.Errorf("PNG is %v, want %v", got, want)
			}
		})
	}
}

func TestTheSameCardGivesTheSameBytes(t *testing.T) {
	for _, typ := range kakunin.DocumentTypes {
		a, err := samplecard.Render(card(typ))
		if err != nil {
			t.Fatal(err)
		}
		b, err := samplecard.Render(card(typ))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders of the same card differ", typ)
		}
	}
}

func TestDifferentCardsGiveDifferentImages(t *testing.T) {
	base := card(kakunin.DocDriversLicence)
	otherSeed, otherName := base, base
	otherSeed.Seed = 2
	otherName.Name = "SUZUKI TARO"
	images := map[string]samplecard.Card{
		"base":                base,
		"other seed":          otherSeed,
		"other name":          otherName,
		"passport":            card(kakunin.DocPassport),
		"health insurance":    card(kakunin.DocHealthInsurance),
		"my number card":      card(kakunin.DocMyNumberCard),
		"health, other seed":  func() samplecard.Card { c := card(kakunin.DocHealthInsurance); c.Seed = 99; return c }(),
		"my number, new name": func() samplecard.Card { c := card(kakunin.DocMyNumberCard); c.Name = "TANAKA JIRO"; return c }(),
	}
	seen := map[string]string{}
	for name, c := range images {
		img, err := samplecard.Image(c) // the pixels: a PNG of them is a lossless copy
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := seen[string(img.Pix)]; ok {
			t.Errorf("%q and %q render identically", name, prev)
		}
		seen[string(img.Pix)] = name
	}
}

func TestTheRedSampleStampCrossesTheCentre(t *testing.T) {
	for _, typ := range kakunin.DocumentTypes {
		t.Run(string(typ), func(t *testing.T) {
			img, err := samplecard.Image(card(typ))
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			centre := image.Rect(b.Dx()/4, b.Dy()/4, b.Dx()*3/4, b.Dy()*3/4)
			red := 0
			for y := centre.Min.Y; y < centre.Max.Y; y++ {
				for x := centre.Min.X; x < centre.Max.X; x++ {
					r, g, bl, _ := img.At(x, y).RGBA()
					if r>>8 > 170 && g>>8 < 100 && bl>>8 < 100 {
						red++
					}
				}
			}
			// The word covers about a sixth of the centre; a tenth is a
			// margin that still fails if the stamp goes missing or pale.
			if area := centre.Dx() * centre.Dy(); red < area/10 {
				t.Errorf("%d of %d centre pixels are strongly red, want at least 10%%", red, area)
			}
		})
	}
}

func TestUnknownTypeIsRefused(t *testing.T) {
	c := card("residence_card")
	if _, err := samplecard.Render(c); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Errorf("Render: got %v, want an invalid error", err)
	}
	if _, err := samplecard.RenderPNG(c); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Errorf("RenderPNG: got %v, want an invalid error", err)
	}
}

func TestUnusualTextStillRenders(t *testing.T) {
	// Non-Latin names become '?', empty fields stay empty, very long ones
	// shrink to fit; none of it may fail.
	for _, c := range []samplecard.Card{
		{Type: kakunin.DocPassport, Name: "佐藤 花子"},
		{Type: kakunin.DocDriversLicence},
		{Type: kakunin.DocMyNumberCard, Name: string(bytes.Repeat([]byte("VERYLONGNAME "), 20)), Number: "\x00\x01"},
	} {
		if _, err := samplecard.Image(c); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

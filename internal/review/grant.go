package review

import (
	"context"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
)

// ImageGrantTTL is how long the image URL of a task page stays usable: long
// enough for the browser to fetch it right after the page, too short to be
// worth keeping.
const ImageGrantTTL = 2 * time.Minute

// GrantImage makes the URL token for one read of a task's image by the
// reviewer it is assigned to, from the console session whose token hash is
// session. The image is then served at a path nobody else's request can
// ever name, so no cache can answer another person with it, and a copied
// link is worth nothing (it is spent, or bound to this session).
func (s *Service) GrantImage(ctx context.Context, reviewerID string, session []byte, docID string) (string, error) {
	if _, err := s.Task(ctx, reviewerID, docID); err != nil {
		return "", err
	}
	token := auth.NewToken()
	now := s.Now().UTC()
	err := s.DB.InsertImageGrant(ctx, &store.ImageGrant{TokenHash: auth.HashToken(token), SessionHash: session,
		StaffID: reviewerID, DocumentID: docID, ExpiresAt: now.Add(ImageGrantTTL)}, now)
	if err != nil {
		return "", err
	}
	return token, nil
}

// ImageByGrant spends the token of GrantImage and returns the image as
// Image does (assignment checked again, quota, audit, watermark). A token
// already spent, expired, or made for another session or reviewer is not
// found.
func (s *Service) ImageByGrant(ctx context.Context, reviewer *store.StaffRecord, session []byte, token string) ([]byte, error) {
	if len(token) != auth.TokenLen {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such image")
	}
	docID, err := s.DB.TakeImageGrant(ctx, auth.HashToken(token), session, reviewer.ID, s.Now().UTC())
	if err != nil {
		return nil, err
	}
	return s.Image(ctx, reviewer, docID)
}

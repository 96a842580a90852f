package verification

import (
	"context"
	"strings"

	"github.com/kakunin/kakunin"
)

// MaxLookup bounds what support may type into the look-up.
const MaxLookup = 200

// Lookup finds what support asks after: one verification by its ID
// ("ver_…"), or a member's verifications (newest first, at most 50) by the
// host's member ID, with whether that member has left. Nothing found is an
// empty answer, not an error: support sees "not found" either way.
func (s *Service) Lookup(ctx context.Context, q string) (vs []*kakunin.Verification, memberLeft bool, err error) {
	if len(q) > MaxLookup {
		return nil, false, kakunin.Errorf(kakunin.EINVALID, "a look-up is at most %d bytes", MaxLookup)
	}
	if strings.HasPrefix(q, "ver_") {
		v, err := s.DB.Verification(ctx, q)
		if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		return []*kakunin.Verification{v}, false, nil
	}
	return s.DB.VerificationsOfExternalID(ctx, q)
}

// MemberID returns the kakunin ID of the member the host calls externalID
// (ENOTFOUND when it never registered them), without unsealing anything.
func (s *Service) MemberID(ctx context.Context, externalID string) (string, error) {
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return "", err
	}
	return rec.ID, nil
}

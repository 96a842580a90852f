package portal

import (
	"context"
	"fmt"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
)

// LinkUsable reports whether a sign-in link would open a session now,
// without spending it: the page that asks the member to confirm (mail
// scanners that fetch every link must not use it up).
func (s *Service) LinkUsable(ctx context.Context, token string) (bool, error) {
	if token == "" || len(token) > 100 {
		return false, nil
	}
	return s.DB.SigninLinkUsable(ctx, auth.HashToken(token), s.now())
}

// SignIn spends a sign-in link and opens a session for its member,
// returning the session's token. A link that is unknown, used, revoked,
// expired or for a member who left is EUNAUTHORIZED alike.
func (s *Service) SignIn(ctx context.Context, token string) (string, error) {
	bad := kakunin.Errorf(kakunin.EUNAUTHORIZED, "this link cannot be used")
	if token == "" || len(token) > 100 {
		return "", bad
	}
	session := auth.NewToken()
	now := s.now()
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		l, err := tx.UseSigninLink(ctx, auth.HashToken(token), now)
		if err != nil {
			return err
		}
		rec, err := tx.MemberByID(ctx, l.MemberID)
		if err != nil {
			return err
		}
		if rec.DeletedAt != nil {
			return bad
		}
		if err := tx.InsertMemberSession(ctx, &store.MemberSession{TokenHash: auth.HashToken(session), MemberID: rec.ID, CreatedAt: now, LastSeenAt: now}); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.PortalSignedIn, Actor: "member:" + rec.ID, Subject: rec.ID,
			Origin: audit.OriginFrom(ctx), Detail: map[string]string{"via": l.Via}})
	})
	if code := kakunin.ErrorCode(err); code == kakunin.EUNAUTHORIZED || code == kakunin.ENOTFOUND {
		return "", bad
	}
	if err != nil {
		return "", fmt.Errorf("portal sign-in: %w", err)
	}
	return session, nil
}

// Member is a signed-in member.
type Member struct {
	ID     string
	Locale kakunin.Locale
}

// Session returns the member a session token belongs to, moving its idle
// clock; an idle, too old or unknown session, or one of a member who left,
// is EUNAUTHORIZED (and an idle or old one is deleted).
func (s *Service) Session(ctx context.Context, token string) (*Member, error) {
	none := kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	if token == "" || len(token) > 100 {
		return nil, none
	}
	sess, err := s.DB.MemberSessionByHash(ctx, auth.HashToken(token))
	if err != nil {
		return nil, err
	}
	now := s.now()
	if now.Sub(sess.LastSeenAt) >= orDefault(s.IdleTimeout, DefaultIdleTimeout) || now.Sub(sess.CreatedAt) >= orDefault(s.MaxSession, DefaultMaxSession) {
		if err := s.DB.DeleteMemberSession(ctx, sess.TokenHash); err != nil {
			return nil, err
		}
		return nil, none
	}
	rec, err := s.DB.MemberByID(ctx, sess.MemberID)
	if err != nil {
		return nil, err
	}
	if rec.DeletedAt != nil {
		if err := s.DB.DeleteMemberSessions(ctx, rec.ID); err != nil {
			return nil, err
		}
		return nil, none
	}
	if err := s.DB.TouchMemberSession(ctx, sess.TokenHash, now); err != nil {
		return nil, err
	}
	return &Member{ID: rec.ID, Locale: rec.Locale}, nil
}

// SignOut ends every session of the token's member (sign-out everywhere).
// A token that is no session is nothing to end.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" || len(token) > 100 {
		return nil
	}
	sess, err := s.DB.MemberSessionByHash(ctx, auth.HashToken(token))
	if kakunin.ErrorCode(err) == kakunin.EUNAUTHORIZED {
		return nil
	}
	if err != nil {
		return err
	}
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteMemberSessions(ctx, sess.MemberID); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.PortalSignedOut, Actor: "member:" + sess.MemberID, Subject: sess.MemberID,
			Origin: audit.OriginFrom(ctx)})
	})
}

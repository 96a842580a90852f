package audit

import "context"

type originKey struct{}
type actorKey struct{}

// WithOrigin returns a context carrying the keyed hash of the client's
// address, which events appended on its behalf record as their Origin.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

// OriginFrom returns the origin WithOrigin stored, or "".
func OriginFrom(ctx context.Context) string {
	o, _ := ctx.Value(originKey{}).(string)
	return o
}

// WithActor returns a context naming who acts ("staff:stf_…", "cli"…), for
// events whose code does not otherwise know it.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor stored, or "system".
func ActorFrom(ctx context.Context) string {
	if a, _ := ctx.Value(actorKey{}).(string); a != "" {
		return a
	}
	return "system"
}

// StaffActor is the actor name of a staff member.
func StaffActor(staffID string) string { return "staff:" + staffID }

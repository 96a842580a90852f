// Package portal is the members' own pages: a password-free sign-in by a
// one-time link (mailed, or handed over by the host platform), a member
// session apart from staff sessions, the page of what kakunin holds about
// the member, and a copy of it as JSON.
//
// It guards invariant 6 on /signin: the request path seals the typed
// address into a durable job and looks nothing up, so its answer and its
// time are the same member or not; the job finds the member and mails the
// link to the registered address. And invariant 7: everything it returns
// is one member's, to that member's session only.
package portal

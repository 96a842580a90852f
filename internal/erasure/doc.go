// Package erasure runs members' erasure requests: received → verified (the
// member confirmed from the registered address, or support checked their
// identity) → in progress → completed | refused. Completion destroys every
// remaining image (document.Service.MemberLeft), erases the sealed address,
// the exposure check's records and the portal's links and sessions, runs
// every registered Eraser (other desks' personal data), keeps only the
// dating-site law's verification record, and issues a receipt: a signed
// note (docs/receipts.md) that anyone can check with the audit log's
// verifier key.
package erasure

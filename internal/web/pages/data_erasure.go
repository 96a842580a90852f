package pages

import "time"

// Erasure is "erasure": the member's erasure requests and the form to
// ask for one.
type Erasure struct {
	Base
	Home     string // the session's /me/{key}
	Requests []ErasureRequest
	Open     bool   // one is open: no new request can be made
	Flash    string // "sent" (confirmation mailed) | "open" (one is already open) | ""
}

// ErasureRequest is one row of Erasure.
type ErasureRequest struct {
	ID            string
	State         string
	CreatedAt     time.Time
	DueAt         time.Time
	RefusalReason string
	HasReceipt    bool
}

// ErasureConfirm is "erasure_confirm": the mailed link's button, and what
// pressing it did.
type ErasureConfirm struct {
	Base
	Action  string
	Done    bool
	BadLink bool
}

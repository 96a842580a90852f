// Package synth makes synthetic histories: millions of members, documents,
// epochs and staff reads in minutes, with the lifecycle a real instance
// would have (a legacy era whose images were never destroyed, documents
// never reviewed, members who left), so that incident scoping can be tested
// and measured at the size of the Omiai breach.
//
// Seed fills a throw-away database through the store's bulk loader
// (store/bulk.go). It refuses a database that holds members unless forced.
// Nothing it writes is readable: wrapped keys and blobs are random bytes.
// "kakunin dev seed" and bench/scope use it.
package synth

// Package systemtest runs scenarios against the real schemakv binary, the way
// a user runs it: TestMain builds ./cmd/schemakv once, and each test starts
// `schemakv server` processes on temporary data directories, talks to them
// over HTTP only, and crashes (SIGKILL) or stops (SIGTERM) them.
//
// Scenarios (scenarioDurability, scenarioGracefulRestart) are written once
// against the small system interface in main_test.go; singleProcess is the
// one-node implementation, and multi-node clusters of processes or
// containers are meant to implement the same interface.
//
// Every wait polls with a deadline (no bare sleeps) and every HTTP request
// carries a context deadline; the deadlines are generous so that a slow,
// noisy machine only makes the tests slower. With -short every test skips
// and nothing is built. TestReadme_Quickstart needs curl >= 7.82 on PATH and
// the default ports 127.0.0.1:7400, :7401 and :7402 (it skips when they are taken).
//
// Concurrency: doHTTP and historyAll may be called from any goroutine;
// helpers that take a testing.TB (they may call Fatal) and the proc and
// system methods belong on the test's own goroutine.
package systemtest

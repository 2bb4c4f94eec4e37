// Package cli is the schemakv command line: `schemakv server` runs a node
// (server.go) and every other command talks to a node over HTTP through
// package client, so the command line exercises the same SDK as users'
// services.
//
// Global flags map onto client.Config (--addr, --token, --principal; a flag
// given on the command line wins over SCHEMAKV_ADDR, SCHEMAKV_TOKEN and
// SCHEMAKV_PRINCIPAL) and onto per-call options (--reason, --stale).
// -o table prints aligned tables for people; -o json prints the API object
// itself, indented, for scripts.
//
// Exit codes: 0 success; 1 the command ran and failed (the server's error is
// printed as "error: <code>: <message>" with one line per failing location);
// 2 the command line was wrong and nothing was sent. Under `sync` (sync.go,
// over package gitops) 2 means "the plan has changes" so that CI can gate on
// it, and a wrong command line exits 1.
//
// Each Execute builds a fresh command tree, so tests run commands in-process
// with executeWith and their own streams.
package cli

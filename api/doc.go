// Package api holds the JSON wire types and the stable error codes shared by
// the schemakv server (httpapi) and its Go client (client).
//
// It imports nothing but the standard library, so that services embedding the
// client pull in little. Field names are part of the public contract: add
// fields, never rename or remove them within /v1.
package api

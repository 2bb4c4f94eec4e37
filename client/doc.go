// Package client is the Go SDK for the schemakv HTTP API: namespaces,
// versioned JSON Schemas and schema-pinned config entries.
//
// It imports only the standard library and the wire types in package api,
// so a service that reads its configuration through it pulls in little.
//
// # Basics
//
// Build a Client from a Config (DefaultConfig reads SCHEMAKV_ADDR,
// SCHEMAKV_TOKEN and SCHEMAKV_PRINCIPAL), then use its endpoint groups:
//
//	c, err := client.New(client.DefaultConfig())
//	if err != nil {
//		return err
//	}
//	_, _, err = c.Schemas().Register(ctx, "payments", "checkout", api.RegisterSchemaRequest{
//		Schema: json.RawMessage(`{"type":"object","properties":{"retries":{"type":"integer"}}}`),
//	}, nil)
//	if err != nil {
//		return err
//	}
//	entry, meta, err := c.Configs().Put(ctx, "payments", "checkout/limits", api.PutConfigRequest{
//		Schema: "checkout@1",
//		Value:  json.RawMessage(`{"retries":3}`),
//	}, &client.WriteOptions{Reason: "raise retries", IfMatch: client.Revision(0)})
//	switch {
//	case client.IsCode(err, api.CodeRevisionMismatch):
//		// someone else created the key first
//	case client.IsCode(err, api.CodeValidationFailed):
//		// err.(*api.Error).Details lists each failing JSON pointer
//	case err != nil:
//		return err
//	}
//	fmt.Println(entry.ModifyRevision, meta.Index)
//
// Every method takes a context first and returns the decoded answer, a Meta
// carrying the revision the answer reflects (X-Schemakv-Index), and an error.
// Per-call options are a *ReadOptions (Stale) or *WriteOptions (Reason,
// IfMatch); nil means the defaults.
//
// # Errors
//
// Every answer of the server other than 2xx is returned as an *api.Error:
// match its Code (api.Code* constants), never its message, with IsCode or
// errors.As. A non-2xx answer that is not the API's error shape (an HTTP
// proxy's page, for instance) becomes api.CodeInternal with the HTTP status
// in the message. Invalid names and keys are refused before sending with the
// code the server would use (api.CodeInvalidName, api.CodeInvalidKey).
// Transport failures and context cancellation are returned wrapped, so
// errors.Is(err, context.DeadlineExceeded) works; they are not *api.Error.
//
// The client never retries. A write that fails in transport or with
// api.CodeOutcomeUnknown may or may not have committed; make retries safe with
// WriteOptions.IfMatch.
//
// # Consistency
//
// Reads are linearizable unless ReadOptions.Stale is set. ListAll reads page
// by page, so its pages are not one snapshot; see its documentation.
//
// # Concurrency
//
// A Client and its endpoint groups are safe for concurrent use. Each request
// is bounded by its context and by Config.Timeout (30s by default).
package client

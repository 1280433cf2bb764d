// Package link carries what package pkce shares with the other packages
// of this module without exporting it to every importer: functions that
// package pkce sets when it is initialised, before any package that
// imports it runs.
package link

// Redact returns text with each of secrets, in every encoding a server may
// echo it in, replaced by "[redacted]"; package servercheck redacts the
// evidence it keeps with it.
var Redact func(text string, secrets ...string) string

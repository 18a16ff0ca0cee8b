// Package schemas is edgesync's public contract: the event envelope, the subject
// scheme, the Go types of every Edge aggregate and a JSON Schema for each event
// type. A connector written in any language needs only this contract: it
// subscribes to subjects and decodes envelopes.
package schemas

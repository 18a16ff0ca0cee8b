// Package lane carries, in a context, which lane a piece of work comes
// from. A connector reads live changes (what a store does now) and bulk
// work (an initial upload, a re-snapshot, a replay) as two lanes; the
// partner client serves calls of the live lane first from the account's
// rate limit, and bulk calls take what they leave.
package lane

import "context"

type bulkKey struct{}

// WithBulk marks ctx as bulk work.
func WithBulk(ctx context.Context) context.Context {
	return context.WithValue(ctx, bulkKey{}, true)
}

// IsBulk reports whether ctx was marked by WithBulk.
func IsBulk(ctx context.Context) bool {
	b, _ := ctx.Value(bulkKey{}).(bool)
	return b
}

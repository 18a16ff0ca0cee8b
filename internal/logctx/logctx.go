// Package logctx carries log attributes in a context: a consumer puts the
// record it handles there (its subject, its Edge key), and every line
// logged with that context, however deep (a partner call's retry), names
// the record. It is the pattern slog documents for contextual attributes:
// a Handler that reads them from the context of each record.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying args (slog's alternating keys and values, or
// slog.Attr) besides those it carries already.
func With(ctx context.Context, args ...any) context.Context {
	r := slog.Record{}
	r.Add(args...)
	attrs := append([]slog.Attr(nil), from(ctx)...)
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	return context.WithValue(ctx, key{}, attrs)
}

func from(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	attrs, _ := ctx.Value(key{}).([]slog.Attr)
	return attrs
}

// Handler adds the attributes of each record's context to it.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := from(ctx); len(attrs) > 0 {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}
func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }

package status

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/edgesync/edgesync/internal/trace"
)

//go:embed page.html trace.html
var pageFS embed.FS

var tracePage = template.Must(template.New("trace.html").Funcs(template.FuncMap{"orNone": func(s string) string {
	if s == "" {
		return "none"
	}
	return s
}}).ParseFS(pageFS, "trace.html"))

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"age":      age,
	"percent":  func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
	"rate":     func(f float64) string { return fmt.Sprintf("%.1f/s", f) },
	"duration": duration,
	"progress": snapshotProgress,
	"partner":  partnerName,
	"limit": func(n int) string {
		if n < 0 {
			return "no limit"
		}
		return fmt.Sprintf("%d", n)
	},
}).ParseFS(pageFS, "page.html"))

// Handler serves the page at / (it refreshes itself every refresh) and the
// same snapshot as JSON at /status.json.
func Handler(r *Reader, refresh time.Duration, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	read := func(req *http.Request) Snapshot {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		return r.Current(ctx)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, req *http.Request) {
		s := read(req)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err := page.Execute(w, struct {
			Snapshot
			Refresh int
		}{s, int(refresh.Seconds())})
		if err != nil {
			log.Error("status page", "err", err)
		}
	})
	// One customer's path, for support: the page's search box.
	mux.HandleFunc("GET /trace", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
		defer cancel()
		q := strings.TrimSpace(req.URL.Query().Get("q"))
		view := struct {
			Query string
			Trace *trace.Trace
			Error string
		}{Query: q}
		if q != "" {
			t, err := trace.Customer(ctx, r.js, q)
			if err != nil {
				view.Error = err.Error()
			} else {
				view.Trace = &t
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := tracePage.Execute(w, view); err != nil {
			log.Error("trace page", "err", err)
		}
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(read(req))
	})
	return mux
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	if d := now.Sub(t); d > 0 {
		return duration(d) + " ago"
	}
	return "just now" // written after the page read the clock

}

func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
}

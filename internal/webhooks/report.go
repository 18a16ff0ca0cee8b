package webhooks

import (
	"context"
	"sync"
	"time"

	"github.com/edgesync/edgesync/streams"
)

// Report is what a gateway tells the status page about one partner's
// route, under streams.ReportGateway+partner: that it is up, what it
// answered, and what its spool still holds. A gateway that stops reporting
// is down, and the partner's deliveries fail meanwhile.
type Report struct {
	streams.Reported
	Partner string `json:"partner"`
	Host    string `json:"host"`
	// Answers counts deliveries by answer since the gateway started
	// (stored, spooled, ignored, refused, malformed, too_large, not_stored).
	Answers    map[string]int64 `json:"answers"`
	LastStored time.Time        `json:"lastStored,omitzero"`
	Spooled    int              `json:"spooled,omitempty"` // waiting in the spool for JetStream
}

// answers counts a gateway's answers per partner, for its reports.
type answers struct {
	mu         sync.Mutex
	counts     map[string]map[string]int64
	lastStored map[string]time.Time
}

func (a *answers) add(partner, result string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.counts == nil {
		a.counts, a.lastStored = map[string]map[string]int64{}, map[string]time.Time{}
	}
	if a.counts[partner] == nil {
		a.counts[partner] = map[string]int64{}
	}
	a.counts[partner][result]++
	if result == "stored" || result == "spooled" {
		a.lastStored[partner] = at
	}
}

// Report is the gateway's report for one partner now.
func (g *Gateway) Report(partner string, at streams.Reported) Report {
	r := Report{Reported: at, Partner: partner, Host: g.host, Answers: map[string]int64{}}
	g.answers.mu.Lock()
	for k, v := range g.answers.counts[partner] {
		r.Answers[k] = v
	}
	r.LastStored = g.answers.lastStored[partner]
	g.answers.mu.Unlock()
	if g.cfg.Spool != nil {
		r.Spooled = g.cfg.Spool.Waiting()
	}
	return r
}

// RunReports reports each partner route to the status page every every
// (streams.ReportEvery when zero) until ctx ends.
func (g *Gateway) RunReports(ctx context.Context, every time.Duration) {
	var wg sync.WaitGroup
	for _, partner := range g.partners() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			streams.RunReports(ctx, g.js, streams.ReportGateway+partner, every,
				func(at streams.Reported) Report { return g.Report(partner, at) }, g.log)
		}()
	}
	wg.Wait()
}

func (g *Gateway) partners() []string {
	var out []string
	if g.cfg.Podium != nil {
		out = append(out, "podium")
	}
	if g.cfg.Clientbook != nil {
		out = append(out, "clientbook")
	}
	return out
}

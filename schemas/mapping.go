package schemas

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

//go:embed edge-mapping.json
var defaultMapping []byte

// Mapping gives the physical names of The Edge's tables and columns. Code
// refers to logical names (those of the proposed schema); a site whose
// database differs supplies a mapping file instead of changing code.
type Mapping struct {
	Schema string `json:"schema"`
	// EdgesyncSchema holds edgesync's own tables (the applied-events
	// ledger and partner links), apart from The Edge's.
	EdgesyncSchema string                  `json:"edgesyncSchema"`
	Tables         map[string]TableMapping `json:"tables"`
	// Numbering says how the Edge writer numbers the rows it creates, per
	// sequence (NumberSequences). A sequence left out cannot be numbered:
	// the writer refuses to create such rows rather than guess, since a
	// number The Edge also hands out from its own counter breaks the point
	// of sale (docs/edge-access.md, Numbering).
	Numbering map[string]NumberRule `json:"numbering,omitempty"`
	// Counters is the table the counter strategy takes numbers from: one
	// row per counter, its name and its last number handed out.
	Counters CounterTable `json:"counters,omitzero"`
}

// The writer's numbering strategies.
const (
	// NumberIdentity: the column is IDENTITY; SQL Server numbers the row
	// (an explicit value fails with error 544).
	NumberIdentity = "identity"
	// NumberCounter: The Edge hands numbers out from a counter row; the
	// writer takes the next one the same way, so they never collide.
	NumberCounter = "counter"
	// NumberMax: one more than the highest number, under an update lock.
	// Reuses the number of a deleted last row, and collides with a point
	// of sale that numbers from a counter: only when chosen.
	NumberMax = "max"
)

// NumberSequences are the sequences the writer numbers: new customers,
// why-ins (acquisitions), notes and wishes.
var NumberSequences = []string{"customer", "whyin", "note", "wish"}

// NumberRule is one sequence's strategy.
type NumberRule struct {
	Strategy string `json:"strategy"`
	// Counter names the counter row, for the counter strategy; {store} in
	// it is replaced by the store number ("NextCustomer{store}").
	Counter string `json:"counter,omitempty"`
}

// CounterTable names the counter strategy's table and columns.
type CounterTable struct {
	Table string `json:"table"`
	Name  string `json:"name"`  // the counter's name
	Value string `json:"value"` // the last number it handed out
}

// TableMapping names one table and its columns.
type TableMapping struct {
	Table   string            `json:"table"`
	Columns map[string]string `json:"columns"`
}

// DefaultMapping returns the mapping of the proposed schema.
func DefaultMapping() Mapping {
	var m Mapping
	if err := json.Unmarshal(defaultMapping, &m); err != nil {
		panic("schemas: embedded edge-mapping.json: " + err.Error())
	}
	return m
}

// LoadMapping reads a site's mapping file and lays it over the default:
// entries it leaves out keep their default names. Names of tables or columns
// that the default does not know are an error, so a typo is caught at start.
func LoadMapping(path string) (Mapping, error) {
	m := DefaultMapping()
	if path == "" {
		return m, nil
	}
	body, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return Mapping{}, fmt.Errorf("edge mapping: %w", err)
	}
	var site Mapping
	if err := json.Unmarshal(body, &site); err != nil {
		return Mapping{}, fmt.Errorf("edge mapping %s: %w", path, err)
	}
	if site.Schema != "" {
		m.Schema = site.Schema
	}
	if site.EdgesyncSchema != "" {
		m.EdgesyncSchema = site.EdgesyncSchema
	}
	for seq, rule := range site.Numbering {
		if m.Numbering == nil {
			m.Numbering = map[string]NumberRule{}
		}
		m.Numbering[seq] = rule
	}
	if site.Counters != (CounterTable{}) {
		m.Counters = site.Counters
	}
	for t, tm := range site.Tables {
		def, ok := m.Tables[t]
		if !ok {
			return Mapping{}, fmt.Errorf("edge mapping %s: unknown table %q (known: %s)", path, t, strings.Join(keys(m.Tables), ", "))
		}
		if tm.Table != "" {
			def.Table = tm.Table
		}
		for c, phys := range tm.Columns {
			if _, ok := def.Columns[c]; !ok {
				return Mapping{}, fmt.Errorf("edge mapping %s: table %s has no column %q (known: %s)", path, t, c, strings.Join(keys(def.Columns), ", "))
			}
			def.Columns[c] = phys
		}
		m.Tables[t] = def
	}
	return m, m.Validate()
}

// Validate rejects names that cannot be quoted safely as SQL Server
// identifiers.
func (m Mapping) Validate() error {
	check := func(what, name string) error {
		if name == "" || len(name) > 128 || strings.ContainsAny(name, "[]\x00") {
			return fmt.Errorf("edge mapping: %s %q is not a usable SQL Server name", what, name)
		}
		return nil
	}
	if err := check("schema", m.Schema); err != nil {
		return err
	}
	if err := check("edgesync schema", m.EdgesyncSchema); err != nil {
		return err
	}
	for seq, rule := range m.Numbering {
		switch {
		case !slices.Contains(NumberSequences, seq):
			return fmt.Errorf("edge mapping: numbering %q: not a sequence the writer numbers (%s)", seq, strings.Join(NumberSequences, ", "))
		case rule.Strategy != NumberIdentity && rule.Strategy != NumberCounter && rule.Strategy != NumberMax:
			return fmt.Errorf("edge mapping: numbering %s: strategy %q: want identity, counter or max", seq, rule.Strategy)
		case rule.Strategy == NumberCounter && rule.Counter == "":
			return fmt.Errorf("edge mapping: numbering %s: the counter strategy needs the counter's name", seq)
		case rule.Strategy == NumberCounter:
			for _, c := range [][2]string{{"counters table", m.Counters.Table}, {"counters name column", m.Counters.Name}, {"counters value column", m.Counters.Value}} {
				if err := check(c[0], c[1]); err != nil {
					return err
				}
			}
		}
	}
	for t, tm := range m.Tables {
		if err := check("table "+t, tm.Table); err != nil {
			return err
		}
		for c, phys := range tm.Columns {
			if err := check("column "+t+"."+c, phys); err != nil {
				return err
			}
		}
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

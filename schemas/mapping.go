package schemas

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

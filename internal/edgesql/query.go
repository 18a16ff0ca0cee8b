package edgesql

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/edgesync/edgesync/schemas"
)

var placeholder = regexp.MustCompile(`\{(\w+)(?:\.(\w+))?\}`)

// expand turns a query written with logical names, {Table} and
// {Table.Column}, into T-SQL with the site's quoted physical names.
func expand(m schemas.Mapping, tmpl string) (string, error) {
	var bad []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(s string) string {
		p := placeholder.FindStringSubmatch(s)
		t, ok := m.Tables[p[1]]
		if !ok {
			bad = append(bad, s)
			return s
		}
		if p[2] == "" {
			return quote(m.Schema) + "." + quote(t.Table)
		}
		c, ok := t.Columns[p[2]]
		if !ok {
			bad = append(bad, s)
			return s
		}
		return quote(c)
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("edge mapping has no %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// quote brackets an identifier; the mapping rejects names holding brackets.
func quote(name string) string { return "[" + name + "]" }

// tableName returns the schema-qualified physical name of a logical table,
// as a string literal for OBJECT_ID.
func tableName(m schemas.Mapping, logical string) string {
	return quote(m.Schema) + "." + quote(m.Tables[logical].Table)
}

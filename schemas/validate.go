package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed json/*.schema.json
var schemaFiles embed.FS

const schemaBase = "https://edgesync.dev/schemas/"

var compiled struct {
	once    sync.Once
	schemas map[Entity]*jsonschema.Schema
	partner *jsonschema.Schema
	err     error
}

func compileSchemas() (map[Entity]*jsonschema.Schema, error) {
	compiled.once.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		entries, err := fs.ReadDir(schemaFiles, "json")
		if err != nil {
			compiled.err = err
			return
		}
		for _, e := range entries {
			body, err := schemaFiles.ReadFile(path.Join("json", e.Name()))
			if err != nil {
				compiled.err = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err != nil {
				compiled.err = fmt.Errorf("schema %s: %w", e.Name(), err)
				return
			}
			if err := c.AddResource(schemaBase+e.Name(), doc); err != nil {
				compiled.err = fmt.Errorf("schema %s: %w", e.Name(), err)
				return
			}
		}
		out := make(map[Entity]*jsonschema.Schema, len(Entities))
		for _, ent := range Entities {
			s, err := c.Compile(schemaBase + string(ent) + ".schema.json")
			if err != nil {
				compiled.err = fmt.Errorf("compile schema for %s: %w", ent, err)
				return
			}
			out[ent] = s
		}
		if compiled.partner, err = c.Compile(schemaBase + "partner.schema.json"); err != nil {
			compiled.err = fmt.Errorf("compile partner schema: %w", err)
			return
		}
		compiled.schemas = out
	})
	return compiled.schemas, compiled.err
}

// ValidatePartner checks a partner event body against partner.schema.json.
func ValidatePartner(body []byte) error {
	if _, err := compileSchemas(); err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("validate partner event: %w", err)
	}
	if err := compiled.partner.Validate(inst); err != nil {
		return fmt.Errorf("validate partner event: %w", err)
	}
	return nil
}

// Validate checks an Edge event body against the JSON Schema of its type. The
// entity comes from the body's type ("edge.<entity>.<op>").
func Validate(body []byte) error {
	all, err := compileSchemas()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("validate event: %w", err)
	}
	obj, _ := inst.(map[string]any)
	typ, _ := obj["type"].(string)
	parts := strings.Split(typ, ".")
	if len(parts) != 3 || parts[0] != EdgePrefix {
		return fmt.Errorf("validate event: type %q is not edge.<entity>.<op>", typ)
	}
	s, ok := all[Entity(parts[1])]
	if !ok {
		return fmt.Errorf("validate event: no schema for entity %q", parts[1])
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("validate %s: %w", typ, err)
	}
	return nil
}

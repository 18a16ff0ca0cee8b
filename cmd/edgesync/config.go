package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The configuration file is YAML whose keys are the long flag names, the
// same names as the environment variables without EDGESYNC_ (see
// deploy/edgesync.yaml). One file serves every role: each takes the keys of
// its own flags. A flag on the command line wins over the environment, and
// the environment over the file, so secrets stay out of the file.

// configSchema is the JSON Schema of the configuration file, made from the
// flags themselves so it cannot drift from them.
func configSchema(app *kong.Application) map[string]any {
	props := map[string]any{}
	for name, fs := range flagsNamed(app) {
		if name == "help" || name == "config" {
			continue
		}
		props[name] = flagSchema(fs[len(fs)-1]) // roles sharing a flag name share its meaning
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                "edgesync configuration",
		"description":          "Keys are edgesync's long flag names; every role reads the keys of its own flags.",
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

// durationPattern is what time.ParseDuration accepts, roughly.
const durationPattern = `^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`

func flagSchema(f *kong.Flag) map[string]any {
	s := valueSchema(f.Target.Type())
	s["description"] = f.Help
	if f.Enum != "" {
		var enum []any
		for _, v := range f.EnumSlice() {
			enum = append(enum, v)
		}
		// A list flag's enum is its items': a typo in one of them
		// (MEMOO) is refused instead of replacing the default list.
		if items, ok := s["items"].(map[string]any); ok {
			items["enum"] = enum
		} else {
			s["enum"] = enum
		}
	}
	return s
}

func valueSchema(t reflect.Type) map[string]any {
	switch {
	case t == durationType:
		return map[string]any{"type": "string", "pattern": durationPattern}
	case t == reflect.TypeOf(time.Time{}):
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(slog.Level(0)):
		return map[string]any{"type": "string", "enum": []any{"debug", "info", "warn", "error", "DEBUG", "INFO", "WARN", "ERROR"}}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": valueSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": valueSchema(t.Elem())}
	default:
		return map[string]any{"type": "string"}
	}
}

// readConfig reads a configuration file into JSON values and checks it
// against the schema; each problem names its key and what would be valid.
func readConfig(r io.Reader, schema map[string]any) (map[string]any, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if doc == nil {
		return map[string]any{}, nil // an empty file configures nothing
	}
	// Through JSON, so the values have the types JSON Schema knows.
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("keys must be strings: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("edgesync-config.json", schema); err != nil {
		return nil, err
	}
	sch, err := c.Compile("edgesync-config.json")
	if err != nil {
		return nil, err
	}
	if err := sch.Validate(inst); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			return nil, configProblems(verr, schema)
		}
		return nil, err
	}
	m, ok := inst.(map[string]any)
	if !ok {
		return nil, errors.New("the file must be a mapping of flag names to values")
	}
	return m, nil
}

var english = message.NewPrinter(language.English)

// configProblems turns a validation error into one line per offending key,
// in the words of the file's author: the key, what is wrong, what would do.
func configProblems(verr *jsonschema.ValidationError, schema map[string]any) error {
	known := schema["properties"].(map[string]any)
	var lines []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		key := strings.Join(e.InstanceLocation, ".")
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				line := p + ": not a flag of edgesync"
				if near := closest(p, known); near != "" {
					line += "; did you mean " + near + "?"
				}
				lines = append(lines, line+" (`edgesync config schema` lists every key)")
			}
			return
		case *kind.Pattern:
			if k.Want == durationPattern {
				lines = append(lines, fmt.Sprintf("%s: %q is not a duration; write it like 250ms, 30s, 15m or 2h", key, k.Got))
				return
			}
		}
		lines = append(lines, key+": "+e.ErrorKind.LocalizedString(english))
	}
	walk(verr)
	sort.Strings(lines)
	return &configError{lines: lines}
}

// configError lists a file's problems, one per line.
type configError struct{ lines []string }

func (e *configError) Error() string {
	return fmt.Sprintf("%d problem(s): %s", len(e.lines), strings.Join(e.lines, "; "))
}

// closest is the known key nearest to key by edit distance, if near enough
// to be a typo.
func closest(key string, known map[string]any) string {
	best, bestD := "", 3
	for k := range known {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// secretsReadFromFile are the secret flags a role took from its
// configuration file, to warn about once the logger exists.
var secretsReadFromFile []string

// configLoader is kong's loader of --config files; schema is read when a
// file is loaded, once the flags are all known.
func configLoader(schema func() map[string]any) kong.ConfigurationLoader {
	return func(r io.Reader) (kong.Resolver, error) {
		doc, err := readConfig(r, schema())
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, f *kong.Flag) (any, error) {
			for _, env := range f.Envs {
				if _, set := os.LookupEnv(env); set {
					return nil, nil // the environment wins: that is where secrets go
				}
			}
			v, ok := doc[f.Name]
			if ok && f.Tag.Has("secret") && !slices.Contains(secretsReadFromFile, f.Name) {
				secretsReadFromFile = append(secretsReadFromFile, f.Name)
			}
			return v, nil
		}), nil
	}
}

type configCmd struct {
	Check  configCheckCmd  `cmd:"" help:"Check a configuration file: each problem with its key and what would be valid."`
	Schema configSchemaCmd `cmd:"" help:"Print the configuration file's JSON Schema (every key, its type and help)."`
}

type configCheckCmd struct {
	File   string `arg:"" help:"The YAML configuration file." type:"existingfile"`
	Strict bool   `help:"Refuse a file that holds a secret (a password, DSN, key or token) instead of warning."`
}

func (c *configCheckCmd) Run(k *kong.Kong) error {
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	doc, err := readConfig(f, configSchema(k.Model))
	var problems *configError
	if errors.As(err, &problems) {
		fmt.Printf("%s: %d problem(s):\n", c.File, len(problems.lines))
		for _, l := range problems.lines {
			fmt.Println("  " + l)
		}
		return errors.New("the configuration file is not valid")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	flags := flagsNamed(k.Model)
	lines := valueProblems(doc, flags)
	secrets := secretsIn(doc, flags)
	if c.Strict {
		lines = append(lines, secrets...)
		secrets = nil
	}
	if len(lines) > 0 {
		fmt.Printf("%s: %d problem(s):\n", c.File, len(lines))
		for _, l := range lines {
			fmt.Println("  " + l)
		}
		return errors.New("the configuration file is not valid")
	}
	for _, l := range secrets {
		fmt.Println("warning: " + l)
	}
	fmt.Printf("%s: valid, %d keys\n", c.File, len(doc))
	return nil
}

// flagsNamed are the flags of every command by long name: one name may
// be a flag of several roles (poll is capture's and the store's).
func flagsNamed(app *kong.Application) map[string][]*kong.Flag {
	out := map[string][]*kong.Flag{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			out[f.Name] = append(out[f.Name], f)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(app.Node)
	return out
}

// valueProblems are what the schema cannot say of a file's values: a
// number under its flag's least value, a map entry with an empty side.
func valueProblems(doc map[string]any, flags map[string][]*kong.Flag) []string {
	var lines []string
	for key, value := range doc {
		if m, ok := value.(map[string]any); ok {
			for k, v := range m {
				if strings.TrimSpace(k) == "" || v == nil || strings.TrimSpace(fmt.Sprint(v)) == "" {
					lines = append(lines, fmt.Sprintf("%s: entry %q has an empty side; want KEY: VALUE with both set", key, k))
				}
			}
			continue
		}
		for _, f := range flags[key] {
			if err := checkFileRange(f, value); err != nil {
				lines = append(lines, key+": "+strings.TrimPrefix(err.Error(), "--"+key+" "))
				break
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// secretsIn names the secrets a file holds, each with the environment
// variable that should hold it instead.
func secretsIn(doc map[string]any, flags map[string][]*kong.Flag) []string {
	var lines []string
	for key := range doc {
		for _, f := range flags[key] {
			if f.Tag.Has("secret") {
				env := "EDGESYNC_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
				lines = append(lines, fmt.Sprintf("%s: a secret written in the file; set %s in the environment instead (it wins over the file, and stays out of backups and tickets)", key, env))
				break
			}
		}
	}
	sort.Strings(lines)
	return lines
}

type configSchemaCmd struct{}

func (configSchemaCmd) Run(k *kong.Kong) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(configSchema(k.Model))
}

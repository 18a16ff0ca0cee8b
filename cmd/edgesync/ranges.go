package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/alecthomas/kong"
)

// A numeric flag names its least valid value with a `min` tag (a number,
// or a duration for a duration flag): a zero or negative value that the
// role would misread (a gateway tolerance of 0 refuses every genuine
// delivery) is refused at start and by `config check`, wherever it was
// set: flag, environment or file.

// checkRanges checks every flag of the parsed command against its min tag.
func checkRanges(kctx *kong.Context) error {
	for _, f := range kctx.Flags() {
		if err := checkRange(f, f.Target); err != nil {
			return err
		}
	}
	return nil
}

// checkRange checks one flag's value v against its min tag.
func checkRange(f *kong.Flag, v reflect.Value) error {
	least := f.Tag.Get("min")
	if least == "" {
		return nil
	}
	if v.Type() == durationType {
		lo, err := time.ParseDuration(least)
		if err != nil {
			return fmt.Errorf("--%s: bad min tag %q: %w", f.Name, least, err)
		}
		if d := time.Duration(v.Int()); d < lo {
			return fmt.Errorf("--%s %s: want at least %s", f.Name, d, lo)
		}
		return nil
	}
	lo, err := strconv.ParseFloat(least, 64)
	if err != nil {
		return fmt.Errorf("--%s: bad min tag %q: %w", f.Name, least, err)
	}
	var n float64
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n = float64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n = float64(v.Uint())
	case reflect.Float32, reflect.Float64:
		n = v.Float()
	default:
		return nil
	}
	if n < lo {
		return fmt.Errorf("--%s %v: want at least %s", f.Name, v.Interface(), least)
	}
	return nil
}

// checkFileRange checks a value read from the configuration file (a JSON
// number, or a duration string) against the flag's min tag.
func checkFileRange(f *kong.Flag, value any) error {
	t := f.Target.Type()
	v := reflect.New(t).Elem()
	switch x := value.(type) {
	case string:
		if t != durationType {
			return nil
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return nil // the schema's pattern has said so
		}
		v.SetInt(int64(d))
	case json.Number, float64, int, int64:
		n, err := strconv.ParseFloat(fmt.Sprint(x), 64)
		if err != nil {
			return nil
		}
		switch v.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(int64(n))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if n < 0 {
				return fmt.Errorf("--%s %v: want at least 0", f.Name, x)
			}
			v.SetUint(uint64(n))
		case reflect.Float32, reflect.Float64:
			v.SetFloat(n)
		default:
			return nil
		}
	default:
		return nil
	}
	return checkRange(f, v)
}

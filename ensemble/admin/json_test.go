package admin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// decodeOrdered reads JSON into Objects (keeping member order), []any, and the
// scalar types Pretty writes (integers as int64, other numbers as float64).
func decodeOrdered(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			o := Object{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				o.Add(k.(string), v)
			}
			_, err := d.Token()
			return o, err
		case '[':
			a := []any{}
			for d.More() {
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		}
	case json.Number:
		if i, err := tok.Int64(); err == nil {
			return i, nil
		}
		f, err := tok.Float64()
		return f, err
	}
	return tok, nil
}

// TestPrettyMatchesJackson: every answer the reference AdminServer gave, read and
// written again, comes out byte for byte as Jackson wrote it.
func TestPrettyMatchesJackson(t *testing.T) {
	files, _ := filepath.Glob("testdata/zookeeper-3.8.0/*/*.json")
	if len(files) < 60 {
		t.Fatalf("only %d reference answers", len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(want))
		d.UseNumber()
		v, err := decodeOrdered(d)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, err := Pretty(v)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got\n%s\nwant\n%s", f, got, want)
		}
	}
}

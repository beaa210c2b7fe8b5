package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Field is one member of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object whose members keep their order. Values may be nil, bool,
// string, any integer, float32/64, Object, []any, []string, []int64, or
// map[string]any (written with its keys sorted).
type Object []Field

// Add appends a member.
func (o *Object) Add(key string, v any) { *o = append(*o, Field{key, v}) }

// Get returns the value of key, or nil.
func (o Object) Get(key string) any {
	for _, f := range o {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// MarshalJSON writes o compactly (for encoding/json users); Pretty writes it as
// ZooKeeper does.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := write(&b, o, -1); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Pretty renders v as Jackson's DefaultPrettyPrinter does: objects one member a
// line, indented by two spaces, "key" : value; arrays on one line, "[ a, b ]";
// empty ones "{ }" and "[ ]".
func Pretty(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := write(&b, v, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// write renders v at indent level; level < 0 writes compactly.
func write(b *bytes.Buffer, v any, level int) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int32:
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(v, 10))
	case float32:
		b.WriteString(javaDouble(float64(v)))
	case float64:
		b.WriteString(javaDouble(v))
	case Object:
		return writeObject(b, v, level)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := make(Object, 0, len(v))
		for _, k := range keys {
			o = append(o, Field{k, v[k]})
		}
		return writeObject(b, o, level)
	case []string:
		a := make([]any, len(v))
		for i := range v {
			a[i] = v[i]
		}
		return writeArray(b, a, level)
	case []int64:
		a := make([]any, len(v))
		for i := range v {
			a[i] = v[i]
		}
		return writeArray(b, a, level)
	case []int:
		a := make([]any, len(v))
		for i := range v {
			a[i] = v[i]
		}
		return writeArray(b, a, level)
	case []Object:
		a := make([]any, len(v))
		for i := range v {
			a[i] = v[i]
		}
		return writeArray(b, a, level)
	case []any:
		return writeArray(b, v, level)
	default:
		return fmt.Errorf("admin: cannot write %T as JSON", v)
	}
	return nil
}

func writeObject(b *bytes.Buffer, o Object, level int) error {
	if len(o) == 0 {
		if level < 0 {
			b.WriteString("{}")
		} else {
			b.WriteString("{ }")
		}
		return nil
	}
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		if level >= 0 {
			b.WriteString("\n" + strings.Repeat("  ", level+1))
		}
		writeString(b, f.Key)
		if level >= 0 {
			b.WriteString(" : ")
		} else {
			b.WriteByte(':')
		}
		next := level
		if level >= 0 {
			next = level + 1
		}
		if err := write(b, f.Value, next); err != nil {
			return err
		}
	}
	if level >= 0 {
		b.WriteString("\n" + strings.Repeat("  ", level))
	}
	b.WriteByte('}')
	return nil
}

func writeArray(b *bytes.Buffer, a []any, level int) error {
	if len(a) == 0 {
		if level < 0 {
			b.WriteString("[]")
		} else {
			b.WriteString("[ ]")
		}
		return nil
	}
	b.WriteByte('[')
	for i, v := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		if level >= 0 {
			b.WriteByte(' ')
		}
		if err := write(b, v, level); err != nil {
			return err
		}
	}
	if level >= 0 {
		b.WriteByte(' ')
	}
	b.WriteByte(']')
	return nil
}

// writeString writes s quoted, escaping what JSON requires and no more (Jackson
// leaves <, > and & alone).
func writeString(b *bytes.Buffer, s string) {
	var q bytes.Buffer
	enc := json.NewEncoder(&q)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Write(bytes.TrimSuffix(q.Bytes(), []byte("\n")))
}

// javaDouble is Java's Double.toString for the values metrics hold: "0.0", "4.7895".
func javaDouble(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "0.0"
	}
	a := math.Abs(f)
	if a != 0 && (a >= 1e7 || a < 1e-3) {
		s := strconv.FormatFloat(f, 'E', -1, 64)
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		e, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(e)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// O builds an Object from key, value pairs: O("read_only", false, "node_count", 9).
func O(kv ...any) Object {
	o := make(Object, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, Field{Key: kv[i].(string), Value: kv[i+1]})
	}
	return o
}

package config

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// property is one key/value pair of a properties file and the line it starts on.
type property struct {
	key, value string
	line       int
}

// readProperties reads r with java.util.Properties.load semantics: '#' and '!'
// comment lines, '=' ':' or whitespace separating key and value, a line ending in
// an odd number of backslashes continues on the next line (whose leading
// whitespace is dropped), and \t \n \r \f \uXXXX escapes. Unlike Properties, values
// are trimmed at both ends, as ZooKeeper does after loading.
func readProperties(r io.Reader, name string) ([]property, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	sc.Split(scanPropertyLines)
	var (
		props   []property
		logical strings.Builder
		start   int
		lineNo  int
		cont    bool
	)
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		line := strings.TrimLeft(raw, " \t\f")
		if !cont {
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			start = lineNo
			logical.Reset()
		}
		if odd := trailingBackslashes(line)%2 == 1; odd {
			logical.WriteString(line[:len(line)-1])
			cont = true
			continue
		}
		logical.WriteString(line)
		cont = false
		p, err := splitProperty(logical.String())
		if err != nil {
			return nil, &Error{File: name, Line: start, Msg: err.Error()}
		}
		p.line = start
		props = append(props, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cont { // a file ending in a continuation: Properties keeps what it has
		p, err := splitProperty(logical.String())
		if err != nil {
			return nil, &Error{File: name, Line: start, Msg: err.Error()}
		}
		p.line = start
		props = append(props, p)
	}
	return props, nil
}

// scanPropertyLines splits on \n, \r\n and a lone \r, as Properties does.
func scanPropertyLines(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		switch b {
		case '\n':
			return i + 1, data[:i], nil
		case '\r':
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil // need one more byte to tell \r from \r\n
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func trailingBackslashes(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n
}

// splitProperty splits one logical line into an unescaped key and value.
func splitProperty(s string) (property, error) {
	keyEnd := len(s)
	valStart := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++ // the escaped character belongs to the key
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valStart = i, i+1
			break
		}
		if c == ' ' || c == '\t' || c == '\f' {
			keyEnd = i
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f') {
				j++
			}
			if j < len(s) && (s[j] == '=' || s[j] == ':') {
				j++
			}
			valStart = j
			break
		}
	}
	key, err := unescape(s[:keyEnd])
	if err != nil {
		return property{}, err
	}
	val, err := unescape(strings.TrimLeft(s[valStart:], " \t\f"))
	if err != nil {
		return property{}, err
	}
	return property{key: strings.TrimSpace(key), value: strings.TrimSpace(val)}, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			b.WriteRune(rune(v))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

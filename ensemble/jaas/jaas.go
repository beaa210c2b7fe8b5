package jaas

import (
	"fmt"
	"os"
	"strings"
)

// Flag is a login module's control flag.
type Flag string

// The four control flags of a JAAS entry.
const (
	Required   Flag = "required"
	Requisite  Flag = "requisite"
	Sufficient Flag = "sufficient"
	Optional   Flag = "optional"
)

// Entry is one login module of a section: its class, control flag and options
// (key=value, values unquoted).
type Entry struct {
	Module  string
	Flag    Flag
	Options map[string]string
	Line    int // where the entry starts in the file
}

// Config is a parsed JAAS file: its sections by name, in file order.
type Config struct {
	File     string
	Sections map[string][]Entry
	Names    []string
}

// Section returns the named section's entries.
func (c *Config) Section(name string) ([]Entry, bool) {
	e, ok := c.Sections[name]
	return e, ok
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("JAAS configuration: %w", err)
	}
	return Parse(path, string(b))
}

// Error is a syntax error at a line of a JAAS file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Parse parses the text of a JAAS file; file names it in errors. The syntax is
// the one of Java's ConfigFile: sections "Name { entries };", each entry
// "module.Class flag key=value ...;" with values quoted ("...", backslash escapes)
// or bare, and // and /* */ comments. A section named twice is an error.
func Parse(file, text string) (*Config, error) {
	p := &parser{lex: lexer{src: text, line: 1}, file: file}
	c := &Config{File: file, Sections: map[string][]Entry{}}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tokEOF {
			return c, nil
		}
		if t.kind != tokWord && t.kind != tokQuoted {
			return nil, p.errf(t.line, "expected a section name, found %s", t)
		}
		name := t.text
		if _, dup := c.Sections[name]; dup {
			return nil, p.errf(t.line, "section %q is defined twice", name)
		}
		if err := p.expect('{'); err != nil {
			return nil, err
		}
		var entries []Entry
		for {
			t, err := p.next()
			if err != nil {
				return nil, err
			}
			if t.kind == '}' {
				break
			}
			e, err := p.entry(t)
			if err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
		if err := p.expect(';'); err != nil {
			return nil, err
		}
		c.Sections[name] = entries
		c.Names = append(c.Names, name)
	}
}

type parser struct {
	lex  lexer
	file string
}

func (p *parser) errf(line int, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) next() (token, error) {
	t, msg := p.lex.next()
	if msg != "" {
		return t, p.errf(t.line, "%s", msg)
	}
	return t, nil
}

func (p *parser) expect(kind rune) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind != kind {
		return p.errf(t.line, "expected %q, found %s", kind, t)
	}
	return nil
}

// entry parses "module flag [key=value ...];" whose first token is first.
func (p *parser) entry(first token) (Entry, error) {
	if first.kind != tokWord {
		return Entry{}, p.errf(first.line, "expected a login module class name, found %s", first)
	}
	e := Entry{Module: first.text, Line: first.line, Options: map[string]string{}}
	t, err := p.next()
	if err != nil {
		return e, err
	}
	switch f := Flag(strings.ToLower(t.text)); {
	case t.kind == tokWord && (f == Required || f == Requisite || f == Sufficient || f == Optional):
		e.Flag = f
	default:
		return e, p.errf(t.line, "login module %s: expected a control flag (required, requisite, sufficient or optional), found %s", e.Module, t)
	}
	for {
		t, err := p.next()
		if err != nil {
			return e, err
		}
		if t.kind == ';' {
			return e, nil
		}
		if t.kind != tokWord {
			return e, p.errf(t.line, "login module %s: expected an option name or ';', found %s", e.Module, t)
		}
		if err := p.expect('='); err != nil {
			return e, err
		}
		v, err := p.next()
		if err != nil {
			return e, err
		}
		if v.kind != tokWord && v.kind != tokQuoted {
			return e, p.errf(v.line, "option %s: expected a value, found %s", t.text, v)
		}
		e.Options[t.text] = v.text
	}
}

const (
	tokEOF    = -1
	tokWord   = -2
	tokQuoted = -3
)

type token struct {
	kind rune // tokEOF, tokWord, tokQuoted or one of { } ; =
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "the end of the file"
	case tokWord:
		return fmt.Sprintf("%q", t.text)
	case tokQuoted:
		return fmt.Sprintf("the string %q", t.text)
	}
	return fmt.Sprintf("%q", t.kind)
}

type lexer struct {
	src  string
	pos  int
	line int
}

// next returns the next token, or a message for malformed input.
func (l *lexer) next() (token, string) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			start := l.line
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return token{line: start}, "unterminated /* comment"
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		case c == '{' || c == '}' || c == ';' || c == '=':
			l.pos++
			return token{kind: rune(c), line: l.line}, ""
		case c == '"':
			return l.quoted()
		default:
			start := l.pos
			for l.pos < len(l.src) && !strings.ContainsRune(" \t\r\n\f{};=\"", rune(l.src[l.pos])) {
				l.pos++
			}
			return token{kind: tokWord, text: l.src[start:l.pos], line: l.line}, ""
		}
	}
	return token{kind: tokEOF, line: l.line}, ""
}

// quoted reads a "..." string with Java StreamTokenizer's escapes (\n \t \r \b \f,
// \\ \" and any other escaped character as itself).
func (l *lexer) quoted() (token, string) {
	start := l.line
	l.pos++ // the opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		l.pos++
		switch c {
		case '"':
			return token{kind: tokQuoted, text: b.String(), line: start}, ""
		case '\n':
			return token{line: start}, "unterminated string (a quoted value must end on its line)"
		case '\\':
			if l.pos >= len(l.src) {
				return token{line: start}, "unterminated string"
			}
			e := l.src[l.pos]
			l.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return token{line: start}, "unterminated string"
}

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// shellWords splits a command line as sh would into words, keeping quoted text and
// $(...) inside one word and dropping the quotes; it stops at a comment.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				j = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			depth, j := 0, i
			for ; j < len(line); j++ {
				if line[j] == '(' {
					depth++
				} else if line[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			w.WriteString(line[i:min(j+1, len(line))])
			i = j
			inWord = true
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// docCommands returns the zkraft command lines of a Markdown file: in fenced blocks
// (continuation lines joined; each command of a && or ; list; after sudo -u user) and
// in inline code spans that start with "zkraft ".
func docCommands(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	inFence := false
	var cont strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			for _, m := range regexp.MustCompile("`(zkraft [^`]+)`").FindAllStringSubmatch(l, -1) {
				lines = append(lines, m[1])
			}
			continue
		}
		if strings.HasSuffix(strings.TrimRight(l, " "), `\`) {
			cont.WriteString(strings.TrimSuffix(strings.TrimRight(l, " "), `\`) + " ")
			continue
		}
		cont.WriteString(l)
		lines = append(lines, cont.String())
		cont.Reset()
	}
	var cmds [][]string
	for _, l := range lines {
		for _, part := range regexp.MustCompile(`&&|;|\|\|`).Split(l, -1) {
			w := shellWords(part)
			if len(w) >= 3 && w[0] == "sudo" && w[1] == "-u" {
				w = w[3:]
			}
			if len(w) > 0 && (w[0] == "zkraft" || w[0] == "./zkraft" || w[0] == "/usr/local/bin/zkraft") {
				cmds = append(cmds, w[1:])
			}
		}
	}
	return cmds
}

// TestOperationsDocCommands: every zkraft command line in docs/operations.md names a
// real subcommand, and its flags and arguments are ones that command accepts (shell
// parses zkCli.sh's own -server flag itself).
func TestOperationsDocCommands(t *testing.T) {
	cmds := docCommands(t, "../../docs/operations.md")
	if len(cmds) < 20 {
		t.Fatalf("found only %d zkraft command lines in docs/operations.md", len(cmds))
	}
	t.Logf("%d zkraft command lines", len(cmds))
	seen := map[string]bool{}
	for _, args := range cmds {
		line := "zkraft " + strings.Join(args, " ")
		root := rootCmd()
		cmd, rest, err := root.Find(args)
		if err != nil || cmd == root {
			t.Errorf("%s: no such command (%v)", line, err)
			continue
		}
		seen[cmd.CommandPath()] = true
		if cmd.DisableFlagParsing {
			if len(rest) < 2 || rest[0] != "-server" {
				t.Errorf("%s: want -server host:port first", line)
			}
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		// Inline mentions may name a flag alone (`zkraft serve --metrics-addr`); whole
		// command lines must also satisfy the command's argument and required-flag rules.
		if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		if err := cmd.ValidateRequiredFlags(); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
	for _, want := range []string{"zkraft serve", "zkraft version", "zkraft status", "zkraft members", "zkraft members add",
		"zkraft members remove", "zkraft backup", "zkraft restore", "zkraft import", "zkraft mirror", "zkraft compat",
		"zkraft export", "zkraft shell"} {
		if !seen[want] {
			t.Errorf("docs/operations.md shows no %q command line", want)
		}
	}
}

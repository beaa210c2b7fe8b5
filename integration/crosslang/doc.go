// Package crosslang tests that zkraft's Go recipes and kazoo's Python recipes
// interoperate on one zkraft server: the same lock and election paths, fair
// contention, exactly one holder. Tests only; it needs /usr/bin/python3 with kazoo
// (Debian python3-kazoo) and fails loudly without them.
package crosslang

package zkproto

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidatePath checks a znode path as ZooKeeper's PathUtils.validatePath does. The
// error wraps ErrBadArguments and says why. ZooKeeper decodes paths into UTF-16
// and rejects the units U+D800–U+F8FF, so every character outside the Basic
// Multilingual Plane (a surrogate pair) is invalid too; so is invalid UTF-8, which
// Java decodes as U+FFFD.
func ValidatePath(path string) error {
	if path == "" {
		return badPath(path, "path length must be > 0")
	}
	if path[0] != '/' {
		return badPath(path, "path must start with / character")
	}
	if len(path) == 1 {
		return nil // the root
	}
	if path[len(path)-1] == '/' {
		return badPath(path, "path must not end with / character")
	}
	var last rune = '/'
	for i, c := range path {
		if i == 0 {
			continue
		}
		switch {
		case c == 0:
			return badPath(path, fmt.Sprintf("null character not allowed @%d", i))
		case c == '/' && last == '/':
			return badPath(path, fmt.Sprintf("empty node name specified @%d", i))
		case c == '.' && (last == '/' || last == '.' && path[i-2] == '/') &&
			(i+1 == len(path) || path[i+1] == '/'):
			return badPath(path, fmt.Sprintf("relative paths not allowed @%d", i))
		case c == utf8.RuneError: // invalid UTF-8, or U+FFFD itself: both refused
			return badPath(path, fmt.Sprintf("invalid character or UTF-8 @%d", i))
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			return badPath(path, fmt.Sprintf("invalid character @%d", i))
		}
		last = c
	}
	return nil
}

// ValidateCreatePath validates the path of a create: a sequential create validates
// path+"1", since the server appends the counter, so "/q/" is legal for it.
func ValidateCreatePath(path string, sequential bool) error {
	if sequential {
		return ValidatePath(path + "1")
	}
	return ValidatePath(path)
}

func badPath(path, reason string) error {
	return fmt.Errorf("%w: invalid path %q: %s", ErrBadArguments, path, reason)
}

// ParentPath is the parent of a valid path: "/" for "/a", "/a" for "/a/b", and ""
// for the root, which has none.
func ParentPath(path string) string {
	i := strings.LastIndexByte(path, '/')
	switch {
	case i < 0 || path == "/":
		return ""
	case i == 0:
		return "/"
	}
	return path[:i]
}

// BaseName is the last component of a path: "b" for "/a/b", "" for the root.
func BaseName(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

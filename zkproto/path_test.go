package zkproto

import (
	"errors"
	"testing"
)

func TestValidatePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		// PathUtilsTest (ZooKeeper 3.8).
		{"/this is / a valid/path", true},
		{"", false},
		{"not/valid", false},
		{"/ends/with/slash/", false},
		{"/test\u0000", false},
		{"/double//slash", false},
		{"/single/./period", false},
		{"/double/../period", false},
		{"/name/with.period.", true},
		{"/test\u0001", false},
		{"/test\u001F", false},
		{"/test\u0020", true},
		{"/test\u007e", true},
		{"/test\u007f", false},
		{"/test\u009f", false},
		{"/test\xed\xa0\x80", false}, // \ud800 cannot be UTF-8; Java decodes it as U+FFFD
		{"/test\uf8ff", false},
		{"/test\uffef", true},
		{"/test\ufff0", false},
		// More edges of the same rules.
		{"/", true},
		{"//", false},
		{"/a", true},
		{"/.", false},
		{"/..", false},
		{"/...", true},
		{"/.a", true},
		{"/a.", true},
		{"/a/.", false},
		{"/a/..", false},
		{"/a/../b", false},
		{"/a/./b", false},
		{"/a..b", true},
		{"/x/..y", true},
		{"/test\u00a0", true},
		{"/test\ud7ff", true},
		{"/test\ue000", false},
		{"/test\uf900", true},
		{"/test\ufffd", false},
		{"/test\U0001F600", false}, // a surrogate pair in Java
		{"/test\xff", false},
		{"/test\xc0\x80", false}, // overlong NUL
		{"/zookeeper/quota", true},
		{"/\u00e9t\u00e9/\u65e5\u672c", true},
		{"a", false},
		{" /a", false},
	} {
		err := ValidatePath(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePath(%q) = %v, want ok=%v", tc.path, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadArguments) {
			t.Errorf("ValidatePath(%q) = %v, not ErrBadArguments", tc.path, err)
		}
	}
}

func TestValidateCreatePath(t *testing.T) {
	for _, tc := range []struct {
		path       string
		sequential bool
		ok         bool
	}{
		{"/q/", true, true},
		{"/q/", false, false},
		{"/", true, true}, // "/1"
		{"/q/s-", true, true},
		{"/q//", true, false},
		{"/q/.", true, true}, // "/q/.1"
		{"/q/.", false, false},
		{"", true, false},
	} {
		if err := ValidateCreatePath(tc.path, tc.sequential); (err == nil) != tc.ok {
			t.Errorf("ValidateCreatePath(%q, %v) = %v, want ok=%v", tc.path, tc.sequential, err, tc.ok)
		}
	}
}

func TestParentAndBase(t *testing.T) {
	for _, tc := range []struct{ path, parent, base string }{
		{"/", "", ""},
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/c0000000001", "/a/b", "c0000000001"},
	} {
		if p, b := ParentPath(tc.path), BaseName(tc.path); p != tc.parent || b != tc.base {
			t.Errorf("%q: parent %q base %q, want %q %q", tc.path, p, b, tc.parent, tc.base)
		}
	}
}

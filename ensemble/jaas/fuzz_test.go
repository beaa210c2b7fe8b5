package jaas

import "testing"

// FuzzParse: the parser never panics, and what it accepts has entries with a
// module and a flag.
func FuzzParse(f *testing.F) {
	f.Add(`Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="x\"y"; }; // c`)
	f.Add("A {\n M optional a=b /* c */ ;\n};\n")
	f.Add(`"quoted name" { M sufficient k="unterminated`)
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("fuzz.conf", text)
		if err != nil {
			return
		}
		for _, n := range c.Names {
			for _, e := range c.Sections[n] {
				if e.Module == "" || e.Flag == "" {
					t.Fatalf("entry %+v of %q", e, text)
				}
			}
		}
	})
}

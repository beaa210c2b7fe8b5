package matrix

import (
	"os"
	"testing"
)

// MATRIX.md is what the committed observations render: edit the table's text in this
// package and the observations by running the tests (see the package comment), never
// MATRIX.md by hand.
func TestUpToDate(t *testing.T) {
	want, err := Render("..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../MATRIX.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("integration/clients/MATRIX.md differs from what integration/clients/matrix/observed renders; regenerate it with\n" +
			"ZKRAFT_WRITE_MATRIX=1 go test -race -count=1 -tags clients ./integration/clients/...")
	}
}

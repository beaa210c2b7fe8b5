package ensembleproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func mountDisk(t testing.TB, dir string, mb int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm", mb)); err != nil {
		t.Fatalf("mount a %d MiB tmpfs on %s (Options.DiskMB needs root, as CI runs): %v", mb, dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// FillDisk fills member i's tmpfs (Options.DiskMB) with a file until no space is
// left; FreeDisk removes it.
func (e *Ensemble) FillDisk(i int) error {
	m := e.Members[i]
	if m.DiskDir == "" {
		return errors.New("ensembleproc: FillDisk needs Options.DiskMB")
	}
	f, err := os.Create(filepath.Join(m.DiskDir, "filler"))
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// FreeDisk removes what FillDisk wrote.
func (e *Ensemble) FreeDisk(i int) error {
	err := os.Remove(filepath.Join(e.Members[i].DiskDir, "filler"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Exited reports whether member i's process has ended by itself (it was not stopped
// through the Ensemble); then Reap forgets it so that Restart may start it again.
func (e *Ensemble) Exited(i int) bool {
	m := e.Members[i]
	return m.Proc != nil && m.Proc.Exited()
}

// Reap forgets member i's exited process and returns its output.
func (e *Ensemble) Reap(i int) string {
	m := e.Members[i]
	if m.Proc == nil {
		return ""
	}
	<-m.Proc.Done()
	out := m.Proc.Output()
	e.forget(i)
	return out
}

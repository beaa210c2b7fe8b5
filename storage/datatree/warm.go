package datatree

import (
	"os"
	"sync"
)

// warmer hands out fresh memory whose pages another core has already touched.
// A restore fills hundreds of MiB of records and arena chunks on one goroutine;
// the first touch of each page is a page fault, which on a virtual machine cost a
// third of a restart with a million znodes. The warmer takes those faults on the
// other core, a few chunks ahead of the restore.
type warmer struct {
	chunks chan []byte
	blocks chan *recBlock
	stop   chan struct{}
	done   chan struct{}
}

// warmAhead bounds the memory touched ahead of its use (and wasted, at the end).
const warmAhead = 8

func startWarmer() *warmer {
	w := &warmer{
		chunks: make(chan []byte, warmAhead),
		blocks: make(chan *recBlock, warmAhead),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	page := os.Getpagesize()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // chunks and blocks each at their own pace: a restore takes several blocks per chunk
		defer wg.Done()
		for {
			c := make([]byte, chunkSize)
			for i := 0; i < len(c); i += page {
				c[i] = 0
			}
			select {
			case w.chunks <- c[:0]:
			case <-w.stop:
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			b := new(recBlock)
			for i := range b.r {
				b.r[i].flags = 0 // a store per record: the block is a few pages
			}
			select {
			case w.blocks <- b:
			case <-w.stop:
				return
			}
		}
	}()
	go func() { wg.Wait(); close(w.done) }()
	return w
}

// close stops the warmer and waits for it to end.
func (w *warmer) close() {
	close(w.stop)
	<-w.done
}

// chunk is an empty arena chunk, warm when the warmer keeps up.
func (w *warmer) chunk() []byte {
	if w != nil {
		select {
		case c := <-w.chunks:
			return c
		default:
		}
	}
	return make([]byte, 0, chunkSize)
}

// block is an empty record block, warm when the warmer keeps up.
func (w *warmer) block() *recBlock {
	if w != nil {
		select {
		case b := <-w.blocks:
			return b
		default:
		}
	}
	return new(recBlock)
}

// warmFrom is the node count from which a restore warms memory ahead: below it the
// tree is a few MiB, faulted in less time than a goroutine takes to start. (A
// variable for the tests.)
var warmFrom int64 = 50_000

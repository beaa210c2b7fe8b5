package ensemble_test

import (
	"fmt"
	"log"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
)

// Start an in-memory server on a free loopback port, use it with a standard client,
// and stop it.
func ExampleStart() {
	cfg := ensemble.NewConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	srv, err := ensemble.Start(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	<-srv.Ready()

	conn, _, err := zk.Connect([]string{srv.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/greeting", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		log.Fatal(err)
	}
	data, stat, err := conn.Get("/greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data), stat.Version)
	// Output: hello 0
}

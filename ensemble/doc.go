// Package ensemble is the zkraft server: the Raft state machine, client connections
// and the request pipeline, sessions, watches, four-letter words and the embedding API.
//
//	cfg := ensemble.NewConfig()
//	cfg.ClientAddr = "127.0.0.1:0"
//	srv, err := ensemble.Start(cfg) // binds and starts; does not wait
//	<-srv.Ready()                   // leader known, state applied, serving clients
//	defer srv.Close()               // idempotent
//
// It imports zkproto and storage; nothing here imports cmd or integration.
package ensemble

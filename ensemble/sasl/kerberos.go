package sasl

import (
	"errors"
	"fmt"

	"github.com/zkraft/zkraft/ensemble/jaas"
)

// Kerberos is the GSSAPI side of a Server: its keytab and service principal.
type Kerberos struct {
	principal string
}

func newKerberos(e jaas.Entry, _ Options, file string) (*Kerberos, error) {
	return nil, fmt.Errorf("%s:%d: %s: Kerberos (GSSAPI) is not supported yet", file, e.Line, Krb5LoginModule)
}

func (k *Kerberos) newExchange(func(string) string) *gssapiExchange { return &gssapiExchange{} }

type gssapiExchange struct{}

func (g *gssapiExchange) Step([]byte) ([]byte, error) {
	return nil, errors.New("GSSAPI: not supported")
}
func (g *gssapiExchange) Complete() bool          { return false }
func (g *gssapiExchange) AuthorizationID() string { return "" }
func (g *gssapiExchange) Mechanism() string       { return "GSSAPI" }

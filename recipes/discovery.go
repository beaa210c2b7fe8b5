package recipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Service types of Curator's ServiceType enum.
const (
	ServiceDynamic           = "DYNAMIC"            // ephemeral: gone with the session
	ServiceStatic            = "STATIC"             // persistent
	ServicePermanent         = "PERMANENT"          // persistent
	ServiceDynamicSequential = "DYNAMIC_SEQUENTIAL" // ephemeral sequential
)

// ServiceInstance is Curator's org.apache.curator.x.discovery.ServiceInstance in
// the JSON its JsonInstanceSerializer writes. Payload is raw JSON: Curator writes
// it with Jackson type information ({"@class": "...", ...}) and Java readers need
// that "@class" to deserialize it.
type ServiceInstance struct {
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	Address             string          `json:"address"`
	Port                *int            `json:"port"`
	SSLPort             *int            `json:"sslPort"`
	Payload             json.RawMessage `json:"payload"`
	RegistrationTimeUTC int64           `json:"registrationTimeUTC"`
	ServiceType         string          `json:"serviceType"`
	URISpec             *URISpec        `json:"uriSpec"`
	Enabled             *bool           `json:"enabled,omitempty"`
}

// URISpec is Curator's UriSpec: a template such as "{scheme}://{address}:{port}"
// split into literal and variable parts.
type URISpec struct {
	Parts []URISpecPart `json:"parts"`
}

// URISpecPart is one part of a URISpec.
type URISpecPart struct {
	Value    string `json:"value"`
	Variable bool   `json:"variable"`
}

// ParseURISpec splits a Curator URI template into parts, as UriSpec(String) does.
func ParseURISpec(s string) *URISpec {
	spec := &URISpec{}
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			spec.Parts = append(spec.Parts, URISpecPart{Value: s})
			break
		}
		if i > 0 {
			spec.Parts = append(spec.Parts, URISpecPart{Value: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			spec.Parts = append(spec.Parts, URISpecPart{Value: s[i:]})
			break
		}
		spec.Parts = append(spec.Parts, URISpecPart{Value: s[i+1 : i+j], Variable: true})
		s = s[i+j+1:]
	}
	return spec
}

// Build fills the template from the instance ("name", "id", "address", "port",
// "ssl-port", "scheme"), as UriSpec.build does.
func (u *URISpec) Build(inst ServiceInstance) string {
	var b strings.Builder
	for _, p := range u.Parts {
		if !p.Variable {
			b.WriteString(p.Value)
			continue
		}
		switch p.Value {
		case "name":
			b.WriteString(inst.Name)
		case "id":
			b.WriteString(inst.ID)
		case "address":
			b.WriteString(inst.Address)
		case "port":
			if inst.Port != nil {
				fmt.Fprint(&b, *inst.Port)
			}
		case "ssl-port":
			if inst.SSLPort != nil {
				fmt.Fprint(&b, *inst.SSLPort)
			}
		case "scheme":
			if inst.SSLPort != nil {
				b.WriteString("https")
			} else {
				b.WriteString("http")
			}
		default:
			b.WriteString("{" + p.Value + "}")
		}
	}
	return b.String()
}

// ServiceRegistry registers and discovers service instances.
//
// Layout: Curator's ServiceDiscovery: instance nodes at "/<base>/<name>/<id>" with
// the ServiceInstance JSON as data; DYNAMIC instances are ephemeral, STATIC and
// PERMANENT persistent. So Java services using Curator and Go services using this
// registry find each other. As Curator does, dynamic registrations are created
// again when the session is replaced after expiry.
type ServiceRegistry struct {
	s    *Session
	base string
	acl  []zk.ACL

	mu      sync.Mutex
	regs    map[string]ServiceInstance // by id
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewServiceRegistry returns a registry under basePath. Close it to stop
// re-registering.
func NewServiceRegistry(s *Session, basePath string, opts ...Option) *ServiceRegistry {
	o := buildOptions(s, opts)
	r := &ServiceRegistry{s: s, base: basePath, acl: o.acl, regs: map[string]ServiceInstance{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go r.reregister()
	return r
}

func (r *ServiceRegistry) instPath(name, id string) string { return path.Join(r.base, name, id) }

// Register publishes inst. An empty ID gets a random UUID, a zero
// RegistrationTimeUTC the current time, an empty ServiceType DYNAMIC, a nil
// Enabled true. It returns the instance as registered.
func (r *ServiceRegistry) Register(ctx context.Context, inst ServiceInstance) (ServiceInstance, error) {
	if inst.Name == "" || strings.Contains(inst.Name, "/") {
		return inst, fmt.Errorf("recipes: bad service name %q", inst.Name)
	}
	if inst.ID == "" {
		inst.ID = uuidString()
	}
	if inst.RegistrationTimeUTC == 0 {
		inst.RegistrationTimeUTC = time.Now().UnixMilli()
	}
	if inst.ServiceType == "" {
		inst.ServiceType = ServiceDynamic
	}
	if inst.Enabled == nil {
		t := true
		inst.Enabled = &t
	}
	if err := r.create(ctx, inst); err != nil {
		return inst, err
	}
	r.mu.Lock()
	r.regs[inst.ID] = inst
	r.mu.Unlock()
	return inst, nil
}

func (r *ServiceRegistry) create(ctx context.Context, inst ServiceInstance) error {
	data, err := json.Marshal(inst)
	if err != nil {
		return err
	}
	var flags int32
	switch inst.ServiceType {
	case ServiceDynamic:
		flags = zk.FlagEphemeral
	case ServiceDynamicSequential:
		flags = zk.FlagEphemeral | zk.FlagSequence
	}
	c := r.s.conn
	p := r.instPath(inst.Name, inst.ID)
	if err := ensurePath(ctx, c, path.Dir(p), r.acl); err != nil {
		return err
	}
	err = do(ctx, func() error { _, err := c.Create(p, data, flags, r.acl); return err })
	if errors.Is(err, zk.ErrNodeExists) { // ours from a lost reply, or re-registration
		err = do(ctx, func() error { _, err := c.Set(p, data, -1); return err })
	}
	return err
}

// Unregister removes the instance id of service name.
func (r *ServiceRegistry) Unregister(ctx context.Context, name, id string) error {
	r.mu.Lock()
	delete(r.regs, id)
	r.mu.Unlock()
	return deleteQuietly(ctx, r.s.conn, r.instPath(name, id))
}

// Names lists the registered service names.
func (r *ServiceRegistry) Names(ctx context.Context) ([]string, error) {
	var kids []string
	err := do(ctx, func() (err error) { kids, _, err = r.s.conn.Children(r.base); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	return kids, err
}

// Instances lists the instances of service name. Nodes whose data is not a
// ServiceInstance are skipped.
func (r *ServiceRegistry) Instances(ctx context.Context, name string) ([]ServiceInstance, error) {
	c := r.s.conn
	dir := path.Join(r.base, name)
	var kids []string
	err := do(ctx, func() (err error) { kids, _, err = c.Children(dir); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ServiceInstance
	for _, k := range kids {
		var data []byte
		err := do(ctx, func() (err error) { data, _, err = c.Get(dir + "/" + k); return err })
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var inst ServiceInstance
		if json.Unmarshal(data, &inst) == nil {
			out = append(out, inst)
		}
	}
	return out, nil
}

// Close stops re-registering (registrations stay until the session ends).
func (r *ServiceRegistry) Close() {
	r.once.Do(func() { close(r.stop) })
	<-r.stopped
}

// reregister recreates dynamic registrations each time the session is replaced.
func (r *ServiceRegistry) reregister() {
	defer close(r.stopped)
	for {
		select {
		case <-r.stop:
			return
		case <-r.s.epoch().done:
		}
		// Wait for the next session, then publish again.
		for r.s.conn.State() != zk.StateHasSession || r.s.epoch().ended() {
			select {
			case <-r.stop:
				return
			case <-time.After(retryDelay):
			}
		}
		r.mu.Lock()
		var regs []ServiceInstance
		for _, inst := range r.regs {
			regs = append(regs, inst)
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, inst := range regs {
			_ = r.create(ctx, inst)
		}
		cancel()
	}
}

package gitops

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

// State is what the server holds for a set of namespaces.
type State struct {
	// Namespaces by name; a namespace that does not exist on the server is
	// absent.
	Namespaces map[string]*NamespaceState
}

// NamespaceState is one namespace as the server holds it.
type NamespaceState struct {
	Name        string
	Description string
	// Schemas maps a schema name to its versions; Schemas[name][i] is
	// version i+1.
	Schemas map[string][]api.SchemaVersion
	// Configs by key.
	Configs map[string]api.ConfigEntry
}

// Fetch reads the namespaces, schema versions and config entries of the
// named namespaces with linearizable reads; when namespaces is empty it reads
// every namespace on the server. Namespaces that do not exist are left out.
// Each list is a separate read: an edit made while Fetch runs may be seen or
// missed, and apply's compare-and-set catches it either way.
func Fetch(ctx context.Context, c *client.Client, namespaces []string, progress func(configs int)) (*State, error) {
	if len(namespaces) == 0 {
		list, _, err := c.Namespaces().List(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("gitops: listing namespaces: %w", err)
		}
		for _, ns := range list.Items {
			namespaces = append(namespaces, ns.Name)
		}
	}
	st := &State{Namespaces: map[string]*NamespaceState{}}
	for _, name := range namespaces {
		ns, _, err := c.Namespaces().Get(ctx, name, nil)
		if isCode(err, api.CodeNamespaceNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("gitops: reading namespace %s: %w", name, err)
		}
		nst := &NamespaceState{Name: name, Description: ns.Description, Schemas: map[string][]api.SchemaVersion{}, Configs: map[string]api.ConfigEntry{}}
		schemas, _, err := c.Schemas().List(ctx, name, nil)
		if err != nil {
			return nil, fmt.Errorf("gitops: listing schemas of %s: %w", name, err)
		}
		for _, s := range schemas.Items {
			vs, _, err := c.Schemas().Versions(ctx, name, s.Name, nil)
			if err != nil {
				return nil, fmt.Errorf("gitops: reading schema %s/%s: %w", name, s.Name, err)
			}
			items := vs.Items
			sort.Slice(items, func(i, j int) bool { return items[i].Version < items[j].Version })
			for i, v := range items {
				if v.Version != i+1 {
					return nil, fmt.Errorf("gitops: schema %s/%s: the server lists version %d at position %d", name, s.Name, v.Version, i+1)
				}
			}
			nst.Schemas[s.Name] = items
		}
		for page, err := range c.Configs().ListAll(ctx, name, client.ListQuery{}, nil) {
			if err != nil {
				return nil, fmt.Errorf("gitops: listing configs of %s: %w", name, err)
			}
			for _, e := range page.Items {
				nst.Configs[e.Key] = e
			}
			if progress != nil {
				progress(len(page.Items))
			}
		}
		st.Namespaces[name] = nst
	}
	return st, nil
}

// isCode reports whether err is an API error with the given code.
func isCode(err error, code string) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == code
}

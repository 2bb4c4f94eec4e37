package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

func Example() {
	ctx := context.Background()
	c, err := client.New(client.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := c.Namespaces().Create(ctx, "payments", api.CreateNamespaceRequest{Description: "payment services"}, nil); err != nil && !client.IsCode(err, api.CodeNamespaceExists) {
		log.Fatal(err)
	}
	if _, _, err := c.Schemas().Register(ctx, "payments", "checkout", api.RegisterSchemaRequest{
		Schema: json.RawMessage(`{"type":"object","properties":{"retries":{"type":"integer","maximum":10}}}`),
	}, nil); err != nil {
		log.Fatal(err)
	}
	entry, _, err := c.Configs().Put(ctx, "payments", "checkout/limits", api.PutConfigRequest{
		Schema: "checkout",
		Value:  json.RawMessage(`{"retries":30}`),
	}, &client.WriteOptions{Reason: "more retries"})
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == api.CodeValidationFailed {
		for _, d := range apiErr.Details {
			fmt.Printf("%s: %s\n", d.Pointer, d.Message)
		}
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored at revision", entry.ModifyRevision)
}

func ExampleConfigs_ListAll() {
	ctx := context.Background()
	c, err := client.New(client.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	for page, err := range c.Configs().ListAll(ctx, "payments", client.ListQuery{Prefix: "checkout/", Limit: 100}, nil) {
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range page.Items {
			fmt.Printf("%s %s@%d\n", e.Key, e.Schema, e.SchemaVersion)
		}
	}
}

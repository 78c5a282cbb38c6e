package main

import (
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

func newStoreCommand(g *globals) *cobra.Command {
	store := &cobra.Command{
		Use:   "store",
		Short: "The local provider's S3-compatible object store",
	}
	store.AddCommand(&cobra.Command{
		Use:   "serve --dir DIR [--listen ADDR] [--bucket NAME]...",
		Short: "Serve a durable, versioned S3-compatible object store from a directory",
		Long: `Serve a durable S3-compatible object store (versitygw, posix backend) from DIR.

Credentials come from --access-key/--secret-key, else from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, else are generated and printed with the endpoint at start-up.
Buckets named with --bucket (repeatable) are created, with versioning enabled.
Run 'pilotlight store serve --help' for every flag.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return objstore.ServeMain(cmd.Context(), args, g.stdout)
		},
	})
	return store
}

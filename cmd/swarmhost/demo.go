package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/host/demo"
)

func newDemoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the demonstration flow on embedded defaults (a fresh data folder unless --data is given)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := e.dataDir
			if !cmd.Flags().Changed("data") {
				var err error
				if dir, err = os.MkdirTemp("", "swarmhost-demo-"); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			fmt.Fprintf(e.stdout, "swarmhost demo in %s\n", dir)
			if _, err := demo.Run(ctx, demo.Options{DataDir: dir, Out: e.stdout}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "the data folder is kept: swarmhost --data %s audit verify\n", dir)
			return nil
		},
	}
}

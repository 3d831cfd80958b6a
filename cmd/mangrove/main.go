// Command mangrove is the security-operations backend: one binary that
// collects events, detects, groups alerts into incidents and serves the API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mangrove-soc/mangrove/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

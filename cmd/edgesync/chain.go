package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgesync/edgesync/internal/chain"
)

type chainCmd struct {
	Init      chainInitCmd      `cmd:"" help:"Make a chain's directory: the CA and the certificate of the hub's leaf node port."`
	AddStore  chainAddStoreCmd  `cmd:"" name:"add-store" help:"Add a store: its credential and settings file, and the hub's configuration and environment written again with it."`
	HubConfig chainHubConfigCmd `cmd:"" name:"hub-config" help:"Print the hub's nats-server configuration for some stores."`
}

type chainInitCmd struct {
	Dir     string   `help:"The chain's directory (keep it: its CA key signs the hub's certificates)." default:"edgesync-chain" type:"path"`
	HubURLs []string `name:"hub-url" required:"" help:"The hub's leaf node URLs the stores dial, e.g. tls://hub.example.com:7422."`
	Names   []string `name:"hub-name" required:"" help:"Host names or addresses the hub's certificate is for: every name in --hub-url."`
}

func (c *chainInitCmd) Run() error {
	if err := chain.Init(c.Dir, c.HubURLs, c.Names); err != nil {
		return err
	}
	fmt.Printf("chain in %s: %s (the stores trust it), %s and %s (the hub's leaf node port), %s (keep it off the hub and the stores)\n",
		c.Dir, chain.CAFile, chain.HubCert, chain.HubKey, chain.CAKey)
	fmt.Printf("next: edgesync chain add-store 001 --dir %s, for each store\n", c.Dir)
	return nil
}

type chainAddStoreCmd struct {
	Store string `arg:"" help:"The store's Edge code, three digits."`
	Dir   string `help:"The chain's directory (chain init)." default:"edgesync-chain" type:"path"`
}

func (c *chainAddStoreCmd) Run() error {
	stores, err := chain.AddStore(c.Dir, c.Store)
	if err != nil {
		return err
	}
	flags := make([]string, len(stores))
	for i, s := range stores {
		flags[i] = "--store " + s
	}
	fmt.Printf(`store %s added; the chain has %s.
At the hub:
  1. give every hub server %s (now with store %s's user) as /etc/nats/nats-hub.conf,
     and the variables of %s in its environment; restart the servers one at a time;
  2. edgesync streams init --replicas 3 %s
At store %s:
  3. copy %s and %s there, and run edgesync store with them
     (set -a; . ./%s; set +a; edgesync store --dir /var/lib/edgesync --mssql-dsn ... --edge-time-zone ...).
`, c.Store, strings.Join(stores, ", "), filepath.Join(c.Dir, chain.HubConf), c.Store, filepath.Join(c.Dir, chain.HubEnv),
		strings.Join(flags, " "), c.Store, filepath.Join(c.Dir, chain.StoreEnv(c.Store)), filepath.Join(c.Dir, chain.CAFile), chain.StoreEnv(c.Store))
	return nil
}

type chainHubConfigCmd struct {
	Stores []string `name:"store" help:"A store of the chain; repeatable."`
}

func (c *chainHubConfigCmd) Run() error {
	conf, err := chain.HubConfig(c.Stores...)
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(conf)
	return err
}

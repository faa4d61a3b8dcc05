// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// tls_client.go - a test subject: a Go program that is a TLS client and
// holds no long-term key. It connects with crypto/tls (certificates not
// verified), offers one ECDHE group, sends one HTTP/1.0 request, reads the
// first bytes of the answer, prints "ready PID" and keeps the connection
// open until SIGTERM/SIGINT. tests/test_verdict_processes.py builds it at
// test time with `go build`, takes its core with gdb's gcore and stops it by
// PID: its ephemeral ECDHE scalar must not pass for a long-term key.
//
//	tls_client ADDR GROUP VERSION
//
// GROUP is p256, p384, p521 or x25519; VERSION is tls12 or tls13.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: tls_client ADDR GROUP VERSION")
		os.Exit(2)
	}
	groups := map[string]tls.CurveID{"p256": tls.CurveP256, "p384": tls.CurveP384,
		"p521": tls.CurveP521, "x25519": tls.X25519}
	versions := map[string]uint16{"tls12": tls.VersionTLS12, "tls13": tls.VersionTLS13}
	group, ok1 := groups[os.Args[2]]
	version, ok2 := versions[os.Args[3]]
	if !ok1 || !ok2 {
		fmt.Fprintln(os.Stderr, "tls_client: unknown group or version")
		os.Exit(2)
	}
	conn, err := tls.Dial("tcp", os.Args[1], &tls.Config{InsecureSkipVerify: true,
		CurvePreferences: []tls.CurveID{group}, MinVersion: version, MaxVersion: version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_client:", err)
		os.Exit(1)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n")
	if _, err := io.ReadAtLeast(conn, make([]byte, 256), 1); err != nil {
		fmt.Fprintln(os.Stderr, "tls_client:", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("ready %d\n", os.Getpid())
	<-stop
}

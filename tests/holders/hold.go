// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// hold.go - a test subject that holds one private key the way a Go program
// holds it with the standard library's crypto/* packages (Go 1.19: math/big
// numbers for RSA and ECDSA, the 64-byte seed || public key slice for
// Ed25519). tests/test_library_keys.py builds it at test time with `go build`,
// starts it, takes its core with gdb's gcore and stops it by PID
// (docs/LIBRARY_KEYS.md).
//
//	hold KEYFILE [SIGNATURES]
//
// KEYFILE is a PKCS#8 PEM private key (RSA, EC or Ed25519). It is read,
// decoded with pem.Decode and x509.ParsePKCS8PrivateKey, and the file bytes
// and the DER are zeroed. The key is used once (RSA PKCS#1 v1.5 and ECDSA
// over the SHA-256 of "hello", Ed25519 over "hello"). Then the program does
// what a server that has run for a while has done: the garbage collector
// runs and later allocations reuse every freed small object (churn), so the
// copies the library made and dropped (encoding/asn1's copy of the inner
// key, Bytes() temporaries) are gone and only the live key remains, the same
// in every run. Without the churn, whether such a copy survives depends on
// the scheduler. With SIGNATURES, an ECDSA key then signs that many more
// distinct messages, as a token service does, and the signatures are kept:
// each leaves its nonce k, k^-1 and R = k*G behind as big.Int garbage
// (test_go_ecdsa_nonces_are_named). Then it prints "ready PID" and waits for
// SIGTERM/SIGINT.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// churn allocates, in every small size class, 256 KiB of objects (more than
// the free slots a heap of this size can have), keeping them alive until all
// are made: the allocator hands out the freed slots first and zeroes them.
// It keeps pointers to the first elements, not slice headers: thousands of
// stale {ptr, len, cap} headers of its own would test eddsa-raw's table of
// Go slice headers (docs/LIBRARY_KEYS.md, "Open points"), not the library.
func churn() {
	var keep []*byte
	var keepp []**byte
	for size := 8; size <= 32768; size += size/8 + 8 {
		n := (256 << 10) / size
		if n < 16 {
			n = 16
		}
		for i := 0; i < n; i++ {
			b := make([]byte, size)
			keep = append(keep, &b[0])
			pp := make([]*byte, size/8)
			keepp = append(keepp, &pp[0])
		}
	}
	runtime.KeepAlive(keep)
	runtime.KeepAlive(keepp)
}

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: hold KEYFILE [SIGNATURES]")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold:", err)
		os.Exit(2)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		fmt.Fprintln(os.Stderr, "hold: no PEM block")
		os.Exit(2)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	zero(block.Bytes)
	zero(data)
	block, data = nil, nil
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold:", err)
		os.Exit(2)
	}

	digest := sha256.Sum256([]byte("hello"))
	switch k := key.(type) {
	case *rsa.PrivateKey:
		_, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		_, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
	case ed25519.PrivateKey:
		_ = ed25519.Sign(k, []byte("hello"))
	default:
		err = fmt.Errorf("unsupported key type %T", key)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold:", err)
		os.Exit(2)
	}
	runtime.GC()
	churn()
	runtime.GC()
	signed := signMany(key)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("ready %d\n", os.Getpid())
	<-sigs
	runtime.KeepAlive(key)
	runtime.KeepAlive(signed)
}

// signMany makes the SIGNATURES more ECDSA signatures the command line asks
// for (none without it) and returns them.
func signMany(key any) [][]byte {
	if len(os.Args) != 3 {
		return nil
	}
	k, ok := key.(*ecdsa.PrivateKey)
	n, err := strconv.Atoi(os.Args[2])
	if !ok || err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "hold: SIGNATURES needs an EC key and a count")
		os.Exit(2)
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		digest := sha256.Sum256([]byte(fmt.Sprintf("token %d", i)))
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "hold:", err)
			os.Exit(2)
		}
		out = append(out, sig)
	}
	return out
}

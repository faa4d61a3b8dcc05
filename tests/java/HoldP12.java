// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// HoldP12.java - a test subject for tests/test_keystore.py: loads a PKCS#12
// key store with KeyStore.getInstance("PKCS12"), reads the private key of
// the given alias, signs once with it, prints "ready" and waits to be
// stopped, so that the test can take its core with gcore.
//
// usage: java HoldP12 STORE.p12 PASSWORD ALIAS
import java.io.FileInputStream;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;

public class HoldP12 {
    public static void main(String[] args) throws Exception {
        char[] pw = args[1].toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(args[0])) {
            ks.load(in, pw);
        }
        PrivateKey key = (PrivateKey) ks.getKey(args[2], pw);
        Signature sig = Signature.getInstance("SHA256withRSA");
        sig.initSign(key);
        sig.update("dumpgate".getBytes("UTF-8"));
        byte[] s = sig.sign();
        System.out.println("ready " + key.getAlgorithm() + " " + s.length);
        System.out.flush();
        while (true) {
            Thread.sleep(1000);
        }
    }
}

// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// HoldKey.java - a test subject: a JVM (Java 17 JCA, SunRsaSign / SunEC) that
// loads one private key from PKCS#8 DER with KeyFactory, zeroes and drops the
// bytes it read, uses the key once and keeps only the PrivateKey object (the
// JDK may keep its own encoded copy inside the key object). Prints
// "ready PID" and waits (tests/test_library_keys.py, docs/LIBRARY_KEYS.md).
//
//   java HoldKey RSA|EC|Ed25519|Ed448 KEYFILE.der
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;

public class HoldKey {
    public static void main(String[] args) throws Exception {
        String alg = args[0];
        byte[] der = Files.readAllBytes(Paths.get(args[1]));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        PrivateKey key = KeyFactory.getInstance(alg).generatePrivate(spec);
        Arrays.fill(der, (byte) 0);
        der = null;
        spec = null;
        String sigAlg = alg.equals("RSA") ? "SHA256withRSA"
                : alg.equals("EC") ? "SHA256withECDSA" : alg; // Ed25519, Ed448
        Signature s = Signature.getInstance(sigAlg);
        s.initSign(key);
        s.update("hello".getBytes());
        s.sign();
        s = null;
        System.gc();
        System.out.println("ready " + ProcessHandle.current().pid());
        System.out.flush();
        Thread.sleep(600_000);
        System.out.println(key.getAlgorithm());
    }
}

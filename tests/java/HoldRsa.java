// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// HoldRsa.java - a test subject: a JVM that loads an RSA key from PKCS#8 DER,
// then zeroes and drops the bytes it read, keeping only the RSAPrivateCrtKey
// (BigInteger int[] magnitudes on the heap; the JDK may keep its own encoded
// copy inside the key object). Prints "ready PID" and waits.
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;

public class HoldRsa {
    public static void main(String[] args) throws Exception {
        byte[] der = Files.readAllBytes(Paths.get(args[0]));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(spec);
        Signature s = Signature.getInstance("SHA256withRSA");
        s.initSign(key);
        s.update("hello".getBytes());
        s.sign();
        Arrays.fill(der, (byte) 0);
        der = null;
        spec = null;
        System.gc();
        System.out.println("ready " + ProcessHandle.current().pid());
        System.out.flush();
        Thread.sleep(600_000);
        System.out.println(key.getAlgorithm());
    }
}

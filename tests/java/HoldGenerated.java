// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// HoldGenerated.java - a test subject: a JVM (Java 17 JCA, SunEC) that
// generates a key pair with KeyPairGenerator, as a service that makes its
// own key at start does, uses it once (a signature, or for X25519/X448 a key
// agreement) and keeps the KeyPair. No key file exists, so the JDK holds no
// PKCS#8 of it: only the private value (EC: d as bytes, and the SEC1 {1, d}
// it encodes itself; EdDSA/XDH: the seed, and the OCTET STRING 04 len seed)
// and the public key object. With "encode" the public key's
// SubjectPublicKeyInfo is made once (as a service that publishes it does);
// with "noencode" it never is. Writes to OUTFILE "spki HEX" (encode only)
// and, for EC, "d HEX" (the SHA-256 of d as big-endian bytes of the field's
// length, never d itself), then prints "ready PID" and waits
// (tests/test_library_keys.py).
//
//   java HoldGenerated secp256r1|secp384r1|secp521r1|Ed25519|Ed448|X25519|X448
//        encode|noencode OUTFILE
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import javax.crypto.KeyAgreement;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;

public class HoldGenerated {
    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b)
            sb.append(String.format("%02x", x));
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        boolean ec = args[0].startsWith("secp"), xdh = args[0].startsWith("X");
        KeyPairGenerator g = KeyPairGenerator.getInstance(ec ? "EC" : args[0]);
        if (ec)
            g.initialize(new ECGenParameterSpec(args[0]));
        KeyPair kp = g.generateKeyPair();
        if (xdh) {
            KeyAgreement ka = KeyAgreement.getInstance(args[0]);
            ka.init(kp.getPrivate());
            ka.doPhase(KeyPairGenerator.getInstance(args[0]).generateKeyPair().getPublic(), true);
            ka.generateSecret();
        } else {
            Signature s = Signature.getInstance(ec ? "SHA256withECDSA" : args[0]);
            s.initSign(kp.getPrivate());
            s.update("hello".getBytes());
            s.sign();
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        StringBuilder out = new StringBuilder();
        if (args[1].equals("encode"))
            out.append("spki ").append(hex(sha.digest(kp.getPublic().getEncoded()))).append('\n');
        if (ec) {
            int field = (((ECPrivateKey) kp.getPrivate()).getParams().getCurve().getField()
                    .getFieldSize() + 7) / 8;
            BigInteger d = ((ECPrivateKey) kp.getPrivate()).getS();
            byte[] raw = d.toByteArray(), fixed = new byte[field];
            int n = Math.min(raw.length, field);
            System.arraycopy(raw, raw.length - n, fixed, field - n, n);
            out.append("d ").append(hex(sha.digest(fixed))).append('\n');
            Arrays.fill(raw, (byte) 0);
            Arrays.fill(fixed, (byte) 0);
        }
        Files.write(Paths.get(args[2]), out.toString().getBytes());
        System.gc();
        System.out.println("ready " + ProcessHandle.current().pid());
        System.out.flush();
        Thread.sleep(600_000);
        System.out.println(kp.getPrivate().getAlgorithm() + kp.getPublic().getAlgorithm());
    }
}

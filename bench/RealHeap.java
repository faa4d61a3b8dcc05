// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// RealHeap.java - the process behind bench/bench.sh --real: a JVM whose memory
// holds what a large real process holds, so that its gcore core measures the
// scanner on real bytes rather than on a generator's.
//
//   java -Xms900m -Xmx900m RealHeap LIBMIB HEAPMIB KEYDIR
//
// It keeps, until it is stopped:
//   - LIBMIB MiB of the shared libraries in /usr/lib/x86_64-linux-gnu (and
//     /usr/lib), mapped read-only with FileChannel.map and touched: code,
//     relocations, symbol and pointer tables exactly as ld.so would map them
//     (the core includes them when the bench sets coredump_filter to 0x7f);
//   - HEAPMIB MiB of a managed heap of ordinary objects: maps of boxed
//     integers to strings, lists of records with references between them,
//     long[] and int[] arrays, compact Latin-1 and UTF-16 strings;
//   - 32 MiB of log-like text, 32 MiB of pseudo-random bytes, and whatever the
//     committed but unused part of the Java heap holds (zeros);
//   - the keys in KEYDIR, in the forms a Java service keeps them: an RSA-2048
//     and an EC P-256 key made by KeyFactory from PKCS#8 DER (the DER bytes
//     zeroed), an RSA-3072 key read from a PKCS#12 key store, and the PKCS#8
//     PEM text of an RSA-2048 key as a String.
// It prints "ready PID" once all of it is in place, then sleeps.
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public class RealHeap {
    record Node(long id, String name, int[] scores, Node parent) {}

    static final List<Object> keep = new ArrayList<>();

    static long mapLibraries(long budget) throws IOException {
        long mapped = 0;
        for (String dir : new String[] {"/usr/lib/x86_64-linux-gnu", "/usr/lib"}) {
            List<Path> files = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(Paths.get(dir))) {
                for (Path p : ds) {
                    String n = p.getFileName().toString();
                    if (n.contains(".so") && Files.isRegularFile(p) && !Files.isSymbolicLink(p))
                        files.add(p);
                }
            }
            files.sort(null);
            for (Path p : files) {
                if (mapped >= budget)
                    return mapped;
                long size = Files.size(p);
                if (size < 4096 || size > 64L << 20)
                    continue;
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                    MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
                    m.load();
                    keep.add(m);
                    mapped += size;
                } catch (IOException e) {
                    // an unreadable library is skipped
                }
            }
        }
        return mapped;
    }

    static void fillHeap(long budget) {
        SplittableRandom r = new SplittableRandom(42);
        long used = 0;
        Node last = null;
        while (used < budget) {
            Map<Integer, String> m = new HashMap<>();
            for (int i = 0; i < 64; i++)
                m.put(r.nextInt(), "user-" + r.nextInt(1_000_000) + "@example.org");
            keep.add(m);
            List<Node> nodes = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                int[] s = new int[8];
                for (int j = 0; j < s.length; j++)
                    s[j] = r.nextInt(100);
                last = new Node(r.nextLong(), "node \u00e9t\u00e9 " + i, s, last);
                nodes.add(last);
            }
            keep.add(nodes);
            long[] ts = new long[256];
            long t = 1_700_000_000_000L;
            for (int i = 0; i < ts.length; i++)
                ts[i] = t += r.nextInt(5000);
            keep.add(ts);
            used += 64 * 120 + 64 * 110 + 256 * 8 + 64;
        }
        if (last != null)
            keep.add(last);
    }

    static void fillText(int bytes) {
        SplittableRandom r = new SplittableRandom(7);
        String[] words = {"request", "served", "GET", "/api/v1/items", "200", "latency", "ms",
                "user", "session", "cache", "miss", "hit", "upstream", "timeout", "retry"};
        StringBuilder sb = new StringBuilder(bytes);
        while (sb.length() < bytes) {
            sb.append("2026-12-04T10:").append(r.nextInt(60)).append(':').append(r.nextInt(60))
                    .append(" INFO ");
            for (int i = 0; i < 12; i++)
                sb.append(words[r.nextInt(words.length)]).append(' ');
            sb.append('\n');
        }
        keep.add(sb.toString());
    }

    static PrivateKey fromDer(String alg, Path file) throws Exception {
        byte[] der = Files.readAllBytes(file);
        PrivateKey k = KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
        Arrays.fill(der, (byte) 0);
        return k;
    }

    static void sign(PrivateKey k, String alg) throws Exception {
        Signature s = Signature.getInstance(alg);
        s.initSign(k);
        s.update("dumpgate".getBytes("UTF-8"));
        s.sign();
    }

    public static void main(String[] args) throws Exception {
        long libBudget = Long.parseLong(args[0]) << 20;
        long heapBudget = Long.parseLong(args[1]) << 20;
        Path keys = Paths.get(args[2]);

        long mapped = mapLibraries(libBudget);
        fillHeap(heapBudget / 2);

        PrivateKey rsa = fromDer("RSA", keys.resolve("rsa2048.p8.der"));
        sign(rsa, "SHA256withRSA");
        PrivateKey ec = fromDer("EC", keys.resolve("ec256.p8.der"));
        sign(ec, "SHA256withECDSA");
        char[] pw = "bench".toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(keys.resolve("rsa3072.p12").toFile())) {
            ks.load(in, pw);
        }
        PrivateKey p12 = (PrivateKey) ks.getKey("bench", pw);
        sign(p12, "SHA256withRSA");
        String pem = Files.readString(keys.resolve("rsa2048b.p8.pem"));
        keep.add(rsa);
        keep.add(ec);
        keep.add(p12);
        keep.add(pem);

        fillHeap(heapBudget - heapBudget / 2);
        fillText(32 << 20);
        byte[] noise = new byte[32 << 20];
        new SplittableRandom(99).nextBytes(noise);
        keep.add(noise);
        System.gc();
        System.out.println("ready " + ProcessHandle.current().pid() + " libraries " + mapped);
        System.out.flush();
        while (true)
            Thread.sleep(1000);
    }
}

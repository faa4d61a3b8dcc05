// SPDX-License-Identifier: MIT
// Copyright (C) the dumpgate authors
//
// TlsClient.java - a test subject for tests/test_verdict_processes.py: a JVM
// that makes one TLS connection to a local server with a trust-all
// TrustManager (the server's certificate is a fresh self-signed one), sends
// a GET, reads the answer, prints "ready" and waits to be stopped, so that
// the test can take its core with gcore. It holds no long-term key: only the
// JSSE handshake's ephemeral key share, traffic keys and random state.
//
// usage: java TlsClient HOST PORT
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class TlsClient {
    public static void main(String[] args) throws Exception {
        TrustManager[] trustAll = {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] chain, String type) {}
            public void checkServerTrusted(X509Certificate[] chain, String type) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        }};
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, trustAll, new SecureRandom());
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(args[0], Integer.parseInt(args[1]));
        s.startHandshake();
        OutputStream out = s.getOutputStream();
        out.write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        long total = 0;
        int n;
        while ((n = in.read(buf)) > 0)
            total += n;
        System.out.println("ready " + s.getSession().getProtocol() + " " + s.getSession().getCipherSuite()
                           + " " + total);
        System.out.flush();
        while (true) {
            Thread.sleep(1000);
        }
    }
}

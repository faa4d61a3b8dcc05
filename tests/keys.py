# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# keys.py - ground-truth keys made at test time with the openssl and
# ssh-keygen command lines, and the text encodings a process keeps them in.
import base64
import functools
import subprocess


def genpkey(path, alg):
    """Writes a new private key in PKCS#8 PEM: alg is rsa2048, rsa3072, rsa4096,
    rsa1024, p256, p384, p521, secp256k1, ed25519, ed448, x25519, x448, dsa
    (2048-bit p), dsa1024, dsa3072."""
    path = str(path)
    if alg.startswith("rsa"):
        args = ["-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{alg[3:]}"]
    elif alg in ("p256", "p384", "p521", "secp256k1"):
        curve = {"p256": "P-256", "p384": "P-384", "p521": "P-521", "secp256k1": "secp256k1"}[alg]
        args = ["-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}"]
    elif alg.startswith("dsa"):
        subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt",
                        f"dsa_paramgen_bits:{alg[3:] or 2048}", "-out", path + ".param"],
                       check=True, capture_output=True)
        args = ["-paramfile", path + ".param"]
    else:
        args = ["-algorithm", alg.upper()]
    subprocess.run(["openssl", "genpkey", *args, "-out", path], check=True, capture_output=True)
    return path


def convert(src, dst, *args):
    """Runs `openssl pkey -in src -out dst ARGS` (e.g. -traditional)."""
    subprocess.run(["openssl", "pkey", "-in", str(src), "-out", str(dst), *args], check=True,
                   capture_output=True)
    return str(dst)


def self_signed(key, cert):
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=dumpgate-test",
                    "-days", "2", "-out", str(cert)], check=True, capture_output=True)
    return str(cert)


def der_of(keyfile):
    """The PKCS#8 DER of a PEM key (to assert that no copy is left in a core)."""
    return subprocess.run(["openssl", "pkey", "-in", str(keyfile), "-outform", "DER"], check=True,
                          capture_output=True).stdout


def pkcs8_der(keyfile):
    """The unencrypted PKCS#8 DER of a key (openssl pkey writes RSA as PKCS#1)."""
    return subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(keyfile), "-outform",
                           "DER"], check=True, capture_output=True).stdout


def utf16le(text):
    return text.encode("utf-16-le")


def utf16be(text):
    return text.encode("utf-16-be")


def json_escaped(text):
    """The PEM as it sits inside a JSON string: newlines as \\n, / as \\/."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("/", "\\/").encode()


def one_line(text):
    """BEGIN line, body and END line on one line separated by spaces."""
    lines = text.strip().splitlines()
    return (lines[0] + " " + "".join(lines[1:-1]) + " " + lines[-1]).encode()


def ssh_pub_spki_sha256(pubfile):
    """SPKI SHA-256 of an OpenSSH public key file (ssh-keygen's .pub)."""
    import hashlib
    from cryptography.hazmat.primitives import serialization
    pub = serialization.load_ssh_public_key(open(pubfile, "rb").read())
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@functools.lru_cache(maxsize=None)
def _pkcs1_pem(p, q, e):
    """The PKCS#1 PEM of the RSA key with primes p, q and exponent e, encoded
    here: the cryptography package would check a big key for minutes first."""
    import math

    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    assert math.gcd(e, lam) == 1
    d = pow(e, -1, lam)

    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            return bytes([tag, n]) + body
        ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(ln)]) + ln + body

    def integer(v):
        return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))

    der = tlv(0x30, b"".join(integer(v) for v in (0, p * q, e, d, p, q, d % (p - 1),
                                                     d % (q - 1), pow(q, -1, p))))
    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n".encode()


def slow_rsa15360_pem():
    """An RSA-15360 private key (PKCS#1 PEM) that is not a published test key:
    the primes of OpenSSL's RSA-15360 test key (read from /usr/bin/openssl)
    with e = 3. The largest size anyone uses; its 7680-bit primes cost about
    a second to test."""
    import re

    def integers(der):  # the INTEGERs of a DER SEQUENCE of INTEGERs
        def length(i):
            n = der[i]
            if n < 0x80:
                return n, i + 1
            return int.from_bytes(der[i + 1:i + 1 + (n & 0x7f)], "big"), i + 1 + (n & 0x7f)
        _, i = length(1)
        out = []
        while i < len(der) and der[i] == 0x02:
            n, j = length(i + 1)
            out.append(int.from_bytes(der[j:j + n], "big"))
            i = j + n
        return out

    data = open("/usr/bin/openssl", "rb").read()
    for m in re.finditer(rb"\x30\x82(..)\x02\x01\x00\x02\x82\x07\x81", data, re.S):
        v = integers(data[m.start():m.start() + 4 + int.from_bytes(m.group(1), "big")])
        if len(v) == 9 and v[1].bit_length() == 15360 and v[4] * v[5] == v[1]:
            break
    else:
        raise AssertionError("no RSA-15360 test key in /usr/bin/openssl")
    return _pkcs1_pem(v[4], v[5], 3)


def mersenne_rsa_pem():
    """A crafted RSA key (PKCS#1 PEM, 24 KB, RSA-31150) whose primes are the
    Mersenne primes 2^19937 - 1 and 2^11213 - 1, with e = 65539 (65537
    divides p - 1): one Miller-Rabin round of its 19937-bit prime takes
    seconds, so its primality tests pass dumpgate's 10 s proof budget."""
    return _pkcs1_pem(2**19937 - 1, 2**11213 - 1, 65539)


def gpg_key_spki_sha256(keyfile):
    """SPKI SHA-256 of the public half of an unprotected gpg-agent key file
    (private-keys-v1.d/GRIP.key, "Key: (private-key (rsa (n #..#)(e #..#)..."
    or "(ecc (curve ...)(q #..#)..."): RSA, NIST P-256/P-384 or Ed25519."""
    import hashlib
    import re
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    text = open(keyfile).read()

    def number(name):
        m = re.search(r"\(%s\s*#([0-9A-Fa-f\s]+)#" % name, text)
        return bytes.fromhex(re.sub(r"\s", "", m.group(1)))

    if "(rsa" in text:
        pub = rsa.RSAPublicNumbers(int.from_bytes(number("e"), "big"),
                                   int.from_bytes(number("n"), "big")).public_key()
    elif "Ed25519" in text:
        pub = ed25519.Ed25519PublicKey.from_public_bytes(number("q")[1:])  # after the 0x40
    else:
        curve = ec.SECP384R1() if "P-384" in text else ec.SECP256R1()
        pub = ec.EllipticCurvePublicKey.from_encoded_point(curve, number("q"))
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()

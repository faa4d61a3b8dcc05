# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# keys.py - ground-truth keys made at test time with the openssl and
# ssh-keygen command lines, and the text encodings a process keeps them in.
import subprocess


def genpkey(path, alg):
    """Writes a new private key in PKCS#8 PEM: alg is rsa2048, rsa3072, rsa4096,
    rsa1024, p256, p384, p521, secp256k1, ed25519, ed448, x25519, x448, dsa."""
    path = str(path)
    if alg.startswith("rsa"):
        args = ["-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{alg[3:]}"]
    elif alg in ("p256", "p384", "p521", "secp256k1"):
        curve = {"p256": "P-256", "p384": "P-384", "p521": "P-521", "secp256k1": "secp256k1"}[alg]
        args = ["-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}"]
    elif alg == "dsa":
        subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt",
                        "dsa_paramgen_bits:2048", "-out", path + ".param"], check=True,
                       capture_output=True)
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

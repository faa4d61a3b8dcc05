/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * detector_list.h - one line per built-in detector. registry.c includes this
 * file twice: to declare dg_detector_<name> and to tabulate it. A new detector
 * is one .c file, one line here and one line in meson.build.
 */
DETECTOR(pem)
DETECTOR(rsa_raw)
DETECTOR(rsa_factor)
DETECTOR(ec_raw)
DETECTOR(eddsa_raw)
DETECTOR(dsa_raw)
DETECTOR(sexp)
DETECTOR(der)
DETECTOR(jwk)
DETECTOR(sshkey)
DETECTOR(keystore)
DETECTOR(certs)
DETECTOR(winblob)
DETECTOR(aes)
DETECTOR(drbg)
DETECTOR(keyshare)
DETECTOR(rules)

/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * dumpgate.h - umbrella header: everything a detector or an embedding
 * program needs. See detector.h for the detector contract, finding.h for what
 * a finding holds and error.h for errors and diagnostics.
 */
#ifndef DUMPGATE_DUMPGATE_H
#define DUMPGATE_DUMPGATE_H

#define DG_VERSION "0.1.0"

#include <dumpgate/error.h>
#include <dumpgate/finding.h>
#include <dumpgate/detector.h>

#endif

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: tracepoint definitions (lumen_trace.h).
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#define CREATE_TRACE_POINTS
#include "lumen_trace.h"

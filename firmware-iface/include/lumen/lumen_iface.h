/* SPDX-License-Identifier: MIT */
/* Lumen N1 hardware/firmware contract: everything in one include. */
#ifndef LUMEN_IFACE_H
#define LUMEN_IFACE_H

#include "lumen_types.h"
#include "lumen_regs.h"
#include "lumen_fw_image.h"
#include "lumen_mbox.h"
#include "lumen_queue.h"
#include "lumen_mmu.h"
#include "lumen_link.h"

#endif /* LUMEN_IFACE_H */

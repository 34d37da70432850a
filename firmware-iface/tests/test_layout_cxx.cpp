// SPDX-License-Identifier: MIT
// The contract headers compiled as C++ (the runtime's language): the
// LUMEN_CHECK_* static_asserts run here too, and the sizes are compared at
// run time with the C translation unit's.
#include <cstddef>

#include "lumen/lumen_iface.h"
#include "lumen/lumen_fiber.h"
#include "lumen/lumen_mgmt.h"
#include "lumen/lumen_remote.h"

extern "C" int layout_cxx_sizes_match(void)
{
	return sizeof(lumen_fw_header) == 64 && sizeof(lumen_mbox_msg) == 256 &&
	       sizeof(lumen_mbox_identity) == 64 && sizeof(lumen_cmd) == 64 &&
	       offsetof(lumen_cmd, u) == 8 && offsetof(lumen_mbox_identity, mem_size) == 40 &&
	       sizeof(lumen_link_data_hdr) == 32 && sizeof(lumen_pkt_hdr) == 64 &&
	       offsetof(lumen_mgmt, data) == LUMEN_MGMT_HDR_SIZE;
}

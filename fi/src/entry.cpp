// SPDX-License-Identifier: MIT
// The only symbol liblumen-fi.so exports: libfabric finds it when it loads
// the library from FI_PROVIDER_PATH.
#include "log.hpp"

extern "C" FI_EXT_INI
{
	return &lumen_fi::lumen_prov;
}

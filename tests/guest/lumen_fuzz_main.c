// SPDX-License-Identifier: MIT
/*
 * lumen-fuzz: the standalone ioctl fuzzer (engine and options in lumen_fuzz.c).
 *   tests/vm/run --cards 1 -- lumen-fuzz --seed 123 --count 1000000
 * Exit status: 0 passed, 1 failed, 2 bad arguments.
 */
#include "lumen_fuzz.h"

int main(int argc, char **argv)
{
	struct lf_opts o;
	int ret;

	lf_opts_default(&o);
	ret = lf_parse_args(&o, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	return lf_run(&o) ? 1 : 0;
}

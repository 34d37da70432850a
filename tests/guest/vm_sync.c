// SPDX-License-Identifier: MIT
/* The guests' rendezvous from C: see vm_sync.h. */
#include "vm_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "guest_util.h"

int vs_barrier(const char *who, const char *name, int timeout_s)
{
	int rc = gu_system("lumen-vm-barrier -t %d %s", timeout_s, name);

	if (rc)
		fprintf(stderr, "%s: lumen-vm-barrier %s: exit %d\n", who, name, rc);
	return rc;
}

int vs_exchange(const char *who, const char *name, const void *mine, size_t len, int timeout_s)
{
	char file[96], dir[96];
	FILE *fp;
	int rc;

	snprintf(file, sizeof(file), "/tmp/vs-%s.bin", name);
	snprintf(dir, sizeof(dir), "/tmp/vs-%s", name);
	fp = fopen(file, "wb");
	if (!fp || fwrite(mine, 1, len, fp) != len) {
		fprintf(stderr, "%s: cannot write %s\n", who, file);
		if (fp)
			fclose(fp);
		return -1;
	}
	if (fclose(fp)) {
		fprintf(stderr, "%s: cannot write %s\n", who, file);
		return -1;
	}
	rc = gu_system("lumen-vm-exchange -t %d %s %s %s", timeout_s, name, file, dir);
	if (rc)
		fprintf(stderr, "%s: lumen-vm-exchange %s: exit %d\n", who, name, rc);
	return rc;
}

void *vs_exchanged(const char *name, int g, size_t *len)
{
	char path[128];
	struct stat st;
	void *buf;
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/vs-%s/%d", name, g);
	if (stat(path, &st) || !(fp = fopen(path, "rb")))
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (buf && fread(buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*len = (size_t)st.st_size;
	return buf;
}

int vs_env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

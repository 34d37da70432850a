// SPDX-License-Identifier: MIT
/*
 * lumen-mkfw: build, inspect and (for tests) deliberately damage Lumen N1
 * firmware images in the format of firmware-iface/include/lumen/lumen_fw_image.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lumen/lumen_fw_image.h"

#define DEFAULT_PAYLOAD_SIZE (64u << 10)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lumen-mkfw --output FILE [--version X.Y.Z] [--build-id ID]\n"
		"                  [--payload FILE | --payload-size BYTES]\n"
		"       lumen-mkfw --check FILE\n"
		"       lumen-mkfw --corrupt KIND --input FILE --output FILE\n"
		"\n"
		"Builds the firmware image lumen.ko loads (header + payload, see\n"
		"lumen_fw_image.h), checks an image and prints its header, or writes a\n"
		"copy damaged in one way for negative tests. KIND is one of:\n"
		"  magic, header-crc, payload-crc, abi, size, flags, truncate\n");
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f) {
		fprintf(stderr, "lumen-mkfw: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "lumen-mkfw: %s: cannot size file\n", path);
		fclose(f);
		return -1;
	}
	if ((unsigned long)n > LUMEN_FW_MAX_SIZE) {
		fprintf(stderr, "lumen-mkfw: %s: %ld bytes, more than the %u an image may hold\n",
			path, n, LUMEN_FW_MAX_SIZE);
		fclose(f);
		return -1;
	}
	*buf = malloc(n ? (size_t)n : 1);
	if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "lumen-mkfw: %s: read failed\n", path);
		free(*buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static int write_file(const char *path, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	FILE *f = fopen(path, "wb");

	if (!f) {
		fprintf(stderr, "lumen-mkfw: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
	    fclose(f)) {
		fprintf(stderr, "lumen-mkfw: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

static int parse_version(const char *s, uint32_t *out)
{
	unsigned int maj, min, pat;
	char tail;

	if (sscanf(s, "%u.%u.%u%c", &maj, &min, &pat, &tail) != 3 ||
	    maj > 255 || min > 255 || pat > 255)
		return -1;
	*out = LUMEN_FW_VERSION(maj, min, pat);
	return 0;
}

/* A deterministic stand-in for microcode: same inputs, same image bytes. */
static void fill_payload(unsigned char *p, size_t len, uint32_t seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

static int cmd_build(const char *out, const char *version, const char *build_id,
		     const char *payload_path, const char *payload_size)
{
	struct lumen_fw_header hdr;
	unsigned char *payload = NULL;
	size_t plen = DEFAULT_PAYLOAD_SIZE;
	uint32_t ver;
	int ret;

	if (parse_version(version, &ver)) {
		fprintf(stderr, "lumen-mkfw: --version '%s' is not X.Y.Z with parts 0..255\n",
			version);
		return 2;
	}
	if (strlen(build_id) >= LUMEN_FW_BUILD_ID_LEN) {
		fprintf(stderr, "lumen-mkfw: --build-id is longer than %d characters\n",
			LUMEN_FW_BUILD_ID_LEN - 1);
		return 2;
	}
	if (payload_path) {
		if (read_file(payload_path, &payload, &plen))
			return 1;
	} else {
		char *end;
		unsigned long long n = payload_size ? strtoull(payload_size, &end, 0) : plen;

		if (payload_size && (*end || end == payload_size ||
				     n > LUMEN_FW_MAX_SIZE - sizeof(hdr))) {
			fprintf(stderr, "lumen-mkfw: --payload-size '%s' is not a size up to %zu\n",
				payload_size, LUMEN_FW_MAX_SIZE - sizeof(hdr));
			return 2;
		}
		plen = (size_t)n;
		payload = malloc(plen ? plen : 1);
		if (!payload) {
			fprintf(stderr, "lumen-mkfw: out of memory\n");
			return 1;
		}
		fill_payload(payload, plen, ver);
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = lumen_cpu_to_le32(LUMEN_FW_MAGIC);
	hdr.abi_major = lumen_cpu_to_le16(LUMEN_FW_ABI_MAJOR);
	hdr.abi_minor = lumen_cpu_to_le16(LUMEN_FW_ABI_MINOR);
	hdr.fw_version = lumen_cpu_to_le32(ver);
	memcpy(hdr.build_id, build_id, strlen(build_id));
	if (lumen_fw_header_seal(&hdr, payload, plen) != LUMEN_STATUS_OK) {
		fprintf(stderr, "lumen-mkfw: payload of %zu bytes does not fit an image\n", plen);
		free(payload);
		return 2;
	}
	ret = write_file(out, &hdr, sizeof(hdr), payload, plen) ? 1 : 0;
	free(payload);
	return ret;
}

static int cmd_check(const char *path)
{
	const struct lumen_fw_header *hdr;
	unsigned char *img;
	enum lumen_status st;
	uint32_t v;
	size_t len;

	if (read_file(path, &img, &len))
		return 1;
	st = lumen_fw_image_check(img, len);
	if (st != LUMEN_STATUS_OK) {
		fprintf(stderr, "lumen-mkfw: %s: invalid image: %s (status %d)\n",
			path, lumen_status_name(st), st);
		free(img);
		return 1;
	}
	hdr = (const struct lumen_fw_header *)img;
	v = lumen_le32_to_cpu(hdr->fw_version);
	printf("image:        %s\n", path);
	printf("size:         %u bytes\n", lumen_le32_to_cpu(hdr->image_size));
	printf("abi:          %u.%u\n", lumen_le16_to_cpu(hdr->abi_major),
	       lumen_le16_to_cpu(hdr->abi_minor));
	printf("version:      %u.%u.%u\n", LUMEN_FW_VERSION_MAJ(v), LUMEN_FW_VERSION_MIN(v),
	       LUMEN_FW_VERSION_PAT(v));
	printf("build id:     %.*s\n", LUMEN_FW_BUILD_ID_LEN, hdr->build_id);
	printf("payload crc:  0x%08x\n", lumen_le32_to_cpu(hdr->payload_crc32));
	free(img);
	return 0;
}

static int cmd_corrupt(const char *kind, const char *in, const char *out)
{
	struct lumen_fw_header *hdr;
	unsigned char *img;
	size_t len;
	int ret;

	if (read_file(in, &img, &len))
		return 1;
	if (len <= sizeof(*hdr)) {
		fprintf(stderr, "lumen-mkfw: %s: too short to corrupt\n", in);
		free(img);
		return 1;
	}
	hdr = (struct lumen_fw_header *)img;
	if (!strcmp(kind, "magic")) {
		hdr->magic ^= lumen_cpu_to_le32(0xff);
	} else if (!strcmp(kind, "header-crc")) {
		hdr->header_crc32 ^= lumen_cpu_to_le32(1);
	} else if (!strcmp(kind, "payload-crc")) {
		img[len - 1] ^= 0x5a;	/* the header stays self-consistent */
	} else if (!strcmp(kind, "abi")) {
		hdr->abi_major = lumen_cpu_to_le16(LUMEN_FW_ABI_MAJOR + 1);
		hdr->header_crc32 = lumen_cpu_to_le32(lumen_fw_header_crc32(hdr));
	} else if (!strcmp(kind, "flags")) {
		hdr->flags = lumen_cpu_to_le32(1);
		hdr->header_crc32 = lumen_cpu_to_le32(lumen_fw_header_crc32(hdr));
	} else if (!strcmp(kind, "size")) {
		hdr->image_size = lumen_cpu_to_le32(lumen_le32_to_cpu(hdr->image_size) + 4096);
		hdr->header_crc32 = lumen_cpu_to_le32(lumen_fw_header_crc32(hdr));
	} else if (!strcmp(kind, "truncate")) {
		len = sizeof(*hdr) / 2;
	} else {
		fprintf(stderr, "lumen-mkfw: unknown corruption kind '%s'\n", kind);
		free(img);
		return 2;
	}
	ret = write_file(out, img, len, NULL, 0) ? 1 : 0;
	free(img);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "version", required_argument, NULL, 'v' },
		{ "build-id", required_argument, NULL, 'b' },
		{ "payload", required_argument, NULL, 'p' },
		{ "payload-size", required_argument, NULL, 's' },
		{ "check", required_argument, NULL, 'c' },
		{ "corrupt", required_argument, NULL, 'x' },
		{ "input", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *version = "1.0.0", *build_id = "lumen-n1-fw";
	const char *payload = NULL, *payload_size = NULL, *check = NULL;
	const char *corrupt = NULL, *in = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'v': version = optarg; break;
		case 'b': build_id = optarg; break;
		case 'p': payload = optarg; break;
		case 's': payload_size = optarg; break;
		case 'c': check = optarg; break;
		case 'x': corrupt = optarg; break;
		case 'i': in = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lumen-mkfw: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (check)
		return cmd_check(check);
	if (corrupt) {
		if (!in || !out) {
			fprintf(stderr, "lumen-mkfw: --corrupt needs --input and --output\n");
			return 2;
		}
		return cmd_corrupt(corrupt, in, out);
	}
	if (!out) {
		usage(stderr);
		return 2;
	}
	if (payload && payload_size) {
		fprintf(stderr, "lumen-mkfw: --payload and --payload-size are exclusive\n");
		return 2;
	}
	return cmd_build(out, version, build_id, payload, payload_size);
}

/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_file.c - libFuzzer target for the offline reader of ring
 * files: validation (rbf_file_open_mem), the event walk (cursors over every
 * buffer), the check, and the recovery.
 *
 * Each input is tried as it is and, when its header checksum is wrong,
 * once more with the checksum fixed, so that mutations of the header
 * fields reach the validator instead of stopping at the checksum.  An
 * accepted input must only yield well-formed events (inside the image,
 * valid id and length); the check must count what the cursors return;
 * and the clean copy written by rbf_file_recover() must reopen and return
 * exactly the same events.  Any violation aborts (a crash for libFuzzer).
 *
 * Built by tests/fuzz/run.sh with clang -fsanitize=fuzzer,address,
 * undefined from the library's offline-reader sources alone (no liburcu).
 * Set RBF_FUZZ_NO_RECOVER=1 to skip the recovery (faster).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rbf/file.h>

#include "layout.h"
#include "mmf.h"

struct fz_ev {
	uint32_t buffer;
	uint16_t id;
	uint32_t len;
	uint64_t ts;
	uint64_t seq;
	uint64_t hash;
};

struct fz_evs {
	size_t n, cap;
	struct fz_ev *v;
};

static void fz_fail(const char *what)
{
	fprintf(stderr, "fuzz_file: %s\n", what);
	abort();
}

static uint64_t fz_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Every event of @f; each checked against the image [mem, mem + len). */
static void fz_collect(struct rbf_file *f, const unsigned char *mem, size_t len,
		       struct fz_evs *e)
{
	struct rbf_file_info in;
	uint32_t b;

	memset(e, 0, sizeof(*e));
	in.size = sizeof(in);
	if (rbf_file_get_info(f, &in))
		fz_fail("get_info failed on an accepted file");
	for (b = 0; b < in.nr_buffers; b++) {
		struct rbf_file_buffer_info bi;
		struct rbf_file_cursor cur;
		struct rbf_file_event ev;
		int ret;

		bi.size = sizeof(bi);
		if (rbf_file_buffer_get_info(f, b, &bi))
			fz_fail("buffer_get_info failed");
		if (rbf_file_cursor_init(f, b, &cur))
			fz_fail("cursor_init failed");
		while ((ret = rbf_file_cursor_next(f, &cur, &ev)) == 1) {
			const unsigned char *d = ev.data;

			if (ev.buffer != b || ev.id > RBF_EVENT_ID_MAX ||
			    ev.len > in.subbuf_size ||
			    ev.offset >= in.file_size)
				fz_fail("malformed event");
			if (mem && (d < mem || d + ev.len > mem + len))
				fz_fail("event outside the image");
			if (e->n == e->cap) {
				e->cap = e->cap ? 2 * e->cap : 64;
				e->v = realloc(e->v, e->cap * sizeof(*e->v));
				if (!e->v)
					fz_fail("out of memory");
			}
			memset(&e->v[e->n], 0, sizeof(e->v[e->n]));
			e->v[e->n].buffer = ev.buffer;
			e->v[e->n].id = ev.id;
			e->v[e->n].len = ev.len;
			e->v[e->n].ts = ev.ts;
			e->v[e->n].seq = ev.subbuf_seq;
			e->v[e->n].hash = fz_hash(d, ev.len);
			e->n++;
		}
		if (ret < 0)
			fz_fail("cursor_next failed");
	}
}

static void fz_recover(struct rbf_file *f, const struct fz_evs *orig)
{
	static char path[4096];
	struct rbf_file_report rep;
	struct rbf_file *g;
	struct fz_evs back;
	int ret;

	if (!path[0]) {
		const char *dir = "/dev/shm";

		if (access(dir, W_OK))
			dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(path, sizeof(path), "%s/rbf-fuzz-%d.rbf", dir,
			 (int)getpid());
	}
	unlink(path);
	rep.size = sizeof(rep);
	ret = rbf_file_recover(f, path, &rep);
	if (ret) {
		/* The environment (room, permissions), not the reader. */
		if (ret != -EINVAL && ret != -EIO && ret != -EAGAIN &&
		    ret != -EPROTONOSUPPORT)
			return;
		fprintf(stderr, "fuzz_file: recover: %d\n", ret);
		fz_fail("recover failed on an accepted file");
	}
	if (rbf_file_open(path, &g, NULL))
		fz_fail("the recovered copy does not open");
	fz_collect(g, NULL, 0, &back);
	if (back.n != orig->n ||
	    (back.n && memcmp(back.v, orig->v, back.n * sizeof(*back.v))))
		fz_fail("the recovered copy returns other events");
	rbf_file_check(g, &rep);
	if (rep.dropped_uncommitted || rep.dropped_malformed ||
	    rep.bad_subbufs || rep.events != orig->n)
		fz_fail("the recovered copy drops something");
	free(back.v);
	rbf_file_close(g);
	unlink(path);
}

static void fz_one(const unsigned char *data, size_t size)
{
	struct rbf_file_error err;
	struct rbf_file_report rep;
	struct rbf_file *f;
	struct fz_evs e;
	static int no_recover = -1;

	if (no_recover < 0)
		no_recover = getenv("RBF_FUZZ_NO_RECOVER") != NULL;
	if (rbf_file_open_mem(data, size, &f, &err)) {
		if (!err.msg[0] || !memchr(err.msg, 0, sizeof(err.msg)))
			fz_fail("refused without a message");
		return;
	}
	fz_collect(f, data, size, &e);
	rep.size = sizeof(rep);
	if (rbf_file_check(f, &rep) || rep.events != e.n)
		fz_fail("check disagrees with the cursors");
	if (!no_recover)
		fz_recover(f, &e);
	free(e.v);
	rbf_file_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t crc;
	unsigned char *copy;

	fz_one(data, size);
	if (size < sizeof(struct rbf_file_header))
		return 0;
	crc = rbf_crc32c(data, RBF_FILE_HDR_CRC_LEN);
	if (!memcmp(&crc, data + RBF_FILE_HDR_CRC_LEN, 4))
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memcpy(copy + RBF_FILE_HDR_CRC_LEN, &crc, 4);
	fz_one(copy, size);
	free(copy);
	return 0;
}

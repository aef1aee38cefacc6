/* SPDX-License-Identifier: MIT */
/*
 * tests/test_file.c - the offline reader of ring files (<rbf/file.h>) on
 * bad input: not an rbf file, empty, truncated anywhere, every byte
 * corrupted in turn, other versions and byte orders, a read-only input
 * that must stay untouched, a directory, a missing file, a full file
 * system for the recovered copy; and the recovery itself: the copy is
 * clean, returns exactly the events of the original (uncommitted records,
 * a held sub-buffer, sub-buffers being overwritten), and a reader that
 * attaches to it gets them too.
 *
 * The rings are made with the real backend in tiny geometry (256-byte
 * sub-buffers), unclean ones by a forked writer that reserves without
 * committing and exits without closing the channel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"
#include "layout.h"

#include <rbf/file.h>
#include <rbf/mmap_file.h>

static char dir[64];

static void setup(void)
{
	th_tmpdir(dir, sizeof(dir), "file");
}

static void teardown(void)
{
	th_tmpdir_remove(dir);
}

static void path_of(char *p, size_t n, const char *name)
{
	snprintf(p, n, "%s/%s", dir, name);
}

/* ---------------------------------------------------------------------- */
/* Making rings.                                                          */

struct ring_spec {
	enum rbf_alloc alloc;
	enum rbf_mode mode;
	enum rbf_clock clock;
	uint32_t subbuf;
	uint32_t num;
	uint32_t events; /* written and committed */
	int uncommitted; /* then reserve one more and never commit it */
	int unclean; /* exit without closing (forked writer) */
	int hold; /* take one sub-buffer as reader and keep it */
};

static int ring_open_channel(const char *path, const struct ring_spec *sp,
			     struct rbf_channel **ch)
{
	struct rbf_mmap_file_config cfg;
	struct rbf_channel_attr attr;

	rbf_mmap_file_config_init(&cfg);
	cfg.path = path;
	cfg.max_buffers = 4;
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &cfg;
	attr.alloc = sp->alloc;
	attr.mode = sp->mode;
	attr.clock = sp->clock;
	attr.subbuf_size = sp->subbuf;
	attr.num_subbuf = sp->num;
	return rbf_channel_create(&attr, ch);
}

/* Payload of event @i: its number, then a pattern; 4..43 bytes. */
static uint32_t ev_payload(uint32_t i, uint8_t *p)
{
	uint32_t len = 4 + (i * 7) % 40, k;

	memcpy(p, &i, 4);
	for (k = 4; k < len; k++)
		p[k] = (uint8_t)(i + k);
	return len;
}

static int ring_write(struct rbf_channel *ch, const struct ring_spec *sp)
{
	uint8_t p[64];
	uint32_t i;
	int ret;

	for (i = 0; i < sp->events; i++) {
		uint32_t len = ev_payload(i, p);

		if (sp->clock == RBF_CLOCK_NONE)
			ret = rbf_write_ts(ch, (uint16_t)(1 + i % 7), p, len,
					   1000 + 10ull * i);
		else
			ret = rbf_write(ch, (uint16_t)(1 + i % 7), p, len);
		if (ret && ret != -ENOBUFS)
			return ret;
	}
	return 0;
}

static int ring_make_child(const char *path, const struct ring_spec *sp)
{
	struct rbf_channel *ch;
	struct rbf_wctx ctx;
	int ret;

	ret = ring_open_channel(path, sp, &ch);
	if (ret)
		return ret;
	ret = ring_write(ch, sp);
	if (ret)
		return ret;
	if (sp->hold) {
		struct rbf_buffer *b;
		struct rbf_subbuf sb;

		if (rbf_channel_buffers(ch, &b, 1) < 1 ||
		    rbf_subbuf_get(b, &sb))
			return -EIO;
	}
	if (sp->uncommitted) {
		if (sp->clock == RBF_CLOCK_NONE)
			ret = rbf_reserve_ts(ch, &ctx, 9, 12,
					     1000 + 10ull * sp->events);
		else
			ret = rbf_reserve(ch, &ctx, 9, 12);
		if (ret)
			return ret;
		memset(ctx.data, 0xee, 12);
	}
	if (sp->unclean)
		_exit(0);
	rbf_channel_flush(ch);
	rbf_channel_destroy(ch);
	return 0;
}

/* Make a ring at @path (in a forked process, so that "unclean" is real). */
static void ring_make(const char *path, const struct ring_spec *sp)
{
	pid_t pid = fork();
	int st;

	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(ring_make_child(path, sp) ? 1 : 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "ring writer failed (%d)", st);
}

static unsigned char *file_read(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	/* 8-byte aligned (malloc), as a mapping would be. */
	buf = malloc((size_t)st.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void file_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* CRC-32C, bitwise (the library's is hidden). */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	int k;

	while (n--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* Re-seal the checksummed part of a header edited in memory. */
static void hdr_reseal(unsigned char *buf)
{
	uint32_t crc;

	crc = crc32c(buf, offsetof(struct rbf_file_header, hdr_crc));
	memcpy(buf + offsetof(struct rbf_file_header, hdr_crc), &crc, 4);
}

/* ---------------------------------------------------------------------- */
/* Events.                                                                */

struct ev {
	uint32_t buffer;
	uint16_t id;
	uint32_t len;
	uint64_t ts;
	uint64_t seq;
	uint64_t hash;
};

struct evs {
	size_t n, cap;
	struct ev *v;
	uint64_t seen;
};

static void evs_free(struct evs *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/*
 * Every event of every buffer.  With @mem/@len: also check that each event
 * is well formed and lies inside the image (the promise for corrupt input).
 * Returns 0, or -1 if an event was not well formed.
 */
static int evs_collect(struct rbf_file *f, const void *mem, size_t len,
		       struct evs *e)
{
	struct rbf_file_info in;
	uint32_t b;

	memset(e, 0, sizeof(*e));
	in.size = sizeof(in);
	if (rbf_file_get_info(f, &in))
		return -1;
	for (b = 0; b < in.nr_buffers; b++) {
		struct rbf_file_cursor cur;
		struct rbf_file_event ev;
		int ret, guard = 0;

		if (rbf_file_cursor_init(f, b, &cur))
			return -1;
		while ((ret = rbf_file_cursor_next(f, &cur, &ev)) == 1) {
			const unsigned char *d = ev.data;

			if (++guard > 1000000)
				return -1;
			if (ev.buffer != b || ev.id > RBF_EVENT_ID_MAX ||
			    ev.len > in.subbuf_size)
				return -1;
			if (mem &&
			    (d < (const unsigned char *)mem ||
			     d + ev.len > (const unsigned char *)mem + len ||
			     ev.offset >= len))
				return -1;
			if (e->n == e->cap) {
				e->cap = e->cap ? 2 * e->cap : 256;
				e->v = realloc(e->v, e->cap * sizeof(*e->v));
				if (!e->v)
					return -1;
			}
			memset(&e->v[e->n], 0, sizeof(e->v[e->n]));
			e->v[e->n].buffer = ev.buffer;
			e->v[e->n].id = ev.id;
			e->v[e->n].len = ev.len;
			e->v[e->n].ts = ev.ts;
			e->v[e->n].seq = ev.subbuf_seq;
			e->v[e->n].hash = th_fnv1a(TH_FNV_OFFSET, d, ev.len);
			e->n++;
		}
		if (ret < 0)
			return -1;
	}
	return 0;
}

static void evs_assert_same(const struct evs *a, const struct evs *b,
			    const char *what)
{
	size_t i;

	cr_assert_eq(a->n, b->n, "%s: %zu events, expected %zu", what, b->n,
		     a->n);
	for (i = 0; i < a->n; i++)
		cr_assert(!memcmp(&a->v[i], &b->v[i], sizeof(a->v[i])),
			  "%s: event %zu differs (ts %" PRIu64 "/%" PRIu64
			  ", id %u/%u)",
			  what, i, a->v[i].ts, b->v[i].ts, a->v[i].id,
			  b->v[i].id);
}

/* The events of the ring written by ring_make, in order. */
static void evs_assert_written(const struct evs *e, uint32_t first,
			       uint32_t count)
{
	uint8_t p[64];
	size_t i;

	cr_assert_eq(e->n, count, "%zu events, expected %u", e->n, count);
	for (i = 0; i < e->n; i++) {
		uint32_t k = first + (uint32_t)i;
		uint32_t len = ev_payload(k, p);

		cr_assert_eq(e->v[i].id, 1 + k % 7, "event %zu id", i);
		cr_assert_eq(e->v[i].len, len, "event %zu length", i);
		cr_assert_eq(e->v[i].hash, th_fnv1a(TH_FNV_OFFSET, p, len),
			     "event %zu payload", i);
		if (i)
			cr_assert_geq(e->v[i].ts, e->v[i - 1].ts);
	}
}

static void open_file(const char *path, struct rbf_file **f)
{
	struct rbf_file_error err;
	int ret = rbf_file_open(path, f, &err);

	cr_assert_eq(ret, 0, "rbf_file_open(%s): %d %s (offset %lld)", path,
		     ret, err.msg, (long long)err.offset);
}

static void report_of(struct rbf_file *f, struct rbf_file_report *r)
{
	r->size = sizeof(*r);
	cr_assert_eq(rbf_file_check(f, r), 0);
}

static const struct ring_spec small = {
	.alloc = RBF_ALLOC_GLOBAL,
	.mode = RBF_MODE_DISCARD,
	.clock = RBF_CLOCK_MONOTONIC,
	.subbuf = 256,
	.num = 8,
	.events = 20,
};

/* ---------------------------------------------------------------------- */
/* Refusals with a clear error.                                          */

static void expect_refused(const void *mem, size_t len, int err_expected,
			   const char *msg_part)
{
	struct rbf_file_error err;
	struct rbf_file *f = NULL;
	int ret = rbf_file_open_mem(mem, len, &f, &err);

	cr_assert_eq(ret, err_expected, "open_mem(%zu bytes): %d (%s)", len,
		     ret, ret ? err.msg : "accepted");
	cr_assert_null(f);
	cr_assert(err.msg[0], "no message");
	if (msg_part)
		cr_assert(strstr(err.msg, msg_part),
			  "message \"%s\" lacks \"%s\"", err.msg, msg_part);
}

Test(file, not_an_rbf_file, .init = setup, .fini = teardown)
{
	char path[128], text[5000];
	struct rbf_file_error err;
	struct rbf_file *f;

	memset(text, 'x', sizeof(text));
	path_of(path, sizeof(path), "text");
	file_write(path, text, sizeof(text));
	cr_assert_eq(rbf_file_open(path, &f, &err), -EINVAL);
	cr_assert(strstr(err.msg, "wrong magic"), "%s", err.msg);
	cr_assert_eq(err.offset, 0);
	expect_refused(text, 3, -EINVAL, "wrong magic");
}

Test(file, empty_file, .init = setup, .fini = teardown)
{
	char path[128];
	struct rbf_file_error err;
	struct rbf_file *f;

	path_of(path, sizeof(path), "empty");
	file_write(path, "", 0);
	cr_assert_eq(rbf_file_open(path, &f, &err), -EINVAL);
	cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
	expect_refused(NULL, 0, -EINVAL, "empty");
}

Test(file, missing_path_and_directory, .init = setup, .fini = teardown)
{
	char path[128];
	struct rbf_file_error err;
	struct rbf_file *f = (struct rbf_file *)1;

	path_of(path, sizeof(path), "nothing-here");
	cr_assert_eq(rbf_file_open(path, &f, &err), -ENOENT);
	cr_assert_null(f);
	cr_assert_eq(rbf_file_open(dir, &f, &err), -EISDIR);
	cr_assert(strstr(err.msg, "directory"), "%s", err.msg);
	cr_assert_eq(rbf_file_open(NULL, &f, &err), -EINVAL);
	cr_assert_eq(rbf_file_open_mem("x", 1, NULL, &err), -EINVAL);
}

Test(file, truncated_anywhere, .init = setup, .fini = teardown)
{
	char path[128], tpath[160];
	unsigned char *buf;
	size_t len, cut;
	struct rbf_file_error err;
	struct rbf_file *f;
	int n = 0;

	path_of(path, sizeof(path), "ring");
	ring_make(path, &small);
	buf = file_read(path, &len);
	/* Every 8-byte step through the headers, then every 64 bytes. */
	for (cut = 8; cut < len; cut += cut < 8192 ? 8 : 64, n++)
		expect_refused(
			buf, cut, -EINVAL,
			cut >= offsetof(struct rbf_file_header, file_size) + 8 ?
				"truncated" :
				NULL);
	/* The message names both sizes. */
	cr_assert_eq(rbf_file_open_mem(buf, 4096, &f, &err), -EINVAL);
	snprintf(tpath, sizeof(tpath), "truncated: 4096 bytes, header says %zu",
		 len);
	cr_assert_str_eq(err.msg, tpath);
	/* Through the file system too. */
	snprintf(tpath, sizeof(tpath), "%s.cut", path);
	file_write(tpath, buf, len - 100);
	cr_assert_eq(rbf_file_open(tpath, &f, &err), -EINVAL);
	cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
	/* Longer than the header says. */
	buf = realloc(buf, len + 8);
	memset(buf + len, 0, 8);
	expect_refused(buf, len + 8, -EINVAL, "size mismatch");
	free(buf);
	cr_assert_gt(n, 100);
}

Test(file, other_version_word_size_byte_order, .init = setup, .fini = teardown)
{
	char path[128];
	unsigned char *buf, *c;
	size_t len;
	uint32_t v = 7;

	path_of(path, sizeof(path), "ring");
	ring_make(path, &small);
	buf = file_read(path, &len);
	c = malloc(len);
	cr_assert_not_null(c);

	memcpy(c, buf, len);
	memcpy(c + offsetof(struct rbf_file_header, version), &v, 4);
	hdr_reseal(c);
	expect_refused(c, len, -EPROTONOSUPPORT, "unsupported version 7");

	memcpy(c, buf, len);
	c[offsetof(struct rbf_file_header, byte_order)] ^= 3; /* 1 <-> 2 */
	hdr_reseal(c);
	expect_refused(c, len, -EPROTONOSUPPORT, "byte order");

	memcpy(c, buf, len);
	c[offsetof(struct rbf_file_header, word_size)] = 4;
	hdr_reseal(c);
	expect_refused(c, len, -EPROTONOSUPPORT, "word size");

	/* A changed constant field without re-sealing: checksum. */
	memcpy(c, buf, len);
	c[offsetof(struct rbf_file_header, mode)] ^= 1;
	expect_refused(c, len, -EINVAL, "checksum");

	/* Sealed, but geometry out of range. */
	memcpy(c, buf, len);
	v = 300;
	memcpy(c + offsetof(struct rbf_file_header, subbuf_size), &v, 4);
	hdr_reseal(c);
	expect_refused(c, len, -EINVAL, "sub-buffer size");
	free(c);
	free(buf);
}

/* Offset of buffer 0's control block and link array in a ring image. */
static uint64_t ctl0_off(const unsigned char *buf)
{
	struct rbf_file_header h;

	memcpy(&h, buf, sizeof(h));
	return h.region_off;
}

Test(file, corrupt_tables_named, .init = setup, .fini = teardown)
{
	char path[128], want[160];
	unsigned char *buf, *c;
	size_t len;
	uint64_t links, l0, l1, off;
	uint32_t st = 7;

	path_of(path, sizeof(path), "ring");
	ring_make(path, &small);
	buf = file_read(path, &len);
	c = malloc(len);
	cr_assert_not_null(c);
	links = ctl0_off(buf) + 320; /* sizeof(struct rbf_ctl) */

	/* Two slots naming the same sub-buffer. */
	memcpy(c, buf, len);
	memcpy(&l0, c + links, 8);
	memcpy(&l1, c + links + 8, 8);
	l1 = (l1 & ~0xffffull) | (l0 & 0xffff);
	memcpy(c + links + 8, &l1, 8);
	snprintf(want, sizeof(want),
		 "corrupt sub-buffer table at offset %llu: index %llu twice",
		 (unsigned long long)(links + 8),
		 (unsigned long long)(l0 & 0xffff));
	expect_refused(c, len, -EINVAL, want);

	/* A slot naming a sub-buffer that does not exist. */
	memcpy(c, buf, len);
	l1 = (l0 & ~0xffffull) | 9;
	memcpy(c + links, &l1, 8);
	expect_refused(c, len, -EINVAL, "index 9 out of range");

	/* Slot table: bad state, wrong offsets. */
	memcpy(c, buf, len);
	off = 4096; /* table_off: slot 0 */
	memcpy(c + off, &st, 4);
	expect_refused(c, len, -EINVAL, "corrupt slot table at offset 4096");
	memcpy(c, buf, len);
	c[off + 16] ^= 0x40;
	expect_refused(c, len, -EINVAL, "corrupt slot table");

	/* Control block: magic, geometry. */
	memcpy(c, buf, len);
	c[ctl0_off(buf)] ^= 1;
	expect_refused(c, len, -EINVAL, "wrong magic");
	memcpy(c, buf, len);
	c[ctl0_off(buf) + 12] ^= 1; /* subbuf_size */
	expect_refused(c, len, -EINVAL, "geometry");

	/* A commit count beyond the sub-buffer. */
	memcpy(c, buf, len);
	off = ctl0_off(buf) + 320 + 64; /* commit[0] */
	memcpy(&l0, c + off, 8);
	l0 += 4096;
	memcpy(c + off, &l0, 8);
	expect_refused(c, len, -EINVAL, "corrupt commit count");
	free(c);
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* Any byte corrupted: refused, or only well-formed events.              */

static void corrupt_every_byte(const struct ring_spec *sp, const char *name)
{
	char path[128], rpath[160];
	unsigned char *buf, *c;
	size_t len, i;
	struct evs ref, got, back;
	struct rbf_file *f;
	unsigned long accepted = 0, refused = 0, recovered = 0;
	static const unsigned char how[3] = { 0xff, 0x01, 0x80 };
	int h;

	path_of(path, sizeof(path), name);
	ring_make(path, sp);
	buf = file_read(path, &len);
	cr_assert_eq(rbf_file_open_mem(buf, len, &f, NULL), 0);
	cr_assert_eq(evs_collect(f, buf, len, &ref), 0);
	rbf_file_close(f);
	cr_assert_gt(ref.n, 0);
	c = malloc(len);
	cr_assert_not_null(c);
	for (h = 0; h < 3; h++) {
		for (i = 0; i < len; i++) {
			struct rbf_file_error err;
			struct rbf_file_report rep;
			int ret;

			memcpy(c, buf, len);
			c[i] ^= how[h];
			ret = rbf_file_open_mem(c, len, &f, &err);
			if (ret) {
				cr_assert(ret == -EINVAL ||
						  ret == -EPROTONOSUPPORT,
					  "byte %zu: %d", i, ret);
				cr_assert(err.msg[0], "byte %zu: no message",
					  i);
				refused++;
				continue;
			}
			accepted++;
			cr_assert_eq(evs_collect(f, c, len, &got), 0,
				     "byte %zu ^ %02x: malformed event", i,
				     how[h]);
			report_of(f, &rep);
			cr_assert_eq(rep.events, got.n, "byte %zu", i);
			/* The copy of a damaged file returns what it does. */
			if (i % 61 == 0) {
				snprintf(rpath, sizeof(rpath), "%s.r%d.%zu",
					 path, h, i);
				cr_assert_eq(rbf_file_recover(f, rpath, NULL),
					     0, "byte %zu", i);
				rbf_file_close(f);
				open_file(rpath, &f);
				cr_assert_eq(evs_collect(f, NULL, 0, &back), 0);
				evs_assert_same(&got, &back, "recovered copy");
				evs_free(&back);
				unlink(rpath);
				recovered++;
			}
			rbf_file_close(f);
			evs_free(&got);
		}
	}
	cr_log_info("%s: %zu bytes x 3: %lu refused, %lu accepted, %lu "
		    "recovered",
		    name, len, refused, accepted, recovered);
	cr_assert_gt(refused, 0);
	cr_assert_gt(accepted, 0);
	evs_free(&ref);
	free(c);
	free(buf);
}

Test(file, every_byte_corrupted_clean, .init = setup, .fini = teardown,
     .timeout = 120)
{
	corrupt_every_byte(&small, "clean");
}

Test(file, every_byte_corrupted_unclean, .init = setup, .fini = teardown,
     .timeout = 120)
{
	struct ring_spec sp = small;

	sp.mode = RBF_MODE_OVERWRITE;
	sp.events = 40;
	sp.uncommitted = 1;
	sp.unclean = 1;
	corrupt_every_byte(&sp, "unclean");
}

Test(file, random_damage, .init = setup, .fini = teardown, .timeout = 120)
{
	char path[128];
	unsigned char *buf, *c;
	size_t len;
	struct ring_spec sp = small;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int round, k;

	sp.alloc = RBF_ALLOC_PER_THREAD;
	sp.mode = RBF_MODE_OVERWRITE;
	sp.events = 60;
	sp.uncommitted = 1;
	sp.unclean = 1;
	path_of(path, sizeof(path), "ring");
	ring_make(path, &sp);
	buf = file_read(path, &len);
	c = malloc(len);
	cr_assert_not_null(c);
	for (round = 0; round < 3000; round++) {
		struct rbf_file *f;
		struct evs got;

		memcpy(c, buf, len);
		/* 1 to 8 random bytes past the header (whose checksum would
		 * refuse almost everything). */
		for (k = 0; k < 1 + round % 8; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			c[4096 + (x >> 8) % (len - 4096)] = (uint8_t)x;
		}
		if (rbf_file_open_mem(c, len, &f, NULL))
			continue;
		cr_assert_eq(evs_collect(f, c, len, &got), 0, "round %d",
			     round);
		evs_free(&got);
		rbf_file_close(f);
	}
	free(c);
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* Recovery.                                                              */

/* Open @path, recover it, compare the copy with the original. */
static void recover_roundtrip(const char *path, struct evs *out,
			      struct rbf_file_report *orig)
{
	char rpath[160];
	struct rbf_file *f, *g;
	struct rbf_file_info in;
	struct rbf_file_report rrep, crep;
	struct evs a, b;

	snprintf(rpath, sizeof(rpath), "%s.recovered", path);
	open_file(path, &f);
	cr_assert_eq(evs_collect(f, NULL, 0, &a), 0);
	report_of(f, orig);
	rrep.size = sizeof(rrep);
	cr_assert_eq(rbf_file_recover(f, rpath, &rrep), 0);
	cr_assert_eq(rrep.events, a.n);
	cr_assert_eq(rbf_file_recover(f, rpath, NULL), -EEXIST);
	rbf_file_close(f);

	open_file(rpath, &g);
	in.size = sizeof(in);
	cr_assert_eq(rbf_file_get_info(g, &in), 0);
	cr_assert_eq(in.state, RBF_FILE_STATE_CLEAN);
	cr_assert_eq(evs_collect(g, NULL, 0, &b), 0);
	evs_assert_same(&a, &b, "recovered copy");
	report_of(g, &crep);
	cr_assert_eq(crep.events, a.n);
	cr_assert_eq(crep.dropped_uncommitted + crep.dropped_malformed +
			     crep.dropped_bytes + crep.bad_subbufs,
		     0, "the copy drops nothing");
	cr_assert_eq(crep.written - crep.lost,
		     crep.read + crep.overwritten + crep.events,
		     "copy counters: written %" PRIu64 " lost %" PRIu64
		     " read %" PRIu64 " overwritten %" PRIu64
		     " events %" PRIu64,
		     crep.written, crep.lost, crep.read, crep.overwritten,
		     crep.events);
	rbf_file_close(g);

	/* A reader attaching to the copy gets the same events. */
	{
		struct rbf_channel *ch;
		struct rbf_event ev;
		size_t n = 0;
		int ret;

		ret = rbf_mmap_file_attach(rpath, 0, &ch);
		cr_assert_eq(ret, 0, "attach to the copy: %d", ret);
		while ((ret = rbf_channel_consume(ch, &ev)) == 1)
			n++;
		cr_assert_eq(ret, 0, "consume: %d", ret);
		/* Merged by stamp, so compare counts per id later; here the
		 * number (a held sub-buffer stays consumed if it could not
		 * be put back, see rbf_file_recover). */
		cr_assert_leq(n, a.n);
		rbf_channel_destroy(ch);
		a.seen = n;
	}
	if (out)
		*out = a;
	else
		evs_free(&a);
	evs_free(&b);
}

Test(file, recover_clean_ring, .init = setup, .fini = teardown)
{
	char path[128];
	struct rbf_file_report rep;
	struct evs e;

	path_of(path, sizeof(path), "ring");
	ring_make(path, &small);
	recover_roundtrip(path, &e, &rep);
	evs_assert_written(&e, 0, small.events);
	cr_assert_eq(e.seen, e.n);
	cr_assert_eq(rep.dropped_uncommitted + rep.bad_subbufs, 0);
	evs_free(&e);
}

Test(file, recover_uncommitted, .init = setup, .fini = teardown)
{
	static const enum rbf_alloc allocs[] = { RBF_ALLOC_GLOBAL,
						 RBF_ALLOC_PER_THREAD,
						 RBF_ALLOC_PER_CPU };
	static const enum rbf_clock clocks[] = { RBF_CLOCK_MONOTONIC,
						 RBF_CLOCK_NONE };
	char path[128];
	unsigned a, c, m;

	for (a = 0; a < 3; a++)
		for (c = 0; c < 2; c++)
			for (m = 0; m < 2; m++) {
				struct ring_spec sp = small;
				struct rbf_file_report rep;
				struct evs e;

				sp.alloc = allocs[a];
				sp.clock = clocks[c];
				sp.mode = m ? RBF_MODE_OVERWRITE :
					      RBF_MODE_DISCARD;
				sp.events = m ? 50 : 12;
				sp.uncommitted = 1;
				sp.unclean = 1;
				snprintf(path, sizeof(path), "%s/u%u%u%u", dir,
					 a, c, m);
				ring_make(path, &sp);
				recover_roundtrip(path, &e, &rep);
				cr_assert_eq(rep.dropped_uncommitted, 1,
					     "alloc %u clock %u mode %u", a, c,
					     m);
				cr_assert_eq(rep.bad_subbufs +
						     rep.dropped_malformed,
					     0);
				if (!m) {
					evs_assert_written(&e, 0, sp.events);
					cr_assert_eq(e.seen, e.n);
				} else {
					cr_assert_gt(rep.overwritten, 0);
					evs_assert_written(
						&e, sp.events - (uint32_t)e.n,
						(uint32_t)e.n);
				}
				evs_free(&e);
			}
}

Test(file, recover_held_subbuf, .init = setup, .fini = teardown)
{
	char path[128];
	struct ring_spec sp = small;
	struct rbf_file_report rep;
	struct evs e;

	/* Discard mode, ring not full: the held sub-buffer goes back. */
	sp.hold = 1;
	sp.unclean = 1;
	path_of(path, sizeof(path), "held");
	ring_make(path, &sp);
	recover_roundtrip(path, &e, &rep);
	evs_assert_written(&e, 0, sp.events);
	cr_assert_eq(e.seen, e.n, "attached reader: %" PRIu64 " of %zu", e.seen,
		     e.n);
	cr_assert_gt(rep.read, 0);
	evs_free(&e);
}

Test(file, read_only_input_untouched, .init = setup, .fini = teardown)
{
	char path[128], rpath[160];
	unsigned char *before, *after;
	size_t len, len2;
	struct stat st0, st1;
	struct ring_spec sp = small;
	struct rbf_file *f;
	struct rbf_file_report rep;
	struct evs e;

	sp.uncommitted = 1;
	sp.unclean = 1;
	path_of(path, sizeof(path), "ro");
	ring_make(path, &sp);
	cr_assert_eq(chmod(path, 0444), 0);
	before = file_read(path, &len);
	cr_assert_eq(stat(path, &st0), 0);
	open_file(path, &f);
	cr_assert_eq(evs_collect(f, NULL, 0, &e), 0);
	report_of(f, &rep);
	snprintf(rpath, sizeof(rpath), "%s.copy", path);
	cr_assert_eq(rbf_file_recover(f, rpath, NULL), 0);
	rbf_file_close(f);
	after = file_read(path, &len2);
	cr_assert_eq(stat(path, &st1), 0);
	cr_assert_eq(len, len2);
	cr_assert(!memcmp(before, after, len), "the input changed");
	cr_assert_eq(st0.st_mtim.tv_sec, st1.st_mtim.tv_sec);
	cr_assert_eq(st0.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);
	evs_free(&e);
	free(before);
	free(after);
}

Test(file, recover_to_full_file_system, .init = setup, .fini = teardown)
{
	char path[128], mnt[128], rpath[192];
	struct rbf_file *f;
	struct stat st;
	int ret;

	path_of(path, sizeof(path), "ring");
	ring_make(path, &small);
	path_of(mnt, sizeof(mnt), "mnt");
	cr_assert_eq(mkdir(mnt, 0755), 0);
	/* Two pages: less than the 16 KiB copy. */
	if (mount("rbf-test", mnt, "tmpfs", 0, "size=8k")) {
		cr_skip_test("cannot mount a tmpfs here (%s): run as root to "
			     "test a full file system",
			     strerror(errno));
		return;
	}
	open_file(path, &f);
	snprintf(rpath, sizeof(rpath), "%s/copy", mnt);
	ret = rbf_file_recover(f, rpath, NULL);
	rbf_file_close(f);
	cr_expect_eq(ret, -ENOSPC, "recover onto a full tmpfs: %d", ret);
	cr_expect_neq(stat(rpath, &st), 0, "partial output left behind");
	cr_expect_eq(umount(mnt), 0);
}

Test(file, live_file_snapshot, .init = setup, .fini = teardown)
{
	char path[128];
	struct ring_spec sp = small;
	struct rbf_channel *ch;
	struct rbf_file *f;
	struct rbf_file_info in;
	struct evs e;

	path_of(path, sizeof(path), "live");
	cr_assert_eq(ring_open_channel(path, &sp, &ch), 0);
	cr_assert_eq(ring_write(ch, &sp), 0);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	open_file(path, &f);
	in.size = sizeof(in);
	cr_assert_eq(rbf_file_get_info(f, &in), 0);
	cr_assert_eq(in.state, RBF_FILE_STATE_OPEN);
	cr_assert_eq(in.writer_alive, 1);
	cr_assert_eq(in.writer_pid, getpid());
	cr_assert_eq(evs_collect(f, NULL, 0, &e), 0);
	evs_assert_written(&e, 0, sp.events);
	rbf_file_close(f);
	rbf_channel_destroy(ch);
	evs_free(&e);
}

Test(file, info_and_clock, .init = setup, .fini = teardown)
{
	char path[128];
	struct rbf_file *f;
	struct rbf_file_info in;
	struct rbf_file_buffer_info bi;

	path_of(path, sizeof(path), "ring");
	ring_make(path, &small);
	open_file(path, &f);
	in.size = sizeof(in);
	cr_assert_eq(rbf_file_get_info(f, &in), 0);
	cr_assert_eq(in.version, RBF_FILE_VERSION);
	cr_assert_eq(in.subbuf_size, 256);
	cr_assert_eq(in.num_subbuf, 8);
	cr_assert_eq(in.alloc, RBF_ALLOC_GLOBAL);
	cr_assert_eq(in.nr_buffers, 1);
	cr_assert_eq(in.state, RBF_FILE_STATE_CLEAN);
	cr_assert_eq(in.writer_alive, 0);
	cr_assert_eq(in.clock_freq, 1000000000ull);
	cr_assert_eq(rbf_file_ts_to_ns(f, 12345), 12345);
	in.size = 1;
	cr_assert_eq(rbf_file_get_info(f, &in), -EINVAL);
	bi.size = sizeof(bi);
	cr_assert_eq(rbf_file_buffer_get_info(f, 0, &bi), 0);
	cr_assert_eq(bi.report.events, small.events);
	cr_assert_eq(bi.cpu, -1);
	cr_assert_eq(rbf_file_buffer_get_info(f, 1, &bi), -EINVAL);
	rbf_file_close(f);
	rbf_file_close(NULL);
}

/* ---------------------------------------------------------------------- */
/* A live file: read while its writers run.                               */

struct live_writer {
	struct rbf_channel *ch;
	atomic_int *stop;
	int index;
};

static void *live_write(void *arg)
{
	struct live_writer *w = arg;
	uint8_t p[64];
	uint32_t i = 0;

	while (!atomic_load(w->stop)) {
		uint32_t len = ev_payload(i, p);

		rbf_write(w->ch, (uint16_t)(1 + w->index), p, len);
		i++;
	}
	return NULL;
}

static void live_stress(enum rbf_alloc alloc, const char *name)
{
	char path[128], rpath[160];
	struct ring_spec sp = small;
	struct live_writer w[2];
	pthread_t t[2];
	atomic_int stop = 0;
	struct rbf_channel *ch;
	int round, i, copies = 0, busy = 0;

	sp.alloc = alloc;
	sp.mode = RBF_MODE_OVERWRITE;
	path_of(path, sizeof(path), name);
	cr_assert_eq(ring_open_channel(path, &sp, &ch), 0);
	for (i = 0; i < 2; i++) {
		w[i].ch = ch;
		w[i].stop = &stop;
		w[i].index = i;
		cr_assert_eq(pthread_create(&t[i], NULL, live_write, &w[i]), 0);
	}
	for (round = 0; round < 300; round++) {
		struct rbf_file_report rep;
		struct rbf_file *f;
		struct evs e;
		int ret;

		open_file(path, &f);
		cr_assert_eq(evs_collect(f, NULL, 0, &e), 0, "round %d", round);
		report_of(f, &rep);
		evs_free(&e);
		if (round % 30 == 0) {
			snprintf(rpath, sizeof(rpath), "%s.%d", path, round);
			ret = rbf_file_recover(f, rpath, NULL);
			cr_assert(ret == 0 || ret == -EAGAIN, "recover: %d",
				  ret);
			if (ret == 0) {
				struct rbf_file *g;

				open_file(rpath, &g);
				cr_assert_eq(evs_collect(g, NULL, 0, &e), 0);
				report_of(g, &rep);
				cr_assert_eq(rep.events, e.n);
				cr_assert_eq(rep.dropped_malformed +
						     rep.bad_subbufs,
					     0);
				evs_free(&e);
				rbf_file_close(g);
				copies++;
			} else {
				busy++;
			}
		}
		rbf_file_close(f);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	rbf_channel_destroy(ch);
	cr_log_info("%s: 300 live walks, %d copies, %d busy", name, copies,
		    busy);
}

Test(file, live_file_while_writing_global, .init = setup, .fini = teardown,
     .timeout = 120)
{
	live_stress(RBF_ALLOC_GLOBAL, "live-global");
}

Test(file, live_file_while_writing_per_thread, .init = setup, .fini = teardown,
     .timeout = 120)
{
	live_stress(RBF_ALLOC_PER_THREAD, "live-thread");
}

/* ---------------------------------------------------------------------- */
/* A reader process killed inside its exchange or its put.                */

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

Test(file, reader_killed_mid_exchange, .init = setup, .fini = teardown)
{
	char path[128];
	struct ring_spec sp = small;
	unsigned char *buf, *c, *ctl;
	size_t len, i;
	struct rbf_file *f;
	struct rbf_file_report r0, r;
	struct evs e0, e;
	uint64_t s, held_ev = 0, read;
	uint32_t held, link_phys;

	sp.hold = 1;
	sp.unclean = 1;
	path_of(path, sizeof(path), "held");
	ring_make(path, &sp);
	buf = file_read(path, &len);
	cr_assert_eq(rbf_file_open_mem(buf, len, &f, NULL), 0);
	cr_assert_eq(evs_collect(f, NULL, 0, &e0), 0);
	report_of(f, &r0);
	rbf_file_close(f);
	c = malloc(len);
	cr_assert_not_null(c);

	ctl = buf + ctl0_off(buf);
	held = get32(ctl + 148);
	s = get64(ctl + 128) - 1; /* the held sequence */
	read = get64(ctl + 272);
	cr_assert_neq(held, 0);
	for (i = 0; i < e0.n; i++)
		held_ev += e0.v[i].seq == s;
	cr_assert_gt(held_ev, 0);
	link_phys = (uint32_t)(get64(ctl + 320 + 8 * (s % sp.num)) & 0xffff);

	/* 1: link CAS done, nothing else stored. */
	memcpy(c, buf, len);
	ctl = c + ctl0_off(c);
	put32(ctl + 148, 0);
	put32(ctl + 144, link_phys);
	put64(ctl + 128, s);
	put64(ctl + 272, read - held_ev);
	cr_assert_eq(rbf_file_open_mem(c, len, &f, NULL), 0, "window 1");
	cr_assert_eq(evs_collect(f, NULL, 0, &e), 0);
	evs_assert_same(&e0, &e, "window 1");
	report_of(f, &r);
	cr_assert_eq(r.read, r0.read, "window 1: read counter repaired");
	cr_assert_eq(r.written, r0.written);
	rbf_file_close(f);
	evs_free(&e);
	{
		char wpath[160];
		struct rbf_file_report rr;
		struct evs ew;

		snprintf(wpath, sizeof(wpath), "%s.w1", path);
		file_write(wpath, c, len);
		recover_roundtrip(wpath, &ew, &rr);
		evs_assert_same(&e0, &ew, "window 1 recovered");
		cr_assert_eq(ew.seen, ew.n, "window 1: attached reader");
		evs_free(&ew);
	}

	/* 2: held stored, spare not yet cleared. */
	put32(ctl + 148, held);
	cr_assert_eq(rbf_file_open_mem(c, len, &f, NULL), 0, "window 2");
	cr_assert_eq(evs_collect(f, NULL, 0, &e), 0);
	evs_assert_same(&e0, &e, "window 2");
	rbf_file_close(f);
	evs_free(&e);

	/* 3: spare cleared, read_seq not yet advanced. */
	put32(ctl + 144, UINT32_MAX);
	cr_assert_eq(rbf_file_open_mem(c, len, &f, NULL), 0, "window 3");
	cr_assert_eq(evs_collect(f, NULL, 0, &e), 0);
	evs_assert_same(&e0, &e, "window 3");
	rbf_file_close(f);
	evs_free(&e);

	/* Inside the put: spare = held, held not yet cleared: consumed. */
	memcpy(c, buf, len);
	ctl = c + ctl0_off(c);
	put32(ctl + 144, held - 1);
	cr_assert_eq(rbf_file_open_mem(c, len, &f, NULL), 0, "put");
	cr_assert_eq(evs_collect(f, NULL, 0, &e), 0);
	cr_assert_eq(e.n, e0.n - held_ev, "put: the held events are read");
	rbf_file_close(f);
	evs_free(&e);

	/* Not explained by any reader state: a sub-buffer named nowhere. */
	memcpy(c, buf, len);
	ctl = c + ctl0_off(c);
	put32(ctl + 148, 0);
	expect_refused(c, len, -EINVAL, "missing");
	evs_free(&e0);
	free(c);
	free(buf);
}

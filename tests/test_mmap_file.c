/* SPDX-License-Identifier: MIT */
/*
 * tests/test_mmap_file.c - the mmap-file backend: file creation and its
 * errors, a full file system, reopening, durability policies, a reader
 * attached from another process while the writer runs, and the drain to a
 * trace directory.  (The conformance suite runs on this backend too, in
 * test_conformance.c; crash recovery is in test_crash.c.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"
#include "ctl.h"
#include "layout.h"

static char dir[64];

static void setup(void)
{
	th_tmpdir(dir, sizeof(dir), "mmf");
}

static void teardown(void)
{
	th_tmpdir_remove(dir);
}

static void path_of(char *p, size_t n, const char *name)
{
	snprintf(p, n, "%s/%s", dir, name);
}

static int create(struct rbf_channel **ch, const char *path, uint32_t flags,
		  enum rbf_alloc alloc, enum rbf_mode mode, uint32_t subbuf,
		  uint32_t num, enum rbf_durability dur)
{
	struct rbf_mmap_file_config cfg;
	struct rbf_channel_attr attr;

	rbf_mmap_file_config_init(&cfg);
	cfg.path = path;
	cfg.flags = flags;
	cfg.durability = dur;
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &cfg;
	attr.alloc = alloc;
	attr.mode = mode;
	attr.clock = RBF_CLOCK_MONOTONIC;
	attr.subbuf_size = subbuf;
	attr.num_subbuf = num;
	return rbf_channel_create(&attr, ch);
}

static void write_events(struct rbf_channel *ch, uint64_t first, uint64_t n)
{
	uint8_t p[TH_EVENT_SIZE + 8];
	uint64_t i;

	for (i = first; i < first + n; i++) {
		th_event_make(p, sizeof(p), 0, 0, i);
		cr_assert_eq(rbf_write(ch, 1, p, sizeof(p)), 0,
			     "event %" PRIu64, i);
	}
}

/* Consume everything from @ch; checks order; returns the count. */
static uint64_t consume_all(struct rbf_channel *ch, uint64_t first)
{
	struct rbf_event ev;
	uint64_t n = 0;
	int ret;

	while ((ret = rbf_channel_consume(ch, &ev)) == 1) {
		struct th_event e;

		cr_assert_eq(th_event_verify(ev.data, ev.len, &e), 0);
		cr_assert_eq(e.seq, first + n, "got %" PRIu64 " want %" PRIu64,
			     e.seq, first + n);
		n++;
	}
	cr_assert(ret == 0 || ret == -EAGAIN, "consume: %d", ret);
	return n;
}

static struct rbf_file_header read_header(const char *path)
{
	struct rbf_file_header h;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	return h;
}

TestSuite(mmap_file, .init = setup, .fini = teardown);

Test(mmap_file, create_layout_and_state)
{
	struct rbf_channel *ch;
	struct rbf_file_header h;
	struct stat st;
	char path[128];
	int i, zero = 1;

	path_of(path, sizeof(path), "a.rbf");
	cr_assert_eq(create(&ch, path, 0, RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD,
			    4096, 4, RBF_DURABLE_NONE),
		     0);
	h = read_header(path);
	cr_assert_eq(memcmp(h.magic, RBF_FILE_MAGIC, 8), 0);
	cr_assert_eq(h.version, RBF_FILE_VERSION);
	cr_assert_eq(h.state, (uint32_t)RBF_FILE_STATE_OPEN);
	cr_assert_eq(h.writer_pid, getpid());
	cr_assert_eq(h.subbuf_size, 4096u);
	cr_assert_eq(h.num_subbuf, 4u);
	cr_assert_eq(h.nr_buffers, 1u);
	cr_assert_eq(h.clock_freq, 1000000000ull);
	for (i = 0; i < 16; i++)
		zero &= h.uuid[i] == 0;
	cr_assert(!zero, "uuid is zero");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, h.file_size);
	/* posix_fallocate: every block is reserved. */
	cr_assert_geq((uint64_t)st.st_blocks * 512, h.file_size);
	write_events(ch, 0, 100);
	rbf_channel_destroy(ch);
	h = read_header(path);
	cr_assert_eq(h.state, (uint32_t)RBF_FILE_STATE_CLEAN);
}

Test(mmap_file, bad_configuration)
{
	struct rbf_mmap_file_config cfg;
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL;
	char path[128];

	path_of(path, sizeof(path), "b.rbf");
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.alloc = RBF_ALLOC_GLOBAL;
	attr.subbuf_size = 4096;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL); /* no config */
	rbf_mmap_file_config_init(&cfg);
	attr.backend_config = &cfg;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL); /* no path */
	cfg.path = path;
	cfg.flags = 1u << 7;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL);
	cfg.flags = RBF_MMAP_FILE_REOPEN | RBF_MMAP_FILE_TRUNCATE;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL);
	cfg.flags = 0;
	cfg.durability = (enum rbf_durability)9;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL);
	cfg.durability = RBF_DURABLE_NONE;
	cfg.path = "/nonexistent-dir-rbf/x.rbf";
	cr_assert_eq(rbf_channel_create(&attr, &ch), -ENOENT);
	cfg.path = dir; /* a directory */
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EEXIST);
	cfg.flags = RBF_MMAP_FILE_REOPEN;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EISDIR);
	cr_assert_null(ch);
	/* Existing file: -EEXIST without TRUNCATE, and it is left alone. */
	cfg.flags = 0;
	cfg.path = path;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	rbf_channel_destroy(ch);
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EEXIST);
	cfg.flags = RBF_MMAP_FILE_TRUNCATE;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	rbf_channel_destroy(ch);
	/* Not an rbf file: reopen refuses it. */
	cr_assert_eq(truncate(path, 8192), 0);
	cfg.flags = RBF_MMAP_FILE_REOPEN;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL);
	/* A read-only file system location: /proc. */
	cfg.flags = 0;
	cfg.path = "/proc/rbf-test.rbf";
	cr_assert_lt(rbf_channel_create(&attr, &ch), 0);
}

/* A small tmpfs: creation fails with -ENOSPC, leaves no file behind, and
 * a channel that fits works to the last byte (no SIGBUS). */
Test(mmap_file, full_file_system)
{
	struct rbf_channel *ch;
	char mnt[128], path[160];
	struct stat st;

	path_of(mnt, sizeof(mnt), "mnt");
	cr_assert_eq(mkdir(mnt, 0755), 0);
	if (mount("rbf-test", mnt, "tmpfs", 0, "size=1m")) {
		cr_skip_test("cannot mount a tmpfs here (%s): run as root to "
			     "test a full file system",
			     strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/big.rbf", mnt);
	cr_expect_eq(create(&ch, path, 0, RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD,
			    1 << 20, 4, RBF_DURABLE_NONE),
		     -ENOSPC);
	cr_expect_neq(stat(path, &st), 0, "a failed creation left a file");
	snprintf(path, sizeof(path), "%s/small.rbf", mnt);
	cr_expect_eq(create(&ch, path, 0, RBF_ALLOC_GLOBAL, RBF_MODE_OVERWRITE,
			    64 << 10, 8, RBF_DURABLE_FLUSH),
		     0);
	/* Fill the rest of the file system, then write: no SIGBUS. */
	{
		char fill[160];
		int fd;
		static char block[65536];

		snprintf(fill, sizeof(fill), "%s/fill", mnt);
		fd = open(fill, O_WRONLY | O_CREAT, 0644);
		cr_assert_geq(fd, 0);
		while (write(fd, block, sizeof(block)) > 0)
			;
		close(fd);
	}
	write_events(ch, 0, 50000); /* wraps the ring many times */
	cr_expect_eq(rbf_channel_flush(ch), 0);
	rbf_channel_destroy(ch);
	cr_expect_eq(umount(mnt), 0);
}

Test(mmap_file, reopen_continues)
{
	static const enum rbf_alloc allocs[] = { RBF_ALLOC_GLOBAL,
						 RBF_ALLOC_PER_CPU };
	size_t a;

	for (a = 0; a < 2; a++) {
		struct rbf_channel *ch;
		char path[128];
		pid_t pid;
		int st;

		snprintf(path, sizeof(path), "%s/r%zu.rbf", dir, a);
		cr_assert_eq(create(&ch, path, 0, allocs[a], RBF_MODE_DISCARD,
				    4096, 8, RBF_DURABLE_NONE),
			     0);
		write_events(ch, 0, 300);
		rbf_channel_destroy(ch);
		/* Other geometry: refused. */
		cr_assert_eq(create(&ch, path, RBF_MMAP_FILE_REOPEN, allocs[a],
				    RBF_MODE_DISCARD, 4096, 4,
				    RBF_DURABLE_NONE),
			     -EINVAL);
		cr_assert_eq(create(&ch, path, RBF_MMAP_FILE_REOPEN, allocs[a],
				    RBF_MODE_OVERWRITE, 4096, 8,
				    RBF_DURABLE_NONE),
			     -EINVAL);
		cr_assert_eq(create(&ch, path, RBF_MMAP_FILE_REOPEN, allocs[a],
				    RBF_MODE_DISCARD, 4096, 8,
				    RBF_DURABLE_NONE),
			     0);
		write_events(ch, 300, 300);
		cr_assert_eq(rbf_channel_flush(ch), 0);
		if (allocs[a] == RBF_ALLOC_GLOBAL)
			cr_assert_eq(consume_all(ch, 0), 600u);
		rbf_channel_destroy(ch);

		/* A writer that died with the file open: -EUCLEAN. */
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			if (create(&ch, path, RBF_MMAP_FILE_REOPEN, allocs[a],
				   RBF_MODE_DISCARD, 4096, 8, RBF_DURABLE_NONE))
				_exit(1);
			_exit(0); /* no destroy */
		}
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		cr_assert_eq(create(&ch, path, RBF_MMAP_FILE_REOPEN, allocs[a],
				    RBF_MODE_DISCARD, 4096, 8,
				    RBF_DURABLE_NONE),
			     -EUCLEAN);
	}
}

Test(mmap_file, durability_policies)
{
	static const enum rbf_durability pol[] = { RBF_DURABLE_NONE,
						   RBF_DURABLE_SUBBUF,
						   RBF_DURABLE_FLUSH };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct rbf_channel *ch;
		struct rbf_file_header h;
		char path[128];

		snprintf(path, sizeof(path), "%s/d%zu.rbf", dir, i);
		cr_assert_eq(create(&ch, path, 0, RBF_ALLOC_PER_CPU,
				    RBF_MODE_OVERWRITE, 4096, 4, pol[i]),
			     0);
		write_events(ch, 0, 5000);
		cr_assert_eq(rbf_channel_flush(ch), 0);
		rbf_channel_destroy(ch);
		h = read_header(path);
		cr_assert_eq(h.durability, (uint32_t)pol[i]);
		cr_assert_eq(h.state, (uint32_t)RBF_FILE_STATE_CLEAN);
	}
}

/* ---------------------------------------------------------------------- */
/* A writer in a child process, a reader attached from this one. */

#define LIVE_EVENTS 200000u

static pid_t spawn_writer(const char *path, enum rbf_alloc alloc, int *ready_fd)
{
	int pfd[2];
	pid_t pid;

	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rbf_channel *ch;
		uint8_t p[TH_EVENT_SIZE + 8];
		uint64_t i;
		char c = 1;

		close(pfd[0]);
		/* A failed test must not leave us spinning on a full ring. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(4);
		if (create(&ch, path, 0, alloc, RBF_MODE_DISCARD, 4096, 8,
			   RBF_DURABLE_NONE))
			_exit(2);
		if (write(pfd[1], &c, 1) != 1)
			_exit(3);
		for (i = 0; i < LIVE_EVENTS;) {
			th_event_make(p, sizeof(p), 0, 0, i);
			if (rbf_write(ch, 1, p, sizeof(p)) == 0)
				i++;
			else
				sched_yield(); /* full: wait for the reader */
		}
		rbf_channel_destroy(ch);
		_exit(0);
	}
	close(pfd[1]);
	*ready_fd = pfd[0];
	return pid;
}

static void wait_ready(int fd)
{
	char c;

	cr_assert_eq(read(fd, &c, 1), 1, "writer failed to start");
	close(fd);
}

static void live_attach(enum rbf_alloc alloc)
{
	struct rbf_channel *ch;
	char path[128];
	uint64_t got = 0;
	int fd, st, state;
	pid_t pid;

	path_of(path, sizeof(path), "live.rbf");
	pid = spawn_writer(path, alloc, &fd);
	wait_ready(fd);
	cr_assert_eq(rbf_mmap_file_attach(path, 0, &ch), 0);
	{
		struct rbf_channel *second;

		cr_assert_eq(rbf_mmap_file_attach(
				     path, RBF_MMAP_FILE_ATTACH_ONLY_IF_FREE,
				     &second),
			     -EBUSY);
	}
	cr_assert_eq(rbf_write(ch, 1, "x", 1), -EPERM);
	do {
		state = rbf_mmap_file_writer_state(ch);
		got += consume_all(ch, got);
	} while (state == 1);
	cr_assert_eq(state, 0, "writer state %d", state);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	got += consume_all(ch, got);
	cr_assert_eq(got, (uint64_t)LIVE_EVENTS);
	rbf_channel_destroy(ch);
}

Test(mmap_file, attach_live_global)
{
	live_attach(RBF_ALLOC_GLOBAL);
}

Test(mmap_file, attach_live_per_thread)
{
	live_attach(RBF_ALLOC_PER_THREAD);
}

/* Parse one stream file of a trace directory; returns events, checks
 * that sequences continue from *next. */
static uint64_t check_stream(const char *path, uint64_t *next)
{
	struct stat st;
	uint64_t off = 0, n = 0;
	char *m;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	while (off < (uint64_t)st.st_size) {
		struct rbf_subbuf_header h;
		struct th_raw_rec rec[512];
		int i, k;

		memcpy(&h, m + off, sizeof(h));
		cr_assert_eq(h.magic, RBF_SUBBUF_MAGIC);
		cr_assert_leq(off + h.content_size, (uint64_t)st.st_size);
		k = th_parse_subbuf(m + off, (size_t)st.st_size - off, &h, rec,
				    512);
		cr_assert_geq(k, 0);
		for (i = 0; i < k; i++) {
			struct th_event e;

			cr_assert_eq(th_event_verify(m + off + rec[i].off,
						     rec[i].len, &e),
				     0);
			cr_assert_eq(e.seq, *next);
			(*next)++;
			n++;
		}
		off += h.content_size;
	}
	munmap(m, (size_t)st.st_size);
	close(fd);
	return n;
}

Test(mmap_file, drain_live_to_directory)
{
	struct rbf_drain_stats ds;
	struct rbf_channel *ch;
	char path[128], out[128], stream[160];
	uint64_t next = 0;
	int fd, dfd, st, state, r;
	pid_t pid;

	path_of(path, sizeof(path), "drain.rbf");
	path_of(out, sizeof(out), "trace");
	cr_assert_eq(mkdir(out, 0755), 0);
	dfd = open(out, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	pid = spawn_writer(path, RBF_ALLOC_GLOBAL, &fd);
	wait_ready(fd);
	cr_assert_eq(rbf_mmap_file_attach(path, 0, &ch), 0);
	memset(&ds, 0, sizeof(ds));
	ds.size = sizeof(ds);
	do {
		state = rbf_mmap_file_writer_state(ch);
		r = rbf_mmap_file_drain(ch, dfd, &ds);
		cr_assert_geq(r, 0, "drain: %d", r);
	} while (state == 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	cr_assert_geq(rbf_mmap_file_drain(ch, dfd, &ds), 0);
	cr_assert_eq(ds.events, (uint64_t)LIVE_EVENTS);
	cr_assert_eq(ds.zero_copy, ds.subbufs,
		     "%" PRIu64 " of %" PRIu64
		     " sub-buffers copied through user space",
		     ds.subbufs - ds.zero_copy, ds.subbufs);
	rbf_channel_destroy(ch);
	snprintf(stream, sizeof(stream), "%s/stream-0", out);
	cr_assert_eq(check_stream(stream, &next), (uint64_t)LIVE_EVENTS);
	snprintf(stream, sizeof(stream), "%s/metadata", out);
	{
		struct rbf_file_header h = read_header(stream);

		cr_assert_eq(memcmp(h.magic, RBF_FILE_MAGIC, 8), 0);
	}
	close(dfd);
}

/* A reader killed inside its exchange leaves the spare named twice and the
 * sub-buffer it took nowhere; the next reader repairs that on attach. */
Test(mmap_file, attach_repairs_dead_readers_exchange)
{
	struct rbf_file_header h;
	struct rbf_file_slot slot;
	struct rbf_channel *ch;
	struct rbf_ctl ctl;
	uint64_t link0;
	char path[128];
	int fd;

	path_of(path, sizeof(path), "half.rbf");
	cr_assert_eq(create(&ch, path, 0, RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD,
			    4096, 4, RBF_DURABLE_NONE),
		     0);
	write_events(ch, 0, 100);
	rbf_channel_destroy(ch);

	/* Name link 0's sub-buffer as the spare too, as a reader killed
	 * right after its exchange CAS would. */
	h = read_header(path);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &slot, sizeof(slot), (off_t)h.table_off),
		     (ssize_t)sizeof(slot));
	cr_assert_eq(pread(fd, &ctl, sizeof(ctl), (off_t)slot.ctl_off),
		     (ssize_t)sizeof(ctl));
	cr_assert_eq(pread(fd, &link0, sizeof(link0),
			   (off_t)(slot.ctl_off + ctl.link_off)),
		     (ssize_t)sizeof(link0));
	ctl.spare = (uint32_t)(link0 & RBF_LINK_PHYS_MASK);
	cr_assert_eq(pwrite(fd, &ctl, sizeof(ctl), (off_t)slot.ctl_off),
		     (ssize_t)sizeof(ctl));
	close(fd);

	cr_assert_eq(rbf_mmap_file_attach(path, 0, &ch), 0);
	{
		struct rbf_buffer *buf = NULL;

		cr_assert_eq(rbf_channel_buffers(ch, &buf, 1), 1,
			     "the damaged buffer was not attached");
	}
	cr_assert_eq(rbf_channel_flush(ch), 0);
	cr_assert_eq(consume_all(ch, 0), 100u);
	rbf_channel_destroy(ch);
}

/* A trace directory on a full file system: -ENOSPC, the stream keeps whole
 * sub-buffers only, and the sub-buffer that did not fit goes first into
 * the next directory: nothing is lost. */
Test(mmap_file, drain_full_file_system)
{
	struct rbf_drain_stats ds;
	struct rbf_channel *ch;
	char path[128], mnt[128], big[128], stream[200];
	uint64_t next = 0, n;
	int small_fd, big_fd, r, enospc = 0, i;

	path_of(path, sizeof(path), "ring.rbf");
	path_of(mnt, sizeof(mnt), "small");
	path_of(big, sizeof(big), "big");
	cr_assert_eq(mkdir(mnt, 0755), 0);
	cr_assert_eq(mkdir(big, 0755), 0);
	if (mount("rbf-test", mnt, "tmpfs", 0, "size=64k"))
		cr_skip_test("cannot mount a tmpfs here (%s): run as root to "
			     "test a full file system",
			     strerror(errno));
	cr_assert_eq(create(&ch, path, 0, RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD,
			    16384, 16, RBF_DURABLE_NONE),
		     0);
	small_fd = open(mnt, O_RDONLY | O_DIRECTORY);
	big_fd = open(big, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(small_fd, 0);
	cr_assert_geq(big_fd, 0);
	memset(&ds, 0, sizeof(ds));
	ds.size = sizeof(ds);
	/* 200 KiB of events into a 64 KiB file system, 20 KiB at a time. */
	for (i = 0; i < 10; i++) {
		write_events(ch, (uint64_t)i * 400, 400);
		r = rbf_mmap_file_drain(ch, small_fd, &ds);
		if (r == -ENOSPC) {
			enospc = 1;
			break;
		}
		cr_assert_geq(r, 0, "drain: %d", r);
	}
	cr_assert(enospc, "the 64 KiB file system never filled");
	/* Everything else goes to the big directory, the held one first. */
	for (i++; i < 10; i++)
		write_events(ch, (uint64_t)i * 400, 400);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	cr_assert_geq(rbf_mmap_file_drain(ch, big_fd, &ds), 0);
	rbf_channel_destroy(ch);
	snprintf(stream, sizeof(stream), "%s/stream-0", mnt);
	n = check_stream(stream, &next);
	snprintf(stream, sizeof(stream), "%s/stream-0", big);
	n += check_stream(stream, &next);
	cr_assert_eq(n, 4000u, "%" PRIu64 " of 4000 events in the streams", n);
	cr_assert_eq(ds.events, 4000u);
	close(small_fd);
	close(big_fd);
	cr_expect_eq(umount(mnt), 0);
}

/* Every refusal of attach, drain and writer_state, with its errno. */
Test(mmap_file, attach_and_drain_bad_input)
{
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL, *page;
	char path[128], junk[128];
	int fd, dfd;

	path_of(path, sizeof(path), "ok.rbf");
	path_of(junk, sizeof(junk), "junk");
	cr_assert_eq(rbf_mmap_file_attach(NULL, 0, &ch), -EINVAL);
	cr_assert_eq(rbf_mmap_file_attach(path, 0, NULL), -EINVAL);
	cr_assert_eq(rbf_mmap_file_attach(path, 1u << 9, &ch), -EINVAL);
	cr_assert_eq(rbf_mmap_file_attach(path, 0, &ch), -ENOENT);
	cr_assert_eq(rbf_mmap_file_attach(dir, 0, &ch), -EISDIR);
	fd = open(junk, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "not an rbf file\n", 16), 16);
	close(fd);
	cr_assert_eq(rbf_mmap_file_attach(junk, 0, &ch), -EINVAL);
	cr_assert_eq(truncate(junk, 8192), 0); /* zeros: wrong magic */
	cr_assert_eq(rbf_mmap_file_attach(junk, 0, &ch), -EINVAL);
	cr_assert_null(ch);

	/* Drain and writer_state want a channel of this backend. */
	rbf_channel_attr_init(&attr);
	attr.alloc = RBF_ALLOC_GLOBAL;
	cr_assert_eq(rbf_channel_create(&attr, &page), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(rbf_mmap_file_drain(page, dfd, NULL), -EINVAL);
	cr_assert_eq(rbf_mmap_file_writer_state(page), -EINVAL);
	cr_assert_eq(rbf_mmap_file_writer_state(NULL), -EINVAL);
	rbf_channel_destroy(page);

	cr_assert_eq(create(&ch, path, 0, RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD,
			    4096, 4, RBF_DURABLE_NONE),
		     0);
	cr_assert_eq(rbf_mmap_file_writer_state(ch), 1);
	cr_assert_eq(rbf_mmap_file_drain(NULL, dfd, NULL), -EINVAL);
	cr_assert_eq(rbf_mmap_file_drain(ch, -1, NULL), -EINVAL);
	{
		struct rbf_drain_stats small;

		memset(&small, 0, sizeof(small));
		small.size = sizeof(small) - 1;
		cr_assert_eq(rbf_mmap_file_drain(ch, dfd, &small), -EINVAL);
	}
	fd = open(junk, O_RDONLY); /* a file, not a directory */
	cr_assert_geq(fd, 0);
	cr_assert_eq(rbf_mmap_file_drain(ch, fd, NULL), -ENOTDIR);
	close(fd);
	cr_assert_eq(rbf_mmap_file_drain(ch, dfd, NULL), 0);
	rbf_channel_destroy(ch);
	close(dfd);
}

/* max_buffers: out of range refused; a thread beyond the file's slots
 * loses its events, counted as nomem, and the others keep writing. */
static void *one_write(void *arg)
{
	uint8_t p[TH_EVENT_SIZE];

	th_event_make(p, sizeof(p), 1, 0, 0);
	return (void *)(intptr_t)rbf_write(arg, 1, p, sizeof(p));
}

Test(mmap_file, per_thread_slots_run_out)
{
	struct rbf_mmap_file_config cfg;
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL;
	struct rbf_stats st;
	char path[128];
	pthread_t t;
	void *ret;

	path_of(path, sizeof(path), "slots.rbf");
	rbf_mmap_file_config_init(&cfg);
	cfg.path = path;
	cfg.max_buffers = 65537;
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &cfg;
	attr.alloc = RBF_ALLOC_PER_THREAD;
	attr.subbuf_size = 4096;
	cr_assert_eq(rbf_channel_create(&attr, &ch), -EINVAL);
	cfg.max_buffers = 1;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	write_events(ch, 0, 10); /* this thread takes the one slot */
	cr_assert_eq(pthread_create(&t, NULL, one_write, ch), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq((int)(intptr_t)ret, -ENOMEM);
	write_events(ch, 10, 10);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_NOMEM], 1u);
	cr_assert_eq(st.written, 21u);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	cr_assert_eq(consume_all(ch, 0), 20u);
	rbf_channel_destroy(ch);
}

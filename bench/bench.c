/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.c - write-path and reader benchmark of rbf (bench/rbf_bench).
 *
 * What it measures, all in one process so the numbers compare:
 *
 *  - baselines: the "floor" (a plain record store, 8-byte header plus the
 *    payload, into a 64 KiB thread-local ring through a non-inlined call),
 *    on 1 and on 2 threads (how well the machine itself scales),
 *    clock_gettime(CLOCK_MONOTONIC) alone and RDTSC alone (x86);
 *  - rbf_write() for every allocation mode x clock x payload (8, 64 bytes)
 *    x threads (1, 2; each thread pinned to its own CPU), on an overwrite
 *    channel of 8 x 64 KiB sub-buffers and no reader, so a write never
 *    fails for want of a reader (failures are counted anyway and a run with
 *    failures is flagged);
 *  - rbf_reserve() + memcpy + rbf_commit() for one configuration;
 *  - the same write path on the mmap-file backend (the ring in a file, in
 *    $RBF_BENCH_DIR or /tmp), with durability none and sub-buffer, as a
 *    ratio to the page backend's row of the same run;
 *  - the reader: sub-buffer exchanges (rbf_subbuf_get/put) per second while a
 *    writer thread fills a discard-mode buffer, and events per second of
 *    rbf_buffer_consume() / rbf_channel_consume() on a pre-filled buffer;
 *  - the drain: a writer thread fills an mmap-file channel as fast as it
 *    can while the main thread appends completed sub-buffers to a trace
 *    directory (rbf_mmap_file_drain), then dd writes as many bytes to the
 *    same file system: MB/s of both, and the events the writer lost.
 *
 * Each figure is the median of R runs (min and max shown).  For 2 threads,
 * ns/event is the cost per write seen by each thread, and "scale" is the
 * aggregate events/s of the 2 threads over the events/s of 1 thread.
 *
 * The targets printed next to the results are a report, not a test: the
 * program exits 0 whatever they say, and 1 only when a run errors.
 *
 * Usage: rbf_bench [--quick] [--filter SUBSTR] [--json FILE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_RDTSC 1
#endif

#include <rbf/rbf.h>

#define EV_ID 1
#define MAX_THREADS 2
#define MAX_RUNS 16
#define MAX_RESULTS 128
#define BATCH 256
#define FLOOR_RING (64 * 1024)

#if defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE __attribute__((noinline, noclone))
#endif

/* ---- options and machine ---- */

static int opt_runs = 5;
static double opt_run_s = 0.2; /* seconds per run */
static double opt_reader_s = 1.0;
static const char *opt_filter;
static const char *opt_json;
static int cpus[MAX_THREADS]; /* CPUs the threads are pinned to */
static int nr_cpus; /* CPUs this process may use */
static int errors; /* runs that errored (exit status 1) */

static const char *const alloc_name[] = { "per-cpu", "per-thread", "global" };
static const char *const clock_name[] = { "monotonic", "tsc", "none" };

/* ---- results ---- */

struct result {
	char config[64];
	const char *kind; /* "baseline", "write", "reserve", "reader" */
	const char *alloc; /* NULL when not applicable */
	const char *clock;
	int payload; /* bytes, 0 when not applicable */
	int threads;
	double ns; /* median ns/event */
	double min, max;
	double ratio; /* vs floor of the same payload, 0 if none */
	double scale; /* 2 threads: aggregate rate / 1 thread rate */
	double rate; /* median events (or sub-buffers) per second */
	double mbps; /* reader: MB/s drained, else 0 */
	uint64_t failures;
	char causes[64]; /* "busy 12, full 3" when failures */
	bool acct_ok;
	const char *target; /* text of the target, or NULL */
	char tkind; /* what the target bounds: 'r'atio, 'n's, 's'cale */
	bool pass;
};

static struct result results[MAX_RESULTS];
static int nr_results;

static struct result *new_result(const char *kind, const char *config)
{
	struct result *r;

	if (nr_results == MAX_RESULTS) {
		fprintf(stderr, "rbf_bench: too many results\n");
		exit(1);
	}
	r = &results[nr_results++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->acct_ok = true;
	snprintf(r->config, sizeof(r->config), "%s", config);
	return r;
}

static bool selected(const char *config)
{
	return !opt_filter || strstr(config, opt_filter);
}

/* ---- time ---- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and max of @n samples (sorts @v). */
static void summarize(double *v, int n, double *med, double *min, double *max)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	*min = v[0];
	*max = v[n - 1];
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	int ret = pthread_create(tid, NULL, fn, arg);

	if (ret) {
		fprintf(stderr, "rbf_bench: pthread_create: %s\n",
			strerror(ret));
		exit(1);
	}
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- baselines ---- */

static _Thread_local unsigned char floor_ring[FLOOR_RING]
	__attribute__((aligned(64)));
static _Thread_local size_t floor_pos;
static volatile size_t floor_len_v; /* hides the length from the compiler */
static volatile uint64_t sink;

/*
 * The floor: what any tracer must at least do per event, i.e. store an
 * 8-byte header and the payload at the next position of a ring.  The ring
 * (64 KiB) exceeds a typical L1 but is reused, like a buffer in steady state.
 */
static BENCH_NOINLINE void floor_store(const void *src, size_t len)
{
	size_t rec = (8 + len + 7) & ~(size_t)7;
	unsigned char *p;
	uint64_t hdr = ((uint64_t)len << 48) | ((uint64_t)EV_ID << 32);

	if (floor_pos + rec > FLOOR_RING)
		floor_pos = 0;
	p = &floor_ring[floor_pos];
	memcpy(p, &hdr, sizeof(hdr));
	memcpy(p + 8, src, len);
	floor_pos += rec;
}

enum base_kind { BASE_FLOOR, BASE_CLOCK, BASE_RDTSC };

/* One run of a baseline on the calling thread; returns ns per event. */
static double base_run(enum base_kind kind, size_t len, double secs)
{
	static const unsigned char payload[64];
	uint64_t start, t, deadline, n = 0, acc = 0;
	struct timespec ts;
	int i;

	floor_len_v = len;
	start = now_ns();
	deadline = start + (uint64_t)(secs * 1e9);
	do {
		switch (kind) {
		case BASE_FLOOR:
			for (i = 0; i < BATCH; i++)
				floor_store(payload, floor_len_v);
			break;
		case BASE_CLOCK:
			for (i = 0; i < BATCH; i++) {
				clock_gettime(CLOCK_MONOTONIC, &ts);
				acc += (uint64_t)ts.tv_nsec;
			}
			break;
		case BASE_RDTSC:
#ifdef BENCH_HAVE_RDTSC
			for (i = 0; i < BATCH; i++)
				acc += __rdtsc();
#endif
			break;
		}
		n += BATCH;
		t = now_ns();
	} while (t < deadline);
	sink = acc;
	return (double)(t - start) / (double)n;
}

static double floor_ns[2]; /* [0]: 8-byte payload, [1]: 64-byte */

static void bench_baseline(enum base_kind kind, size_t len, const char *name)
{
	double v[MAX_RUNS];
	struct result *r;
	int i;

	pin_self(cpus[0]);
	base_run(kind, len, opt_run_s / 4); /* warm up */
	for (i = 0; i < opt_runs; i++)
		v[i] = base_run(kind, len, opt_run_s);
	r = new_result("baseline", name);
	r->threads = 1;
	r->payload = kind == BASE_FLOOR ? (int)len : 0;
	summarize(v, opt_runs, &r->ns, &r->min, &r->max);
	r->rate = 1e9 / r->ns;
	if (kind == BASE_FLOOR)
		floor_ns[len > 8] = r->ns;
	else if (floor_ns[0] > 0)
		r->ratio = r->ns / floor_ns[0];
	if (kind == BASE_FLOOR)
		r->ratio = 1.0;
}

/*
 * The floor on 2 threads at once, each pinned to its own CPU: how well the
 * machine itself scales (shared cores, memory bandwidth, a hypervisor),
 * so that the scaling of the rbf rows can be read against it.
 */
struct bjob {
	size_t len;
	int cpu;
	pthread_barrier_t *bar;
	double ns[MAX_RUNS];
};

static void *floor_thread(void *arg)
{
	struct bjob *j = arg;
	int run;

	pin_self(j->cpu);
	base_run(BASE_FLOOR, j->len, opt_run_s / 4); /* warm up */
	for (run = 0; run < opt_runs; run++) {
		pthread_barrier_wait(j->bar);
		j->ns[run] = base_run(BASE_FLOOR, j->len, opt_run_s);
		pthread_barrier_wait(j->bar);
	}
	return NULL;
}

static void bench_floor_2t(size_t len, const char *name)
{
	struct bjob jobs[2];
	pthread_t tid[2];
	pthread_barrier_t bar;
	double ns[MAX_RUNS], agg[MAX_RUNS], rate, dummy;
	struct result *r;
	int i, run;

	pthread_barrier_init(&bar, NULL, 2);
	for (i = 0; i < 2; i++) {
		jobs[i].len = len;
		jobs[i].cpu = cpus[i];
		jobs[i].bar = &bar;
		start_thread(&tid[i], floor_thread, &jobs[i]);
	}
	for (i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&bar);
	for (run = 0; run < opt_runs; run++) {
		ns[run] = (jobs[0].ns[run] + jobs[1].ns[run]) / 2;
		agg[run] = 1e9 / jobs[0].ns[run] + 1e9 / jobs[1].ns[run];
	}
	r = new_result("baseline", name);
	r->threads = 2;
	r->payload = (int)len;
	summarize(ns, opt_runs, &r->ns, &r->min, &r->max);
	summarize(agg, opt_runs, &rate, &dummy, &dummy);
	r->rate = rate;
	r->ratio = r->ns / floor_ns[len > 8];
	r->scale = rate * floor_ns[len > 8] / 1e9;
}

/* ---- write path ---- */

enum write_kind { WK_WRITE, WK_RESERVE };

struct wjob {
	struct rbf_channel *ch;
	enum write_kind kind;
	size_t len;
	int cpu;
	pthread_barrier_t *bar;
	/* per run, filled by the thread */
	double elapsed[MAX_RUNS];
	uint64_t events[MAX_RUNS];
	uint64_t fails[MAX_RUNS];
	int err; /* first unexpected error */
};

static void *write_thread(void *arg)
{
	static const unsigned char payload[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct wjob *j = arg;
	struct rbf_channel *ch = j->ch;
	size_t len = j->len;
	uint64_t start, t, deadline, n, fails;
	struct rbf_wctx ctx;
	int run, i, ret;

	pin_self(j->cpu);
	ret = rbf_thread_prepare(ch);
	if (ret < 0)
		j->err = ret;
	/* Warm up: fault in the buffer, settle the caches. */
	for (i = 0; i < 8 * BATCH; i++)
		rbf_write(ch, EV_ID, payload, len);
	for (run = 0; run < opt_runs; run++) {
		n = 0;
		fails = 0;
		pthread_barrier_wait(j->bar);
		start = now_ns();
		deadline = start + (uint64_t)(opt_run_s * 1e9);
		do {
			if (j->kind == WK_WRITE) {
				for (i = 0; i < BATCH; i++) {
					ret = rbf_write(ch, EV_ID, payload,
							len);
					fails += ret < 0;
				}
			} else {
				for (i = 0; i < BATCH; i++) {
					ret = rbf_reserve(ch, &ctx, EV_ID, len);
					if (ret < 0) {
						fails++;
						continue;
					}
					memcpy(ctx.data, payload, len);
					rbf_commit(&ctx);
				}
			}
			n += BATCH;
			t = now_ns();
		} while (t < deadline);
		j->elapsed[run] = (double)(t - start);
		j->events[run] = n;
		j->fails[run] = fails;
		pthread_barrier_wait(j->bar);
	}
	return NULL;
}

/* Median aggregate rate of the last 1-thread run, by configuration. */
struct rate_memo {
	char key[48];
	double rate;
};
static struct rate_memo memo[64];
static int nr_memo;

static double *memo_slot(const char *key)
{
	int i;

	for (i = 0; i < nr_memo; i++)
		if (!strcmp(memo[i].key, key))
			return &memo[i].rate;
	if (nr_memo == (int)(sizeof(memo) / sizeof(memo[0])))
		return NULL;
	snprintf(memo[nr_memo].key, sizeof(memo[0].key), "%s", key);
	memo[nr_memo].rate = 0;
	return &memo[nr_memo++].rate;
}

/* ---- backends: the write path on the mmap-file backend ---- */

enum bench_be { BE_PAGE, BE_MMAP_FILE, BE_MMAP_FILE_SYNC };
static const char *const be_prefix[] = { "", "mmap-file/", "mmap-file+sync/" };
static enum bench_be bench_be; /* backend of the next channels */
static char bench_dir[256]; /* files of the mmap-file channels */
static unsigned int bench_files;
static struct rbf_mmap_file_config bench_mmf;
static char bench_path[300];

static int bench_dir_init(void)
{
	const char *base = getenv("RBF_BENCH_DIR");

	if (bench_dir[0])
		return 0;
	snprintf(bench_dir, sizeof(bench_dir), "%s/rbf-bench-XXXXXX",
		 base ? base : "/tmp");
	if (!mkdtemp(bench_dir)) {
		fprintf(stderr, "rbf_bench: mkdtemp %s: %s\n", bench_dir,
			strerror(errno));
		bench_dir[0] = 0;
		return -1;
	}
	return 0;
}

static void bench_dir_cleanup(void)
{
	char cmd[300];

	if (!bench_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", bench_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "rbf_bench: could not remove %s\n", bench_dir);
}

/* Point @attr at the backend of the run (a fresh file for mmap-file). */
static void bench_attr_backend(struct rbf_channel_attr *attr,
			       enum rbf_durability dur)
{
	if (bench_be == BE_PAGE)
		return;
	rbf_mmap_file_config_init(&bench_mmf);
	snprintf(bench_path, sizeof(bench_path), "%s/ring-%u.rbf", bench_dir,
		 bench_files++);
	bench_mmf.path = bench_path;
	bench_mmf.durability =
		bench_be == BE_MMAP_FILE_SYNC ? RBF_DURABLE_SUBBUF : dur;
	attr->backend = &rbf_backend_mmap_file;
	attr->backend_config = &bench_mmf;
}

/* The page-backend result of the same configuration, for the ratio. */
static const struct result *page_result(const char *name)
{
	const char *rest = strchr(name, '/');
	int i;

	for (i = 0; rest && i < nr_results; i++)
		if (!strcmp(results[i].kind, "write") &&
		    !strcmp(strchr(results[i].config, '/'), rest))
			return &results[i];
	return NULL;
}

static void bench_write(enum write_kind kind, enum rbf_alloc alloc,
			enum rbf_clock clk, size_t len, int nthreads)
{
	char name[64], key[48];
	struct rbf_channel_attr attr;
	struct rbf_channel *ch;
	struct rbf_stats st;
	struct wjob jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	pthread_barrier_t bar;
	double ns[MAX_RUNS], agg[MAX_RUNS], med_rate, dummy, *slot;
	uint64_t calls = 0, fails = 0;
	struct result *r;
	int i, run, ret;

	/* "write/..." on the page backend, "mmap-file/..." on a file. */
	snprintf(key, sizeof(key), "%s%s/%s/%zuB",
		 bench_be != BE_PAGE ? be_prefix[bench_be] :
		 kind == WK_WRITE    ? "write/" :
				       "reserve/",
		 alloc_name[alloc], clock_name[clk], len);
	snprintf(name, sizeof(name), "%s/%dT", key, nthreads);
	if (!selected(name))
		return;

	rbf_channel_attr_init(&attr);
	attr.subbuf_size = 64 * 1024;
	attr.num_subbuf = 8;
	attr.mode = RBF_MODE_OVERWRITE;
	attr.alloc = alloc;
	attr.clock = clk;
	bench_attr_backend(&attr, RBF_DURABLE_NONE);
	ret = rbf_channel_create(&attr, &ch);
	if (ret == -ENOTSUP) {
		printf("%-36s  skipped (clock not supported here)\n", name);
		return;
	}
	if (ret < 0) {
		fprintf(stderr, "%s: rbf_channel_create: %s\n", name,
			strerror(-ret));
		errors++;
		return;
	}

	pthread_barrier_init(&bar, NULL, (unsigned int)nthreads);
	for (i = 0; i < nthreads; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].ch = ch;
		jobs[i].kind = kind;
		jobs[i].len = len;
		jobs[i].cpu = cpus[i];
		jobs[i].bar = &bar;
		start_thread(&tid[i], write_thread, &jobs[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&bar);

	for (run = 0; run < opt_runs; run++) {
		ns[run] = 0;
		agg[run] = 0;
		for (i = 0; i < nthreads; i++) {
			ns[run] += jobs[i].elapsed[run] /
				   (double)jobs[i].events[run] / nthreads;
			agg[run] += (double)jobs[i].events[run] * 1e9 /
				    jobs[i].elapsed[run];
			calls += jobs[i].events[run];
			fails += jobs[i].fails[run];
		}
	}
	calls += (uint64_t)nthreads * 8 * BATCH; /* warm-up writes */

	r = new_result(bench_be != BE_PAGE ? "mmap-file" :
		       kind == WK_WRITE	   ? "write" :
					     "reserve",
		       name);
	r->alloc = alloc_name[alloc];
	r->clock = clock_name[clk];
	r->payload = (int)len;
	r->threads = nthreads;
	r->failures = fails;
	summarize(ns, opt_runs, &r->ns, &r->min, &r->max);
	summarize(agg, opt_runs, &med_rate, &dummy, &dummy);
	r->rate = med_rate;
	r->ratio = r->ns / floor_ns[len > 8];
	if (bench_be != BE_PAGE) {
		/* Against the page backend, same configuration, same run. */
		const struct result *pg = page_result(name);

		r->ratio = pg && pg->ns > 0 ? r->ns / pg->ns : 0;
	}
	for (i = 0; i < nthreads; i++) {
		if (jobs[i].err < 0) {
			fprintf(stderr, "%s: rbf_thread_prepare: %s\n", name,
				strerror(-jobs[i].err));
			errors++;
		}
	}

	/*
	 * Accounting check: no write is in flight, so every call must show
	 * up in the statistics, and written == read + overwritten + lost +
	 * buffered must hold exactly.
	 */
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ret = rbf_channel_stats(ch, &st);
	if (ret < 0 || st.written != calls ||
	    st.written !=
		    st.read + st.overwritten + st.lost_total + st.buffered ||
	    st.lost_total < fails) {
		r->acct_ok = false;
		fprintf(stderr,
			"%s: accounting mismatch: calls %llu written %llu "
			"read %llu overwritten %llu lost %llu buffered %llu\n",
			name, (unsigned long long)calls,
			(unsigned long long)st.written,
			(unsigned long long)st.read,
			(unsigned long long)st.overwritten,
			(unsigned long long)st.lost_total,
			(unsigned long long)st.buffered);
	}
	for (i = 0; ret == 0 && i < RBF_LOST_NR; i++) {
		size_t used = strlen(r->causes);

		if (st.lost[i])
			snprintf(r->causes + used, sizeof(r->causes) - used,
				 "%s%s %llu", used ? ", " : "",
				 rbf_lost_cause_name((enum rbf_lost_cause)i),
				 (unsigned long long)st.lost[i]);
	}
	rbf_channel_destroy(ch);

	slot = memo_slot(key);
	if (slot && nthreads == 1)
		*slot = med_rate;
	else if (slot && *slot > 0)
		r->scale = med_rate / *slot;

	/* Targets. */
	if (bench_be != BE_PAGE) {
		if (bench_be == BE_MMAP_FILE && r->ratio > 0) {
			r->target = "<= 1.10x page";
			r->tkind = 'r';
			r->pass = r->ratio <= 1.10;
		}
	} else if (kind == WK_WRITE && clk == RBF_CLOCK_NONE && len == 8 &&
		   nthreads == 1 && alloc == RBF_ALLOC_PER_THREAD) {
		r->target = "<= 3x floor";
		r->tkind = 'r';
		r->pass = r->ratio <= 3.0;
	} else if (kind == WK_WRITE && clk == RBF_CLOCK_NONE && len == 8 &&
		   nthreads == 1 && alloc == RBF_ALLOC_PER_CPU) {
		r->target = "<= 12 ns";
		r->tkind = 'n';
		r->pass = r->ns <= 12.0;
	} else if (nthreads == 2 && alloc != RBF_ALLOC_GLOBAL && r->scale > 0) {
		r->target = "scale >= 1.8x";
		r->tkind = 's';
		r->pass = r->scale >= 1.8;
	}
}

/* ---- reader: sub-buffer exchange ---- */

struct rjob {
	struct rbf_channel *ch;
	pthread_barrier_t *bar;
	atomic_bool stop;
	int cpu;
	uint64_t ok, fails;
	int err;
};

static void *fill_thread(void *arg)
{
	static const unsigned char payload[64];
	struct rjob *j = arg;
	uint64_t ok = 0, fails = 0;
	int ret;

	pin_self(j->cpu);
	ret = rbf_thread_prepare(j->ch);
	if (ret < 0)
		j->err = ret;
	pthread_barrier_wait(j->bar);
	while (!atomic_load_explicit(&j->stop, memory_order_relaxed)) {
		ret = rbf_write(j->ch, EV_ID, payload, sizeof(payload));
		if (ret < 0)
			fails++;
		else
			ok++;
	}
	j->ok = ok;
	j->fails = fails;
	return NULL;
}

static void bench_exchange(enum rbf_alloc alloc, uint32_t subbuf_size)
{
	char name[64];
	struct rbf_channel_attr attr;
	struct rbf_channel *ch;
	struct rbf_buffer *buf = NULL;
	struct rbf_subbuf sb;
	pthread_barrier_t bar;
	pthread_t tid;
	struct rjob job;
	uint64_t start, t, deadline, pairs = 0, bytes = 0;
	struct result *r;
	int ret;

	snprintf(name, sizeof(name), "reader/subbuf/%s/%uK", alloc_name[alloc],
		 subbuf_size / 1024);
	if (!selected(name))
		return;
	rbf_channel_attr_init(&attr);
	attr.subbuf_size = subbuf_size;
	attr.num_subbuf = 8;
	attr.mode = RBF_MODE_DISCARD;
	attr.alloc = alloc;
	ret = rbf_channel_create(&attr, &ch);
	if (ret < 0) {
		fprintf(stderr, "%s: rbf_channel_create: %s\n", name,
			strerror(-ret));
		errors++;
		return;
	}
	memset(&job, 0, sizeof(job));
	job.ch = ch;
	job.bar = &bar;
	job.cpu = cpus[0];
	atomic_init(&job.stop, false);
	pthread_barrier_init(&bar, NULL, 2);
	start_thread(&tid, fill_thread, &job);
	pin_self(nr_cpus > 1 ? cpus[1] : cpus[0]);
	pthread_barrier_wait(&bar); /* the writer's buffer now exists */
	ret = rbf_channel_buffers(ch, &buf, 1);
	if (ret < 1) {
		fprintf(stderr, "%s: rbf_channel_buffers returned %d\n", name,
			ret);
		errors++;
	}

	start = now_ns();
	deadline = start + (uint64_t)(opt_reader_s * 1e9);
	do {
		ret = buf ? rbf_subbuf_get(buf, &sb) : -EINVAL;
		if (ret == 0) {
			pairs++;
			bytes += sb.size;
			ret = rbf_subbuf_put(buf, &sb);
		}
		if (ret == -EAGAIN && nr_cpus < 2)
			sched_yield();
		else if (ret < 0 && ret != -EAGAIN) {
			fprintf(stderr, "%s: rbf_subbuf_get/put: %s\n", name,
				strerror(-ret));
			errors++;
			break;
		}
	} while (now_ns() < deadline);
	t = now_ns();
	atomic_store(&job.stop, true);
	pthread_join(tid, NULL);
	pthread_barrier_destroy(&bar);
	rbf_channel_destroy(ch);
	if (job.err < 0) {
		fprintf(stderr, "%s: rbf_thread_prepare: %s\n", name,
			strerror(-job.err));
		errors++;
	}

	r = new_result("reader", name);
	r->alloc = alloc_name[alloc];
	r->clock = clock_name[RBF_CLOCK_MONOTONIC];
	r->payload = 64;
	r->threads = 2;
	r->rate = (double)pairs * 1e9 / (double)(t - start);
	r->ns = pairs ? (double)(t - start) / (double)pairs : 0;
	r->min = r->max = r->ns;
	r->mbps = (double)bytes * 1e3 / (double)(t - start);
	r->failures = job.fails;
	printf("%-36s  %10.0f get/put per s  %8.1f MB/s  "
	       "(writer %.1f Mev/s, %.1f%% lost: full)\n",
	       name, r->rate, r->mbps,
	       (double)(job.ok + job.fails) * 1e3 / (double)(t - start),
	       job.ok + job.fails ? 100.0 * (double)job.fails /
					    (double)(job.ok + job.fails) :
				    0.0);
}

/* ---- drain: mmap-file ring -> trace directory, against dd ---- */

static void bench_drain(void)
{
	const char *name = "drain/mmap-file/per-thread/64B/1MiBx8";
	struct rbf_channel_attr attr;
	struct rbf_drain_stats ds;
	struct rbf_channel *ch;
	struct rbf_stats st;
	pthread_barrier_t bar;
	pthread_t tid;
	struct rjob job;
	char tdir[300], cmd[700];
	uint64_t start, t, deadline, mib, d0, d1;
	struct result *r;
	double dd_mbps;
	int ret, dfd;

	if (!selected(name) || bench_dir_init())
		return;
	rbf_channel_attr_init(&attr);
	attr.subbuf_size = 1 << 20;
	attr.num_subbuf = 8;
	attr.mode = RBF_MODE_DISCARD;
	attr.alloc = RBF_ALLOC_PER_THREAD;
	bench_be = BE_MMAP_FILE;
	bench_attr_backend(&attr, RBF_DURABLE_NONE);
	bench_be = BE_PAGE;
	ret = rbf_channel_create(&attr, &ch);
	if (ret < 0) {
		fprintf(stderr, "%s: rbf_channel_create: %s\n", name,
			strerror(-ret));
		errors++;
		return;
	}
	snprintf(tdir, sizeof(tdir), "%s/trace-%u", bench_dir, bench_files++);
	if (mkdir(tdir, 0755) ||
	    (dfd = open(tdir, O_RDONLY | O_DIRECTORY)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", name, tdir, strerror(errno));
		rbf_channel_destroy(ch);
		errors++;
		return;
	}
	memset(&ds, 0, sizeof(ds));
	ds.size = sizeof(ds);
	memset(&job, 0, sizeof(job));
	job.ch = ch;
	job.bar = &bar;
	job.cpu = cpus[0];
	atomic_init(&job.stop, false);
	pthread_barrier_init(&bar, NULL, 2);
	start_thread(&tid, fill_thread, &job);
	pin_self(nr_cpus > 1 ? cpus[1] : cpus[0]);
	pthread_barrier_wait(&bar);
	start = now_ns();
	deadline = start + (uint64_t)(opt_reader_s * 2e9);
	do {
		ret = rbf_mmap_file_drain(ch, dfd, &ds);
		if (ret < 0) {
			fprintf(stderr, "%s: drain: %s\n", name,
				strerror(-ret));
			errors++;
			break;
		}
		if (ret == 0 && nr_cpus < 2)
			sched_yield();
	} while (now_ns() < deadline);
	t = now_ns();
	atomic_store(&job.stop, true);
	pthread_join(tid, NULL);
	pthread_barrier_destroy(&bar);
	rbf_channel_flush(ch);
	rbf_mmap_file_drain(ch, dfd, &ds);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	rbf_channel_stats(ch, &st);
	rbf_channel_destroy(ch);
	close(dfd);

	/* dd writing as many bytes to the same file system. */
	mib = (ds.bytes + (1u << 20) - 1) >> 20;
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/zero of='%s/dd.out' bs=1M count=%llu status=none",
		 tdir, (unsigned long long)(mib ? mib : 1));
	d0 = now_ns();
	ret = system(cmd);
	d1 = now_ns();
	dd_mbps = ret == 0 ? (double)(mib << 20) * 1e3 / (double)(d1 - d0) : 0;
	if (ret != 0)
		fprintf(stderr, "%s: dd failed (%d)\n", name, ret);

	r = new_result("drain", name);
	r->alloc = alloc_name[RBF_ALLOC_PER_THREAD];
	r->clock = clock_name[RBF_CLOCK_MONOTONIC];
	r->payload = 64;
	r->threads = 2;
	r->mbps = (double)ds.bytes * 1e3 / (double)(t - start);
	r->rate = (double)ds.subbufs * 1e9 / (double)(t - start);
	r->ns = ds.events ? (double)(t - start) / (double)ds.events : 0;
	r->min = r->max = r->ns;
	r->ratio = dd_mbps > 0 ? r->mbps / dd_mbps : 0;
	r->failures = st.lost_total;
	r->acct_ok = st.written ==
		     st.read + st.overwritten + st.lost_total + st.buffered;
	printf("%-36s  %8.1f MB/s drained (%llu sub-buffers, %llu by "
	       "copy_file_range/splice)\n"
	       "%-36s  %8.1f MB/s dd, same bytes, same file system: drain/dd "
	       "%.2fx\n"
	       "%-36s  writer %.1f Mev/s, lost %llu of %llu (%.2f%%: full)%s\n",
	       name, r->mbps, (unsigned long long)ds.subbufs,
	       (unsigned long long)ds.zero_copy, "", dd_mbps, r->ratio, "",
	       (double)st.written * 1e3 / (double)(t - start),
	       (unsigned long long)st.lost_total,
	       (unsigned long long)st.written,
	       st.written ? 100.0 * (double)st.lost_total / (double)st.written :
			    0.0,
	       r->acct_ok ? "" : "  ACCOUNTING MISMATCH");
}

/* ---- reader: consume ---- */

static void bench_consume(bool whole_channel, size_t len)
{
	static const unsigned char payload[64];
	char name[64];
	struct rbf_channel_attr attr;
	struct rbf_channel *ch;
	struct rbf_buffer *buf = NULL;
	struct rbf_event ev;
	double ns[MAX_RUNS], rate;
	uint64_t start, t, n;
	struct result *r;
	int run, ret;

	snprintf(name, sizeof(name), "reader/%s/global/%zuB",
		 whole_channel ? "channel_consume" : "buffer_consume", len);
	if (!selected(name))
		return;
	rbf_channel_attr_init(&attr);
	attr.subbuf_size = 64 * 1024;
	attr.num_subbuf = 16;
	attr.mode = RBF_MODE_DISCARD;
	attr.alloc = RBF_ALLOC_GLOBAL;
	ret = rbf_channel_create(&attr, &ch);
	if (ret < 0) {
		fprintf(stderr, "%s: rbf_channel_create: %s\n", name,
			strerror(-ret));
		errors++;
		return;
	}
	pin_self(cpus[0]);
	if (rbf_channel_buffers(ch, &buf, 1) < 1) {
		fprintf(stderr, "%s: no buffer\n", name);
		errors++;
		rbf_channel_destroy(ch);
		return;
	}
	for (run = 0; run < opt_runs; run++) {
		/* Fill the buffer until discard mode refuses, then close. */
		while (rbf_write(ch, EV_ID, payload, len) == 0)
			;
		rbf_channel_flush(ch);
		n = 0;
		start = now_ns();
		for (;;) {
			ret = whole_channel ? rbf_channel_consume(ch, &ev) :
					      rbf_buffer_consume(buf, &ev);
			if (ret <= 0)
				break;
			n++;
		}
		t = now_ns();
		if (ret < 0) {
			fprintf(stderr, "%s: consume: %s\n", name,
				strerror(-ret));
			errors++;
			break;
		}
		ns[run] = n ? (double)(t - start) / (double)n : 0;
	}
	rbf_channel_destroy(ch);
	if (run < opt_runs)
		return;

	r = new_result("reader", name);
	r->alloc = alloc_name[RBF_ALLOC_GLOBAL];
	r->clock = clock_name[RBF_CLOCK_MONOTONIC];
	r->payload = (int)len;
	r->threads = 1;
	summarize(ns, opt_runs, &r->ns, &r->min, &r->max);
	rate = r->ns > 0 ? 1e9 / r->ns : 0;
	r->rate = rate;
	r->mbps = rate * (double)len / 1e6;
	printf("%-36s  %8.2f ns/ev  min %6.2f  max %6.2f  %6.1f Mev/s\n", name,
	       r->ns, r->min, r->max, rate / 1e6);
}

/* ---- output ---- */

static void print_row(const struct result *r)
{
	char scale[16] = "", flag[128] = "";

	if (r->scale > 0)
		snprintf(scale, sizeof(scale), "%5.2fx", r->scale);
	if (r->failures)
		snprintf(flag, sizeof(flag), " FAILED WRITES: %llu (%s)",
			 (unsigned long long)r->failures, r->causes);
	if (!r->acct_ok)
		strcat(flag, " ACCOUNTING!");
	printf("%-36s  %8.2f  %8.2f  %8.2f  %6.2fx  %6s", r->config, r->ns,
	       r->min, r->max, r->ratio, scale);
	if (r->target)
		printf("  %-4s (%s)", r->pass ? "PASS" : "MISS", r->target);
	printf("%s\n", flag);
}

static void print_header(void)
{
	printf("%-36s  %8s  %8s  %8s  %7s  %6s  %s\n", "config", "ns/ev", "min",
	       "max", "/floor", "scale", "target");
}

static void json_str(FILE *f, const char *key, const char *v)
{
	if (v)
		fprintf(f, "\"%s\": \"%s\", ", key, v);
	else
		fprintf(f, "\"%s\": null, ", key);
}

static int write_json(const char *path)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f) {
		fprintf(stderr, "rbf_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "[\n");
	for (i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];

		fprintf(f, "  {");
		json_str(f, "config", r->config);
		json_str(f, "kind", r->kind);
		json_str(f, "alloc", r->alloc);
		json_str(f, "clock", r->clock);
		fprintf(f, "\"payload\": %d, \"threads\": %d, ", r->payload,
			r->threads);
		fprintf(f,
			"\"ns_per_event\": %.3f, \"min\": %.3f, "
			"\"max\": %.3f, \"ratio\": %.3f, ",
			r->ns, r->min, r->max, r->ratio);
		if (r->scale > 0)
			fprintf(f, "\"scale\": %.3f, ", r->scale);
		if (r->mbps > 0)
			fprintf(f, "\"mb_per_s\": %.1f, ", r->mbps);
		if (r->target)
			fprintf(f, "\"target\": \"%s\", \"pass\": %s, ",
				r->target, r->pass ? "true" : "false");
		if (r->causes[0])
			fprintf(f, "\"lost_by_cause\": \"%s\", ", r->causes);
		fprintf(f,
			"\"rate\": %.0f, \"failures\": %llu, "
			"\"accounting_ok\": %s}%s\n",
			r->rate, (unsigned long long)r->failures,
			r->acct_ok ? "true" : "false",
			i + 1 < nr_results ? "," : "");
	}
	fprintf(f, "]\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "rbf_bench: %s: write error\n", path);
		return -1;
	}
	return 0;
}

static void print_machine(void)
{
	char line[256], model[192] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	double load[1];
	char *p;

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) &&
		    strncmp(line, "Processor", 9))
			continue;
		p = strchr(line, ':');
		if (!p)
			continue;
		p += 1 + strspn(p + 1, " \t");
		p[strcspn(p, "\n")] = '\0';
		snprintf(model, sizeof(model), "%s", p);
		break;
	}
	if (f)
		fclose(f);
	printf("rbf_bench: rbf %u.%u.%u, nproc %d (online %ld), cpu: %s\n",
	       rbf_version() >> 16, (rbf_version() >> 8) & 0xff,
	       rbf_version() & 0xff, nr_cpus, sysconf(_SC_NPROCESSORS_ONLN),
	       model);
	printf("runs: %d x %.2f s (median; min, max shown); write channels: "
	       "overwrite, 8 x 64 KiB, no reader\n",
	       opt_runs, opt_run_s);
	if (getloadavg(load, 1) == 1) {
		printf("load average: %.2f", load[0]);
		if (load[0] > 0.5)
			printf(" (other work is running: expect noise)");
		printf("\n");
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rbf_bench [--quick] [--filter SUBSTR] "
		   "[--json FILE]\n");
}

int main(int argc, char **argv)
{
	static const size_t payloads[] = { 8, 64 };
	cpu_set_t set;
	int a, c, p, th, i, first;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			opt_runs = 3;
			opt_run_s = 0.02;
			opt_reader_s = 0.1;
		} else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			opt_filter = argv[++i];
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			opt_json = argv[++i];
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	/* The first two CPUs this process may run on. */
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof(set), &set);
	nr_cpus = CPU_COUNT(&set);
	for (i = 0, first = 0; i < CPU_SETSIZE && first < MAX_THREADS; i++)
		if (CPU_ISSET(i, &set))
			cpus[first++] = i;
	if (first < MAX_THREADS)
		cpus[1] = cpus[0];
	print_machine();

	/* Baselines (always run: the ratios need them). */
	printf("\n");
	print_header();
	bench_baseline(BASE_FLOOR, 8, "baseline/floor/16B-record(8B)");
	bench_baseline(BASE_FLOOR, 64, "baseline/floor/72B-record(64B)");
	if (nr_cpus > 1) {
		bench_floor_2t(8, "baseline/floor/16B-record(8B)/2T");
		bench_floor_2t(64, "baseline/floor/72B-record(64B)/2T");
	}
	bench_baseline(BASE_CLOCK, 0, "baseline/clock_gettime(MONOTONIC)");
#ifdef BENCH_HAVE_RDTSC
	bench_baseline(BASE_RDTSC, 0, "baseline/rdtsc");
#endif
	for (i = 0; i < nr_results; i++)
		print_row(&results[i]);

	/* The write path: every mode x clock x payload x threads. */
	printf("\n");
	for (a = RBF_ALLOC_PER_CPU; a <= RBF_ALLOC_GLOBAL; a++) {
		for (c = RBF_CLOCK_MONOTONIC; c <= RBF_CLOCK_NONE; c++) {
			for (p = 0; p < 2; p++) {
				for (th = 1; th <= MAX_THREADS; th++) {
					if (th > nr_cpus)
						continue;
					first = nr_results;
					bench_write(WK_WRITE, (enum rbf_alloc)a,
						    (enum rbf_clock)c,
						    payloads[p], th);
					if (nr_results > first)
						print_row(&results[first]);
					fflush(stdout);
				}
			}
		}
	}
	/* Zero-copy variant: reserve + memcpy + commit. */
	for (p = 0; p < 2; p++) {
		for (th = 1; th <= MAX_THREADS && th <= nr_cpus; th++) {
			first = nr_results;
			bench_write(WK_RESERVE, RBF_ALLOC_PER_CPU,
				    RBF_CLOCK_MONOTONIC, payloads[p], th);
			if (nr_results > first)
				print_row(&results[first]);
		}
	}

	/* The mmap-file backend: the same write path, ring in a file. */
	if (bench_dir_init() == 0) {
		static const enum rbf_alloc fa[] = { RBF_ALLOC_PER_THREAD,
						     RBF_ALLOC_PER_CPU };

		printf("\nmmap-file backend (/page: against the page backend "
		       "row above; files in %s)\n",
		       bench_dir);
		for (a = 0; a < 2; a++) {
			for (c = RBF_CLOCK_MONOTONIC; c <= RBF_CLOCK_NONE;
			     c += RBF_CLOCK_NONE) {
				int b;

				for (b = BE_MMAP_FILE; b <= BE_MMAP_FILE_SYNC;
				     b++) {
					bench_be = (enum bench_be)b;
					first = nr_results;
					bench_write(WK_WRITE, fa[a],
						    (enum rbf_clock)c, 8, 1);
					if (nr_results > first)
						print_row(&results[first]);
					fflush(stdout);
				}
			}
		}
		bench_be = BE_PAGE;
	}

	/* The reader. */
	printf("\n");
	bench_exchange(RBF_ALLOC_GLOBAL, 64 * 1024);
	bench_exchange(RBF_ALLOC_PER_THREAD, 64 * 1024);
	bench_exchange(RBF_ALLOC_GLOBAL, 4 * 1024);
	bench_exchange(RBF_ALLOC_PER_THREAD, 4 * 1024);
	bench_consume(false, 8);
	bench_consume(false, 64);
	bench_consume(true, 8);
	bench_drain();
	bench_dir_cleanup();

	/* Targets summary. */
	printf("\ntargets:\n");
	for (i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];

		if (!r->target)
			continue;
		printf("  %-4s %-36s %-14s", r->pass ? "PASS" : "MISS",
		       r->config, r->target);
		if (r->tkind == 's')
			printf(" got %.2fx", r->scale);
		else if (r->tkind == 'r')
			printf(" got %.2fx", r->ratio);
		else
			printf(" got %.2f ns", r->ns);
		printf("\n");
	}
	if (nr_cpus < 2)
		printf("  (2-thread runs skipped: only 1 CPU)\n");
	for (i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];

		if (strcmp(r->kind, "baseline") || r->threads != 2 ||
		    r->scale >= 1.8)
			continue;
		printf("note: the floor itself scales only %.2fx on 2 threads "
		       "here (%s): the two CPUs are not independent (SMT "
		       "siblings, a shared host core, or a busy machine), so "
		       "the scaling target cannot be judged on this "
		       "machine.\n",
		       r->scale, r->config);
		break;
	}

	if (opt_json && write_json(opt_json) < 0)
		errors++;
	for (i = 0; i < nr_results; i++) {
		if (!strstr(results[i].causes, "busy"))
			continue;
		printf("note: FAILED WRITES (busy): a writer found the "
		       "sub-buffer it had to enter still holding an event "
		       "reserved a whole ring earlier by another writer, "
		       "stalled (preempted) between reserve and commit.\n");
		break;
	}
	return errors ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/harness.c - pinned threads, timed loop, JSON output
 * (see harness.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

void h_opts_init(struct h_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threads = 1;
	o->seconds = 0.25;
	o->warmup = 0.05;
}

const char *h_arg(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, "--", 2) || strncmp(arg + 2, name, n) ||
	    arg[2 + n] != '=')
		return NULL;
	return arg + 3 + n;
}

void h_bad_arg(const char *prog, const char *arg)
{
	fprintf(stderr, "%s: bad argument: %s\n", prog, arg);
	exit(2);
}

static double parse_double(const char *s, const char *arg)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0)
		h_bad_arg("harness", arg);
	return v;
}

int h_common_arg(struct h_opts *o, const char *arg)
{
	const char *v;
	char *end;

	if ((v = h_arg(arg, "threads"))) {
		o->threads = (int)strtol(v, &end, 10);
		if (*end || o->threads < 1 || o->threads > H_MAX_THREADS)
			h_bad_arg("harness", arg);
	} else if ((v = h_arg(arg, "seconds"))) {
		o->seconds = parse_double(v, arg);
	} else if ((v = h_arg(arg, "warmup"))) {
		o->warmup = parse_double(v, arg);
	} else if ((v = h_arg(arg, "events"))) {
		o->events = strtoull(v, &end, 10);
		if (*end)
			h_bad_arg("harness", arg);
	} else if ((v = h_arg(arg, "pace-ns"))) {
		o->pace_ns = parse_double(v, arg);
	} else if ((v = h_arg(arg, "cpus"))) {
		/* Comma-separated CPU numbers. */
		o->ncpus = 0;
		for (;;) {
			long c = strtol(v, &end, 10);

			if (end == v || c < 0 || c >= CPU_SETSIZE ||
			    o->ncpus == H_MAX_THREADS || (*end && *end != ','))
				h_bad_arg("harness", arg);
			o->cpus[o->ncpus++] = (int)c;
			if (!*end)
				break;
			v = end + 1;
		}
	} else {
		return 0;
	}
	return 1;
}

void h_resolve_cpus(struct h_opts *o, const char *prog)
{
	cpu_set_t set;
	int i;

	if (o->ncpus == 0) {
		CPU_ZERO(&set);
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (i = 0; i < CPU_SETSIZE && o->ncpus < H_MAX_THREADS;
			     i++)
				if (CPU_ISSET(i, &set))
					o->cpus[o->ncpus++] = i;
	}
	if (o->ncpus < o->threads) {
		fprintf(stderr, "%s: %d threads need %d CPUs, %d available\n",
			prog, o->threads, o->threads, o->ncpus);
		exit(2);
	}
}

uint64_t h_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void h_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct h_shared {
	const struct h_opts *o;
	h_init_fn init;
	h_batch_fn batch;
	pthread_barrier_t bar;
};

struct h_slot {
	struct h_shared *sh;
	struct h_thread *t;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void timed_loop(struct h_thread *t, h_batch_fn batch, double secs,
		       bool measure)
{
	uint64_t start, now, deadline, cpu, n = 0, fails = 0;

	cpu = thread_cpu_ns();
	start = h_now_ns();
	deadline = start + (uint64_t)(secs * 1e9);
	do {
		fails += batch(t, H_BATCH);
		n += H_BATCH;
		now = h_now_ns();
	} while (now < deadline);
	if (measure) {
		t->events = n;
		t->failures = fails;
		t->elapsed_ns = (double)(now - start);
		t->cpu_ns = (double)(thread_cpu_ns() - cpu);
	}
}

static void counted_loop(struct h_thread *t, h_batch_fn batch, uint64_t total,
			 double pace_ns)
{
	uint64_t start, cpu, n = 0, fails = 0;
	unsigned int k;

	cpu = thread_cpu_ns();
	start = h_now_ns();
	while (n < total && pace_ns > 0) {
		/* Event n is due pace_ns * n after the start. */
		while (h_now_ns() < start + (uint64_t)(pace_ns * (double)n))
			;
		fails += batch(t, 1);
		n++;
	}
	while (n < total) {
		k = total - n < H_BATCH ? (unsigned int)(total - n) : H_BATCH;
		fails += batch(t, k);
		n += k;
	}
	t->events = n;
	t->failures = fails;
	t->elapsed_ns = (double)(h_now_ns() - start);
	t->cpu_ns = (double)(thread_cpu_ns() - cpu);
}

static void *thread_main(void *p)
{
	struct h_slot *s = p;
	struct h_shared *sh = s->sh;
	const struct h_opts *o = sh->o;
	struct h_thread *t = s->t;
	uint64_t share;

	h_pin(t->cpu);
	if (sh->init)
		t->err = sh->init(t);
	if (!t->err && !o->events && o->warmup > 0)
		timed_loop(t, sh->batch, o->warmup, false);
	pthread_barrier_wait(&sh->bar);
	if (!t->err) {
		if (o->events) {
			share = o->events / (uint64_t)o->threads;
			if (t->idx == o->threads - 1)
				share += o->events % (uint64_t)o->threads;
			counted_loop(t, sh->batch, share, o->pace_ns);
		} else {
			timed_loop(t, sh->batch, o->seconds, true);
		}
	}
	pthread_barrier_wait(&sh->bar);
	return NULL;
}

int h_run(const struct h_opts *o, struct h_thread *th, h_init_fn init,
	  h_batch_fn batch, void *arg)
{
	struct h_shared sh = { .o = o, .init = init, .batch = batch };
	struct h_slot *slots;
	pthread_t *tids;
	int i, ret, failed = 0;

	slots = calloc((size_t)o->threads, sizeof(*slots));
	tids = calloc((size_t)o->threads, sizeof(*tids));
	if (!slots || !tids) {
		fprintf(stderr, "harness: out of memory\n");
		exit(1);
	}
	pthread_barrier_init(&sh.bar, NULL, (unsigned int)o->threads);
	for (i = 0; i < o->threads; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].idx = i;
		th[i].cpu = o->cpus[i];
		th[i].arg = arg;
		slots[i].sh = &sh;
		slots[i].t = &th[i];
		ret = pthread_create(&tids[i], NULL, thread_main, &slots[i]);
		if (ret) {
			fprintf(stderr, "harness: pthread_create: %s\n",
				strerror(ret));
			exit(1);
		}
	}
	for (i = 0; i < o->threads; i++) {
		pthread_join(tids[i], NULL);
		failed |= th[i].err != 0;
	}
	pthread_barrier_destroy(&sh.bar);
	free(slots);
	free(tids);
	return failed ? -1 : 0;
}

double h_ns_per_event(const struct h_opts *o, const struct h_thread *th)
{
	double sum = 0;
	int i;

	for (i = 0; i < o->threads; i++)
		if (th[i].events)
			sum += th[i].elapsed_ns / (double)th[i].events;
	return sum / o->threads;
}

double h_rate(const struct h_opts *o, const struct h_thread *th)
{
	double sum = 0;
	int i;

	for (i = 0; i < o->threads; i++)
		if (th[i].elapsed_ns > 0)
			sum += (double)th[i].events * 1e9 / th[i].elapsed_ns;
	return sum;
}

/* ---- the result line ---- */

static bool json_first;

void h_json_begin(void)
{
	json_first = true;
	fputc('{', stdout);
}

static void json_key(const char *key)
{
	printf("%s\"%s\": ", json_first ? "" : ", ", key);
	json_first = false;
}

void h_json_num(const char *key, double v)
{
	json_key(key);
	printf("%.4f", v);
}

void h_json_u64(const char *key, uint64_t v)
{
	json_key(key);
	printf("%llu", (unsigned long long)v);
}

void h_json_str(const char *key, const char *v)
{
	json_key(key);
	putchar('"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar((unsigned char)*v >= 0x20 ? *v : ' ');
	}
	putchar('"');
}

void h_json_bool(const char *key, bool v)
{
	json_key(key);
	fputs(v ? "true" : "false", stdout);
}

void h_json_common(const struct h_opts *o, const struct h_thread *th)
{
	uint64_t events = 0, failures = 0;
	double elapsed = 0, cpu = 0;
	int i;

	for (i = 0; i < o->threads; i++) {
		events += th[i].events;
		failures += th[i].failures;
		if (th[i].elapsed_ns > elapsed)
			elapsed = th[i].elapsed_ns;
	}
	h_json_num("ns", h_ns_per_event(o, th));
	for (i = 0; i < o->threads; i++)
		if (th[i].events)
			cpu += th[i].cpu_ns / (double)th[i].events;
	h_json_num("cpu_ns", cpu / o->threads);
	h_json_num("rate", h_rate(o, th));
	h_json_u64("events", events);
	h_json_u64("failures", failures);
	h_json_num("elapsed_s", elapsed / 1e9);
	h_json_u64("threads", (uint64_t)o->threads);
}

void h_json_end(void)
{
	fputs("}\n", stdout);
	fflush(stdout);
}

/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/mmf_writer.h - the writer side's channel state
 * (backend.c, syncer.c).
 */
#ifndef RBF_MMF_WRITER_H
#define RBF_MMF_WRITER_H

#include <pthread.h>
#include <stdbool.h>

#include <rbf/backend.h>

#include "mmf.h"

struct mmf_chan {
	int fd;
	bool created; /* we created the file (unlink it on failure) */
	char *map; /* the whole file, MAP_SHARED */
	struct rbf_file_header *hdr;
	struct rbf_file_slot *slots;
	uint64_t file_size;
	uint64_t table_off;
	uint64_t region_off;
	uint64_t region_size;
	uint64_t ctl_size; /* page aligned */
	uint32_t max_buffers;
	enum rbf_durability durability;
	struct rbf_backend_chan chan;
	struct mmf_drain *drain; /* drain.c, in-process reader */
	/* RBF_DURABLE_SUBBUF: syncer.c */
	uint64_t *synced; /* per slot: sequences below this are on disk */
	pthread_t syncer;
	bool syncer_running;
	int syncer_stop;
};

RBF_MMF_HIDDEN int rbf_mmf_msync(struct mmf_chan *m, uint64_t off,
				 uint64_t len);
RBF_MMF_HIDDEN int rbf_mmf_syncer_start(struct mmf_chan *m);
RBF_MMF_HIDDEN void rbf_mmf_syncer_stop(struct mmf_chan *m);

#endif /* RBF_MMF_WRITER_H */

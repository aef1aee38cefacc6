/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/crc32c.c - CRC-32C (Castagnoli), bytewise with a
 * table built on first use.  Only file headers are checksummed, so speed
 * does not matter here.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mmf.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
}

uint32_t rbf_crc32c(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;

	pthread_once(&table_once, table_init);
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

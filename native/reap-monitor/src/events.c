#define _GNU_SOURCE
#include "events.h"
#include "monitor.h"
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/*
 * The monitor's voice: one JSON object per line on stdout, read by the worker (src/reap/monitor.ts),
 * and the clock its timings use. Its own file so the fault loop, the working set and the file-page
 * readahead depend on it instead of on main.c, which depends on them.
 */

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void emit(const char *fmt, ...)
{
	va_list ap;
	/* the fetch thread reports too: keep each event one whole line */
	flockfile(stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
}

void emit_stats(const struct monitor *m, const char *event)
{
	const struct stats *s = &m->st;
	emit("{\"event\":\"%s\",\"wsPages\":%llu,\"prefetched\":%llu,\"onDemand\":%llu,\"zeroPages\":%llu,"
	     "\"faults\":%llu,\"bytesRead\":%llu,\"fetchUs\":%llu,\"installUs\":%llu,\"wsInstalled\":%s,"
	     "\"fileRanges\":%llu,\"fileBytes\":%llu,\"fileUs\":%llu,\"readUs\":%llu,\"spaces\":%llu,\"spacesGone\":%llu}",
	     event, (unsigned long long)s->ws_pages, (unsigned long long)s->prefetched, (unsigned long long)s->on_demand,
	     (unsigned long long)s->zero_pages, (unsigned long long)s->faults, (unsigned long long)s->bytes_read,
	     (unsigned long long)s->fetch_us, (unsigned long long)s->install_us, m->ws_installed ? "true" : "false",
	     (unsigned long long)s->file_ranges, (unsigned long long)s->file_bytes, (unsigned long long)s->file_us,
	     (unsigned long long)s->read_us, (unsigned long long)s->spaces, (unsigned long long)s->spaces_gone);
}

#define _GNU_SOURCE
#include "fault_log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* See fault_log.h. A debug aid, never on the fault path's cost when off: one pointer test. */
static FILE *log_file;

void fault_log_open(const char *mode, const char *images_dir)
{
	const char *dir = getenv("HIVELAB_REAP_FAULT_LOG");
	char path[4096];

	if (!dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/reap-faults.%d.log", dir, (int)getpid());
	log_file = fopen(path, "we");
	if (log_file)
		fault_log("start mode=%s images=%s", mode, images_dir);
	else /* asked for and not there: say so where the worker's own log goes, and serve on */
		fprintf(stderr, "reap-monitor: cannot write the fault log %s: %s\n", path, strerror(errno));
}

int fault_log_on(void)
{
	return log_file != NULL;
}

void fault_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (!log_file)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* one whole line per call, whichever thread calls */
	flockfile(log_file);
	fprintf(log_file, "%llu.%03ld ", (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull, (ts.tv_nsec / 1000) % 1000);
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
	fflush(log_file);
	funlockfile(log_file);
}

#define _GNU_SOURCE
#include "monitor.h"
#include "events.h"
#include "fault_log.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * reap-monitor --socket PATH --page-map FILE --images DIR --mode lazy|record|prefetch
 *              [--trace FILE --ws FILE] [--file-pages FILE]
 * Commands on stdin, one per line: `stats`, `record-done`, `watch <host pid>`, `exit`.
 * Events on stdout, one JSON object per line. Exits when told, when stdin closes (the worker died)
 * or when the watched instance exits. Debugging: HIVELAB_REAP_FAULT_LOG=<folder> (fault_log.h).
 */

static void usage(const char *why)
{
	emit("{\"event\":\"error\",\"message\":\"%s\"}", why);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct monitor m;
	const char *mode = NULL;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--socket"))
			m.socket_path = v;
		else if (!strcmp(k, "--page-map"))
			m.page_map_path = v;
		else if (!strcmp(k, "--images"))
			m.images_dir = v;
		else if (!strcmp(k, "--mode"))
			mode = v;
		else if (!strcmp(k, "--trace"))
			m.trace_path = v;
		else if (!strcmp(k, "--ws"))
			m.ws_path = v;
		else if (!strcmp(k, "--file-pages"))
			m.file_pages_path = v;
		else
			usage("unknown option");
	}
	if (!m.socket_path || !m.page_map_path || !m.images_dir || !mode)
		usage("--socket, --page-map, --images and --mode are required");
	if (!strcmp(mode, "lazy"))
		m.mode = MODE_LAZY;
	else if (!strcmp(mode, "record"))
		m.mode = MODE_RECORD;
	else if (!strcmp(mode, "prefetch"))
		m.mode = MODE_PREFETCH;
	else
		usage("--mode must be lazy, record or prefetch");
	if (m.mode != MODE_LAZY && (!m.trace_path || !m.ws_path))
		usage("record and prefetch need --trace and --ws");
	if (page_map_load(&m))
		usage("cannot load the page-map index (HLPGMAP2) or open its tasks' pages images");
	fault_log_open(mode, m.images_dir);
	return monitor_run(&m);
}

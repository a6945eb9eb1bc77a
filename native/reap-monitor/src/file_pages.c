#define _GNU_SOURCE
#include "monitor.h"
#include "events.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * File-backed pages the record phase saw the instance touch (src/reap/file-pages.ts writes the list:
 * `offset<TAB>length<TAB>path` per line). readahead(2) queues the reads and returns: the disk works
 * while CRIU restores, and the instance's file faults then hit the page cache.
 */
void file_pages_readahead(struct monitor *m)
{
	uint64_t t0 = now_us();
	FILE *f = fopen(m->file_pages_path, "r");
	char line[4352], last[4096] = "";
	int fd = -1;

	if (!f) {
		emit("{\"event\":\"error\",\"message\":\"cannot open the file-pages list\"}");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off, len;
		int n = 0;
		if (sscanf(line, "%llu\t%llu\t%n", &off, &len, &n) != 2 || n == 0)
			continue;
		char *path = line + n;
		path[strcspn(path, "\n")] = 0;
		if (strcmp(path, last)) {
			if (fd >= 0)
				close(fd);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			snprintf(last, sizeof(last), "%s", path);
		}
		if (fd < 0)
			continue; /* the file is gone or changed: its pages simply fault as usual */
		if (readahead(fd, (off64_t)off, (size_t)len) == 0) {
			m->st.file_ranges++;
			m->st.file_bytes += len;
		}
	}
	if (fd >= 0)
		close(fd);
	fclose(f);
	m->st.file_us = now_us() - t0;
}

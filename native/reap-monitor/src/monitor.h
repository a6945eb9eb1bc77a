/*
 * The REAP monitor: a lazy-pages daemon for one restoring instance (thesis ch. 5).
 * CRIU's `restore --lazy-pages` connects to our socket and hands over the instance's userfaultfd;
 * we serve its page faults from the snapshot's pages image (lazy), record them (record phase), or
 * install the recorded working set in one go before the instance runs (prefetch phase).
 */
#ifndef REAP_MONITOR_H
#define REAP_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_SZ 4096UL
#define NO_DATA UINT64_MAX /* page-map offset meaning "no data in the image: a zero page" */

enum mode { MODE_LAZY, MODE_RECORD, MODE_PREFETCH };

/* One run of lazily restorable pages, from the page-map index the TypeScript side writes. */
struct run {
	uint64_t vaddr;
	uint64_t nr_pages;
	uint64_t pages_off; /* offset of the first page in the pages image, or NO_DATA */
};

struct page_map {
	struct run *runs;
	size_t nr;
};

/* mremap() moved a range after the snapshot: faults in [to, to+len) are pages from `from`. */
struct remap {
	uint64_t from, to, len;
};

struct stats {
	uint64_t ws_pages, prefetched, on_demand, zero_pages, bytes_read;
	uint64_t fetch_us, install_us;
	/* the O_DIRECT read alone (fetch_us adds the trace, the buffer and the checksum) */
	uint64_t read_us;
	uint64_t faults;
	uint64_t file_ranges, file_bytes, file_us;
};

/* A recorded page: its address and where its contents are in the pages image. */
struct trace_entry {
	uint64_t vaddr;
	uint64_t pages_off;
};

struct monitor {
	enum mode mode;
	const char *socket_path, *page_map_path, *pages_path, *trace_path, *ws_path, *file_pages_path;
	struct page_map map;
	int pages_fd;
	struct stats st;
	/* record phase */
	struct trace_entry *trace;
	size_t trace_nr, trace_cap;
	/* prefetch phase: the working set read before the instance runs */
	uint8_t *ws_buf;
	struct trace_entry *ws_pages; /* sorted by address, unique; ws_buf holds them back to back */
	size_t ws_nr;
	int ws_ok;            /* read and checksum verified */
	int ws_installed;
	struct remap *remaps;
	size_t remaps_nr;
	/* reads pending non-cooperative events off a uffd (a copy answered EAGAIN); set by the fault loop */
	void (*drain)(void *ctx, int uffd);
	void *drain_ctx;
};

/* checksum.c */
uint64_t ws_checksum(const void *buf, size_t len);

/* page_map.c */
int page_map_load(const char *path, struct page_map *map);
/* Offset of the page at `addr` in the pages image; NO_DATA for a zero page; 0 return = found in map. */
int page_map_lookup(const struct page_map *map, uint64_t addr, uint64_t *pages_off);

/* working_set.c */
int trace_record(struct monitor *m, uint64_t vaddr, uint64_t pages_off);
int working_set_write(struct monitor *m, char *err, size_t errlen);
int working_set_read(struct monitor *m, char *err, size_t errlen);
int working_set_install(struct monitor *m, int uffd, char *err, size_t errlen);

/* file_pages.c */
void file_pages_readahead(struct monitor *m);

/* fault_loop.c */
int monitor_run(struct monitor *m);

#endif

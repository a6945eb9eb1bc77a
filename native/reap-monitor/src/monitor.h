/*
 * The REAP monitor: a lazy-pages daemon for one restoring instance (thesis ch. 5).
 * CRIU's `restore --lazy-pages` connects to our socket and hands over one userfaultfd per restored
 * task (an instance may be a process tree: the port bridge and its program); we serve each task's
 * page faults from that task's own pages image (lazy), record them with the task's PID (record
 * phase), or install each task's recorded working set in one go before the instance runs (prefetch).
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

/* One dumped task: its PID in the dump (what CRIU's handshake names it by) and its own pages. */
struct task {
	int32_t pid;
	uint64_t pages_id; /* its pages-N.img */
	struct page_map map;
	int pages_fd;
};

/* mremap() moved a range after the snapshot: faults in [to, to+len) are pages from `from`. */
struct remap {
	uint64_t from, to, len;
};

/*
 * One userfaultfd, i.e. one address space: a restored task's (sent by CRIU), or that of a child one
 * forked after the restore (UFFD_EVENT_FORK), which is served from its parent's task and starts
 * with its parent's remaps (fork copies the layout).
 */
struct space {
	int uffd;
	struct task *task;
	struct remap *remaps;
	size_t remaps_nr;
	int forked;
};

struct stats {
	uint64_t ws_pages, prefetched, on_demand, zero_pages, bytes_read;
	uint64_t fetch_us, install_us;
	/* the O_DIRECT read alone (fetch_us adds the trace, the buffer and the checksum) */
	uint64_t read_us;
	uint64_t faults;
	uint64_t file_ranges, file_bytes, file_us;
	/* userfaultfds served now (one per live address space), and those dropped as their task exited */
	uint64_t spaces, spaces_gone;
};

/* A recorded page: its task, its address and where its contents are in that task's pages image. */
struct trace_entry {
	uint64_t vaddr;
	uint64_t pages_off;
	uint64_t pid;
};

struct monitor {
	enum mode mode;
	const char *socket_path, *page_map_path, *images_dir, *trace_path, *ws_path, *file_pages_path;
	struct task *tasks;
	size_t nr_tasks;
	struct stats st;
	/* record phase */
	struct trace_entry *trace;
	size_t trace_nr, trace_cap;
	/* prefetch phase: the working set read before the instance runs */
	uint8_t *ws_buf;
	struct trace_entry *ws_pages; /* sorted by task, then address, unique; ws_buf holds them back to back */
	size_t ws_nr;
	int ws_ok;            /* read and checksum verified */
	int ws_installed;
	/* reads pending non-cooperative events off a uffd (a copy answered EAGAIN); set by the fault loop */
	void (*drain)(void *ctx, int uffd);
	void *drain_ctx;
};

/* checksum.c */
uint64_t ws_checksum(const void *buf, size_t len);

/* page_map.c */
/* Loads the index (every task's runs) and opens each task's pages image in `images_dir`. */
int page_map_load(struct monitor *m);
/* The task CRIU names by `pid`; NULL when the dump has no pages for it. */
struct task *task_by_pid(struct monitor *m, int64_t pid);
/* Offset of the page at `addr` in the pages image; NO_DATA for a zero page; 0 return = found in map. */
int page_map_lookup(const struct page_map *map, uint64_t addr, uint64_t *pages_off);

/* working_set.c */
int trace_record(struct monitor *m, int32_t pid, uint64_t vaddr, uint64_t pages_off);
int working_set_write(struct monitor *m, char *err, size_t errlen);
int working_set_read(struct monitor *m, char *err, size_t errlen);
/* Installs the working set's pages of the space's task; the last call frees the buffer. */
int working_set_install(struct monitor *m, struct space *sp, char *err, size_t errlen);
void working_set_release(struct monitor *m);
/* Is the task's page at image address `vaddr` in the working set read for prefetch (the fault log's question)? */
int working_set_has(const struct monitor *m, int32_t pid, uint64_t vaddr);

/* file_pages.c */
void file_pages_readahead(struct monitor *m);

/* fault_loop.c */
int monitor_run(struct monitor *m);

#endif

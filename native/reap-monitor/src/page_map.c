#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

#define MAX_TASKS 4096

/*
 * The index written by src/snapshot/images.ts (writePageMapIndex): "HLPGMAP2", u64 tasks; per task
 * u64 PID, u64 N of pages-N.img, u64 runs, then runs x 3 u64. Any other magic (an older snapshot's
 * single-task "HLPGMAP1") is refused: its instance would be served the wrong task's pages.
 */
int page_map_load(struct monitor *m)
{
	FILE *f = fopen(m->page_map_path, "rb");
	char magic[8];
	uint64_t nt;
	int ret = -EINVAL;

	if (!f)
		return -errno;
	if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "HLPGMAP2", 8) || fread(&nt, 8, 1, f) != 1 || nt == 0 || nt > MAX_TASKS)
		goto out;
	m->tasks = calloc(nt, sizeof(struct task));
	if (!m->tasks)
		goto out;
	for (uint64_t i = 0; i < nt; i++) {
		struct task *t = &m->tasks[i];
		uint64_t h[3];
		char path[4096];
		if (fread(h, 8, 3, f) != 3 || h[0] > INT32_MAX || h[2] > (1u << 26))
			goto out;
		t->pid = (int32_t)h[0];
		t->pages_id = h[1];
		t->pages_fd = -1;
		t->map.runs = calloc(h[2] ? h[2] : 1, sizeof(struct run));
		if (!t->map.runs || fread(t->map.runs, sizeof(struct run), h[2], f) != h[2])
			goto out;
		t->map.nr = h[2];
		qsort(t->map.runs, t->map.nr, sizeof(struct run), cmp_run);
		snprintf(path, sizeof(path), "%s/pages-%llu.img", m->images_dir, (unsigned long long)t->pages_id);
		t->pages_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (t->pages_fd < 0) {
			ret = -errno;
			goto out;
		}
		m->nr_tasks = i + 1;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

struct task *task_by_pid(struct monitor *m, int64_t pid)
{
	for (size_t i = 0; i < m->nr_tasks; i++)
		if (m->tasks[i].pid == pid)
			return &m->tasks[i];
	return NULL;
}

int page_map_lookup(const struct page_map *map, uint64_t addr, uint64_t *pages_off)
{
	size_t lo = 0, hi = map->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct run *r = &map->runs[mid];
		if (addr < r->vaddr)
			hi = mid;
		else if (addr >= r->vaddr + r->nr_pages * PAGE_SZ)
			lo = mid + 1;
		else {
			*pages_off = r->pages_off == NO_DATA ? NO_DATA : r->pages_off + (addr - r->vaddr);
			return 0;
		}
	}
	*pages_off = NO_DATA; /* lazy area the dump found untouched: a zero page */
	return -1;
}

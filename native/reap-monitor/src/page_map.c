#include "monitor.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* The index written by src/snapshot/images.ts (writePageMapIndex): "HLPGMAP1", u64 n, n x 3 u64. */
int page_map_load(const char *path, struct page_map *map)
{
	FILE *f = fopen(path, "rb");
	char magic[8];
	uint64_t n;

	if (!f)
		return -errno;
	if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "HLPGMAP1", 8) || fread(&n, 8, 1, f) != 1 || n > (1u << 26)) {
		fclose(f);
		return -EINVAL;
	}
	map->runs = calloc(n ? n : 1, sizeof(struct run));
	if (!map->runs || fread(map->runs, sizeof(struct run), n, f) != n) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	map->nr = n;
	qsort(map->runs, n, sizeof(struct run), cmp_run);
	return 0;
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

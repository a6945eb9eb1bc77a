#include "monitor.h"
#include <string.h>

/*
 * FNV-1a over 64-bit words in four independent lanes: fast enough to check a working-set file on
 * every prefetch (the multiply chains overlap), and any flipped byte changes the result. Not a
 * cryptographic hash: it guards against corruption, not against an attacker who can write the store.
 */
uint64_t ws_checksum(const void *buf, size_t len)
{
	const uint64_t prime = 0x100000001b3ULL;
	uint64_t h[4] = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 0x9ce484222325cbf2ULL, 0x2325cbf29ce48422ULL };
	const uint8_t *p = buf;
	size_t i = 0;

	for (; i + 32 <= len; i += 32) {
		uint64_t w[4];
		memcpy(w, p + i, 32);
		for (int l = 0; l < 4; l++)
			h[l] = (h[l] ^ w[l]) * prime;
	}
	for (; i < len; i++)
		h[0] = (h[0] ^ p[i]) * prime;
	uint64_t out = len;
	for (int l = 0; l < 4; l++)
		out = (out ^ h[l]) * prime;
	return out;
}

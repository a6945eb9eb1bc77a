/* events.c: one JSON line per event on stdout (the worker reads them), and the monotonic clock. */
#ifndef REAP_MONITOR_EVENTS_H
#define REAP_MONITOR_EVENTS_H

#include <stdint.h>

struct monitor;

void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void emit_stats(const struct monitor *m, const char *event);
uint64_t now_us(void);

#endif

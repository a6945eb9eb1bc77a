/*
 * fault_log.c: the monitor's debug trace, off unless HIVELAB_REAP_FAULT_LOG names a folder. Then
 * each monitor writes <folder>/reap-faults.<its pid>.log: one line per page served on demand (with
 * the faulting and the image address, so a fault can be matched to the snapshot's VMAs) and per
 * thing that explains them (remaps, forks, the restore-finished marker, the install, the worker's
 * commands). Times are CLOCK_REALTIME milliseconds, comparable with the worker's own logs.
 */
#ifndef REAP_MONITOR_FAULT_LOG_H
#define REAP_MONITOR_FAULT_LOG_H

#include <stdint.h>

/* Opens the log when the switch is set; a no-op otherwise (and every later call is one too). */
void fault_log_open(const char *mode, const char *images_dir);
int fault_log_on(void);
void fault_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

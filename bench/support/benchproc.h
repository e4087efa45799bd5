/*
 * benchproc.h - what benchmarks share: finding and starting the emulator on a
 * free loopback port, and reading a process's CPU time.
 */
#ifndef GCS_BENCH_BENCHPROC_H
#define GCS_BENCH_BENCHPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* $GCSCIM_EMULATOR, else gcscim-emulator in the build directory above this program. */
const char *gcs_bench_emulator_path(void);
/* Starts the emulator with `args` (NULL-terminated, after --listen and --ready-file),
 * its output in dir/emulator.log; waits until it listens. -1 on failure. */
pid_t gcs_bench_emulator_start(const char *dir, const char *const *args, char *api_url,
                               size_t api_sz);
void gcs_bench_emulator_stop(pid_t pid);
/* User + system CPU time of a process (pid 0: this one), in microseconds. */
int64_t gcs_bench_cpu_us(pid_t pid);

#endif

/*
 * time.h - clocks. Monotonic milliseconds for deadlines and pacing (never goes
 * back), wall-clock milliseconds for what people and receipts read.
 */
#ifndef GCS_CORE_TIME_H
#define GCS_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t gcs_time_mono_ms(void);
int64_t gcs_time_mono_us(void);
int64_t gcs_time_wall_ms(void);
/* "2026-11-22T06:30:00.123Z" (UTC). */
void gcs_time_format_iso8601(char *out, size_t outsz, int64_t wall_ms);
/* Sleeps for ms milliseconds, resuming after signals. */
void gcs_time_sleep_ms(int64_t ms);

#endif

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
/* "2026-11-22", "2026-11-22T06:30[:00[.123]][Z|+02:00]" (a space may stand for
 * the T; UTC when no zone) to wall-clock milliseconds. GCS_EUSAGE naming the
 * text otherwise (it comes from a person: a flag or a request's query). */
int gcs_time_parse_iso8601(int64_t *out, const char *text);
/* Sleeps for ms milliseconds, resuming after signals. */
void gcs_time_sleep_ms(int64_t ms);

#endif

#include "cli/progress.h"
#include "core/time.h"

#include <string.h>
#include <unistd.h>

void gcs_progress_init(gcs_progress *p, FILE *out, long total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out)) == 1;
    p->total = total;
    p->started_ms = gcs_time_mono_ms();
}

static void draw(gcs_progress *p)
{
    double elapsed = (double)(gcs_time_mono_ms() - p->started_ms) / 1000.0;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    long left = p->total - p->done;
    long eta = rate > 0 ? (long)((double)left / rate) : 0;
    int width = 24;
    int filled = p->total > 0 ? (int)((double)width * (double)p->done / (double)p->total) : width;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(p->out, "\r[%s] %ld/%ld  %.1f/s  %ld:%02ld left  %ld errors\033[K", bar, p->done,
            p->total, rate, eta / 60, eta % 60, p->errors);
    fflush(p->out);
    p->drawn = true;
    p->drawn_ms = gcs_time_mono_ms();
}

void gcs_progress_update(gcs_progress *p, long done, long errors)
{
    p->done = done;
    p->errors = errors;
    if (p->tty && (gcs_time_mono_ms() - p->drawn_ms >= 100 || done == p->total))
        draw(p);
}

void gcs_progress_clear(gcs_progress *p)
{
    if (p->tty && p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
        p->drawn = false;
    }
}

void gcs_progress_finish(gcs_progress *p)
{
    if (p->tty) {
        draw(p);
        fputc('\n', p->out);
        fflush(p->out);
    }
}

/* GET /_emulator/state as a stream: the organisation as it was when the
 * request was handled, written user by user while the client reads it.
 *
 * The head (roles, divisions, skills, languages, groups) is written at once,
 * under the lock of the request. The users are written later, a batch at a
 * time under the lock, from a copy of the creation order taken at the start.
 * What keeps the snapshot exact while other requests change users meanwhile:
 * before a user of the snapshot changes or goes (gcs_emu_user_replace,
 * gcs_emu_user_groups_set, gcs_emu_user_delete), its text as it was is kept
 * for every dump under way that has not written it yet, and the dump writes
 * that text in its place. Users created after the start are not in the copy.
 * So a dump costs the copy of the order (8 bytes a user), one batch, and the
 * texts of the users changed while it runs, never the whole answer.
 *
 * A reset (or anything that reloads the organisation) breaks the dumps under
 * way: their connections close before the end of the body, which a client
 * sees as a failed transfer, never as a state. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Written under the lock at a time: about 300 users. */
#define DUMP_BATCH ((size_t)256 * 1024)

struct emu_dump {
    gcs_emu *emu;
    struct emu_dump *next;  /* in emu->dumps */
    emu_user **users;       /* the creation order at the start, holes left out */
    size_t nusers, written; /* users[0..written) are written */
    uint64_t born_limit;    /* users born after it are not in the snapshot */
    emu_map before;         /* user address -> its text at the start (owned) */
    gcs_buf pending;        /* written, not yet read */
    size_t pending_at;
    bool broken, finished;
};

static void user_key(char out[32], const emu_user *u)
{
    snprintf(out, 32, "%p", (const void *)u);
}

static void before_release(emu_map *m)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (emu_map_entry *e = m->buckets[i]; e; e = e->next)
            free(e->value);
    gcs_emu_map_release(m);
}

void gcs_emu_dump_before_change(gcs_emu *emu, emu_user *u)
{
    for (emu_dump *d = emu->dumps; d; d = d->next) {
        char key[32];
        if (d->broken || d->written == d->nusers || u->born > d->born_limit)
            continue;
        user_key(key, u);
        if (gcs_emu_map_get(&d->before, key))
            continue;
        char *text = u->cached ? strdup(u->cached) : gcs_emu_json_text(u->doc);
        /* Without its text the snapshot cannot be kept: the dump fails rather
         * than show the user changed. */
        if (!text || gcs_emu_map_put(&d->before, key, text) < 0) {
            free(text);
            d->broken = true;
        }
    }
}

void gcs_emu_dumps_break(gcs_emu *emu)
{
    for (emu_dump *d = emu->dumps; d; d = d->next) {
        d->broken = true;
        free(d->users);
        d->users = NULL;
        d->nusers = d->written = 0;
        before_release(&d->before);
        gcs_emu_map_init(&d->before);
    }
}

/* The next batch of users into d->pending; the caller holds the lock. */
static int dump_fill(emu_dump *d)
{
    int rc = 0;
    while (rc == 0 && d->pending.len < DUMP_BATCH && d->written < d->nusers) {
        emu_user *u = d->users[d->written];
        char key[32];
        user_key(key, u);
        char *kept = gcs_emu_map_get(&d->before, key);
        if (d->written > 0)
            rc = gcs_buf_putc(&d->pending, ',');
        if (rc == 0 && kept)
            rc = gcs_buf_puts(&d->pending, kept);
        else if (rc == 0)
            rc = u->cached ? gcs_buf_puts(&d->pending, u->cached) : gcs_emu_json_dump(&d->pending, u->doc);
        if (kept) {
            gcs_emu_map_remove(&d->before, key);
            free(kept);
        }
        d->written++;
    }
    if (rc == 0 && d->written == d->nusers) {
        rc = gcs_buf_puts(&d->pending, "]}");
        d->finished = true;
        /* Nothing more to keep for this dump. */
        free(d->users);
        d->users = NULL;
    }
    return rc;
}

static long dump_read(void *cls, char *buf, size_t max)
{
    emu_dump *d = cls;
    if (d->pending_at == d->pending.len) {
        if (d->finished)
            return 0;
        gcs_buf_clear(&d->pending);
        d->pending_at = 0;
        pthread_mutex_lock(&d->emu->lock);
        int rc = d->broken ? -1 : dump_fill(d);
        pthread_mutex_unlock(&d->emu->lock);
        if (rc < 0 || d->pending.len == 0)
            return -1;
    }
    size_t n = d->pending.len - d->pending_at;
    if (n > max)
        n = max;
    memcpy(buf, d->pending.ptr + d->pending_at, n);
    d->pending_at += n;
    return (long)n;
}

static void dump_release(void *cls)
{
    emu_dump *d = cls;
    gcs_emu *emu = d->emu;
    pthread_mutex_lock(&emu->lock);
    for (emu_dump **p = &emu->dumps; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    pthread_mutex_unlock(&emu->lock);
    free(d->users);
    before_release(&d->before);
    gcs_buf_release(&d->pending);
    free(d);
}

int gcs_emu_dump_start(emu_req *r)
{
    gcs_emu *emu = r->emu;
    emu_org *o = &emu->org;
    int rc = 0;
    emu_dump *d = calloc(1, sizeof *d);
    if (!d)
        return GCS_ENOMEM;
    d->emu = emu;
    gcs_emu_map_init(&d->before);
    gcs_buf_init(&d->pending, EMU_STATE_MAX);
    if (o->nusers && !(d->users = malloc(o->nusers * sizeof *d->users))) {
        rc = GCS_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < o->order.nslots && d->nusers < o->nusers; i++)
        if (o->order.slots[i])
            d->users[d->nusers++] = o->order.slots[i];
    d->born_limit = emu->user_births;
    if ((rc = gcs_emu_org_write_head(emu, &d->pending)) < 0)
        goto fail;
    if (d->nusers == 0 && (rc = dump_fill(d)) < 0)
        goto fail;
    d->next = emu->dumps;
    emu->dumps = d;
    gcs_http_response_set(r->resp, 200, "application/json; charset=utf-8", NULL);
    gcs_http_response_stream(r->resp, dump_read, dump_release, d);
    return 0;
fail:
    free(d->users);
    gcs_buf_release(&d->pending);
    free(d);
    return rc;
}

#include "engine/current_user.h"
#include "core/error.h"
#include "core/scim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t gcs_urn_squeeze(char *text)
{
    /* A text holds a few URNs among hundreds of bytes: found by strstr, the
     * bytes between them moved in one go (none before the first). */
    const size_t n = sizeof GCS_URN_PREFIX - 1;
    char *r = strstr(text, GCS_URN_PREFIX);
    if (!r)
        return strlen(text);
    char *w = r;
    while (r) {
        *w++ = GCS_URN_MARK;
        r += n;
        char *next = strstr(r, GCS_URN_PREFIX);
        size_t run = next ? (size_t)(next - r) : strlen(r);
        memmove(w, r, run);
        w += run;
        r = next;
    }
    *w = '\0';
    return (size_t)(w - text);
}

const char *gcs_current_user_marker(const json_t *user, const char *marker)
{
    if (!marker)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(user, GCS_SCIM_GENESYS_USER), "externalIds"),
                       i, e) {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        if (authority && strcmp(authority, marker) == 0)
            return json_string_value(json_object_get(e, "value"));
    }
    return NULL;
}

static int put_member_text(const char *buffer, size_t size, void *data)
{
    return gcs_buf_put(data, buffer, size) < 0 ? -1 : 0;
}

/* The kept text of a whole user: each member but id, meta, schemas and
 * groups, in the tree's order, its value as jansson's compact dump writes it. */
static int text_of(gcs_buf *b, const json_t *user)
{
    int rc = gcs_buf_putc(b, '{');
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)user, key, v) {
        if (rc < 0)
            break;
        if (strcmp(key, "id") == 0 || strcmp(key, "meta") == 0 || strcmp(key, "schemas") == 0 ||
            strcmp(key, "groups") == 0)
            continue;
        if (!first)
            rc = gcs_buf_putc(b, ',');
        first = false;
        if (rc == 0)
            rc = gcs_buf_putc(b, '"');
        if (rc == 0)
            rc = gcs_buf_put_json_escaped(b, key);
        if (rc == 0)
            rc = gcs_buf_puts(b, "\":");
        if (rc == 0 &&
            json_dump_callback(v, put_member_text, b, JSON_COMPACT | JSON_ENCODE_ANY) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return rc == 0 ? gcs_buf_putc(b, '}') : rc;
}

/* What a record holds, however the user was read. `user` gives the text when
 * kept_text is NULL. */
typedef struct head {
    const char *id, *mark, *version, *manager;
    int active; /* gcs_managed_active */
} head;

static int assemble(gcs_current_user *u, gcs_buf *b, const head *h, const json_t *user,
                    const char *kept_text, size_t kept_len, gcs_row_spill *spill)
{
    u->active_as_read = (signed char)h->active;
    u->active = h->active == GCS_MANAGED_ACTIVE_ABSENT || h->active == 1;
    gcs_buf_clear(b);
    const char *id = h->id;
    int rc = gcs_buf_put(b, id ? id : "", strlen(id ? id : "") + 1);
    if (rc == 0 && h->mark) {
        u->marker_at = (uint32_t)b->len;
        rc = gcs_buf_put(b, h->mark, strlen(h->mark) + 1);
    }
    if (rc == 0 && h->version) {
        u->version_at = (uint32_t)b->len;
        rc = gcs_buf_put(b, h->version, strlen(h->version) + 1);
    }
    if (rc == 0 && h->manager && *h->manager) {
        u->manager_at = (uint32_t)b->len;
        rc = gcs_buf_put(b, h->manager, strlen(h->manager) + 1);
    }
    u->text_at = (uint32_t)b->len;
    if (rc == 0)
        rc = kept_text ? gcs_buf_put(b, kept_text, kept_len) : text_of(b, user);
    if (rc < 0)
        return rc == GCS_ENOMEM ? rc : gcs_error_prefix(rc, "user %s", id ? id : "?");
    size_t text_len = gcs_urn_squeeze(b->ptr + u->text_at);
    b->len = u->text_at + text_len;
    u->text_len = (uint32_t)text_len;
    u->has_id = id != NULL;
    size_t keep = b->len + 1;
    if (spill) {
        rc = gcs_row_spill_append(spill, b->ptr + u->text_at, text_len, &u->spilled_at);
        if (rc < 0)
            return rc;
        u->spilled = true;
        keep = u->text_at; /* the head, its last string's NUL included */
    }
    u->blob = malloc(keep ? keep : 1);
    if (!u->blob)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    memcpy(u->blob, b->ptr, keep);
    return 0;
}

int gcs_current_user_from_json(gcs_current_user *out, gcs_buf *scratch, gcs_digester *d,
                               const char *marker, const json_t *user, gcs_row_spill *spill)
{
    memset(out, 0, sizeof *out);
    head h = {
        json_string_value(json_object_get(user, "id")),
        gcs_current_user_marker(user, marker),
        json_string_value(json_object_get(json_object_get(user, "meta"), "version")),
        json_string_value(json_object_get(
            json_object_get(json_object_get(user, GCS_SCIM_ENTERPRISE_USER), "manager"), "value")),
        gcs_managed_active(user),
    };
    int rc = gcs_digester_user(d, user, false, &out->digest);
    if (rc < 0)
        return rc;
    out->has_digest = rc == 1;
    return assemble(out, scratch, &h, user, NULL, 0, spill);
}

int gcs_current_user_from_read(gcs_current_user *out, gcs_buf *scratch, gcs_digester *d,
                               const char *marker, const gcs_user_read *user,
                               gcs_row_spill *spill)
{
    memset(out, 0, sizeof *out);
    const gcs_user_fields *f = user->fields;
    head h = {f->str[GCS_USER_ID], NULL, f->str[GCS_USER_VERSION], f->str[GCS_USER_MANAGER],
              f->active};
    for (size_t i = 0; marker && i < f->list[GCS_USER_EXTERNALIDS].count; i++) {
        const gcs_user_entry *e = &f->list[GCS_USER_EXTERNALIDS].at[i];
        if (e->key && strcmp(e->key, marker) == 0) {
            h.mark = e->value;
            break;
        }
    }
    int rc = gcs_digester_fields(d, f, &out->digest);
    if (rc < 0)
        return rc;
    out->has_digest = rc == 1;
    return assemble(out, scratch, &h, NULL, user->kept, user->kept_len, spill);
}

const char *gcs_current_user_text(const gcs_current_user *u, gcs_row_spill *spill, gcs_buf *into)
{
    if (!u->spilled)
        return u->blob + u->text_at;
    gcs_buf_clear(into);
    char chunk[4096];
    for (size_t done = 0; done < u->text_len;) {
        size_t n = u->text_len - done < sizeof chunk ? u->text_len - done : sizeof chunk;
        if (gcs_row_spill_read(spill, u->spilled_at + done, n, chunk) < 0 ||
            gcs_buf_put(into, chunk, n) < 0)
            return NULL;
        done += n;
    }
    return into->ptr;
}

#include "engine/current_user.h"
#include "core/error.h"
#include "core/scim.h"

#include <stdlib.h>
#include <string.h>

size_t gcs_urn_squeeze(char *text)
{
    const size_t n = sizeof GCS_URN_PREFIX - 1;
    char *w = text;
    for (const char *r = text; *r;) {
        if (*r == 'u' && strncmp(r, GCS_URN_PREFIX, n) == 0) {
            *w++ = GCS_URN_MARK;
            r += n;
        } else {
            *w++ = *r++;
        }
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

/* `user` is the whole user or the values a planner looks at (user_page.h):
 * everything read here is in both. The text is kept_text, or made from user. */
static int build(gcs_current_user *u, gcs_buf *b, gcs_digester *d, const char *marker,
                 const json_t *user, const char *kept_text, size_t kept_len)
{
    memset(u, 0, sizeof *u);
    const char *id = json_string_value(json_object_get(user, "id"));
    const char *mark = gcs_current_user_marker(user, marker);
    const char *version =
        json_string_value(json_object_get(json_object_get(user, "meta"), "version"));
    const char *manager = json_string_value(json_object_get(
        json_object_get(json_object_get(user, GCS_SCIM_ENTERPRISE_USER), "manager"), "value"));
    int rc = gcs_digester_user(d, user, false, &u->digest);
    if (rc < 0)
        return rc;
    u->has_digest = rc == 1;
    u->active_as_read = (signed char)gcs_managed_active(user);
    const json_t *a = json_object_get(user, "active");
    u->active = !a || json_is_true(a);

    gcs_buf_clear(b);
    rc = gcs_buf_put(b, id ? id : "", strlen(id ? id : "") + 1);
    if (rc == 0 && mark) {
        u->marker_at = (uint32_t)b->len;
        rc = gcs_buf_put(b, mark, strlen(mark) + 1);
    }
    if (rc == 0 && version) {
        u->version_at = (uint32_t)b->len;
        rc = gcs_buf_put(b, version, strlen(version) + 1);
    }
    if (rc == 0 && manager && *manager) {
        u->manager_at = (uint32_t)b->len;
        rc = gcs_buf_put(b, manager, strlen(manager) + 1);
    }
    u->text_at = (uint32_t)b->len;
    if (rc == 0)
        rc = kept_text ? gcs_buf_put(b, kept_text, kept_len) : text_of(b, user);
    if (rc < 0)
        return rc == GCS_ENOMEM ? rc : gcs_error_prefix(rc, "user %s", id ? id : "?");
    b->len = u->text_at + gcs_urn_squeeze(b->ptr + u->text_at);
    u->has_id = id != NULL;
    u->blob = malloc(b->len + 1);
    if (!u->blob)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    memcpy(u->blob, b->ptr, b->len + 1);
    return 0;
}

int gcs_current_user_from_json(gcs_current_user *out, gcs_buf *scratch, gcs_digester *d,
                               const char *marker, const json_t *user)
{
    return build(out, scratch, d, marker, user, NULL, 0);
}

int gcs_current_user_from_read(gcs_current_user *out, gcs_buf *scratch, gcs_digester *d,
                               const char *marker, const gcs_user_read *user)
{
    return build(out, scratch, d, marker, user->members, user->kept, user->kept_len);
}

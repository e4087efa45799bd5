/* SCIM discovery: /serviceproviderconfig, /resourcetypes[/{type}] and
 * /schemas[/{id}], enough for an SDK or identity provider to find its way. */
#include "emulator/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SPC_SCHEMA GCS_SCIM_SERVICE_PROVIDER_CONFIG
#define RT_SCHEMA GCS_SCIM_RESOURCE_TYPE
#define SCHEMA_SCHEMA GCS_SCIM_SCHEMA

static json_t *attr(const char *name, const char *type, bool multi, const char *mutability)
{
    return json_pack("{s:s,s:s,s:b,s:b,s:s,s:s,s:b}", "name", name, "type", type, "multiValued",
                     multi, "required", strcmp(name, "userName") == 0 || strcmp(name, "displayName") == 0,
                     "mutability", mutability, "returned",
                     strcmp(name, "password") == 0 ? "never" : "default", "caseExact", false);
}

static json_t *schema(const char *id)
{
    json_t *attrs = json_array();
    const char *name = NULL;
    if (strcasecmp(id, SCIM_USER_SCHEMA) == 0) {
        name = "User";
        static const char *const a[][3] = {
            {"userName", "string", "readWrite"}, {"displayName", "string", "readWrite"},
            {"active", "boolean", "readWrite"}, {"password", "string", "writeOnly"},
            {"title", "string", "readWrite"}, {"externalId", "string", "readWrite"},
            {"emails", "complex", "readWrite"}, {"phoneNumbers", "complex", "readWrite"},
            {"roles", "complex", "readWrite"}, {"groups", "complex", "readOnly"}};
        for (size_t i = 0; i < sizeof a / sizeof *a; i++)
            json_array_append_new(attrs, attr(a[i][0], a[i][1],
                                              strcmp(a[i][1], "complex") == 0, a[i][2]));
    } else if (strcasecmp(id, SCIM_ENTERPRISE) == 0) {
        name = "EnterpriseUser";
        static const char *const a[] = {"division", "department", "employeeNumber", "dateHire"};
        for (size_t i = 0; i < sizeof a / sizeof *a; i++)
            json_array_append_new(attrs, attr(a[i], "string", false, "readWrite"));
        json_array_append_new(attrs, attr("manager", "complex", false, "readWrite"));
    } else if (strcasecmp(id, SCIM_GENESYS) == 0) {
        name = "GenesysUser";
        static const char *const a[] = {"routingSkills", "routingLanguages", "externalIds"};
        for (size_t i = 0; i < sizeof a / sizeof *a; i++)
            json_array_append_new(attrs, attr(a[i], "complex", true, "readWrite"));
    } else if (strcasecmp(id, SCIM_GROUP_SCHEMA) == 0) {
        name = "Group";
        json_array_append_new(attrs, attr("displayName", "string", false, "readOnly"));
        json_array_append_new(attrs, attr("members", "complex", true, "readWrite"));
    }
    if (!name) {
        json_decref(attrs);
        return NULL;
    }
    return json_pack("{s:[s],s:s,s:s,s:o}", "schemas", SCHEMA_SCHEMA, "id", id, "name", name,
                     "attributes", attrs);
}

static json_t *resource_type(const char *name)
{
    if (strcasecmp(name, "User") == 0)
        return json_pack("{s:[s],s:s,s:s,s:s,s:s,s:[{s:s,s:b},{s:s,s:b}]}", "schemas", RT_SCHEMA,
                         "id", "User", "name", "User", "endpoint", "/Users", "schema",
                         SCIM_USER_SCHEMA, "schemaExtensions", "schema", SCIM_ENTERPRISE,
                         "required", 0, "schema", SCIM_GENESYS, "required", 0);
    if (strcasecmp(name, "Group") == 0)
        return json_pack("{s:[s],s:s,s:s,s:s,s:s}", "schemas", RT_SCHEMA, "id", "Group", "name",
                         "Group", "endpoint", "/Groups", "schema", SCIM_GROUP_SCHEMA);
    return NULL;
}

static void send_list(emu_req *r, json_t *items)
{
    gcs_emu_send_json(r, 200,
                      json_pack("{s:[s],s:I,s:i,s:I,s:o}", "schemas", SCIM_LIST_SCHEMA,
                                "totalResults", (json_int_t)json_array_size(items), "startIndex", 1,
                                "itemsPerPage", (json_int_t)json_array_size(items), "Resources",
                                items));
}

static bool word(const char *s, const char *w, const char **tail)
{
    size_t n = strlen(w);
    if (strncasecmp(s, w, n) != 0 || (s[n] && s[n] != '/'))
        return false;
    *tail = s[n] == '/' ? s + n + 1 : s + n;
    return true;
}

void gcs_emu_scim_meta(emu_req *r, const char *rest)
{
    const char *tail;
    r->route = "/api/v2/scim/(discovery)";
    if (strcmp(r->http->method, "GET") != 0) {
        gcs_emu_scim_error(r, 405, NULL, "discovery endpoints are read-only");
    } else if (word(rest, "serviceproviderconfig", &tail) && !*tail) {
        gcs_emu_send_json(
            r, 200,
            json_pack("{s:[s],s:{s:b},s:{s:b,s:i,s:i},s:{s:b,s:i},s:{s:b},s:{s:b},s:{s:b},"
                      "s:[{s:s,s:s,s:s}]}",
                      "schemas", SPC_SCHEMA, "patch", "supported", 1, "bulk", "supported", 0,
                      "maxOperations", 0, "maxPayloadSize", 512000, "filter", "supported", 1,
                      "maxResults", EMU_MAX_PAGE, "changePassword", "supported", 0, "sort",
                      "supported", 0, "etag", "supported", 1, "authenticationSchemes", "type",
                      "oauthbearertoken", "name", "OAuth Bearer Token", "description",
                      "OAuth 2.0 client credentials"));
    } else if (word(rest, "resourcetypes", &tail)) {
        if (!*tail) {
            send_list(r, json_pack("[oo]", resource_type("User"), resource_type("Group")));
        } else {
            json_t *t = resource_type(tail);
            if (t)
                gcs_emu_send_json(r, 200, t);
            else
                gcs_emu_scim_error(r, 404, NULL, "no resource type %.64s", tail);
        }
    } else if (word(rest, "schemas", &tail)) {
        if (!*tail) {
            send_list(r, json_pack("[oooo]", schema(SCIM_USER_SCHEMA), schema(SCIM_ENTERPRISE),
                                   schema(SCIM_GENESYS), schema(SCIM_GROUP_SCHEMA)));
        } else {
            json_t *s = schema(tail);
            if (s)
                gcs_emu_send_json(r, 200, s);
            else
                gcs_emu_scim_error(r, 404, NULL, "no schema %.100s", tail);
        }
    } else {
        gcs_emu_scim_error(r, 404, NULL, "no such SCIM resource");
    }
}

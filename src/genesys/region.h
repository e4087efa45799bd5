/*
 * region.h - where a Genesys Cloud organisation lives.
 *
 * A region is a domain: the API is https://api.<domain>, the login host is
 * https://login.<domain>. Users give a region name ("eu-west-1"), a domain
 * ("mypurecloud.ie"), or explicit base URLs (how tests reach the emulator);
 * explicit URLs win, each on its own.
 */
#ifndef GCS_GENESYS_REGION_H
#define GCS_GENESYS_REGION_H

typedef struct gcs_region {
    const char *name;   /* "eu-west-1" */
    const char *domain; /* "mypurecloud.ie" */
} gcs_region;

/* The known regions, ended by an entry whose name is NULL. */
extern const gcs_region gcs_regions[];

/* The domain for a region name or a domain (case-insensitive; a known domain is
 * returned as is, a name is looked up; a leading "api."/"login." or a scheme is
 * tolerated). Borrowed from the table, or NULL if neither. */
const char *gcs_region_domain(const char *region_or_domain);

/*
 * Resolves the API and login base URLs (no trailing slash) into *api_out and
 * *login_out (caller frees). `api_url` / `login_url` may be NULL or "". When only
 * `api_url` is given, the login URL is derived from it: "api." becomes "login."
 * when the host starts so, otherwise the same base is used (the emulator serves
 * both on one port). An unknown region fails with GCS_EINVALID and a message
 * naming it. A URL that is not http(s) fails the same way.
 */
int gcs_region_resolve(char **api_out, char **login_out, const char *region_or_domain,
                       const char *api_url, const char *login_url);

#endif

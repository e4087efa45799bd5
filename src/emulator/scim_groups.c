/* SCIM groups: /api/v2/scim[/v2]/groups (list, filter required) and
 * /groups/{id} (GET, PUT, PATCH of members). No POST, no DELETE. */
#include "emulator/internal.h"

void gcs_emu_scim_groups(emu_req *r, const char *rest)
{
    (void)rest;
    r->route = "/api/v2/scim/groups";
    gcs_emu_scim_error(r, 404, NULL, "not yet");
}

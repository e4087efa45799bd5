#include "emulator/internal.h"

void gcs_emu_platform(emu_req *r, const char *rest)
{
    (void)rest;
    gcs_emu_genesys_error(r, 404, "not.found", "not yet");
}

void gcs_emu_scim_meta(emu_req *r, const char *rest)
{
    (void)rest;
    gcs_emu_scim_error(r, 404, NULL, "not yet");
}

/* gcscim plan: read, diff and show; writes nothing to Genesys. */
#include "cli/provision.h"

gcs_exit gcs_cmd_plan(gcs_cli *cli, int argc, char **argv)
{
    return gcs_provision_main(cli, "plan", false, argc, argv);
}

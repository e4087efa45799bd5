/* gcscim sync: plan and apply in one go. */
#include "cli/provision.h"

gcs_exit gcs_cmd_sync(gcs_cli *cli, int argc, char **argv)
{
    return gcs_provision_main(cli, "sync", true, argc, argv);
}

/* gcscim: the command line program. Everything lives in the library. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return gcs_cli_main(argc, argv);
}

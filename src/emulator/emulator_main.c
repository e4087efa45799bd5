/* gcscim-emulator: a local Genesys Cloud. The server itself lives in the library
 * (src/emulator/); this is only its entry point. */
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: gcscim-emulator [--listen 127.0.0.1:PORT] [--ready-file FILE] [--client ID:SECRET]...\n"
    "A local Genesys Cloud for tests, benchmarks, demos and dry runs.\n";

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    fprintf(stderr, "gcscim-emulator: not built yet\n%s", usage);
    return 2;
}

/* Fuzzes the command line's option check (gcs_cli_parse with the global
 * options and a command's own): whatever argv holds, no crash, and no message
 * prints what follows an option's name: a value given with "=" or as the next
 * word ("s3cr3t" below) never appears on stderr unless it is in an option's
 * name itself. Input: the arguments after "plan", one per line. */
#include "cli/cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_option(int id, const char *arg, void *payload)
{
    (void)id;
    (void)arg;
    (void)payload;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* --help and -h print help and exit: not what is fuzzed here. */
    if (size > 4096 || memchr(data, 'h', size))
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[66];
    int argc = 0;
    argv[argc++] = "plan";
    bool name_has_marker = false;
    for (char *p = text; p && argc < 65;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        argv[argc++] = p;
        size_t name = strcspn(p, "=");
        char *m = strstr(p, "s3cr3t");
        if (m && (size_t)(m - p) < name && p[0] == '-')
            name_has_marker = true;
        p = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    static const struct option own[] = {
        {"source", required_argument, NULL, 1},
        {"passwords-out", required_argument, NULL, 2},
        {"strict", no_argument, NULL, 3},
        {NULL, 0, NULL, 0},
    };
    char errbuf[8192] = "";
    gcs_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.out = fopen("/dev/null", "w");
    cli.err = fmemopen(errbuf, sizeof errbuf - 1, "w");
    if (cli.out && cli.err) {
        int first;
        (void)gcs_cli_parse(&cli, argc, argv, own, on_option, NULL, &first);
        fflush(cli.err);
        if (!name_has_marker && strstr(errbuf, "s3cr3t"))
            abort(); /* a value was echoed */
    }
    if (cli.out)
        fclose(cli.out);
    if (cli.err)
        fclose(cli.err);
    for (int k = 0; k < GCS_CFG__COUNT; k++)
        free(cli.pending[k]);
    free(text);
    return 0;
}

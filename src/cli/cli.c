#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"
#include "core/version_gen.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* ==== Global options ==== */

enum {
    OPT_GLOBAL_BASE = 0x1000, /* + gcs_config_key for the settings with a flag */
    OPT_CONFIG = 0x2000,
    OPT_SECRET_FILE,
    OPT_JSON,
    OPT_HELP,
};

/* The settings' flags: every global one, and those of `command`; before the
 * command (NULL) every one, checked against the command once it is known
 * (gcs_cli_main), so that `gcscim --listen ADDR serve` works as
 * `gcscim serve --listen ADDR` does. */
static size_t add_global_options(struct option *out, const char *command)
{
    size_t n = 0;
    for (int k = 0; k < GCS_CFG__COUNT; k++) {
        const char *only = gcs_config_specs[k].command;
        if (gcs_config_specs[k].flag && (!only || !command || strcmp(only, command) == 0))
            out[n++] = (struct option){gcs_config_specs[k].flag, required_argument, NULL,
                                       OPT_GLOBAL_BASE + k};
    }
    out[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    out[n++] = (struct option){"client-secret-file", required_argument, NULL, OPT_SECRET_FILE};
    out[n++] = (struct option){"json", no_argument, NULL, OPT_JSON};
    out[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    /* gcs_cli_parse keeps 32 entries of its table for these and the end */
    assert(n < 32 && "the global options outgrew the room left for them");
    return n;
}

static const char global_help[] =
    "Global options (accepted before or after the command):\n"
    "  --config FILE              read settings from this JSON file\n"
    "  --client-id ID             OAuth client id (env GENESYSCLOUD_OAUTHCLIENT_ID)\n"
    "  --client-secret-file FILE  read the client secret from FILE (mode 0600)\n"
    "                             (env GENESYSCLOUD_OAUTHCLIENT_SECRET)\n"
    "  --region REGION            region name or domain (env GENESYSCLOUD_REGION)\n"
    "  --api-url URL              API base URL (env GENESYSCLOUD_API_URL)\n"
    "  --login-url URL            login base URL (env GENESYSCLOUD_LOGIN_URL)\n"
    "  --db URL                   sqlite:PATH or postgresql://... (env GCSCIM_DB)\n"
    "  --log-level LEVEL          debug, info, warn, error, off\n"
    "  --log-format FORMAT        text or json\n"
    "  --max-in-flight N          ceiling on requests in flight\n"
    "  --max-rps N                your own ceiling on requests per second\n"
    "  --timeout SECONDS          time one request may take\n"
    "  --ca-bundle FILE           extra CA certificates for a TLS proxy\n"
    "  --notify-file FILE         endpoints told of each outcome (docs/notifications.md)\n"
    "  --json                     machine-readable output\n"
    "  -h, --help                 this help\n";

static void print_main_help(gcs_cli *cli, FILE *f)
{
    fprintf(f, "gcscim %s - provision people and groups into Genesys Cloud over SCIM 2.0,\n"
               "and prove afterwards what was done.\n\n"
               "Usage: gcscim [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
            GCS_VERSION_STRING);
    for (const gcs_cli_command *c = gcs_cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    /* Its sections become gcscim(1) (packaging/man/gen-man): "Exit status:" is EXIT STATUS. */
    fprintf(f, "\n%s\nRun 'gcscim help COMMAND' for a command's options.\n\n"
               "Exit status:\n"
               "  0  done, everything as asked\n"
               "  1  failed; the message says why\n"
               "  2  usage: unknown command, unknown flag, missing or bad flag value\n"
               "  3  partial: finished, but some rows or users failed or were rejected\n"
               "  4  refused by a safety rule: needs approval, or another process applies the plan\n"
               "  5  verification failed: the receipt chain does not hold\n"
               "  6  credentials rejected or a permission (scope) is missing\n"
               "  7  a daily rate limit was reached\n"
               "  8  interrupted: what finished is recorded; the message says how to resume\n"
               "  9  plan --detailed-exitcode: the plan has changes to apply\n",
            global_help);
    (void)cli;
}

void gcs_cli_print_command_help(gcs_cli *cli, FILE *f, const gcs_cli_command *cmd)
{
    (void)cli;
    fprintf(f, "Usage: %s\n\n%s - %s\n", cmd->usage, cmd->name, cmd->summary);
    if (cmd->help && *cmd->help)
        fprintf(f, "\n%s\n", cmd->help);
    fprintf(f, "\n%s", global_help);
}

gcs_exit gcs_cli_usage_error(gcs_cli *cli, const char *command, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (command)
        fprintf(cli->err, "gcscim: %s; see 'gcscim help %s'\n", msg, command);
    else
        fprintf(cli->err, "gcscim: %s; see 'gcscim --help'\n", msg);
    return GCS_EXIT_USAGE;
}

/* Exit codes and error codes must not be mixed up silently: a command that
 * returned a gcs_error (negative) would exit with 255 or worse. */
_Static_assert(_Generic(gcs_cli_exit_code(0), gcs_exit: 1, default: 0),
               "gcs_cli_exit_code returns a gcs_exit");
_Static_assert(_Generic((gcs_exit)0, gcs_error: 0, default: 1),
               "gcs_exit and gcs_error are different types");

gcs_exit gcs_cli_exit_code(int rc)
{
    switch (rc) {
    case GCS_OK: return GCS_EXIT_OK;
    case GCS_EUSAGE: return GCS_EXIT_USAGE;
    case GCS_EREFUSED: return GCS_EXIT_REFUSED;
    case GCS_EAUTH:
    case GCS_EFORBIDDEN: return GCS_EXIT_AUTH;
    case GCS_EDAILYLIMIT: return GCS_EXIT_LIMIT;
    /* A total outage (the breaker gave up, or every call failed) is a failure
     * with its reason, never "partial": nothing was done. */
    case GCS_EUNREACHABLE: return GCS_EXIT_FAILURE;
    default: return GCS_EXIT_FAILURE;
    }
}

gcs_exit gcs_cli_fail(gcs_cli *cli, int rc)
{
    fprintf(cli->err, "gcscim: %s\n", gcs_error_last());
    return gcs_cli_exit_code(rc);
}

void gcs_cli_print_json(gcs_cli *cli, const json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        fprintf(cli->out, "%s\n", text);
    free(text);
}

int gcs_cli_parse_anchor(int64_t *seq, char hash[65], const char *arg)
{
    char *end;
    errno = 0;
    long long n = strtoll(arg, &end, 10);
    bool ok = !errno && end != arg && n > 0 && *end == ':' && strlen(end + 1) == 64;
    for (size_t i = 1; ok && i <= 64; i++)
        ok = (end[i] >= '0' && end[i] <= '9') || (end[i] >= 'a' && end[i] <= 'f');
    if (!ok)
        return gcs_error_set(GCS_EUSAGE,
                             "--anchor: '%.80s' is not SEQ:HASH (a chain head that receipts "
                             "verify or doctor printed)",
                             arg);
    *seq = n;
    memcpy(hash, end + 1, 65);
    return 0;
}

void gcs_cli_format_time(char *out, size_t outsz, int64_t ms)
{
    if (ms)
        gcs_time_format_iso8601(out, outsz, ms);
    else
        snprintf(out, outsz, "-");
}

int gcs_cli_parse_state(const char **out, const char *arg, const char *const *states, size_t n)
{
    char names[256];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(arg, states[i]) == 0) {
            *out = states[i];
            return 0;
        }
    }
    names[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                i == 0 ? "" : i + 1 == n ? " or " : ", ", states[i]);
    return gcs_error_set(GCS_EUSAGE, "--state: '%s' is not %s", arg, names);
}

gcs_exit gcs_cli_parse_row_operands(gcs_cli *cli, const char *command, const char *noun,
                                    const char *const *subs, int argc, char **argv, int first,
                                    const char **sub, int64_t *id)
{
    char names[256];
    size_t len = 0;
    names[0] = '\0';
    for (size_t i = 0; subs[i] && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", subs[i]);
    if (first >= argc)
        return gcs_cli_usage_error(cli, command, "missing subcommand (%s)", names);
    *sub = argv[first];
    *id = 0;
    size_t i = 0;
    while (subs[i] && strcmp(subs[i], *sub) != 0)
        i++;
    if (!subs[i])
        return gcs_cli_usage_error(cli, command, "unknown subcommand '%s'", *sub);
    bool is_list = strcmp(*sub, "list") == 0;
    if (argc - first - 1 != (is_list ? 0 : 1)) {
        if (is_list)
            return gcs_cli_usage_error(cli, command, "%s list takes no argument", command);
        return gcs_cli_usage_error(cli, command, "%s %s needs one %s id", command, *sub, noun);
    }
    if (!is_list) {
        char *end;
        *id = strtoll(argv[first + 1], &end, 10);
        if (*end || end == argv[first + 1] || *id < 1)
            return gcs_cli_usage_error(cli, command, "%s id '%s' is not a number", noun,
                                       argv[first + 1]);
    }
    return GCS_EXIT_OK;
}

void gcs_cli_print_fields(gcs_cli *cli, const json_t *o, int key_width)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        char *text = json_is_string(v) || json_is_null(v)
                         ? NULL
                         : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        fprintf(cli->out, "%-*s %s\n", key_width, k,
                json_is_string(v) ? json_string_value(v)
                : json_is_null(v) ? "-"
                                  : (text ? text : "?"));
        free(text);
    }
}

/* ==== Parsing ==== */

/*
 * Checks every long option of argv before getopt_long sees it, because
 * getopt_long accepts any unambiguous prefix: "--client-secret VALUE" would be
 * read as "--client-secret-file VALUE", and the error would print the secret.
 * Here an option must be spelled in full (no abbreviation, for any option: a
 * script's flags mean the same thing when options are added later), a value
 * that is missing is named as such, and no message ever prints what follows
 * the option's name ("--client-secret=abc" prints "--client-secret" only).
 * Returns 0, or the usage exit code after printing the message.
 */
static gcs_exit check_long_options(gcs_cli *cli, const char *command, int argc, char **argv,
                                   const struct option *all)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (a[0] != '-' || a[1] == '\0') {
            if (!command)
                break; /* the top level stops at the command */
            continue;
        }
        if (a[1] != '-')
            continue; /* short options: getopt_long's own checks */
        const char *name = a + 2;
        size_t len = strcspn(name, "=");
        bool inline_value = name[len] == '=';
        const struct option *o = all;
        while (o->name && !(strlen(o->name) == len && strncmp(o->name, name, len) == 0))
            o++;
        if (!o->name) {
            int shown = (int)(len > 64 ? 64 : len);
            if (len == 13 && strncmp(name, "client-secret", 13) == 0)
                return gcs_cli_usage_error(
                    cli, command,
                    "unknown option '--client-secret': a secret is never given on the command "
                    "line (use --client-secret-file FILE or GENESYSCLOUD_OAUTHCLIENT_SECRET)");
            const struct option *longer = all;
            while (longer->name && !(len > 0 && strncmp(longer->name, name, len) == 0))
                longer++;
            if (longer->name)
                return gcs_cli_usage_error(cli, command,
                                           "unknown option '--%.*s' (options are spelled in "
                                           "full: did you mean '--%s'?)",
                                           shown, name, longer->name);
            return gcs_cli_usage_error(cli, command, "unknown option '--%.*s'", shown, name);
        }
        if (o->has_arg == no_argument && inline_value)
            return gcs_cli_usage_error(cli, command, "option '--%s' takes no value", o->name);
        if (o->has_arg == required_argument && !inline_value) {
            /* The next word is the value, unless it is missing or another option. */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return gcs_cli_usage_error(cli, command, "option '--%s' needs a value", o->name);
            i++;
        }
        if (o->has_arg == required_argument && inline_value && name[len + 1] == '\0')
            return gcs_cli_usage_error(cli, command, "option '--%s' needs a value", o->name);
    }
    return GCS_EXIT_OK;
}

gcs_exit gcs_cli_parse(gcs_cli *cli, int argc, char **argv, const struct option *options,
                       int (*on_option)(int id, const char *arg, void *payload), void *payload,
                       int *first_operand)
{
    struct option all[64];
    size_t n = 0;
    for (const struct option *o = options; o && o->name; o++) {
        assert(n < sizeof all / sizeof *all - 32 && "a command has too many options");
        all[n++] = *o;
    }
    /* argv[0] is the command's name, or the program's for the top level. The top
     * level stops at the first operand (the command); a command's own options
     * may come after its operands ("receipts list --run X"). */
    const char *command = argc > 0 && argv[0] && gcs_cli_find_command(argv[0]) ? argv[0] : NULL;
    n += add_global_options(all + n, command);
    all[n] = (struct option){NULL, 0, NULL, 0};

    gcs_exit code = check_long_options(cli, command, argc, argv, all);
    if (code != GCS_EXIT_OK)
        return code;
    optind = 0; /* GNU: full reinitialisation */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, command ? "h" : "+h", all, NULL)) != -1) {
        if (c == '?' || c == ':') {
            /* Long options were checked above: this is a short one. Name the
             * letter only: "-sVALUE" must not print VALUE. */
            if (optopt > 0 && optopt < 0x80 && optopt != '?')
                return gcs_cli_usage_error(cli, command, "unknown option '-%c'", optopt);
            return gcs_cli_usage_error(cli, command, "unknown option");
        }
        if (c == 'h' || c == OPT_HELP) {
            const gcs_cli_command *cmd = command ? gcs_cli_find_command(command) : NULL;
            if (cmd)
                gcs_cli_print_command_help(cli, cli->out, cmd);
            else
                print_main_help(cli, cli->out);
            exit(GCS_EXIT_OK);
        } else if (c == OPT_JSON) {
            cli->json = true;
        } else if (c == OPT_CONFIG) {
            cli->config_path = optarg;
        } else if (c == OPT_SECRET_FILE) {
            cli->secret_file = optarg;
        } else if (c >= OPT_GLOBAL_BASE && c < OPT_GLOBAL_BASE + GCS_CFG__COUNT) {
            int k = c - OPT_GLOBAL_BASE;
            free(cli->pending[k]);
            if (!(cli->pending[k] = strdup(optarg))) {
                fprintf(cli->err, "gcscim: out of memory\n");
                return GCS_EXIT_FAILURE;
            }
        } else if (on_option) {
            if (on_option(c, optarg, payload) < 0) {
                fprintf(cli->err, "gcscim: %s; see 'gcscim help %s'\n", gcs_error_last(),
                        command ? command : "");
                return GCS_EXIT_USAGE;
            }
        }
    }
    *first_operand = optind;
    return GCS_EXIT_OK;
}

int gcs_cli_load_config(gcs_cli *cli)
{
    int rc;
    if ((rc = gcs_config_load_file(&cli->config, cli->config_path, NULL)) < 0)
        return rc;
    /* A bad flag value is a usage error (exit 2); a bad file or env value is not. */
    for (int k = 0; k < GCS_CFG__COUNT; k++) {
        if (cli->pending[k] && gcs_config_set_flag(&cli->config, k, cli->pending[k]) < 0)
            return GCS_EUSAGE;
    }
    if (cli->secret_file && (rc = gcs_config_set_secret_file(&cli->config, cli->secret_file)) < 0)
        return rc;

    gcs_log_level level;
    gcs_log_format format;
    const char *lv = gcs_config_get(&cli->config, GCS_CFG_LOG_LEVEL);
    const char *fm = gcs_config_get(&cli->config, GCS_CFG_LOG_FORMAT);
    bool flag_lv = cli->config.values[GCS_CFG_LOG_LEVEL].source == GCS_CFG_FROM_FLAG;
    bool flag_fm = cli->config.values[GCS_CFG_LOG_FORMAT].source == GCS_CFG_FROM_FLAG;
    if (gcs_log_level_parse(lv, &level) < 0)
        return gcs_error_set(flag_lv ? GCS_EUSAGE : GCS_EINVALID, "%s: unknown log level '%s' (debug, info, warn, error, off)",
                             cli->config.values[GCS_CFG_LOG_LEVEL].origin, lv);
    if (gcs_log_format_parse(fm, &format) < 0)
        return gcs_error_set(flag_fm ? GCS_EUSAGE : GCS_EINVALID, "%s: unknown log format '%s' (text, json)",
                             cli->config.values[GCS_CFG_LOG_FORMAT].origin, fm);
    gcs_log_set_level(level);
    gcs_log_set_format(format);
    return 0;
}

/* ==== help, version ==== */

gcs_exit gcs_cmd_help(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    if ((rc = gcs_cli_parse(cli, argc, argv, NULL, NULL, NULL, &first)) != 0)
        return rc;
    if (first >= argc) {
        print_main_help(cli, cli->out);
        return GCS_EXIT_OK;
    }
    const gcs_cli_command *cmd = gcs_cli_find_command(argv[first]);
    if (!cmd)
        return gcs_cli_usage_error(cli, NULL, "unknown command '%s'", argv[first]);
    gcs_cli_print_command_help(cli, cli->out, cmd);
    return GCS_EXIT_OK;
}

gcs_exit gcs_cmd_version(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    if ((rc = gcs_cli_parse(cli, argc, argv, NULL, NULL, NULL, &first)) != 0)
        return rc;
    if (first < argc)
        return gcs_cli_usage_error(cli, "version", "unexpected argument '%s'", argv[first]);
    if (cli->json)
        fprintf(cli->out, "{\"version\":\"%s\"}\n", GCS_VERSION_STRING);
    else
        fprintf(cli->out, "gcscim %s\n", GCS_VERSION_STRING);
    return GCS_EXIT_OK;
}

/* ==== main ==== */

/* Secrets live in this process's memory: keep them out of core dumps and away
 * from other processes of the same user (ptrace needs dumpable). */
static void protect_process(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

gcs_exit gcs_cli_main(int argc, char **argv)
{
    gcs_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.out = stdout;
    cli.err = stderr;
    int code;

    protect_process();
    gcs_redact_wipe_json_frees();
    if (gcs_config_from_env(&cli.config, NULL) < 0) {
        code = gcs_cli_fail(&cli, gcs_error_last_code());
        goto out;
    }

    /* Global options may precede the command: parse up to the first operand. */
    int first;
    if ((code = gcs_cli_parse(&cli, argc, argv, NULL, NULL, NULL, &first)) != 0)
        goto out;
    if (first >= argc) {
        print_main_help(&cli, cli.err);
        code = GCS_EXIT_USAGE;
        goto out;
    }
    const gcs_cli_command *cmd = gcs_cli_find_command(argv[first]);
    if (!cmd) {
        code = gcs_cli_usage_error(&cli, NULL, "unknown command '%s'", argv[first]);
        goto out;
    }
    for (int k = 0; k < GCS_CFG__COUNT; k++) {
        const char *only = gcs_config_specs[k].command;
        if (cli.pending[k] && only && strcmp(only, cmd->name) != 0) {
            code = gcs_cli_usage_error(&cli, cmd->name, "option '--%s' belongs to 'gcscim %s'",
                                       gcs_config_specs[k].flag, only);
            goto out;
        }
    }
    code = cmd->run(&cli, argc - first, argv + first);
out:
    for (int k = 0; k < GCS_CFG__COUNT; k++)
        free(cli.pending[k]);
    gcs_config_release(&cli.config);
    return code;
}

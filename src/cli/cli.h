/*
 * cli.h - the command line: a thin client of the library.
 *
 * Every command lives in its own cmd_NAME.c and is listed in commands.c. A
 * command parses its own options with gcs_cli_parse(), which also accepts the
 * global options anywhere on the line, then calls gcs_cli_load_config() to build
 * the effective configuration (default < env < file < flag).
 *
 * Exit codes are fixed and documented in README ("Exit codes"); never reuse one
 * for another meaning. They are their own type, gcs_exit, distinct from the
 * library's gcs_error codes (core/error.h): gcs_cli_exit_code() is the only
 * way from one to the other.
 */
#ifndef GCS_CLI_CLI_H
#define GCS_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/config.h"

#include <jansson.h>
#include <stdint.h>

struct gcs_store;
struct gcs_receipt;

typedef enum gcs_exit {
    GCS_EXIT_OK = 0,        /* done, everything as asked */
    GCS_EXIT_FAILURE = 1,   /* failed; the message says why */
    GCS_EXIT_USAGE = 2,     /* wrong command line: unknown command, flag or value */
    GCS_EXIT_PARTIAL = 3,   /* finished, but some rows or users failed or were rejected */
    GCS_EXIT_REFUSED = 4,   /* refused by a safety rule: needs explicit approval */
    GCS_EXIT_BROKEN = 5,    /* verification failed: the receipt chain does not hold */
    GCS_EXIT_AUTH = 6,      /* credentials rejected or a permission is missing */
    GCS_EXIT_LIMIT = 7,     /* a daily rate limit was reached: try again later */
    GCS_EXIT_INTERRUPTED = 8, /* stopped by a signal: the run is recorded; the message says how to resume */
    GCS_EXIT_CHANGES = 9,   /* plan --detailed-exitcode: the plan has changes to apply */
} gcs_exit;

typedef struct gcs_cli {
    gcs_config config;
    bool json;                       /* --json: machine-readable output */
    char *pending[GCS_CFG__COUNT];   /* flag values, applied after the config file */
    const char *config_path;         /* --config */
    const char *secret_file;         /* --client-secret-file */
    FILE *out;                       /* stdout unless a test says otherwise */
    FILE *err;
} gcs_cli;

typedef struct gcs_cli_command {
    const char *name;
    const char *summary; /* one line for `gcscim --help` */
    const char *usage;   /* "gcscim config show [--json]" */
    const char *help;    /* the rest of `gcscim help NAME` */
    gcs_exit (*run)(gcs_cli *cli, int argc, char **argv); /* argv[0] is the command name */
} gcs_cli_command;

extern const gcs_cli_command gcs_cli_commands[];

const gcs_cli_command *gcs_cli_find_command(const char *name);
gcs_exit gcs_cli_main(int argc, char **argv);

/*
 * Parses argv[1..] with `options` (may be NULL) plus the global options.
 * For each of the command's own options, `on_option(opt->val, optarg, payload)`
 * is called; it returns 0 or a GCS_EUSAGE after setting a message. On success
 * *first_operand is the index of the first non-option argument. Unknown options
 * and missing values print a message naming them and return GCS_EXIT_USAGE.
 * Long options must be spelled in full (getopt_long's prefix matching is not
 * used: "--client-secret VALUE" must never become --client-secret-file), and
 * no message prints what follows an option's name.
 */
gcs_exit gcs_cli_parse(gcs_cli *cli, int argc, char **argv, const struct option *options,
                       int (*on_option)(int id, const char *arg, void *payload), void *payload,
                       int *first_operand);
/* Builds the effective configuration from env, the config file and the flags. */
int gcs_cli_load_config(gcs_cli *cli);
/* Prints "gcscim: MESSAGE" on stderr and returns the exit code for rc. */
gcs_exit gcs_cli_fail(gcs_cli *cli, int rc);
/* The exit code for a library error code. */
gcs_exit gcs_cli_exit_code(int rc);
/* Prints a usage error ("gcscim: ...; see 'gcscim help CMD'") and returns GCS_EXIT_USAGE. */
gcs_exit gcs_cli_usage_error(gcs_cli *cli, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gcs_cli_print_command_help(gcs_cli *cli, FILE *f, const gcs_cli_command *cmd);
/* Prints v as indented JSON on the command's output, in insertion order. */
void gcs_cli_print_json(gcs_cli *cli, const json_t *v);
/* SEQ:HASH, a receipt chain head as receipts verify (or doctor) printed it:
 * *seq > 0 and hash 64 lowercase hex digits. GCS_EUSAGE naming the flag otherwise. */
int gcs_cli_parse_anchor(int64_t *seq, char hash[65], const char *arg);
/* A wall-clock time in ISO 8601 for tables, or "-" when ms is 0. */
void gcs_cli_format_time(char *out, size_t outsz, int64_t ms);

/* The commands over a queue of rows (jobs, notifications). */
/* --state ARG: *out is the one of states[0..n) that ARG names; GCS_EUSAGE
 * listing them otherwise ("--state: 'x' is not a, b or c"). */
int gcs_cli_parse_state(const char **out, const char *arg, const char *const *states, size_t n);
/* The operands from argv[first]: SUB, one of subs (NULL-terminated), then for
 * every SUB but "list" the id of one NOUN (a positive number) in *id. A usage
 * error of `command` naming what is wrong otherwise (GCS_EXIT_USAGE), else
 * GCS_EXIT_OK. */
gcs_exit gcs_cli_parse_row_operands(gcs_cli *cli, const char *command, const char *noun,
                                    const char *const *subs, int argc, char **argv, int first,
                                    const char **sub, int64_t *id);
/* Prints a shown row's JSON object as text: a line per member, its key in
 * key_width columns, then a string as it is, null as "-", anything else as
 * compact JSON. */
void gcs_cli_print_fields(gcs_cli *cli, const json_t *o, int key_width);

/* Commands */
gcs_exit gcs_cmd_help(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_version(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_config(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_plan(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_apply(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_sync(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_undo(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_receipts(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_runs(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_jobs(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_notifications(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_doctor(gcs_cli *cli, int argc, char **argv);
gcs_exit gcs_cmd_serve(gcs_cli *cli, int argc, char **argv);

/* Shared by the store commands (cmd_receipts.c). */
/* Opens the store named by the db setting (default location when unset), which
 * must exist (gcs_store_open_existing). */
int gcs_cli_open_store(gcs_cli *cli, struct gcs_store **out);

#endif

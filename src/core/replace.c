/* replace.c - writing a file whole in place of another (replace.h). */
#include "core/replace.h"

#include "core/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_MARK ".tmp."

/* The directory and last component of path: "." for a bare name. */
static int split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        *dir = strdup(".");
    else if (slash == path)
        *dir = strdup("/");
    else
        *dir = strndup(path, (size_t)(slash - path));
    GCS_CHECK_ALLOC(*dir);
    return 0;
}

static void this_host(char *host, size_t size)
{
    if (gethostname(host, size - 1) != 0)
        snprintf(host, size, "localhost");
    host[size - 1] = '\0';
    /* The name is a path component and is parsed back from its last dots. */
    for (char *p = host; *p; p++) {
        if (*p == '/')
            *p = '_';
    }
}

/* Whether `name` is a temporary name of `base` (BASE.tmp.HOST.PID.RANDOM) left by a
 * process of this host that no longer exists. */
static bool left_by_the_dead(const char *name, const char *base, const char *host)
{
    size_t bl = strlen(base), ml = strlen(TMP_MARK);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, TMP_MARK, ml) != 0)
        return false;
    const char *rest = name + bl + ml;                /* HOST.PID.RANDOM */
    const char *last = strrchr(rest, '.');
    if (!last || last == rest)
        return false;
    const char *p = last - 1;
    while (p > rest && *p >= '0' && *p <= '9')
        p--;
    if (*p != '.' || p + 1 == last)
        return false;
    size_t hl = (size_t)(p - rest);
    if (hl != strlen(host) || strncmp(rest, host, hl) != 0)
        return false;
    char *end;
    long pid = strtol(p + 1, &end, 10);
    if (end != last || pid <= 0 || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes the temporary names of `base` whose writers are gone. Best effort: a
 * directory that cannot be listed is left as it is. */
static void remove_left_behind(const char *dir, const char *base, const char *host)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (left_by_the_dead(e->d_name, base, host))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* PATH.tmp.HOST.PID.RANDOM into out (six random letters, as mkstemp's). */
static int temp_name(char *out, size_t size, const char *path, const char *host)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    char suffix[7];
    for (size_t i = 0; i < sizeof rnd; i++)
        suffix[i] = letters[rnd[i] % (sizeof letters - 1)];
    suffix[6] = '\0';
    int n = snprintf(out, size, "%s" TMP_MARK "%s.%ld.%s", path, host, (long)getpid(), suffix);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Gives the unnamed file `fd` the name `tmp` (a fresh one on a clash). */
static int name_it(int fd, char *tmp, size_t size, const char *path, const char *host)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    for (int tries = 0; tries < 8; tries++) {
        if (temp_name(tmp, size, path, host) != 0)
            return -1;
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

int gcs_file_replace(const char *path, mode_t mode, const char *what, gcs_replace_write_fn write,
                     void *payload)
{
    char host[256], *dir = NULL;
    const char *base;
    int rc = split_path(path, &dir, &base);
    if (rc < 0)
        return rc;
    this_host(host, sizeof host);
    remove_left_behind(dir, base, host);

    size_t tmpsize = strlen(path) + strlen(host) + 48;
    char *tmp = malloc(tmpsize);
    FILE *f = NULL;
    bool named = false; /* tmp names a file of ours */
    int fd = -1;
    if (!tmp) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    /* Unnamed until whole, where the kernel and /proc allow it. */
    bool unnamed = access("/proc/self/fd", X_OK) == 0;
    if (unnamed) {
        fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
            unnamed = false; /* a file system without O_TMPFILE: a name first */
        else if (fd < 0)
            goto failed;
    }
    if (!unnamed) {
        for (int tries = 0; fd < 0 && tries < 8; tries++) {
            if (temp_name(tmp, tmpsize, path, host) != 0)
                goto failed;
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
            if (fd < 0 && errno != EEXIST)
                goto failed;
        }
        if (fd < 0)
            goto failed;
        named = true;
    }
    if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w")))
        goto failed;
    fd = -1;
    if ((rc = write(f, payload)) < 0) {
        rc = gcs_error_prefix(rc, "cannot write %s '%s'", what, path);
        goto out;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        goto failed;
    if (unnamed) {
        if (name_it(fileno(f), tmp, tmpsize, path, host) != 0)
            goto failed;
        named = true;
    }
    int closed = fclose(f);
    f = NULL;
    if (closed != 0 || rename(tmp, path) != 0)
        goto failed;
    named = false;
    goto out;
failed:
    rc = gcs_error_set(GCS_EIO, "cannot write %s '%s': %s", what, path, strerror(errno));
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (named)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/*
 * failalloc.c - fails the Nth allocation of a test program (curl's torture mode).
 *
 * Linked into a copy of a unit test with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc,--wrap=strdup,--wrap=strndup, so that every allocation made by
 * the test and by the library it links (gcscim is a static archive) goes through
 * here; jansson's go through json_set_alloc_funcs. Allocations made inside other
 * shared libraries (libyaml, libcsv, libcurl, cmocka) are not counted.
 *
 * Environment:
 *   GCS_FAILALLOC=N   fail the Nth allocation (1-based) and that one only;
 *                     0 or unset: fail none, only count.
 *   GCS_FAILALLOC_SITES=FILE
 *                     with N = 0: write to FILE, one a line, the number of the
 *                     first allocation made from each distinct allocation point
 *                     (the last few return addresses of the call). Failing those
 *                     reaches every error path once without sweeping a hot loop's
 *                     ten thousand allocations one by one.
 * At exit the program writes one line to stderr:
 *   failalloc: fail=N allocations=T hit=0|1
 * which tests/torture/torture.sh reads to know whether N was reached.
 *
 * A cmocka assertion that fails after the injected failure is expected. Run with
 * CMOCKA_TEST_ABORT=1, cmocka aborts there instead of jumping out of the test;
 * the SIGABRT handler below turns that into exit(TORTURE_ASSERT_EXIT), so that the
 * leak check at exit still sees the test's live objects on the stack and reports
 * only memory that nothing points to any more: what an error path forgot to free.
 */
#include <execinfo.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TORTURE_ASSERT_EXIT 77

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static unsigned long fail_at;
static unsigned long count;
static int hit;

/* Allocation points: an open-addressing set of call-stack hashes, no malloc. */
#define SITES_MAX 65536
#define SITE_DEPTH 10
static const char *sites_path;
static uint64_t site_hash[SITES_MAX];
static unsigned long site_first[SITES_MAX];
static unsigned long site_count;
static int site_busy;

static void note_site(unsigned long n)
{
    void *frames[SITE_DEPTH];
    /* backtrace() may allocate on its first call (it loads the unwinder) */
    if (__atomic_exchange_n(&site_busy, 1, __ATOMIC_SEQ_CST))
        return;
    int depth = backtrace(frames, SITE_DEPTH);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < depth; i++) {
        h ^= (uint64_t)(uintptr_t)frames[i];
        h *= 1099511628211ull;
    }
    if (h == 0)
        h = 1;
    for (uint64_t i = h % SITES_MAX, probes = 0; probes < SITES_MAX; i = (i + 1) % SITES_MAX, probes++) {
        if (site_hash[i] == h)
            break;
        if (site_hash[i] == 0) {
            site_hash[i] = h;
            site_first[i] = n;
            site_count++;
            break;
        }
    }
    __atomic_store_n(&site_busy, 0, __ATOMIC_SEQ_CST);
}

/* True for the one allocation that must fail. Atomic: a test may use threads. */
static int fail_now(void)
{
    unsigned long n = __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
    if (sites_path)
        note_site(n);
    if (fail_at != 0 && n == fail_at) {
        __atomic_store_n(&hit, 1, __ATOMIC_SEQ_CST);
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return fail_now() ? NULL : __real_realloc(ptr, size);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

static void *json_alloc(size_t size)
{
    return __wrap_malloc(size);
}

static void json_release(void *ptr)
{
    free(ptr);
}

static void write_sites(void)
{
    int fd = open(sites_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    for (size_t i = 0; i < SITES_MAX; i++) {
        char line[32];
        int len = site_hash[i] ? snprintf(line, sizeof line, "%lu\n", site_first[i]) : 0;
        if (len > 0 && write(fd, line, (size_t)len) < 0)
            break;
    }
    close(fd);
}

static void report(void)
{
    char line[160];
    if (sites_path)
        write_sites();
    int len = snprintf(line, sizeof line, "failalloc: fail=%lu allocations=%lu hit=%d points=%lu\n",
                       fail_at, __atomic_load_n(&count, __ATOMIC_SEQ_CST),
                       __atomic_load_n(&hit, __ATOMIC_SEQ_CST), site_count);
    if (len > 0 && write(STDERR_FILENO, line, (size_t)len) < 0) {
        /* nothing to do: the driver treats a missing line as a failure */
    }
}

/* cmocka 1.1's string assertions pass NULL to strcmp: a test that gets NULL
 * where it expected text (an allocation failed) would crash in cmocka instead of
 * failing its assertion. The test objects' calls are wrapped
 * (-Wl,--wrap=_assert_string_equal,...) to fail there. */
void _fail(const char *const file, const int line);
void __real__assert_string_equal(const char *a, const char *b, const char *file, int line);
void __real__assert_string_not_equal(const char *a, const char *b, const char *file, int line);
void __wrap__assert_string_equal(const char *a, const char *b, const char *file, int line);
void __wrap__assert_string_not_equal(const char *a, const char *b, const char *file, int line);

void __wrap__assert_string_equal(const char *a, const char *b, const char *file, int line)
{
    if (!a || !b)
        _fail(file, line);
    __real__assert_string_equal(a, b, file, line);
}

void __wrap__assert_string_not_equal(const char *a, const char *b, const char *file, int line)
{
    if (!a || !b)
        _fail(file, line);
    __real__assert_string_not_equal(a, b, file, line);
}

/* cmocka catches SIGSEGV and friends with signal() to report "Test failed with
 * exception", which hides where: this definition, which the dynamic linker
 * prefers to libc's for cmocka too, leaves those signals to AddressSanitizer,
 * which prints the stack. Other signals are installed as asked. */
sighandler_t signal(int sig, sighandler_t handler)
{
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGSYS)
        return SIG_DFL;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(sig, &sa, &old) < 0 ? SIG_ERR : old.sa_handler;
}

/* cmocka's abort on a failed assertion (CMOCKA_TEST_ABORT=1): leave through
 * exit() so that atexit handlers, this report and the leak check run. */
static void on_abort(int sig)
{
    (void)sig;
    exit(TORTURE_ASSERT_EXIT);
}

__attribute__((constructor)) static void failalloc_init(void)
{
    const char *n = getenv("GCS_FAILALLOC");
    if (n != NULL)
        fail_at = strtoul(n, NULL, 10);
    if (fail_at == 0)
        sites_path = getenv("GCS_FAILALLOC_SITES");
    json_set_alloc_funcs(json_alloc, json_release);
    atexit(report);
    if (fail_at != 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_abort;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGABRT, &sa, NULL);
    }
}

/* The request engine's job queues: order, and the invariant that a job is in
 * exactly one queue, which Debug builds assert (a second push would corrupt both
 * lists). The assertions are checked in a child process that must abort. */
#include "gcstest.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/client_internal.h"

static void queues_keep_order(void **state)
{
    (void)state;
    queue q = {0};
    job a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    a.not_before_us = 30;
    b.not_before_us = 10;
    c.not_before_us = 20;
    gcs_http__queue_insert_sorted(&q, &a);
    gcs_http__queue_insert_sorted(&q, &b);
    gcs_http__queue_insert_sorted(&q, &c);
    assert_ptr_equal(q.head, &b);
    assert_ptr_equal(q.head->next, &c);
    assert_ptr_equal(q.tail, &a);
    assert_int_equal(q.n, 3);
    gcs_http__queue_remove(&q, &c);
    assert_ptr_equal(q.head->next, &a);
    assert_int_equal(q.n, 2);
    /* Out of one queue, a job may join another. */
    queue r = {0};
    gcs_http__queue_push_front(&r, &c);
    assert_ptr_equal(r.head, &c);
    assert_int_equal(r.n, 1);
}

#ifndef NDEBUG
/* Runs `fn` in a child; true when the child died of SIGABRT (an assertion). */
static bool aborts(void (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the assertion's message would only clutter the test's output */
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        fn();
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void push_twice(void)
{
    queue q = {0}, r = {0};
    job j;
    memset(&j, 0, sizeof j);
    gcs_http__queue_push_back(&q, &j);
    gcs_http__queue_push_back(&r, &j);
}

static void remove_from_the_wrong_queue(void)
{
    queue q = {0}, r = {0};
    job j, k;
    memset(&j, 0, sizeof j);
    memset(&k, 0, sizeof k);
    gcs_http__queue_push_back(&q, &j);
    gcs_http__queue_push_back(&r, &k);
    gcs_http__queue_remove(&r, &j);
}
#endif

static void a_job_in_two_queues_is_a_bug(void **state)
{
    (void)state;
#ifdef NDEBUG
    skip();
#else
    assert_true(aborts(push_twice));
    assert_true(aborts(remove_from_the_wrong_queue));
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queues_keep_order),
        cmocka_unit_test(a_job_in_two_queues_is_a_bug),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The pacer: runs at the announced limit, not below it and not into it. */
#include "gcstest.h"

#include <limits.h>

#include "http/pacer.h"

#define S 1000000LL
#define MS 1000LL

/* ==== A simulated service: a fixed window per token, reset rounded up ==== */

typedef struct sim_server {
    int allowed;
    int64_t window;
    bool lazy;        /* a window starts at the first request after the last ended */
    bool started;
    int64_t start;
    int count;
} sim_server;

static int64_t ceil_s(int64_t us)
{
    return (us + S - 1) / S;
}

/* Counts a request arriving at t; fills the headers; returns 200 or 429. */
static int sim_serve(sim_server *s, int64_t t, int *count, int *reset, int *retry_after)
{
    if (!s->started) {
        s->started = true;
        s->start = t;
    } else if (t >= s->start + s->window) {
        s->start = s->lazy ? t : s->start + (t - s->start) / s->window * s->window;
        s->count = 0;
    }
    s->count++;
    *count = s->count;
    int64_t left = s->start + s->window - t;
    *reset = (int)ceil_s(left);
    *retry_after = (int)ceil_s(left);
    return s->count > s->allowed ? 429 : 200;
}

typedef struct sim_result {
    int accepted;
    int rejected;
} sim_result;

/* A client that always has work, max_in_flight requests, latency each way. */
static sim_result simulate(sim_server *srv, int64_t duration, int64_t latency, int max_in_flight,
                           double max_rps)
{
    gcs_pacer p;
    gcs_pacer_init(&p, max_rps, 2);
    enum { CAP = 4096 };
    int64_t sent_at[CAP], answer_at[CAP];
    int head = 0, tail = 0; /* FIFO of requests in flight (constant latency) */
    sim_result r = {0, 0};
    int64_t now = 0;
    while (now < duration) {
        int in_flight = tail - head;
        int64_t next_send = INT64_MAX;
        if (in_flight < max_in_flight && !(gcs_pacer_probe_only(&p) && in_flight > 0))
            next_send = gcs_pacer_next_us(&p, now, INT_MAX);
        int64_t next_answer = in_flight ? answer_at[head % CAP] : INT64_MAX;
        if (next_send <= next_answer && next_send != INT64_MAX) {
            now = next_send;
            gcs_pacer_on_send(&p, now);
            sent_at[tail % CAP] = now;
            answer_at[tail % CAP] = now + 2 * latency;
            tail++;
        } else if (next_answer != INT64_MAX) {
            now = next_answer;
            int64_t sent = sent_at[head % CAP];
            head++;
            int count, reset, ra;
            int status = sim_serve(srv, sent + latency, &count, &reset, &ra);
            gcs_pacer_on_answer(&p, sent, now, status, count, srv->allowed, reset);
            if (status == 429) {
                gcs_pacer_on_429(&p, now, ra);
                r.rejected++;
            } else if (now < duration) {
                r.accepted++;
            }
        } else {
            break;
        }
    }
    return r;
}

/* A job of n requests: the time the last answer arrives, and 429s in *rejected. */
static int64_t simulate_job(sim_server *srv, int n, int64_t latency, int max_in_flight,
                            int *rejected)
{
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 2);
    enum { CAP = 8192 };
    int64_t sent_at[CAP], answer_at[CAP];
    int head = 0, tail = 0, done = 0;
    int64_t now = 0;
    *rejected = 0;
    while (done < n) {
        int in_flight = tail - head, waiting = n - done - in_flight;
        int64_t next_send = INT64_MAX;
        if (waiting > 0 && in_flight < max_in_flight && !(gcs_pacer_probe_only(&p) && in_flight > 0))
            next_send = gcs_pacer_next_us(&p, now, waiting);
        int64_t next_answer = in_flight ? answer_at[head % CAP] : INT64_MAX;
        if (next_send <= next_answer) {
            now = next_send;
            gcs_pacer_on_send(&p, now);
            sent_at[tail % CAP] = now;
            answer_at[tail % CAP] = now + 2 * latency;
            tail++;
        } else {
            now = next_answer;
            int64_t sent = sent_at[head % CAP];
            head++;
            int count, reset, ra;
            int status = sim_serve(srv, sent + latency, &count, &reset, &ra);
            gcs_pacer_on_answer(&p, sent, now, status, count, srv->allowed, reset);
            if (status == 429) {
                gcs_pacer_on_429(&p, now, ra);
                (*rejected)++; /* not done: it waits to be sent again */
            } else {
                done++;
            }
        }
    }
    return now;
}

static void small_jobs_go_at_once(void **state)
{
    (void)state;
    int rejected;
    /* 281 requests fit in a 600/10 s window: they need not be spread over it. */
    sim_server srv = {.allowed = 600, .window = 10 * S};
    int64_t took = simulate_job(&srv, 281, 2 * MS, 16, &rejected);
    print_message("281 requests in a 600/10s window: %.3f s, %d rejected\n", (double)took / S,
                  rejected);
    assert_true(took < 1 * S);
    assert_int_equal(rejected, 0);
    /* One more than the window holds: spread, and never into a 429. */
    sim_server big = {.allowed = 600, .window = 10 * S};
    took = simulate_job(&big, 1500, 2 * MS, 16, &rejected);
    print_message("1500 requests: %.3f s, %d rejected\n", (double)took / S, rejected);
    assert_int_equal(rejected, 0);
    assert_true(took >= 10 * S && took < 30 * S);
}

static void runs_at_the_limit_of_fixed_windows(void **state)
{
    (void)state;
    sim_server srv = {.allowed = 600, .window = 10 * S};
    sim_result r = simulate(&srv, 35 * S, 2 * MS, 16, 0);
    double util = (double)r.accepted / (35.0 * 60.0);
    print_message("fixed windows: accepted %d rejected %d utilisation %.4f\n", r.accepted,
                  r.rejected, util);
    assert_true(util >= 0.97);
    assert_true(r.rejected <= (r.accepted + r.rejected) / 200);
}

static void runs_at_the_limit_of_lazy_windows(void **state)
{
    (void)state;
    sim_server srv = {.allowed = 600, .window = 10 * S, .lazy = true};
    sim_result r = simulate(&srv, 35 * S, 1 * MS, 16, 0);
    double util = (double)r.accepted / (35.0 * 60.0);
    print_message("lazy windows: accepted %d rejected %d utilisation %.4f\n", r.accepted,
                  r.rejected, util);
    assert_true(util >= 0.97);
    assert_true(r.rejected <= (r.accepted + r.rejected) / 200);
}

static void genesys_default_limit_is_used_fully(void **state)
{
    (void)state;
    sim_server srv = {.allowed = 300, .window = 60 * S};
    sim_result r = simulate(&srv, 180 * S, 30 * MS, 16, 0);
    double util = (double)r.accepted / (180.0 * 5.0);
    print_message("300/60: accepted %d rejected %d utilisation %.4f\n", r.accepted, r.rejected,
                  util);
    assert_true(util >= 0.97);
    assert_int_equal(r.rejected, 0);
}

static void user_ceiling_caps_the_rate(void **state)
{
    (void)state;
    sim_server srv = {.allowed = 600, .window = 10 * S};
    sim_result r = simulate(&srv, 10 * S, 1 * MS, 16, 20.0);
    assert_in_range(r.accepted, 190, 201);
    assert_int_equal(r.rejected, 0);
}

static void no_headers_means_no_pacing(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 2);
    assert_true(gcs_pacer_probe_only(&p));
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 1000, 200, -1, -1, -1);
    assert_false(gcs_pacer_probe_only(&p));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(gcs_pacer_next_us(&p, 5000, INT_MAX), 5000);
        gcs_pacer_on_send(&p, 5000);
    }
    assert_true(gcs_pacer_allowed_rps(&p) == 0);
}

static void a_429_pauses_everyone_once(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 2);
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 600, 10);
    gcs_pacer_on_429(&p, 2 * S, 4);
    assert_true(gcs_pacer_next_us(&p, 2 * S, INT_MAX) >= 6 * S);
    /* More 429s from the same burst share the pause instead of adding theirs. */
    gcs_pacer_on_429(&p, 2 * S + 10, 4);
    assert_true(p.pause_until_us <= 6 * S + 10);
    /* Missing Retry-After: 3 s. */
    gcs_pacer_init(&p, 0, 2);
    gcs_pacer_on_429(&p, 0, -1);
    assert_int_equal(gcs_pacer_next_us(&p, 0, INT_MAX), 3 * S);
}

static void spreads_the_remaining_allowance(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    /* 10 of 100 used, 10 s left: 90 sends over 10 s, about one per 110 ms. */
    gcs_pacer_on_answer(&p, 0, 0, 200, 10, 100, 10);
    int64_t t = gcs_pacer_next_us(&p, 0, INT_MAX);
    assert_in_range(t, 100 * MS, 120 * MS);
    /* Used up: nothing before the window ends. */
    gcs_pacer_on_answer(&p, 0, 0, 200, 100, 100, 10);
    assert_true(gcs_pacer_next_us(&p, 1 * S, INT_MAX) >= 10 * S);
}

static void an_error_without_headers_keeps_the_pace(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 0, 200, 10, 100, 10);
    /* A 401 answered before the limiter ran carries no headers. */
    gcs_pacer_on_answer(&p, 0, 1000, 401, -1, -1, -1);
    assert_int_equal(p.mode, GCS_PACER_WINDOW);
    gcs_pacer_on_send(&p, 1000);
    assert_true(gcs_pacer_next_us(&p, 1000, INT_MAX) > 1000);
    /* A long run of successes without them: the limit was turned off. */
    for (int i = 0; i < 16; i++)
        gcs_pacer_on_answer(&p, 0, 2000, 200, -1, -1, -1);
    assert_int_equal(p.mode, GCS_PACER_NONE);
}

static void a_new_token_window_is_followed(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    /* Our window ends at about 10 s. */
    gcs_pacer_on_answer(&p, 0, 1000, 200, 50, 100, 10);
    /* At 5 s a request is counted in a window that ends at about 7 s. */
    gcs_pacer_on_send(&p, 5 * S);
    gcs_pacer_on_answer(&p, 5 * S, 5 * S + 1000, 200, 1, 100, 2);
    assert_true(p.end_hi_us <= 7 * S + 1000);
    assert_int_equal(p.used, 1);
}

static void a_changed_limit_is_learnt_again(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 300, 60);
    assert_true(gcs_pacer_allowed_rps(&p) > 4.9 && gcs_pacer_allowed_rps(&p) < 5.1);
    /* Now 10 per 2 s: the window is 2 s long, not 60. */
    gcs_pacer_on_send(&p, 1 * S);
    gcs_pacer_on_answer(&p, 1 * S, 1 * S + 1000, 200, 1, 10, 2);
    assert_true(gcs_pacer_allowed_rps(&p) > 4.9 && gcs_pacer_allowed_rps(&p) < 5.1);
    assert_int_equal(p.window_us, 2 * S);
    /* An unreachable limit (a service with it turned off) is no limit. */
    gcs_pacer_on_answer(&p, 1 * S, 1 * S + 1000, 200, 1, 1000000000, 60);
    assert_int_equal(p.mode, GCS_PACER_NONE);
}

/* ==== Several hosts, one client's limit ==== */

/* `n` hosts, each with a pacer told that `told` hosts share the limit, each
 * always holding `pending` requests of work (a worker's batch: small, so the
 * burst rule applies) and up to 16 in flight. With `per_token` every host has
 * a window of its own (Genesys counts per token), else they share one (one
 * token, or a service counting per client). Returns the requests accepted
 * over `duration`, all hosts together; *rejected the 429s. */
static int simulate_hosts(int n, int told, bool per_token, int pending, int64_t duration,
                          int *rejected)
{
    enum { HOSTS = 4, CAP = 4096 };
    sim_server srv[HOSTS];
    gcs_pacer p[HOSTS];
    int64_t sent_at[HOSTS][CAP], answer_at[HOSTS][CAP];
    int head[HOSTS] = {0}, tail[HOSTS] = {0};
    for (int h = 0; h < n; h++) {
        srv[h] = (sim_server){.allowed = 120, .window = 10 * S, .lazy = true};
        gcs_pacer_init(&p[h], 0, 2);
        gcs_pacer_set_hosts(&p[h], told);
    }
    int accepted = 0;
    int64_t now = 0;
    *rejected = 0;
    /* Host h's latency differs a little, so that the hosts do not move in step. */
    while (now < duration) {
        int64_t best = INT64_MAX;
        int who = -1;
        bool send = false;
        for (int h = 0; h < n; h++) {
            int in_flight = tail[h] - head[h];
            if (in_flight < 16 && !(gcs_pacer_probe_only(&p[h]) && in_flight > 0)) {
                int64_t t = gcs_pacer_next_us(&p[h], now, pending);
                if (t < best) {
                    best = t;
                    who = h;
                    send = true;
                }
            }
            if (in_flight && answer_at[h][head[h] % CAP] < best) {
                best = answer_at[h][head[h] % CAP];
                who = h;
                send = false;
            }
        }
        if (who < 0)
            break;
        now = best;
        int64_t latency = (2 + who) * MS;
        if (send) {
            gcs_pacer_on_send(&p[who], now);
            sent_at[who][tail[who] % CAP] = now;
            answer_at[who][tail[who] % CAP] = now + 2 * latency;
            tail[who]++;
            continue;
        }
        int64_t sent = sent_at[who][head[who] % CAP];
        head[who]++;
        int count, reset, ra;
        int status = sim_serve(&srv[per_token ? who : 0], sent + latency, &count, &reset, &ra);
        gcs_pacer_on_answer(&p[who], sent, now, status, count, srv[0].allowed, reset);
        if (status == 429) {
            gcs_pacer_on_429(&p[who], now, ra);
            (*rejected)++;
        } else if (now < duration) {
            accepted++;
        }
    }
    return accepted;
}

static void hosts_sharing_one_window_stay_within_it(void **state)
{
    (void)state;
    int rejected;
    /* Two hosts, each told of the other, small batches (bursts): one window's worth. */
    int accepted = simulate_hosts(2, 2, false, 3, 60 * S, &rejected);
    double util = accepted / (60.0 * 12.0);
    print_message("2 hosts, one window, shares: accepted %d rejected %d utilisation %.4f\n",
                  accepted, rejected, util);
    assert_true(rejected * 200 <= accepted + rejected);
    assert_true(util >= 0.97);
    /* The same hosts not told of each other each spend the window's remaining
     * allowance in a burst: together they run into the limit. */
    accepted = simulate_hosts(2, 1, false, 3, 60 * S, &rejected);
    print_message("2 hosts, one window, no shares: accepted %d rejected %d\n", accepted, rejected);
    assert_true(rejected * 200 > accepted + rejected);
}

static void hosts_with_a_window_each_keep_to_one_limit(void **state)
{
    (void)state;
    int rejected;
    /* Genesys counts per token: no 429 tells the hosts they spend two limits;
     * their shares keep the sum within one client's (12 per second). */
    const int pendings[] = {3, INT_MAX};
    for (size_t i = 0; i < 2; i++) {
        int pending = pendings[i];
        int accepted = simulate_hosts(3, 3, true, pending, 60 * S, &rejected);
        double util = accepted / (60.0 * 12.0);
        print_message("3 hosts, a window each, pending %d: accepted %d utilisation %.4f\n", pending,
                      accepted, util);
        assert_int_equal(rejected, 0);
        assert_true(util >= 0.95 && util <= 1.0);
    }
}

static void the_burst_decision_counts_the_share(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 600, 10);
    /* Alone: 599 left, a 281-request job goes at once. */
    assert_int_equal(gcs_pacer_remaining(&p, 2000), 599);
    assert_int_equal(gcs_pacer_next_us(&p, 2000, 281), 2000);
    /* Two hosts: this one's share is 300 less its own send. */
    gcs_pacer_set_hosts(&p, 2);
    assert_int_equal(gcs_pacer_remaining(&p, 2000), 299);
    assert_int_equal(gcs_pacer_next_us(&p, 2000, 281), 2000);
    assert_true(gcs_pacer_next_us(&p, 2000, 300) > 2000);
    /* The other host's sends, seen in the count, leave less than the share. */
    gcs_pacer_on_answer(&p, 1000, 3000, 200, 450, 600, 10);
    assert_int_equal(gcs_pacer_remaining(&p, 4000), 150);
    assert_true(gcs_pacer_next_us(&p, 4000, 281) > 4000);
    assert_int_equal(gcs_pacer_next_us(&p, 4000, 150), 4000);
    /* Nonsense counts as one host. */
    gcs_pacer_set_hosts(&p, 0);
    assert_int_equal(p.hosts, 1);
    /* Not pacing yet: no limit to share. */
    gcs_pacer_init(&p, 0, 0);
    assert_int_equal(gcs_pacer_remaining(&p, 0), INT_MAX);
}

static void a_new_window_is_confirmed_before_the_share_goes(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_set_hosts(&p, 2);
    gcs_pacer_on_send(&p, 0);
    /* The window ends at about 10 s. */
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 100, 10);
    assert_false(gcs_pacer_probe_only(&p));
    /* Past its latest end, this host moves to the next window on its own
     * clock: one request goes, the rest wait for its answer. */
    int64_t t = gcs_pacer_next_us(&p, 11 * S, 3);
    assert_int_equal(t, 11 * S);
    gcs_pacer_on_send(&p, t);
    assert_true(gcs_pacer_probe_only(&p));
    /* Its answer says the window holds 95 already (the hosts share one
     * count): 5 are left, less than this host's share. */
    gcs_pacer_on_answer(&p, 11 * S, 11 * S + 1000, 200, 95, 100, 10);
    assert_false(gcs_pacer_probe_only(&p));
    assert_int_equal(gcs_pacer_remaining(&p, 11 * S + 2000), 5);
    /* Alone, a host needs no such answer: its own first request starts it. */
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 100, 10);
    gcs_pacer_on_send(&p, gcs_pacer_next_us(&p, 11 * S, 3));
    assert_false(gcs_pacer_probe_only(&p));
}

/* A burst sent just before the window's end may arrive after the service's
 * reset and be counted in the next window: the next window counts it as used,
 * or a burst at its start would overspend it (lookups sent at once did). */
static void sends_at_a_windows_edge_count_in_the_next(void **state)
{
    (void)state;
    gcs_pacer p;
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    /* The window ends in (9 s, 10 s + 1 ms]; a round trip takes 1 ms. */
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 100, 10);
    gcs_pacer_on_send(&p, 5 * S); /* mid-window: surely counted in this one */
    for (int i = 0; i < 5; i++)
        gcs_pacer_on_send(&p, 9 * S + 500 * MS); /* at the edge */
    assert_int_equal(gcs_pacer_remaining(&p, 9 * S + 600 * MS), 100 - 7);
    /* Past the window's latest end: the edge's five may be this window's first. */
    assert_int_equal(gcs_pacer_remaining(&p, 10 * S + 2 * MS), 95);
    /* One window later nothing is carried. */
    assert_int_equal(gcs_pacer_remaining(&p, 20 * S + 2 * MS), 100);
    /* An answer of the new window counting fewer does not lower it (used never
     * decreases within a window: the count may not have seen the edge's yet). */
    gcs_pacer_init(&p, 0, 0);
    gcs_pacer_on_send(&p, 0);
    gcs_pacer_on_answer(&p, 0, 1000, 200, 1, 100, 10);
    for (int i = 0; i < 5; i++)
        gcs_pacer_on_send(&p, 9 * S + 500 * MS);
    gcs_pacer_on_send(&p, 10 * S + 2 * MS);
    gcs_pacer_on_answer(&p, 10 * S + 2 * MS, 10 * S + 3 * MS, 200, 2, 100, 10);
    assert_int_equal(gcs_pacer_remaining(&p, 10 * S + 4 * MS), 94);
}

int main(void)
{
    gcs_test_deadline(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_jobs_go_at_once),
        cmocka_unit_test(runs_at_the_limit_of_fixed_windows),
        cmocka_unit_test(runs_at_the_limit_of_lazy_windows),
        cmocka_unit_test(genesys_default_limit_is_used_fully),
        cmocka_unit_test(user_ceiling_caps_the_rate),
        cmocka_unit_test(no_headers_means_no_pacing),
        cmocka_unit_test(a_429_pauses_everyone_once),
        cmocka_unit_test(spreads_the_remaining_allowance),
        cmocka_unit_test(an_error_without_headers_keeps_the_pace),
        cmocka_unit_test(a_new_token_window_is_followed),
        cmocka_unit_test(a_changed_limit_is_learnt_again),
        cmocka_unit_test(hosts_sharing_one_window_stay_within_it),
        cmocka_unit_test(hosts_with_a_window_each_keep_to_one_limit),
        cmocka_unit_test(the_burst_decision_counts_the_share),
        cmocka_unit_test(a_new_window_is_confirmed_before_the_share_goes),
        cmocka_unit_test(sends_at_a_windows_edge_count_in_the_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

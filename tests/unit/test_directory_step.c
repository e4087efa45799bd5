/* The step between the pages of a user listing (genesys/directory.h): the
 * server's itemsPerPage when it caps pages below what was asked, not the number
 * of users its first page happened to hold; those only when it says nothing. */
#include "gcstest.h"

#include <stdio.h>
#include <string.h>

#include "genesys/directory.h"
#include "genesys/user_page.h"

/* The first page's info as the streamed reader makes it of `users` users,
 * totalResults `total` and itemsPerPage `items` (-1: left out). */
static gcs_user_page_info first_page(int users, long total, long items)
{
    char body[8192];
    int n = snprintf(body, sizeof body, "{\"totalResults\":%ld,\"startIndex\":1,", total);
    if (items >= 0)
        n += snprintf(body + n, sizeof body - (size_t)n, "\"itemsPerPage\":%ld,", items);
    n += snprintf(body + n, sizeof body - (size_t)n, "\"Resources\":[");
    for (int i = 0; i < users; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"id\":\"u%d\"}", i ? "," : "", i);
    n += snprintf(body + n, sizeof body - (size_t)n, "]}");
    assert_true(n > 0 && (size_t)n < sizeof body);
    gcs_user_page_info info;
    assert_int_equal(gcs_user_page_read(&info, body, (size_t)n, NULL, NULL), 0);
    assert_int_equal(info.users, users);
    assert_int_equal(info.items_per_page, items);
    return info;
}

static void test_a_capped_server_sets_the_step(void **state)
{
    (void)state;
    gcs_user_page_info info = first_page(50, 1000, 50);
    assert_int_equal(gcs_directory_page_step(500, &info), 50);
}

static void test_a_page_short_of_its_size_does_not_shorten_the_step(void **state)
{
    (void)state;
    /* Pages of 100, two of the first page's users not shown: stepping by 98
     * would read users 99 and 100 of the list twice. */
    gcs_user_page_info info = first_page(98, 1000, 100);
    assert_int_equal(gcs_directory_page_step(500, &info), 100);
    info = first_page(20, 1000, 500);
    assert_int_equal(gcs_directory_page_step(500, &info), 500);
}

static void test_never_above_what_was_asked(void **state)
{
    (void)state;
    gcs_user_page_info info = first_page(25, 1000, 1000);
    assert_int_equal(gcs_directory_page_step(25, &info), 25);
}

static void test_without_items_per_page_the_users_held(void **state)
{
    (void)state;
    gcs_user_page_info info = first_page(40, 1000, -1);
    assert_int_equal(gcs_directory_page_step(500, &info), 40);
    /* The whole organisation on one page: nothing more to read, whatever the step. */
    info = first_page(40, 40, -1);
    assert_int_equal(gcs_directory_page_step(500, &info), 500);
    info = first_page(0, 0, -1);
    assert_int_equal(gcs_directory_page_step(500, &info), 500);
    info = first_page(30, 1000, 0); /* zero says nothing either */
    assert_int_equal(gcs_directory_page_step(500, &info), 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_capped_server_sets_the_step),
        cmocka_unit_test(test_a_page_short_of_its_size_does_not_shorten_the_step),
        cmocka_unit_test(test_never_above_what_was_asked),
        cmocka_unit_test(test_without_items_per_page_the_users_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

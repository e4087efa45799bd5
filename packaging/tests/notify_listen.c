/*
 * notify_listen PATH SECONDS - listens where systemd would for sd_notify(3)
 * messages: binds a datagram socket at PATH and prints each message it receives,
 * followed by an empty line, until one holds STOPPING=1 or SECONDS pass. For the
 * test of gcscim.service's Type=notify (packaging/tests/systemd_units.sh).
 * Exit 0 once STOPPING=1 came, 1 on a timeout or an error.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc != 3 || strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "usage: notify_listen PATH SECONDS (PATH shorter than %zu)\n",
                sizeof addr.sun_path);
        return 2;
    }
    memcpy(addr.sun_path, argv[1], strlen(argv[1]) + 1);
    long long deadline = now_ms() + atoll(argv[2]) * 1000;

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("notify_listen: cannot listen");
        return 1;
    }
    int rc = 1;
    char msg[4096];
    for (long long left; (left = deadline - now_ms()) > 0;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
        if (n < 0)
            break;
        msg[n] = '\0';
        printf("%s\n\n", msg);
        fflush(stdout);
        if (strstr(msg, "STOPPING=1")) {
            rc = 0;
            break;
        }
    }
    close(fd);
    unlink(argv[1]);
    return rc;
}

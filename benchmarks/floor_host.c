/* The floor of the MLGO pipe protocol: a minimal native host that replays recorded advice.
 *
 * Usage: floor_host BASE RECORD_NBYTES ADVICE_FILE ADVICE_NBYTES -- COMPILER ARGS...
 * Creates the FIFOs BASE.in/BASE.out, runs the compiler, answers each observation with the next
 * ADVICE_NBYTES of ADVICE_FILE at once, and exits with the compiler's status. No timeouts, no
 * checks beyond the protocol's framing: what env_speed.py compares the environment's loops with.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[1 << 20];
static size_t len;
static int out_fd;

static int fill(size_t need) {
    while (len < need) {
        ssize_t n = read(out_fd, buf + len, sizeof buf - len);
        if (n <= 0) return 0;
        len += (size_t)n;
    }
    return 1;
}

static void consume(size_t n) {
    memmove(buf, buf + n, len - n);
    len -= n;
}

/* Length of the next line with its newline, or 0 at EOF. */
static size_t line(void) {
    for (;;) {
        char *newline = memchr(buf, '\n', len);
        if (newline) return (size_t)(newline - buf) + 1;
        if (!fill(len + 1)) return 0;
    }
}

int main(int argc, char **argv) {
    if (argc < 7 || strcmp(argv[5], "--") != 0) {
        fprintf(stderr, "usage: %s BASE RECORD_NBYTES ADVICE_FILE ADVICE_NBYTES -- COMPILER ARGS...\n", argv[0]);
        return 2;
    }
    char in_path[4096], out_path[4096];
    snprintf(in_path, sizeof in_path, "%s.in", argv[1]);
    snprintf(out_path, sizeof out_path, "%s.out", argv[1]);
    size_t record = strtoul(argv[2], NULL, 10), advice_size = strtoul(argv[4], NULL, 10);
    FILE *advice_file = fopen(argv[3], "rb");
    if (!advice_file || mkfifo(in_path, 0600) || mkfifo(out_path, 0600)) {
        perror("floor_host");
        return 2;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[6], argv + 6);
        _exit(127);
    }
    int in_fd = open(in_path, O_RDWR);
    out_fd = open(out_path, O_RDONLY);
    char advice[16];
    size_t n = line(); /* the header */
    consume(n);
    while ((n = line()) > 0) {
        int observation = strncmp(buf, "{\"observation\"", 14) == 0;
        consume(n);
        if (!observation) continue; /* a context line */
        if (!fill(record + 1)) break;
        consume(record + 1);
        if (fread(advice, 1, advice_size, advice_file) != advice_size) {
            fprintf(stderr, "floor_host: the recorded advice ran out\n");
            kill(pid, 9);
            break;
        }
        if (write(in_fd, advice, advice_size) != (ssize_t)advice_size) break;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    unlink(in_path);
    unlink(out_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

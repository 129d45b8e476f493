#include <stdlib.h>
#include <string.h>
#include "strops.h"

/* naive search, the first four pattern bytes are kept in registers */
size_t count_naive(const char *t, size_t n, const char *p, size_t m) {
    if (m == 0 || m > n)
        return 0;
    size_t count = 0;
    if (m < 4) {
        for (size_t i = 0; i + m <= n; i++) {
            size_t j = 0;
            while (j < m && t[i + j] == p[j])
                j++;
            count += j == m;
        }
        return count;
    }
    char p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3];
    for (size_t i = 0; i + m <= n; i++) {
        if (t[i] != p0 || t[i + 1] != p1 || t[i + 2] != p2 || t[i + 3] != p3)
            continue;
        size_t j = 4;
        while (j < m && t[i + j] == p[j])
            j++;
        count += j == m;
    }
    return count;
}

static void kmp_failure(const char *p, size_t m, size_t *fail) {
    fail[0] = 0;
    size_t k = 0;
    for (size_t i = 1; i < m; i++) {
        while (k > 0 && p[i] != p[k])
            k = fail[k - 1];
        if (p[i] == p[k])
            k++;
        fail[i] = k;
    }
}

size_t count_kmp(const char *t, size_t n, const char *p, size_t m) {
    if (m == 0 || m > n)
        return 0;
    size_t *fail = malloc(m * sizeof(size_t));
    if (!fail)
        return 0;
    kmp_failure(p, m, fail);
    size_t count = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k > 0 && t[i] != p[k])
            k = fail[k - 1];
        if (t[i] == p[k])
            k++;
        if (k == m) {
            count++;
            k = fail[k - 1];
        }
    }
    free(fail);
    return count;
}

static void bmh_table(const char *p, size_t m, size_t shift[256]) {
    for (int c = 0; c < 256; c++)
        shift[c] = m;
    for (size_t i = 0; i + 1 < m; i++)
        shift[(unsigned char)p[i]] = m - 1 - i;
}

size_t count_bmh(const char *t, size_t n, const char *p, size_t m) {
    if (m == 0 || m > n)
        return 0;
    size_t shift[256];
    bmh_table(p, m, shift);
    size_t count = 0, i = 0;
    char last = p[m - 1];
    while (i + m <= n) {
        char c = t[i + m - 1];
        if (c == last) {
            size_t j = 0;
            while (j + 1 < m && t[i + j] == p[j])
                j++;
            count += j + 1 == m;
        }
        i += shift[(unsigned char)c];
    }
    return count;
}

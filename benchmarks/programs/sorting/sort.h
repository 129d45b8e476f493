/* Sorting benchmark: quicksort, mergesort, heapsort and LSD radix sort on uint32 keys. */
#ifndef SORT_BENCH_H
#define SORT_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DIST_UNIFORM, DIST_FEW_UNIQUE, DIST_NEARLY_SORTED, DIST_DESCENDING, DIST_COUNT } dist_kind;

/* quick.c */
void quick_sort(uint32_t *a, size_t n);
void insertion_sort(uint32_t *a, size_t n);

/* merge.c */
void merge_sort(uint32_t *a, size_t n, uint32_t *tmp);

/* heap.c */
void heap_sort(uint32_t *a, size_t n);

/* radix.c */
void radix_sort(uint32_t *a, size_t n, uint32_t *tmp);

/* check.c */
void fill_array(uint32_t *a, size_t n, dist_kind kind, uint64_t seed);
int is_sorted(const uint32_t *a, size_t n);
uint64_t multiset_hash(const uint32_t *a, size_t n);
uint64_t positional_hash(const uint32_t *a, size_t n);

#endif

/* Dijkstra benchmark driver: several sources on one generated graph. */
#include "graph.h"
#include <stdio.h>

#define NVERT 150000u
#define AVG_DEG 6u
#define NSOURCES 4u

int main(void)
{
    graph g;
    index_heap h;
    sssp_result r;
    if (!graph_generate(&g, NVERT, AVG_DEG, 0x1234abcdull) || !heap_init(&h, NVERT) ||
        !sssp_alloc(&r, NVERT))
        return 1;
    uint64_t digest = 0, relax = 0, pops = 0, far = 0;
    int ok = 1;
    for (uint32_t s = 0; s < NSOURCES; s++) {
        uint32_t src = (uint32_t)((s * 40503u + 17u) % NVERT);
        dijkstra(&g, src, &h, &r);
        if (s % 2 == 0)
            ok &= verify_sssp(&g, src, &r);
        digest = digest * 0x100000001b3ull ^ path_checksum(&r, NVERT, 256);
        relax += r.relaxations;
        pops += r.pops;
        for (uint32_t v = 0; v < NVERT; v++)
            if (r.dist[v] != INF_DIST && r.dist[v] > far)
                far = r.dist[v];
    }
    printf("dijkstra n=%u m=%llu sources=%u relaxations=%llu pops=%llu verify=%s\n", NVERT,
           (unsigned long long)g.m, NSOURCES, (unsigned long long)relax, (unsigned long long)pops,
           ok ? "ok" : "FAIL");
    printf("max_dist=%llu checksum=%016llx\n", (unsigned long long)far, (unsigned long long)digest);
    sssp_free(&r);
    heap_free(&h);
    graph_free(&g);
    return ok ? 0 : 1;
}

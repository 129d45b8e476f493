/* BFS + SCC benchmark driver. The graph and per-vertex arrays total well
 * over 100 MiB and are accessed in random order. */
#include "bfs_scc.h"
#include <stdio.h>

#ifndef NVERT
#define NVERT (2u << 20)
#endif
#ifndef AVG_DEG
#define AVG_DEG 3u
#endif
#ifndef NBFS
#define NBFS 1u
#endif

int main(void)
{
    digraph g;
    workspace w;
    if (!graph_build(&g, NVERT, AVG_DEG, 0xdecafbadull) || !workspace_alloc(&w, NVERT))
        return 1;
    uint64_t digest = 0;
    uint32_t reached = 0, levels = 0;
    for (uint32_t i = 0; i < NBFS; i++) {
        bfs_summary s;
        uint32_t src = (uint32_t)((i * 2654435761u) % NVERT);
        while (g.offsets[src + 1] == g.offsets[src])
            src = (src + 1) % NVERT;
        bfs_run(&g, src, w.a, w.c, &s);
        digest = digest * 0x100000001b3ull ^ (s.dist_sum + s.level_hash * 3u);
        reached += s.reached;
        if (s.levels > levels)
            levels = s.levels;
    }
    scc_summary scc;
    tarjan_scc(&g, &w, &scc);
    digest = digest * 0x100000001b3ull ^ scc.hash;
    digest = digest * 0x100000001b3ull ^ scc.warm;
    printf("bfs_scc n=%u m=%u bfs_reached=%u max_levels=%u\n", g.n, g.m, reached, levels);
    printf("scc count=%u largest=%u singletons=%u checksum=%016llx\n", scc.count, scc.largest,
           scc.singletons, (unsigned long long)digest);
    workspace_release(&w);
    graph_release(&g);
    return 0;
}

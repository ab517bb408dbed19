/*
 * emofs: the command. Dispatches to one function per subcommand.
 */
#include "tool/sim.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: emofs COMMAND [ARGS]\n"
               "commands:\n"
               "  sim        simulate a large network with the real libdht code\n"
               "Run `emofs COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "sim") == 0)
        return emofs_sim_main(argc - 1, argv + 1);
    fprintf(stderr, "emofs: unknown command '%s' (see emofs --help)\n", argv[1]);
    return 2;
}

/*
 * emofs: the command. Dispatches to one function per subcommand.
 */
#include "tool/cli/cli.h"
#include "tool/cli/commands.h"
#include "tool/daemon/daemon.h"
#include "tool/sim/sim.h"

#include "dht.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: emofs COMMAND [ARGS]\n"
               "emofs stores files in a peer-to-peer network (a Kademlia DHT).\n"
               "\n"
               "commands:\n"
               "  put FILE              store FILE; prints its key\n"
               "  get KEY [-o PATH]     fetch a file by key (or manifest file or line), write it\n"
               "  cat KEY               write a file to standard output\n"
               "  manifest show KEY     a file's manifest: name, size, chunks\n"
               "  manifest export KEY -o FILE   the manifest as a file to share\n"
               "  manifest export KEY --text    the manifest as one line (emofs:...) to paste\n"
               "  manifest import FILE|LINE     a shared manifest into this data directory\n"
               "  status                this node: id, address, peers, storage\n"
               "  ls                    files this node published\n"
               "  health KEY            how many nodes hold each piece of a file\n"
               "  rm KEY                unpin a file published here; its network copies expire\n"
               "  gc                    free local blobs and files of gets that nothing uses\n"
               "  daemon                run a node in the foreground (--listen, --bootstrap)\n"
               "  stop                  stop the daemon of the data directory\n"
               "  sim                   simulate a large network with the real libdht code\n"
               "  version               print the versions of emofs and libdht (or --version)\n"
               "\n"
               "Every command takes --data DIR (default $EMOFS_HOME, else ~/.emofs). With a\n"
               "daemon running on DIR the commands use it; otherwise they run a node\n"
               "in-process. Run `emofs COMMAND --help` for a command's options; an option's\n"
               "value comes after it or after '=' (--data DIR, --data=DIR).\n"
               "\n"
               "exit codes: 0 ok, 1 failure, 2 usage, 3 input file missing or unreadable,\n"
               "4 key not found (rm: not published here), 5 no peer reachable, 6 cannot\n"
               "write output (disk full), 7 data directory in use, 8 data failed\n"
               "verification, 9 the output exists (nothing replaced), 10 the network\n"
               "refused to store (stores full), 130 interrupted\n");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"put", emofs_put_main},           {"get", emofs_get_main},       {"cat", emofs_cat_main},
        {"manifest", emofs_manifest_main}, {"status", emofs_status_main}, {"ls", emofs_ls_main},
        {"daemon", emofs_daemon_main},     {"stop", emofs_stop_main},     {"sim", emofs_sim_main},
        {"health", emofs_health_main},     {"rm", emofs_rm_main},         {"gc", emofs_gc_main},
    };

    /* A peer or a daemon that closes a socket must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    /* Over a file size limit, writes fail with EFBIG and are reported. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        if (argc > 2)
            return cli_fail(EXIT_USAGE, "%s takes no arguments", argv[1]);
        /* One version for the project: libdht's, from dht.h. */
        printf("emofs %s (libdht %s)\n", DHT_VERSION_STRING, dht_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    return cli_fail(EXIT_USAGE, "unknown command '%s' (see emofs --help)", argv[1]);
}

/*
 * The file commands: put, get, cat, manifest (show, export, import), status, ls,
 * health, rm, gc, stop.
 * Each takes argv with argv[0] the command's name and returns the exit
 * code (tool/cli/cli.h).
 */
#ifndef EMOFS_COMMANDS_H
#define EMOFS_COMMANDS_H

int emofs_put_main(int argc, char **argv);
int emofs_get_main(int argc, char **argv);
int emofs_cat_main(int argc, char **argv);
int emofs_manifest_main(int argc, char **argv);
int emofs_status_main(int argc, char **argv);
int emofs_ls_main(int argc, char **argv);

/* emofs health KEY: how many nodes hold each piece of a file (the fewest,
 * the median). Exits 0 when every piece has a holder, 4 when one has none. */
int emofs_health_main(int argc, char **argv);

/* emofs rm KEY [--data DIR]: unpins a file this node published and removes
 * its local blobs that no other published file uses (tool/node/maint.h).
 * Exits 0, or 4 when KEY is not published here. */
int emofs_rm_main(int argc, char **argv);

/* emofs gc [--data DIR]: removes the local blobs no published file uses and
 * the recorded temporary files of abandoned gets. Exits 0. */
int emofs_gc_main(int argc, char **argv);

/* emofs stop [--data DIR]: asks the daemon of DIR to stop (it cancels what
 * it serves, saves its peers, exits) and waits until it has let go of DIR.
 * Prints one line; exits 0 also when no daemon runs. */
int emofs_stop_main(int argc, char **argv);

#endif /* EMOFS_COMMANDS_H */

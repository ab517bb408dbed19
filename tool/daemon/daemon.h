/*
 * `emofs daemon`: runs a data directory's node in the foreground, with the
 * control socket DIR/emofs.sock, until SIGINT, SIGTERM or a STOP request.
 */
#ifndef EMOFS_DAEMON_H
#define EMOFS_DAEMON_H

/* Runs the daemon command (argv[0] == "daemon"). @return the exit code. */
int emofs_daemon_main(int argc, char **argv);

#endif /* EMOFS_DAEMON_H */

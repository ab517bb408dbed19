/*
 * Inside cli_run: what the daemon client (cli_daemon.c), the embedded
 * runner (cli_run.c) and the progress line (cli_ui.c) share. Internal to
 * the tool.
 */
#ifndef EMOFS_CLI_INT_H
#define EMOFS_CLI_INT_H

#include "tool/cli/cli.h"

#include <signal.h>
#include <time.h>

/* The progress line on stderr, when it is a terminal and not quiet. */
typedef struct ui {
    int enabled, drawn;
    struct timespec start;
} ui_t;

/* Starts the line's clock; enabled only on a terminal and unless quiet. */
void cli_ui_init(ui_t *ui, int quiet);

/* Redraws the line with p (if enabled). */
void cli_ui_draw(ui_t *ui, const ctl_progress_t *p);

/* Erases the line if it was drawn. */
void cli_ui_end(ui_t *ui);

/* @return a connected socket to DIR/emofs.sock, or -1 if no daemon answers;
 * *stale is 1 when a socket file is there but nobody listens on it. */
int cli_connect_daemon(const char *dir, int *stale);

/* Interrupts (SIGINT and SIGTERM), caught by cli_run_io from before its
 * request until the process exits; never given back to the default action
 * (see cli_run.c). The first is counted and wakes cli_interrupt_fd(); a
 * second one leaves at once (exit 130). restart: system calls restart
 * after the handler (SA_RESTART); without it a blocked read returns EINTR,
 * so that a request through the daemon can be canceled.
 * @return 0, or -1 (errno set) if the wake-up pipe cannot be made. */
int cli_catch_interrupts(int restart);

/* @return how many interrupts came since cli_catch_interrupts first ran. */
int cli_interrupts(void);

/* @return a non-blocking descriptor that becomes readable on each
 * interrupt (read it empty), once cli_catch_interrupts succeeded. */
int cli_interrupt_fd(void);

/* Sends req to the daemon on fd (closed here) and reads its answers,
 * moving a streamed request's bytes through io; on an interrupt, a failed
 * write of the output or read of the input, cancels and waits for the
 * daemon to say it is undone.
 * @return 0 and *res, or an exit code after printing the error;
 * *interrupted says whether a signal came. */
int cli_run_daemon(int fd, const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res,
                   cli_io_t *io, int *interrupted);

#endif /* EMOFS_CLI_INT_H */

/*
 * The progress line a command draws on its terminal. See cli_int.h.
 */
#include "tool/cli/cli_int.h"

#include "tool/cli/progress.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

void cli_ui_init(ui_t *ui, int quiet)
{
    ui->enabled = !quiet && isatty(STDERR_FILENO);
    ui->drawn = 0;
    clock_gettime(CLOCK_MONOTONIC, &ui->start);
}

static uint64_t ui_elapsed_ms(const ui_t *ui)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - ui->start.tv_sec) * 1000u +
           (uint64_t)((now.tv_nsec - ui->start.tv_nsec) / 1000000);
}

void cli_ui_draw(ui_t *ui, const ctl_progress_t *p)
{
    progress_state_t st;
    struct winsize ws;
    unsigned width = 80;
    char line[PROGRESS_MAX_WIDTH + 1];

    if (!ui->enabled)
        return;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        width = ws.ws_col - 1u;
    st.at = *p;
    st.elapsed_ms = ui_elapsed_ms(ui);
    progress_format(&st, width, line, sizeof(line));
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    ui->drawn = 1;
}

void cli_ui_end(ui_t *ui)
{
    if (ui->drawn)
        fputs("\r\033[K", stderr);
    ui->drawn = 0;
}

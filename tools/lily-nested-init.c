/*
 * /init of the initramfs that lily-nested boots under qemu-system-x86_64: sets
 * up the nested Linux (devices, network on QEMU's user net, TCP relays for
 * the port forwards), runs one command with its console on ttyS0, writes
 * its exit status to the kernel console (ttyS1) and powers the machine off.
 *
 * The plan is /lily-nested/plan, one directive per line:
 *   cwd PATH          directory the command starts in
 *   env NAME=VALUE    an environment variable of the command
 *   arg WORD          the next word of the command (the first is the program)
 *   module PATH       a kernel module to load first (the NIC driver)
 *   fwd PORT          relay 10.0.2.15:PORT -> 127.0.0.1:PORT (host -> nested)
 *   tohost PORT       relay 127.0.0.1:PORT -> 10.0.2.2:PORT (nested -> host)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define NI_MAX_WORDS 256
#define NI_MAX_RELAYS 32
#define NI_PLAN "/lily-nested/plan"
/* QEMU's user network: this machine, the gateway (the real host). */
#define NI_ADDR "10.0.2.15"
#define NI_MASK "255.255.255.0"
#define NI_GATEWAY "10.0.2.2"
/* isa-debug-exit of the outer QEMU: ends it at once, no kernel messages. */
#define NI_DEBUG_EXIT_PORT 0xf4

static char *ni_argv[NI_MAX_WORDS + 1];
static int ni_argc;
static char *ni_envp[NI_MAX_WORDS + 1];
static int ni_envc;
static const char *ni_cwd = "/";
static pid_t ni_relays[NI_MAX_RELAYS];
static int ni_n_relays;

/* Messages go to the kernel console (ttyS1: lily-nested's log file). */
static void ni_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("lily-nested-init: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

static void ni_power_off(void)
{
    int tty = open("/dev/ttyS0", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

    /* Let the command's last output and the status line leave the UARTs. */
    fflush(stdout);
    if (tty >= 0) {
        tcdrain(tty);
        close(tty);
    }
    tcdrain(STDOUT_FILENO);
    sync();
    /* The outer QEMU has an isa-debug-exit device: leave without the
     * kernel's "Power down" message. */
    if (ioperm(NI_DEBUG_EXIT_PORT, 1, 1) == 0)
        outb(0, NI_DEBUG_EXIT_PORT);
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static int ni_load_module(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        ni_log("cannot open the module %s: %s", path, strerror(errno));
        return -1;
    }
    rc = (int)syscall(SYS_finit_module, fd, "", 0);
    if (rc != 0 && errno != EEXIST)
        ni_log("cannot load the module %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static int ni_if_flags_up(int s, const char *name)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int ni_if_set_addr(int s, const char *name, unsigned long req, const char *addr)
{
    struct ifreq ifr;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    return ioctl(s, req, &ifr);
}

/* lo up; eth0 as QEMU's user network expects it, default route via it. */
static void ni_network_up(int want_eth0)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct rtentry rt;
    struct sockaddr_in *sin;

    if (s < 0) {
        ni_log("socket: %s", strerror(errno));
        return;
    }
    if (ni_if_flags_up(s, "lo") != 0)
        ni_log("cannot bring lo up: %s", strerror(errno));
    if (!want_eth0)
        goto out_close;
    if (ni_if_set_addr(s, "eth0", SIOCSIFADDR, NI_ADDR) != 0 ||
        ni_if_set_addr(s, "eth0", SIOCSIFNETMASK, NI_MASK) != 0 || ni_if_flags_up(s, "eth0") != 0) {
        ni_log("cannot configure eth0: %s (no network in the nested Linux)", strerror(errno));
        goto out_close;
    }
    memset(&rt, 0, sizeof rt);
    sin = (struct sockaddr_in *)&rt.rt_dst;
    sin->sin_family = AF_INET;
    sin = (struct sockaddr_in *)&rt.rt_genmask;
    sin->sin_family = AF_INET;
    sin = (struct sockaddr_in *)&rt.rt_gateway;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, NI_GATEWAY, &sin->sin_addr);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    if (ioctl(s, SIOCADDRT, &rt) != 0)
        ni_log("cannot add the default route: %s", strerror(errno));
out_close:
    close(s);
}

/* Copy both ways between a and b until both directions are closed. */
static void ni_splice(int a, int b)
{
    char buf[65536];
    int open_in[2] = { 1, 1 };
    int fds[2] = { a, b };

    while (open_in[0] || open_in[1]) {
        struct pollfd p[2];
        int n = 0, idx[2];

        for (int i = 0; i < 2; i++)
            if (open_in[i]) {
                p[n].fd = fds[i];
                p[n].events = POLLIN;
                idx[n++] = i;
            }
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int k = 0; k < n; k++) {
            int i = idx[k];
            ssize_t got;

            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = read(fds[i], buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && errno == EINTR)
                    continue;
                if (got < 0)
                    return; /* reset: close both */
                open_in[i] = 0;
                shutdown(fds[1 - i], SHUT_WR);
                continue;
            }
            for (ssize_t off = 0; off < got;) {
                ssize_t w = write(fds[1 - i], buf + off, (size_t)(got - off));
                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    return;
                }
                off += w;
            }
        }
    }
}

static void ni_sockaddr(struct sockaddr_in *sin, const char *addr, int port)
{
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &sin->sin_addr);
}

/* A relay process: accept on from:port, connect to to:port, splice. */
static void ni_relay_start(const char *from, const char *to, int port)
{
    struct sockaddr_in sin;
    int one = 1, ls;
    pid_t pid;

    if (ni_n_relays >= NI_MAX_RELAYS) {
        ni_log("too many relays; %s:%d not relayed", from, port);
        return;
    }
    ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ni_sockaddr(&sin, from, port);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(ls, 64) != 0) {
        ni_log("cannot listen on %s:%d: %s", from, port, strerror(errno));
        if (ls >= 0)
            close(ls);
        return;
    }
    pid = fork();
    if (pid < 0) {
        ni_log("fork: %s", strerror(errno));
        close(ls);
        return;
    }
    if (pid > 0) {
        ni_relays[ni_n_relays++] = pid;
        close(ls);
        return;
    }
    signal(SIGCHLD, SIG_IGN); /* connection children reap themselves */
    for (;;) {
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        if (fork() == 0) {
            int out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in dst;

            close(ls);
            ni_sockaddr(&dst, to, port);
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (out >= 0 && connect(out, (struct sockaddr *)&dst, sizeof dst) == 0)
                ni_splice(c, out);
            _exit(0);
        }
        close(c);
    }
}

static int ni_parse_port(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v < 65536) ? (int)v : -1;
}

/* Read the plan; returns 0 when it names a command. */
static int ni_read_plan(void)
{
    static char buf[65536];
    int fd = open(NI_PLAN, O_RDONLY | O_CLOEXEC);
    ssize_t len;
    int want_net = 0;
    int fwd[NI_MAX_RELAYS], tohost[NI_MAX_RELAYS], n_fwd = 0, n_tohost = 0;

    if (fd < 0) {
        ni_log("%s is missing", NI_PLAN);
        return -1;
    }
    len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) {
        ni_log("%s is empty", NI_PLAN);
        return -1;
    }
    buf[len] = 0;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        char *val;

        if (nl)
            *nl++ = 0;
        val = strchr(line, ' ');
        if (val)
            *val++ = 0;
        else
            val = "";
        if (strcmp(line, "cwd") == 0) {
            ni_cwd = val;
        } else if (strcmp(line, "env") == 0 && ni_envc < NI_MAX_WORDS) {
            ni_envp[ni_envc++] = val;
        } else if (strcmp(line, "arg") == 0 && ni_argc < NI_MAX_WORDS) {
            ni_argv[ni_argc++] = val;
        } else if (strcmp(line, "module") == 0) {
            want_net |= ni_load_module(val) == 0;
        } else if ((strcmp(line, "fwd") == 0 || strcmp(line, "tohost") == 0) &&
                   ni_parse_port(val) > 0) {
            if (line[0] == 'f' && n_fwd < NI_MAX_RELAYS)
                fwd[n_fwd++] = ni_parse_port(val);
            else if (line[0] == 't' && n_tohost < NI_MAX_RELAYS)
                tohost[n_tohost++] = ni_parse_port(val);
        } else if (line[0]) {
            ni_log("ignoring the plan line '%s %s'", line, val);
        }
        line = nl;
    }
    ni_network_up(want_net);
    for (int i = 0; i < n_fwd; i++)
        ni_relay_start(NI_ADDR, "127.0.0.1", fwd[i]);
    for (int i = 0; i < n_tohost; i++)
        ni_relay_start("127.0.0.1", NI_GATEWAY, tohost[i]);
    ni_argv[ni_argc] = NULL;
    ni_envp[ni_envc] = NULL;
    if (ni_argc == 0) {
        ni_log("the plan names no command");
        return -1;
    }
    return 0;
}

/* The command's session: ttyS0 as its controlling terminal and stdio. */
static void ni_exec_command(void)
{
    int fd;

    setsid();
    fd = open("/dev/ttyS0", O_RDWR);
    if (fd < 0) {
        ni_log("cannot open /dev/ttyS0: %s", strerror(errno));
        _exit(125);
    }
    ioctl(fd, TIOCSCTTY, 0);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    if (chdir(ni_cwd) != 0)
        fprintf(stderr, "lily-nested: cannot enter %s: %s\n", ni_cwd, strerror(errno));
    execve(ni_argv[0], ni_argv, ni_envp);
    fprintf(stderr, "lily-nested: cannot run %s: %s\n", ni_argv[0], strerror(errno));
    _exit(125);
}

int main(void)
{
    int status = 0, code;
    pid_t pid, w;

    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    /* No tmpfs over /tmp: the initramfs root is writable already, and the
     * packed files keep their host paths, which may lie under /tmp. */
    mkdir("/tmp", 01777);
    chmod("/tmp", 01777);
    mkdir("/dev/shm", 01777);
    mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL);
    if (ni_read_plan() != 0) {
        printf("LILY-NESTED-STATUS 125\n");
        ni_power_off();
    }
    pid = fork();
    if (pid == 0)
        ni_exec_command();
    if (pid < 0) {
        ni_log("fork: %s", strerror(errno));
        printf("LILY-NESTED-STATUS 125\n");
        ni_power_off();
    }
    /* As pid 1, reap every orphan until the command ends. */
    while ((w = wait(&status)) != pid)
        if (w < 0 && errno != EINTR)
            break;
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    for (int i = 0; i < ni_n_relays; i++)
        kill(ni_relays[i], SIGKILL);
    printf("LILY-NESTED-STATUS %d\n", code);
    fflush(stdout);
    ni_power_off();
    return 0;
}

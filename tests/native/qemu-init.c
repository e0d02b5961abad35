/*
 * /init of the throw-away initramfs that tests/native/qemu-compat.sh boots:
 * mounts /proc and /tmp, brings up lo, runs the command listed in /qemu-cmd
 * (one argument per line, at most 63) from /, and powers off, printing the
 * command's wait status for the script.
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void qinit_loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    if (s < 0)
        return;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
}

/* Read /qemu-cmd into argv (static storage; lines end with '\n'). */
static int qinit_read_cmd(char **argv, int max)
{
    static char buf[8192];
    FILE *f = fopen("/qemu-cmd", "r");
    size_t len;
    int argc = 0;

    if (!f)
        return 0;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    for (char *line = buf; *line && argc < max - 1;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        argv[argc++] = line;
        if (!nl)
            break;
        line = nl + 1;
    }
    argv[argc] = NULL;
    return argc;
}

int main(void)
{
    char *argv[64];
    char *envp[] = { "PATH=/", NULL };
    int status = -1;
    pid_t pid;

    if (qinit_read_cmd(argv, 64) == 0) {
        printf("qemu-init: /qemu-cmd is missing or empty\n");
        fflush(stdout);
        reboot(RB_POWER_OFF);
    }
    if (chdir("/") != 0)
        perror("qemu-init: chdir /");
    mount("proc", "/proc", "proc", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    qinit_loopback_up();
    pid = fork();
    if (pid == 0) {
        execve(argv[0], argv, envp);
        perror("qemu-init: execve");
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    printf("LILYVM-QEMU-STATUS %d\n", status);
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}

/*
 * lily-nested-mkinitramfs: write the uncompressed initramfs (cpio "newc")
 * that lily-nested boots in its x86-64 Linux.  Arguments after the output file:
 *   ARCHIVE_PATH=HOST_FILE     a regular file (mode taken from the host)
 *   ARCHIVE_PATH=c:MAJOR:MINOR a character device
 * Parent directories are created as needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MKI_MAX_DIRS 256

static FILE *mki_out;
static unsigned mki_ino = 1;
static char *mki_dirs[MKI_MAX_DIRS];
static unsigned mki_n_dirs;

static void mki_pad(long len)
{
    while (len++ % 4)
        fputc(0, mki_out);
}

static void mki_entry(const char *name, unsigned mode, const void *data, unsigned long size,
                      unsigned rmaj, unsigned rmin)
{
    unsigned long namesize = strlen(name) + 1;

    fprintf(mki_out, "070701%08x%08x%08x%08x%08x%08x%08lx%08x%08x%08x%08x%08lx%08x",
            mki_ino++, mode, 0, 0, (mode & S_IFMT) == S_IFDIR ? 2 : 1, 0, size, 0, 0, rmaj, rmin,
            namesize, 0);
    fwrite(name, 1, namesize, mki_out);
    mki_pad(110 + (long)namesize);
    if (size) {
        fwrite(data, 1, size, mki_out);
        mki_pad((long)size);
    }
}

/* Emit every parent directory of path that was not emitted yet. */
static void mki_parents(const char *path)
{
    char buf[4096];

    snprintf(buf, sizeof buf, "%s", path);
    for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
        unsigned i;

        *slash = 0;
        for (i = 0; i < mki_n_dirs && strcmp(mki_dirs[i], buf) != 0; i++)
            ;
        if (i == mki_n_dirs && mki_n_dirs < MKI_MAX_DIRS) {
            mki_dirs[mki_n_dirs++] = strdup(buf);
            mki_entry(buf, S_IFDIR | 0755, NULL, 0, 0, 0);
        }
        *slash = '/';
    }
}

static int mki_file(const char *name, const char *host)
{
    struct stat st;
    FILE *f = fopen(host, "rb");
    char *data;

    if (!f || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "mkinitramfs: cannot read %s: %s\n", host, strerror(errno));
        return -1;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fprintf(stderr, "mkinitramfs: cannot read %s\n", host);
        fclose(f);
        free(data);
        return -1;
    }
    fclose(f);
    mki_parents(name);
    mki_entry(name, S_IFREG | (st.st_mode & 0777), data, (unsigned long)st.st_size, 0, 0);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mkinitramfs OUT.cpio PATH=HOSTFILE|PATH=c:MAJ:MIN|PATH/ ...\n");
        return 2;
    }
    mki_out = fopen(argv[1], "wb");
    if (!mki_out) {
        fprintf(stderr, "mkinitramfs: cannot write %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        unsigned maj, min;

        if (!eq) {
            /* "dir/": an empty directory */
            char buf[4096];
            snprintf(buf, sizeof buf, "%s/", argv[i]);
            mki_parents(buf);
            continue;
        }
        *eq = 0;
        if (sscanf(eq + 1, "c:%u:%u", &maj, &min) == 2) {
            mki_parents(argv[i]);
            mki_entry(argv[i], S_IFCHR | 0600, NULL, 0, maj, min);
        } else if (mki_file(argv[i], eq + 1) != 0) {
            return 1;
        }
    }
    mki_entry("TRAILER!!!", 0, NULL, 0, 0, 0);
    return fclose(mki_out) == 0 ? 0 : 1;
}

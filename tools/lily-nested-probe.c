/*
 * lily-nested-probe: can this host run LilyVM's IA-32 guests natively?
 * Exit status 0 when it can; 1 (with the reason on stderr) when it gives
 * processes no 32-bit code segment and lily-nested is the way to run them;
 * 2 when the probe itself failed.  Used by ./quickstart run.
 */
#include <stdio.h>
#include <glib.h>

#include "src/transport/transport.h"

int main(int argc, char **argv)
{
    GError *error = NULL;
    gboolean quiet = argc > 1 && g_strcmp0(argv[1], "-q") == 0;

    if (argc > 2 || (argc == 2 && !quiet)) {
        fprintf(stderr, "usage: lily-nested-probe [-q]\n");
        return 2;
    }
    if (transport_probe_compat_mode(&error)) {
        if (!quiet)
            printf("this host runs 32-bit guest code natively\n");
        return 0;
    }
    fprintf(stderr, "lily-nested-probe: %s\n", error->message);
    int code = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS) ? 1 : 2;
    g_error_free(error);
    return code;
}

/* Ending the VM through the debug-exit port (see lily/debugexit.h). */
#include <lily/cpu.h>
#include <lily/debugexit.h>
#include <lily/io.h>

void debug_exit(unsigned code)
{
    outl(DEBUG_EXIT_PORT, code);
    /* No debug-exit device: stop here rather than run off. */
    for (;;) {
        cli();
        hlt();
    }
}

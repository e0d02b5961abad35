/*
 * The stub: code that runs inside the guest process (forked from the VM
 * process).  It confines the process, enters the guest in compatibility mode
 * and, on every trap, copies the record to the vcpu page and back.
 * Built without stack protector and sanitizers (see src/guest/module.mk).
 */
#ifndef LILYVM_GUEST_STUB_H
#define LILYVM_GUEST_STUB_H

#include <stdint.h>
#include <sys/types.h>

#include "src/transport/vcpu_page.h"

/* Everything the child needs, in its private copy of the VM's memory. */
typedef struct StubParams {
    VcpuPage *page;         /* shared with the VM */
    void *altstack;         /* alternate signal stack (private) */
    uint64_t altstack_size;
    int memfd;              /* guest RAM */
    uint64_t memfd_size;
    pid_t vm_pid;           /* the VM process (our parent) */
    int use_ptrace;         /* PTRACE_TRACEME and let the tracer hand over */
    int have_fsgsbase;      /* the CPU and kernel allow wrfsbase */
    LilyLocalHandler local_handler; /* signal transport: tried before every hand-over */
    void *local_ctx;
} StubParams;

/*
 * stub_main() - Body of the guest process after fork(); never returns.
 * Confines the process and raises the start trap (an int3 at
 * stub_start_ip() - 1, in 64-bit mode) whose hand-over enters the guest.
 * Exit codes when set-up fails before confinement: see docs/native.md.
 */
__attribute__((noreturn)) void stub_main(const StubParams *params);

/* Address just after the start trap's int3 (the host_ip of the start record). */
uint64_t stub_start_ip(void);

/*
 * stub_probe_compat_main() - Body of a throw-away child: far-jump to an int3
 * in compatibility mode; exit 0 if it trapped there with CS 0x23, 1 if the
 * jump faulted (the host offers no 32-bit code segment), 2/3 on set-up
 * failure.
 */
__attribute__((noreturn)) void stub_probe_compat_main(void);

/* Exit codes of stub_probe_ldt_main(). */
enum {
    STUB_LDT_PROBE_HONOURED = 0,     /* loads work, both bases apply */
    STUB_LDT_PROBE_SETUP = 2,        /* the probe itself could not be set up */
    STUB_LDT_PROBE_WRITE_FAILS = 3,  /* modify_ldt(0x11) returned an error */
    STUB_LDT_PROBE_LOAD_FAULTS = 4,  /* loading a selector with TI = 1 faults */
    STUB_LDT_PROBE_JUMP_FAULTS = 5,  /* the far jump to the LDT code segment faults */
    STUB_LDT_PROBE_BASE_IGNORED = 6, /* code ran or data was read without the base */
};

/*
 * stub_probe_ldt_main() - Body of a throw-away child: write a data and a
 * 32-bit code segment with bases into the LDT (as LILY_MAP_OP_LDT does),
 * load the data selector, far-jump to the code one and read through the
 * data segment there.  Exits with one of the codes above.
 */
__attribute__((noreturn)) void stub_probe_ldt_main(void);

/* Number of BPF instructions of the seccomp filter (for docs and tests). */
unsigned stub_filter_length(void);

#endif
